{#- A blinded copy of one of the build's own record tables (problems, findings, form counts, load
    history): a text cell that may name the arm (`match`, the SQL function freetext.register
    makes) is written as `mark`. Those tables quote the export (an extra column's name, a value in
    a message); the closed file keeps them whole. `columns`: [{name, text}]. -#}
create or replace table {{ (table ~ "_blinded") | ident }} as
select
{% for c in columns %}
{% if c.text %}
    case when {{ match }}({{ c.name | ident }}) then {{ mark | lit }} else {{ c.name | ident }} end as {{ c.name | ident }}
{% else %}
    {{ c.name | ident }}
{% endif %}
{{ "," if not loop.last }}
{% endfor %}
from {{ table | ident }}
