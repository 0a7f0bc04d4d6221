-- E06: another malignancy within 5 years.
select subjid, other_malignancy = 'Y' as violated, 'OTHMAL5Y ' || coalesce(other_malignancy, '?') as detail
from subjects where randomized
