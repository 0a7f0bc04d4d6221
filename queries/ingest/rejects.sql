-- The lines DuckDB's CSV reader could not take, in file order, with the text of the line (to find
-- the row's subject; never quoted in a message).
select line, column_name, error_type, error_message, csv_line
from {{ ("rejects_" ~ form) | ident }}
order by line
