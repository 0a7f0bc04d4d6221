{#- subject_dates(form, _row, subjid, col, d, status): every date of every subject's rows, read
    from the typed forms with the dates after the cut-off: a contact after the cut-off still
    proves the subject alive at it (censoring takes the earlier of the two, export spec 5).
    `forms`: [{name, dates, status_column}] (status: the column that says a row reports a death). -#}
create or replace table subject_dates as
select null::varchar as form, null::bigint as _row, null::varchar as subjid, null::varchar as col,
       null::date as d, null::varchar as status
where false
{% for f in forms %}
{% for d in f.dates %}
union all
select {{ f.name | lit }}, _row, subjid, {{ d | lit }}, {{ d | ident }}::date,
       {{ (f.status_column | ident) if f.status_column else "null" }}::varchar
from {{ ("typed_" ~ (f.name | lower)) | ident }}
where {{ d | ident }} is not null
{% endfor %}
{% endfor %}
