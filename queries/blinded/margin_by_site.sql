-- Per site: randomized subjects with pathology and those with a positive margin. PATH.MARGIN is
-- pooled-only (crf_spec.toml): the build counts it from the closed data, and the blinded file
-- gets these counts, cell rule applied, instead of the subject-level column.
select siteid,
       count(*) filter (where surgical_margin is not null) as n,
       count(*) filter (where surgical_margin = 'POSITIVE') as events
from subjects
where randomized
group by siteid
order by siteid
