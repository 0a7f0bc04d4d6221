-- Overall and disease-free survival per randomized subject, in days from randomization
-- (export spec section 5). Deaths and recurrences after the cut-off are already left out.
with cutoff as (
    select cutoff_date from build_info
),
deaths as (
    select subjid, min(dthdat) as death_date, any_value(dthcaus) as death_cause from crf_dd group by subjid
),
recurrences as (
    select subjid,
           min(recdat) as first_recurrence_date,
           min(recdat) filter (where rectype = 'LOCAL') as first_local_recurrence_date
    from crf_recur
    group by subjid
),
base as (
    select s.subjid, s.siteid, s.randomization_date,
           d.death_date, d.death_cause,
           least(coalesce(lka.last_known_alive, s.randomization_date), (select cutoff_date from cutoff))
               as censor_date,
           rc.first_recurrence_date, rc.first_local_recurrence_date
    from subjects as s
    left join deaths as d on d.subjid = s.subjid
    left join last_known_alive as lka on lka.subjid = s.subjid
    left join recurrences as rc on rc.subjid = s.subjid
    where s.randomized
)
select
    subjid,
    siteid,
    randomization_date,
    death_date,
    death_cause,
    censor_date as last_known_alive,
    first_recurrence_date,
    first_local_recurrence_date,
    -- overall survival
    death_date is not null as os_event,
    case when death_date is not null then death_date - randomization_date
         else censor_date - randomization_date end as os_days,
    -- disease-free survival: first recurrence of any type or death, whichever comes first
    first_recurrence_date is not null or death_date is not null as dfs_event,
    coalesce(least(first_recurrence_date, death_date), censor_date) - randomization_date as dfs_days,
    -- a negative time is a data finding: such a subject is left out of that analysis and counted
    case when death_date < randomization_date then 'death before randomization' end as os_excluded_reason,
    case when death_date < randomization_date then 'death before randomization'
         when first_recurrence_date < randomization_date then 'recurrence before randomization'
    end as dfs_excluded_reason
from base
