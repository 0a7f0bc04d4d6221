-- Randomized subjects, for one site or all.
select count(*) as randomized from subjects where randomized and ($site is null or siteid = $site)
