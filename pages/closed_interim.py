"""CLOSED: interim monitoring: information, Lan-DeMets boundaries, the current Z, conditional power."""

import pandas as pd
import streamlit as st

from app import ui
from dashboard import i18n
from dashboard.access import looks
from dashboard.config import load_trial
from dashboard.i18n import N_, _
from dashboard.outputs import figures
from dashboard.outputs import labels as words
from dashboard.views import closed

cfg = load_trial()
viewer = ui.closed_page("closed_interim")
ui.header(_("Interim monitoring"), viewer, cfg)
it = ui.cached(closed.interim_at, viewer, len(looks.held()))

c = st.columns(4)
c[0].metric(
    _("Deaths (ITT)"),
    f"{it['observed_deaths']} / {it['expected_deaths_final']}",
    help=_("Observed over the deaths the design expects at the final analysis (assumed)"),
)
c[1].metric(_("Information fraction"), ui.pct(it["information_fraction"]))
c[2].metric(
    _("Z for non-inferiority"),
    "—" if it["z_statistic"] is None else f"{it['z_statistic']:.2f}",
    help=_("(log HR margin - log HR) / SE, stratified Cox"),
)
c[3].metric(_("Boundary now"), "—" if it.get("current_boundary") is None else f"{it['current_boundary']:.2f}")
if it["observed_deaths"] == 0:
    st.info(_("No deaths yet: information fraction 0, so no Z statistic, boundary crossing or conditional power."))
elif it["z_statistic"] is None:
    st.info(_("The stratified hazard ratio is not estimable yet, so no Z statistic or conditional power."))

# The conclusion as whole sentences, one per outcome of the look (views.monitoring: the primary
# criterion crossed, not crossed, or not estimable): the statistics wording is translated whole,
# never assembled from a translated fragment.
CONCLUSION = {
    True: N_(
        "Non-inferiority **met at this look** ({where}; boundary z ≥ {boundary}). Primary criterion: "
        "{criterion}; the other is supportive (trial.toml [design])."
    ),
    False: N_(
        "Non-inferiority **not met at this look** ({where}; boundary z ≥ {boundary}). Primary criterion: "
        "{criterion}; the other is supportive (trial.toml [design])."
    ),
    None: N_(
        "Non-inferiority **not estimable at this look** ({where}; boundary z ≥ {boundary}). Primary "
        "criterion: {criterion}; the other is supportive (trial.toml [design])."
    ),
}
CONCLUSION_NO_BOUNDARY = {
    True: N_("Non-inferiority met at this look."),
    False: N_("Non-inferiority not met at this look."),
    None: N_("Non-inferiority not estimable at this look."),
}
look = it.get("look") or {}
if look.get("conclusion"):
    months = cfg.design.landmark_months
    crit = {
        "difference": _("the {months}-month OS difference").format(months=months),
        "hazard_ratio": _("the hazard ratio"),
    }
    if look.get("final"):
        where = (
            _("look {n} (on the record), the final analysis")
            if look.get("on_record")
            else _("look {n} (not yet recorded as a look), the final analysis")
        )
    else:
        where = _("look {n} (on the record)") if look.get("on_record") else _("look {n} (not yet recorded as a look)")
    where = where.format(n=look["look_number"])
    crossed = look.get("crossed")
    text = (
        _(CONCLUSION[crossed]).format(
            where=where,
            boundary=f"{look['current_boundary']:.2f}",
            criterion=crit[look["primary_criterion"]],
        )
        if look.get("current_boundary") is not None
        else _(CONCLUSION_NO_BOUNDARY[crossed])
    )
    (st.success if crossed is True else st.info)(text)
    rows = []

    def role(criterion: str) -> str:
        return _("primary") if look["primary_criterion"] == criterion else _("supportive")

    criterion_col, estimate_col, nominal_col = _("criterion"), _("estimate"), _("nominal 95% bound")
    repeated_col, margin_col, verdict_col = _("repeated bound at this look"), _("margin"), _("at this look")
    if look.get("difference"):
        dd = look["difference"]
        rows.append(
            {
                criterion_col: _("{criterion} ({role})").format(
                    criterion=_("{months}-month OS difference").format(months=months), role=role("difference")
                ),
                estimate_col: f"{dd['estimate']:+.1%}",
                nominal_col: "—" if dd["nominal_lower"] is None else f"{dd['nominal_lower']:+.1%}",
                repeated_col: f"{dd['repeated_lower']:+.1%}",
                margin_col: f"{dd['margin']:+.1%}",
                verdict_col: _("met") if dd["crossed"] else _("not met"),
            }
        )
    if look.get("hazard_ratio"):
        hh = look["hazard_ratio"]
        rows.append(
            {
                criterion_col: _("{criterion} ({role})").format(
                    criterion=_("hazard ratio (stratified Cox)"), role=role("hazard_ratio")
                ),
                estimate_col: f"{hh['estimate']:.2f}",
                nominal_col: f"{hh['nominal_upper']:.2f}",
                repeated_col: f"{hh['repeated_upper']:.2f}",
                margin_col: f"{hh['margin']:g}",
                verdict_col: _("met") if hh["crossed"] else _("not met"),
            }
        )
    if not look.get("on_record") and look.get("boundaries") and ui.reopened() is None:
        # the DSMB says "this is look N": then later looks' boundaries come from what it spent
        final = bool(look.get("final"))
        label = (
            _("Record this data cut as look {n} (the final analysis)")
            if final
            else _("Record this data cut as look {n}")
        ).format(n=look["look_number"])
        if st.button(label, key="record-look"):
            try:
                looks.record(
                    fraction=look["information_fraction"],
                    events=look["observed_deaths"],
                    data_cut=ui.data_cut(),
                    user=viewer.user,
                    role=viewer.role,
                    final=final,
                )
            except looks.LookError as exc:
                st.error(ui.md(str(exc)))
            else:
                st.rerun()
    if rows:
        ui.table(pd.DataFrame(rows))
        st.caption(
            _(
                "The repeated bound (Jennison and Turnbull) uses the look's boundary instead of 1.96, so "
                "it keeps the error rate over the looks; the nominal bound is shown for reference only and "
                "does not decide."
            )
        )

ui.chart(figures.boundaries(it["planned"], it.get("actual"), it["z_statistic"], it["information_fraction"]))
st.caption(
    _(
        "{spending}-type alpha spending, one-sided alpha {alpha}; looks planned at {fractions} of the "
        "expected deaths and at the final analysis (assumed). Non-inferiority is met at a look when the "
        "observed z reaches that look's boundary; the boundary of a look comes from the alpha the looks "
        "before it spent, so it is drawn as a marker at each look, not as a line."
    ).format(
        spending=ui.md(words.code(it["spending"], cfg)),
        alpha=it["alpha"],
        # i18n: the separator of a list of numbers ("25%, 50%" / "25%、50%")
        fractions=_(", ").join(i18n.percent(f, 0) for f in cfg.design.interim_fractions),
    )
)
# one above the other: side by side, each hid its last column at 1440 px
st.markdown(_("**Planned fractions**"))
ui.table(closed.boundary_table(it["planned"], cfg))
st.markdown(_("**At the actual fraction**"))
ui.table(closed.boundary_table(it["actual"], cfg)) if it.get("actual") else st.write(words.MISSING)

st.subheader(_("Conditional power (probability of crossing at a look still to come)"))
p1, p2, p3 = st.columns(3)
p1.metric(_("Under the current trend"), ui.pct(it.get("conditional_power_trend")))
p2.metric(
    _("Under the design assumption"),
    ui.pct(it.get("conditional_power_design")),
    help=_("Equal hazards in both arms (HR 1), the HR margin and the expected deaths from trial.toml"),
)
p3.metric(
    _("Under the margin"),
    ui.pct(it.get("conditional_power_margin")),
    help=_("The true HR equal to the HR margin (H0): the chance of a false claim from here"),
)
guide = look.get("futility_guide")
if guide and guide["below"]:
    st.warning(
        _("Futility guide (non-binding): conditional power under the design is below {threshold}.").format(
            threshold=i18n.percent(guide["threshold"], 0)
        )
    )
st.caption(
    _(
        "Against the whole remaining design (the planned looks still to come and the final, with their "
        "boundaries), from the B-value: the recursion of the boundaries started at the current B-value."
    )
)

st.subheader(_("The design as configured"))
dc = it.get("design_check") or {}
if dc:
    d = cfg.design
    st.markdown(
        _(
            "Power with the looks kept: **{power}** (stated {stated_power}); deaths for the stated power: "
            "**{events_for_power}** (configured {events}). The {margin}-point margin at {survival} survival "
            "is HR **{hr_implied}**; the HR margin {hr_margin} is a **{loss}** loss."
        ).format(
            power=ui.pct(dc["power"]),
            stated_power=i18n.percent(dc["stated_power"], 0),
            events_for_power=i18n.number(dc["events_for_power"], 1),
            events=i18n.number(dc["events"], 0),
            margin=i18n.percent(d.noninferiority_margin, 0),
            survival=i18n.percent(d.expected_survival, 0),
            hr_implied=f"{dc['hr_implied_by_difference_margin']:.2f}",
            hr_margin=f"{d.hazard_ratio_margin:g}",
            loss=ui.pct(dc["difference_implied_by_hr_margin"]),
        )
    )
    if dc["power_short"] or dc["margins_disagree"]:
        reasons = []
        if dc["power_short"]:
            reasons.append(_("the stated power is not reached with the looks kept"))
        if dc["margins_disagree"]:
            reasons.append(_("the two margins are not the same loss"))
        st.warning(
            _(
                "The design in trial.toml disagrees with itself: {reasons}. The trial office should correct "
                "trial.toml [design]."
            ).format(reasons=_("; ").join(reasons))
        )
