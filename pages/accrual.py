"""Accrual and sites: are we recruiting on plan, which sites carry it, why do patients fail screening."""

import streamlit as st

from app import ui
from dashboard.config import load_trial
from dashboard.outputs import figures
from dashboard.views import enrollment

cfg = load_trial()
viewer = ui.page("accrual")
ui.header("Accrual and sites", viewer, cfg)

e = ui.cached(enrollment.enrollment, viewer)
acc = ui.cached(enrollment.accrual, viewer)
proj = acc.get("projection")

c1, c2, c3, c4 = st.columns(4)
c1.metric("Randomized", f"{e['randomized']}" + (f" / {acc['target']}" if acc["target"] else ""))
c2.metric("Screened", e["screened"])
c3.metric("Screen failures", e["screen_failures"], help="Screening log rows marked SCREEN FAILURE")
if proj:
    c4.metric(
        "Projected completion",
        str(proj["completion_date"]),
        help=f"{int(proj['level'] * 100)}% prediction interval {proj['lower']} to {proj['upper']}",
    )

st.subheader("Cumulative randomized against plan")
ui.chart(figures.accrual(acc["cumulative"], acc.get("planned"), acc["target"], proj))
if proj:
    st.caption(
        f"Projection: {proj['model']} Completion {proj['completion_date']} "
        f"({int(proj['level'] * 100)}% prediction interval {proj['lower']} to {proj['upper']}); "
        f"posterior rate {proj['rate_per_month']:.1f} patients per month. "
        f"Planned line: {acc['target']} over {cfg.design.accrual_months:g} months from the first "
        "activation (assumed)."
    )

st.subheader("Sites")
sites = ui.cached(enrollment.site_table, viewer)
ui.table(
    sites[
        [
            "siteid",
            "sitename",
            "city",
            "status",
            "activated",
            "screened",
            "randomized",
            "screen_failure_rate",
            "per_month",
            "days_since_last",
        ]
    ],
    column_config={
        "siteid": "Site",
        "sitename": "Hospital",
        "city": "City",
        "status": "Status",
        "activated": st.column_config.DateColumn("Activated"),
        "screened": "Screened",
        "randomized": "Randomized",
        "screen_failure_rate": st.column_config.NumberColumn("Screen-failure rate", format="percent"),
        "per_month": st.column_config.NumberColumn("Per month since activation", format="%.2f"),
        "days_since_last": st.column_config.NumberColumn("Days since last randomization", format="%d"),
    },
)

if len(sites) > 1:
    names = dict(zip(sites.siteid, sites.sitename, strict=True))  # one lookup, not a re-index per option
    pick = st.selectbox(
        "Site detail",
        ["all sites"] + sites.siteid.tolist(),
        key="site_detail",
        format_func=lambda s: s if s == "all sites" else f"{s} {names[s]}",
    )
    if pick != "all sites":
        row = sites.set_index("siteid").loc[pick]
        d1, d2, d3, d4 = st.columns(4)
        d1.metric(f"Site {ui.md(pick)} randomized", int(row.randomized))
        d2.metric("Screened", int(row.screened))
        d3.metric("Per month since activation", "—" if row.per_month != row.per_month else f"{row.per_month:.2f}")
        d4.metric(
            "Days since last randomization",
            "—" if row.days_since_last != row.days_since_last else int(row.days_since_last),
        )

left, right = st.columns(2)
with left:
    st.subheader("Screen-failure reasons")
    reasons = e["screen_failure_reasons"]
    if reasons:
        text = {c.code: c.text for c in cfg.eligibility}
        ui.chart(figures.bars([f"{k} {text.get(k, '')[:38]}" for k in reasons], list(reasons.values())))
    else:
        st.write("No screen failures.")
with right:
    st.subheader("From screening to follow-up")
    st.graphviz_chart(
        figures.consort_dot(ui.cached(enrollment.flow, viewer), cfg.schedule.never_operated_after_days), width="stretch"
    )
