-- Randomized subjects who break a criterion: by the data where it can be checked, else by the site's answer.
select code, subjid, siteid, checked_by, columns('^detail(_zh)?$'), site_answer, site_disagrees
from eligibility
where violated and ($site is null or siteid = $site)
order by code, subjid
