-- The file of the database a connection reads (a cut's blinded.duckdb or closed.duckdb): the
-- report finds the cut, and its warehouse, from it.
select path from duckdb_databases() where database_name = current_database()
