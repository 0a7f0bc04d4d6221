"""CLOSED: survival by arm, and the non-inferiority analysis, intention to treat and per protocol."""

import pandas as pd
import streamlit as st

from app import ui
from dashboard.access import looks
from dashboard.config import load_trial
from dashboard.outputs import figures
from dashboard.outputs import labels as words
from dashboard.views import closed, outcomes

cfg = load_trial()
viewer = ui.closed_page("closed_survival")
ui.header("Survival by arm", viewer, cfg)
labels = {a.code: a.label for a in cfg.arms}
colors = words.arm_colors(cfg)

surv = ui.cached(closed.survival_by_arm, viewer)
ni = ui.cached(closed.noninferiority, viewer)
d = cfg.design

st.subheader(f"Non-inferiority: {d.landmark_months}-month overall survival and hazard ratio")
exp = next(a for a in cfg.arms if a.experimental)
ref = next(a for a in cfg.arms if not a.experimental)
rows_diff, rows_hr = [], []
for key, name in closed.SETS.items():
    diff, hr = ni[key]["difference"], ni[key]["hazard_ratio"]
    rows_diff.append(
        {
            "label": f"{name} (n={ni[key]['n']})",
            "estimate": diff.get("difference"),
            "lower": diff.get("lower"),
            "upper": diff.get("upper"),
        }
    )
    rows_hr.append(
        {
            "label": f"{name} (n={ni[key]['n']})",
            "estimate": hr.get("hazard_ratio"),
            "lower": hr.get("lower"),
            "upper": hr.get("upper"),
        }
    )
left, right = st.columns(2)
with left:
    ui.chart(
        figures.forest(
            rows_diff,
            -d.noninferiority_margin,
            f"{d.landmark_months}-month OS difference",
            percent=True,
            empty_text=f"Not estimable yet: no one followed {d.landmark_months} months",
        )
    )
    st.caption(f"{ui.md(exp.label)} minus {ui.md(ref.label)}; left of the dashed line is worse than the margin")
    for key, name in closed.SETS.items():
        message = closed.difference_message(ni[key], cfg)
        if message:
            st.info(f"{ui.md(name)}: {ui.md(message)}")
with right:
    ui.chart(figures.forest(rows_hr, d.hazard_ratio_margin, "Hazard ratio (stratified Cox)", log=True))
    st.caption(f"{ui.md(exp.label)} against {ui.md(ref.label)}; right of the dashed line is worse than the margin")
table = []
for key, name in closed.SETS.items():
    diff, hr = ni[key]["difference"], ni[key]["hazard_ratio"]
    table.append(
        {
            "set": name,
            "n": ni[key]["n"],
            f"{d.landmark_months}-month OS difference (95% CI)": "not estimable"
            if diff.get("difference") is None
            else f"{diff['difference']:+.1%} ({diff['lower']:+.1%} to {diff['upper']:+.1%})",
            f"nominal CI vs margin -{d.noninferiority_margin:.0%}": "clears"
            if ni[key]["noninferior_by_difference"]
            else "does not clear",
            "HR (95% CI)": "—"
            if hr.get("hazard_ratio") is None
            else f"{hr['hazard_ratio']:.2f} ({hr['lower']:.2f} to {hr['upper']:.2f})",
            f"nominal CI vs HR margin {d.hazard_ratio_margin:g}": "clears"
            if ni[key]["noninferior_by_hr"]
            else "does not clear",
            "deaths": hr.get("events"),
        }
    )
ui.table(pd.DataFrame(table))
look = ui.cached(closed.interim_at, viewer, len(looks.held())).get("look") or {}
if look.get("conclusion"):
    st.info(
        f"Conclusion at this look: non-inferiority **{look['conclusion']}** (ITT, primary criterion: "
        f"{'the OS difference' if look['primary_criterion'] == 'difference' else 'the hazard ratio'}), judged "
        "with the look's group sequential boundary on the interim page, not with the nominal intervals above."
    )
st.caption(
    "Difference: Kaplan-Meier estimates with Greenwood standard errors, normal 95% interval; "
    "the nominal interval clears the margin when its lower limit lies above minus the margin (for "
    "reference: it does not decide at an interim look). Hazard ratio: Cox "
    "model with Efron ties, stratified by response and primary site. Margins are assumed "
    "(trial.toml [design])."
)
st.subheader("Log-rank test by arm")
lr = ui.cached(closed.logrank, viewer)
ui.static_table(pd.DataFrame(closed.logrank_rows(lr, cfg)))  # wraps: every column in view at 1440 px
strata_names = ", ".join(s.label.lower() for s in cfg.randomization.strata)
st.caption(
    f"Observed and expected events per arm; stratified by the randomization strata ({ui.md(strata_names)}), "
    "the strata of the Cox model, as R's survdiff(Surv(t, e) ~ arm + strata(...)): each stratum's "
    "O - E and hypergeometric variance summed over strata; chi-square on 1 degree of freedom. "
    "Unstratified beside it."
)
for key, name in closed.SETS.items():
    if ni[key]["n"] == 0:
        st.info(f"{name}: no subjects in this set, so no difference, hazard ratio or log-rank test.")
    elif not ni[key]["hazard_ratio"].get("events"):
        st.info(f"{name}: no deaths yet, so no hazard ratio or log-rank test of overall survival.")
excluded = surv["excluded"]
if len(excluded):
    with st.expander(f"Per-protocol set: {len(excluded)} subject(s) left out"):
        ui.listing(closed.exclusions_table(excluded, cfg), "per-protocol exclusions", viewer, "pp-excluded")

endpoint = (
    st.segmented_control(
        "Endpoint", ["os", "dfs"], default="os", key="closed_endpoint", format_func=lambda e: outcomes.ENDPOINTS[e][3]
    )
    or "os"
)
if endpoint == "dfs":
    moved = ui.cached(closed.dfs_censoring, viewer)
    both = next((r for r in moved if r["arm"] is None), None)
    if both:
        per_arm = "; ".join(
            f"{ui.md(labels.get(r['arm'], r['arm']))} {r['dfs_censor_moved']}" for r in moved if r["arm"]
        )
        st.caption(
            f"DFS is censored at the last disease assessment (docs/warehouse.md): {both['dfs_censor_moved']} of "
            f"{both['dfs_censored']} censored subjects are censored earlier than their last contact ({per_arm}); "
            f"{both['censored_at_randomization']} at randomization (no assessment since)."
        )
cols = st.columns(2)
for col, (key, name) in zip(cols, closed.SETS.items(), strict=True):
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
                        "arm": labels[arm],
                        "months": label,
                        "survival (95% CI)": "not estimable"
                        if lm["survival"] is None
                        else f"{lm['survival']:.1%} ({lm['lower']:.1%} to {lm['upper']:.1%})",
                        "at risk": lm["at_risk"],
                        "events": f"{km['events']} of {km['n']}",
                    }
                )
        ui.table(pd.DataFrame(rows))
        risk = pd.concat(
            {labels[a]: km["at_risk_table"].set_index("months").at_risk for a, km in shown.items()}, axis=1
        ).T
        st.caption("Number at risk by month")
        ui.table(risk.rename(columns=lambda m: f"{m} mo").reset_index(names="arm"))
st.caption(outcomes.CONF_TEXT + ".")
