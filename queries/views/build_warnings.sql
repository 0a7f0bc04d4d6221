-- Warnings of the last build (files, columns not in the spec, ...).
select severity, file, line, column_name, subjid, message from problems order by file, line
