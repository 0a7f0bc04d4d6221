-- The benchmark's floor: DuckDB reading one CSV of a package into a table, with its own sniffer.
create table {{ table | ident }} as select * from read_csv($p)
