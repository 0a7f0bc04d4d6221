-- E05: pregnant or breastfeeding (empty for men counts as not present).
select subjid, coalesce(pregnant = 'Y', false) as violated, case when pregnant is null then 'PREGNANT empty' else 'PREGNANT {answer}' end as detail,
       json_object('answer', pregnant) as detail_params
from subjects where randomized
