"""The DSMB closed session's figures: survival and safety by arm, the non-inferiority analysis,
interim boundaries, surgical quality by arm and site.

Every function refuses a viewer without a closed role, and reads tables that exist only in the
closed warehouse: called on a blinded connection it fails, it does not fall back to anything.
"""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd

from dashboard.access.roles import Viewer
from dashboard.config import TrialConfig, load_trial
from dashboard.i18n import N_, _, fact, number
from dashboard.outputs import labels as words
from dashboard.store.data import fetch
from dashboard.views import outcomes, safety

# the analysis sets: their names in English, translated where shown (`_(SETS[key])`)
SETS = {"itt": N_("Intention to treat"), "pp": N_("Per protocol")}
# The de-escalation markers of the protocol surgery (columns of queries/closed/surgery_by_arm.sql),
# labelled by trial.toml [labels.columns].
MARKERS = ("prprim", "mandpres", "flap", "glossext")
# a marker table's row for a subject with nothing recorded: a code of the table, shown translated
NOT_RECORDED = N_("Not recorded")
# The randomization strata (RAND.csv fields in trial.toml) as columns of queries/closed/arms.sql.
STRATUM_COLUMNS = {"STRATRESP": "stratum_response", "STRATSITE": "stratum_site"}


def margins(con: duckdb.DuckDBPyConnection, viewer: Viewer) -> pd.DataFrame:
    """Each randomized subject's margin status (pooled-only: closed file only)."""
    return fetch(con, "closed/margins", site=viewer.site_filter)


def arms(con: duckdb.DuckDBPyConnection, viewer: Viewer) -> pd.DataFrame:
    viewer.require_closed()
    return fetch(con, "closed/arms")


def analysis_sets(con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None) -> dict:
    """ITT: every randomized subject in the arm allocated. Per protocol: without the subjects the
    build found with an excluding deviation (trial.toml design.per_protocol_excludes)."""
    viewer.require_closed()
    cfg = cfg or load_trial()
    a = arms(con, viewer)
    excluded = fetch(con, "closed/per_protocol_exclusions", exclude=cfg.design.per_protocol_excludes)
    excluded = excluded.merge(a[["subjid", "arm"]], on="subjid", how="left")
    return {"itt": a, "pp": a[~a.subjid.isin(excluded.subjid)].reset_index(drop=True), "excluded": excluded}


def _times_with_arm(con, viewer, cfg) -> tuple[pd.DataFrame, dict]:
    sets = analysis_sets(con, viewer, cfg)
    times = outcomes.survival_times(con, viewer).merge(
        sets["itt"][["subjid", "arm", "stratum_response", "stratum_site"]], on="subjid"
    )
    return times, sets


def survival_by_arm(con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None) -> dict:
    """Kaplan-Meier of OS and DFS by arm, for the ITT and the per-protocol set."""
    cfg = cfg or load_trial()
    times, sets = _times_with_arm(con, viewer, cfg)
    out: dict = {}
    for set_key in SETS:
        members = set(sets[set_key].subjid)
        subset = times[times.subjid.isin(members)]
        out[set_key] = {}
        for endpoint in outcomes.ENDPOINTS:
            out[set_key][endpoint] = {
                arm.code: _km_by_arm(subset[subset.arm == arm.code], endpoint, cfg) for arm in cfg.arms
            }
    out["excluded"] = sets["excluded"]
    return out


def _usable(times: pd.DataFrame, endpoint: str) -> pd.DataFrame:
    days, _event, excluded, _label = outcomes.ENDPOINTS[endpoint]
    return times[times[excluded].isna() & times[days].notna()]


def _km_by_arm(times: pd.DataFrame, endpoint: str, cfg: TrialConfig) -> dict:
    """One arm's Kaplan-Meier summary, or, when the arm has no usable subject in the set (an empty
    per-protocol set, an arm nobody was allocated to), the same shape with no estimate and
    ``empty`` saying why (in the reader's language); the pages and reports show that sentence
    instead of a curve."""
    if len(_usable(times, endpoint)):
        return {
            **outcomes.km_summary(times, endpoint, cfg),
            "at_risk_table": outcomes.at_risk_table(times, endpoint, 6, cfg),
            "empty": None,
        }
    why = (
        _("no subjects")
        if len(times) == 0
        else _("no subject with a usable {endpoint} time").format(endpoint=endpoint.upper())
    )
    return {
        "n": 0,
        "events": 0,
        "median_days": None,
        "median_lower": None,
        "median_upper": None,
        "median_at_risk": None,
        "median_reliable": False,
        "landmarks": {
            k: {"survival": None, "lower": None, "upper": None, "at_risk": 0} for k in outcomes.landmarks_days(cfg)
        },
        "excluded": int(len(times)),
        "curve": pd.DataFrame(columns=["time", "survival", "lower", "upper", "at_risk", "observed"]),
        "at_risk_table": pd.DataFrame(columns=["months", "at_risk"]),
        "empty": why,
    }


def empty_message(by_arm: dict, labels: dict[str, str]) -> str | None:
    """The sentence a page shows for a set whose arms have no usable subjects: None when every arm
    has some, else which arms are empty and why (for every arm: the set is empty)."""
    empty = {arm: km["empty"] for arm, km in by_arm.items() if km.get("empty")}
    if not empty:
        return None
    if len(empty) == len(by_arm):
        return _("No subjects to analyse in this set: {arms}").format(
            arms=_("; ").join(_("{arm}: {why}").format(arm=labels.get(a, a), why=w) for a, w in empty.items())
        )
    return _("; ").join(_("{arm}: {why}, no curve").format(arm=labels.get(a, a), why=w) for a, w in empty.items())


def logrank(con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None) -> dict:
    """The log-rank test of OS and DFS by arm, stratified by the randomization strata (the strata
    of the stratified Cox, R's ``survdiff(Surv(t, e) ~ arm + strata(s))``) and unstratified, for
    the ITT and the per-protocol sets: observed and expected events per arm, chi-square (1 df), p.
    A set with no subjects, one arm or no events gives each test's ``reason`` instead."""
    from dashboard.stats.comparison import logrank_test

    cfg = cfg or load_trial()
    times, sets = _times_with_arm(con, viewer, cfg)
    exp, _ref = _experimental(cfg)
    strata = [STRATUM_COLUMNS[s.field] for s in cfg.randomization.strata]
    out: dict = {}
    for set_key in SETS:
        subset = times[times.subjid.isin(set(sets[set_key].subjid))]
        out[set_key] = {}
        for endpoint in outcomes.ENDPOINTS:
            days, event, _excluded, _label = outcomes.ENDPOINTS[endpoint]
            usable = _usable(subset, endpoint)
            out[set_key][endpoint] = {
                "stratified": logrank_test(usable, days, event, "arm", exp.code, strata=strata),
                "unstratified": logrank_test(usable, days, event, "arm", exp.code),
            }
    return out


def logrank_rows(result: dict, cfg: TrialConfig) -> list[dict]:
    """One row per set, endpoint and test for a table (pages and the closed report): observed and
    expected events per arm, chi-square and p, or the reason the test is not estimable. The
    columns are named after the arms' labels in trial.toml; values are plain text for ui.table;
    headers and words in the reader's language."""
    exp, ref = _experimental(cfg)
    kinds = {"stratified": _("stratified"), "unstratified": _("unstratified")}
    rows = []
    for set_key, name in SETS.items():
        for endpoint, tests in result[set_key].items():
            for kind, r in tests.items():
                row = {
                    _("set"): _(name),
                    _("endpoint"): _(outcomes.ENDPOINTS[endpoint][3]),
                    _("log-rank"): kinds.get(kind, kind),
                }
                for arm, key in ((exp, "experimental"), (ref, "reference")):
                    got = r["by_arm"][key]
                    expected = "—" if got["expected"] is None else f"{got['expected']:.1f}"
                    row[_("{arm}: observed / expected").format(arm=fact(arm, "label"))] = (
                        f"{got['observed']} / {expected}"
                    )
                row[_("chi-square (1 df)")] = "—" if r["chisq"] is None else f"{r['chisq']:.2f}"
                row["p"] = "—" if r["p"] is None else ("<0.001" if r["p"] < 0.001 else f"{r['p']:.3f}")
                notes = [r["reason"]] if r["reason"] else []
                if r["dropped"]:
                    notes.append(_("{n} subject(s) without strata left out").format(n=r["dropped"]))
                row[_("note")] = _("; ").join(notes)
                rows.append(row)
    return rows


def _experimental(cfg: TrialConfig):
    exp = next(a for a in cfg.arms if a.experimental)
    ref = next(a for a in cfg.arms if not a.experimental)
    return exp, ref


def noninferiority(con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None) -> dict:
    """3-year OS difference (experimental minus control) with its 95% CI against the margin, and
    the hazard ratio from a Cox model stratified by the randomization strata against the HR
    margin; for the ITT and the per-protocol sets."""
    from dashboard.stats.comparison import cox_hazard_ratio, survival_difference

    cfg = cfg or load_trial()
    times, sets = _times_with_arm(con, viewer, cfg)
    exp, ref = _experimental(cfg)
    d = cfg.design
    at = d.landmark_months * cfg.trial.days_per_month
    out = {}
    for set_key in SETS:
        subset = times[times.subjid.isin(set(sets[set_key].subjid)) & times.os_excluded_reason.isna()]
        a, b = subset[subset.arm == exp.code], subset[subset.arm == ref.code]
        diff = survival_difference(
            a.os_days.to_numpy(float),
            a.os_event.to_numpy(bool),
            b.os_days.to_numpy(float),
            b.os_event.to_numpy(bool),
            at,
        )
        hr = cox_hazard_ratio(
            subset,
            "os_days",
            "os_event",
            "arm",
            exp.code,
            strata=[STRATUM_COLUMNS[s.field] for s in cfg.randomization.strata],
        )
        out[set_key] = {
            "n": int(len(subset)),
            "longest_follow_up_days": {
                arm.code: (float(g.os_days.max()) if len(g) else None) for arm, g in ((exp, a), (ref, b))
            },
            "difference": diff,
            "hazard_ratio": hr,
            "margin": d.noninferiority_margin,
            "hr_margin": d.hazard_ratio_margin,
            "noninferior_by_difference": diff.get("lower") is not None and diff["lower"] > -d.noninferiority_margin,
            "noninferior_by_hr": hr.get("upper") is not None and hr["upper"] < d.hazard_ratio_margin,
        }
    return out


def interim(con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None) -> dict:
    """Information fraction, Lan-DeMets boundaries at the planned and the actual fractions, the
    current Z for non-inferiority (from the stratified Cox HR against the HR margin), and
    conditional power under the current trend and under the design assumption."""
    from dashboard.stats import groupseq

    cfg = cfg or load_trial()
    d = cfg.design
    kind = "obrien-fleming" if d.spending.endswith("obrien-fleming") else "pocock"
    ni = noninferiority(con, viewer, cfg)["itt"]
    hr = ni["hazard_ratio"]
    observed = int(hr.get("events") or 0)
    t = observed / d.expected_deaths_final
    planned = groupseq.boundaries(list(d.interim_fractions) + [1.0], alpha=d.alpha_one_sided, kind=kind)
    z = None
    if hr.get("log_hr") is not None and hr.get("se"):
        z = (math.log(d.hazard_ratio_margin) - hr["log_hr"]) / hr["se"]
    out = {
        "expected_deaths_final": d.expected_deaths_final,
        "observed_deaths": observed,
        "information_fraction": t,
        "planned": planned,
        "z_statistic": z,
        "spending": d.spending,
        "alpha": d.alpha_one_sided,
        # None until estimable: no deaths, a hazard ratio that is not estimable (an arm without
        # subjects or events) leave them None rather than absent
        "conditional_power_trend": None,
        "conditional_power_design": None,
        "crossed": None,
    }
    # the look: boundaries from the alpha the looks on record spent, the final spending the rest
    # (also past the planned information), conditional power against the remaining design
    from dashboard.access import looks
    from dashboard.store.data import fetch
    from dashboard.views import monitoring

    build_id = str(fetch(con, "views/data_cut").build_id.iloc[0])
    look = monitoring.conclusion(ni, looks.held(), build_id, cfg)
    out["look"] = look
    out["design_check"] = monitoring.design_check(cfg)
    out["actual"] = look["boundaries"]
    out["current_boundary"] = look["current_boundary"]
    if look["hazard_ratio"] is not None:
        out["crossed"] = look["hazard_ratio"]["crossed"]
    if look["conditional_power"] is not None:
        out["conditional_power_trend"] = look["conditional_power"]["trend"]
        out["conditional_power_design"] = look["conditional_power"]["design"]
        out["conditional_power_margin"] = look["conditional_power"]["margin"]
    return out


def interim_at(con: duckdb.DuckDBPyConnection, viewer: Viewer, looks_on_record: int) -> dict:
    """interim(), for a cache keyed by the looks on the record (their count) as well as the data
    cut: a look recorded since gives a new result."""
    return interim(con, viewer)


def safety_by_arm(con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None) -> dict:
    """The pooled safety counts and signals split by arm, AEs by system organ class by arm, and
    risk differences (experimental minus control, Newcombe 95% CI) for the dot chart."""
    from dashboard.stats.rates import risk_difference_ci

    viewer.require_closed()
    cfg = cfg or load_trial()
    a = arms(con, viewer)[["subjid", "arm"]]
    subjects = safety.subjects(con, viewer).merge(margins(con, viewer), on="subjid", how="left").merge(a, on="subjid")
    soc = fetch(con, "views/ae_by_soc_grade", site=None).merge(a, on="subjid")
    exp, ref = _experimental(cfg)
    out: dict = {"by_arm": {}, "signals": {}}
    n_arm = {}
    for arm in cfg.arms:
        sub = subjects[subjects.arm == arm.code].reset_index(drop=True)
        n_arm[arm.code] = len(sub)
        sig = safety.signals(sub, cfg)
        out["signals"][arm.code] = sig
        out["by_arm"][arm.code] = safety.safety_counts(sub, soc[soc.arm == arm.code], cfg, soc_order="name")
    rows = []
    for label, frame in [("any grade", soc), ("grade 3+", soc[soc.worst_grade >= 3])]:
        for soc_name, g in frame.groupby("soc"):
            x1 = g[g.arm == exp.code].subjid.nunique()
            x2 = g[g.arm == ref.code].subjid.nunique()
            diff, lo, hi = risk_difference_ci(int(x1), n_arm[exp.code], int(x2), n_arm[ref.code])
            rows.append(
                {
                    "soc": soc_name,
                    "grade": label,
                    "events_exp": int(x1),
                    "events_ref": int(x2),
                    "p_exp": x1 / n_arm[exp.code] if n_arm[exp.code] else None,
                    "p_ref": x2 / n_arm[ref.code] if n_arm[ref.code] else None,
                    "difference": diff,
                    "lower": lo,
                    "upper": hi,
                }
            )
    sig_rows = []
    for i, s in enumerate(cfg.safety_signals):
        e, r = out["signals"][exp.code][i], out["signals"][ref.code][i]
        diff, lo, hi = risk_difference_ci(e["events"], e["n"], r["events"], r["n"])
        sig_rows.append(
            {
                "signal": fact(s, "label"),
                "name": s.name,
                "events_exp": e["events"],
                "n_exp": e["n"],
                "events_ref": r["events"],
                "n_ref": r["n"],
                "p_exp": e["observed"],
                "p_ref": r["observed"],
                "difference": diff,
                "lower": lo,
                "upper": hi,
                "threshold": s.threshold,
                "flagged_exp": e["flagged"],
                "flagged_ref": r["flagged"],
                "flag_rule_exp": e.get("flag_rule"),
                "flag_rule_ref": r.get("flag_rule"),
            }
        )
    # with the columns even when empty (no adverse event yet): the pages filter on them
    soc_columns = ["soc", "grade", "events_exp", "events_ref", "p_exp", "p_ref", "difference", "lower", "upper"]
    out["soc_differences"] = pd.DataFrame(rows, columns=soc_columns)
    out["signal_differences"] = pd.DataFrame(sig_rows)
    out["n"] = n_arm
    out["labels"] = {"experimental": exp.code, "reference": ref.code}
    return out


def surgical_quality(con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None) -> dict:
    """The signals marked by_site_within_arm in trial.toml (positive margins, early complications and
    deaths) by site within arm, with exact funnel limits around each arm's rate, and the
    de-escalation markers by arm."""
    from dashboard.stats.rates import funnel_flags

    viewer.require_closed()
    cfg = cfg or load_trial()
    a = arms(con, viewer)[["subjid", "arm"]]
    subjects = safety.subjects(con, viewer).merge(margins(con, viewer), on="subjid", how="left").merge(a, on="subjid")
    by_site = []
    for s in cfg.safety_signals:
        if not s.by_site_within_arm:
            continue
        den, ev = safety.signal_columns(subjects, s)
        frame = pd.DataFrame(
            {"siteid": subjects.siteid, "arm": subjects.arm, "n": den.astype(int), "events": ev.astype(int)}
        )
        grouped = frame.groupby(["arm", "siteid"], as_index=False).sum()
        for _arm, g in grouped.groupby("arm"):
            g = g[g.n > 0].copy()
            p0 = g.events.sum() / g.n.sum() if g.n.sum() else np.nan
            g["rate"] = g.events / g.n
            g["flag"] = funnel_flags(g.events.to_numpy(int), g.n.to_numpy(int), p0) if 0 < p0 < 1 else "within"
            g["p0"] = p0
            g["signal"] = s.name
            by_site.append(g)
    surgery = fetch(con, "closed/surgery_by_arm")
    markers = {}
    for col in MARKERS:
        # rows are the CRF codes (the page labels them: marker_table)
        table = pd.crosstab(surgery[col].fillna(NOT_RECORDED), surgery.arm)
        markers[words.column(col, cfg)] = table.reindex(columns=[arm.code for arm in cfg.arms], fill_value=0)
    return {"by_site": pd.concat(by_site, ignore_index=True) if by_site else pd.DataFrame(), "markers": markers}


def dfs_censoring(con: duckdb.DuckDBPyConnection, viewer: Viewer) -> list[dict]:
    """By arm and together (arm None): subjects DFS-censored, those whose censoring moved earlier
    than their last contact (DFS is censored at the last disease assessment), those censored at
    randomization (no assessment since)."""
    viewer.require_closed()
    df = fetch(con, "closed/dfs_censoring")
    return [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in df.to_dict("records")]


def summary_part(con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None) -> dict:
    """The summary's closed additions: survival and safety by arm (ITT), non-inferiority, interim."""
    cfg = cfg or load_trial()
    surv = survival_by_arm(con, viewer, cfg)["itt"]
    by_arm = {}
    for endpoint in outcomes.ENDPOINTS:
        by_arm[endpoint] = {
            arm: {k: v for k, v in km.items() if k not in ("curve", "at_risk_table")}
            for arm, km in surv[endpoint].items()
        }
    saf = safety_by_arm(con, viewer, cfg)
    ni = noninferiority(con, viewer, cfg)["itt"]
    it = interim(con, viewer, cfg)
    lr = logrank(con, viewer, cfg)
    diff, hr = ni["difference"], ni["hazard_ratio"]
    return {
        "survival_by_arm": by_arm,
        "safety_by_arm": {
            arm: {
                "pooled": counts,
                "signals": [
                    {k: s[k] for k in ("name", "observed", "lower", "upper", "threshold", "flagged", "events", "n")}
                    for s in saf["signals"][arm]
                ],
            }
            for arm, counts in saf["by_arm"].items()
        },
        "closed": {
            "noninferiority": {
                "os36_difference": diff.get("difference"),
                "lower": diff.get("lower"),
                "upper": diff.get("upper"),
                "margin": ni["margin"],
                "hazard_ratio": hr.get("hazard_ratio"),
                "hr_lower": hr.get("lower"),
                "hr_upper": hr.get("upper"),
                "hr_margin": ni["hr_margin"],
            },
            "logrank": {
                set_key: {
                    endpoint: {
                        kind: {
                            k: r[k]
                            for k in ("chisq", "df", "p", "o_minus_e", "variance", "by_arm", "n", "events")
                            + ("dropped", "stratified_by", "reason")
                        }
                        for kind, r in tests.items()
                    }
                    for endpoint, tests in by_endpoint.items()
                }
                for set_key, by_endpoint in lr.items()
            },
            "look": {
                k: it["look"][k]
                for k in (
                    "look_number",
                    "on_record",
                    "looks_held_before",
                    "information_fraction",
                    "current_boundary",
                    "primary_criterion",
                    "conclusion",
                    "crossed",
                    "hazard_ratio",
                    "difference",
                    "conditional_power",
                    "futility_guide",
                )
            },
            "design_check": it["design_check"],
            "dfs_censoring": [
                {k: (int(v) if isinstance(v, (int, float)) and k != "arm" else v) for k, v in r.items()}
                for r in dfs_censoring(con, viewer)
            ],
            "interim": {
                "expected_deaths_final": it["expected_deaths_final"],
                "observed_deaths": it["observed_deaths"],
                "information_fraction": it["information_fraction"],
                "planned": [{k: b[k] for k in ("fraction", "z_boundary", "cumulative_alpha")} for b in it["planned"]],
                "z_statistic": it["z_statistic"],
                "conditional_power_trend": it["conditional_power_trend"],
                "conditional_power_design": it["conditional_power_design"],
            },
        },
    }


# --- the closed pages' tables and messages, as people read them -------------------------------

# Each count of safety_counts and the count it is a share of (subjects of the arm, operated, with
# pathology); the by-system-organ-class counts are tabulated apart.
_DENOMINATOR = {"operated": "subjects", "with_pathology": "operated", "positive_margin": "with_pathology"}


# the counts trial.toml [labels.columns] may not name, in words (translated where shown)
_COUNT_NAMES = {"subjects": N_("Subjects"), "operated": N_("Operated")}


def _count_label(key: str, cfg: TrialConfig) -> str:
    if key.startswith("death_") and key.endswith("d") and not words.is_labelled(key, cfg):
        return _("Death within {days} days of surgery").format(days=key[6:-1])
    if key in _COUNT_NAMES and not words.is_labelled(key, cfg):
        return _(_COUNT_NAMES[key])
    return words.column(key, cfg)


def _denominator(key: str) -> str:
    if key in _DENOMINATOR:
        return _DENOMINATOR[key]
    if key.startswith(("death_", "clavien_")):
        return "operated"
    return "subjects"


def count_table(saf: dict, cfg: TrialConfig | None = None) -> pd.DataFrame:
    """The closed safety page's counts by arm: one row per count, labelled (trial.toml
    [labels.columns]), each arm's cell "n (x.x%)" of its denominator (the arm's subjects; the
    operated for complications and early deaths; those with pathology for margins), and the
    denominator named. No code, no None: a count without data reads as the dash."""
    cfg = cfg or load_trial()
    keys = [k for k in next(iter(saf["by_arm"].values())) if k not in ("by_soc", "subjects")]
    count, of = _("Count"), _("Of")
    rows = []
    for key in ["subjects"] + keys:
        den_key = _denominator(key)
        row = {count: _count_label(key, cfg), of: "" if key == "subjects" else _count_label(den_key, cfg)}
        for arm in cfg.arms:
            label = fact(arm, "label")
            counts = saf["by_arm"][arm.code]
            value, den = counts.get(key), counts.get(den_key)
            if words.is_missing(value):
                row[label] = words.MISSING
            elif key == "subjects" or not den:
                row[label] = str(int(value))
            else:
                row[label] = f"{int(value)} ({100 * value / den:.1f}%)"
        rows.append(row)
    out = pd.DataFrame(rows)
    out.loc[0, of] = words.MISSING
    return out


def signal_table(saf: dict, cfg: TrialConfig | None = None) -> pd.DataFrame:
    """The signals by arm for the closed safety page: signal, flag (first, so that it is in view on a
    laptop screen; naming the arm and the rule that flagged it), each arm's "events/n (x.x%)", the
    risk difference with its 95% CI and the threshold."""
    cfg = cfg or load_trial()
    exp, ref = _experimental(cfg)
    sig = saf["signal_differences"]

    def pct(x) -> str:
        return words.MISSING if words.is_missing(x) else f"{100 * x:.1f}%"

    rules = {
        "threshold": _("above threshold"),
        "any event": _("any event"),
        "threshold and any event": _("threshold and any event"),
    }

    def rule(r) -> str:
        return rules.get(r, r or "")

    rows = []
    for r in sig.to_dict("records"):
        flags = [
            _("{arm} ({rule})").format(arm=fact(arm, "label"), rule=rule(r[f"flag_rule_{side}"]))
            for arm, side in ((exp, "exp"), (ref, "ref"))
            if r[f"flagged_{side}"]
        ]
        threshold = r["threshold"]
        rows.append(
            {
                _("Signal"): r["signal"],
                _("Flagged"): _("; ").join(flags) or words.MISSING,
                fact(exp, "label"): f"{r['events_exp']}/{r['n_exp']} ({pct(r['p_exp'])})",
                fact(ref, "label"): f"{r['events_ref']}/{r['n_ref']} ({pct(r['p_ref'])})",
                _("Difference (95% CI)"): _("{estimate} ({lower} to {upper})").format(
                    estimate=pct(r["difference"]), lower=pct(r["lower"]), upper=pct(r["upper"])
                )
                if not words.is_missing(r["difference"])
                else _("not estimable"),
                _("Threshold (assumed)"): _("none: any event flags") if words.is_missing(threshold) else pct(threshold),
            }
        )
    return pd.DataFrame(rows)


def _small(p: float) -> str:
    """A probability to 4 decimals, or in scientific notation when it would read as 0.0000."""
    return f"{p:.4f}" if p >= 1e-4 or p == 0 else f"{p:.1e}"


def boundary_table(rows: list[dict] | None, cfg: TrialConfig | None = None) -> pd.DataFrame:
    """Group sequential boundaries (views.closed.interim "planned" or "actual") for a page: the
    information fraction as a percentage, the boundary z, cumulative alpha and nominal p, and
    whether the look is held or still to come; the columns labelled (trial.toml)."""
    cfg = cfg or load_trial()
    out = []
    for b in rows or []:
        row = {
            words.column("fraction", cfg): f"{b['fraction']:.0%}",
            words.column("z_boundary", cfg): f"{b['z_boundary']:.2f}" if math.isfinite(b["z_boundary"]) else "∞",
            words.column("cumulative_alpha", cfg): _small(b["cumulative_alpha"]),
            words.column("nominal_p", cfg): _small(b["nominal_p"]),
        }
        if "held" in b:
            row[words.column("held", cfg)] = _("held (this look or before)") if b["held"] else _("to come")
        out.append(row)
    return pd.DataFrame(out)


def difference_message(ni_set: dict, cfg: TrialConfig | None = None) -> str | None:
    """Why the landmark OS difference of one analysis set is not estimable, in words with the arms'
    labels and their longest follow-up; None when it is estimable."""
    cfg = cfg or load_trial()
    diff = ni_set["difference"]
    if diff.get("difference") is not None:
        return None
    months = cfg.design.landmark_months
    if ni_set["n"] == 0:
        return _("The {months}-month OS difference is not estimable: no subjects in this set.").format(months=months)
    longest = ni_set.get("longest_follow_up_days") or {}
    exp, ref = _experimental(cfg)
    parts = []
    for arm in (exp, ref):
        days = longest.get(arm.code)
        label = fact(arm, "label")
        parts.append(
            _("{arm}: no subjects").format(arm=label)
            if days is None
            else _("{arm} {months} months").format(arm=label, months=number(days / cfg.trial.days_per_month, 1))
        )
    if all(d is not None and d < months * cfg.trial.days_per_month for d in longest.values()) and longest:
        why = _("no subject has been followed for {months} months yet").format(months=months)
    elif diff.get("reasons"):
        # survival_difference's arm A is the experimental arm, B the reference: named by their labels
        from dashboard.stats.comparison import difference_reason

        why = difference_reason(diff["reasons"], {"a": fact(exp, "label"), "b": fact(ref, "label")})
    else:
        why = diff.get("reason") or _("the Kaplan-Meier estimate or its standard error is not defined")
    return _("The {months}-month OS difference is not estimable yet: {why} (longest follow-up: {longest}).").format(
        months=months, why=why, longest=_("; ").join(parts)
    )


def marker_table(table: pd.DataFrame, cfg: TrialConfig | None = None) -> pd.DataFrame:
    """A de-escalation marker's table (surgical_quality "markers") for a page: its codes as people
    read them (trial.toml [labels.codes]: GT HALF -> More than half, Y -> Yes), the arms' labels."""
    cfg = cfg or load_trial()
    out = table.rename(columns={a.code: fact(a, "label") for a in cfg.arms})
    out.index = [_(NOT_RECORDED) if v == NOT_RECORDED else words.code(v, cfg) for v in out.index]
    return out.reset_index(names=_("Recorded"))


def exclusions_table(excluded: pd.DataFrame, cfg: TrialConfig | None = None) -> pd.DataFrame:
    """The per-protocol exclusions for a page: arm labels, not codes, and labelled columns."""
    cfg = cfg or load_trial()
    out = excluded.copy()
    labels = {a.code: fact(a, "label") for a in cfg.arms}
    if "arm" in out:
        out["arm"] = out["arm"].map(
            lambda v: words.MISSING if words.is_missing(v) else labels.get(v) or words.arm(v, cfg)
        )
    return words.frame(out, cfg)
