{#- typed_<form>: one column per spec column with its type (lower-case names, the trial's words
    in the SQL), partial dates imputed to the first of the period with a flag, extra columns kept
    as text. `columns`: [{name, type, present}] from crf_spec.toml; `extra`: header names not in
    the spec. length() before strptime: %Y-%m-%d alone would take 2026-3-1 as well. -#}
{%- set sql_types = {"text": "varchar", "yn": "varchar", "date": "date", "partial_date": "date",
                     "partial_date_y": "date", "datetime": "timestamp", "integer": "bigint",
                     "number": "double"} -%}
create or replace table {{ ("typed_" ~ form) | ident }} as select
    rowid as _row
{% for c in columns %}
{% set name = c.name | lower %}
{% set v = "nullif(trim(" ~ (c.name | ident) ~ "), '')" %}
{% if not c.present %}
    , null::{{ sql_types[c.type] }} as {{ name | ident }}
{% if c.type.startswith("partial_date") %}
    , null::varchar as {{ (name ~ "_imputed") | ident }}
{% endif %}
{% elif c.type in ("text", "yn") %}
    , {{ v }} as {{ name | ident }}
{% elif c.type == "date" %}
    , case when length({{ v }}) = 10 then try_strptime({{ v }}, '%Y-%m-%d')::date end as {{ name | ident }}
{% elif c.type.startswith("partial_date") %}
    , case when length({{ v }}) = 10 then try_strptime({{ v }}, '%Y-%m-%d')::date
           when length({{ v }}) = 7 then try_strptime({{ v }} || '-01', '%Y-%m-%d')::date
{% if c.type == "partial_date_y" %}
           when length({{ v }}) = 4 then try_strptime({{ v }} || '-01-01', '%Y-%m-%d')::date
{% endif %}
      end as {{ name | ident }}
    {#- a value that does not parse refuses the package, so the flag needs no second check #}
    , case when length({{ v }}) = 7 then 'day'
{% if c.type == "partial_date_y" %}
           when length({{ v }}) = 4 then 'month and day'
{% endif %}
      end as {{ (name ~ "_imputed") | ident }}
{% elif c.type == "datetime" %}
    {#- ISO 8601 date or date-time; the DuckDB cast accepts 'T' or space and drops an offset #}
    , case when length({{ v }}) >= 10 and substr({{ v }}, 5, 1) = '-' and substr({{ v }}, 8, 1) = '-'
           then try_cast({{ v }} as timestamp) end as {{ name | ident }}
{% elif c.type == "integer" %}
    , case when regexp_full_match({{ v }}, '-?[0-9]+') then try_cast({{ v }} as bigint) end as {{ name | ident }}
{% elif c.type == "number" %}
    , try_cast({{ v }} as double) as {{ name | ident }}
{% else %}
    {{ raise("unknown column type " ~ c.type) }}
{% endif %}
{% endfor %}
{% for name in extra %}
    , {{ name | ident }} as {{ (name | lower) | ident }}
{% endfor %}
from {{ ("raw_" ~ form) | ident }}
