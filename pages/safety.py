"""Safety signals, pooled over both arms: adverse events, complications, early deaths, margins,
local recurrence, each against its configured threshold, and sites on funnel plots."""

import pandas as pd
import streamlit as st

from app import ui
from dashboard.config import load_trial
from dashboard.outputs import figures
from dashboard.views import safety

cfg = load_trial()
viewer = ui.page("safety")
ui.header("Safety signals (pooled over both arms)", viewer, cfg)

result = ui.pooled(safety.pooled, viewer)

p = result["pooled"]
c = st.columns(5)
c[0].metric("Randomized (safety population)", p["subjects"])
c[1].metric("Any adverse event", p["any_ae"])
c[2].metric("Grade 3 or worse", p["grade3plus"])
c[3].metric("Serious", p["serious"])
immune = safety.immune_note(p)
c[4].metric("Immune-related grade 3+", p["immune_grade3plus"], help=immune)
st.caption("Counts are subjects, not events; every adverse event at any date, neoadjuvant included. " + ui.md(immune))

st.subheader("Signals against their thresholds")
sig = result["signals"]
ui.chart(figures.signals(sig))
ui.static_table(pd.DataFrame(safety.signal_rows(sig)))  # wraps: the flag column in view
st.caption(
    "A windowed signal counts a subject in its denominator once the whole window lies before "
    "the cut-off, or when the event has happened. The bar on each row is its threshold (assumed); "
    "a signal marked 'any event' is flagged by its first event, whatever its rate."
)
for s in sig:
    if s["flagged"]:
        st.error(f"{ui.md(s['label'])}: {ui.pct(s['observed'])} ({s['events']}/{s['n']}) — {ui.md(s['flag_reason'])}.")

st.subheader("Adverse events by system organ class and worst grade")
soc = result["soc_by_grade"]
if len(soc):
    ui.chart(figures.soc_by_grade(soc))
    ui.table(safety.soc_table(soc))
else:
    st.info("No adverse events recorded yet.")

early = {k: v for k, v in p.items() if k.startswith("death_")}
st.subheader("Surgery")
s1, s2, s3, s4 = st.columns(4)
s1.metric("Operated", p["operated"])
s2.metric(f"Clavien-Dindo IIIA+ within {cfg.safety.complication_window_days} days", p[safety.complication_key(cfg)])
s3.metric("Deaths within " + " / ".join(k[6:-1] for k in early) + " days", " / ".join(str(v) for v in early.values()))
s4.metric("Positive margins", f"{p['positive_margin']} of {p['with_pathology']}")

if not viewer.site_filter:
    st.subheader("Sites: funnel plots")
    choice = st.selectbox(
        "Signal",
        [s.name for s in cfg.safety_signals],
        format_func=lambda n: next(s.label for s in cfg.safety_signals if s.name == n),
    )
    signal = next(s for s in cfg.safety_signals if s.name == choice)
    fun = ui.cached(safety.signal_by_site, viewer, choice)
    p0 = float(fun.p0.iloc[0]) if len(fun) else None
    n_max = int(fun.n.dropna().max()) if fun.n.notna().any() else 1
    limits = ui.funnel_limits(p0, n_max) if p0 and 0 < p0 < 1 else None
    ui.chart(figures.funnel(fun, p0 if p0 is not None else float("nan"), limits))
    hidden = fun[fun.suppressed.notna()]
    if len(hidden):
        st.caption(
            "Suppressed under the blinding rule: "
            + "; ".join(f"{ui.md(r.siteid)} ({ui.md(r.suppressed)})" for r in hidden.itertuples())
        )
    flagged = fun[fun.get("flag").isin(["above", "below"])] if "flag" in fun else fun.iloc[0:0]
    for r in flagged.itertuples():
        st.warning(f"Site {ui.md(r.siteid)}: {r.events}/{r.n} ({r.rate:.1%}) lies {ui.md(r.flag)} the 99.8% limits.")
