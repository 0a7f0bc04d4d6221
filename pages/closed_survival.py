"""CLOSED: survival by arm, and the non-inferiority analysis, intention to treat and per protocol."""

import pandas as pd
import streamlit as st

from app import ui
from dashboard import i18n
from dashboard.access import looks
from dashboard.config import load_trial
from dashboard.i18n import N_, _, ngettext
from dashboard.outputs import figures
from dashboard.outputs import labels as words
from dashboard.views import closed, outcomes

cfg = load_trial()
viewer = ui.closed_page("closed_survival")
ui.header(_("Survival by arm"), viewer, cfg)
labels = {a.code: i18n.fact(a, "label") for a in cfg.arms}
# each arm's colour under its label in the language shown, too (the curves are named by it)
colors = {**words.arm_colors(cfg), **{i18n.fact(a, "label"): a.color for a in cfg.arms}}
sets = {key: _(name) for key, name in closed.SETS.items()}

surv = ui.cached(closed.survival_by_arm, viewer)
ni = ui.cached(closed.noninferiority, viewer)
d = cfg.design
months = d.landmark_months

st.subheader(_("Non-inferiority: {months}-month overall survival and hazard ratio").format(months=months))
exp = next(a for a in cfg.arms if a.experimental)
ref = next(a for a in cfg.arms if not a.experimental)
exp_label, ref_label = ui.md(i18n.fact(exp, "label")), ui.md(i18n.fact(ref, "label"))
rows_diff, rows_hr = [], []
for key, name in sets.items():
    diff, hr = ni[key]["difference"], ni[key]["hazard_ratio"]
    label = _("{set} (n={n})").format(set=name, n=ni[key]["n"])
    rows_diff.append(
        {"label": label, "estimate": diff.get("difference"), "lower": diff.get("lower"), "upper": diff.get("upper")}
    )
    rows_hr.append(
        {"label": label, "estimate": hr.get("hazard_ratio"), "lower": hr.get("lower"), "upper": hr.get("upper")}
    )
left, right = st.columns(2)
with left:
    ui.chart(
        figures.forest(
            rows_diff,
            -d.noninferiority_margin,
            _("{months}-month OS difference").format(months=months),
            percent=True,
            empty_text=_("Not estimable yet: no one followed {months} months").format(months=months),
        )
    )
    st.caption(
        _("{experimental} minus {reference}; left of the dashed line is worse than the margin").format(
            experimental=exp_label, reference=ref_label
        )
    )
    for key, name in sets.items():
        message = closed.difference_message(ni[key], cfg)
        if message:
            st.info(_("{set}: {message}").format(set=ui.md(name), message=ui.md(message)))
with right:
    ui.chart(figures.forest(rows_hr, d.hazard_ratio_margin, _("Hazard ratio (stratified Cox)"), log=True))
    st.caption(
        _("{experimental} against {reference}; right of the dashed line is worse than the margin").format(
            experimental=exp_label, reference=ref_label
        )
    )
difference_col = _("{months}-month OS difference (95% CI)").format(months=months)
vs_margin_col = _("nominal CI vs margin -{margin}").format(margin=i18n.percent(d.noninferiority_margin, 0))
vs_hr_margin_col = _("nominal CI vs HR margin {margin}").format(margin=f"{d.hazard_ratio_margin:g}")
table = []
for key, name in sets.items():
    diff, hr = ni[key]["difference"], ni[key]["hazard_ratio"]
    table.append(
        {
            _("set"): name,
            "n": ni[key]["n"],
            difference_col: _("not estimable")
            if diff.get("difference") is None
            else _("{estimate} ({lower} to {upper})").format(
                estimate=f"{diff['difference']:+.1%}", lower=f"{diff['lower']:+.1%}", upper=f"{diff['upper']:+.1%}"
            ),
            vs_margin_col: _("clears") if ni[key]["noninferior_by_difference"] else _("does not clear"),
            _("HR (95% CI)"): "—"
            if hr.get("hazard_ratio") is None
            else _("{estimate} ({lower} to {upper})").format(
                estimate=f"{hr['hazard_ratio']:.2f}", lower=f"{hr['lower']:.2f}", upper=f"{hr['upper']:.2f}"
            ),
            vs_hr_margin_col: _("clears") if ni[key]["noninferior_by_hr"] else _("does not clear"),
            _("deaths"): hr.get("events"),
        }
    )
ui.table(pd.DataFrame(table))

# the conclusion of the look as whole sentences (views.monitoring: the primary criterion crossed,
# not crossed, not estimable), so that the statistics wording is translated whole
CONCLUSION = {
    True: N_(
        "Conclusion at this look: non-inferiority **met at this look** (ITT, primary criterion: {criterion}), "
        "judged with the look's group sequential boundary on the interim page, not with the nominal "
        "intervals above."
    ),
    False: N_(
        "Conclusion at this look: non-inferiority **not met at this look** (ITT, primary criterion: "
        "{criterion}), judged with the look's group sequential boundary on the interim page, not with the "
        "nominal intervals above."
    ),
    None: N_(
        "Conclusion at this look: non-inferiority **not estimable at this look** (ITT, primary criterion: "
        "{criterion}), judged with the look's group sequential boundary on the interim page, not with the "
        "nominal intervals above."
    ),
}
look = ui.cached(closed.interim_at, viewer, len(looks.held())).get("look") or {}
if look.get("conclusion"):
    criterion = _("the OS difference") if look["primary_criterion"] == "difference" else _("the hazard ratio")
    st.info(_(CONCLUSION[look.get("crossed")]).format(criterion=criterion))
st.caption(
    _(
        "Difference: Kaplan-Meier estimates with Greenwood standard errors, normal 95% interval; "
        "the nominal interval clears the margin when its lower limit lies above minus the margin (for "
        "reference: it does not decide at an interim look). Hazard ratio: Cox "
        "model with Efron ties, stratified by response and primary site. Margins are assumed "
        "(trial.toml [design])."
    )
)
st.subheader(_("Log-rank test by arm"))
lr = ui.cached(closed.logrank, viewer)
ui.static_table(pd.DataFrame(closed.logrank_rows(lr, cfg)))  # wraps: every column in view at 1440 px
strata = [i18n.fact(s, "label") for s in cfg.randomization.strata]
# i18n: the separator of a list of names ("response, primary site" / "疗效、原发部位")
strata_names = _(", ").join(s.lower() if i18n.language() == "en" else s for s in strata)
st.caption(
    _(
        "Observed and expected events per arm; stratified by the randomization strata ({strata}), "
        "the strata of the Cox model, as R's survdiff(Surv(t, e) ~ arm + strata(...)): each stratum's "
        "O - E and hypergeometric variance summed over strata; chi-square on 1 degree of freedom. "
        "Unstratified beside it."
    ).format(strata=ui.md(strata_names))
)
for key, name in sets.items():
    if ni[key]["n"] == 0:
        st.info(_("{set}: no subjects in this set, so no difference, hazard ratio or log-rank test.").format(set=name))
    elif not ni[key]["hazard_ratio"].get("events"):
        st.info(_("{set}: no deaths yet, so no hazard ratio or log-rank test of overall survival.").format(set=name))
excluded = surv["excluded"]
if len(excluded):
    left_out = ngettext(
        "Per-protocol set: {n} subject left out", "Per-protocol set: {n} subjects left out", len(excluded)
    ).format(n=len(excluded))
    with st.expander(left_out):
        ui.listing(
            closed.exclusions_table(excluded, cfg),
            N_("per-protocol exclusions"),
            viewer,
            "pp-excluded",  # i18n: verbatim (a key)
        )


def endpoint_name(e: str) -> str:
    return _(outcomes.ENDPOINTS[e][3])


endpoint = (
    st.segmented_control(_("Endpoint"), ["os", "dfs"], default="os", key="closed_endpoint", format_func=endpoint_name)
    or "os"
)
if endpoint == "dfs":
    moved = ui.cached(closed.dfs_censoring, viewer)
    both = next((r for r in moved if r["arm"] is None), None)
    if both:
        per_arm = _("; ").join(
            f"{ui.md(labels.get(r['arm'], r['arm']))} {r['dfs_censor_moved']}" for r in moved if r["arm"]
        )
        st.caption(
            _(
                "DFS is censored at the last disease assessment (docs/warehouse.md): {moved} of {censored} "
                "censored subjects are censored earlier than their last contact ({per_arm}); {at_randomization} "
                "at randomization (no assessment since)."
            ).format(
                moved=both["dfs_censor_moved"],
                censored=both["dfs_censored"],
                per_arm=per_arm,
                at_randomization=both["censored_at_randomization"],
            )
        )
cols = st.columns(2)
for col, (key, name) in zip(cols, sets.items(), strict=True):
    with col:
        st.subheader(name)
        by_arm = surv[key][endpoint]
        message = closed.empty_message(by_arm, labels)
        shown = {a: km for a, km in by_arm.items() if not km["empty"]}
        if message:
            st.info(ui.md(message))
        if not shown:
            continue
        ui.chart(
            figures.kaplan_meier(
                {labels[a]: km["curve"] for a, km in shown.items()}, cfg.trial.days_per_month, colors=colors
            ),
            key=f"km-{key}-{endpoint}",
        )
        rows = []
        for arm, km in by_arm.items():
            for label, lm in km["landmarks"].items():
                rows.append(
                    {
                        _("arm"): labels[arm],
                        _("months"): label,
                        _("survival (95% CI)"): _("not estimable")
                        if lm["survival"] is None
                        else _("{estimate} ({lower} to {upper})").format(
                            estimate=ui.pct(lm["survival"]), lower=ui.pct(lm["lower"]), upper=ui.pct(lm["upper"])
                        ),
                        _("at risk"): lm["at_risk"],
                        _("events"): _("{n} of {total}").format(n=km["events"], total=km["n"]),
                    }
                )
        ui.table(pd.DataFrame(rows))
        risk = pd.concat(
            {labels[a]: km["at_risk_table"].set_index("months").at_risk for a, km in shown.items()}, axis=1
        ).T
        st.caption(_("Number at risk by month"))
        ui.table(risk.rename(columns=lambda m: _("{m} mo").format(m=m)).reset_index(names=_("arm")))
st.caption(_("{band}.").format(band=outcomes.conf_text(cfg)))
