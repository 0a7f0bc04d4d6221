-- I01: age at consent (whole years from BRTHDAT to RFICDAT) within the range.
select subjid,
       case when age_at_consent is not null
            then age_at_consent < $min_age::integer or age_at_consent > $max_age::integer end as violated,
       case when age_at_consent is null then 'age at consent unknown' else 'age at consent {age}' end as detail,
       json_object('age', age_at_consent) as detail_params
from subjects where randomized
