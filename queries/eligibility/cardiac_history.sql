-- E03: recent myocardial infarction, unstable angina or heart failure (CARDIAC6M).
select subjid, cardiac_history = 'Y' as violated, 'CARDIAC6M {answer}' as detail,
       json_object('answer', coalesce(cardiac_history, '?')) as detail_params
from subjects where randomized
