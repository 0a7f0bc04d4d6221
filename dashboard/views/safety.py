"""Pooled safety: adverse events, complications, early deaths, margins, local recurrence, and the
configured signals with their confidence intervals and site funnel plots.

Counts are subjects, not events. A windowed signal (within 30 days of surgery, ...) counts a
subject in its denominator only when the whole window lies before the cut-off or the event has
happened, so an early look is not biased low by subjects who have not had the time.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from dashboard.access import blinding
from dashboard.access.roles import Viewer
from dashboard.config import SafetySignal, TrialConfig, load_trial
from dashboard.i18n import _, fact, percent
from dashboard.store.data import fetch
from dashboard.views.text import suppressed_columns, suppression

# The day a windowed signal's window starts from, as a column of views/safety_subjects.
WINDOW_SINCE = {"surgery": "days_since_surgery", "randomization": "days_since_randomization"}


# Signal sources that are pooled-only (crf_spec.toml visibility "pooled"): the blinded file has
# their counts per site (pooled_by_site), not the subject-level column; closed views add it.
POOLED_SOURCES = {"positive_margin"}


def subjects(con: duckdb.DuckDBPyConnection, viewer: Viewer) -> pd.DataFrame:
    return fetch(con, "views/safety_subjects", site=viewer.site_filter)


def pooled_margin(con: duckdb.DuckDBPyConnection, viewer: Viewer) -> tuple[int, int] | None:
    """(with pathology, positive margin) of the viewer's population from the build's pooled
    counts; None when the build withheld them."""
    df = fetch(con, "views/pooled_margin", site=viewer.site_filter)
    if df.empty or pd.isna(df.n.iloc[0]):
        return None
    return int(df.n.iloc[0]), int(df.events.iloc[0])


def signal_columns(df: pd.DataFrame, signal: SafetySignal) -> tuple[pd.Series, pd.Series]:
    """(in the denominator, had the event) per subject, for one configured signal."""
    if signal.source not in df:
        raise KeyError(
            _(
                "trial.toml safety signal {name}: source {source} is not a column of "
                "queries/views/safety_subjects.sql ({columns})"
            ).format(name=signal.name, source=repr(signal.source), columns=", ".join(df.columns))
        )
    source = df[signal.source]
    population = {
        "randomized": pd.Series(True, index=df.index),
        "operated": df.operated.astype(bool),
        "with_pathology": df.with_pathology.astype(bool),
    }[signal.population]
    if signal.window_days is None:
        event = source.fillna(False).astype(bool)
        return population, event & population
    day = pd.to_numeric(source, errors="coerce")
    event = day.between(0, signal.window_days).fillna(False) & population
    complete = pd.to_numeric(df[WINDOW_SINCE[signal.window_from]], errors="coerce") >= signal.window_days
    return population & (complete.fillna(False) | event), event


def signals(df: pd.DataFrame, cfg: TrialConfig, pooled: dict[str, tuple[int, int] | None] | None = None) -> list[dict]:
    """Each configured signal: observed rate, exact 95% CI, threshold, flagged. A pooled-only
    source missing from `df` takes its (n, events) from `pooled`; None there: not shown.
    `label` and `flag_reason` are in the reader's language; `name` and `flag_rule` are codes."""
    from dashboard.stats.rates import proportion_ci

    out = []
    for s in cfg.safety_signals:
        if s.source not in df and s.source in (pooled or {}):
            n, x = pooled[s.source] or (0, 0)
        else:
            denominator, event = signal_columns(df, s)
            n, x = int(denominator.sum()), int(event.sum())
        observed, lower, upper = proportion_ci(x, n)
        above = s.threshold is not None and observed is not None and observed > s.threshold
        any_event = s.flag_any and x > 0
        out.append(
            {
                "name": s.name,
                "label": fact(s, "label"),
                "events": x,
                "n": n,
                "observed": observed,
                "lower": lower,
                "upper": upper,
                "threshold": s.threshold,
                "flagged": bool(above or any_event),
                # which rule flagged it: "threshold", "any event" (flag_any), both, or None
                "flag_rule": " and ".join(rule for rule, hit in (("threshold", above), ("any event", any_event)) if hit)
                or None,
                "flag_reason": _flag_reason(above, any_event, s.threshold),
                "window_days": s.window_days,
                "population": s.population,
                "assumed": s.assumed,
            }
        )
    return out


def _flag_reason(above: bool, any_event: bool, threshold: float | None) -> str | None:
    """Why a signal is flagged, in words: which rule (above its threshold; any event, trial.toml
    flag_any), so that a flag below the threshold is not read as the threshold crossed."""
    if above and any_event:
        return _("above the threshold and any event is a signal")
    if above:
        return _("above the threshold")
    if any_event:
        if threshold is None:
            return _("any event is a signal (no threshold)")
        return _("any event is a signal (flagged by that rule, not by the {threshold} threshold)").format(
            threshold=percent(threshold, 1)
        )
    return None


def signal_rows(sig: list[dict]) -> list[dict]:
    """The signals table of the safety page: one row per signal, the flag naming its rule."""
    from dashboard.outputs.labels import MISSING

    def pct(x) -> str:
        return MISSING if x is None or pd.isna(x) else f"{100 * x:.1f}%"

    flag_text = {
        "threshold": _("flagged: above the threshold"),
        "any event": _("flagged: any event"),
        "threshold and any event": _("flagged: threshold and any event"),
    }
    rows = []
    for s in sig:
        rule = s.get("flag_rule")
        rows.append(
            {
                _("signal"): s["label"],
                _("subjects with event"): s["events"],
                _("denominator"): s["n"],
                _("observed (95% exact CI)"): _("{observed} ({lower} to {upper})").format(
                    observed=pct(s["observed"]), lower=pct(s["lower"]), upper=pct(s["upper"])
                ),
                _("threshold (assumed)"): pct(s["threshold"])
                if s["threshold"] is not None
                else _("none: any event flags"),
                _("flag"): MISSING if not s["flagged"] else flag_text.get(rule, _("flagged")),
            }
        )
    return rows


def immune_note(counts: dict) -> str:
    """Why the headline immune-related grade 3+ count and the immune signal may differ: the
    headline counts such an event at any time, the signal (trial.toml) only during neoadjuvant
    therapy."""
    total, neo = counts["immune_grade3plus"], counts.get("immune_grade3plus_neoadjuvant")
    if neo is None:
        return _("Immune-related grade 3+: subjects with such an event at any time.")
    if total == neo:
        return _(
            "Immune-related grade 3+: {total} subject(s) with such an event at any time; {neo} of them "
            "during neoadjuvant therapy, which is what the immune-related signal counts (the same subjects)."
        ).format(total=total, neo=neo)
    return _(
        "Immune-related grade 3+: {total} subject(s) with such an event at any time; {neo} of them "
        "during neoadjuvant therapy, which is what the immune-related signal counts ({after} only after it)."
    ).format(total=total, neo=neo, after=total - neo)


def soc_table(soc: pd.DataFrame) -> pd.DataFrame:
    """soc_by_grade with the columns as people read them (System organ class, Grade 1..5, Total)."""
    names = {
        "soc": _("System organ class"),
        "total": _("Total"),
        **{g: _("Grade {grade}").format(grade=g) for g in (1, 2, 3, 4, 5)},
    }
    return soc.rename(columns=names)


def pooled(con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None) -> dict:
    """The pooled counts (subjects) and the signals, or why they are suppressed."""
    cfg = cfg or load_trial()
    check = blinding.population_check(con, viewer.site_filter, cfg)
    if not check.ok:
        # the reason in the reader's language for the page; the rule's own words for the summary
        return {"suppressed": suppression(check.reason), "suppressed_code": check.reason}
    df = subjects(con, viewer)
    soc = fetch(con, "views/ae_by_soc_grade", site=viewer.site_filter)
    margin = pooled_margin(con, viewer)
    counts = safety_counts(df, soc, cfg, soc_order="frequency", margin=margin)
    # aggregates only: the result is cached and copied into every page run, and subject-level
    # frames made it 8 MB at 35,600 subjects (30 ms of unpickling per run)
    return {
        "pooled": counts,
        "signals": signals(df, cfg, {"positive_margin": margin}),
        "soc_by_grade": soc_by_grade(soc),
    }


def complication_key(cfg: TrialConfig) -> str:
    return f"clavien_3a_plus_{cfg.safety.complication_window_days}d"


def safety_counts(
    df: pd.DataFrame,
    soc: pd.DataFrame,
    cfg: TrialConfig,
    soc_order: str = "frequency",
    margin: tuple[int, int] | None = None,
) -> dict:
    """Subjects with each kind of event among the subjects of `df` (views/safety_subjects) and
    their AEs by system organ class (`soc`, views/ae_by_soc_grade): the counts of the pooled safety
    page, and of each arm on the closed one. Early deaths within each of trial.toml
    safety.early_death_days of surgery, Clavien-Dindo IIIA+ within complication_window_days.
    `soc_order`: "frequency" (most subjects first) or "name". Margins come from `df` when it has
    them (closed views), else from `margin` (with pathology, positive), the build's pooled counts."""
    if "positive_margin" in df:
        margin = (int(df.with_pathology.sum()), int(df.positive_margin.sum()))
    death_day = pd.to_numeric(df.death_day_after_surgery, errors="coerce")
    clav_day = pd.to_numeric(df.first_clavien_3a_plus_day, errors="coerce")
    by_soc = soc.groupby("soc").subjid.nunique()
    if soc_order == "frequency":
        by_soc = by_soc.sort_values(ascending=False)
    return {
        "subjects": len(df),
        "any_ae": int(df.any_ae.sum()),
        "grade3plus": int(df.grade3plus.sum()),
        "serious": int(df.serious.sum()),
        "immune_grade3plus": int(df.immune_grade3plus.sum()),
        "immune_grade3plus_neoadjuvant": int(df.immune_grade3plus_neoadjuvant.sum()),
        "operated": int(df.operated.sum()),
        complication_key(cfg): int(clav_day.between(0, cfg.safety.complication_window_days).sum()),
        **{f"death_{d}d": int(death_day.between(0, d).sum()) for d in sorted(set(cfg.safety.early_death_days))},
        "with_pathology": margin[0] if margin else None,
        "positive_margin": margin[1] if margin else None,
        "by_soc": {k: int(v) for k, v in by_soc.items()},
    }


def soc_by_grade(soc: pd.DataFrame) -> pd.DataFrame:
    """Subjects per system organ class by their worst grade in it (rows: SOC, columns: grade 1-5)."""
    if soc.empty:
        return pd.DataFrame(columns=["soc", 1, 2, 3, 4, 5, "total"])
    table = soc.pivot_table(index="soc", columns="worst_grade", values="subjid", aggfunc="nunique", fill_value=0)
    table = table.reindex(columns=[1, 2, 3, 4, 5], fill_value=0)
    table["total"] = table.sum(axis=1)
    return table.sort_values("total", ascending=False).reset_index()


def site_funnel(
    con: duckdb.DuckDBPyConnection, df: pd.DataFrame, signal: SafetySignal, cfg: TrialConfig | None = None
) -> pd.DataFrame:
    """Per site: events, denominator and rate of one signal, blinding-suppressed (sites that are
    one arm or too small are merged), with exact binomial funnel limits around the pooled rate."""
    from dashboard.stats.rates import funnel_flags

    cfg = cfg or load_trial()
    if signal.source not in df and signal.source in POOLED_SOURCES:
        # counted per site by the build, the cell rule applied there
        per_site = fetch(con, "views/pooled_margin_by_site").rename(columns={"merged_sites": "merged_groups"})
        per_site["suppressed"] = [None if pd.notna(n) else blinding.WITHHELD for n in per_site.n]
        total = pooled_margin(con, Viewer("pi"))
        total_n, total_x = total or (0, 0)
    else:
        denominator, event = signal_columns(df, signal)
        per_site = (
            pd.DataFrame({"siteid": df.siteid, "n": denominator.astype(int), "events": event.astype(int)})
            .groupby("siteid", as_index=False)
            .sum()
        )
        per_site = blinding.suppress_by_group(
            per_site, "siteid", "site", [], con, cfg, merge=True, sum_columns=["n", "events"]
        )
        total_n, total_x = int(denominator.sum()), int(event.sum())
    shown = per_site[per_site.suppressed.isna() & (per_site.n > 0)].copy()
    shown = shown.astype({"n": int, "events": int})
    p0 = total_x / total_n if total_n else np.nan
    shown["rate"] = shown.events / shown.n
    if len(shown) and total_n and 0 < p0 < 1:
        shown["flag"] = funnel_flags(
            shown.events.to_numpy(int), shown.n.to_numpy(int), p0, level=max(cfg.safety.funnel_confidence)
        )
    else:
        shown["flag"] = "within"
    hidden = per_site[per_site.suppressed.notna()]
    out = pd.concat([shown, hidden], ignore_index=True)
    out["p0"] = p0  # a column, not attrs: it survives the cache's pickling
    return suppressed_columns(out)


def signal_by_site(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, signal_name: str, cfg: TrialConfig | None = None
) -> pd.DataFrame:
    """site_funnel for a configured signal by name (the page's entry point)."""
    cfg = cfg or load_trial()
    signal = next(s for s in cfg.safety_signals if s.name == signal_name)
    return site_funnel(con, subjects(con, viewer), signal, cfg)


def summary_part(result: dict) -> dict:
    if "suppressed" in result:
        return {"suppressed": result.get("suppressed_code", result["suppressed"])}
    return {
        "pooled": result["pooled"],
        "signals": [
            {k: s[k] for k in ("name", "observed", "lower", "upper", "threshold", "flagged", "events", "n")}
            for s in result["signals"]
        ],
    }
