"""A spec package (a folder of <FORM>.csv, as `write_demo_package` writes it) as the exports of
the EDC designs of dashboard/ingest/edc/design.py, for the round-trip tests: package -> EDC
export -> `convert` -> the same package.

    write_redcap_export(package, out)  records.csv (REDCap's flat records export, raw codes),
                                       dictionary.csv and mapping.toml
    write_odm_export(package, out)     export.xml (ODM 1.3.2: the study's metadata, AdminData with
                                       the sites, ClinicalData) and mapping.toml

Every value survives exactly: the mappings carry the package's SITES rows as [[sites]] and its
EXPORT values. A package row that the design cannot hold is refused with ValueError naming the
form, line and column (a subject whose SITEID differs between forms: a REDCap record has one data
access group, an ODM subject one SiteRef; a subject without a screening-log row; a second row of a
one-row form; a code outside the spec; an AESPID that is no repeat instance).

The package is read once into a temporary SQLite file (the standard library's), keyed by screening
record, and the exports are written from it record by record, strings to the file: memory holds
one record at a time, so the 35,600-subject trial fits.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

from dashboard.config import CrfSpec, load_crf_spec
from dashboard.ingest.edc import design as ds

_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def dag_name(siteid: str) -> str:
    """The data access group's unique name REDCap derives from a group named `site <SITEID>`."""
    return "site_" + (re.sub(r"[^a-z0-9]+", "_", siteid.lower()).strip("_") or "x")


def location_oid(siteid: str) -> str:
    return f"SITE.{siteid}"


# --------------------------------------------------------------------------- the package
class _Package:
    """The package, checked against the designs and staged by record (screening order)."""

    def __init__(self, package: Path, spec: CrfSpec, workdir: Path):
        self.spec = spec
        self.dir = Path(package)
        self.forms = [f for f in ds.forms_of(spec) if f != "SCREENING"]
        self.export = self._one("EXPORT")
        self.sites = list(self._read("SITES"))
        siteids = [r["SITEID"] for _, r in self.sites]
        self.site_rows = [r for _, r in self.sites]
        self.screening: list[dict[str, str]] = []
        self.record_of: dict[str, int] = {}  # SUBJID -> record index
        self.site_of: list[str] = []
        seen: set[str] = set()
        for line, r in self._read("SCREENING"):
            where = f"SCREENING.csv line {line}"
            if r["SCRNID"] == "" or r["SCRNID"] in seen:
                raise ValueError(f"{where}: SCRNID {r['SCRNID']!r} empty or repeated: no record for it")
            if r["SITEID"] not in siteids:
                raise ValueError(f"{where}: SITEID {r['SITEID']!r} is not in SITES.csv: no data access group")
            seen.add(r["SCRNID"])
            if r.get("SUBJID"):
                if r["SUBJID"] in self.record_of:
                    raise ValueError(f"{where}: SUBJID {r['SUBJID']} enrolled twice")
                self.record_of[r["SUBJID"]] = len(self.screening)
            self.screening.append(r)
            self.site_of.append(r["SITEID"])
        self.db = sqlite3.connect(str(workdir / "package.sqlite"), isolation_level=None)
        self.db.execute("BEGIN")
        # a row's place in its record: (record, form, instance); UNIQUE catches a repeat
        self.db.execute("CREATE TABLE r (rec INTEGER, form INTEGER, seq INTEGER, line INTEGER, vals TEXT)")
        self.db.execute("CREATE UNIQUE INDEX r_key ON r (rec, form, seq)")
        for k, form in enumerate(self.forms):
            self._stage(k, form)
        self.db.execute("COMMIT")

    def _read(self, form: str) -> Iterator[tuple[int, dict[str, str]]]:
        f = self.spec.forms[form]
        allowed = set(f.column_names) | set(self.spec.optional_everywhere)
        path = self.dir / f"{form}.csv"
        if not path.is_file():
            return
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header = [h.strip().upper() for h in next(reader, [])]
            extra = [h for h in header if h not in allowed]
            if extra:
                raise ValueError(f"{form}.csv: column {extra[0]} is not in the spec: the designs have no field for it")
            names = f.column_names + [c for c in self.spec.optional_everywhere if c not in f.column_names]
            end = reader.line_num
            for row in reader:
                line, end = end + 1, reader.line_num  # the line the row starts on (a value may hold a line break)
                d = dict(zip(header, row, strict=False))
                yield line, {c: d.get(c, "") for c in names}

    def _one(self, form: str) -> dict[str, str]:
        rows = [r for _, r in self._read(form)]
        if len(rows) != 1:
            raise ValueError(f"{form}.csv: {len(rows)} rows, the mapping's [export] holds exactly one")
        return rows[0]

    def _stage(self, k: int, form: str) -> None:
        f = self.spec.forms[form]
        spid = ds.INSTANCE.get(form)
        repeating = ds.is_repeating(self.spec, form)
        unpivot = ds.UNPIVOT.get(form)
        count: dict[str, int] = {}
        ie_entry: dict[str, str] = {}
        codes = {c.name: c.codes for c in f.columns if c.codes}
        yn = [c.name for c in f.columns if c.type == "yn"]
        batch = []
        for line, r in self._read(form):
            where = f"{form}.csv line {line}"
            sid = r["SUBJID"]
            rec = self.record_of.get(sid)
            if rec is None:
                raise ValueError(f"{where}: SUBJID {sid!r} has no row in SCREENING.csv: no record holds it")
            if r["SITEID"] != self.site_of[rec]:
                raise ValueError(
                    f"{where}: subject {sid} has SITEID {r['SITEID']!r} here and {self.site_of[rec]!r} in the "
                    "screening log: a record has one data access group (ODM: one SiteRef), so the design cannot "
                    "hold a subject whose site differs between forms"
                )
            if not any(v for c, v in r.items() if c not in ("SUBJID", "SITEID")):
                raise ValueError(f"{where}: a row with no values: the EDC has no form instance for it")
            for c, allowed in codes.items():
                if r[c] and r[c] not in allowed and not (unpivot and c == unpivot[0]):
                    raise ValueError(f"{where}, column {c}: {r[c]!r} is not one of the spec's codes")
            for c in yn:
                if r[c] not in ("", "Y", "N"):
                    raise ValueError(f"{where}, column {c}: {r[c]!r} is not Y or N")
            n = count.get(sid, 0) + 1
            count[sid] = n
            if unpivot:
                key = r[unpivot[0]]
                if key not in (codes.get(unpivot[0]) or []):
                    raise ValueError(f"{where}: {unpivot[0]} {key!r} has no field (one per code of the spec)")
                if ie_entry.setdefault(sid, r.get("ENTDTC", "")) != r.get("ENTDTC", ""):
                    raise ValueError(f"{where}: ENTDTC differs between the {form} rows of {sid}: the form has one")
                seq = codes[unpivot[0]].index(key) + 1
            elif spid:
                v = r[spid]
                if not re.fullmatch(r"[1-9][0-9]*", v):
                    raise ValueError(f"{where}, column {spid}: {v!r} is no repeat instance (1, 2, ...)")
                seq = int(v)
            elif repeating:
                seq = n
            else:
                seq = 1
            batch.append((rec, k, seq, line, json.dumps(r, ensure_ascii=False)))
            if len(batch) >= 20_000:
                self._insert(form, batch)
        self._insert(form, batch)

    def _insert(self, form: str, batch: list[tuple]) -> None:
        self.db.execute("SAVEPOINT batch")
        try:
            self.db.executemany("INSERT INTO r VALUES (?, ?, ?, ?, ?)", batch)
            self.db.execute("RELEASE batch")
        except sqlite3.IntegrityError:
            self.db.execute("ROLLBACK TO batch")
            for rec, k, seq, line, vals in batch:
                first = self.db.execute("SELECT line FROM r WHERE rec = ? AND form = ? AND seq = ?", (rec, k, seq))
                got = first.fetchone()
                if got:
                    sid = json.loads(vals)["SUBJID"]
                    key = {**{f: "IETESTCD" for f in ds.UNPIVOT}, **ds.INSTANCE}.get(form)
                    what = f"the same {key}" if key else "a second row (the form is not repeating)"
                    raise ValueError(
                        f"{form}.csv line {line}: {what} for subject {sid} as line {got[0]}: "
                        "one form instance holds one"
                    ) from None
                self.db.execute("INSERT INTO r VALUES (?, ?, ?, ?, ?)", (rec, k, seq, line, vals))
            raise
        batch.clear()

    def records(self) -> Iterator[tuple[dict[str, str], dict[str, list[dict[str, str]]]]]:
        """(screening row, {form: rows in instance order}) for every record, in screening order."""
        cur = self.db.execute("SELECT rec, form, vals FROM r ORDER BY rec, form, seq")
        pending = next(cur, None)
        for rec, scr in enumerate(self.screening):
            rows: dict[str, list[dict[str, str]]] = {}
            while pending is not None and pending[0] == rec:
                rows.setdefault(self.forms[pending[1]], []).append(json.loads(pending[2]))
                pending = next(cur, None)
            yield scr, rows

    def close(self) -> None:
        self.db.close()


def _export_values(pkg: _Package) -> dict[str, str]:
    return {k: pkg.export[k] for k in ("EXPORTDTC", "CUTOFFDAT", "SOURCE")}


def _site_rows(pkg: _Package, source) -> list[dict[str, str]]:
    return [{"source": source(r["SITEID"]), **{k: v for k, v in r.items() if k != "ENTDTC"}} for r in pkg.site_rows]


# --------------------------------------------------------------------------- REDCap
def write_redcap_export(package: Path, out: Path) -> Path:
    """The package as the REDCap project of the design exports it (records.csv: flat, raw codes,
    record_id, redcap_repeat_instrument, redcap_repeat_instance, redcap_data_access_group, then
    the fields in the dictionary's order with each instrument's `<instrument>_complete`, as
    REDCapR's inst/test-data/projects/repeating-instruments-sparse/data.csv and
    blank-for-gray-status/data.csv show them), dictionary.csv and mapping.toml (the design's, with
    the sites and the export values of the package). Returns `out`."""
    spec = load_crf_spec()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    d = ds.redcap_design(spec)
    ds.write_dictionary(d, out / "dictionary.csv")
    header = ["record_id", "redcap_repeat_instrument", "redcap_repeat_instance", "redcap_data_access_group"]
    for inst in d.instruments:
        header += [f for f in d.fields_of(inst) if f != "record_id"] + [f"{inst}_complete"]
    pos = {h: i for i, h in enumerate(header)}
    with tempfile.TemporaryDirectory(prefix="edc-export-") as tmp:
        pkg = _Package(Path(package), spec, Path(tmp))
        try:
            dags = {r["SITEID"]: dag_name(r["SITEID"]) for r in pkg.site_rows}
            if len(set(dags.values())) != len(dags):
                raise ValueError(f"SITES.csv: two sites give the same data access group name {sorted(dags.values())}")
            with open(out / "records.csv", "w", encoding="utf-8", newline="") as fh:
                w = csv.writer(fh, lineterminator="\n")
                w.writerow(header)
                for scr, rows in pkg.records():
                    dag = dags[scr["SITEID"]]
                    base = [""] * len(header)
                    base[0], base[3] = scr["SCRNID"], dag
                    _put(base, pos, d.columns["SCREENING"], scr)
                    base[pos["screening_complete"]] = "2"
                    repeats = []
                    for form in pkg.forms:
                        inst = form.lower()
                        got = rows.get(form, [])
                        if inst in d.repeating:
                            for k, r in enumerate(got, 1):
                                line = [""] * len(header)
                                line[0], line[1], line[3] = scr["SCRNID"], inst, dag
                                line[2] = str(_instance(form, r, k))
                                _put(line, pos, d.columns[form], r)
                                line[pos[f"{inst}_complete"]] = "2"
                                repeats.append(line)
                            continue
                        if form in d.unpivot:
                            key, value, by_code = d.unpivot[form]
                            for r in got:
                                base[pos[by_code[r[key]]]] = {"Y": "1", "N": "0"}.get(r[value], r[value])
                            if got:
                                _put(base, pos, {"ENTDTC": d.columns[form]["ENTDTC"]}, got[0])
                        else:
                            for r in got:
                                _put(base, pos, d.columns[form], r)
                        base[pos[f"{inst}_complete"]] = "2" if got else "0"
                    w.writerow(base)
                    w.writerows(repeats)
            text = ds.redcap_mapping_text(spec, sites=_site_rows(pkg, lambda s: dags[s]), export=_export_values(pkg))
        finally:
            pkg.close()
    (out / "mapping.toml").write_text(text, encoding="utf-8")
    return out


def _instance(form: str, row: dict[str, str], k: int) -> int:
    """The repeat instance: AESPID / DVSPID, else the row's place among the subject's rows."""
    spid = ds.INSTANCE.get(form)
    return int(row[spid]) if spid else k


def _put(line: list[str], pos: dict[str, int], columns: dict[str, ds.RedcapColumn], row: dict[str, str]) -> None:
    for col, rc in columns.items():
        if rc.how in ("record", "dag", "auto", "instance", "unpivot"):
            continue
        for field, raw in rc.encode(row.get(col, "")).items():
            line[pos[field]] = raw


# --------------------------------------------------------------------------- ODM
def write_odm_export(package: Path, out: Path) -> Path:
    """The package as an ODM 1.3.2 export of the design's study (out/export.xml: the Study with
    its MetaDataVersion, AdminData with a Location per site, ClinicalData with one SubjectData per
    screened patient: SiteRef, StudyEventData SE.TRIAL, FormData (FormRepeatKey on repeating
    forms; an AuditRecord with the row's ENTDTC as DateTimeStamp), ItemGroupData, ItemData with
    Value, empty items left out) and out/mapping.toml. Written as strings, record by record.
    Returns `out`."""
    spec = load_crf_spec()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cols = ds.odm_columns(spec)
    unp = ds.odm_unpivot(spec)
    a = ds._a
    with tempfile.TemporaryDirectory(prefix="edc-export-") as tmp:
        pkg = _Package(Path(package), spec, Path(tmp))
        try:
            ex = pkg.export
            mdv = f"MDV.CRF.{spec.version}"
            root = ds.odm_root(
                {
                    "FileOID": f"NEO-MARGIN.EXPORT.{ex['EXPORTDTC']}",
                    "FileType": "Snapshot",
                    "Granularity": "All",
                    "CreationDateTime": ex["EXPORTDTC"],
                    "ODMVersion": "1.3.2",
                    "Originator": "dashboard.devtools.demo.edc",
                    "SourceSystem": ex["SOURCE"],
                }
            )
            with open(out / "export.xml", "w", encoding="utf-8", newline="\n", buffering=1 << 20) as fh:
                fh.write('<?xml version="1.0" encoding="UTF-8"?>\n' + root + "\n")
                fh.write(ds.odm_study(spec) + "\n")
                fh.write(f'  <AdminData StudyOID="{ds.STUDY_OID}">\n')
                fh.write('    <User OID="USR.EDC"><LoginName>edc-export</LoginName></User>\n')
                for s in pkg.site_rows:
                    eff = s.get("ACTDAT") or ex["EXPORTDTC"][:10]
                    fh.write(
                        f"    <Location OID={a(location_oid(s['SITEID']))} Name={a(s['SITENAME'])} "
                        f'LocationType="Site">\n'
                        f'      <MetaDataVersionRef StudyOID="{ds.STUDY_OID}" MetaDataVersionOID="{mdv}" '
                        f"EffectiveDate={a(eff)}/>\n    </Location>\n"
                    )
                fh.write("  </AdminData>\n")
                fh.write(f'  <ClinicalData StudyOID="{ds.STUDY_OID}" MetaDataVersionOID="{mdv}">\n')
                for scr, rows in pkg.records():
                    loc = location_oid(scr["SITEID"])
                    parts = [
                        f"    <SubjectData SubjectKey={_val(scr['SCRNID'])}>\n",
                        f"      <SiteRef LocationOID={a(loc)}/>\n",
                        f'      <StudyEventData StudyEventOID="{ds.EVENT_OID}">\n',
                    ]
                    parts.append(_form_data("SCREENING", None, [scr], cols["SCREENING"], None, loc))
                    for form in pkg.forms:
                        got = rows.get(form)
                        if not got:
                            continue
                        if form in unp:
                            parts.append(_form_data(form, None, got, cols[form], unp[form], loc))
                        elif ds.is_repeating(spec, form):
                            for k, r in enumerate(got, 1):
                                parts.append(_form_data(form, _instance(form, r, k), [r], cols[form], None, loc))
                        else:
                            parts.append(_form_data(form, None, got, cols[form], None, loc))
                    parts.append("      </StudyEventData>\n    </SubjectData>\n")
                    fh.write("".join(parts))
                fh.write("  </ClinicalData>\n</ODM>\n")
            text = ds.odm_mapping_text(
                spec,
                sites=_site_rows(pkg, location_oid),
                export={"EXPORTDTC": None, "CUTOFFDAT": ex["CUTOFFDAT"], "SOURCE": None},
            )
        finally:
            pkg.close()
    (out / "mapping.toml").write_text(text, encoding="utf-8")
    return out


def _val(v: str) -> str:
    if _XML_BAD.search(v):
        raise ValueError(f"{v!r}: a control character XML 1.0 cannot hold")
    return ds._a(v)


def _form_data(form, repeat_key, rows, cols, unpivot, loc) -> str:
    """One FormData: the rows are one row, or (unpivot) the form's rows merged into one."""
    key = f' FormRepeatKey="{repeat_key}"' if repeat_key is not None else ""
    out = [f'        <FormData FormOID="F.{form}"{key}>\n']
    stamp = rows[0].get("ENTDTC", "")
    if stamp:
        out.append(
            f'          <AuditRecord><UserRef UserOID="USR.EDC"/><LocationRef LocationOID={ds._a(loc)}/>'
            f"<DateTimeStamp>{ds._t(stamp)}</DateTimeStamp></AuditRecord>\n"
        )
    out.append(f'          <ItemGroupData ItemGroupOID="IG.{form}">\n')
    if unpivot:
        key_col, value_col, by_code = unpivot
        for r in rows:
            if r[value_col] != "":
                out.append(f'            <ItemData ItemOID="{by_code[r[key_col]]}" Value={_val(r[value_col])}/>\n')
    else:
        r = rows[0]
        for col, oc in cols.items():
            v = r.get(col, "")
            if oc.how == "item" and v != "":
                out.append(f'            <ItemData ItemOID="{oc.item}" Value={_val(v)}/>\n')
    out.append("          </ItemGroupData>\n        </FormData>\n")
    return "".join(out)
