-- A dated record after the subject's death (other than the death forms themselves).
with deaths as (select subjid, min(dthdat) as death_date from crf_dd group by subjid)
select 'record dated after death' as kind, sd.form, sd._row, sd.subjid, sd.col,
       sd.d::varchar as val, '{column} {value} is after death on {death}' as message,
       json_object('column', sd.col, 'value', sd.d::varchar, 'death', dth.death_date::varchar)::varchar as params
from subject_dates as sd join deaths as dth on dth.subjid = sd.subjid
where sd.d > dth.death_date and sd.form not in ('DD', 'DS') and sd.col <> 'ENTDTC'
  and not (sd.form = 'FU' and sd.status = 'DEAD')
