-- The flow from screening to follow-up (CONSORT): one row of counts in which every box is the sum
-- of the boxes below it (dashboard/views/enrollment.py: flow).
--  - Screening-log rows: screen failure, pending, another outcome, enrolled. An enrolled row counts
--    as randomized when its subject is randomized (the first enrolled row of that subject); any
--    other enrolled row is "enrolled, not randomized". Randomized subjects with no enrolled row of
--    their own come in beside the log ("randomized without an enrolled screening-log row").
--  - Randomized subjects: operated or not; each side split by where the subject stands at the
--    cut-off (followup_status), so deaths and withdrawals before surgery are counted under "not
--    operated", never under "operated".
with randomized as (
    select s.subjid, s.operated, s.never_operated,
           coalesce(f.status, case when s.operated then 'in follow-up'
                                   when s.never_operated then 'not operated'
                                   else 'awaiting surgery' end) as status
    from subjects as s
    left join followup_status as f on f.subjid = s.subjid
    where s.randomized and ($site is null or s.siteid = $site)
),
log as (
    select c.scrnout,
           c.scrnout = 'ENROLLED' and r.subjid is not null
               and row_number() over (partition by c.scrnout = 'ENROLLED', r.subjid order by c.scrndat, c.scrnid) = 1
               as enrolled_randomized
    from crf_screening as c
    left join randomized as r on r.subjid = c.subjid
    where $site is null or c.siteid = $site
),
screening as (
    select count(*) as screened,
           count(*) filter (where scrnout = 'SCREEN FAILURE') as screen_failures,
           count(*) filter (where scrnout = 'PENDING') as screening_pending,
           count(*) filter (where scrnout is null or scrnout not in ('SCREEN FAILURE', 'PENDING', 'ENROLLED'))
               as other_outcome,
           count(*) filter (where scrnout = 'ENROLLED') as enrolled,
           count(*) filter (where enrolled_randomized) as enrolled_randomized,
           count(*) filter (where scrnout = 'ENROLLED' and not enrolled_randomized) as enrolled_not_randomized
    from log
),
status as (
    select count(*) as randomized,
           count(*) filter (where operated) as operated,
           count(*) filter (where operated and status = 'in follow-up') as in_follow_up,
           count(*) filter (where operated and status like 'dead%') as died,
           count(*) filter (where operated and status = 'withdrew consent') as withdrew,
           count(*) filter (where operated and status = 'lost to follow-up') as lost,
           count(*) filter (where operated and status = 'completed') as completed,
           count(*) filter (where operated and status = 'off study (physician decision)') as physician_decision,
           count(*) filter (where not operated) as not_operated_total,
           count(*) filter (where not operated and status = 'awaiting surgery') as awaiting_surgery,
           count(*) filter (where not operated and status = 'not operated') as not_operated,
           count(*) filter (where not operated and status like 'dead%') as died_before_surgery,
           count(*) filter (where not operated and status = 'withdrew consent') as withdrew_before_surgery,
           count(*) filter (where not operated and status = 'lost to follow-up') as lost_before_surgery,
           count(*) filter (where not operated and status in ('completed', 'off study (physician decision)'))
               as off_study_before_surgery
    from randomized
)
select * from screening, status
