-- The scheduled follow-up visits of every operated subject: due date (first surgery + round(k x
-- 30.4375) days), window, the visit that took place, and its status at the cut-off.
with cutoff as (
    select cutoff_date from build_info
),
schedule as (
    select unnest($followup_months::integer[]) as month
),
expected as (
    select s.subjid, s.siteid, sch.month, 'M' || sch.month as visit,
           s.first_surgery_date + cast(round(sch.month * $days_per_month::double) as integer) as due_date,
           case when sch.month <= $window_switch_month::integer then $window_days::integer
                else $window_days_late::integer end as window_days
    from subjects as s
    cross join schedule as sch
    where s.randomized and s.operated
),
visits as (
    select subjid, visit, min(visdat) as visit_date
    from crf_fu
    where visit <> 'UNSCHEDULED'
    group by subjid, visit
),
off_study as (
    -- the first date a subject could no longer be seen: death, withdrawal, loss, end of study
    select subjid, min(d) as off_date
    from (
        select subjid, dthdat as d from crf_dd
        union all
        select subjid, dsstdat from crf_ds
    )
    group by subjid
)
select e.subjid, e.siteid, e.visit, e.month, e.due_date,
       e.due_date - e.window_days as window_start,
       e.due_date + e.window_days as window_end,
       v.visit_date,
       v.visit_date - e.due_date as days_from_due,
       case
           when v.visit_date is not null and v.visit_date between e.due_date - e.window_days and e.due_date + e.window_days
               then 'in window'
           when v.visit_date is not null then 'out of window'
           when o.off_date is not null and o.off_date <= e.due_date + e.window_days then 'not expected'
           when e.due_date + e.window_days < (select cutoff_date from cutoff) then 'missed'
           else 'not yet due'
       end as status
from expected as e
left join visits as v on v.subjid = e.subjid and v.visit = e.visit
left join off_study as o on o.subjid = e.subjid
