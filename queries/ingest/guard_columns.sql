-- Every column of every table of a warehouse file, for the blinding guard.
select table_name, column_name, data_type from information_schema.columns order by table_name
