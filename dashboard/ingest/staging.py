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
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from dashboard.config import Column, CrfSpec, Form
from dashboard.i18n import N_
from dashboard.ingest.package import FormFile, OpenedPackage
from dashboard.ingest.problems import WITHHELD, Enumeration, Msg, Problem, Quoting, joined, msg
from dashboard.store.sql import ident, lit, render  # noqa: F401  (ident, lit: used by clean and build)

MAX_LINES_PER_PROBLEM = 20  # lines listed for one kind of problem in one column
# DuckDB's CSV reader (2.0) takes a record of at most `max_line_size` bytes (2,000,000 by default).
# A longer one is rejected ("LINE SIZE OVER MAXIMUM", with its line) while it fits the reader's
# buffer (16 x max_line_size, 32,000,000 bytes); a record longer than the buffer is dropped with no
# error and no reject (measured; tests/test_hostile_input.py). So the limit is passed explicitly,
# and every file's records are counted independently (count_records) and reconciled with the rows
# loaded plus the rows rejected: a record the reader lost is an error with its line.
MAX_RECORD_BYTES = 2_000_000
# Words for the error types of DuckDB's rejects table; its own message is quoted only when it
# carries no text of the file (a value could name the arm).
_SAFE_READER_MESSAGE = re.compile(r"[A-Za-z0-9 :.,()_-]*")


# a CSV field may be as long as a record the reader takes (and longer, to count what it drops)
csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))


def subject_column(header: list[str] | set[str], form: str) -> str | None:
    """The column that names a row's subject: SCRNID on the screening log, else SUBJID."""
    for name in ("SCRNID", "SUBJID") if form == "SCREENING" else ("SUBJID",):
        if name in header:
            return name
    return None


@dataclass
class RecordCount:
    """An independent count of a CSV file's records (the header not counted), the records longer
    than the reader's limit (start line -> bytes), and the fields of the records asked for."""

    records: int
    long: dict[int, int]
    fields: dict[int, list[str]]
    starts: Sequence[int] | None = None  # the start line of every record (a numpy array or a list)
    complete: bool = True  # False when Python's csv module could not read to the end


def count_records(path: Path, limit: int = MAX_RECORD_BYTES, want: set[int] = frozenset()) -> RecordCount:
    """Count the records of a UTF-8 CSV file as an RFC 4180 reader does, without DuckDB.

    A newline ends a record when the quotes before it are balanced (an escaped quote is two
    quotes, so the parity holds); a record with no bytes but a CR is a blank line, not a record.
    Vectorized with numpy (about 0.1 s for the 64 MB benchmark package); Python's csv module reads
    a file whose quotes do not balance or that ends lines with a bare CR. `want`: start lines
    whose fields to return (a rejected line's subject)."""
    import numpy as np

    data = path.read_bytes()
    quote_count = data.count(b'"')
    if quote_count % 2 or data.count(b"\r") != data.count(b"\r\n"):
        return _count_with_csv(data, limit, want)
    raw = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(raw == 10)
    if quote_count:
        balanced = (np.cumsum(raw == 34, dtype=np.int64)[newlines] % 2) == 0
        ends = newlines[balanced]
        end_lines = np.flatnonzero(balanced)  # index of each record-ending newline among all newlines
    else:
        ends, end_lines = newlines, np.arange(len(newlines))
    starts = np.concatenate(([0], ends + 1))
    stops = np.concatenate((ends, [len(data)]))
    lines = np.concatenate(([1], end_lines + 2))  # the line each segment starts on
    if starts[-1] >= len(data):  # nothing after the last newline
        starts, stops, lines = starts[:-1], stops[:-1], lines[:-1]
    sizes = stops - starts
    blank = (sizes == 0) | ((sizes == 1) & (raw[np.minimum(starts, len(data) - 1)] == 13))
    starts, stops, lines, sizes = starts[~blank], stops[~blank], lines[~blank], sizes[~blank]
    long = {int(n): int(z) + 1 for n, z in zip(lines[sizes >= limit], sizes[sizes >= limit], strict=True)}
    fields = {}
    for n in set(want) | set(long):
        k = int(np.searchsorted(lines, n))
        if k < len(lines) and lines[k] == n:
            segment = data[int(starts[k]) : int(stops[k])].decode("utf-8", "replace")
            fields[n] = next(csv.reader(io.StringIO(segment, newline="")), [])
    records = max(len(lines) - 1, 0)  # the header is no record
    return RecordCount(records, long, fields, lines[1:])


def _count_with_csv(data: bytes, limit: int, want: set[int]) -> RecordCount:
    text = data.decode("utf-8-sig", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""))
    records, long, fields, starts, start = -1, {}, {}, [], 1
    try:
        for record in reader:
            if record:
                records += 1
                starts.append(start)
                if sum(len(f) for f in record) * 4 + len(record) >= limit:
                    size = len(",".join(record).encode("utf-8")) + 1
                    if size > limit:
                        long[start] = size
                        fields[start] = record
                if start in want:
                    fields[start] = record
            start = reader.line_num + 1
    except csv.Error:
        return RecordCount(max(records, 0), long, fields, None, complete=False)
    return RecordCount(max(records, 0), long, fields, starts[1:])


@dataclass
class LoadedForm:
    form: str
    file: FormFile
    header: list[str]  # upper-cased, in file order
    rows: int = 0
    rejected: int = 0
    extra_columns: list[str] = field(default_factory=list)
    records: int | None = None  # counted independently of DuckDB (count_records)
    _lines: Sequence[int] | None = None  # start line of each accepted record

    @property
    def subject_column(self) -> str | None:
        return subject_column(self.header, self.form)

    def line_of(self, row: int) -> int:
        """The file line on which accepted record `row` (0-based) starts; the header is line 1."""
        if self._lines is None:
            self._lines = _record_lines(self.file.path, self.rows, self._rejected_lines)
        return int(self._lines[row]) if row < len(self._lines) else row + 2

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
            return None, Problem(
                "error", ff.original, 1, None, N_("unreadable header: {reason}"), params={"reason": exc}
            )
    if not header or all(not h.strip() for h in header):
        return None, Problem("error", ff.original, 1, None, N_("the file is empty: the first line must be the header"))
    return [h.strip().upper() for h in header], None


def load_raw(
    con: duckdb.DuckDBPyConnection,
    pkg: OpenedPackage,
    spec: CrfSpec,
    problems: list[Problem],
    quoting: Quoting | None = None,
) -> dict[str, LoadedForm]:
    """Read every form of the spec into raw_<form>, two forms at a time (see type_forms); report
    missing files and columns, in the spec's form order. Every record of every file is loaded or
    reported as rejected with its line: the records are counted independently and reconciled."""

    def one(form_name: str, form: Form, ff: FormFile) -> tuple[LoadedForm | None, list[Problem]]:
        cur = con.cursor()
        try:
            return _load_form(cur, form_name, form, ff, spec, quoting)
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
                        N_("required form file {file} is missing from the package"),
                        params={"file": f"{form_name}.csv"},
                    )
                )
                continue
            lf, found = job.result()
            problems += found
            if lf is not None:
                loaded[form_name] = lf
    for name, ff in pkg.files.items():
        if name not in spec.forms:
            problems.append(Problem("warning", ff.original, None, None, N_("not a form of the export spec: ignored")))
    return loaded


def _load_form(
    con, form_name: str, form: Form, ff: FormFile, spec: CrfSpec, quoting: Quoting | None
) -> tuple[LoadedForm | None, list[Problem]]:
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
                    N_("column name is blank or appears twice (names are case-insensitive)"),
                )
            )
            duplicated = True
        seen.add(name)
    if duplicated:
        return None, problems
    lf = LoadedForm(form_name, ff, header)
    for col in form.columns:
        if col.required and col.name not in seen:
            problems.append(
                Problem(
                    "error",
                    ff.original,
                    1,
                    col.name,
                    N_("required column {column} is missing"),
                    params={"column": col.name},
                )
            )
    known = set(form.column_names) | set(spec.optional_everywhere)
    lf.extra_columns = [h for h in header if h not in known]
    for name in lf.extra_columns:
        problems.append(Problem("warning", ff.original, 1, name, N_("column not in spec: kept as text")))
    form_key = form_name.lower()
    try:
        con.execute(
            render("ingest/read_csv", form=form_key, max_line_size=MAX_RECORD_BYTES),
            {"path": str(ff.path), "columns": {h: "VARCHAR" for h in header}},
        )
    except duckdb.Error as exc:
        problems.append(
            Problem(
                "error",
                ff.original,
                None,
                None,
                N_("cannot be read as CSV: {reason}"),
                params={"reason": _reader_words(exc)},
            )
        )
        return None, problems
    lf.rows = con.execute(render("ingest/row_count", table=f"raw_{form_key}")).fetchall()[0][0]
    rejects = con.execute(render("ingest/rejects", form=form_key)).fetchall()
    lf._rejected_lines = {int(r[0]) for r in rejects}
    lf.rejected = len(lf._rejected_lines)
    counted = count_records(ff.path, want=lf._rejected_lines)
    lf.records = counted.records
    subject = subject_column(header, form_name)
    at = header.index(subject) if subject else None

    def subject_at(line: int) -> str | None:
        """The subject of the record starting at `line`, from our own reading of the file."""
        fields = counted.fields.get(line)
        if at is None or quoting is None or fields is None or at >= len(fields):
            return None
        return quoting.subject(form_name, subject, fields[at])

    def too_long(line: int) -> Msg:
        return msg(
            N_(
                "record of {size:,} bytes is longer than the CSV reader's limit of {limit:,} bytes; it cannot be loaded"
            ),
            size=counted.long[line],
            limit=MAX_RECORD_BYTES,
        )

    for line, column, error_type, message, _csv_line in rejects:
        line = int(line)
        if line in counted.long:
            words, column = too_long(line), None
        elif error_type.upper() == "LINE SIZE OVER MAXIMUM":
            words = msg(
                N_("record longer than the CSV reader's limit of {limit:,} bytes; it cannot be loaded"),
                limit=MAX_RECORD_BYTES,
            )
        elif message and _SAFE_READER_MESSAGE.fullmatch(message):
            # DuckDB's error type and words (English: the reader's own)
            words = msg(N_("malformed CSV line ({error}): {reader}"), error=error_type.lower(), reader=message)
        else:
            words = msg(N_("malformed CSV line ({error})"), error=error_type.lower())
        problems.append(Problem("error", ff.original, line, column, words, subject_at(line)))
    # reconcile: every record loaded or rejected; one the reader lost without a word is an error
    for line in sorted(counted.long):
        if line not in lf._rejected_lines:
            lf._rejected_lines.add(line)
            lf.rejected += 1
            problems.append(Problem("error", ff.original, line, None, too_long(line), subject_at(line)))
    if counted.starts is not None and lf.rows + lf.rejected == counted.records:
        import numpy as np

        starts = np.asarray(counted.starts, dtype=np.int64)
        if lf._rejected_lines:
            starts = starts[~np.isin(starts, np.fromiter(lf._rejected_lines, dtype=np.int64))]
        lf._lines = starts
    missing = counted.records - lf.rows - lf.rejected
    if missing > 0 or (missing < 0 and counted.complete):
        problems.append(
            Problem(
                "error",
                ff.original,
                None,
                None,
                N_(
                    "{records} records in the file, but the CSV reader loaded {rows} and rejected "
                    "{rejected}: {missing} record(s) unaccounted for"
                ),
                params={"records": counted.records, "rows": lf.rows, "rejected": lf.rejected, "missing": missing},
            )
        )
    return lf, problems


def _reader_words(exc: Exception) -> str:
    """The first line of a DuckDB reader error, unless it quotes the file's text."""
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return first if _SAFE_READER_MESSAGE.fullmatch(first) and '"' not in first else Msg(N_("the CSV reader failed"))


# ---------------------------------------------------------------- typing
_TYPE_WORDS = {
    "date": N_("not a date YYYY-MM-DD"),
    "partial_date": N_("not a date YYYY-MM-DD or YYYY-MM"),
    "partial_date_y": N_("not a date YYYY-MM-DD, YYYY-MM or YYYY"),
    "datetime": N_("not an ISO 8601 date-time"),
    "integer": N_("not a whole number"),
    "number": N_("not a number"),
}
"""The problem of a cell that does not type, by the column's type (the build's problems table
holds the English and the Chinese: dashboard.ingest.problems.Msg)."""
ROWS_IN_ALL = N_("{message} ({n} rows in all; the first {listed} are listed)")


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
    quoting: Quoting,
) -> None:
    """Required values, types, codes, patterns, ranges and keys, form by form.

    A value is quoted in a message only when `quoting` allows it (a column blinded roles read,
    a value that does not name the arm): the load history is read by blinded roles.
    """

    def one(form_name: str, lf: LoadedForm) -> list[Problem]:
        cur = con.cursor()
        try:
            return _check_form(cur, form_name, lf, spec, quoting)
        finally:
            cur.close()

    with ThreadPoolExecutor(max_workers=2) as pool:  # two forms at a time (see type_forms)
        jobs = [pool.submit(one, name, lf) for name, lf in loaded.items()]
        for job in jobs:  # problems in form order, as before
            problems += job.result()


def _check_form(con, form_name: str, lf: LoadedForm, spec: CrfSpec, quoting: Quoting) -> list[Problem]:
    problems: list[Problem] = []
    form = spec.forms[form_name]
    present = set(lf.header)
    subject = lf.subject_column
    columns = [
        {
            "name": c.name,
            "required": c.required,
            "type": c.type,
            "codes": c.codes or (["Y", "N"] if c.type == "yn" else None),
            "show_codes": quoting.visible(form_name, c.name),
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
        subject=subject,
    )
    # the SQL names each problem by its English template (queries/ingest/cell_problems.sql); the
    # column's codes, pattern and bounds fill it
    facts = {
        c["name"]: {
            "codes": Enumeration(c["codes"] or []),
            "pattern": c["pattern"],
            "min": c["min_text"],
            "max": c["max_text"],
        }
        for c in columns
    }
    for row, col, val, problem, n, subj in con.execute(sql).fetchall():
        what = Msg(problem, facts.get(col, {}))
        if val is None:
            text = what
        else:
            shown = quoting.quote(form_name, col, val)
            if shown != WITHHELD:
                text = msg(N_("{value}: {problem}"), value=shown, problem=what)
            else:
                text = msg(N_("{problem} {withheld}"), problem=what, withheld=WITHHELD)
        if n > MAX_LINES_PER_PROBLEM:
            text = msg(ROWS_IN_ALL, message=text, n=n, listed=MAX_LINES_PER_PROBLEM)
        problems.append(
            Problem("error", lf.file.original, lf.line_of(row), col, text, quoting.subject(form_name, subject, subj))
        )
    if form.key and all(k in present for k in form.key):
        dupes = con.execute(render("ingest/duplicate_keys", form=form_name.lower(), key=form.key)).fetchall()
        for d in dupes:
            rows = d[-1]
            values = dict(zip(form.key, d[:-1], strict=True))
            shown = [str(v) if quoting.may_quote(form_name, k, v) else WITHHELD for k, v in values.items()]
            # "01-001/3": each part of the key, or the mark in the reader's language
            value = joined(shown, "/")
            subj = quoting.subject(form_name, subject, values[subject]) if subject in values else None
            lines = ", ".join(str(lf.line_of(r)) for r in rows)
            for r in rows[1:]:
                problems.append(
                    Problem(
                        "error",
                        lf.file.original,
                        lf.line_of(r),
                        "+".join(form.key),
                        N_("key {key} appears more than once (lines {lines})"),
                        subj,
                        params={"key": value, "lines": lines},
                    )
                )
    if form.exactly_one_row and lf.rows != 1:
        line = lf.line_of(1) if lf.rows > 1 else None  # the first row too many
        problems.append(
            Problem(
                "error",
                lf.file.original,
                line,
                None,
                N_("must hold exactly one row; it holds {n}"),
                params={"n": lf.rows},
            )
        )
    elif form.must_have_rows and lf.rows == 0:
        problems.append(
            Problem(
                "error",
                lf.file.original,
                None,
                None,
                N_("has no rows; this form must have a row for every subject it concerns"),
            )
        )
    return problems
