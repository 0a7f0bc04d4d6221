-- QoL completion per visit (export spec section 5): expected at BASELINE = the randomized; at Mk =
-- operated subjects whose due date (first surgery + k months) is on or before the cut-off, alive
-- that day and not off study before it. Received = a questionnaire of that visit.
with visits as (
    select unnest($qol_visits::varchar[]) as visit
),
months as (
    select visit, case when visit = 'BASELINE' then null else cast(substr(visit, 2) as integer) end as month
    from visits
),
off_study as (
    select subjid, min(d) as off_date from (
        select subjid, dthdat as d from crf_dd
        union all select subjid, dsstdat from crf_ds where dsdecod <> 'COMPLETED'
    ) group by subjid
),
expected as (
    select s.subjid, s.siteid, m.visit
    from subjects as s cross join months as m
    left join off_study as o on o.subjid = s.subjid
    where s.randomized and ($site is null or s.siteid = $site)
      and (m.month is null or (
           s.operated
           and s.first_surgery_date + cast(round(m.month * $days_per_month) as integer)
               <= (select cutoff_date from build_info)
           and (o.off_date is null or o.off_date > s.first_surgery_date + cast(round(m.month * $days_per_month) as integer))))
),
received as (
    select distinct subjid, visit from crf_qs
)
select e.visit, count(*) as expected, count(r.subjid) as received
from expected as e
left join received as r on r.subjid = e.subjid and r.visit = e.visit
group by e.visit
