-- I12: informed consent signed on or before the randomization date.
select subjid, consent_date > randomization_date as violated,
       'consent {consent}, randomized {randomized}' as detail,
       json_object('consent', coalesce(consent_date::varchar, '?'), 'randomized', randomization_date::varchar)
           as detail_params
from subjects where randomized
