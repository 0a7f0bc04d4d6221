-- The last date each subject was known alive (export spec section 5): the latest date in any
-- date column of any of the subject's rows, leaving out birth dates, entry stamps, death forms,
-- FU rows that report death, DS rows that record death, and a loss to follow-up (dated at the
-- last contact instead). Dates after the cut-off count here (survival caps at the cut-off).
select subjid, max(d) as last_known_alive
from subject_dates
where col not in ('BRTHDAT', 'ENTDTC')
  and form <> 'DD'
  and not (form = 'FU' and status = 'DEAD')
  and not (form = 'DS' and status in ('DEATH', 'LOST TO FOLLOW-UP'))
group by subjid
