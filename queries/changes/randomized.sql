-- Subjects randomized in the new cut and not in the old one (record-based: a subject whose
-- randomization was there before is not new, whatever its date). The two cuts are attached as
-- cut_old and cut_new (dashboard/views/changes.py).
select n.subjid, n.siteid
from cut_new.subjects as n
where n.randomized
  and n.subjid not in (select subjid from cut_old.subjects where randomized)
  and ($site is null or n.siteid = $site)
order by n.siteid, n.subjid
