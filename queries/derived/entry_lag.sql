-- Data-entry lag: the EDC entry date (ENTDTC) minus the row's own date, per row that has one.
select form, subjid, siteid, main_date, entdtc as entered,
       entdtc::date - main_date as lag_days
from entry_stamps
