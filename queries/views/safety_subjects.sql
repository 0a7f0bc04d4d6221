-- Per randomized subject: the dated facts the safety signals are computed from (subjects, not
-- events); the windows themselves come from trial.toml and are applied in dashboard/views/safety.py.
-- Margins are pooled-only (crf_spec.toml): blinded views read their counts from pooled_by_site,
-- closed views add them per subject from queries/closed/margins.sql.
with ae as (
    select subjid,
           count(*) as events,
           max(grade) as worst_grade,
           bool_or(grade >= 3) as grade3plus,
           bool_or(serious) as serious,
           bool_or(immune_related and grade >= 3) as immune_grade3plus,
           bool_or(immune_related and grade >= 3 and phase = 'neoadjuvant') as immune_grade3plus_neoadjuvant,
           min(days_after_surgery) filter (where clavien_3a_plus and days_after_surgery >= 0)
               as first_clavien_3a_plus_day
    from adverse_events where randomized group by subjid
)
select s.subjid, s.siteid, s.operated, s.randomization_date, s.first_surgery_date,
       s.with_pathology,
       coalesce(ae.events, 0) as ae_events,
       ae.worst_grade,
       coalesce(ae.events > 0, false) as any_ae,
       coalesce(ae.grade3plus, false) as grade3plus,
       coalesce(ae.serious, false) as serious,
       coalesce(ae.immune_grade3plus, false) as immune_grade3plus,
       coalesce(ae.immune_grade3plus_neoadjuvant, false) as immune_grade3plus_neoadjuvant,
       ae.first_clavien_3a_plus_day,
       sv.death_date - s.first_surgery_date as death_day_after_surgery,
       sv.first_local_recurrence_date - s.randomization_date as local_recurrence_day,
       (select cutoff_date from build_info) - s.randomization_date as days_since_randomization,
       (select cutoff_date from build_info) - s.first_surgery_date as days_since_surgery
from subjects as s
join survival as sv on sv.subjid = s.subjid
left join ae on ae.subjid = s.subjid
where s.randomized and ($site is null or s.siteid = $site)
