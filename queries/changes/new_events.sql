-- Outcome events that are new in the new cut: a record that does not qualify in the old cut and
-- qualifies in the new one (record-based, not date-based). death: subjects whose OS event is new;
-- recurrence: subjects whose first recurrence is new; sae: AE records (subjid, aespid) newly
-- serious; grade3plus: AE records newly of grade 3 or worse. No arm here: the closed view adds it
-- from queries/changes/arms.sql.
with events as (
    select 'death' as kind, n.subjid, n.siteid, null::varchar as aespid
    from cut_new.survival as n
    left join cut_old.survival as o on o.subjid = n.subjid
    where n.os_event and not coalesce(o.os_event, false)
    union all
    select 'recurrence', n.subjid, n.siteid, null
    from cut_new.survival as n
    left join cut_old.survival as o on o.subjid = n.subjid
    where n.first_recurrence_date is not null and o.first_recurrence_date is null
    union all
    select 'sae', n.subjid, n.siteid, n.aespid
    from cut_new.adverse_events as n
    left join cut_old.adverse_events as o on o.subjid = n.subjid and o.aespid = n.aespid
    where n.serious and not coalesce(o.serious, false)
    union all
    select 'grade3plus', n.subjid, n.siteid, n.aespid
    from cut_new.adverse_events as n
    left join cut_old.adverse_events as o on o.subjid = n.subjid and o.aespid = n.aespid
    where n.grade >= 3 and not coalesce(o.grade >= 3, false)
)
select kind, subjid, siteid, aespid from events
where $site is null or siteid = $site
order by kind, subjid, aespid
