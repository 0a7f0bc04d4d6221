-- Randomization dates (for the cumulative accrual curve and the projection).
select randomization_date, siteid from subjects
where randomized and ($site is null or siteid = $site)
order by randomization_date
