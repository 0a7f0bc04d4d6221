-- Surgery or recurrence dated before randomization.
select 'surgery before randomization' as kind, 'PR' as form, p._row, p.subjid, 'PRDAT' as col,
       p.prdat::varchar as val, 'surgery on {surgery} is before randomization on {randomized}' as message,
       json_object('surgery', p.prdat::varchar, 'randomized', r.randdat::varchar)::varchar as params
from crf_pr as p join crf_rand as r on r.subjid = p.subjid
where p.prdat < r.randdat
union all
select 'recurrence before randomization', 'RECUR', c._row, c.subjid, 'RECDAT',
       c.recdat::varchar, 'recurrence on {recurrence} is before randomization on {randomized}',
       json_object('recurrence', c.recdat::varchar, 'randomized', r.randdat::varchar)::varchar
from crf_recur as c join crf_rand as r on r.subjid = c.subjid
where c.recdat < r.randdat
