-- Rows whose SITEID is not a site of SITES.csv.
select r.form, r._row, 'SITEID' as col, r.siteid as val,
       'site ' || r.siteid || ' is not in SITES.csv' as message
from subject_rows as r
where r.siteid is not null
  and r.siteid not in (select siteid from typed_sites where siteid is not null)
