-- I06: every neoadjuvant cycle an allowed drug class, and no more than the allowed cycles.
with ex as (
    select subjid,
           count(*) as cycles,
           bool_or(not list_contains($classes::varchar[], exclass)) as other_class
    from crf_ex group by subjid
)
select s.subjid,
       coalesce(ex.other_class or ex.cycles > $max_cycles::integer, true) as violated,
       coalesce(ex.cycles::varchar || ' cycles of ' || s.drug_classes, 'no neoadjuvant cycles recorded') as detail
from subjects as s
left join ex on ex.subjid = s.subjid
where s.randomized
