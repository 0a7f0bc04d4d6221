{#- A message and its Chinese are withheld together in a blinded copy of a record table
    (blinded/scrubbed.sql withholds each text cell on its own): where either of a pair holds
    `mark`, both do, so a blinded reader sees the same rows withheld in either language.
    `pairs`: [[column, its Chinese column]]. -#}
update {{ table | ident }} set
{% for a, b in pairs %}
{% set either = (a | ident) ~ " = " ~ (mark | lit) ~ " or " ~ (b | ident) ~ " = " ~ (mark | lit) %}
    {{ a | ident }} = case when {{ either }} then {{ mark | lit }} else {{ a | ident }} end,
    {{ b | ident }} = case when {{ either }} then {{ mark | lit }} else {{ b | ident }} end{{ "," if not loop.last }}
{% endfor %}
