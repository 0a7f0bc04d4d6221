-- The eligibility rows the warehouse keeps, with the template and values of what the data say
-- (eligibility_data), for derive.py to render in English and in Chinese.
select e.subjid, e.code, d.detail as template, d.detail_params as params
from eligibility as e
join eligibility_data as d on d.subjid = e.subjid and d.code = e.code
