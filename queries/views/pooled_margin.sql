-- Positive margins among randomized subjects with pathology, pooled, for the trial ($site null)
-- or one site: counted by the build (PATH.MARGIN is pooled-only), cell rule applied there; no
-- row, or null counts, when the group may not be shown.
select n, events
from pooled_by_site
where measure = 'positive_margin' and siteid is not distinct from $site
