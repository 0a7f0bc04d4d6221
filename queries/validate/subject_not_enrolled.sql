-- Every subject on a subject form must be enrolled, i.e. have a DM.csv row.
select r.form, r._row, 'SUBJID' as col, r.subjid as val,
       'subject ' || r.subjid || ' has no DM.csv row (not an enrolled subject)' as message
from subject_rows as r
where r.form not in ('DM', 'SCREENING') and r.subjid is not null
  and r.subjid not in (select subjid from typed_dm where subjid is not null)
