"""Protocol deviations: eligibility computed from the data, stage, windows, site-reported ones."""

from __future__ import annotations

import duckdb

from dashboard.access.roles import Viewer
from dashboard.config import TrialConfig, load_trial
from dashboard.store.data import fetch
from dashboard.views.text import localized, suppressed_columns

WINDOW_NAMES = [
    "response_imaging",
    "consent_to_randomization",
    "randomization_to_surgery",
    "surgery_to_adjuvant",
    "followup_visit",
]


def deviations(con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None) -> dict:
    cfg = cfg or load_trial()
    site = viewer.site_filter
    violations = fetch(con, "views/eligibility_violations", site=site)
    eligibility = {
        c.code: sorted(violations.loc[violations.code == c.code, "subjid"].unique().tolist()) for c in cfg.eligibility
    }
    eligibility["STAGE_MISMATCH"] = sorted(fetch(con, "views/stage_mismatches", site=site).subjid.tolist())
    eligibility["IE_DISAGREES"] = sorted(
        fetch(con, "views/eligibility_disagreements", site=site).subjid.unique().tolist()
    )
    windows = fetch(con, "views/window_deviations", site=site)
    reported = fetch(con, "views/reported_deviations", site=site)
    return {
        "eligibility": eligibility,
        "windows": {w: sorted(windows.loc[windows.window_name == w, "subjid"].unique().tolist()) for w in WINDOW_NAMES},
        "reported": {
            "total": int(reported.n.sum()),
            "by_category": {k: int(v) for k, v in reported.groupby("category").n.sum().items()},
            "by_severity": {k: int(v) for k, v in reported.groupby("severity").n.sum().items()},
        },
    }


# ---------------------------------------------------------------- deviations page
def by_criterion(con: duckdb.DuckDBPyConnection, viewer: Viewer):
    """Per criterion: subjects breaking it, where the site disagrees, undecided, unanswered."""
    return fetch(con, "views/eligibility_by_criterion", site=viewer.site_filter)


def listings(con: duckdb.DuckDBPyConnection, viewer: Viewer) -> dict:
    """Subject-level listings (for roles that see subject listings). An eligibility check's
    detail is in the reader's language (the build wrote detail_zh beside it)."""
    site = viewer.site_filter
    return {
        "eligibility": localized(fetch(con, "views/eligibility_violations", site=site), "detail"),
        "disagreements": localized(fetch(con, "views/eligibility_disagreements", site=site), "detail"),
        "stage": fetch(con, "views/stage_mismatches", site=site),
        "windows": fetch(con, "views/window_deviations", site=site),
        "reported": fetch(con, "views/deviation_listing", site=site),
    }


def by_site(con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None):
    """Per site, per randomized subject: site-reported deviations (all, major) and subjects with a
    window deviation. Deviations after randomization are outcomes under the blinding rule, so
    sites that are one arm or smaller than the minimum cell are merged or suppressed: `suppressed`
    says why in the reader's language (`suppressed_code`: the rule's words), `site_label` names the
    site (the merged row in words; `siteid` stays the code)."""
    from dashboard.access import blinding
    from dashboard.stats.rates import funnel_flags

    cfg = cfg or load_trial()
    df = fetch(con, "views/deviations_by_site", site=viewer.site_filter)
    df = blinding.suppress_by_group(
        df,
        "siteid",
        "site",
        [],
        con,
        cfg,
        merge=True,
        sum_columns=["randomized", "reported", "major", "eligibility_subjects", "window_subjects"],
    )
    shown = df.suppressed.isna() & (df.randomized.fillna(0) > 0)
    df.loc[shown, "reported_per_subject"] = df.loc[shown, "reported"] / df.loc[shown, "randomized"]
    df.loc[shown, "window_rate"] = df.loc[shown, "window_subjects"] / df.loc[shown, "randomized"]
    n = df.loc[shown, "randomized"].astype(int).to_numpy()
    x = df.loc[shown, "window_subjects"].astype(int).to_numpy()
    p0 = x.sum() / n.sum() if n.sum() else 0.0
    df["window_flag"] = None
    if len(n) and 0 < p0 < 1:
        df.loc[shown, "window_flag"] = funnel_flags(x, n, p0, level=max(cfg.safety.funnel_confidence))
    df["window_p0"] = p0  # a column, not attrs: it survives the cache's pickling
    return suppressed_columns(df)
