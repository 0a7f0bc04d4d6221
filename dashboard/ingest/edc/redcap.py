"""A REDCap project's exports as one DuckDB table of source rows.

The records export is REDCap's flat CSV (content=record, type=flat, rawOrLabel=raw): one row per
record x event x repeat instance; first the record ID, then `redcap_event_name` (longitudinal
projects), `redcap_repeat_instrument` and `redcap_repeat_instance` (repeating instruments or
events), `redcap_data_access_group` (when the exporting user is in no group). Everything is read
as text (REDCap writes dates as YYYY-MM-DD and numbers as the user typed them).

The data dictionary is read for the choices of coded fields (`1, Female | 2, Male`) and each
field's instrument, in either of REDCap's namings: the 18-column download ("Variable / Field
Name", "Form Name", ...) or the API's content=metadata (`field_name`, `form_name`, ...).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from dashboard.i18n import N_
from dashboard.ingest.problems import PackageRefused, Problem
from dashboard.ingest.staging import count_records

META = {
    "redcap_event_name": "__event",
    "redcap_repeat_instrument": "__instrument",
    "redcap_repeat_instance": "__instance",
    "redcap_data_access_group": "__site",
}
_DICT_NAMES = {
    "variable / field name": "field_name",
    "form name": "form_name",
    "field type": "field_type",
    "field label": "field_label",
    "choices, calculations, or slider labels": "select_choices_or_calculations",
}
_FIXED_CHOICES = {"yesno": {"1": "Yes", "0": "No"}, "truefalse": {"1": "True", "0": "False"}}


@dataclass
class SourceTable:
    """What a converter needs to know of a source, whichever EDC wrote it."""

    kind: str
    file: str  # the data file's name, as messages show it
    fields: list[str]  # every field (REDCap column, ODM ItemOID) the source holds, in its order
    field_form: dict[str, str] = field(default_factory=dict)  # field -> instrument / FormOID, where known
    forms: set[str] = field(default_factory=set)  # instruments / FormOIDs known to the source
    choices: dict[str, dict[str, str]] = field(default_factory=dict)  # field -> code -> label
    metadata: dict[str, str] = field(default_factory=dict)  # export_time, source
    files: dict[str, dict] = field(default_factory=dict)  # name -> {"sha256", "bytes"}
    meta_fields: set[str] = field(default_factory=set)  # the source's own columns (not data)
    notes: list[str] = field(default_factory=list)


def fingerprint(path: Path) -> dict:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
    return {"sha256": h.hexdigest(), "bytes": size}


def parse_choices(text: str) -> dict[str, str]:
    """REDCap's `1, Female | 2, Male` as {"1": "Female", "2": "Male"}."""
    out = {}
    for part in (text or "").split("|"):
        code, comma, label = part.partition(",")
        if comma and code.strip():
            out[code.strip()] = label.strip()
    return out


def _one_line_records(path: Path, records: int) -> bool:
    """Whether every record of the CSV is one line (no value holds a newline)."""
    newlines = 0
    last = b""
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 24), b""):
            newlines += chunk.count(b"\n")
            last = chunk
    lines = newlines + (0 if last.endswith(b"\n") else 1)
    return lines == records + 1


def read_dictionary(path: Path) -> list[dict[str, str]]:
    """The data dictionary's rows with the API's column names, whichever naming the file uses."""
    text = path.read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        return []
    header = [_DICT_NAMES.get(h.strip().lower(), h.strip().lower()) for h in rows[0]]
    if "field_name" not in header or "form_name" not in header:
        raise PackageRefused(
            [
                Problem(
                    "error", path.name, 1, None, N_("not a REDCap data dictionary: no field name and form name columns")
                )
            ]
        )
    return [dict(zip(header, r, strict=False)) for r in rows[1:] if any(c.strip() for c in r)]


def load(con: duckdb.DuckDBPyConnection, folder: Path, records: str, dictionary: str | None, record_id: str | None):
    """Table `src` (every field as text, '' for empty, plus __line, __record, __event,
    __instrument, __instance, __site) and the source's description."""
    path = folder / records
    if not path.is_file():
        raise PackageRefused([Problem("error", str(path), None, None, N_("the REDCap records export is not there"))])
    src = SourceTable("redcap", records, [])
    src.files[records] = fingerprint(path)
    with open(path, encoding="utf-8-sig", newline="") as fh:
        names = next(csv.reader(fh), [])
    if not names:
        raise PackageRefused([Problem("error", records, 1, None, N_("the records export is empty: no header"))])
    rid = record_id or names[0]
    if rid not in names:
        raise PackageRefused(
            [
                Problem(
                    "error",
                    records,
                    1,
                    rid,
                    N_("the record ID field {field} is not in the header"),
                    params={"field": repr(rid)},
                )
            ]
        )
    lower = [n.lower() for n in names]
    for i, n in enumerate(lower):
        if n in lower[:i]:
            raise PackageRefused([Problem("error", records, 1, names[i], N_("a field appears twice in the header"))])
    try:
        # DuckDB's reader keeps the file's order (preserve_insertion_order): rowid = record index
        con.execute(
            "CREATE TABLE __raw AS SELECT * FROM read_csv(?, header = true, all_varchar = true, delim = ',', "
            "quote = '\"', escape = '\"', max_line_size = 16777216, encoding = 'utf-8')",
            [str(path)],
        )
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PackageRefused(
            [Problem("error", records, None, None, N_("not a readable CSV export: {reason}"), params={"reason": first})]
        ) from None
    n = con.execute("SELECT count(*) FROM __raw").fetchall()[0][0]
    q = lambda c: '"' + c.replace('"', '""') + '"'  # noqa: E731
    join = ""
    if _one_line_records(path, n):
        line = "r.rowid + 2"  # the header is line 1, every record one line
    else:  # a value holds a newline: each record's start line, counted as an RFC 4180 reader does
        counted = count_records(path)
        starts = counted.starts if counted.starts is not None and len(counted.starts) == n else range(2, n + 2)
        con.register("__starts", pa.table({"i": pa.array(range(n), pa.int64()), "line": pa.array(starts, pa.int64())}))
        con.execute("CREATE TABLE __lines AS SELECT * FROM __starts")
        con.unregister("__starts")
        line, join = "l.line", " JOIN __lines l ON l.i = r.rowid"
    metas = [f"coalesce(r.{q(raw)}, '') AS {meta}" if raw in names else f"'' AS {meta}" for raw, meta in META.items()]
    src.meta_fields = {rid, *META}
    src.fields = [c for c in names if c not in src.meta_fields]
    # a view: the fields stay as DuckDB read them (NULL when empty); the converter reads them
    # through coalesce(field, '')
    con.execute(
        f"CREATE VIEW src AS SELECT {line} AS __line, coalesce(r.{q(rid)}, '') AS __record, {', '.join(metas)}"
        + "".join(f", r.{q(c)}" for c in src.fields)
        + f" FROM __raw r{join}"
    )
    src.forms = set(
        r[0] for r in con.execute("SELECT DISTINCT __instrument FROM src WHERE __instrument <> ''").fetchall()
    )
    if dictionary and (folder / dictionary).is_file():
        src.files[dictionary] = fingerprint(folder / dictionary)
        for row in read_dictionary(folder / dictionary):
            name, form, kind = row.get("field_name", ""), row.get("form_name", ""), row.get("field_type", "")
            src.field_form[name] = form
            src.forms.add(form)
            if kind in _FIXED_CHOICES:
                src.choices[name] = _FIXED_CHOICES[kind]
            elif kind in ("dropdown", "radio", "checkbox"):
                src.choices[name] = parse_choices(row.get("select_choices_or_calculations", ""))
            if kind == "checkbox":
                for code in src.choices[name]:
                    src.field_form[f"{name}___{code.lower()}"] = form
            src.field_form.setdefault(f"{form}_complete", form)
    info = folder / "export.json"
    meta = {}
    if info.is_file():
        src.files["export.json"] = fingerprint(info)
        try:
            meta = json.loads(info.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            meta = {}
    mtime = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).replace(microsecond=0)
    src.metadata = {
        "export_time": str(meta.get("export_time") or mtime.isoformat()),
        "source": str(meta.get("source") or f"REDCap export {records}"),
    }
    return src
