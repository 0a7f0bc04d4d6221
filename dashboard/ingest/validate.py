"""Checks across forms: every row's subject and site known and consistent (queries/validate), the
dates within what the trial's facts allow, the export row's cut-off and spec version. Each
problem names the file, line, column and subject; a value is quoted only when `Quoting` allows."""

from __future__ import annotations

import datetime as dt

import duckdb

from dashboard.config import CrfSpec, TrialConfig
from dashboard.i18n import N_
from dashboard.ingest import clean
from dashboard.ingest.problems import WITHHELD, Problem, Quoting, msg
from dashboard.ingest.staging import MAX_LINES_PER_PROBLEM, ROWS_IN_ALL
from dashboard.store.sql import names, query, render

DEMO_SOURCE_PREFIX = "NEO-MARGIN SYNTHETIC DEMO"
# Forms the cross-form checks read: when one is missing that is already an error.
NEEDED = {"DM", "SITES", "SCREENING", "EXPORT"}

# Date columns that may lie before the trial start (trial.toml [trial] start): the trial enrolls
# patients who responded to neoadjuvant immunotherapy, so the diagnosis, the neoadjuvant doses,
# their response imaging and their adverse events (collected from the first dose) may precede it,
# and so may consent, screening, baseline and site activation of a trial whose first patients were
# prepared before the official start. They may not lie more than HISTORY_DAYS before it.
# Birth dates have no lower bound. Every other date column of the spec is a trial event
# (randomization, surgery, pathology, adjuvant therapy, visits, recurrence, death, end of study,
# deviations, questionnaires, the cut-off) and lies on or after the trial start; a date column
# added to the spec is a trial event unless it is listed here. No date lies after the export day.
BEFORE_TRIAL = {
    ("SITES", "ACTDAT"),
    ("SCREENING", "SCRNDAT"),
    ("DM", "RFICDAT"),
    ("DX", "DXDAT"),
    ("BL", "BLDAT"),
    ("EX", "EXSTDAT"),
    ("RS", "RSDAT"),
    ("AE", "AESTDAT"),
    ("AE", "AEENDAT"),
}
NO_LOWER_BOUND = {("DM", "BRTHDAT")}
HISTORY_DAYS = 365  # our own plausibility bound (not a protocol fact): a year before the trial start
DATE_TYPES = ("date", "partial_date", "partial_date_y", "datetime")


def cross_form_checks(
    con: duckdb.DuckDBPyConnection,
    loaded,
    spec: CrfSpec,
    problems: list[Problem],
    cfg: TrialConfig,
    quoting: Quoting | None = None,
) -> None:
    if not NEEDED <= loaded.keys():
        return
    quoting = quoting or Quoting(cfg, spec)
    con.execute(
        query("ingest/spec_forms"),
        {"forms": list(spec.forms), "every": [f.rows_for_every_subject for f in spec.forms.values()]},
    )
    clean.create_subject_rows(con, loaded, spec)
    for name in names("validate"):
        for form, row, col, subjid, val, other, message in con.execute(query(name)).fetchall():
            lf = loaded.get(form)
            file = lf.file.original if lf else f"{form}.csv"
            line = lf.line_of(row) if (lf and row is not None) else None
            subject = quoting.subject(form, "SCRNID" if form == "SCREENING" else "SUBJID", subjid)
            # `message` is the check's English template (queries/validate, in the catalogue): the
            # Problem renders it in either language with these values
            params = {
                "subject": subject or WITHHELD,
                "val": val if quoting.may_quote(form, col, val) else WITHHELD,
                "other": other if quoting.may_quote("DM", col, other) else WITHHELD,
            }
            problems.append(Problem("error", file, line, col, message, subject, params=params))
    date_range_checks(con, loaded, spec, problems, cfg, quoting)
    export = con.execute(query("ingest/export_row")).fetchall()
    if len(export) != 1:
        return  # already an error: EXPORT.csv holds exactly one row
    cutoff, exported, spec_version, source = export[0]
    where = loaded["EXPORT"].file.original
    if cutoff and exported:
        if exported.date() < cutoff:
            problems.append(
                Problem(
                    "error",
                    where,
                    2,
                    "CUTOFFDAT",
                    N_("cut-off {cutoff} is after the export time {exported}"),
                    params={"cutoff": cutoff, "exported": exported},
                )
            )
        if cutoff < cfg.trial.start:
            problems.append(
                Problem(
                    "error",
                    where,
                    2,
                    "CUTOFFDAT",
                    N_("cut-off {cutoff} is before the trial start {start} (trial.toml [trial] start)"),
                    params={"cutoff": cutoff, "start": cfg.trial.start},
                )
            )
        # the synthetic demo trial is simulated to a cut-off in the future on purpose
        if cutoff > dt.date.today() and not (source or "").startswith(DEMO_SOURCE_PREFIX):
            problems.append(
                Problem(
                    "warning", where, 2, "CUTOFFDAT", N_("cut-off {cutoff} is in the future"), params={"cutoff": cutoff}
                )
            )
    if spec_version and spec_version != cfg.trial.spec_version:
        problems.append(
            Problem(
                "error",
                where,
                2,
                "SPECVER",
                N_("spec version {version}; this build reads {expected}"),
                params={
                    "version": quoting.quote("EXPORT", "SPECVER", spec_version),
                    "expected": cfg.trial.spec_version,
                },
            )
        )


def date_bounds(cfg: TrialConfig) -> tuple[dt.date, dt.date]:
    """(trial start, earliest plausible date of what may precede it)."""
    start = cfg.trial.start
    return start, start - dt.timedelta(days=HISTORY_DAYS)


def date_range_checks(
    con: duckdb.DuckDBPyConnection, loaded, spec: CrfSpec, problems: list[Problem], cfg: TrialConfig, quoting: Quoting
) -> None:
    """Every date of every loaded form within the range the trial's facts allow (an error)."""
    dates = []
    for name, lf in loaded.items():
        if name == "EXPORT":
            continue  # the export's own time is the upper bound; its cut-off is checked below
        # typed_<form> has every spec column (null when absent) and the optional ones
        for col in [c.name for c in spec.forms[name].columns if c.type in DATE_TYPES]:
            lower = "none" if (name, col) in NO_LOWER_BOUND else "history" if (name, col) in BEFORE_TRIAL else "trial"
            dates.append({"form": name, "column": col, "lower": lower, "subject": lf.subject_column})
        for col in spec.optional_everywhere:  # entry stamps: made after the EDC was set up
            dates.append({"form": name, "column": col, "lower": "history", "subject": lf.subject_column})
    if not dates:
        return
    start, history = date_bounds(cfg)
    sql = render("ingest/date_ranges", dates=dates, max_lines=MAX_LINES_PER_PROBLEM)
    for form, row, col, subj, val, kind, n in con.execute(
        sql, {"trial_start": start, "history_start": history}
    ).fetchall():
        lf = loaded[form]
        shown = val if quoting.may_quote(form, col, val) else WITHHELD
        facts = {"column": col, "value": shown, "start": start, "days": HISTORY_DAYS}
        if kind == "before the trial start":
            text = msg(
                N_(
                    "{column} {value} is before the trial start {start} (trial.toml [trial] start): "
                    "not a date of this trial"
                ),
                **facts,
            )
        elif kind == "before the earliest plausible date":
            text = msg(
                N_(
                    "{column} {value} is more than {days} days before the trial start {start} "
                    "(trial.toml [trial] start): implausible"
                ),
                **facts,
            )
        else:
            text = msg(
                N_("{column} {value} is after the export (EXPORT.csv EXPORTDTC): a date that cannot have happened yet"),
                **facts,
            )
        if n > MAX_LINES_PER_PROBLEM:
            text = msg(ROWS_IN_ALL, message=text, n=n, listed=MAX_LINES_PER_PROBLEM)
        problems.append(
            Problem(
                "error",
                lf.file.original,
                lf.line_of(row),
                col,
                text,
                quoting.subject(form, lf.subject_column or "SUBJID", subj),
            )
        )
