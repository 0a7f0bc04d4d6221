-- I07: the last response on or before randomization is one of the allowed (CR, PR).
select subjid,
       coalesce(not list_contains($responses::varchar[], response_at_randomization), true) as violated,
       case when response_at_randomization is null or response_date is null
            then 'no response assessment on or before randomization'
            else 'response {response} on {date}' end as detail,
       json_object('response', response_at_randomization, 'date', response_date::varchar) as detail_params
from subjects where randomized
