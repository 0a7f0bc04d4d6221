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

MAX_LINES_PER_PROBLEM = 20      # lines listed for one kind of problem in one column


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(text: str) -> str:
    """A quoted SQL string literal (only for names from the spec and fixed messages)."""
    return "'" + text.replace("'", "''") + "'"


@dataclass
class LoadedForm:
    form: str
    file: FormFile
    header: list[str]                     # upper-cased, in file order
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
        return None, Problem("error", ff.original, 1, None,
                             "the file is empty: the first line must be the header")
    return [h.strip().upper() for h in header], None


def load_raw(con: duckdb.DuckDBPyConnection, pkg: OpenedPackage, spec: CrfSpec,
             problems: list[Problem]) -> dict[str, LoadedForm]:
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
                problems.append(Problem("error", f"{form_name}.csv", None, None,
                                        f"required form file {form_name}.csv is missing from the package"))
                continue
            lf, found = job.result()
            problems += found
            if lf is not None:
                loaded[form_name] = lf
    for name, ff in pkg.files.items():
        if name not in spec.forms:
            problems.append(Problem("warning", ff.original, None, None,
                                    "not a form of the export spec: ignored"))
    return loaded


def _load_form(con, form_name: str, form: Form, ff: FormFile,
               spec: CrfSpec) -> tuple[LoadedForm | None, list[Problem]]:
    problems: list[Problem] = []
    header, problem = _read_header(ff)
    if problem:
        return None, [problem]
    seen: set[str] = set()
    duplicated = False
    for name in header:
        if name in seen or not name:
            problems.append(Problem("error", ff.original, 1, name or "(blank)",
                                    "column name is blank or appears twice (names are case-insensitive)"))
            duplicated = True
        seen.add(name)
    if duplicated:
        return None, problems
    lf = LoadedForm(form_name, ff, header)
    for col in form.columns:
        if col.required and col.name not in seen:
            problems.append(Problem("error", ff.original, 1, col.name,
                                    f"required column {col.name} is missing"))
    known = set(form.column_names) | set(spec.optional_everywhere)
    lf.extra_columns = [h for h in header if h not in known]
    for name in lf.extra_columns:
        problems.append(Problem("warning", ff.original, 1, name,
                                "column not in spec: kept as text"))
    table = f"raw_{form_name.lower()}"
    try:
        con.execute(
            f"create or replace table {table} as select * from read_csv($path, header = true, "
            "auto_detect = false, columns = $columns, delim = ',', quote = '\"', escape = '\"', "
            f"store_rejects = true, rejects_table = 'rejects_{form_name.lower()}', "
            f"rejects_scan = 'rejects_scan_{form_name.lower()}')",
            {"path": str(ff.path), "columns": {h: "VARCHAR" for h in header}})
    except duckdb.Error as exc:
        problems.append(Problem("error", ff.original, None, None,
                                f"cannot be read as CSV: {str(exc).splitlines()[0]}"))
        return None, problems
    lf.rows = con.execute(f"select count(*) from {table}").fetchall()[0][0]
    rejects = con.execute(
        f"select line, column_name, error_type, error_message from rejects_{form_name.lower()} "
        "order by line").fetchall()
    lf.rejected = len(rejects)
    lf._rejected_lines = {int(r[0]) for r in rejects}
    for line, column, error_type, message in rejects:
        problems.append(Problem("error", ff.original, int(line), column,
                                f"malformed CSV line ({error_type.lower()}): {message}"))
    return lf, problems


# ---------------------------------------------------------------- typing
def _typed_expr(col: Column, present: bool) -> list[tuple[str, str]]:
    """(expression, name) pairs that give a spec column its type, and for partial dates the
    imputation flag. Typed columns are lower case: the trial's words in the SQL."""
    name = col.name.lower()
    if not present:
        items = [(f"null::{_sql_type(col)}", name)]
        if col.type.startswith("partial_date"):
            items.append(("null::varchar", name + "_imputed"))
        return items
    v = f"nullif(trim({ident(col.name)}), '')"
    t = col.type
    # length() before strptime: %Y-%m-%d alone would take 2026-3-1 as well
    full = f"case when length({v}) = 10 then try_strptime({v}, '%Y-%m-%d')::date end"
    if t in ("text", "yn"):
        return [(v, name)]
    if t == "date":
        return [(full, name)]
    if t.startswith("partial_date"):
        year = f" when length({v}) = 4 then try_strptime({v} || '-01-01', '%Y-%m-%d')::date" \
            if t == "partial_date_y" else ""
        flag_year = f" when length({v}) = 4 then 'month and day'" if t == "partial_date_y" else ""
        return [
            (f"case when length({v}) = 10 then try_strptime({v}, '%Y-%m-%d')::date"
             f" when length({v}) = 7 then try_strptime({v} || '-01', '%Y-%m-%d')::date{year} end", name),
            # a value that does not parse refuses the package, so the flag needs no second check
            (f"case when length({v}) = 7 then 'day'{flag_year} end",
             name + "_imputed"),
        ]
    if t == "datetime":
        # ISO 8601 date or date-time; DuckDB's cast accepts 'T' or space and drops an offset
        return [(f"case when length({v}) >= 10 and substr({v}, 5, 1) = '-' and substr({v}, 8, 1) = '-' "
                 f"then try_cast({v} as timestamp) end", name)]
    if t == "integer":
        return [(f"case when regexp_full_match({v}, '-?[0-9]+') then try_cast({v} as bigint) end", name)]
    if t == "number":
        return [(f"try_cast({v} as double)", name)]
    raise ValueError(t)


def _sql_type(col: Column) -> str:
    return {"text": "varchar", "yn": "varchar", "date": "date", "partial_date": "date",
            "partial_date_y": "date", "datetime": "timestamp", "integer": "bigint",
            "number": "double"}[col.type]


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
        form = spec.forms[form_name]
        present = set(lf.header)
        items = ["rowid as _row"]
        for col in _all_columns(form, spec):
            items += [f"{expr} as {ident(alias)}" for expr, alias in _typed_expr(col, col.name in present)]
        items += [f"{ident(n)} as {ident(n.lower())}" for n in lf.extra_columns]
        cur = con.cursor()
        try:
            cur.execute(f"create or replace table typed_{form_name.lower()} as select "
                        + ", ".join(items) + f" from raw_{form_name.lower()}")
        finally:
            cur.close()
    with ThreadPoolExecutor(max_workers=2) as pool:
        for job in [pool.submit(one, name, lf) for name, lf in loaded.items()]:
            job.result()


def check_cells(con: duckdb.DuckDBPyConnection, loaded: dict[str, LoadedForm], spec: CrfSpec,
                problems: list[Problem], hide_values: set[str] = frozenset()) -> None:
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
    with ThreadPoolExecutor(max_workers=2) as pool:        # two forms at a time (see type_forms)
        jobs = [pool.submit(one, name, lf) for name, lf in loaded.items()]
        for job in jobs:                                    # problems in form order, as before
            problems += job.result()


def _check_form(con, form_name: str, lf: LoadedForm, spec: CrfSpec, hide_values) -> list[Problem]:
    problems: list[Problem] = []
    form = spec.forms[form_name]
    raw, typed = f"raw_{form_name.lower()}", f"typed_{form_name.lower()}"
    present = set(lf.header)
    branches = []
    for col in _all_columns(form, spec):
        if col.name not in present:
            continue
        c, q = ident(col.name), lit(col.name)
        rv = f"nullif(trim({c}), '')"
        if col.required:
            branches.append(f"select rowid as _row, {q} as col, null as val, 'required value is empty' as problem "
                            f"from {raw} where {rv} is null")
        if col.type in _TYPE_WORDS:
            # text that did not type is an error; typed_ was made from raw_ in its order, so a
            # positional join pairs each typed row with its text without a hash join
            tc = ident(col.name.lower())
            branches.append(f"select t._row, {q}, nullif(trim(r.{c}), ''), {lit(_TYPE_WORDS[col.type])} "
                            f"from {typed} t positional join {raw} r "
                            f"where t.{tc} is null and nullif(trim(r.{c}), '') is not null")
        codes = col.codes or (["Y", "N"] if col.type == "yn" else None)
        if codes:
            listed = ", ".join(lit(x) for x in codes)
            branches.append(f"select _row, {q}, {c}, {lit('not one of: ' + ', '.join(codes))} "
                            f"from {typed} where {c} is not null and {c} not in ({listed})")
        if col.pattern:
            branches.append(f"select _row, {q}, {c}, {lit('does not match ' + col.pattern)} "
                            f"from {typed} where {c} is not null and not regexp_full_match({c}, {lit(col.pattern)})")
        if col.min is not None:
            branches.append(f"select _row, {q}, {c}::varchar, {lit(f'below the minimum {col.min:g}')} "
                            f"from {typed} where {c} < {col.min}")
        if col.max is not None:
            branches.append(f"select _row, {q}, {c}::varchar, {lit(f'above the maximum {col.max:g}')} "
                            f"from {typed} where {c} > {col.max}")
    if branches:
        sql = ("select _row, col, val, problem, count(*) over (partition by col, problem) as n "
               f"from ({' union all '.join(branches)}) "
               f"qualify row_number() over (partition by col, problem order by _row) <= {MAX_LINES_PER_PROBLEM} "
               "order by _row, col")
        for row, col, val, problem, n in con.execute(sql).fetchall():
            shown = val is not None and col not in hide_values
            text = f"{val!r}: {problem}" if shown else problem
            if n > MAX_LINES_PER_PROBLEM:
                text += f" ({n} rows in all; the first {MAX_LINES_PER_PROBLEM} are listed)"
            problems.append(Problem("error", lf.file.original, lf.line_of(row), col, text))
    if form.key and all(k in present for k in form.key):
        keys = ", ".join(ident(k) for k in form.key)
        dupes = con.execute(
            f"select {keys}, list(_row order by _row) from {typed} "
            f"where {' and '.join(ident(k) + ' is not null' for k in form.key)} "
            f"group by {keys} having count(*) > 1 order by min(_row) limit 100").fetchall()
        for d in dupes:
            rows = d[-1]
            value = "/".join(str(x) for x in d[:-1])
            lines = ", ".join(str(lf.line_of(r)) for r in rows)
            for r in rows[1:]:
                problems.append(Problem("error", lf.file.original, lf.line_of(r), "+".join(form.key),
                                        f"key {value} appears more than once (lines {lines})"))
    if form.exactly_one_row and lf.rows != 1:
        line = lf.line_of(1) if lf.rows > 1 else None      # the first row too many
        problems.append(Problem("error", lf.file.original, line, None,
                                f"must hold exactly one row; it holds {lf.rows}"))
    elif form.must_have_rows and lf.rows == 0:
        problems.append(Problem("error", lf.file.original, None, None,
                                "has no rows; this form must have a row for every subject it concerns"))
    return problems
