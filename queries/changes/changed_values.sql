-- Values that changed between the two cuts in records present in both: one table of one form,
-- its records matched on the form's key (or the natural key dashboard/views/changes.py names for
-- an unkeyed form); a key that repeats within a cut matches nothing and is left out. One row per
-- record and column, old and new as text, as the export wrote them (a partial date 1960-05 or
-- 1960, a whole number 60).
-- `presence`: a column that is null where the form has no record (a derived table's columns of
-- one form: subjects.diagnosis_date for DX). Identifiers come from the code, never the data.
{% macro text(alias, c) -%}
{%- if c.imputed -%}
case {{ alias }}.{{ c.imputed | ident }}
    when 'day' then strftime({{ alias }}.{{ c.column | ident }}, '%Y-%m')
    when 'month and day' then strftime({{ alias }}.{{ c.column | ident }}, '%Y')
    else cast({{ alias }}.{{ c.column | ident }} as varchar) end
{%- elif c.number -%}
case when {{ alias }}.{{ c.column | ident }} = trunc({{ alias }}.{{ c.column | ident }})
     then cast(cast({{ alias }}.{{ c.column | ident }} as bigint) as varchar)
     else cast({{ alias }}.{{ c.column | ident }} as varchar) end
{%- else -%}
cast({{ alias }}.{{ c.column | ident }} as varchar)
{%- endif -%}
{%- endmacro %}
{% macro rows(catalog) -%}
select * from {{ catalog | ident }}.{{ table | ident }}
{% if presence %}
where {{ presence | ident }} is not null
{% endif %}
qualify count(*) over (partition by {% for k in keys %}{{ k.column | ident }}{{ ", " if not loop.last }}{% endfor %}) = 1
{%- endmacro %}
with old_rows as (
    {{ rows("cut_old") }}
),
new_rows as (
    {{ rows("cut_new") }}
),
pairs as (
    select {% for k in keys %}n.{{ k.column | ident }} as {{ ("key_" ~ loop.index0) | ident }}, {% endfor %}
           {{ ("n." ~ subjid) if subjid else "null::varchar" }} as subjid,
{% for c in columns %}
           {{ text("o", c) }} as {{ ("old_" ~ loop.index0) | ident }},
           {{ text("n", c) }} as {{ ("new_" ~ loop.index0) | ident }}{{ "," if not loop.last }}
{% endfor %}
    from old_rows as o
    join new_rows as n
      on {% for k in keys %}o.{{ k.column | ident }} = n.{{ k.column | ident }}{{ " and " if not loop.last }}{% endfor %}
    where $site is null or (o.{{ site | ident }} = $site and n.{{ site | ident }} = $site)
)
{% for c in columns %}
select {{ c.name | lit }} as column_name,
       {% for k in keys %}{{ ("key_" ~ loop.index0) | ident }}, {% endfor %}
       subjid,
       {{ ("old_" ~ loop.index0) | ident }} as old_value,
       {{ ("new_" ~ loop.index0) | ident }} as new_value
from pairs
where {{ ("old_" ~ loop.index0) | ident }} is distinct from {{ ("new_" ~ loop.index0) | ident }}
{{ "union all" if not loop.last }}
{% endfor %}
