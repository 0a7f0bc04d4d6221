-- I03: AJCC 8th clinical stage recomputed from site, p16, T, N and M (not the recorded one).
select subjid,
       case when stage_computed is null then null
            when p16_positive_oropharynx then not list_contains($stages_p16_positive_oropharynx::varchar[], stage_computed)
            else not list_contains($stages::varchar[], stage_computed) end as violated,
       'recomputed stage ' || coalesce(stage_computed, 'not assessable')
           || case when p16_positive_oropharynx then ' (p16-positive oropharynx)' else '' end
           || ', recorded ' || coalesce(stage_recorded, '?') as detail
from subjects where randomized
