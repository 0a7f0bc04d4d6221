-- Baseline characteristics of randomized subjects (pooled: no arm in the blinded warehouse).
select subjid, siteid, age_at_consent, sex, ecog, primary_site, p16, stage_computed, stage_recorded,
       response_at_randomization, smoking, stratum_response, stratum_site
from subjects
where randomized and ($site is null or siteid = $site)
