-- Subjects by system organ class and their worst grade in it (randomized subjects, any date).
select coalesce(aesoc, 'Not coded') as soc, subjid, siteid, max(grade) as worst_grade,
       bool_or(serious) as serious
from adverse_events
where randomized and ($site is null or siteid = $site)
group by all
