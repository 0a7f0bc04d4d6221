-- The build's findings for the command line's listing and findings.csv: each with its file, line,
-- column and subject (SUBJID), so a data manager can raise a query from it. The cell's value is
-- left out: a finding's value may come from a column only the closed session may see. The listing
-- is in the command's language (message_zh in Chinese); findings.csv keeps the English.
select kind, file, line, column_name as "column", subjid, message, message_zh
from findings
order by kind, file, line nulls last, "column", subjid
