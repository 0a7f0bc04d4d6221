-- Randomization before the site's activation date, or at a site with no activation date.
select 'randomized before site activation' as kind, 'RAND' as form, r._row, r.subjid, 'RANDDAT' as col,
       r.randdat::varchar as val,
       case when s.actdat is null then 'site {site} has no activation date'
            else 'randomized on {randomized}, site {site} activated on {activated}' end as message,
       json_object('site', r.siteid, 'randomized', r.randdat::varchar, 'activated', s.actdat::varchar)::varchar
           as params
from crf_rand as r join crf_sites as s on s.siteid = r.siteid
where s.actdat is null or r.randdat < s.actdat
