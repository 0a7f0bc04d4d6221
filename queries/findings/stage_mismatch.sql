-- The stage recorded by the site differs from the AJCC 8th stage recomputed from T, N, M, site and p16.
select 'recorded stage differs from recomputed' as kind, 'DX' as form, dx._row, dx.subjid, 'STAGE' as col,
       dx.stage as val,
       case when s.stage_computed is null then 'recorded {recorded}, recomputed not assessable (TX/NX)'
            else 'recorded {recorded}, recomputed {recomputed}' end as message,
       json_object('recorded', dx.stage, 'recomputed', s.stage_computed)::varchar as params
from crf_dx as dx join subjects as s on s.subjid = dx.subjid
where s.stage_mismatch
