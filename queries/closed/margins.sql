-- Per randomized subject: margin status, for the closed views by arm (PATH.MARGIN is
-- pooled-only: the blinded file has no subject-level margin, see queries/blinded/margin_by_site.sql).
select subjid, coalesce(surgical_margin = 'POSITIVE', false) as positive_margin
from subjects
where randomized and ($site is null or siteid = $site)
