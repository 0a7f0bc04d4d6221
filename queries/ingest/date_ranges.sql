{#- Dates outside what the trial's facts allow: before $trial_start (a trial event: randomization,
    surgery, visits, deaths, ...), before $history_start (what may precede the trial: birth has no
    lower bound; diagnosis, neoadjuvant doses, their response and AEs, consent, baseline), and any
    date after the export day. `dates`: [{form, column, lower (trial|history|none), subject}] with
    `subject` the column naming the row's subject or none; at most `max_lines` rows of one kind
    in one column, with the count of all of them. -#}
select form, _row, col, subject, val, kind, count(*) over (partition by form, col, kind) as n
from (
    select null::varchar as form, null::bigint as _row, null::varchar as col, null::varchar as subject,
           null::varchar as val, null::varchar as kind
    where false
{% for d in dates %}
{% set c = (d.column | lower) | ident %}
    union all
    select {{ d.form | lit }}, _row, {{ d.column | lit }},
           {{ ((d.subject | lower) | ident) if d.subject else "null" }}::varchar, {{ c }}::varchar,
           case when {{ c }} is null then null
{% if d.lower == "trial" %}
               when {{ c }}::date < $trial_start then 'before the trial start'  -- i18n: verbatim (the kind, matched by validate.py)
{% elif d.lower == "history" %}
               when {{ c }}::date < $history_start then 'before the earliest plausible date'  -- i18n: verbatim (the kind, matched by validate.py)
{% endif %}
               else 'after the export'  -- i18n: verbatim (the kind, matched by validate.py)
           end
    from {{ ("typed_" ~ (d.form | lower)) | ident }}
    where {{ c }}::date > (select max(exportdtc)::date from typed_export)
{% if d.lower == "trial" %}
       or {{ c }}::date < $trial_start
{% elif d.lower == "history" %}
       or {{ c }}::date < $history_start
{% endif %}
{% endfor %}
)
qualify row_number() over (partition by form, col, kind order by _row) <= {{ max_lines | int }}
order by form, _row, col
