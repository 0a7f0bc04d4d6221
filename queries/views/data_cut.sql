-- The data cut the warehouse holds: cut-off, export time, EDC source, demo or real.
select cutoff_date, exported, source, spec_version, build_id, built_at, is_demo from build_info
