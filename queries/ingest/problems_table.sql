create or replace table problems as
select severity, file, line, "column" as column_name, message from problems_df
