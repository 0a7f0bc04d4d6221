-- The flow from screening to follow-up: one row of counts.
with screening as (
    select count(*) as screened,
           count(*) filter (where scrnout = 'SCREEN FAILURE') as screen_failures,
           count(*) filter (where scrnout = 'PENDING') as screening_pending,
           count(*) filter (where scrnout = 'ENROLLED') as enrolled
    from crf_screening where $site is null or siteid = $site
),
status as (
    select count(*) as randomized,
           count(*) filter (where operated) as operated,
           count(*) filter (where not operated and not never_operated) as awaiting_surgery,
           count(*) filter (where never_operated) as not_operated,
           count(*) filter (where status = 'in follow-up') as in_follow_up,
           count(*) filter (where status like 'dead%') as died,
           count(*) filter (where status = 'withdrew consent') as withdrew,
           count(*) filter (where status = 'lost to follow-up') as lost,
           count(*) filter (where status in ('completed', 'off study (physician decision)')) as off_study
    from followup_status where $site is null or siteid = $site
)
select * from screening, status
