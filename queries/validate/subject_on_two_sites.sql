-- A subject's SITEID must be the same on every form; DM.csv is taken as the reference.
with dm as (
    select subjid, siteid from typed_dm where subjid is not null
)
select r.form, r._row, 'SITEID' as col, r.siteid as val,
       'subject ' || r.subjid || ' is at site ' || r.siteid || ' here but at site '
           || dm.siteid || ' in DM.csv' as message
from subject_rows as r
join dm on dm.subjid = r.subjid
where r.form <> 'DM' and r.siteid is distinct from dm.siteid and r.siteid is not null
