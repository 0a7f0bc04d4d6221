-- Enrolled subjects (DM.csv) with no randomization.
select 'enrolled, not randomized' as kind, 'DM' as form, dm._row, dm.subjid, 'SUBJID' as col,
       dm.subjid as val, 'subject {subject} has a DM.csv row but no RAND.csv row' as message,
       json_object('subject', dm.subjid)::varchar as params
from crf_dm as dm
where dm.subjid not in (select subjid from crf_rand)
