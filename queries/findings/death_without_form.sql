-- Death reported at follow-up or at end of study with no DD.csv row: not counted as a death.
select 'death reported without a death form' as kind, 'FU' as form, fu._row, fu.subjid, 'SSSTAT' as col,
       fu.ssstat as val, 'follow-up on {visit} reports death; DD.csv has no row' as message,
       json_object('visit', fu.visdat::varchar)::varchar as params
from crf_fu as fu
where fu.ssstat = 'DEAD' and fu.subjid not in (select subjid from crf_dd)
union all
select 'death reported without a death form', 'DS', ds._row, ds.subjid, 'DSDECOD',
       ds.dsdecod, 'end of study by death on {date}; DD.csv has no row',
       json_object('date', ds.dsstdat::varchar)::varchar
from crf_ds as ds
where ds.dsdecod = 'DEATH' and ds.subjid not in (select subjid from crf_dd)
