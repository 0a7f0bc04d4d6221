"""Accrual, screening and allocation: the figures of the accrual and arm-balance views."""

from __future__ import annotations

import duckdb
import pandas as pd

from dashboard.access.roles import Viewer
from dashboard.config import TrialConfig, load_trial
from dashboard.store.data import fetch


def _iso(value) -> str | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date().isoformat()


def data_cut(con: duckdb.DuckDBPyConnection) -> dict:
    row = fetch(con, "views/data_cut").iloc[0]
    return {
        "cutoff": _iso(row.cutoff_date),
        "exported": str(pd.Timestamp(row.exported)),
        "source": row.source,
        "is_demo": bool(row.is_demo),
        "build_id": row.build_id,
    }


def enrollment(con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None) -> dict:
    """Screened, screen failures and their reasons, randomized against the target, by site."""
    cfg = cfg or load_trial()
    site = viewer.site_filter
    totals = fetch(con, "views/screening_totals", site=site).iloc[0]
    reasons = fetch(con, "views/screen_failure_reasons", site=site)
    by_site = fetch(con, "views/enrollment_by_site", site=site)
    randomized = int(fetch(con, "views/randomized_total", site=site).iloc[0, 0])
    return {
        "screened": int(totals.screened),
        "screen_failures": int(totals.screen_failures),
        "screening_pending": int(totals.pending),
        "randomized": randomized,
        "target": cfg.trial.target_enrollment,
        "screen_failure_reasons": {r.reason: int(r.n) for r in reasons.itertuples()},
        "by_site": {
            r.siteid: {
                "name": r.sitename,
                "screened": int(r.screened),
                "randomized": int(r.randomized),
                "activated": _iso(r.activated),
                "first_randomized": _iso(r.first_randomized),
            }
            for r in by_site.itertuples()
        },
    }


def _arm_counts(row, cfg: TrialConfig) -> dict[str, int | None]:
    """A cell's counts by arm; None for a cell the cell rule withholds (its total is still shown:
    accrual is not by arm)."""
    values = {a.code: getattr(row, f"n_{a.key}") for a in cfg.arms}
    return {k: None if pd.isna(v) else int(v) for k, v in values.items()}


def allocation(con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None) -> dict:
    """Randomized by arm overall, by site and by stratum. Allocation counts are not outcomes."""
    cfg = cfg or load_trial()
    site = viewer.site_filter
    sites = fetch(con, "views/allocation", grouping="site")
    if site:
        sites = sites[sites.group_value == site]
        overall = sites
        strata = fetch(con, "views/allocation", grouping="site_stratum")
        strata = strata[strata.group_value.str.startswith(site + "|")].copy()
        strata["group_value"] = strata.group_value.str.slice(len(site) + 1)
    else:
        overall = fetch(con, "views/allocation", grouping="overall")
        strata = fetch(con, "views/allocation", grouping="stratum")
    by_arm: dict[str, int | None] = {a.code: 0 for a in cfg.arms}
    for row in overall.itertuples():
        for code, n in _arm_counts(row, cfg).items():
            by_arm[code] = None if n is None or by_arm[code] is None else by_arm[code] + n
    return {
        "by_arm": by_arm,
        "by_site": {r.group_value: _arm_counts(r, cfg) for r in sites.itertuples()},
        "by_stratum": {r.group_value: _arm_counts(r, cfg) for r in strata.itertuples()},
    }


# ---------------------------------------------------------------- accrual page
def site_table(con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None) -> pd.DataFrame:
    """Per site: activation, screened, randomized, screen-failure rate, patients per month since
    activation, days since the last randomization (at the cut-off)."""
    cfg = cfg or load_trial()
    cut = pd.Timestamp(fetch(con, "views/data_cut").cutoff_date.iloc[0])
    df = fetch(con, "views/enrollment_by_site", site=viewer.site_filter)
    activated = pd.to_datetime(df.activated)
    months_active = (cut - activated).dt.days / cfg.trial.days_per_month
    df["screen_failure_rate"] = (df.screen_failures / df.screened).where(df.screened > 0)
    df["per_month"] = (df.randomized / months_active).where(months_active > 0)
    df["days_since_last"] = (cut - pd.to_datetime(df.last_randomized)).dt.days
    return df


def flow(con: duckdb.DuckDBPyConnection, viewer: Viewer) -> dict:
    """CONSORT-style counts from screening to follow-up."""
    row = fetch(con, "views/consort_flow", site=viewer.site_filter).iloc[0]
    return {k: int(v) for k, v in row.items()}


def accrual(con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None) -> dict:
    """Cumulative randomized, the planned line, and the projected completion date."""
    from dashboard.stats.accrual import cumulative_accrual, planned_accrual, project_completion

    cfg = cfg or load_trial()
    cut = pd.Timestamp(fetch(con, "views/data_cut").cutoff_date.iloc[0]).date()
    dates = fetch(con, "views/randomization_dates", site=viewer.site_filter).randomization_date
    dates = [pd.Timestamp(d).date() for d in dates]
    sites = fetch(con, "views/sites", site=viewer.site_filter)
    activations = pd.to_datetime(sites.activated).dropna()
    start = activations.min().date() if len(activations) else cfg.trial.start
    target = cfg.trial.target_enrollment
    planned_months = cfg.design.accrual_months
    if viewer.site_filter:
        # one site's share of the target: its own target, if the site has one
        t = sites.target.iloc[0] if len(sites) else None
        target = int(t) if t is not None and not pd.isna(t) else None
    out = {"cumulative": cumulative_accrual(dates), "start": start, "cutoff": cut, "target": target}
    if target:
        out["planned"] = planned_accrual(start, target, planned_months, cfg.trial.days_per_month)
        out["projection"] = project_completion(
            dates, start, cut, target, planned_months, days_per_month=cfg.trial.days_per_month
        )
    return out


# ---------------------------------------------------------------- arm balance page
def allocation_over_time(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None
) -> pd.DataFrame:
    """Cumulative randomized per arm by month of randomization (allocation, not outcome)."""
    cfg = cfg or load_trial()
    months = fetch(con, "views/allocation", grouping="month").sort_values("group_value")
    out = pd.DataFrame({"month": months.group_value})
    for a in cfg.arms:
        out[a.code] = months[f"n_{a.key}"].cumsum().to_numpy()
    return out


def imbalance(con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None) -> dict:
    """The largest difference between arms within a stratum and within a site.

    With 1:1 permuted blocks of size b within strata, the difference within a stratum never
    exceeds b/2; a larger one means the randomization was not followed. Sites are not a
    stratification factor here, so within a site there is no such bound.
    """
    cfg = cfg or load_trial()
    a = allocation(con, viewer, cfg)
    codes = cfg.arm_codes[:2]

    def worst(groups: dict) -> dict:
        # cells the cell rule withholds have no counts by arm here (the closed session has them)
        groups = {k: v for k, v in groups.items() if None not in (v[codes[0]], v[codes[1]])}
        if not groups:
            return {"group": None, "difference": 0}
        key = max(groups, key=lambda k: abs(groups[k][codes[0]] - groups[k][codes[1]]))
        return {"group": key, "difference": abs(groups[key][codes[0]] - groups[key][codes[1]]), "counts": groups[key]}

    return {
        "stratum": worst(a["by_stratum"]),
        "site": worst(a["by_site"]),
        "block_size": cfg.randomization.block_size,
        "stratum_bound": cfg.randomization.block_size // 2,
    }


def baseline(con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None) -> dict:
    """Baseline characteristics of the randomized, pooled: age summary and counts per category."""
    cfg = cfg or load_trial()
    df = fetch(con, "views/baseline_randomized", site=viewer.site_filter)
    n = len(df)
    out: dict = {"n": n}
    if n:
        age = df.age_at_consent.dropna()
        out["age"] = {
            "median": float(age.median()),
            "q1": float(age.quantile(0.25)),
            "q3": float(age.quantile(0.75)),
            "min": int(age.min()),
            "max": int(age.max()),
        }
    for col, label in [
        ("sex", "Sex"),
        ("ecog", "ECOG"),
        ("primary_site", "Primary site"),
        ("p16", "p16 (oropharynx)"),
        ("stage_computed", "Stage (AJCC 8th, recomputed)"),
        ("response_at_randomization", "Response"),
        ("smoking", "Smoking"),
    ]:
        series = df[col]
        if col == "p16":
            series = df.loc[df.primary_site.isin(cfg.trial.p16_staged_sites), col]
        counts = series.fillna("missing").astype(str).value_counts()
        out[col] = {"label": label, "counts": {k: int(v) for k, v in counts.sort_index().items()}}
    return out
