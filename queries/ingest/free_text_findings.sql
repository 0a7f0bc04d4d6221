{#- A finding per free-text cell that may name the arm (`match`, the SQL function
    dashboard/access/freetext.py registers), without
    its text: blinded roles read the findings, and the cell itself is withheld from the blinded
    warehouse. `cells`: [{form, column, has_subjid}]. -#}
select null::varchar as kind, null::varchar as form, null::bigint as _row, null::varchar as subjid,
       null::varchar as col, null::varchar as val, null::varchar as message, null::varchar as params
where false
{% for c in cells %}
union all
select 'free text that may name the arm', {{ c.form | lit }}, _row, {{ "subjid" if c.has_subjid else "null" }},
       {{ c.column | lit }}, null::varchar, 'withheld from blinded views; read it in the closed session', null
from {{ ("crf_" ~ (c.form | lower)) | ident }}
where {{ match }}({{ (c.column | lower) | ident }})
{% endfor %}
