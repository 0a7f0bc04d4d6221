"""The summary a statistician can check: the figures the pages show for a role, as JSON.

Built from the same functions the pages call, on the warehouse the role may open.

Language-neutral (issue 15): its keys, codes and ISO dates are the same whatever the reader's
language, so it is built in the source language (a view that words a value for people, such as a
withheld result's reason, words it in English here); tests/test_i18n_outputs.py compares the two.
"""

from __future__ import annotations

from pathlib import Path

from dashboard.access.roles import Viewer
from dashboard.config import load_trial
from dashboard.i18n import DEFAULT, using
from dashboard.store import warehouse
from dashboard.views import deviations, enrollment, outcomes, safety


def summary(warehouse_dir: str | Path, viewer: Viewer, build: Path | None = None) -> dict:
    """The role's summary of the current cut, or of `build` (a retained cut's folder, reopened
    read-only as it was: dashboard/store/cuts.py)."""
    with using(DEFAULT):
        return _summary(warehouse_dir, viewer, build)


def _summary(warehouse_dir: str | Path, viewer: Viewer, build: Path | None = None) -> dict:
    cfg = load_trial()
    viewer = viewer.validated(cfg)
    con = warehouse.connect(warehouse_dir, closed=viewer.closed, build=build)
    try:
        out = {"role": viewer.role, "data_cut": enrollment.data_cut(con)}
        if viewer.site_filter:
            out["site"] = viewer.site_filter
        out["enrollment"] = enrollment.enrollment(con, viewer, cfg)
        projection = enrollment.accrual(con, viewer, cfg).get("projection")
        if projection:
            out["enrollment"]["projection"] = {k: str(projection[k]) for k in ("completion_date", "lower", "upper")}
            out["enrollment"]["projection"]["level"] = projection["level"]
        out["allocation"] = enrollment.allocation(con, viewer, cfg)
        if viewer.policy(cfg).trial_data:
            out["deviations"] = deviations.deviations(con, viewer, cfg)
            out["survival"] = outcomes.summary_part(outcomes.pooled(con, viewer, cfg))
            out["safety"] = safety.summary_part(safety.pooled(con, viewer, cfg))
        if viewer.closed:
            from dashboard.views import closed

            extra = closed.summary_part(con, viewer, cfg)
            for endpoint in ("os", "dfs"):
                out["survival"].setdefault(endpoint, {})["by_arm"] = extra["survival_by_arm"][endpoint]
            out["safety"]["by_arm"] = extra["safety_by_arm"]
            out["closed"] = extra["closed"]
        return out
    finally:
        con.close()
