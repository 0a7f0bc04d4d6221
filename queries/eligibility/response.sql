-- I07: the last response on or before randomization is one of the allowed (CR, PR).
select subjid,
       coalesce(not list_contains($responses::varchar[], response_at_randomization), true) as violated,
       coalesce('response ' || response_at_randomization || ' on ' || response_date,
                'no response assessment on or before randomization') as detail
from subjects where randomized
