-- One row per enrolled subject (DM.csv): demographics, tumour and recomputed AJCC 8th stage,
-- baseline, neoadjuvant treatment, the response that counts, randomization and first surgery.
with cutoff as (
    select cutoff_date from build_info
),
treatment as (
    select subjid,
           count(*) as cycles,
           min(exstdat) as first_dose_date,
           max(exstdat) as last_dose_date,
           string_agg(distinct exclass, ', ' order by exclass) as drug_classes,
           bool_or(exchemo = 'Y') as with_chemotherapy
    from crf_ex
    group by subjid
),
response as (
    -- the last assessment on or before randomization counts (export spec, RS.csv)
    select rs.subjid,
           arg_max(rs.rsorres, rs.rsdat) as response,
           max(rs.rsdat) as response_date
    from crf_rs as rs
    join crf_rand as r on r.subjid = rs.subjid and rs.rsdat <= r.randdat
    group by rs.subjid
),
surgery as (
    select subjid, min(prdat) as first_surgery_date, count(*) as operations
    from crf_pr
    group by subjid
),
pathology as (
    select subjid, margin, pcr from crf_path
),
tnm as (
    -- AJCC 8th: N2A-N2C count as N2, N3A/N3B as N3; a bare T4 counts as T4A outside HPV-mediated disease
    select subjid, primsite, histol, p16, ct, cn, cm, stage as stage_recorded, recur, priortx, dxdat,
           case when cn in ('N2', 'N2A', 'N2B', 'N2C') then 'N2'
                when cn in ('N3', 'N3A', 'N3B') then 'N3' else cn end as n,
           -- trial.toml [trial]: the sites whose stage depends on p16, and the positive code
           list_contains($p16_staged_sites::varchar[], primsite) and p16 = $p16_positive as p16_positive_oropharynx
    from crf_dx
),
staged as (
    select *,
        case
            when cm is null or ct is null or n is null then null
            when p16_positive_oropharynx then
                case when cm = 'M1' then 'IV'
                     when ct in ('T4', 'T4A', 'T4B') or n = 'N3' then 'III'
                     when ct in ('TX') or n = 'NX' then null
                     when ct = 'T3' or n = 'N2' then 'II'
                     else 'I' end
            when primsite = 'NASOPHARYNX' then
                case when cm = 'M1' then 'IVB'
                     when ct in ('T4', 'T4A', 'T4B') or n = 'N3' then 'IVA'
                     when ct in ('TX') or n = 'NX' then null
                     when ct = 'T3' or n = 'N2' then 'III'
                     when ct = 'T2' or n = 'N1' then 'II'
                     else 'I' end
            else
                case when cm = 'M1' then 'IVC'
                     when ct = 'T4B' or n = 'N3' then 'IVB'
                     when ct in ('T4A', 'T4') or n = 'N2' then 'IVA'
                     when ct in ('TX') or n = 'NX' then null
                     when ct = 'T3' or n = 'N1' then 'III'
                     when ct = 'T2' then 'II'
                     else 'I' end
        end as stage_computed
    from tnm
)
select
    dm.subjid,
    dm.siteid,
    dm.sex,
    dm.brthdat as birth_date,
    dm.brthdat_imputed as birth_date_imputed,
    dm.rficdat as consent_date,
    date_part('year', dm.rficdat) - date_part('year', dm.brthdat)
        - case when strftime(dm.rficdat, '%m-%d') < strftime(dm.brthdat, '%m-%d') then 1 else 0 end
        as age_at_consent,
    r.subjid is not null as randomized,
    r.randdat as randomization_date,
    r.arm,
    r.randno,
    r.stratresp as stratum_response,
    r.stratsite as stratum_site,
    st.dxdat as diagnosis_date,
    st.primsite as primary_site,
    st.histol as histology,
    st.p16,
    st.p16_positive_oropharynx,
    st.ct as clinical_t,
    st.cn as clinical_n,
    st.cm as clinical_m,
    st.stage_recorded,
    st.stage_computed,
    st.stage_computed is distinct from st.stage_recorded as stage_mismatch,
    st.recur as recurrent_tumour,
    st.priortx as prior_treatment,
    bl.ecog,
    bl.cardiac6m as cardiac_history,
    bl.pregnant,
    bl.othmal5y as other_malignancy,
    bl.smoking,
    tr.cycles,
    tr.first_dose_date,
    tr.last_dose_date,
    tr.drug_classes,
    coalesce(tr.with_chemotherapy, false) as with_chemotherapy,
    rs.response as response_at_randomization,
    rs.response_date,
    su.first_surgery_date,
    coalesce(su.operations, 0) as operations,
    su.first_surgery_date is not null as operated,
    r.subjid is not null and su.first_surgery_date is null
        and r.randdat < (select cutoff_date from cutoff) - $never_operated_after_days::integer
        as never_operated,
    pa.subjid is not null as with_pathology,
    pa.margin as surgical_margin,
    pa.pcr as pathological_complete_response
from crf_dm as dm
left join crf_rand as r on r.subjid = dm.subjid
left join staged as st on st.subjid = dm.subjid
left join crf_bl as bl on bl.subjid = dm.subjid
left join treatment as tr on tr.subjid = dm.subjid
left join response as rs on rs.subjid = dm.subjid
left join surgery as su on su.subjid = dm.subjid
left join pathology as pa on pa.subjid = dm.subjid
