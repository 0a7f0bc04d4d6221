"""Protocol deviations: eligibility computed from the data, stage, windows, site-reported ones."""
from __future__ import annotations

import duckdb

from dashboard.access import Viewer
from dashboard.config import TrialConfig, load_trial
from dashboard.data import fetch

WINDOW_NAMES = ["response_imaging", "consent_to_randomization", "randomization_to_surgery",
                "surgery_to_adjuvant", "followup_visit"]


def deviations(con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None) -> dict:
    cfg = cfg or load_trial()
    site = viewer.site_filter
    violations = fetch(con, "views/eligibility_violations", site=site)
    eligibility = {c.code: sorted(violations.loc[violations.code == c.code, "subjid"].unique().tolist())
                   for c in cfg.eligibility}
    eligibility["STAGE_MISMATCH"] = sorted(fetch(con, "views/stage_mismatches", site=site).subjid.tolist())
    eligibility["IE_DISAGREES"] = sorted(fetch(con, "views/eligibility_disagreements", site=site)
                                         .subjid.unique().tolist())
    windows = fetch(con, "views/window_deviations", site=site)
    reported = fetch(con, "views/reported_deviations", site=site)
    return {
        "eligibility": eligibility,
        "windows": {w: sorted(windows.loc[windows.window_name == w, "subjid"].unique().tolist())
                    for w in WINDOW_NAMES},
        "reported": {
            "total": int(reported.n.sum()),
            "by_category": {k: int(v) for k, v in reported.groupby("category").n.sum().items()},
            "by_severity": {k: int(v) for k, v in reported.groupby("severity").n.sum().items()},
        },
    }
