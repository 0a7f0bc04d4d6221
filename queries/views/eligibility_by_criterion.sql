-- Per criterion: subjects who break it (data or site), where the site disagrees, where the data
-- cannot decide.
select c.code, c.kind, c.text, c.checked_by,
       count(distinct e.subjid) filter (where e.violated) as violated,
       count(distinct e.subjid) filter (where e.site_disagrees) as site_disagrees,
       count(distinct e.subjid) filter (where e.checked_by = 'data' and e.data_violated is null) as undecided,
       count(distinct e.subjid) filter (where e.site_answer is null) as unanswered
from criteria as c
left join eligibility as e on e.code = c.code and ($site is null or e.siteid = $site)
group by all
order by case when any_value(c.kind) = 'inclusion' then 0 else 1 end, c.code
