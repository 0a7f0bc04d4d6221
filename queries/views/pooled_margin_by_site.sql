-- Positive margins per site (and the merged sites), as the build counted them under the cell rule.
select siteid, n, events, merged_sites
from pooled_by_site
where measure = 'positive_margin' and siteid is not null
order by siteid
