{#- One row per subject and data-checked criterion that is violated or unknown: every check of
    queries/eligibility in one statement, each check's parameters renamed $p<i>_<name> so the
    checks can share it. `checks`: [{i, check}]. -#}
insert into eligibility_data
{% for c in checks %}
select $code{{ c.i }} as code, subjid, violated, detail, detail_params::varchar from (
{% filter rename_params("p" ~ c.i ~ "_") %}
{% include "eligibility/" ~ c.check ~ ".sql" %}
{% endfilter %}

)
{{ "union all" if not loop.last }}
{% endfor %}
