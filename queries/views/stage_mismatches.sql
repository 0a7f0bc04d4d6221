-- Randomized subjects whose recorded stage differs from the AJCC 8th stage recomputed from TNM.
select subjid, siteid, stage_recorded, stage_computed, primary_site, p16, clinical_t, clinical_n, clinical_m
from subjects
where randomized and stage_mismatch and ($site is null or siteid = $site)
order by subjid
