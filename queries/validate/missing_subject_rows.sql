-- Forms that have rows for every subject they concern: every enrolled subject needs one.
with required as (
    select form from spec_forms where rows_for_every_subject
),
present as (
    select distinct form, subjid from subject_rows
)
select f.form, null::bigint as _row, 'SUBJID' as col, dm.subjid as val,
       'no row for enrolled subject ' || dm.subjid || ' (every enrolled subject needs one)' as message
from typed_dm as dm
cross join required as f
where dm.subjid is not null
  and not exists (select 1 from present p where p.form = f.form and p.subjid = dm.subjid)
