"""Pooled survival (overall and disease-free) over both arms: the figures of the survival page.

No arm exists in the blinded warehouse; a population that is one site is checked against the
blinding rule first (dashboard.access.blinding) and not analysed when it breaks it.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from dashboard.access import blinding
from dashboard.access.roles import Viewer
from dashboard.config import TrialConfig, load_trial
from dashboard.i18n import N_, _, number
from dashboard.store.data import fetch
from dashboard.views.text import suppression

# (days, event, excluded, name): the name in English, translated where shown (`_(ENDPOINTS[e][3])`)
ENDPOINTS = {
    "os": ("os_days", "os_event", "os_excluded_reason", N_("Overall survival")),
    "dfs": ("dfs_days", "dfs_event", "dfs_excluded_reason", N_("Disease-free survival")),
}
CONF_TYPE = "log-log"
_CONF_TEMPLATE = N_(
    "95% pointwise confidence band by Greenwood's variance on the log(-log) scale "
    '(R survfit conf.type = "log-log"; lifelines\' default); curves stop where fewer than '
    "{minimum} subjects remain at risk"
)


def conf_text(cfg: TrialConfig | None = None) -> str:
    """The confidence band and where the curves stop, in the reader's language."""
    cfg = cfg or load_trial()
    return _(_CONF_TEMPLATE).format(minimum=cfg.blinding.min_cell_size)


CONF_TEXT = _CONF_TEMPLATE.format(minimum=load_trial().blinding.min_cell_size)
"""conf_text() in English, as it was made at import (callers that translate should call conf_text)."""


def landmarks_days(cfg: TrialConfig) -> dict[str, float]:
    """Landmark label (months) -> time in days: M months = M x 30.4375 days."""
    return {str(m): m * cfg.trial.days_per_month for m in cfg.design.landmarks_months}


def survival_times(con: duckdb.DuckDBPyConnection, viewer: Viewer) -> pd.DataFrame:
    return fetch(con, "views/survival_times", site=viewer.site_filter)


def km_summary(times: pd.DataFrame, endpoint: str, cfg: TrialConfig, conf_type: str = CONF_TYPE) -> dict:
    """Kaplan-Meier of one endpoint on the subjects given: the summary's shape plus the curve."""
    from dashboard.stats.survival import kaplan_meier

    days, event, excluded, _label = ENDPOINTS[endpoint]
    usable = times[times[excluded].isna() & times[days].notna()]
    km = kaplan_meier(
        usable[days].to_numpy(dtype=float),
        usable[event].to_numpy(dtype=bool),
        landmarks=landmarks_days(cfg),
        conf_type=conf_type,
    )
    # Curves stop where fewer than the minimum cell remain at risk (Pocock, Clayton & Altman 2002,
    # Lancet 359:1686): a tail carried by one or two subjects misleads, and small cells are
    # exactly what the blinding rule keeps off the screen.
    t = usable[days].to_numpy(dtype=float)
    curve = km["curve"]
    enough = [x for x in curve["time"] if (t >= x).sum() >= cfg.blinding.min_cell_size]
    if enough:
        curve = curve[curve["time"] <= max(enough)].reset_index(drop=True)
    median = km["median"]
    median_at_risk = int((t >= median).sum()) if median is not None else None
    return {
        "n": int(km["n"]),
        "events": int(km["events"]),
        "median_days": median,
        "median_lower": km["median_lower"],
        "median_upper": km["median_upper"],
        "median_at_risk": median_at_risk,
        "median_reliable": median_reliable(median, km["median_lower"], median_at_risk, cfg),
        "landmarks": {
            k: {"survival": v["survival"], "lower": v["lower"], "upper": v["upper"], "at_risk": int(v["at_risk"])}
            for k, v in km["landmarks"].items()
        },
        "excluded": int(len(times) - len(usable)),
        "curve": curve,
    }


def median_reliable(median: float | None, lower: float | None, at_risk: int | None, cfg: TrialConfig) -> bool:
    """Whether a Kaplan-Meier median may be shown as an estimate. The rule: the curve has reached
    50%, at least trial.toml blinding.min_cell_size subjects (5) are still at risk at the median
    (the same rule that stops the drawn curve, so the median lies on the curve people see), and
    the lower 95% confidence limit of the median is estimable (the lower confidence curve reaches
    50% too; the upper limit may be "not reached"). A median carried by a tail of one or two
    subjects has no interval and jumps with the next event: it is "not reliably estimated"."""
    return median is not None and lower is not None and (at_risk or 0) >= cfg.blinding.min_cell_size


def median_text(km: dict, cfg: TrialConfig) -> tuple[str, str]:
    """The median as a page shows it: (value, explanation). "x.x months" with its 95% CI in the
    explanation when median_reliable; "not reached"; or "not reliably estimated" saying why."""
    dpm = cfg.trial.days_per_month
    minimum = cfg.blinding.min_cell_size
    median = km.get("median_days")
    if median is None:
        return _("not reached"), _("The curve has not fallen to 50%.")
    if not km.get("median_reliable"):
        at_risk = km.get("median_at_risk") or 0
        return _("not reliably estimated"), _(
            "The curve falls to 50% at {months} months with {n} subject(s) at risk there "
            "(fewer than {minimum}, or no 95% confidence interval): a median is shown only where at least "
            "{minimum} subjects are at risk and its lower 95% limit is estimable."
        ).format(months=number(median / dpm, 1), n=at_risk, minimum=minimum)
    upper = km.get("median_upper")
    lower = number(km["median_lower"] / dpm, 1)
    if upper is None:
        note = _(
            "95% CI {lower} to not reached months (from the log-log pointwise band, as R's survfit prints it)."
        ).format(lower=lower)
    else:
        note = _(
            "95% CI {lower} to {upper} months (from the log-log pointwise band, as R's survfit prints it)."
        ).format(lower=lower, upper=number(upper / dpm, 1))
    return _("{months} months").format(months=number(median / dpm, 1)), note


def at_risk_table(times: pd.DataFrame, endpoint: str, every_months: int, cfg: TrialConfig) -> pd.DataFrame:
    """Numbers at risk (observed time >= t) every few months, to the longest follow-up."""
    days, _event, excluded, _name = ENDPOINTS[endpoint]
    t = times.loc[times[excluded].isna(), days].dropna().to_numpy(dtype=float)
    if len(t) == 0:
        return pd.DataFrame({"months": [0], "at_risk": [0]})
    last = int(np.floor(t.max() / cfg.trial.days_per_month / every_months)) * every_months
    months = np.arange(0, last + 1, every_months)
    return pd.DataFrame({"months": months, "at_risk": [int((t >= m * cfg.trial.days_per_month).sum()) for m in months]})


def pooled(con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None) -> dict:
    """Pooled OS and DFS, design comparison and median follow-up; or why it is suppressed."""
    from dashboard.stats.survival import expected_events, exponential_survival, reverse_km_median_follow_up

    cfg = cfg or load_trial()
    check = blinding.population_check(con, viewer.site_filter, cfg)
    if not check.ok:
        # the reason in the reader's language for the page; the rule's own words for the summary
        return {"suppressed": suppression(check.reason), "suppressed_code": check.reason}
    times = survival_times(con, viewer)
    out: dict = {}
    for endpoint in ENDPOINTS:
        out[endpoint] = {
            "pooled": {**km_summary(times, endpoint, cfg), "at_risk_table": at_risk_table(times, endpoint, 6, cfg)}
        }
    d = cfg.design
    at_time = d.landmark_months * cfg.trial.days_per_month
    usable = times[times.os_excluded_reason.isna()]
    out["design"] = {
        "expected_survival": d.expected_survival,
        "landmark_months": d.landmark_months,
        "observed_deaths": int(usable.os_event.sum()),
        "expected_deaths_by_now": float(
            expected_events(usable.potential_follow_up.to_numpy(dtype=float), d.expected_survival, at_time)
        ),
        "expected_deaths_final": d.expected_deaths_final,
    }
    grid = np.linspace(0, max(float(usable.os_days.max() or 0), 1.0), 120)
    out["design"]["curve"] = pd.DataFrame(
        {"time": grid, "survival": exponential_survival(grid, d.expected_survival, at_time)}
    )
    out["follow_up"] = reverse_km_median_follow_up(
        usable.os_days.to_numpy(dtype=float), usable.os_event.to_numpy(dtype=bool)
    )
    return out


def summary_part(result: dict) -> dict:
    """The JSON part of `pooled` for the summary command (no curves)."""
    if "suppressed" in result:
        return {"suppressed": result.get("suppressed_code", result["suppressed"])}
    out = {}
    for endpoint in ENDPOINTS:
        p = dict(result[endpoint]["pooled"])
        p.pop("curve")
        p.pop("at_risk_table")
        out[endpoint] = {"pooled": p}
    out["median_follow_up_days"] = result["follow_up"]["median"]
    out["design"] = {k: v for k, v in result["design"].items() if k != "curve"}
    return out
