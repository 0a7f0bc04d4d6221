{#- Copy a table of the build's memory database into an attached warehouse file, with the
    columns `columns` [{name, redact}]: a redacted text cell that matches `pattern` (terms that
    may name the arm) is written as `mark`. -#}
{{ "create or replace table" if replace else "create table" }} {{ alias | ident }}.{{ table | ident }} as
select
{% for c in columns %}
{% if c.redact %}
    case when regexp_matches({{ c.name | ident }}, {{ pattern | lit }}) then {{ mark | lit }} else {{ c.name | ident }} end as {{ c.name | ident }}
{% else %}
    {{ c.name | ident }}
{% endif %}
{{ "," if not loop.last }}
{% endfor %}
from memory.main.{{ table | ident }}
