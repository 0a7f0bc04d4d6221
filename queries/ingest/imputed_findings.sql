{#- A finding for every partial date that was imputed. `dates`: [{form, column}] of the partial
    date columns of the loaded forms (typed_form.sql flags 'day' or 'month and day'). The
    message is its English template (a catalogue msgid), `params` the JSON of its values. -#}
select null::varchar as kind, null::varchar as form, null::bigint as _row, null::varchar as subjid,
       null::varchar as col, null::varchar as val, null::varchar as message, null::varchar as params
where false
{% for d in dates %}
union all
select 'partial date imputed', {{ d.form | lit }}, _row, subjid, {{ d.column | lit }},
       {{ d.column | ident }}::varchar,
       case {{ ((d.column | lower) ~ "_imputed") | ident }}
           when 'day' then 'partial date: day imputed as the first of the period'
           else 'partial date: month and day imputed as the first of the period' end,
       null
from {{ ("crf_" ~ (d.form | lower)) | ident }}
where {{ ((d.column | lower) ~ "_imputed") | ident }} is not null
{% endfor %}
