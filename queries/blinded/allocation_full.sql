-- The build's allocation counts, every cell, before the cell rule (blinded.suppress_allocation).
select * from allocation order by grouping, group_value
