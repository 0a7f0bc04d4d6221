-- Per site: activation, screened, randomized, first and last randomization.
with screened as (
    select siteid, count(*) as screened,
           count(*) filter (where scrnout = 'SCREEN FAILURE') as screen_failures
    from crf_screening group by siteid
),
randomized as (
    select siteid, count(*) as randomized,
           min(randomization_date) as first_randomized, max(randomization_date) as last_randomized
    from subjects where randomized group by siteid
)
select s.siteid, s.sitename, s.city, s.status, s.actdat as activated, s.targetn as target,
       coalesce(sc.screened, 0) as screened,
       coalesce(sc.screen_failures, 0) as screen_failures,
       coalesce(r.randomized, 0) as randomized,
       r.first_randomized, r.last_randomized
from crf_sites as s
left join screened as sc on sc.siteid = s.siteid
left join randomized as r on r.siteid = s.siteid
where $site is null or s.siteid = $site
order by s.siteid
