-- The columns in which a free-text cell was withheld from the blinded warehouse.
select distinct column_name from findings where kind = $kind
