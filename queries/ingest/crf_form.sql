{#- crf_<form>: the typed form without the rows whose own date (`main_date`) lies after the
    cut-off, and with any other date after it emptied (`other_dates`). A view: the derivations
    read it and the write step materializes it once. -#}
{%- set cut = "(select cutoff_date from build_info)" -%}
create or replace view {{ ("crf_" ~ form) | ident }} as
select *
{% if other_dates %}
    replace ({% for d in other_dates %}case when {{ d | ident }} > {{ cut }} then null else {{ d | ident }} end as {{ d | ident }}{{ ", " if not loop.last }}{% endfor %})
{% endif %}
from {{ ("typed_" ~ form) | ident }}
{% if main_date %}
where not coalesce({{ main_date | ident }} > {{ cut }}, false)
{% endif %}
