-- build_info: one row saying which build this is, of which export and trial.
create or replace table build_info as
select $build_id as build_id, $built_at::timestamp as built_at, cutoffdat as cutoff_date,
       exportdtc as exported, source, specver as spec_version, $package as package,
       starts_with(source, $demo) as is_demo, $trial as trial, $registry as registry_id
from typed_export
