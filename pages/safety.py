"""Safety signals, pooled over both arms: adverse events, complications, early deaths, margins,
local recurrence, each against its configured threshold, and sites on funnel plots."""

import pandas as pd
import streamlit as st

from app import ui
from dashboard import i18n
from dashboard.config import load_trial
from dashboard.i18n import _
from dashboard.outputs import figures
from dashboard.views import safety

cfg = load_trial()
viewer = ui.page("safety")
ui.header(_("Safety signals (pooled over both arms)"), viewer, cfg)

result = ui.pooled(safety.pooled, viewer)

p = result["pooled"]
c = st.columns(5)
c[0].metric(_("Randomized (safety population)"), p["subjects"])
c[1].metric(_("Any adverse event"), p["any_ae"])
c[2].metric(_("Grade 3 or worse"), p["grade3plus"])
c[3].metric(_("Serious"), p["serious"])
immune = safety.immune_note(p)
c[4].metric(_("Immune-related grade 3+"), p["immune_grade3plus"], help=immune)
st.caption(
    _("Counts are subjects, not events; every adverse event at any date, neoadjuvant included. {note}").format(
        note=ui.md(immune)
    )
)

st.subheader(_("Signals against their thresholds"))
sig = result["signals"]
ui.chart(figures.signals(sig))
ui.static_table(pd.DataFrame(safety.signal_rows(sig)))  # wraps: the flag column in view
st.caption(
    _(
        "A windowed signal counts a subject in its denominator once the whole window lies before "
        "the cut-off, or when the event has happened. The bar on each row is its threshold (assumed); "
        "a signal marked 'any event' is flagged by its first event, whatever its rate."
    )
)
for s in sig:
    if s["flagged"]:
        st.error(
            _("{signal}: {observed} ({events}/{n}) — {reason}.").format(
                signal=ui.md(s["label"]),
                observed=ui.pct(s["observed"]),
                events=s["events"],
                n=s["n"],
                reason=ui.md(s["flag_reason"]),
            )
        )

st.subheader(_("Adverse events by system organ class and worst grade"))
soc = result["soc_by_grade"]
if len(soc):
    ui.chart(figures.soc_by_grade(soc))
    ui.table(safety.soc_table(soc))
else:
    st.info(_("No adverse events recorded yet."))

early = {k: v for k, v in p.items() if k.startswith("death_")}
st.subheader(_("Surgery"))
s1, s2, s3, s4 = st.columns(4)
s1.metric(_("Operated"), p["operated"])
s2.metric(
    _("Clavien-Dindo IIIA+ within {days} days").format(days=cfg.safety.complication_window_days),
    p[safety.complication_key(cfg)],
)
s3.metric(
    _("Deaths within {days} days").format(days=" / ".join(k[6:-1] for k in early)),
    " / ".join(str(v) for v in early.values()),
)
s4.metric(_("Positive margins"), _("{n} of {total}").format(n=p["positive_margin"], total=p["with_pathology"]))

if not viewer.site_filter:
    st.subheader(_("Sites: funnel plots"))
    signals = {s.name: s for s in cfg.safety_signals}
    choice = st.selectbox(_("Signal"), list(signals), format_func=lambda n: i18n.fact(signals[n], "label"))
    fun = ui.cached(safety.signal_by_site, viewer, choice)
    p0 = float(fun.p0.iloc[0]) if len(fun) else None
    n_max = int(fun.n.dropna().max()) if fun.n.notna().any() else 1
    limits = ui.funnel_limits(p0, n_max) if p0 and 0 < p0 < 1 else None
    ui.chart(figures.funnel(fun, p0 if p0 is not None else float("nan"), limits))
    hidden = fun[fun.suppressed.notna()]
    if len(hidden):
        st.caption(
            _("Suppressed under the blinding rule: {sites}").format(
                sites=_("; ").join(
                    _("{site} ({reason})").format(site=ui.md(r.siteid), reason=ui.md(r.suppressed))
                    for r in hidden.itertuples()
                )
            )
        )
    flagged = fun[fun.get("flag").isin(["above", "below"])] if "flag" in fun else fun.iloc[0:0]
    for r in flagged.itertuples():
        warning = (
            _("Site {site}: {events}/{n} ({rate}) lies above the 99.8% limits.")
            if r.flag == "above"
            else _("Site {site}: {events}/{n} ({rate}) lies below the 99.8% limits.")
        )
        st.warning(warning.format(site=ui.md(r.siteid), events=r.events, n=r.n, rate=ui.pct(r.rate)))
