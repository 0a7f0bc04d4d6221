-- The stage recorded by the site differs from the AJCC 8th stage recomputed from T, N, M, site and p16.
select 'recorded stage differs from recomputed' as kind, 'DX' as form, dx._row, dx.subjid, 'STAGE' as col,
       dx.stage as val,
       'recorded ' || dx.stage || ', recomputed ' || coalesce(s.stage_computed, 'not assessable (TX/NX)') as message
from crf_dx as dx join subjects as s on s.subjid = dx.subjid
where s.stage_mismatch
