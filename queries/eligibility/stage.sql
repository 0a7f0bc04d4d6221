-- I03: AJCC 8th clinical stage recomputed from site, p16, T, N and M (not the recorded one).
select subjid,
       case when stage_computed is null then null
            when p16_positive_oropharynx then not list_contains($stages_p16_positive_oropharynx::varchar[], stage_computed)
            else not list_contains($stages::varchar[], stage_computed) end as violated,
       case when stage_computed is null and p16_positive_oropharynx
                then 'recomputed stage not assessable (p16-positive oropharynx), recorded {recorded}'
            when stage_computed is null then 'recomputed stage not assessable, recorded {recorded}'
            when p16_positive_oropharynx then 'recomputed stage {stage} (p16-positive oropharynx), recorded {recorded}'
            else 'recomputed stage {stage}, recorded {recorded}' end as detail,
       json_object('stage', stage_computed, 'recorded', coalesce(stage_recorded, '?')) as detail_params
from subjects where randomized
