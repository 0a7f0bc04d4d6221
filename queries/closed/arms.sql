-- CLOSED: the arm and strata of every randomized subject. Exists only in the closed warehouse.
select subjid, siteid, arm, stratum_response, stratum_site,
       coalesce(stratum_response, '?') || '|' || coalesce(stratum_site, '?') as stratum
from subjects
where randomized
