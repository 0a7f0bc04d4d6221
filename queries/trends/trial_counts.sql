-- Trends across cuts, one cut: randomized subjects, deaths (OS events) and DFS events of one site
-- or all, both arms together; an event counts where the survival analysis uses the subject (as
-- the pooled survival page and the DSMB look count them).
select
    count(*) filter (where s.randomized) as randomized,
    count(*) filter (where s.randomized and sv.os_event and sv.os_excluded_reason is null) as deaths,
    count(*) filter (where s.randomized and sv.dfs_event and sv.dfs_excluded_reason is null) as dfs_events
from subjects as s
left join survival as sv on sv.subjid = s.subjid
where $site is null or s.siteid = $site
