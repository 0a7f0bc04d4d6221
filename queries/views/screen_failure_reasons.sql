-- Screen failures by the criterion failed (SFREAS); an empty reason is counted as such.
select coalesce(sfreas, 'NOT GIVEN') as reason, count(*) as n
from crf_screening
where scrnout = 'SCREEN FAILURE' and ($site is null or siteid = $site)
group by all
order by n desc, reason
