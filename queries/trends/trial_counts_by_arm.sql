-- CLOSED: trial_counts by arm (randomized, deaths, DFS events). Exists only in the closed warehouse.
select
    s.arm,
    count(*) as randomized,
    count(*) filter (where sv.os_event and sv.os_excluded_reason is null) as deaths,
    count(*) filter (where sv.dfs_event and sv.dfs_excluded_reason is null) as dfs_events
from subjects as s
left join survival as sv on sv.subjid = s.subjid
where s.randomized and ($site is null or s.siteid = $site)
group by s.arm
order by s.arm
