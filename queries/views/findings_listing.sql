-- The last build's findings, row by row (subject-level: only for roles that see listings).
select kind, file, line, subjid, column_name, value, message from findings
where $site is null or subjid in (select subjid from subjects where siteid = $site)
order by kind, file, line
limit 5000
