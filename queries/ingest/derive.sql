-- A derived table of the warehouse: queries/derived/<name>.sql, materialized.
create or replace table {{ name | ident }} as
{% include "derived/" ~ name ~ ".sql" %}
