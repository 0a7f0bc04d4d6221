{#- Every cell of one form that breaks the spec: an empty required value, text that did not type,
    a value outside the codes, a pattern or the range; at most `max_lines` rows of one kind of
    problem in one column, with the count of all of them, and the row's subject (`subject`: the
    SUBJID or SCRNID column, or none). `columns`: the spec columns present in the file, each
    {name, required, type, codes, show_codes, pattern, min, max}; `type_words`: type -> words.
    The codes of a column blinded roles may not read are not listed (they may be the arms).
    `problem` is the English template of the message (a catalogue msgid): the build fills {codes},
    {pattern}, {min} and {max} from the spec of the column, in the language of the reader. -#}
{%- set raw, typed = ("raw_" ~ form) | ident, ("typed_" ~ form) | ident -%}
select p._row, p.col, p.val, p.problem, p.n,
       {{ ("nullif(trim(s." ~ (subject | ident) ~ "), '')") if subject else "null::varchar" }} as subject
from (
select _row, col, val, problem, count(*) over (partition by col, problem) as n
from (
    select null::bigint as _row, null::varchar as col, null::varchar as val, null::varchar as problem where false
{% for c in columns %}
{% set q, col = c.name | lit, c.name | ident %}
{% if c.required %}
    union all
    select rowid, {{ q }}, null, 'required value is empty' from {{ raw }} where nullif(trim({{ col }}), '') is null
{% endif %}
{% if c.type in type_words %}
    {#- typed_ was made from raw_ in its order: a positional join pairs each typed row with its text #}
    union all
    select t._row, {{ q }}, nullif(trim(r.{{ col }}), ''), {{ type_words[c.type] | lit }}
    from {{ typed }} t positional join {{ raw }} r
    where t.{{ (c.name | lower) | ident }} is null and nullif(trim(r.{{ col }}), '') is not null
{% endif %}
{% if c.codes %}
    union all
    select _row, {{ q }}, {{ col }}, {% if c.show_codes %}'not one of: {codes}'{% else %}'not one of the column''s codes'{% endif %}
    from {{ typed }} where {{ col }} is not null
      and {{ col }} not in ({% for x in c.codes %}{{ x | lit }}{{ ", " if not loop.last }}{% endfor %})
{% endif %}
{% if c.pattern %}
    union all
    select _row, {{ q }}, {{ col }}, 'does not match {pattern}'
    from {{ typed }} where {{ col }} is not null and not regexp_full_match({{ col }}, {{ c.pattern | lit }})
{% endif %}
{% if c.min is not none %}
    union all
    select _row, {{ q }}, {{ col }}::varchar, 'below the minimum {min}'
    from {{ typed }} where {{ col }} < {{ c.min }}
{% endif %}
{% if c.max is not none %}
    union all
    select _row, {{ q }}, {{ col }}::varchar, 'above the maximum {max}'
    from {{ typed }} where {{ col }} > {{ c.max }}
{% endif %}
{% endfor %}
)
qualify row_number() over (partition by col, problem order by _row) <= {{ max_lines | int }}
) as p
{% if subject %}
left join {{ raw }} as s on s.rowid = p._row
{% endif %}
order by p._row, p.col
