-- CLOSED: how many subjects' DFS censoring moved earlier than their last contact when DFS is
-- censored at the last disease assessment (docs/warehouse.md "Definitions"), by arm and for both
-- arms together (arm null). Subjects left out of DFS (dfs_excluded_reason) are not counted.
select case when grouping(s.arm) = 1 then null else s.arm end as arm,
       count(*) as randomized,
       count(*) filter (where not sv.dfs_event) as dfs_censored,
       count(*) filter (where sv.dfs_censor_moved) as dfs_censor_moved,
       count(*) filter (where sv.dfs_censor_source = 'randomization') as censored_at_randomization,
       -- days between the last contact and the last disease assessment, among those that moved
       median(sv.last_known_alive - sv.last_disease_assessment) filter (where sv.dfs_censor_moved)
           as median_days_moved,
       max(sv.last_known_alive - sv.last_disease_assessment) filter (where sv.dfs_censor_moved)
           as max_days_moved
from survival as sv
join subjects as s on s.subjid = sv.subjid
where sv.dfs_excluded_reason is null
group by rollup (s.arm)
order by grouping(s.arm), s.arm
