"""The clean layer: typed forms cut at the data cut-off, and the long views the derivations share.

`crf_<form>`: the typed form without the rows whose own date lies after the cut-off, and with
any other date after the cut-off emptied; both are recorded as findings, so nothing is dropped
silently. Generated from crf_spec.toml (queries/ingest/*.sql templates) because the rule is the
same for every form.
"""

from __future__ import annotations

import duckdb

from dashboard.config import CrfSpec
from dashboard.ingest.staging import LoadedForm
from dashboard.store.sql import render

DATE_TYPES = ("date", "partial_date", "partial_date_y")
PARTIAL_DATE_TYPES = ("partial_date", "partial_date_y")
# The column whose value says whether a dated row reports a death (export spec section 5).
STATUS_COLUMN = {"FU": "SSSTAT", "DS": "DSDECOD"}


def date_columns(spec: CrfSpec, form: str) -> list[str]:
    return [c.name for c in spec.forms[form].columns if c.type in DATE_TYPES]


def create_subject_rows(con: duckdb.DuckDBPyConnection, loaded: dict[str, LoadedForm], spec: CrfSpec) -> None:
    """subject_rows(form, _row, subjid, siteid, subject) over the typed forms, for cross-form checks."""
    forms = [
        {
            "name": n,
            "has_subjid": "SUBJID" in spec.forms[n].column_names,
            "has_scrnid": n == "SCREENING" and "SCRNID" in spec.forms[n].column_names,
        }
        for n in loaded
        if "SITEID" in spec.forms[n].column_names
    ]
    con.execute(render("ingest/subject_rows", forms=forms))


def create_clean(con: duckdb.DuckDBPyConnection, loaded: dict[str, LoadedForm], spec: CrfSpec) -> None:
    """crf_<form> for every form, and after_cutoff(form, _row, subjid, col, val, main) findings."""
    forms = []
    for name in loaded:
        form = spec.forms[name]
        dates = date_columns(spec, name)
        con.execute(
            render(
                "ingest/crf_form",
                form=name.lower(),
                main_date=form.main_date,
                other_dates=[d for d in dates if d != form.main_date],
            )
        )
        subject = "scrnid" if name == "SCREENING" else "subjid" if "SUBJID" in form.column_names else None
        forms.append(
            {
                "name": name,
                "has_subjid": "SUBJID" in form.column_names,
                "dates": dates,
                "main_date": form.main_date,
                "subject": subject,
            }
        )
    con.execute(render("ingest/after_cutoff", forms=forms))


def create_subject_dates(con: duckdb.DuckDBPyConnection, loaded: dict[str, LoadedForm], spec: CrfSpec) -> None:
    """subject_dates(form, _row, subjid, col, d, status): every date of every subject's rows, and
    entry_stamps(form, _row, subjid, siteid, entdtc, main_date) for the entry lag."""
    subject_forms = [n for n in loaded if spec.forms[n].subject_level]
    con.execute(
        render(
            "ingest/subject_dates",
            forms=[
                {"name": n, "dates": date_columns(spec, n) + ["ENTDTC"], "status_column": STATUS_COLUMN.get(n)}
                for n in subject_forms
            ],
        )
    )
    con.execute(
        render(
            "ingest/entry_stamps",
            forms=[{"name": n, "main_date": spec.forms[n].main_date} for n in subject_forms if spec.forms[n].main_date],
        )
    )


def imputed_findings(spec: CrfSpec, loaded: dict[str, LoadedForm]) -> str:
    """The query of the 'partial date imputed' findings of the loaded forms."""
    return render(
        "ingest/imputed_findings",
        dates=[
            {"form": n, "column": c.name} for n in loaded for c in spec.forms[n].columns if c.type in PARTIAL_DATE_TYPES
        ],
    )
