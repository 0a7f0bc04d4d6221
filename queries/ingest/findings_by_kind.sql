select kind, count(*) from findings group by kind order by kind
