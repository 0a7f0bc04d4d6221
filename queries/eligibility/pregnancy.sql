-- E05: pregnant or breastfeeding (empty for men counts as not present).
select subjid, coalesce(pregnant = 'Y', false) as violated, 'PREGNANT ' || coalesce(pregnant, 'empty') as detail
from subjects where randomized
