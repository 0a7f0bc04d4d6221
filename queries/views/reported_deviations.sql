-- Site-reported protocol deviations (DV.csv) by category and severity.
select dvcat as category, dvsev as severity, count(*) as n
from crf_dv
where $site is null or siteid = $site
group by all
order by category, severity
