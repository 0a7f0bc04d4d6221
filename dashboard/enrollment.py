"""Accrual, screening and allocation: the figures of the accrual and arm-balance views."""
from __future__ import annotations

import duckdb
import pandas as pd

from dashboard.access import Viewer
from dashboard.config import TrialConfig, load_trial
from dashboard.data import fetch


def _iso(value) -> str | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date().isoformat()


def data_cut(con: duckdb.DuckDBPyConnection) -> dict:
    row = fetch(con, "views/data_cut").iloc[0]
    return {"cutoff": _iso(row.cutoff_date), "exported": str(pd.Timestamp(row.exported)),
            "source": row.source, "is_demo": bool(row.is_demo), "build_id": row.build_id}


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
            r.siteid: {"name": r.sitename, "screened": int(r.screened), "randomized": int(r.randomized),
                       "activated": _iso(r.activated), "first_randomized": _iso(r.first_randomized)}
            for r in by_site.itertuples()
        },
    }


def _arm_counts(row, cfg: TrialConfig) -> dict[str, int]:
    return {a.code: int(getattr(row, f"n_{a.key}")) for a in cfg.arms}


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
    by_arm = {a.code: 0 for a in cfg.arms}
    for row in overall.itertuples():
        for code, n in _arm_counts(row, cfg).items():
            by_arm[code] += n
    return {
        "by_arm": by_arm,
        "by_site": {r.group_value: _arm_counts(r, cfg) for r in sites.itertuples()},
        "by_stratum": {r.group_value: _arm_counts(r, cfg) for r in strata.itertuples()},
    }
