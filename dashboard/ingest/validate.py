"""Checks across forms: every row's subject and site known and consistent (queries/validate), the
export row's cut-off and spec version. Each problem names the file, line and column."""

from __future__ import annotations

import datetime as dt

import duckdb

from dashboard.config import CrfSpec, TrialConfig
from dashboard.ingest import clean
from dashboard.ingest.problems import Problem
from dashboard.store.sql import names, query

DEMO_SOURCE_PREFIX = "NEO-MARGIN SYNTHETIC DEMO"
# Forms the cross-form checks read: when one is missing that is already an error.
NEEDED = {"DM", "SITES", "SCREENING", "EXPORT"}


def cross_form_checks(
    con: duckdb.DuckDBPyConnection, loaded, spec: CrfSpec, problems: list[Problem], cfg: TrialConfig
) -> None:
    if not NEEDED <= loaded.keys():
        return
    con.execute(
        query("ingest/spec_forms"),
        {"forms": list(spec.forms), "every": [f.rows_for_every_subject for f in spec.forms.values()]},
    )
    clean.create_subject_rows(con, loaded, spec)
    for name in names("validate"):
        for form, row, col, _val, message in con.execute(query(name)).fetchall():
            lf = loaded.get(form)
            file = lf.file.original if lf else f"{form}.csv"
            line = lf.line_of(row) if (lf and row is not None) else None
            problems.append(Problem("error", file, line, col, message))
    export = con.execute(query("ingest/export_row")).fetchall()
    if len(export) != 1:
        return  # already an error: EXPORT.csv holds exactly one row
    cutoff, exported, spec_version, source = export[0]
    where = loaded["EXPORT"].file.original
    if cutoff and exported:
        if exported.date() < cutoff:
            problems.append(
                Problem("error", where, 2, "CUTOFFDAT", f"cut-off {cutoff} is after the export time {exported}")
            )
        # the synthetic demo trial is simulated to a cut-off in the future on purpose
        if cutoff > dt.date.today() and not (source or "").startswith(DEMO_SOURCE_PREFIX):
            problems.append(Problem("warning", where, 2, "CUTOFFDAT", f"cut-off {cutoff} is in the future"))
    if spec_version and spec_version != cfg.trial.spec_version:
        problems.append(
            Problem(
                "error", where, 2, "SPECVER", f"spec version {spec_version}; this build reads {cfg.trial.spec_version}"
            )
        )
