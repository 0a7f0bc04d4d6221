-- Warnings of the last build (files, columns not in the spec, ...).
select severity, file, line, column_name, subjid, columns('^message(_zh)?$') from problems order by file, line
