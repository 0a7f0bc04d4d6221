-- E06: another malignancy within 5 years.
select subjid, other_malignancy = 'Y' as violated, 'OTHMAL5Y {answer}' as detail,
       json_object('answer', coalesce(other_malignancy, '?')) as detail_params
from subjects where randomized
