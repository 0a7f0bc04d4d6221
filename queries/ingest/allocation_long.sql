-- Randomized subjects by arm: overall, by site, by stratum (response|primary site) and by month
-- of randomization. The build stores it wide, one count column per arm.
with randomized as (
    select subjid, siteid, arm,
           coalesce(stratum_response, '?') || '|' || coalesce(stratum_site, '?') as stratum,
           strftime(randomization_date, '%Y-%m') as month
    from subjects where randomized
)
select 'overall' as grouping, 'all' as group_value, arm, count(*) as n from randomized group by arm
union all
select 'site', siteid, arm, count(*) from randomized group by siteid, arm
union all
select 'stratum', stratum, arm, count(*) from randomized group by stratum, arm
union all
select 'site_stratum', siteid || '|' || stratum, arm, count(*) from randomized group by siteid, stratum, arm
union all
select 'month', month, arm, count(*) from randomized group by month, arm
