{#- Every finding of the build: the generated parts (`parts`, rendered templates) and the
    queries of queries/findings (`names`), each giving kind, form, _row, subjid, col, val, message,
    params: `message` is the English template (a catalogue msgid) and `params` the JSON object of
    its {placeholders}' values (or null), which dashboard/ingest/findings.py renders in English and
    in Chinese. -#}
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
