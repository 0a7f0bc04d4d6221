"""Survival, pooled over both arms: how the trial as a whole is doing against the design."""

import pandas as pd
import streamlit as st

from app import ui
from dashboard import i18n
from dashboard.config import load_trial
from dashboard.i18n import _, ngettext
from dashboard.outputs import figures
from dashboard.views import outcomes

cfg = load_trial()
viewer = ui.page("survival")
ui.header(_("Survival (pooled over both arms)"), viewer, cfg)

result = ui.pooled(outcomes.pooled, viewer)


def endpoint_name(e: str) -> str:
    return _(outcomes.ENDPOINTS[e][3])


endpoint = (
    st.segmented_control(_("Endpoint"), ["os", "dfs"], default="os", format_func=endpoint_name, key="endpoint") or "os"
)
km = result[endpoint]["pooled"]
design = result["design"]
fu = result["follow_up"]
dpm = cfg.trial.days_per_month

c1, c2, c3, c4 = st.columns(4)
c1.metric(_("Subjects"), km["n"])
c2.metric(_("Events"), km["events"])
median, median_note = outcomes.median_text(km, cfg)
c3.metric(_("Median"), median, help=median_note)
c4.metric(
    _("Median follow-up"),
    "—" if fu["median"] is None else _("{months} months").format(months=i18n.number(fu["median"] / dpm, 1)),
    help=_("Reverse Kaplan-Meier (censoring as the event)"),
)

st.caption(
    _("Median {endpoint}: {median}. {note}").format(
        endpoint=ui.md(endpoint_name(endpoint).lower() if i18n.language() == "en" else endpoint_name(endpoint)),
        median=ui.md(median),
        note=ui.md(median_note),
    )
)

design_curve = design["curve"] if endpoint == "os" else None
ui.chart(
    figures.kaplan_meier(
        {_("pooled"): km["curve"]},
        dpm,
        design_curve,
        design_label=_("design: {survival} at {months} months, exponential (assumed)").format(
            survival=i18n.percent(design["expected_survival"], 0), months=design["landmark_months"]
        ),
    )
)
band = _("{band}.").format(band=outcomes.conf_text(cfg))
if km["excluded"]:
    band += " " + ngettext(
        "{n} subject left out: death or recurrence dated before randomization (see data quality).",
        "{n} subjects left out: death or recurrence dated before randomization (see data quality).",
        km["excluded"],
    ).format(n=km["excluded"])
st.caption(band)

at_risk = km["at_risk_table"]
st.markdown(_("**Number at risk**"))
ui.table(at_risk.set_index("months").T.rename(columns=lambda m: _("{m} mo").format(m=m)))

st.subheader(_("Landmark estimates"))
rows = []
for label, lm in km["landmarks"].items():
    est = (
        _("not estimable")
        if lm["survival"] is None
        else _("{estimate} ({lower} to {upper})").format(
            estimate=ui.pct(lm["survival"]), lower=ui.pct(lm["lower"]), upper=ui.pct(lm["upper"])
        )
    )
    rows.append({_("months"): label, _("survival (95% CI)"): est, _("at risk"): lm["at_risk"]})
ui.table(pd.DataFrame(rows))
st.caption(
    _(
        "Survival at t includes events at t; at risk = observed time at least t; a landmark beyond "
        "the longest follow-up is not estimable."
    )
)

if endpoint == "os":
    st.subheader(_("Deaths against the design"))
    d1, d2, d3 = st.columns(3)
    d1.metric(_("Deaths so far"), design["observed_deaths"])
    d2.metric(
        _("Expected by now (design)"),
        i18n.number(design["expected_deaths_by_now"], 1),
        help=_("Sum over subjects of 1 - S(time since randomization) under the design's exponential curve"),
    )
    d3.metric(_("Expected at the final analysis"), design["expected_deaths_final"])
