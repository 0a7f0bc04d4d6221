-- I12: informed consent signed on or before the randomization date.
select subjid, consent_date > randomization_date as violated,
       'consent ' || coalesce(consent_date::varchar, '?') || ', randomized ' || randomization_date as detail
from subjects where randomized
