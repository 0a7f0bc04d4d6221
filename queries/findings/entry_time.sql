-- EDC entry stamps before the row's own date, or after the export.
select case when sd.entdtc > (select exported from build_info) then 'entered after the export'
            else 'entered before its own date' end as kind,
       sd.form, sd._row, sd.subjid, 'ENTDTC' as col, sd.entdtc::varchar as val,
       'entered {entered}, row date {date}' as message,
       json_object('entered', sd.entdtc::varchar, 'date', sd.main_date::varchar)::varchar as params
from entry_stamps as sd
where sd.entdtc > (select exported from build_info) or sd.entdtc::date < sd.main_date
