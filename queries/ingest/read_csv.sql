-- raw_<form>: the CSV as DuckDB's reader takes it, every column as text ($columns), malformed
-- lines kept in rejects_<form> (store_rejects) so each is reported with its line.
create or replace table {{ ("raw_" ~ form) | ident }} as
select * from read_csv($path, header = true, auto_detect = false, columns = $columns,
                       delim = ',', quote = '"', escape = '"',
                       store_rejects = true, rejects_table = {{ ("rejects_" ~ form) | lit }},
                       rejects_scan = {{ ("rejects_scan_" ~ form) | lit }})
