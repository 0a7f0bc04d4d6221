-- Where each randomized subject stands at the cut-off: dead, off study, or in follow-up, with
-- the last contact and how long ago it was.
with ds as (
    select subjid, arg_max(dsdecod, dsstdat) as end_reason, max(dsstdat) as end_date
    from crf_ds group by subjid
)
select s.subjid, s.siteid, s.operated, s.never_operated,
       sv.death_date,
       ds.end_reason, ds.end_date,
       sv.last_known_alive as last_contact,
       (select cutoff_date from build_info) - sv.last_known_alive as days_since_last_contact,
       case when sv.death_date is not null then 'dead'
            when ds.end_reason = 'WITHDREW CONSENT' then 'withdrew consent'
            when ds.end_reason = 'LOST TO FOLLOW-UP' then 'lost to follow-up'
            when ds.end_reason = 'PHYSICIAN DECISION' then 'off study (physician decision)'
            when ds.end_reason = 'COMPLETED' then 'completed'
            when ds.end_reason = 'DEATH' then 'dead (no death form)'
            when s.operated then 'in follow-up'
            when s.never_operated then 'not operated'
            else 'awaiting surgery' end as status
from subjects as s
join survival as sv on sv.subjid = s.subjid
left join ds on ds.subjid = s.subjid
where s.randomized
