-- A table from a registered data frame, as it is.
create or replace table {{ table | ident }} as select * from {{ frame | ident }}
