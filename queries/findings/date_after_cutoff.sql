-- Dates after the data cut-off (the after_cutoff view of the clean step): the row is left out
-- when it is the row's own date, the value is left out otherwise.
select case when main then 'dated after the cut-off: row left out'
            else 'date after the cut-off: value left out' end as kind,
       form, _row, subjid, col, val,
       '{column} {value} is after the cut-off {cutoff}' as message,
       json_object('column', col, 'value', val, 'cutoff', (select cutoff_date from build_info)::varchar)::varchar as params
from after_cutoff
