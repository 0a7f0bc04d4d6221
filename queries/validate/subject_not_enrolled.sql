-- Every subject on a subject form must be enrolled, i.e. have a DM.csv row.
-- (form, _row, col, subjid, val, other, message: see missing_subject_rows.sql)
select r.form, r._row, 'SUBJID' as col, r.subjid, r.subjid as val, null::varchar as other,
       'subject {val} has no DM.csv row (not an enrolled subject)' as message
from subject_rows as r
where r.form not in ('DM', 'SCREENING') and r.subjid is not null
  and r.subjid not in (select subjid from typed_dm where subjid is not null)
