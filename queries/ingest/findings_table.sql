create or replace table findings as
select kind, form, file, line::bigint as line, subjid, col as column_name, val as value, message
from findings_df
