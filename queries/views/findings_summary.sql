-- The last build's findings by kind and form.
select kind, form, count(*) as n from findings
where $site is null or subjid in (select subjid from subjects where siteid = $site)
group by all order by n desc
