-- Intervals outside their configured window, and follow-up visits done out of window.
select window_name, subjid, siteid, from_date, to_date, days, max_days, note
from windows
where deviation and ($site is null or siteid = $site)
union all
select 'followup_visit', subjid, siteid, due_date, visit_date, days_from_due, null, visit || ' out of window'
from followup_visits
where status = 'out of window' and ($site is null or siteid = $site)
order by window_name, subjid
