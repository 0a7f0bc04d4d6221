-- An ENROLLED screening row names the subject number given at enrollment, and that subject exists.
-- (form, _row, col, subjid, val, other, message: see missing_subject_rows.sql)
select 'SCREENING' as form, _row, 'SUBJID' as col, coalesce(subjid, scrnid) as subjid, subjid as val,
       null::varchar as other,
       case when subjid is null then 'SUBJID is required when SCRNOUT is ENROLLED'
            else 'subject {val} is ENROLLED here but has no DM.csv row' end as message
from typed_screening
where scrnout = 'ENROLLED'
  and (subjid is null or subjid not in (select subjid from typed_dm where subjid is not null))
union all
select 'SCREENING', _row, 'SUBJID', coalesce(subjid, scrnid), subjid, null,
       'subject {val} appears on more than one screening row'
from typed_screening
where subjid is not null
qualify count(*) over (partition by subjid) > 1 and row_number() over (partition by subjid order by _row) > 1
