-- Screening log totals, for one site ($site) or all (null).
select count(*) as screened,
       count(*) filter (where scrnout = 'SCREEN FAILURE') as screen_failures,
       count(*) filter (where scrnout = 'PENDING') as pending,
       count(*) filter (where scrnout = 'ENROLLED') as enrolled
from crf_screening
where $site is null or siteid = $site
