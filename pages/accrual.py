"""Accrual and sites: are we recruiting on plan, which sites carry it, why do patients fail screening.

The first screen answers "are we on track" (on a phone too): randomized of the target and %, ahead
of or behind the planned line and by how many, the last 30 days against the plan's pace, the
projected completion against the planned end, and the fastest and slowest sites."""

import pandas as pd
import streamlit as st

from app import ui
from dashboard.config import load_trial
from dashboard.outputs import figures
from dashboard.outputs import labels as words
from dashboard.views import enrollment

cfg = load_trial()
viewer = ui.page("accrual")
ui.header("Accrual and sites", viewer, cfg)

e = ui.cached(enrollment.enrollment, viewer)
acc = ui.cached(enrollment.accrual, viewer)
track = ui.cached(enrollment.on_track, viewer)
proj = acc.get("projection")

# ------------------------------------------------------------------ are we on track
c1, c2, c3, c4 = st.columns(4)
c1.metric(
    "Randomized",
    f"{e['randomized']}" + (f" / {acc['target']}" if acc["target"] else ""),
    delta=f"{track['fraction']:.0%} of the target" if acc["target"] else None,
    delta_color="off",
    delta_arrow="off",
)
if "ahead_by" in track:
    ahead = track["ahead_by"]
    c2.metric(
        "Against the plan",
        "on plan" if ahead == 0 else f"{abs(ahead)} {'ahead' if ahead > 0 else 'behind'}",
        delta=f"plan: {track['planned_by_now']:.0f} by {words.date(track['cutoff'])}",
        delta_color="off",
        delta_arrow="off",
        help=f"The planned line: {acc['target']} over {cfg.design.accrual_months:g} months from the first "
        "site activation (assumed), read at the data cut-off.",
    )
    c3.metric(
        f"Last {track['days']} days",
        track["last_days"],
        delta=f"plan's pace: {track['planned_last_days']:.0f}",
        delta_color="off",
        delta_arrow="off",
        help=f"Randomized in the {track['days']} days up to the cut-off, against the planned line's "
        f"{track['planned_last_days']:.1f} per {track['days']} days.",
    )
else:
    c2.metric(f"Last {track['days']} days", track["last_days"])
if proj:
    late = (pd.Timestamp(proj["completion_date"]) - pd.Timestamp(track["planned_end"])).days
    c4.metric(
        "Projected completion",
        words.date(proj["completion_date"]),
        delta=f"planned {words.date(track['planned_end'])}"
        + (f" ({late} days late)" if late > 0 else f" ({-late} days early)" if late < 0 else ""),
        delta_color="off",
        delta_arrow="off",
        help=f"{int(proj['level'] * 100)}% prediction interval {words.date(proj['lower'])} to "
        f"{words.date(proj['upper'])}",
    )
if "fastest" in track:
    fast, slow = track["fastest"], track["slowest"]
    st.markdown(
        f"Fastest site **{ui.md(fast['siteid'])}**: {fast['per_month']:.1f} a month · "
        f"slowest **{ui.md(slow['siteid'])}**: {slow['per_month']:.1f} a month",
        help=f"Active sites, randomized per month since activation: fastest {ui.md(fast['siteid'])} "
        f"{ui.md(fast['name'])}, slowest {ui.md(slow['siteid'])} {ui.md(slow['name'])}.",
    )

st.subheader("Cumulative randomized against plan")
ui.chart(figures.accrual(acc["cumulative"], acc.get("planned"), acc["target"], proj))
if proj:
    st.caption(
        f"Projection: {proj['model']} Completion {words.date(proj['completion_date'])} "
        f"({int(proj['level'] * 100)}% prediction interval {words.date(proj['lower'])} to "
        f"{words.date(proj['upper'])}); posterior rate {proj['rate_per_month']:.1f} patients per month. "
        f"Planned line: {acc['target']} over {cfg.design.accrual_months:g} months from the first "
        "activation (assumed)."
    )

# ------------------------------------------------------------------ sites
st.subheader("Sites")
sites = ui.cached(enrollment.site_table, viewer)


def _number(value, fmt: str = "{:.0f}") -> str:
    return words.MISSING if words.is_missing(value) else fmt.format(value)


# the per-site numbers in a table that wraps instead of scrolling sideways (a phone's 390 px)
ui.static_table(
    pd.DataFrame(
        {
            "Site": [f"{ui.md(r.siteid)} {ui.md(r.sitename)}" for r in sites.itertuples()],
            "Randomized": [
                f"{r.randomized}" + (f" / {int(r.target)}" if not words.is_missing(r.target) else "")
                for r in sites.itertuples()
            ],
            "Per month": [_number(v, "{:.1f}") for v in sites.per_month],
            "Days since last": [_number(v) for v in sites.days_since_last],
        }
    )
)
st.caption(
    "Per month: randomized per month since the site's activation. Days since last: since its last "
    "randomization, at the cut-off."
)
with st.expander("Site details: activation, screening, screen failures"):
    details = sites[
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
    ].assign(status=sites.status.map(lambda v: words.code(v, cfg)))
    ui.table(
        details,
        height=ui.table_height(len(details)),
        column_config={
            "siteid": st.column_config.TextColumn("Site", width=48),
            "sitename": st.column_config.TextColumn("Hospital", width=220),
            "city": st.column_config.TextColumn("City", width=56),
            "status": st.column_config.TextColumn("Status", width=70),
            "activated": st.column_config.DateColumn("Activated", width=96),
            "screened": st.column_config.NumberColumn("Screened", width=76),
            "randomized": st.column_config.NumberColumn("Randomized", width=88),
            "screen_failure_rate": st.column_config.NumberColumn(
                "Screen failures", format="percent", width=100, help="Screening-log rows marked screen failure"
            ),
            "per_month": st.column_config.NumberColumn("Per month", format="%.2f", width=80),
            "days_since_last": st.column_config.NumberColumn(
                "Days since last", format="%d", width=100, help="Days since the last randomization"
            ),
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
        d3.metric("Per month since activation", _number(row.per_month, "{:.2f}"))
        d4.metric("Days since last randomization", _number(row.days_since_last))

# ------------------------------------------------------------------ screening and the flow
st.subheader("Screening")
s1, s2, s3 = st.columns(3)
s1.metric("Screened", e["screened"])
s2.metric("Screen failures", e["screen_failures"], help="Screening-log rows whose outcome is screen failure")
s3.metric("Screening pending", e["screening_pending"])
left, right = st.columns(2)
with left:
    st.markdown("**Screen-failure reasons**")
    reasons = e["screen_failure_reasons"]
    if reasons:
        text = {c.code: c.text for c in cfg.eligibility}
        ui.chart(
            figures.bars(
                [f"{k} {text[k]}" if k in text else words.code(k, cfg) for k in reasons], list(reasons.values())
            )
        )
    else:
        st.write("No screen failures.")
with right:
    st.markdown("**From screening to follow-up**")
    f = ui.cached(enrollment.flow, viewer)
    st.graphviz_chart(figures.consort_dot(f), width="stretch")
    st.caption(
        "Every box is the sum of the boxes below it; grey boxes are the exclusions, with their reasons. "
        f"Deaths and withdrawals before surgery are under not operated. No surgery more than "
        f"{cfg.schedule.never_operated_after_days} days after randomization: trial.toml schedule."
    )
