{#- subject_rows(form, _row, subjid, siteid, subject) over the typed forms that have a site, for
    the cross-form checks; `subject` names the row's subject in messages (SCRNID on the screening
    log, else SUBJID). `forms`: [{name, has_subjid, has_scrnid}]. -#}
create or replace view subject_rows as
{% for f in forms %}
select {{ f.name | lit }} as form, _row, {{ "subjid" if f.has_subjid else "null" }}::varchar as subjid, siteid,
       {{ "scrnid" if f.has_scrnid else ("subjid" if f.has_subjid else "null") }}::varchar as subject
from {{ ("typed_" ~ (f.name | lower)) | ident }}
{{ "union all" if not loop.last }}
{% endfor %}
