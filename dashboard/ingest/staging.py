"""Raw and typed layers: each form read by DuckDB as text, then typed and checked against the spec.

`raw_<form>`: the CSV as DuckDB's reader took it (all text; malformed lines go to its rejects
table). `typed_<form>`: one column per spec column with its type, partial dates imputed and
flagged, extra columns kept as text. Every cell that does not fit the spec becomes a Problem
naming file, line and column. Identifiers in the generated SQL come from crf_spec.toml and from
header names that are always quoted; values never enter SQL text.
"""

from __future__ import annotations

import csv
import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from dashboard.config import Column, CrfSpec, Form
from dashboard.ingest.package import FormFile, OpenedPackage
from dashboard.ingest.problems import Problem
from dashboard.store.sql import ident, lit, render  # noqa: F401  (ident, lit: used by clean and build)

MAX_LINES_PER_PROBLEM = 20  # lines listed for one kind of problem in one column


@dataclass
class LoadedForm:
    form: str
    file: FormFile
    header: list[str]  # upper-cased, in file order
    rows: int = 0
    rejected: int = 0
    extra_columns: list[str] = field(default_factory=list)
    _lines: list[int] | None = None

    def line_of(self, row: int) -> int:
        """The file line on which accepted record `row` (0-based) starts; the header is line 1."""
        if self._lines is None:
            self._lines = _record_lines(self.file.path, self.rows, self._rejected_lines)
        return self._lines[row] if row < len(self._lines) else row + 2

    _rejected_lines: set[int] = field(default_factory=set)


def _record_lines(path: Path, rows: int, rejected: set[int]) -> list[int]:
    """Start line of each accepted record. Quick when every record is one line."""
    data = path.read_bytes()
    newlines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if not rejected and newlines == rows + 1:
        return list(range(2, rows + 2))
    text = data.decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""))
    lines: list[int] = []
    start = 1
    try:
        for i, record in enumerate(reader):
            if i > 0 and record and start not in rejected:
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error:
        pass
    return lines


def _read_header(ff: FormFile) -> tuple[list[str] | None, Problem | None]:
    with open(ff.path, encoding="utf-8-sig", newline="") as fh:
        try:
            header = next(csv.reader(fh), None)
        except csv.Error as exc:
            return None, Problem("error", ff.original, 1, None, f"unreadable header: {exc}")
    if not header or all(not h.strip() for h in header):
        return None, Problem("error", ff.original, 1, None, "the file is empty: the first line must be the header")
    return [h.strip().upper() for h in header], None


def load_raw(
    con: duckdb.DuckDBPyConnection, pkg: OpenedPackage, spec: CrfSpec, problems: list[Problem]
) -> dict[str, LoadedForm]:
    """Read every form of the spec into raw_<form>, two forms at a time (see type_forms); report
    missing files and columns, in the spec's form order."""

    def one(form_name: str, form: Form, ff: FormFile) -> tuple[LoadedForm | None, list[Problem]]:
        cur = con.cursor()
        try:
            return _load_form(cur, form_name, form, ff, spec)
        finally:
            cur.close()

    loaded: dict[str, LoadedForm] = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        jobs = {}
        for form_name, form in spec.forms.items():
            ff = pkg.files.get(form_name)
            if ff is None:
                jobs[form_name] = None
            else:
                jobs[form_name] = pool.submit(one, form_name, form, ff)
        for form_name, job in jobs.items():
            if job is None:
                problems.append(
                    Problem(
                        "error",
                        f"{form_name}.csv",
                        None,
                        None,
                        f"required form file {form_name}.csv is missing from the package",
                    )
                )
                continue
            lf, found = job.result()
            problems += found
            if lf is not None:
                loaded[form_name] = lf
    for name, ff in pkg.files.items():
        if name not in spec.forms:
            problems.append(Problem("warning", ff.original, None, None, "not a form of the export spec: ignored"))
    return loaded


def _load_form(con, form_name: str, form: Form, ff: FormFile, spec: CrfSpec) -> tuple[LoadedForm | None, list[Problem]]:
    problems: list[Problem] = []
    header, problem = _read_header(ff)
    if problem:
        return None, [problem]
    seen: set[str] = set()
    duplicated = False
    for name in header:
        if name in seen or not name:
            problems.append(
                Problem(
                    "error",
                    ff.original,
                    1,
                    name or "(blank)",
                    "column name is blank or appears twice (names are case-insensitive)",
                )
            )
            duplicated = True
        seen.add(name)
    if duplicated:
        return None, problems
    lf = LoadedForm(form_name, ff, header)
    for col in form.columns:
        if col.required and col.name not in seen:
            problems.append(Problem("error", ff.original, 1, col.name, f"required column {col.name} is missing"))
    known = set(form.column_names) | set(spec.optional_everywhere)
    lf.extra_columns = [h for h in header if h not in known]
    for name in lf.extra_columns:
        problems.append(Problem("warning", ff.original, 1, name, "column not in spec: kept as text"))
    form_key = form_name.lower()
    try:
        con.execute(
            render("ingest/read_csv", form=form_key), {"path": str(ff.path), "columns": {h: "VARCHAR" for h in header}}
        )
    except duckdb.Error as exc:
        problems.append(Problem("error", ff.original, None, None, f"cannot be read as CSV: {str(exc).splitlines()[0]}"))
        return None, problems
    lf.rows = con.execute(render("ingest/row_count", table=f"raw_{form_key}")).fetchall()[0][0]
    rejects = con.execute(render("ingest/rejects", form=form_key)).fetchall()
    lf.rejected = len(rejects)
    lf._rejected_lines = {int(r[0]) for r in rejects}
    for line, column, error_type, message in rejects:
        problems.append(
            Problem("error", ff.original, int(line), column, f"malformed CSV line ({error_type.lower()}): {message}")
        )
    return lf, problems


# ---------------------------------------------------------------- typing
_TYPE_WORDS = {
    "date": "not a date YYYY-MM-DD",
    "partial_date": "not a date YYYY-MM-DD or YYYY-MM",
    "partial_date_y": "not a date YYYY-MM-DD, YYYY-MM or YYYY",
    "datetime": "not an ISO 8601 date-time",
    "integer": "not a whole number",
    "number": "not a number",
}


def _all_columns(form: Form, spec: CrfSpec) -> list[Column]:
    extra = [Column(name=n, type="datetime") for n in spec.optional_everywhere]
    return list(form.columns) + extra


def type_forms(con: duckdb.DuckDBPyConnection, loaded: dict[str, LoadedForm], spec: CrfSpec) -> None:
    """Create typed_<form> for every loaded form, two forms at a time: most forms are smaller than
    the row group DuckDB splits one query's work by, so one at a time left a core idle."""

    def one(form_name: str, lf: LoadedForm) -> None:
        present = set(lf.header)
        columns = [
            {"name": c.name, "type": c.type, "present": c.name in present}
            for c in _all_columns(spec.forms[form_name], spec)
        ]
        cur = con.cursor()
        try:
            cur.execute(render("ingest/typed_form", form=form_name.lower(), columns=columns, extra=lf.extra_columns))
        finally:
            cur.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        for job in [pool.submit(one, name, lf) for name, lf in loaded.items()]:
            job.result()


def check_cells(
    con: duckdb.DuckDBPyConnection,
    loaded: dict[str, LoadedForm],
    spec: CrfSpec,
    problems: list[Problem],
    hide_values: set[str] = frozenset(),
) -> None:
    """Required values, types, codes, patterns, ranges and keys, form by form.

    Values of the columns in `hide_values` (the arm and what reveals it) are never quoted in a
    message: the load history is read by blinded roles.
    """

    def one(form_name: str, lf: LoadedForm) -> list[Problem]:
        cur = con.cursor()
        try:
            return _check_form(cur, form_name, lf, spec, hide_values)
        finally:
            cur.close()

    with ThreadPoolExecutor(max_workers=2) as pool:  # two forms at a time (see type_forms)
        jobs = [pool.submit(one, name, lf) for name, lf in loaded.items()]
        for job in jobs:  # problems in form order, as before
            problems += job.result()


def _check_form(con, form_name: str, lf: LoadedForm, spec: CrfSpec, hide_values) -> list[Problem]:
    problems: list[Problem] = []
    form = spec.forms[form_name]
    present = set(lf.header)
    columns = [
        {
            "name": c.name,
            "required": c.required,
            "type": c.type,
            "codes": c.codes or (["Y", "N"] if c.type == "yn" else None),
            "pattern": c.pattern,
            "min": c.min,
            "max": c.max,
            "min_text": f"{c.min:g}" if c.min is not None else None,
            "max_text": f"{c.max:g}" if c.max is not None else None,
        }
        for c in _all_columns(form, spec)
        if c.name in present
    ]
    sql = render(
        "ingest/cell_problems",
        form=form_name.lower(),
        columns=columns,
        type_words=_TYPE_WORDS,
        max_lines=MAX_LINES_PER_PROBLEM,
    )
    for row, col, val, problem, n in con.execute(sql).fetchall():
        shown = val is not None and col not in hide_values
        text = f"{val!r}: {problem}" if shown else problem
        if n > MAX_LINES_PER_PROBLEM:
            text += f" ({n} rows in all; the first {MAX_LINES_PER_PROBLEM} are listed)"
        problems.append(Problem("error", lf.file.original, lf.line_of(row), col, text))
    if form.key and all(k in present for k in form.key):
        dupes = con.execute(render("ingest/duplicate_keys", form=form_name.lower(), key=form.key)).fetchall()
        for d in dupes:
            rows = d[-1]
            value = "/".join(str(x) for x in d[:-1])
            lines = ", ".join(str(lf.line_of(r)) for r in rows)
            for r in rows[1:]:
                problems.append(
                    Problem(
                        "error",
                        lf.file.original,
                        lf.line_of(r),
                        "+".join(form.key),
                        f"key {value} appears more than once (lines {lines})",
                    )
                )
    if form.exactly_one_row and lf.rows != 1:
        line = lf.line_of(1) if lf.rows > 1 else None  # the first row too many
        problems.append(
            Problem("error", lf.file.original, line, None, f"must hold exactly one row; it holds {lf.rows}")
        )
    elif form.must_have_rows and lf.rows == 0:
        problems.append(
            Problem(
                "error",
                lf.file.original,
                None,
                None,
                "has no rows; this form must have a row for every subject it concerns",
            )
        )
    return problems
