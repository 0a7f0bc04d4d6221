-- Criteria where the site's IE.csv answer contradicts what the data show.
select code, subjid, siteid, columns('^detail(_zh)?$'), site_answer
from eligibility
where site_disagrees and ($site is null or siteid = $site)
order by subjid, code
