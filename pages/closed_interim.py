"""CLOSED: interim monitoring: information, Lan-DeMets boundaries, the current Z, conditional power."""

import pandas as pd
import streamlit as st

from app import ui
from dashboard.access import looks
from dashboard.config import load_trial
from dashboard.outputs import figures
from dashboard.outputs import labels as words
from dashboard.views import closed

cfg = load_trial()
viewer = ui.closed_page("closed_interim")
ui.header("Interim monitoring", viewer, cfg)
it = ui.cached(closed.interim_at, viewer, len(looks.held()))

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
look = it.get("look") or {}
if look.get("conclusion"):
    crit = {"difference": f"the {cfg.design.landmark_months}-month OS difference", "hazard_ratio": "the hazard ratio"}
    where = (
        f"look {look['look_number']}"
        + (" (on the record)" if look.get("on_record") else " (not yet recorded as a look)")
        + (", the final analysis" if look.get("final") else "")
    )
    text = (
        f"Non-inferiority **{look['conclusion']}** ({where}; boundary z ≥ {look['current_boundary']:.2f}). "
        f"Primary criterion: {crit[look['primary_criterion']]}; the other is supportive (trial.toml [design])."
        if look.get("current_boundary") is not None
        else f"Non-inferiority {look['conclusion']}."
    )
    (st.success if look["conclusion"] == "met at this look" else st.info)(text)
    rows = []
    if look.get("difference"):
        dd = look["difference"]
        rows.append(
            {
                "criterion": f"{cfg.design.landmark_months}-month OS difference"
                + (" (primary)" if look["primary_criterion"] == "difference" else " (supportive)"),
                "estimate": f"{dd['estimate']:+.1%}",
                "nominal 95% bound": "—" if dd["nominal_lower"] is None else f"{dd['nominal_lower']:+.1%}",
                "repeated bound at this look": f"{dd['repeated_lower']:+.1%}",
                "margin": f"{dd['margin']:+.1%}",
                "at this look": "met" if dd["crossed"] else "not met",
            }
        )
    if look.get("hazard_ratio"):
        hh = look["hazard_ratio"]
        rows.append(
            {
                "criterion": "hazard ratio (stratified Cox)"
                + (" (primary)" if look["primary_criterion"] == "hazard_ratio" else " (supportive)"),
                "estimate": f"{hh['estimate']:.2f}",
                "nominal 95% bound": f"{hh['nominal_upper']:.2f}",
                "repeated bound at this look": f"{hh['repeated_upper']:.2f}",
                "margin": f"{hh['margin']:g}",
                "at this look": "met" if hh["crossed"] else "not met",
            }
        )
    if not look.get("on_record") and look.get("boundaries"):
        # the DSMB says "this is look N": then later looks' boundaries come from what it spent
        final = bool(look.get("final"))
        label = f"Record this data cut as look {look['look_number']}" + (" (the final analysis)" if final else "")
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
            "The repeated bound (Jennison and Turnbull) uses the look's boundary instead of 1.96, so "
            "it keeps the error rate over the looks; the nominal bound is shown for reference only and "
            "does not decide."
        )

ui.chart(figures.boundaries(it["planned"], it.get("actual"), it["z_statistic"], it["information_fraction"]))
st.caption(
    f"{ui.md(words.code(it['spending'], cfg))}-type alpha spending, one-sided "
    f"alpha {it['alpha']}; looks planned at {', '.join(f'{f:.0%}' for f in cfg.design.interim_fractions)} "
    "of the expected deaths and at the final analysis (assumed). Non-inferiority is met at a look when "
    "the observed z reaches that look's boundary; the boundary of a look comes from the alpha the "
    "looks before it spent, so it is drawn as a marker at each look, not as a line."
)
# one above the other: side by side, each hid its last column at 1440 px
st.markdown("**Planned fractions**")
ui.table(closed.boundary_table(it["planned"], cfg))
st.markdown("**At the actual fraction**")
ui.table(closed.boundary_table(it["actual"], cfg)) if it.get("actual") else st.write(words.MISSING)

st.subheader("Conditional power (probability of crossing at a look still to come)")
p1, p2, p3 = st.columns(3)


def fmt(x):
    return "—" if x is None else f"{x:.1%}"


p1.metric("Under the current trend", fmt(it.get("conditional_power_trend")))
p2.metric(
    "Under the design assumption",
    fmt(it.get("conditional_power_design")),
    help="Equal hazards in both arms (HR 1), the HR margin and the expected deaths from trial.toml",
)
p3.metric(
    "Under the margin",
    fmt(it.get("conditional_power_margin")),
    help="The true HR equal to the HR margin (H0): the chance of a false claim from here",
)
guide = look.get("futility_guide")
if guide and guide["below"]:
    st.warning(f"Futility guide (non-binding): conditional power under the design is below {guide['threshold']:.0%}.")
st.caption(
    "Against the whole remaining design (the planned looks still to come and the final, with their "
    "boundaries), from the B-value: the recursion of the boundaries started at the current B-value."
)

st.subheader("The design as configured")
dc = it.get("design_check") or {}
if dc:
    st.markdown(
        f"Power with the looks kept: **{dc['power']:.1%}** (stated {dc['stated_power']:.0%}); deaths for the "
        f"stated power: **{dc['events_for_power']:.1f}** (configured {dc['events']:.0f}). The "
        f"{cfg.design.noninferiority_margin:.0%}-point margin at {cfg.design.expected_survival:.0%} survival "
        f"is HR **{dc['hr_implied_by_difference_margin']:.2f}**; the HR margin {cfg.design.hazard_ratio_margin:g} "
        f"is a **{dc['difference_implied_by_hr_margin']:.1%}** loss."
    )
    if dc["power_short"] or dc["margins_disagree"]:
        st.warning(
            "The design in trial.toml disagrees with itself"
            + (": the stated power is not reached with the looks kept" if dc["power_short"] else "")
            + ("; the two margins are not the same loss" if dc["margins_disagree"] else "")
            + ". The trial office should correct trial.toml [design]."
        )
