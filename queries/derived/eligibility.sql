-- Eligibility exceptions of randomized subjects, criterion by criterion: what the data say
-- (eligibility_data, from queries/eligibility/) beside what the site answered in IE.csv.
-- Inclusion: IEORRES Y = met; exclusion: Y = present. `violated` takes the data where the
-- criterion is checkable from the data, else the site's answer. Only the rows that matter are
-- kept (a violation, a disagreement, no answer, or data that cannot decide): the rest is
-- "met, and the site agrees", counted from `subjects` x `criteria`.
with site_answer as (
    select subjid, ietestcd as code, ieorres as answer from crf_ie
),
grid as (
    select s.subjid, s.siteid, c.code, c.kind, c.text, c.checked_by
    from subjects as s cross join criteria as c
    where s.randomized
)
select g.subjid, g.siteid, g.code, g.kind, g.checked_by,
       d.violated as data_violated,
       d.detail,
       a.answer as site_answer,
       case when a.answer is null then null
            when g.kind = 'inclusion' then a.answer = 'N'
            else a.answer = 'Y' end as site_violated,
       coalesce(d.violated, case when g.kind = 'inclusion' then a.answer = 'N' else a.answer = 'Y' end) as violated,
       d.violated is not null and a.answer is not null
           and d.violated <> (case when g.kind = 'inclusion' then a.answer = 'N' else a.answer = 'Y' end)
           as site_disagrees
from grid as g
left join eligibility_data as d on d.subjid = g.subjid and d.code = g.code
left join site_answer as a on a.subjid = g.subjid and a.code = g.code
where d.violated
   or (d.violated is null and g.checked_by = 'data')
   or a.answer is null
   or (case when g.kind = 'inclusion' then a.answer = 'N' else a.answer = 'Y' end)
