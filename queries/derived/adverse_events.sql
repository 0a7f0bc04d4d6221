-- Adverse events and surgical complications with the treatment phase, Clavien-Dindo rank and
-- the post-operative windows (0..N days after the first surgery).
with clavien as (
    select unnest($clavien_order::varchar[]) as grade,
           generate_subscripts($clavien_order::varchar[], 1) as rank
)
select
    ae.subjid, ae.siteid, ae.aespid, ae.aeterm, ae.aedecod, ae.aesoc,
    ae.aestdat as onset_date,
    ae.aestdat_imputed as onset_imputed,
    ae.aeendat as resolution_date,
    ae.aetoxgr as grade,
    ae.aeser = 'Y' as serious,
    ae.aerel as attributed_to,
    ae.aeimmune = 'Y' as immune_related,
    ae.aeclav as clavien_dindo,
    cl.rank as clavien_rank,
    list_contains($clavien_serious::varchar[], ae.aeclav) as clavien_3a_plus,
    ae.aeout as outcome,
    s.randomized,
    case when s.first_surgery_date is not null and ae.aestdat >= s.first_surgery_date then 'post-operative'
         when s.randomization_date is not null and ae.aestdat > s.randomization_date then 'pre-operative'
         else 'neoadjuvant' end as phase,
    ae.aestdat - s.first_surgery_date as days_after_surgery,
    -- trial.toml [safety]: complications counted within complication_window_days of surgery,
    -- early deaths within the longest of early_death_days
    coalesce(ae.aestdat - s.first_surgery_date between 0 and $complication_window_days::integer, false)
        as within_complication_window,
    coalesce(ae.aestdat - s.first_surgery_date between 0 and list_max($early_death_days::integer[]), false)
        as within_early_death_window
from crf_ae as ae
join subjects as s on s.subjid = ae.subjid
left join clavien as cl on cl.grade = ae.aeclav
