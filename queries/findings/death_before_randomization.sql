-- A death dated before the subject's randomization.
select 'death before randomization' as kind, 'DD' as form, dd._row, dd.subjid, 'DTHDAT' as col,
       dd.dthdat::varchar as val,
       'death on {death} is before randomization on {randomized}' as message,
       json_object('death', dd.dthdat::varchar, 'randomized', r.randdat::varchar)::varchar as params
from crf_dd as dd join crf_rand as r on r.subjid = dd.subjid
where dd.dthdat < r.randdat
