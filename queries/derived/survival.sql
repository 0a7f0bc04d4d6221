-- Overall and disease-free survival per randomized subject, in days from randomization
-- (export spec section 5). Deaths and recurrences after the cut-off are already left out.
-- OS is censored at the last date known alive; DFS at the last disease assessment (docs/warehouse.md
-- "Definitions"): the latest response imaging (RS.RSDAT), surgical pathology (PATH.PATHDAT) or
-- scheduled follow-up visit attended alive (FU.VISDAT, VISIT not UNSCHEDULED, SSSTAT ALIVE), on
-- or before the cut-off, never before randomization.
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
assessments as (
    -- crf_<form>: rows dated after the cut-off are already left out
    select subjid, rsdat as d, 'RS' as form, 1 as rank from crf_rs where rsdat is not null
    union all
    select subjid, pathdat, 'PATH', 2 from crf_path where pathdat is not null
    union all
    select subjid, visdat, 'FU', 3 from crf_fu
    where visdat is not null and visit <> 'UNSCHEDULED' and ssstat = 'ALIVE'
),
last_assessment as (
    -- the latest assessment, and the form it came from (on one day: FU, then PATH, then RS)
    select subjid, arg_max(form, epoch(d) * 10 + rank) as form, max(d) as d
    from assessments
    group by subjid
),
base as (
    select s.subjid, s.siteid, s.randomization_date,
           d.death_date, d.death_cause,
           least(coalesce(lka.last_known_alive, s.randomization_date), (select cutoff_date from cutoff))
               as censor_date,
           la.d as assessment_date, la.form as assessment_form,
           rc.first_recurrence_date, rc.first_local_recurrence_date
    from subjects as s
    left join deaths as d on d.subjid = s.subjid
    left join last_known_alive as lka on lka.subjid = s.subjid
    left join recurrences as rc on rc.subjid = s.subjid
    left join last_assessment as la on la.subjid = s.subjid
    where s.randomized
),
censoring as (
    select *,
           -- never before randomization: a subject with no assessment since is censored at day 0
           -- (an assessment is a dated row on or before the cut-off, so never after censor_date)
           greatest(coalesce(assessment_date, randomization_date), randomization_date) as dfs_censor,
           first_recurrence_date is not null or death_date is not null as is_dfs_event
    from base
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
    -- disease-free survival: first recurrence of any type or death, whichever comes first;
    -- otherwise censored at the last disease assessment
    is_dfs_event as dfs_event,
    coalesce(least(first_recurrence_date, death_date), dfs_censor) - randomization_date as dfs_days,
    case when not is_dfs_event then dfs_censor end as last_disease_assessment,
    case when is_dfs_event then null
         when assessment_date is null or assessment_date < randomization_date then 'randomization'
         else assessment_form end as dfs_censor_source,
    -- censored earlier than the last contact (OS censoring): the count the DSMB and the data
    -- manager see (queries/closed/dfs_censoring.sql)
    not is_dfs_event and dfs_censor < censor_date as dfs_censor_moved,
    -- a negative time is a data finding: such a subject is left out of that analysis and counted
    case when death_date < randomization_date then 'death before randomization' end as os_excluded_reason,
    case when death_date < randomization_date then 'death before randomization'
         when first_recurrence_date < randomization_date then 'recurrence before randomization'
    end as dfs_excluded_reason
from censoring
