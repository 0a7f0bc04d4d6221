-- A subject's SITEID must be the same on every form; DM.csv is taken as the reference.
-- (form, _row, col, subjid, val, other, message: see missing_subject_rows.sql)
with dm as (
    select subjid, siteid from typed_dm where subjid is not null
)
select r.form, r._row, 'SITEID' as col, r.subjid, r.siteid as val, dm.siteid as other,
       'subject {subject} is at site {val} here but at site {other} in DM.csv' as message
from subject_rows as r
join dm on dm.subjid = r.subjid
where r.form <> 'DM' and r.siteid is distinct from dm.siteid and r.siteid is not null
