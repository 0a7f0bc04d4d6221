"""Protocol deviations: eligibility computed from the data beside the sites' answers, recorded
against recomputed stage, windows, and the deviations sites reported."""

import pandas as pd
import streamlit as st

from app import ui
from dashboard.config import load_trial
from dashboard.outputs import figures
from dashboard.outputs import labels as words
from dashboard.views import deviations

cfg = load_trial()
viewer = ui.page("deviations")
ui.header("Protocol deviations", viewer, cfg)
policy = viewer.policy(cfg)

d = ui.cached(deviations.deviations, viewer)
crit = ui.cached(deviations.by_criterion, viewer)
c1, c2, c3, c4 = st.columns(4)
c1.metric(
    "Subjects breaking a criterion",
    len({s for k, v in d["eligibility"].items() if k not in ("STAGE_MISMATCH", "IE_DISAGREES") for s in v}),
)
c2.metric("Site answer contradicts data", len(d["eligibility"]["IE_DISAGREES"]))
c3.metric("Recorded stage differs", len(d["eligibility"]["STAGE_MISMATCH"]))
c4.metric(
    "Site-reported deviations",
    d["reported"]["total"],
    help=f"Major {d['reported']['by_severity'].get('MAJOR', 0)}, minor {d['reported']['by_severity'].get('MINOR', 0)}",
)

st.subheader("Eligibility, criterion by criterion")
st.caption(
    "Checked from the data where the data can decide (age, histology, recomputed AJCC 8th "
    "stage, ECOG, neoadjuvant drug and cycles, response, prior treatment, consent date, "
    "recurrence, cardiac history, pregnancy, other malignancy); the other criteria are the "
    "investigator's answer in IE.csv."
)
ui.chart(figures.bars([f"{r.code} {r.text}" for r in crit.itertuples()], crit.violated.tolist(), wrap_width=34))
ui.table(
    words.frame(crit.assign(kind=crit.kind.map(str.capitalize), checked_by=crit.checked_by.map(str.capitalize)), cfg),
    height=ui.table_height(len(crit)),
    column_config={
        "Code": st.column_config.TextColumn("Criterion", width=66),
        "Kind": st.column_config.TextColumn("Kind", width=76),
        "Text": st.column_config.TextColumn("Text", width=340),
        "Checked by": st.column_config.TextColumn("Checked by", width=88),
        "Violated": st.column_config.NumberColumn(
            "Breaking it", format="%d", width=88, help="Subjects breaking the criterion"
        ),
        "Site disagrees": st.column_config.NumberColumn(
            "Site contradicts", format="%d", width=104, help="The site's answer contradicts the data"
        ),
        "Undecided": st.column_config.NumberColumn(
            "Undecided", format="%d", width=84, help="The data cannot decide the criterion"
        ),
        "Unanswered": st.column_config.NumberColumn("Unanswered", format="%d", width=90, help="No site answer"),
    },
)

st.subheader("Windows")
w = d["windows"]
window_text = {
    "response_imaging": "last cycle to response imaging > "
    f"{cfg.schedule.response_imaging_max_days_after_last_cycle} days",
    "consent_to_randomization": "consent after randomization",
    "randomization_to_surgery": "randomization to surgery > "
    f"{cfg.schedule.randomization_to_surgery_max_days} days, or none yet",
    "surgery_to_adjuvant": f"surgery to adjuvant radiotherapy > {cfg.schedule.surgery_to_adjuvant_rt_max_days} days",
    "followup_visit": f"follow-up visit outside +-{cfg.schedule.followup_window_days} days "
    f"(+-{cfg.schedule.followup_window_days_late} after M{cfg.schedule.followup_window_switch_month})",
}
ui.table(
    pd.DataFrame(
        [
            {"Window": words.column(k, cfg), "Rule (assumed schedule)": window_text[k], "Subjects": len(v)}
            for k, v in w.items()
        ]
    )
)

st.subheader("By site, per randomized subject")
site_rates = ui.cached(deviations.by_site, viewer)
left, right = st.columns(2)
with left:
    shown = site_rates[site_rates.suppressed.isna()]
    ui.chart(
        figures.grouped_bars(
            shown.assign(siteid=shown.siteid.astype(str)),
            "siteid",
            ["reported_per_subject", "window_rate"],
            ["site-reported deviations per subject", "share of subjects with a window deviation"],
        )
    )
with right:
    p0 = float(site_rates.window_p0.iloc[0]) if len(site_rates) else 0.0
    n_max = int(site_rates.randomized.dropna().max()) if site_rates.randomized.notna().any() else 1
    limits = ui.funnel_limits(p0, n_max) if 0 < p0 < 1 else None
    ui.chart(
        figures.funnel(
            site_rates.rename(columns={"randomized": "n", "window_rate": "rate", "window_flag": "flag"}),
            p0,
            limits,
            title="Window deviations: funnel plot",
        )
    )
hidden = site_rates[site_rates.suppressed.notna()]
if len(hidden):
    st.caption(
        "Suppressed under the blinding rule: "
        + "; ".join(f"{ui.md(r.siteid)}: {ui.md(r.suppressed)}" for r in hidden.itertuples())
    )
merged = site_rates[site_rates.siteid == "other sites (merged)"]
if len(merged) and "merged_groups" in merged:
    st.caption(
        f"Merged: sites {ui.md(merged.merged_groups.iloc[0])} (each one arm or fewer than "
        f"{cfg.blinding.min_cell_size} subjects)."
    )

st.subheader("Site-reported deviations")
rep = d["reported"]
l2, r2 = st.columns(2)
with l2:
    ui.chart(
        figures.bars(
            [words.code(k, cfg) for k in rep["by_category"]], list(rep["by_category"].values()), title="By category"
        )
    )
with r2:
    ui.chart(
        figures.bars(
            [words.code(k, cfg) for k in rep["by_severity"]], list(rep["by_severity"].values()), title="By severity"
        )
    )

if policy.subject_listings:
    st.subheader("Listings")
    lst = ui.cached(deviations.listings, viewer)
    names = {
        "eligibility": "Eligibility",
        "disagreements": "Site disagrees",
        "stage": "Stage",
        "windows": "Windows",
        "reported": "Reported",
    }
    codes = {
        "eligibility": ["checked_by", "site_answer"],
        "disagreements": ["site_answer"],
        "stage": ["primary_site", "p16"],
        "windows": ["window_name"],
        "reported": ["dvcat", "dvsev"],
    }
    tabs = st.tabs(list(names.values()))
    for tab, key in zip(tabs, names, strict=True):
        with tab:
            frame = lst[key]
            if "window_name" in frame:
                frame = frame.assign(window_name=frame.window_name.map(lambda v: words.column(v, cfg)))
            shown, names_shown = ui.for_people(frame, codes=[c for c in codes[key] if c != "window_name"], cfg=cfg)
            ui.listing(
                shown,
                f"deviation listing: {names[key].lower()}",
                viewer,
                f"deviations-{key}",
                column_config=names_shown,
            )
