"""Convert an EDC export (REDCap, CDISC ODM) into an export package of the CRF spec, through a
mapping file (dashboard/ingest/edc/mapping.py). The package then goes through the one build that
validates, blinds and publishes every package: the converter checks only what the build cannot
see (the mapping against the source, codes outside the code map, records without a site or a
subject number) and passes every value on otherwise, so a bad date is the build's refusal.

Each form is one SQL SELECT over the source rows, generated from the mapping (identifiers and
literals quoted here, never taken raw), written with DuckDB's COPY in the source's order. Beside
the package, `_conversion/` keeps the origin of every package line (source file, line, record,
event, instance) and the column-to-field map, so a refusal of the build names the source record
and field too (`annotate`); the build ignores that folder.

The arm: nothing arm-bearing is written unless the mapping names it for a closed column (the
randomized arm); REDCap's arm numbers in event names are stripped from visits and from every
message; unmapped fields are listed by name and count, never by value, and left out.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from dashboard.config import CrfSpec, load_crf_spec
from dashboard.i18n import N_
from dashboard.ingest.edc import mapping as mp
from dashboard.ingest.edc.redcap import SourceTable
from dashboard.ingest.problems import WITHHELD, PackageRefused, Problem, indented, msg

CONVERSION_DIR = "_conversion"
ORIGINS = "origins.parquet"
INFO = "conversion.json"
MAX_ERRORS_PER_CHECK = 200
MEMORY_LIMIT = "512MB"
_ARM_SUFFIX = r"_arm_[0-9]+$"


@dataclass
class Conversion:
    package: Path
    kind: str
    rows: dict[str, int]
    warnings: list[Problem]
    provenance: dict
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def lit(value) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def f_(name: str) -> str:
    """A source field in the generated SQL: text, '' when empty."""
    return f"coalesce(s.{q(name)}, '')"


def strip_arm(event: str) -> str:
    return re.sub(_ARM_SUFFIX, "", event or "")


EVENT = f"regexp_replace(s.__event, {lit(_ARM_SUFFIX)}, '')"


def _typed(expr: str, kind: str) -> str:
    """The value converted to the target column's type where the source writes it otherwise."""
    if kind in ("date", "partial_date", "partial_date_y"):
        iso = "'^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T]'"
        return f"(CASE WHEN regexp_matches({expr}, {iso}) THEN left({expr}, 10) ELSE {expr} END)"
    if kind == "datetime":
        return (
            f"(CASE WHEN regexp_matches({expr}, '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}} [0-9]') "
            f"THEN left({expr}, 10) || 'T' || substr({expr}, 12) ELSE {expr} END)"
        )
    if kind == "number":
        return f"(CASE WHEN regexp_matches({expr}, '^-?[0-9]+,[0-9]+$') THEN replace({expr}, ',', '.') ELSE {expr} END)"
    return expr


class _Converter:
    def __init__(self, con, m: mp.Mapping, src: SourceTable, spec: CrfSpec, mapping_name: str):
        self.con, self.m, self.src, self.spec, self.mapping_name = con, m, src, spec, mapping_name
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []
        self.column_fields: dict[str, dict[str, list[str]]] = {}

    # ------------------------------------------------------------------ checks against the source
    def check_source(self) -> None:
        have = set(self.src.fields) | self.src.meta_fields
        problems = []

        def need(fieldname: str, where: str) -> None:
            # `where` is the mapping's key (TOML, not words)
            if fieldname not in have:
                problems.append(
                    msg(
                        N_("{key}: field {field} is not in {file}"),
                        key=where,
                        field=repr(fieldname),
                        file=self.src.file,
                    )
                )

        subj = self.m.subjects
        for f in subj.subjid.fields:
            need(f, "[subjects] subjid")
        if isinstance(subj.site, mp.ColumnSpec):
            for f in subj.site.fields:
                need(f, "[subjects] site")
        for form, fm in self.m.forms.items():
            if self.src.forms and fm.from_ not in self.src.forms:
                problems.append(
                    msg(
                        N_("[forms.{form}] from: {source} is not an instrument/form of {file} ({forms})"),
                        form=form,
                        source=repr(fm.from_),
                        file=self.src.file,
                        forms=", ".join(sorted(self.src.forms)[:30]),
                    )
                )
            for col, c in fm.columns.items():
                for f in c.fields:
                    need(f, f"[forms.{form}.columns] {col}")
                if c.audit and self.src.kind != "odm":
                    problems.append(
                        msg(
                            N_(
                                "[forms.{form}.columns] {column}: audit = true reads ODM audit records; REDCap has none"
                            ),
                            form=form,
                            column=col,
                        )
                    )
                if c.codes == "labels" and c.field and c.field not in self.src.choices:
                    problems.append(
                        msg(
                            N_(
                                '[forms.{form}.columns] {column}: codes = "labels" but field {field} has no choices '
                                "in the data dictionary / code lists"
                            ),
                            form=form,
                            column=col,
                            field=repr(c.field),
                        )
                    )
            if fm.unpivot:
                for key, f in fm.unpivot.fields.items():
                    need(f, f"[forms.{form}.unpivot] fields.{key}")
            w = fm.when_field
            if w:
                need(w.field, f"[forms.{form}] when")
        if subj.site == "dag" and self.src.kind == "redcap" and "redcap_data_access_group" not in self.src.meta_fields:
            pass  # the column is always made (empty): every record then has no site, said per record
        if problems:
            raise mp.MappingError(
                N_("{path}: the mapping does not fit the source\n{problems}"),
                path=self.mapping_name,
                problems=indented(problems),
            )

    # ------------------------------------------------------------------ source relations
    def relation(self, form: str, fm: mp.FormMap) -> str:
        """A table of the rows of `fm.from_` with the fields the form reads (as text, '' empty)."""
        if self.src.kind == "redcap":
            return f"(SELECT * FROM src WHERE __instrument IN ('', {lit(fm.from_)}))"
        fields = sorted(self._fields(fm))
        name = f"src_{form.lower()}"
        pivot = ", ".join(f"max(value) FILTER (WHERE item = {lit(f)}) AS {q(f)}" for f in fields) or "NULL AS __none"
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT r.*"
            + "".join(f", coalesce(p.{q(f)}, '') AS {q(f)}" for f in fields)
            + f" FROM rows r LEFT JOIN (SELECT row_id, {pivot} FROM items WHERE row_id IN "
            f"(SELECT row_id FROM rows WHERE __instrument = {lit(fm.from_)}) GROUP BY row_id) p USING (row_id) "
            f"WHERE r.__instrument = {lit(fm.from_)}"
        )
        return name

    def _fields(self, fm: mp.FormMap) -> set[str]:
        out = {f for c in fm.columns.values() for f in c.fields}
        if fm.unpivot:
            out |= set(fm.unpivot.fields.values())
        if fm.when_field:
            out.add(fm.when_field.field)
        return out

    def record_values(self, spec: mp.ColumnSpec) -> str:
        """(__record, value) for a record-level field: the first non-empty value in source order."""
        f = spec.fields[0]
        if self.src.kind == "redcap":
            return (
                f"(SELECT __record, arg_min({q(f)}, __line) FILTER (WHERE {q(f)} <> '') AS value, "
                f"count(DISTINCT {q(f)}) FILTER (WHERE {q(f)} <> '') AS n FROM src GROUP BY __record)"
            )
        return (
            "(SELECT r.__record, arg_min(i.value, r.__line) FILTER (WHERE i.value <> '') AS value, "
            "count(DISTINCT i.value) FILTER (WHERE i.value <> '') AS n "
            f"FROM rows r JOIN items i USING (row_id) WHERE i.item = {lit(f)} GROUP BY r.__record)"
        )

    # ------------------------------------------------------------------ subjects and sites
    def subjects(self) -> None:
        con, subj = self.con, self.m.subjects
        base = "src" if self.src.kind == "redcap" else "rows"
        con.execute(
            f"CREATE TEMP TABLE records AS SELECT __record, min(__line) AS __line, "
            f"arg_min(__site, __line) FILTER (WHERE __site <> '') AS dag, "
            f"count(DISTINCT __site) FILTER (WHERE __site <> '') AS n_dag FROM {base} GROUP BY __record"
        )
        if subj.subjid.record:
            sid = "r.__record"
            join_s = ""
        else:
            join_s = f" LEFT JOIN {self.record_values(subj.subjid)} sj USING (__record)"
            sid = "sj.value"
        if subj.site in ("dag", "siteref"):
            site = "r.dag"
            join_t = ""
        else:
            join_t = f" LEFT JOIN {self.record_values(subj.site)} st USING (__record)"
            site = "st.value"
        sites = ", ".join(f"({lit(s.source)}, {lit(s.SITEID)})" for s in self.m.sites) or "(NULL, NULL)"
        con.execute(
            f"CREATE TEMP TABLE subj AS SELECT r.__record, r.__line, coalesce({sid}, '') AS SUBJID, "
            f"coalesce({site}, '') AS siteval, t.siteid AS SITEID, "
            f"{'sj.n' if join_s else '1'} AS n_subjid, {'st.n' if join_t else 'r.n_dag'} AS n_site "
            f"FROM records r{join_s}{join_t} "
            f"LEFT JOIN (VALUES {sites}) t(source, siteid) ON t.source = coalesce({site}, '')"
        )
        what = {"dag": msg(N_("data access group")), "siteref": "SiteRef LocationOID"}.get(
            subj.site if isinstance(subj.site, str) else "",
            msg(N_("site field {field}"), field=subj.site.fields[0] if isinstance(subj.site, mp.ColumnSpec) else ""),
        )
        for rec, line, sv, n_site, sid in con.execute(
            "SELECT __record, __line, siteval, n_site, SUBJID FROM subj "
            "WHERE SITEID IS NULL OR n_site > 1 ORDER BY __line"
        ).fetchall()[:MAX_ERRORS_PER_CHECK]:
            if n_site and n_site > 1:
                text = msg(
                    N_("record {record} has more than one {what}: a subject belongs to one site"), record=rec, what=what
                )
            elif sv == "":
                text = msg(N_("record {record} has no site (no {what})"), record=rec, what=what)
            else:
                text = msg(
                    N_("record {record}: {what} {value} is not in the mapping's [[sites]] table"),
                    record=rec,
                    what=what,
                    value=repr(sv),
                )
            self.errors.append(Problem("error", self.src.file, int(line), None, text, sid or None))
        if not subj.subjid.record:
            for rec, line, sid in con.execute(
                "SELECT __record, __line, SUBJID FROM subj WHERE n_subjid > 1 ORDER BY __line"
            ).fetchall()[:MAX_ERRORS_PER_CHECK]:
                self.errors.append(
                    Problem(
                        "error",
                        self.src.file,
                        int(line),
                        subj.subjid.fields[0],
                        N_("record {record} has more than one subject number"),
                        sid or None,
                        params={"record": rec},
                    )
                )

    # ------------------------------------------------------------------ column expressions
    def codes_of(self, c: mp.ColumnSpec, codes) -> dict[str, str] | None:
        if codes is None:
            return None
        if codes == "labels":
            return dict(self.src.choices.get(c.field or "", {}))
        return dict(codes)

    def expr(self, form: str, col: str, c: mp.ColumnSpec, kind: str) -> tuple[str, str | None, dict | None]:
        """(SQL expression of the value, the raw expression a code map applies to, the code map)."""
        if c.value is not None:
            return lit(c.value), None, None
        if c.record:
            return "s.__record", None, None
        if c.instance:
            return "s.__instance", None, None
        if c.audit:
            return _typed("s.__audit", kind), None, None
        if c.year:
            y = f"trim({f_(c.year)})"
            mo = f"trim({f_(c.month)})" if c.month else "''"
            d = f"trim({f_(c.day)})" if c.day else "''"
            return (
                (
                    f"(CASE WHEN {y} = '' THEN '' WHEN {mo} = '' THEN {y} "
                    f"WHEN {d} = '' THEN {y} || '-' || lpad({mo}, 2, '0') "
                    f"ELSE {y} || '-' || lpad({mo}, 2, '0') || '-' || lpad({d}, 2, '0') END)"
                ),
                None,
                None,
            )
        if c.checkbox:
            f = f_(c.fields[0])
            return f"(CASE {f} WHEN '1' THEN 'Y' WHEN '0' THEN 'N' ELSE {f} END)", None, None
        if c.event == "visit":
            table = {strip_arm(k): v for k, v in self.m.events.items()}
            cases = "".join(f" WHEN {lit(k)} THEN {lit(v)}" for k, v in table.items())
            return (f"(CASE {EVENT}{cases} ELSE upper({EVENT}) END)" if cases else f"upper({EVENT})"), None, None
        if c.event == "number":
            raw = f"regexp_extract({EVENT}, '([0-9]+)', 1)"
        elif c.event == "arm":
            raw = "regexp_extract(s.__event, '_arm_([0-9]+)$', 1)"
        else:
            raw = f_(c.field)
        codes = self.codes_of(c, c.codes)
        if codes:
            cases = "".join(f" WHEN {lit(k)} THEN {lit(v)}" for k, v in codes.items())
            return _typed(f"(CASE {raw}{cases} ELSE {raw} END)", kind), raw, codes
        return _typed(raw, kind), None, None

    # ------------------------------------------------------------------ one form
    def form(self, form: str, fm: mp.FormMap, out: Path) -> int:
        f = self.spec.forms[form]
        types = {c.name: c.type for c in f.columns}
        types.setdefault("ENTDTC", "datetime")
        rel = self.relation(form, fm)
        cols: dict[str, str] = {}
        checks: list[tuple[str, str, dict, str]] = []  # (column, raw expr, codes, field label)
        fields_of: dict[str, list[str]] = {}
        has_data: list[str] = []
        for col, c in fm.columns.items():
            e, raw, codes = self.expr(form, col, c, types.get(col, "text"))
            cols[col] = e
            fields_of[col] = c.fields or ([f"(event {c.event})"] if c.event else [])
            if raw and codes is not None:
                checks.append((col, raw, codes, (c.fields or [f"event {c.event}"])[0]))
            for fname in c.fields:
                has_data.append(f"{f_(fname)} = '1'" if c.checkbox else f"{f_(fname)} <> ''")
        auto = [a for a in ("SUBJID", "SITEID") if a in types and a not in cols]
        for a in auto:
            cols[a] = f"j.{a}"
            fields_of[a] = ["[subjects]"]
        # a row where the form has data; an unpivoted form: where the unpivoted field has a value
        where = [f"({' OR '.join(has_data)})"] if has_data and not fm.unpivot else []
        w = fm.when_field
        if w:
            fv = f_(w.field)
            where.append(f"{fv} IN ({', '.join(lit(x) for x in w.equals)})" if w.equals else f"{fv} <> ''")
        if fm.events:
            where.append(f"{EVENT} IN ({', '.join(lit(strip_arm(e)) for e in fm.events)})")
        selects = []
        order = [c for c in f.column_names if c in cols] + [
            c for c in ("ENTDTC",) if c in cols and c not in f.column_names
        ]
        if fm.unpivot:
            u = fm.unpivot
            ucodes = self.codes_of(mp.ColumnSpec(field=next(iter(u.fields.values()))), u.codes) if u.codes else None
            if u.codes == "labels":  # each field its own choices
                ucodes = None
            order = [c for c in f.column_names if c in cols or c in (u.key, u.value)]
            fields_of[u.key] = list(u.fields.values())
            if u.value:
                fields_of[u.value] = list(u.fields.values())
            for k, (key, fname) in enumerate(u.fields.items()):
                raw = f_(fname)
                codes = self.codes_of(mp.ColumnSpec(field=fname), u.codes) if u.codes else None
                value = raw
                if codes:
                    cases = "".join(f" WHEN {lit(a)} THEN {lit(b)}" for a, b in codes.items())
                    value = f"(CASE {raw}{cases} ELSE {raw} END)"
                    checks.append((u.value or u.key, raw, codes, fname))
                value = _typed(value, types.get(u.value or "", "text"))
                cond = [f"{raw} <> ''"]
                if u.keep is not None:
                    cond = [f"{raw} IN ({', '.join(lit(x) for x in u.keep)})"]
                row = {**cols, u.key: lit(key)}
                if u.value:
                    row[u.value] = value
                sel = ", ".join(f"{row[c]} AS {q(c)}" for c in order)
                selects.append(
                    f"SELECT {sel}, s.__line, {k} AS __k, s.__record, {EVENT} AS __event, s.__instance, "
                    f"j.SUBJID AS __subjid, j.SITEID AS __siteid FROM {rel} s JOIN subj j USING (__record) "
                    f"WHERE {' AND '.join(where + cond)}"
                )
            del ucodes
        else:
            sel = ", ".join(f"{cols[c]} AS {q(c)}" for c in order)
            selects.append(
                f"SELECT {sel}, s.__line, 0 AS __k, s.__record, {EVENT} AS __event, s.__instance, "
                f"j.SUBJID AS __subjid, j.SITEID AS __siteid FROM {rel} s JOIN subj j USING (__record)"
                + (f" WHERE {' AND '.join(where)}" if where else "")
            )
        table = f"out_{form.lower()}"
        self.con.execute(f"CREATE TEMP TABLE {table} AS " + " UNION ALL ".join(selects))
        self.column_fields[form] = fields_of
        self._check_codes(form, fm, rel, checks, where)
        self._check_subjects(form, table, f.subject_level)
        n = self.con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        outcols = ", ".join(f"NULLIF({q(c)}, '') AS {q(c)}" for c in order)
        self.con.execute(
            f"COPY (SELECT {outcols} FROM {table} ORDER BY __line, __k) TO {lit(str(out / f'{form}.csv'))} "
            "(HEADER, DELIMITER ',', QUOTE '\"', ESCAPE '\"')"
        )
        self.con.execute(
            f"INSERT INTO origins SELECT {lit(form)}, (row_number() OVER (ORDER BY __line, __k) + 1)::BIGINT, "
            f"__line::BIGINT, __record, __event, __instance FROM {table}"
        )
        return n

    def _check_codes(self, form, fm, rel, checks, where) -> None:
        for col, raw, codes, fname in checks:
            allowed = ", ".join(lit(k) for k in codes) or "NULL"
            quote = self.spec.visibility(form, col) == "blinded" and not self._arm_column(form, col)
            cond = " AND ".join(where + [f"{raw} <> ''", f"{raw} NOT IN ({allowed})"])
            for line, rec, sid, value in self.con.execute(
                f"SELECT s.__line, s.__record, j.SUBJID, {raw} FROM {rel} s JOIN subj j USING (__record) "
                f"WHERE {cond} ORDER BY s.__line LIMIT {MAX_ERRORS_PER_CHECK}"
            ).fetchall():
                shown = repr(value) if quote else WITHHELD
                self.errors.append(
                    Problem(
                        "error",
                        self.src.file,
                        int(line),
                        fname,
                        N_(
                            "record {record}: value {value} of field {field} is not in the code map of "
                            "{form}.{column} ({codes})"
                        ),
                        sid or None,
                        params={
                            "record": rec,
                            "value": shown,
                            "field": fname,
                            "form": form,
                            "column": col,
                            "codes": ", ".join(list(codes)[:20]),
                        },
                    )
                )

    def _arm_column(self, form: str, col: str) -> bool:
        return self.spec.visibility(form, col) != "blinded"

    def _check_subjects(self, form: str, table: str, subject_level: bool) -> None:
        if not subject_level:
            return
        for line, rec in self.con.execute(
            f"SELECT __line, __record FROM {table} WHERE coalesce(__subjid, '') = '' ORDER BY __line "
            f"LIMIT {MAX_ERRORS_PER_CHECK}"
        ).fetchall():
            self.errors.append(
                Problem(
                    "error",
                    self.src.file,
                    int(line),
                    None,
                    N_("record {record} has data for {form} but no subject number (SUBJID) in the mapped field"),
                    params={"record": rec, "form": form},
                )
            )

    # ------------------------------------------------------------------ the rest of the package
    def export_form(self, out: Path) -> None:
        vals = {}
        for k, c in self.m.export.items():
            vals[k] = c.value if c.value is not None else self.src.metadata.get(c.metadata or "", "")
        self._write_rows(
            out / "EXPORT.csv",
            ["EXPORTDTC", "CUTOFFDAT", "SOURCE", "SPECVER"],
            [[vals.get("EXPORTDTC", ""), vals.get("CUTOFFDAT", ""), vals.get("SOURCE", ""), self.spec.version]],
        )

    def sites_form(self, out: Path) -> None:
        rows = [[("" if getattr(s, c) is None else str(getattr(s, c))) for c in mp.SITE_COLUMNS] for s in self.m.sites]
        self._write_rows(out / "SITES.csv", mp.SITE_COLUMNS, rows)

    def empty_form(self, form: str, out: Path) -> None:
        f = self.spec.forms[form]
        self._write_rows(out / f"{form}.csv", [c.name for c in f.columns if c.required] or f.column_names, [])

    @staticmethod
    def _write_rows(path: Path, header: list[str], rows: list[list[str]]) -> None:
        import csv

        with open(path, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(header)
            w.writerows(rows)

    def unmapped(self) -> list[dict]:
        used = set()
        for fm in self.m.forms.values():
            used |= self._fields(fm)
        for c in (self.m.subjects.subjid, self.m.subjects.site):
            if isinstance(c, mp.ColumnSpec):
                used |= set(c.fields)
        left = [
            f
            for f in self.src.fields
            if f not in used
            and f not in self.src.meta_fields
            and not (self.src.kind == "redcap" and f.endswith("_complete"))
        ]
        if not left:
            return []
        if self.src.kind == "redcap":
            counts = self.con.execute(
                "SELECT " + ", ".join(f"count(*) FILTER (WHERE {q(f)} <> '')" for f in left) + " FROM src"
            ).fetchall()[0]
            values = dict(zip(left, counts, strict=True))
        else:
            values = dict(
                self.con.execute(
                    "SELECT item, count(*) FILTER (WHERE value <> '') FROM items WHERE item IN "
                    f"({', '.join(lit(f) for f in left)}) GROUP BY item"
                ).fetchall()
            )
        out = []
        for f in left:
            n = int(values.get(f, 0) or 0)
            form = self.src.field_form.get(f, "")
            out.append({"field": f, "form": form, "values": n})
            self.warnings.append(
                Problem(
                    "warning",
                    self.src.file,
                    None,
                    f,
                    N_("field {field} (instrument/form {form}) is not mapped: {n} value(s) left out of the package")
                    if form
                    else N_("field {field} is not mapped: {n} value(s) left out of the package"),
                    params={"field": f, "form": form, "n": n},
                )
            )
        return out


def convert(
    source_dir: str | Path, mapping_path: str | Path, out_dir: str | Path, *, kind: str | None = None
) -> Conversion:
    """Write the package `out_dir` from the EDC export in `source_dir`, read through the mapping.

    Raises MappingError when the mapping is invalid or does not fit the source, PackageRefused
    (problems naming the source file, line, field and record) when the data cannot be mapped."""
    import time

    t0 = time.perf_counter()
    spec = load_crf_spec()
    mapping_path, source_dir, out = Path(mapping_path), Path(source_dir), Path(out_dir)
    m = mp.load(mapping_path, spec)
    if kind and kind != m.source.kind:
        raise mp.MappingError(
            N_("{path}: [source] kind is {kind}, the command asked for {asked}"),
            path=str(mapping_path),
            kind=repr(m.source.kind),
            asked=repr(kind),
        )
    if out.exists() and any(out.iterdir()):
        raise mp.MappingError(N_("{path}: the package folder exists and is not empty; give a new one"), path=str(out))
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    meta_dir = out / CONVERSION_DIR
    meta_dir.mkdir(mode=0o700)
    work_db = meta_dir / "work.duckdb"
    con = duckdb.connect(str(work_db))
    try:
        con.execute("SET preserve_insertion_order = true")
        # the work database is a file: DuckDB spills past this instead of holding a big export in memory
        con.execute(f"SET memory_limit = {lit(MEMORY_LIMIT)}")
        con.execute(f"SET temp_directory = {lit(str(meta_dir / 'tmp'))}")
        if m.source.kind == "redcap":
            from dashboard.ingest.edc import redcap

            src = redcap.load(con, source_dir, m.source.records, m.source.dictionary, m.source.record_id)
        else:
            from dashboard.ingest.edc import odm

            src = odm.load(con, source_dir, m.source.file, m.source.metadata_file)
        cv = _Converter(con, m, src, spec, str(mapping_path))
        cv.check_source()
        cv.subjects()
        con.execute(
            "CREATE TEMP TABLE origins (form VARCHAR, line BIGINT, source_line BIGINT, record VARCHAR, "
            "event VARCHAR, instance VARCHAR)"
        )
        rows = {}
        cv.export_form(out)
        cv.sites_form(out)
        rows["EXPORT"], rows["SITES"] = 1, len(m.sites)
        for form in spec.forms:
            if form in ("EXPORT", "SITES"):
                continue
            if form in m.forms:
                rows[form] = cv.form(form, m.forms[form], out)
            else:
                cv.empty_form(form, out)
                rows[form] = 0
        unmapped = cv.unmapped()
        if cv.errors:
            raise PackageRefused(cv.errors + cv.warnings)
        con.execute(f"COPY origins TO {lit(str(meta_dir / ORIGINS))} (FORMAT parquet)")
    except BaseException:
        con.close()
        shutil.rmtree(out, ignore_errors=True)
        raise
    con.close()
    work_db.unlink(missing_ok=True)
    shutil.rmtree(meta_dir / "tmp", ignore_errors=True)
    text = mapping_path.read_bytes()
    provenance = {
        "kind": m.source.kind,
        "source": str(source_dir),
        "files": src.files,
        "mapping": {"file": str(mapping_path), "sha256": hashlib.sha256(text).hexdigest()},
        "converted": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "rows": rows,
        "unmapped_fields": unmapped,
        "notes": [str(n) for n in src.notes],  # the English (problems.English)
    }
    (meta_dir / "mapping.toml").write_bytes(text)
    (meta_dir / INFO).write_text(
        json.dumps({**provenance, "columns": cv.column_fields, "source_file": src.file}, ensure_ascii=False, indent=1),
        encoding="utf-8",
    )
    for p in [out, meta_dir]:
        os.chmod(p, 0o700)
    for p in list(out.glob("*")) + list(meta_dir.glob("*")):
        if p.is_file():
            os.chmod(p, 0o600)
    return Conversion(out, m.source.kind, rows, cv.warnings, provenance, round(time.perf_counter() - t0, 3), src.notes)


def annotate(problems: list[Problem], package_dir: str | Path) -> list[Problem]:
    """The build's problems with the source's record, event, instance and field beside the
    package's file, line and column (from the conversion's origins)."""
    meta = Path(package_dir) / CONVERSION_DIR
    try:
        info = json.loads((meta / INFO).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return problems
    wanted = {(Path(p.file).stem.upper(), p.line) for p in problems if p.line}
    origins = {}
    if wanted and (meta / ORIGINS).is_file():
        con = duckdb.connect()
        try:
            con.execute("CREATE TEMP TABLE w (form VARCHAR, line BIGINT)")
            con.executemany("INSERT INTO w VALUES (?, ?)", list(wanted))
            for form, line, sline, rec, event, inst in con.execute(
                f"SELECT o.* FROM read_parquet({lit(str(meta / ORIGINS))}) o JOIN w USING (form, line)"
            ).fetchall():
                origins[(form, line)] = (sline, rec, event, inst)
        finally:
            con.close()
    out = []
    for p in problems:
        form = Path(p.file).stem.upper()
        o = origins.get((form, p.line))
        fields = info.get("columns", {}).get(form, {}).get((p.column or "").upper()) or []
        parts = []
        if o:
            sline, rec, event, inst = o
            parts.append(msg(N_("{file} line {line}"), file=info.get("source_file"), line=sline))
            parts.append(msg(N_("record {record}"), record=rec))
            if event:
                parts.append(msg(N_("event {event}"), event=strip_arm(event)))
            if inst:
                parts.append(msg(N_("instance {instance}"), instance=inst))
        if fields and o:
            parts.append(
                msg(N_("field {fields}") if len(fields) == 1 else N_("fields {fields}"), fields=", ".join(fields[:6]))
            )
        if parts:
            p = Problem(
                p.severity,
                p.file,
                p.line,
                p.column,
                msg(N_("{message} [source: {where}]"), message=p.msg, where=parts),
                p.subjid,
            )
        out.append(p)
    return out
