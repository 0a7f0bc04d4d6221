-- I04: ECOG performance status at most the configured value.
select subjid, ecog > $max_ecog::integer as violated,
       'ECOG ' || coalesce(ecog::varchar, 'unknown') as detail
from subjects where randomized
