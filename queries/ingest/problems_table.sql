create or replace table problems as
select severity, file, line, "column" as column_name, subjid, message, message_zh from problems_df
