-- Scheduled follow-up visits with their status at the cut-off.
select subjid, siteid, visit, month, due_date, window_start, window_end, visit_date, status
from followup_visits
where $site is null or siteid = $site
