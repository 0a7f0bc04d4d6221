-- raw_<form>: the CSV as DuckDB's reader takes it, every column as text ($columns), malformed
-- lines kept in rejects_<form> (store_rejects) so each is reported with its line. A record longer
-- than `max_line_size` is rejected, but one longer than the reader's buffer (16 x max_line_size) is
-- dropped without a reject: the build counts the file's records itself and reconciles them with
-- the rows loaded plus rejected (staging._reconcile).
create or replace table {{ ("raw_" ~ form) | ident }} as
select * from read_csv($path, header = true, auto_detect = false, columns = $columns,
                       delim = ',', quote = '"', escape = '"',
                       max_line_size = {{ max_line_size | int }},
                       store_rejects = true, rejects_table = {{ ("rejects_" ~ form) | lit }},
                       rejects_scan = {{ ("rejects_scan_" ~ form) | lit }})
