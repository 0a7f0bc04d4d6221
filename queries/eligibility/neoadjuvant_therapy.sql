-- I06: every neoadjuvant cycle an allowed drug class, and no more than the allowed cycles.
with ex as (
    select subjid,
           count(*) as cycles,
           bool_or(not list_contains($classes::varchar[], exclass)) as other_class
    from crf_ex group by subjid
)
select s.subjid,
       coalesce(ex.other_class or ex.cycles > $max_cycles::integer, true) as violated,
       case when ex.cycles is null or s.drug_classes is null then 'no neoadjuvant cycles recorded'
            else '{cycles} cycles of {classes}' end as detail,
       json_object('cycles', ex.cycles, 'classes', s.drug_classes) as detail_params
from subjects as s
left join ex on ex.subjid = s.subjid
where s.randomized
