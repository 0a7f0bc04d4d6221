"""CLOSED: surgical quality by arm and site: margins, complications and early deaths, and the
de-escalation markers within arm."""

import streamlit as st

from app import ui
from dashboard import i18n
from dashboard.config import load_trial
from dashboard.i18n import _
from dashboard.outputs import figures
from dashboard.views import closed

cfg = load_trial()
viewer = ui.closed_page("closed_surgery")
ui.header(_("Surgical quality by arm and site"), viewer, cfg)
q = ui.cached(closed.surgical_quality, viewer)

names = {s.name: i18n.fact(s, "label") for s in cfg.safety_signals}
by_site = q["by_site"]
if len(by_site):
    signal = st.selectbox(_("Outcome"), sorted(by_site.signal.unique()), format_func=lambda n: names.get(n, n))
    cols = st.columns(len(cfg.arms))
    for col, arm in zip(cols, cfg.arms, strict=True):
        with col:
            g = by_site[(by_site.signal == signal) & (by_site.arm == arm.code)]
            st.markdown(f"**{ui.md(i18n.fact(arm, 'label'))}**")
            if g.empty:
                st.write(_("No subjects yet."))
                continue
            p0 = float(g.p0.iloc[0])
            limits = ui.funnel_limits(p0, int(g.n.max())) if 0 < p0 < 1 else None
            ui.chart(figures.funnel(g, p0, limits), key=f"funnel-{signal}-{arm.code}")
            flagged = g[g.flag.isin(["above", "below"])]
            for r in flagged.itertuples():
                warning = (
                    _("Site {site}: {events}/{n} ({rate}) above the 99.8% limits")
                    if r.flag == "above"
                    else _("Site {site}: {events}/{n} ({rate}) below the 99.8% limits")
                )
                st.warning(warning.format(site=ui.md(r.siteid), events=r.events, n=r.n, rate=ui.pct(r.rate)))
    st.caption(_("Exact binomial funnel limits (Spiegelhalter 2005) around each arm's own rate."))
else:
    st.info(_("No subjects with a recorded surgery yet: no site-within-arm rates."))

st.subheader(_("De-escalation markers of the protocol surgery, by arm"))
cols = st.columns(2)
for i, (label, table) in enumerate(q["markers"].items()):
    with cols[i % 2]:
        st.markdown(f"**{ui.md(label)}**")
        if table.to_numpy().sum() == 0:
            st.info(_("No protocol surgery recorded yet."))
            continue
        ui.table(closed.marker_table(table, cfg))
