-- Site-reported deviations of one cut whose record (subjid, dvspid) is not in the other, as the
-- deviations listing shows them (queries/views/deviation_listing.sql): `here` new and `there` old
-- gives the new deviations, the other way round the resolved ones. The free text is read as the
-- cut holds it: a blinded file's withheld term stays withheld.
select h.subjid, h.siteid, h.dvspid, h.dvstdat, h.dvcat, h.dvterm, h.dvsev
from {{ here | ident }}.crf_dv as h
where not exists (
    select 1 from {{ there | ident }}.crf_dv as t where t.subjid = h.subjid and t.dvspid = h.dvspid
)
  and ($site is null or h.siteid = $site)
order by h.dvstdat, h.subjid, h.dvspid
