-- Adverse events are collected from the first neoadjuvant dose: an onset before it is a finding.
with first_dose as (select subjid, min(exstdat) as d from crf_ex group by subjid)
select 'adverse event before first dose' as kind, 'AE' as form, ae._row, ae.subjid, 'AESTDAT' as col,
       ae.aestdat::varchar as val, 'onset {onset} is before the first dose on {dose}' as message,
       json_object('onset', ae.aestdat::varchar, 'dose', f.d::varchar)::varchar as params
from crf_ae as ae join first_dose as f on f.subjid = ae.subjid
where ae.aestdat < f.d and ae.aestdat_imputed is null
