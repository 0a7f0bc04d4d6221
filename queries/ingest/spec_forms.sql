-- spec_forms(form, rows_for_every_subject): the forms of crf_spec.toml, for the cross-form checks.
create or replace table spec_forms as
select unnest($forms::varchar[]) as form, unnest($every::boolean[]) as rows_for_every_subject
