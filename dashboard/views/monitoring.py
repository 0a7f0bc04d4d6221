"""The DSMB's conclusion at this look (issue 12): non-inferiority is "met" only when the look's
group sequential boundary is crossed, never because a nominal 95% interval excludes the margin.

The look's boundary comes from the alpha the looks held before it really spent (the looks on the
record, dashboard/access/looks.py) with the planned looks to come; the final look spends what
remains, whatever its information (dashboard/stats/groupseq.py monitoring_boundaries). Beside the
nominal intervals the repeated confidence bounds at the boundary's level (Jennison & Turnbull):
for the hazard ratio ``exp(log HR + c se)`` and for the 3-year difference ``d - c se``; the
primary criterion (trial.toml [design] primary_criterion) decides, the other is supportive.
Conditional power is against the whole remaining design: under the current trend, under the
design hypothesis (HR 1) and under the margin; a futility guide (non-binding) compares the
design's with trial.toml's threshold.
"""

from __future__ import annotations

import math

import duckdb

from dashboard.access.roles import Viewer
from dashboard.config import TrialConfig, load_trial
from dashboard.i18n import N_, _

# The look's conclusion: codes (the same in every language; tests and pages compare them), each
# with its words in the catalogue (`conclusion_text` in the result: the code in the reader's language).
MET, NOT_MET, NOT_ESTIMABLE = N_("met at this look"), N_("not met at this look"), N_("not estimable at this look")


def _kind(cfg: TrialConfig) -> str:
    return "obrien-fleming" if cfg.design.spending.endswith("obrien-fleming") else "pocock"


def conclusion(ni: dict, held: list[dict], build_id: str | None, cfg: TrialConfig) -> dict:
    """The look's conclusion from the ITT non-inferiority results (`ni`: views.closed
    noninferiority()["itt"]) and the looks held (`held`: access.looks.held(); a look recorded on
    this very data cut is this look)."""
    from dashboard.stats import groupseq

    d = cfg.design
    hr, diff = ni["hazard_ratio"], ni["difference"]
    deaths = int(hr.get("events") or 0)
    t = deaths / d.expected_deaths_final
    this = next((lk for lk in held if (lk.get("data_cut") or {}).get("build_id") == build_id), None)
    before = [lk["fraction"] for lk in held if lk is not this and lk["fraction"] < t]
    out: dict = {
        "observed_deaths": deaths,
        "information_fraction": t,
        "look_number": this["look"] if this else len(before) + 1,
        "on_record": this is not None,
        "looks_held_before": before,
        "primary_criterion": d.primary_criterion,
        "conclusion": NOT_ESTIMABLE,
        "crossed": None,
        "boundaries": None,
        "current_boundary": None,
        "z_statistic": None,
        "hazard_ratio": None,
        "difference": None,
        "conditional_power": None,
        "futility_guide": None,
    }
    if deaths == 0:
        out["conclusion_text"] = _(NOT_ESTIMABLE)
        return out
    final = t >= 1.0 or bool(this and this["final"])
    bounds = groupseq.monitoring_boundaries(
        before + [t], d.interim_fractions, alpha=d.alpha_one_sided, kind=_kind(cfg), final=final
    )
    now = len(before)
    c = bounds[now]["z_boundary"]
    out.update(boundaries=bounds, current_boundary=c, final=final)
    z_nominal = 1.959964  # the two-sided 95% interval's
    if hr.get("log_hr") is not None and hr.get("se"):
        z = (math.log(d.hazard_ratio_margin) - hr["log_hr"]) / hr["se"]
        out["z_statistic"] = z
        out["hazard_ratio"] = {
            "estimate": hr["hazard_ratio"],
            "nominal_upper": math.exp(hr["log_hr"] + z_nominal * hr["se"]),
            "repeated_upper": math.exp(groupseq.repeated_ci_upper(hr["log_hr"], hr["se"], c)),
            "margin": d.hazard_ratio_margin,
            "crossed": z >= c,
        }
        to_come = bounds[now + 1 :]
        if to_come and t < 1:
            drift_design = groupseq.drift_from_design(math.log(d.hazard_ratio_margin), 0.0, d.expected_deaths_final)
            cp = {
                "trend": groupseq.conditional_power_design(z, t, groupseq.drift_current_trend(z, t), to_come),
                "design": groupseq.conditional_power_design(z, t, drift_design, to_come),
                "margin": groupseq.conditional_power_design(z, t, 0.0, to_come),
            }
            out["conditional_power"] = cp
            out["futility_guide"] = {
                "threshold": d.futility_conditional_power,
                "below": cp["design"] < d.futility_conditional_power,
                "binding": False,
            }
    if diff.get("difference") is not None and diff.get("se"):
        lower_rci = diff["difference"] - c * diff["se"] if math.isfinite(c) else -math.inf
        out["difference"] = {
            "estimate": diff["difference"],
            "nominal_lower": diff.get("lower"),
            "repeated_lower": lower_rci,
            "margin": -d.noninferiority_margin,
            "crossed": lower_rci > -d.noninferiority_margin,
        }
    primary = out["difference"] if d.primary_criterion == "difference" else out["hazard_ratio"]
    if primary is not None:
        out["crossed"] = bool(primary["crossed"])
        out["conclusion"] = MET if primary["crossed"] else NOT_MET
    code = out["conclusion"]
    out["conclusion_text"] = _(code)
    return out


def at_this_look(con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None) -> dict:
    """The conclusion on the current data cut, with the looks on the audit record."""
    from dashboard.access import looks
    from dashboard.store.data import fetch
    from dashboard.views.closed import noninferiority

    viewer.require_closed()
    cfg = cfg or load_trial()
    ni = noninferiority(con, viewer, cfg)["itt"]
    build_id = str(fetch(con, "views/data_cut").build_id.iloc[0])
    return conclusion(ni, looks.held(), build_id, cfg)


def design_check(cfg: TrialConfig | None = None) -> dict:
    """The design as configured, checked against itself: power with its looks, the deaths that
    give the stated power, the hazard ratio the difference margin implies at the design's
    survival (and the difference the HR margin implies); each flagged when it disagrees."""
    from dashboard.stats import groupseq

    cfg = cfg or load_trial()
    d = cfg.design
    check = groupseq.design_check(
        list(d.interim_fractions) + [1.0],
        d.alpha_one_sided,
        d.power,
        math.log(d.hazard_ratio_margin),
        0.0,
        d.expected_deaths_final,
        _kind(cfg),
    )
    s = d.expected_survival
    hr_of_difference = math.log(s - d.noninferiority_margin) / math.log(s)
    difference_of_hr = s - s**d.hazard_ratio_margin
    return {
        **check,
        "stated_power": d.power,
        "power_short": check["power"] < d.power - 0.005,
        "hr_implied_by_difference_margin": hr_of_difference,
        "difference_implied_by_hr_margin": difference_of_hr,
        "margins_disagree": abs(hr_of_difference - d.hazard_ratio_margin) > 0.02,
    }
