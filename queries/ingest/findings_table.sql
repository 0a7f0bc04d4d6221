create or replace table findings as
select kind, form, file, line::bigint as line, subjid, col as column_name, val as value, message, message_zh
from findings_df
