-- Per site: randomized subjects, site-reported deviations (all, major), eligibility and window findings.
with randomized as (
    select siteid, count(*) as randomized from subjects where randomized group by siteid
),
reported as (
    select siteid, count(*) as reported, count(*) filter (where dvsev = 'MAJOR') as major
    from crf_dv group by siteid
),
eligibility as (
    select siteid, count(distinct subjid) as eligibility_subjects from eligibility where violated group by siteid
),
windows as (
    select siteid, count(distinct subjid) as window_subjects from windows where deviation group by siteid
)
select r.siteid, r.randomized, coalesce(p.reported, 0) as reported, coalesce(p.major, 0) as major,
       coalesce(e.eligibility_subjects, 0) as eligibility_subjects,
       coalesce(w.window_subjects, 0) as window_subjects
from randomized as r
left join reported as p on p.siteid = r.siteid
left join eligibility as e on e.siteid = r.siteid
left join windows as w on w.siteid = r.siteid
where $site is null or r.siteid = $site
order by r.siteid
