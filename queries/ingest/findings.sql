{#- Every finding of the build: the generated parts (`parts`, rendered templates) and the
    queries of queries/findings (`names`), each giving kind, form, _row, subjid, col, val, message. -#}
{% for p in parts %}
select * from (
{{ p }}
)
union all
{% endfor %}
{% for n in names %}
select * from (
{% include n ~ ".sql" %}

)
{{ "union all" if not loop.last }}
{% endfor %}
