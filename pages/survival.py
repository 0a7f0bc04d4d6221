"""Survival, pooled over both arms: how the trial as a whole is doing against the design."""

import pandas as pd
import streamlit as st

from app import ui
from dashboard.config import load_trial
from dashboard.outputs import figures
from dashboard.views import outcomes

cfg = load_trial()
viewer = ui.page("survival")
ui.header("Survival (pooled over both arms)", viewer, cfg)

result = ui.pooled(outcomes.pooled, viewer)

endpoint = (
    st.segmented_control(
        "Endpoint", ["os", "dfs"], default="os", format_func=lambda e: outcomes.ENDPOINTS[e][3], key="endpoint"
    )
    or "os"
)
km = result[endpoint]["pooled"]
design = result["design"]
fu = result["follow_up"]

c1, c2, c3, c4 = st.columns(4)
c1.metric("Subjects", km["n"])
c2.metric("Events", km["events"])
median, median_note = outcomes.median_text(km, cfg)
c3.metric("Median", median, help=median_note)
c4.metric(
    "Median follow-up",
    "—" if fu["median"] is None else f"{fu['median'] / cfg.trial.days_per_month:.1f} months",
    help="Reverse Kaplan-Meier (censoring as the event)",
)

st.caption(f"Median {ui.md(outcomes.ENDPOINTS[endpoint][3].lower())}: {ui.md(median)}. {ui.md(median_note)}")

design_curve = design["curve"] if endpoint == "os" else None
ui.chart(
    figures.kaplan_meier(
        {"pooled": km["curve"]},
        cfg.trial.days_per_month,
        design_curve,
        design_label=f"design: {design['expected_survival']:.0%} at "
        f"{design['landmark_months']} months, exponential (assumed)",
    )
)
st.caption(
    outcomes.CONF_TEXT
    + ". "
    + (
        f"{km['excluded']} subject(s) left out: death or recurrence dated before randomization (see data quality)."
        if km["excluded"]
        else ""
    )
)

at_risk = km["at_risk_table"]
st.markdown("**Number at risk**")
ui.table(at_risk.set_index("months").T.rename(columns=lambda m: f"{m} mo"))

st.subheader("Landmark estimates")
rows = []
for label, lm in km["landmarks"].items():
    est = (
        "not estimable" if lm["survival"] is None else f"{lm['survival']:.1%} ({lm['lower']:.1%} to {lm['upper']:.1%})"
    )
    rows.append({"months": label, "survival (95% CI)": est, "at risk": lm["at_risk"]})
ui.table(pd.DataFrame(rows))
st.caption(
    "Survival at t includes events at t; at risk = observed time at least t; a landmark beyond "
    "the longest follow-up is not estimable."
)

if endpoint == "os":
    st.subheader("Deaths against the design")
    d1, d2, d3 = st.columns(3)
    d1.metric("Deaths so far", design["observed_deaths"])
    d2.metric(
        "Expected by now (design)",
        f"{design['expected_deaths_by_now']:.1f}",
        help="Sum over subjects of 1 - S(time since randomization) under the design's exponential curve",
    )
    d3.metric("Expected at the final analysis", design["expected_deaths_final"])
