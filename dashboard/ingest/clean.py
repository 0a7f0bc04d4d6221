"""The clean layer: typed forms cut at the data cut-off, and the long views the derivations share.

`crf_<form>`: the typed form without the rows whose own date lies after the cut-off, and with
any other date after the cut-off emptied; both are recorded as findings, so nothing is dropped
silently. Generated from crf_spec.toml because the rule is the same for every form.
"""
from __future__ import annotations

import duckdb

from dashboard.config import CrfSpec
from dashboard.ingest.staging import LoadedForm, ident, lit

DATE_TYPES = ("date", "partial_date", "partial_date_y")
# The column whose value says whether a dated row reports a death (export spec section 5).
STATUS_COLUMN = {"FU": "SSSTAT", "DS": "DSDECOD"}


def date_columns(spec: CrfSpec, form: str) -> list[str]:
    return [c.name for c in spec.forms[form].columns if c.type in DATE_TYPES]


def create_subject_rows(con: duckdb.DuckDBPyConnection, loaded: dict[str, LoadedForm],
                        spec: CrfSpec) -> None:
    """subject_rows(form, _row, subjid, siteid) over the typed forms, for cross-form checks."""
    parts = []
    for name in loaded:
        cols = spec.forms[name].column_names
        if "SITEID" in cols:
            subj = "SUBJID" if "SUBJID" in cols else "null"
            parts.append(f"select {lit(name)} as form, _row, {subj} as subjid, siteid "
                         f"from typed_{name.lower()}")
    con.execute("create or replace view subject_rows as " + " union all ".join(parts))


def create_clean(con: duckdb.DuckDBPyConnection, loaded: dict[str, LoadedForm],
                 spec: CrfSpec) -> None:
    """crf_<form> for every form, and after_cutoff(form, _row, subjid, col, val, main) findings."""
    finding_parts = []
    for name in loaded:
        form = spec.forms[name]
        typed, clean = f"typed_{name.lower()}", f"crf_{name.lower()}"
        dates = date_columns(spec, name)
        subj = "subjid" if "SUBJID" in form.column_names else "null"
        cut = "(select cutoff_date from build_info)"
        where = f"where not coalesce({ident(form.main_date)} > {cut}, false)" if form.main_date else ""
        others = [d for d in dates if d != form.main_date]
        replace = ", ".join(f"case when {ident(d)} > {cut} then null else {ident(d)} end as {ident(d)}"
                            for d in others)
        select = f"select * replace ({replace})" if replace else "select *"
        # a view: the derivations read it, the write step materializes it once
        con.execute(f"create or replace view {clean} as {select} from {typed} {where}")
        for d in dates:
            main = "true" if d == form.main_date else "false"
            finding_parts.append(
                f"select {lit(name)} as form, _row, {subj}::varchar as subjid, {lit(d)} as col, "
                f"{ident(d)}::varchar as val, {main} as main from {typed} where {ident(d)} > {cut}")
    con.execute("create or replace view after_cutoff as " + " union all ".join(finding_parts))


def create_subject_dates(con: duckdb.DuckDBPyConnection, loaded: dict[str, LoadedForm],
                         spec: CrfSpec) -> None:
    """subject_dates(form, _row, subjid, col, d, status): every date of every subject's rows.

    Read from the typed forms, dates after the cut-off included: a contact after the cut-off
    still proves the subject alive at it (censoring takes the earlier of the two, spec 5).
    Also entry_stamps(form, _row, subjid, siteid, entdtc, main_date) for the entry lag, from
    the clean forms.
    """
    date_parts, entry_parts = [], []
    for name in loaded:
        form = spec.forms[name]
        if not form.subject_level:
            continue
        clean, typed = f"crf_{name.lower()}", f"typed_{name.lower()}"
        status = ident(STATUS_COLUMN[name]) if name in STATUS_COLUMN else "null"
        for d in date_columns(spec, name) + ["ENTDTC"]:
            value = f"{ident(d)}::date"
            date_parts.append(f"select {lit(name)} as form, _row, subjid, {lit(d)} as col, {value} as d, "
                              f"{status}::varchar as status from {typed} where {ident(d)} is not null")
        if form.main_date:
            entry_parts.append(f"select {lit(name)} as form, _row, subjid, siteid, entdtc, "
                               f"{ident(form.main_date)} as main_date from {clean} where entdtc is not null")
    con.execute("create or replace table subject_dates as " + " union all ".join(date_parts))
    con.execute("create or replace table entry_stamps as " + " union all ".join(entry_parts))


def generic_findings_sql() -> str:
    """Findings every form can have: a date after the cut-off, a partial date imputed."""
    return """
        select case when main then 'dated after the cut-off: row left out'
                    else 'date after the cut-off: value left out' end as kind,
               form, _row, subjid, col, val,
               col || ' ' || val || ' is after the cut-off ' || (select cutoff_date from build_info) as message
        from after_cutoff
    """


def imputed_findings(con: duckdb.DuckDBPyConnection, spec: CrfSpec, loaded: dict[str, LoadedForm]) -> str:
    parts = []
    for name in loaded:
        for c in spec.forms[name].columns:
            if c.type in ("partial_date", "partial_date_y"):
                flag = ident(c.name.lower() + "_imputed")
                parts.append(
                    f"select 'partial date imputed' as kind, {lit(name)} as form, _row, subjid, "
                    f"{lit(c.name)} as col, {ident(c.name)}::varchar as val, "
                    f"'partial date: ' || {flag} || ' imputed as the first of the period' as message "
                    f"from crf_{name.lower()} where {flag} is not null")
    return " union all ".join(parts)
