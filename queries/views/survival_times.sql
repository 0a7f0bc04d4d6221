-- Survival times of randomized subjects, in days (negative times are findings, left out).
select subjid, siteid, os_days, os_event, dfs_days, dfs_event, os_excluded_reason, dfs_excluded_reason,
       (select cutoff_date from build_info) - randomization_date as potential_follow_up
from survival
where $site is null or siteid = $site
