-- I04: ECOG performance status at most the configured value.
select subjid, ecog > $max_ecog::integer as violated,
       case when ecog is null then 'ECOG unknown' else 'ECOG {ecog}' end as detail,
       json_object('ecog', ecog) as detail_params
from subjects where randomized
