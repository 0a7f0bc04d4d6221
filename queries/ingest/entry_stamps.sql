{#- entry_stamps(form, _row, subjid, siteid, entdtc, main_date): the EDC entry stamp of each row
    of the clean subject forms that have a date of their own, for the entry lag.
    `forms`: [{name, main_date}]. -#}
create or replace table entry_stamps as
{% for f in forms %}
select {{ f.name | lit }} as form, _row, subjid, siteid, entdtc, {{ f.main_date | ident }} as main_date
from {{ ("crf_" ~ (f.name | lower)) | ident }}
where entdtc is not null
{{ "union all" if not loop.last }}
{% endfor %}
