-- E03: recent myocardial infarction, unstable angina or heart failure (CARDIAC6M).
select subjid, cardiac_history = 'Y' as violated, 'CARDIAC6M ' || coalesce(cardiac_history, '?') as detail
from subjects where randomized
