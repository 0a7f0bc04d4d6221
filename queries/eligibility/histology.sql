-- I02: squamous cell carcinoma, primary site not an excluded one (nasopharynx).
select subjid,
       case when histology is not null and primary_site is not null
            then not list_contains($histology::varchar[], histology)
                 or list_contains($excluded_sites::varchar[], primary_site) end as violated,
       'histology {histology}, primary site {site}' as detail,
       json_object('histology', coalesce(histology, '?'), 'site', coalesce(primary_site, '?')) as detail_params
from subjects where randomized
