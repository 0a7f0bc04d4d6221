-- The sites (names may be Chinese).
select siteid, sitename, city, status, actdat as activated, targetn as target from crf_sites
where $site is null or siteid = $site
order by siteid
