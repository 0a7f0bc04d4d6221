-- CLOSED: the protocol surgery of each operated subject with its arm and de-escalation markers,
-- pathology margin, and the early outcomes the surgical-quality page tabulates.
select s.subjid, s.siteid, s.arm, su.prtrt, su.prprim, su.mandpres, su.flap, su.glossext, su.neckdis,
       s.surgical_margin, s.first_surgery_date
from subjects as s
join surgeries as su on su.subjid = s.subjid and su.protocol_surgery
where s.randomized
