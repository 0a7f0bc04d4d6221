-- Forms that have rows for every subject they concern: every enrolled subject needs one.
-- Each check gives form, _row, col, subjid, val, other, message; the message names values only
-- through the placeholders {subject}, {val} and {other}, which the build fills with the value
-- or with a mark when the value may not be shown (it could name the arm).
with required as (
    select form from spec_forms where rows_for_every_subject
),
present as (
    select distinct form, subjid from subject_rows
)
select f.form, null::bigint as _row, 'SUBJID' as col, dm.subjid, dm.subjid as val, null::varchar as other,
       'no row for enrolled subject {subject} (every enrolled subject needs one)' as message
from typed_dm as dm
cross join required as f
where dm.subjid is not null
  and not exists (select 1 from present p where p.form = f.form and p.subjid = dm.subjid)
