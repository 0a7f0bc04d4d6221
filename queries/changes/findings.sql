-- The build's data findings of one cut that the other lacks, as a multiset on (kind, form,
-- subjid, column): a key found twice here and once there is one finding more (`n`). The file and
-- line are left out of the key (a line moves when rows are added above it), and so is the quoted
-- value. `here` new and `there` old: new findings; the other way round: resolved ones.
with here as (
    select kind, form, subjid, column_name, count(*) as n
    from {{ here | ident }}.findings
    where $site is null or subjid in (select subjid from {{ here | ident }}.subjects where siteid = $site)
    group by all
),
there as (
    select kind, form, subjid, column_name, count(*) as n
    from {{ there | ident }}.findings
    where $site is null or subjid in (select subjid from {{ there | ident }}.subjects where siteid = $site)
    group by all
)
select h.kind, h.form, h.subjid, h.column_name, h.n - coalesce(t.n, 0) as n
from here as h
left join there as t
    on t.kind is not distinct from h.kind
   and t.form is not distinct from h.form
   and t.subjid is not distinct from h.subjid
   and t.column_name is not distinct from h.column_name
where h.n > coalesce(t.n, 0)
order by h.kind, h.form, h.subjid, h.column_name
