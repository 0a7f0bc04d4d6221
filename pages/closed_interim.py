"""CLOSED: interim monitoring: information, Lan-DeMets boundaries, the current Z, conditional power."""

import pandas as pd
import streamlit as st

from app import ui
from dashboard.config import load_trial
from dashboard.outputs import figures
from dashboard.views import closed

cfg = load_trial()
viewer = ui.closed_page("closed_interim")
ui.header("Interim monitoring", viewer, cfg)
it = ui.cached(closed.interim, viewer)

c = st.columns(4)
c[0].metric(
    "Deaths (ITT)",
    f"{it['observed_deaths']} / {it['expected_deaths_final']}",
    help="Observed over the deaths the design expects at the final analysis (assumed)",
)
c[1].metric("Information fraction", f"{it['information_fraction']:.1%}")
c[2].metric(
    "Z for non-inferiority",
    "—" if it["z_statistic"] is None else f"{it['z_statistic']:.2f}",
    help="(log HR margin - log HR) / SE, stratified Cox",
)
c[3].metric("Boundary now", "—" if it.get("current_boundary") is None else f"{it['current_boundary']:.2f}")
if it["observed_deaths"] == 0:
    st.info("No deaths yet: information fraction 0, so no Z statistic, boundary crossing or conditional power.")
elif it["z_statistic"] is None:
    st.info("The stratified hazard ratio is not estimable yet, so no Z statistic or conditional power.")
if it.get("crossed"):
    st.error("The current Z crosses the boundary at the actual information fraction.")

ui.chart(figures.boundaries(it["planned"], it.get("actual"), it["z_statistic"], it["information_fraction"]))
st.caption(
    f"Lan-DeMets {it['spending'].split('-', 2)[-1].replace('-', ' ')}-type alpha spending, one-sided "
    f"alpha {it['alpha']}; looks planned at {', '.join(f'{f:.0%}' for f in cfg.design.interim_fractions)} "
    "of the expected deaths and at the final analysis (assumed)."
)
left, right = st.columns(2)
with left:
    st.markdown("**Planned fractions**")
    ui.table(pd.DataFrame(it["planned"]))
with right:
    st.markdown("**At the actual fraction**")
    ui.table(pd.DataFrame(it["actual"])) if it.get("actual") else st.write("—")

st.subheader("Conditional power (probability of showing non-inferiority at the final analysis)")
p1, p2 = st.columns(2)


def fmt(x):
    return "—" if x is None else f"{x:.1%}"


p1.metric("Under the current trend", fmt(it.get("conditional_power_trend")))
p2.metric(
    "Under the design assumption",
    fmt(it.get("conditional_power_design")),
    help="Equal hazards in both arms (HR 1), the HR margin and the expected deaths from trial.toml",
)
st.caption(
    "B-value method of Lan and Wittes (1988): CP = 1 - Phi((z_final - Z sqrt(t) - theta (1 - t)) / sqrt(1 - t))."
)
