-- The information of a DSMB look: deaths among the randomized subjects in the OS analysis (ITT),
-- both arms together; the fraction is this over trial.toml [design] expected_deaths_final.
select count(*) filter (where sv.os_event) as deaths
from survival as sv
join subjects as s on s.subjid = sv.subjid
where s.randomized and sv.os_excluded_reason is null
