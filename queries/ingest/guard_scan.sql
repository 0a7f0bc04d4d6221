{#- One scan of one table of the blinded file: does any text cell (`columns`), trimmed and
    upper-cased, equal an arm or protocol-surgery value ($v); does any text cell of `words` hold
    a term that may name the arm (`match`, the SQL function freetext.register makes)? The
    matcher runs once per distinct value (a code column has a handful), not once per cell. -#}
select {% if columns %}coalesce(bool_or(
{% for c in columns %}
           upper(trim({{ c | ident }})) in (select unnest($v)){{ " or" if not loop.last }}
{% endfor %}
       ), false){% else %}coalesce(bool_or(false), false){% endif %},
{% if words %}
       (select coalesce(bool_or({{ match }}(v)), false) from (
{% for c in words %}
            select {{ c | ident }} as v from {{ table | ident }}{{ " union" if not loop.last }}
{% endfor %}
       ))
{% else %}
       false
{% endif %}
from {{ table | ident }}
