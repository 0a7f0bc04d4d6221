-- Allocation counts (one n_<arm> column per arm) for one grouping: overall, site, stratum,
-- site_stratum or month. Not outcomes: every role sees them.
select * from allocation where grouping = $grouping order by group_value
