-- Data-entry lag by site: rows with an entry stamp, median and 90th percentile of the lag in days.
select siteid, count(*) as rows_stamped,
       median(lag_days) as median_lag_days,
       quantile_cont(lag_days, 0.9) as p90_lag_days,
       max(lag_days) as max_lag_days
from entry_lag
where $site is null or siteid = $site
group by siteid
order by siteid
