{#- One scan of one table of the blinded file: does any text cell (`columns`), trimmed and
    upper-cased, equal an arm or protocol-surgery value ($v); does any free-text cell (`words`)
    hold a term that may name the arm (`match`, the SQL function freetext.register makes)? -#}
select coalesce(bool_or(
{% for c in columns %}
           upper(trim({{ c | ident }})) in (select unnest($v)){{ " or" if not loop.last }}
{% endfor %}
       ), false),
       coalesce(bool_or(
{% for c in words %}
           {{ match }}({{ c | ident }}){{ " or" if not loop.last }}
{% else %}
           false
{% endfor %}
       ), false)
from {{ table | ident }}
