-- The lines DuckDB's CSV reader could not take, in file order.
select line, column_name, error_type, error_message
from {{ ("rejects_" ~ form) | ident }}
order by line
