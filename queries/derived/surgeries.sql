-- Operations in date order; the first is the protocol surgery (export spec section 5).
select subjid, siteid, prdat as surgery_date,
       row_number() over (partition by subjid order by prdat, _row) as operation_number,
       row_number() over (partition by subjid order by prdat, _row) = 1 as protocol_surgery,
       prtrt, prprim, mandpres, flap, glossext, neckdis
from crf_pr
