-- Rows whose SITEID is not a site of SITES.csv.
-- (form, _row, col, subjid, val, other, message: see missing_subject_rows.sql)
select r.form, r._row, 'SITEID' as col, r.subject as subjid, r.siteid as val, null::varchar as other,
       'site {val} is not in SITES.csv' as message
from subject_rows as r
where r.siteid is not null
  and r.siteid not in (select siteid from typed_sites where siteid is not null)
