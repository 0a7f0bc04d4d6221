-- I09: no prior curative surgery or radiotherapy for this tumour.
select subjid, prior_treatment = 'Y' as violated, 'PRIORTX {answer}' as detail,
       json_object('answer', coalesce(prior_treatment, '?')) as detail_params
from subjects where randomized
