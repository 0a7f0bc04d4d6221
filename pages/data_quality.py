"""Data quality: what is expected and what arrived, how late, and what the last build found."""

import streamlit as st

from app import ui
from dashboard.config import load_trial
from dashboard.views import quality

cfg = load_trial()
viewer = ui.page("data_quality")
ui.header("Data quality", viewer, cfg)
policy = viewer.policy(cfg)

st.subheader("Follow-up visits: expected against received")
visits = ui.cached(quality.visits_by_site, viewer)
if len(visits):
    totals = visits.groupby("visit", sort=False)[["expected", "received", "missed", "out_of_window"]].sum()
    c1, c2, c3 = st.columns(3)
    c1.metric("Visits due by the cut-off", int(totals.expected.sum()))
    c2.metric("Received", int(totals.received.sum()))
    c3.metric("Missed (window closed)", int(totals.missed.sum()))
    grid = visits.pivot_table(index="siteid", columns="visit", values="missed", aggfunc="sum", fill_value=0)
    grid = grid[[v for v in totals.index if v in grid.columns]]
    st.caption("Missed visits by site and visit")
    ui.table(grid.reset_index())
else:
    st.write("No follow-up visit is due yet.")

if policy.subject_listings:
    with st.expander("Overdue follow-up visits (subject listing)"):
        ui.listing(ui.cached(quality.overdue, viewer), "overdue follow-up visits", viewer, "overdue")

left, right = st.columns(2)
with left:
    st.subheader("Data-entry lag by site")
    lag = ui.cached(quality.entry_lag, viewer)
    ui.table(
        lag,
        column_config={
            "median_lag_days": st.column_config.NumberColumn("median days", format="%.0f"),
            "p90_lag_days": st.column_config.NumberColumn("90th percentile", format="%.0f"),
        },
    )
with right:
    st.subheader("Quality-of-life completion")
    qol = ui.cached(quality.qol_completion, viewer)
    ui.table(
        qol,
        column_config={
            "completion": st.column_config.ProgressColumn("completion", format="percent", min_value=0, max_value=1)
        },
    )

st.subheader("The last build")
rep = quality.build_report(ui.connection(viewer)[0], viewer, ui.warehouse_dir())
f1, f2 = st.columns(2)
with f1:
    st.markdown("**Findings** (recorded, not refused)")
    ui.listing(rep["findings"], "build findings", viewer, "findings")
with f2:
    st.markdown("**Warnings**")
    ui.table(rep["warnings"]) if len(rep["warnings"]) else st.write("None.")
st.markdown("**Rows per form**")
ui.table(rep["forms"])
st.subheader("Load history")
ui.table(rep["history"])
