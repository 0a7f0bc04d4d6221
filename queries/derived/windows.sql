-- Intervals of each randomized subject against the configured schedule (trial.toml [schedule]).
-- One row per subject and interval; `deviation` is true when the interval breaks its window.
with randomized as (
    select * from subjects where randomized
),
adjuvant_rt as (
    select subjid, min(adjstdat) as rt_start
    from crf_adj
    where list_contains($adjuvant_rt_types, adjtype)
    group by subjid
),
cutoff as (
    select cutoff_date from build_info
)
select subjid, siteid, 'response_imaging' as window_name,
       last_dose_date as from_date, response_date as to_date,
       response_date - last_dose_date as days,
       0 as min_days, $response_imaging_max_days::integer as max_days,
       case when response_date is null then null
            else response_date - last_dose_date not between 0 and $response_imaging_max_days::integer end as deviation,
       case when response_date is null then 'no response assessment on or before randomization' end as note
from randomized
union all
select subjid, siteid, 'consent_to_randomization',
       consent_date, randomization_date, randomization_date - consent_date,
       0, null, randomization_date < consent_date,
       case when randomization_date < consent_date then 'consent signed after randomization' end
from randomized
union all
select subjid, siteid, 'randomization_to_surgery',
       randomization_date, first_surgery_date, first_surgery_date - randomization_date,
       0, $randomization_to_surgery_max_days::integer,
       case when first_surgery_date is not null
                then first_surgery_date - randomization_date not between 0 and $randomization_to_surgery_max_days::integer
            when (select cutoff_date from cutoff) - randomization_date > $randomization_to_surgery_max_days::integer
                then true
       end,
       case when first_surgery_date is null
                 and (select cutoff_date from cutoff) - randomization_date > $randomization_to_surgery_max_days::integer
            then 'no surgery by the cut-off' end
from randomized
union all
select r.subjid, r.siteid, 'surgery_to_adjuvant',
       r.first_surgery_date, a.rt_start, a.rt_start - r.first_surgery_date,
       0, $surgery_to_adjuvant_rt_max_days::integer,
       a.rt_start - r.first_surgery_date not between 0 and $surgery_to_adjuvant_rt_max_days::integer,
       null
from randomized as r
join adjuvant_rt as a on a.subjid = r.subjid
where r.first_surgery_date is not null
