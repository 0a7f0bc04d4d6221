-- E02: the current tumour is a recurrence.
select subjid, recurrent_tumour = 'Y' as violated, 'RECUR ' || coalesce(recurrent_tumour, '?') as detail
from subjects where randomized
