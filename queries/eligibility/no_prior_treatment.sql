-- I09: no prior curative surgery or radiotherapy for this tumour.
select subjid, prior_treatment = 'Y' as violated, 'PRIORTX ' || coalesce(prior_treatment, '?') as detail
from subjects where randomized
