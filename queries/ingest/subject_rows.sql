{#- subject_rows(form, _row, subjid, siteid) over the typed forms that have a site, for the
    cross-form checks. `forms`: [{name, has_subjid}]. -#}
create or replace view subject_rows as
{% for f in forms %}
select {{ f.name | lit }} as form, _row, {{ "subjid" if f.has_subjid else "null" }} as subjid, siteid
from {{ ("typed_" ~ (f.name | lower)) | ident }}
{{ "union all" if not loop.last }}
{% endfor %}
