{#- Does any text cell of the blinded file (`cells`: [{table, column}]) hold a term that may name
    the arm (`match`, the SQL function freetext.register makes)? Every distinct value once, over
    the whole file: the same subject IDs and codes recur in many tables. -#}
select coalesce(bool_or({{ match }}(v)), false) from (
{% for c in cells %}
    select {{ c.column | ident }} as v from {{ c.table | ident }}{{ " union" if not loop.last }}
{% endfor %}
)
