-- Rows read, rejected, after the cut-off and kept, per form of the last build.
select * from form_counts order by form
