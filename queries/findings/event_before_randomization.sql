-- Surgery or recurrence dated before randomization.
select 'surgery before randomization' as kind, 'PR' as form, p._row, p.subjid, 'PRDAT' as col,
       p.prdat::varchar as val, 'surgery on ' || p.prdat || ' is before randomization on ' || r.randdat as message
from crf_pr as p join crf_rand as r on r.subjid = p.subjid
where p.prdat < r.randdat
union all
select 'recurrence before randomization', 'RECUR', c._row, c.subjid, 'RECDAT',
       c.recdat::varchar, 'recurrence on ' || c.recdat || ' is before randomization on ' || r.randdat
from crf_recur as c join crf_rand as r on r.subjid = c.subjid
where c.recdat < r.randdat
