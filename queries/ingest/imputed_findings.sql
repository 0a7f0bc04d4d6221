{#- A finding for every partial date that was imputed. `dates`: [{form, column}] of the partial
    date columns of the loaded forms. -#}
select null::varchar as kind, null::varchar as form, null::bigint as _row, null::varchar as subjid,
       null::varchar as col, null::varchar as val, null::varchar as message
where false
{% for d in dates %}
union all
select 'partial date imputed', {{ d.form | lit }}, _row, subjid, {{ d.column | lit }},
       {{ d.column | ident }}::varchar,
       'partial date: ' || {{ ((d.column | lower) ~ "_imputed") | ident }} || ' imputed as the first of the period'
from {{ ("crf_" ~ (d.form | lower)) | ident }}
where {{ ((d.column | lower) ~ "_imputed") | ident }} is not null
{% endfor %}
