{#- Copy a table of the build's memory database (`source`) into an attached warehouse file as
    `table`, with the columns `columns` [{name, redact}]: a redacted text cell that may name the
    arm (`match`, an SQL function of one text value, or the RE2 `pattern`) is written as `mark`. -#}
{{ "create or replace table" if replace else "create table" }} {{ alias | ident }}.{{ table | ident }} as
select
{% for c in columns %}
{% if c.redact and match %}
    case when {{ match }}({{ c.name | ident }}) then {{ mark | lit }} else {{ c.name | ident }} end as {{ c.name | ident }}
{% elif c.redact %}
    case when regexp_matches({{ c.name | ident }}, {{ pattern | lit }}) then {{ mark | lit }} else {{ c.name | ident }} end as {{ c.name | ident }}
{% else %}
    {{ c.name | ident }}
{% endif %}
{{ "," if not loop.last }}
{% endfor %}
from memory.main.{{ (source or table) | ident }}
