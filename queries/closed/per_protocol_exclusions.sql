-- CLOSED: why a randomized subject leaves the per-protocol set: an eligibility violation found by
-- the build (data or investigator), a major deviation reported by the site, or no protocol surgery.
with reasons as (
    select subjid, 'eligibility ' || string_agg(distinct code, ', ' order by code) as reason
    from eligibility where violated group by subjid
    union all
    select subjid, 'major deviation (' || string_agg(distinct dvcat, ', ' order by dvcat) || ')'
    from crf_dv where dvsev = 'MAJOR' group by subjid
    union all
    select subjid, 'no protocol surgery' from subjects where randomized and never_operated
)
select subjid, string_agg(reason, '; ' order by reason) as reasons
from reasons
where list_contains($exclude::varchar[], case when starts_with(reason, 'eligibility') then 'eligibility'
                                              when starts_with(reason, 'major') then 'major_deviation'
                                              else 'not_operated' end)
group by subjid
order by subjid
