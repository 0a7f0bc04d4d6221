-- An ENROLLED screening row names the subject number given at enrollment, and that subject exists.
select 'SCREENING' as form, _row, 'SUBJID' as col, subjid as val,
       case when subjid is null then 'SUBJID is required when SCRNOUT is ENROLLED'
            else 'subject ' || subjid || ' is ENROLLED here but has no DM.csv row' end as message
from typed_screening
where scrnout = 'ENROLLED'
  and (subjid is null or subjid not in (select subjid from typed_dm where subjid is not null))
union all
select 'SCREENING', _row, 'SUBJID', subjid,
       'subject ' || subjid || ' appears on more than one screening row'
from typed_screening
where subjid is not null
qualify count(*) over (partition by subjid) > 1 and row_number() over (partition by subjid order by _row) > 1
