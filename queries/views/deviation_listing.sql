-- Site-reported deviations row by row.
select subjid, siteid, dvspid, dvstdat, dvcat, dvterm, dvsev from crf_dv
where $site is null or siteid = $site
order by dvstdat, subjid
