-- E02: the current tumour is a recurrence.
select subjid, recurrent_tumour = 'Y' as violated, 'RECUR {answer}' as detail,
       json_object('answer', coalesce(recurrent_tumour, '?')) as detail_params
from subjects where randomized
