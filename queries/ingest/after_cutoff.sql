{#- after_cutoff(form, _row, subjid, col, val, main): every date of the typed forms after the
    cut-off; `main` when it is the row's own date (the row is left out of crf_<form>).
    `forms`: [{name, has_subjid, dates, main_date, subject}]; `subject`: the column naming the row's
    subject (scrnid on the screening log) or none. -#}
create or replace view after_cutoff as
select null::varchar as form, null::bigint as _row, null::varchar as subjid, null::varchar as col,
       null::varchar as val, null::boolean as main
where false
{% for f in forms %}
{% for d in f.dates %}
union all
select {{ f.name | lit }}, _row, {{ (f.subject | ident) if f.subject else "null" }}::varchar, {{ d | lit }},
       {{ d | ident }}::varchar, {{ "true" if d == f.main_date else "false" }}
from {{ ("typed_" ~ (f.name | lower)) | ident }}
where {{ d | ident }} > (select cutoff_date from build_info)
{% endfor %}
{% endfor %}
