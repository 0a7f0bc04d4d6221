-- I01: age at consent (whole years from BRTHDAT to RFICDAT) within the range.
select subjid,
       case when age_at_consent is not null
            then age_at_consent < $min_age::integer or age_at_consent > $max_age::integer end as violated,
       'age at consent ' || coalesce(age_at_consent::varchar, 'unknown') as detail
from subjects where randomized
