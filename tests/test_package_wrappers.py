"""The same small package in every wrapper and encoding the export spec allows, and the blinding.

Spec section 1: a folder or a `.zip` of one (forms at the root or inside one top-level folder),
or an `.xlsx` with one sheet per form; CSV in UTF-8 with or without a BOM, or GB18030 detected
without being told; file and column names case-insensitive; identifiers that look numeric
(`SITEID` `01`) stay text. Chinese site names and verbatim terms come back intact.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pytest

from dashboard.config import load_crf_spec
from dashboard.ingest.build import build
from dashboard.store import warehouse
from factory import Package, small_trial

SITE_NAMES = {"01": "上海交通大学医学院附属第九人民医院", "02": "中山大学附属肿瘤医院"}
AETERMS = {("01-001", "1"): "伤口感染", ("02-002", "1"): "免疫相关性甲状腺炎（2级）"}
ARMS = {"01-001": "DE-ESCALATION", "01-002": "STANDARD", "02-001": "DE-ESCALATION", "02-002": "STANDARD"}
ARM_VALUES = ("DE-ESCALATION", "STANDARD")
SURGERY_VALUES = ("DE-ESCALATION SURGERY", "STANDARD SURGERY")  # PRTRT reveals the arm


def package() -> Package:
    """small_trial() with two AEs whose verbatim terms are Chinese."""
    pkg = small_trial()
    pkg.add(
        "AE",
        SUBJID="01-001",
        SITEID="01",
        AESPID="1",
        AETERM=AETERMS[("01-001", "1")],
        AEDECOD="Wound infection",
        AESTDAT="2026-03-20",
        AEENDAT="2026-04-02",
        AETOXGR="2",
        AESER="N",
        AEREL="SURGERY",
        AEIMMUNE="N",
        AECLAV="II",
        AEOUT="RECOVERED",
    )
    pkg.add(
        "AE",
        SUBJID="02-002",
        SITEID="02",
        AESPID="1",
        AETERM=AETERMS[("02-002", "1")],
        AEDECOD="Thyroiditis",
        AESTDAT="2026-04",
        AETOXGR="2",
        AESER="N",
        AEREL="IMMUNOTHERAPY",
        AEIMMUNE="Y",
        AEOUT="RECOVERING",
    )
    return pkg


def check_built(wh: Path) -> None:
    """The warehouse serves the four subjects, both sites by their Chinese names, the AE terms
    (crf_ae and crf_dm in the closed file: they are not on the blinded allow-list)."""
    con = warehouse.connect(wh)
    try:
        assert con.execute("select count(*) from subjects").fetchall()[0][0] == 4
        sites = dict(con.execute("select siteid, sitename from crf_sites").fetchall())
        assert sites == SITE_NAMES
        cities = {r[0] for r in con.execute("select city from crf_sites").fetchall()}
        assert cities == {"上海", "广州"}
        assert not con.execute("select count(*) from problems where severity = 'error'").fetchall()[0][0]
    finally:
        con.close()
    con = warehouse.connect(wh, closed=True)
    try:
        terms = {(s, a): t for s, a, t in con.execute("select subjid, aespid, aeterm from crf_ae").fetchall()}
        assert terms == AETERMS
        per_site = dict(con.execute("select siteid, count(*) from crf_dm group by siteid").fetchall())
        assert per_site == {"01": 2, "02": 2}
    finally:
        con.close()


def write_zip(folder: Path, archive: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        if prefix:
            zf.writestr(prefix, "")  # the folder entry, as zip tools write it
        for path in sorted(folder.iterdir()):
            zf.write(path, prefix + path.name)
    return archive


def write_xlsx(pkg: Package, path: Path, numeric: bool = False) -> Path:
    """One sheet per form, named after it. Every cell text, or (numeric) the way Excel keeps them:
    SITEID a number 1 formatted "00", integers as numbers, dates as dates."""
    import openpyxl

    spec = load_crf_spec()
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, form in spec.forms.items():
        ws = wb.create_sheet(name)
        types = {c.name: c.type for c in form.columns}
        header = form.column_names
        ws.append(header)
        for row in pkg.forms[name]:
            ws.append([row.get(c, "") or None for c in header])
        if not numeric:
            continue
        for r, row in enumerate(pkg.forms[name], start=2):
            for c, col in enumerate(header, start=1):
                value, cell = row.get(col, ""), ws.cell(row=r, column=c)
                if not value:
                    continue
                if col == "SITEID":
                    cell.value, cell.number_format = int(value), "00"
                elif types.get(col) == "integer":
                    cell.value = int(value)
                elif types.get(col) == "date" and len(value) == 10:
                    cell.value = dt.datetime.fromisoformat(value)
                    cell.number_format = "yyyy-mm-dd"
    wb.save(path)
    return path


def lower_case_names(folder: Path) -> Path:
    for path in list(folder.iterdir()):
        path.rename(path.with_name(path.stem.lower() + ".csv"))
    return folder


# ---------------------------------------------------------------- every wrapper builds
def _folder(tmp: Path) -> Path:
    return package().write(tmp / "package")


def _bom(tmp: Path) -> Path:
    folder = package().write(tmp / "package", encoding="utf-8-sig")
    assert (folder / "SITES.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    return folder


def _gb18030(tmp: Path) -> Path:
    folder = package().write(tmp / "package", encoding="gb18030")
    raw = (folder / "AE.csv").read_bytes()
    assert "伤口感染".encode("gb18030") in raw
    with pytest.raises(UnicodeDecodeError, match="'utf-8' codec can't decode"):
        raw.decode("utf-8")  # nothing says it is GB18030
    return folder


def _lower_file_names(tmp: Path) -> Path:
    folder = lower_case_names(package().write(tmp / "package"))
    assert (folder / "dm.csv").exists() and not (folder / "DM.csv").exists()
    return folder


def _lower_column_names(tmp: Path) -> Path:
    spec = load_crf_spec()
    pkg = package()
    for name, rows in pkg.forms.items():
        pkg.forms[name] = [{k.lower(): v for k, v in r.items()} for r in rows]
    return pkg.write(tmp / "package", columns={n: [c.lower() for c in f.column_names] for n, f in spec.forms.items()})


def _reordered_columns(tmp: Path) -> Path:
    spec = load_crf_spec()
    return package().write(tmp / "package", columns={n: list(reversed(f.column_names)) for n, f in spec.forms.items()})


def _zip_root(tmp: Path) -> Path:
    return write_zip(package().write(tmp / "package"), tmp / "export.zip")


def _zip_folder(tmp: Path) -> Path:
    return write_zip(package().write(tmp / "package"), tmp / "export.zip", prefix="NEO-MARGIN_2028-06-30/")


def _zip_gb18030_lower(tmp: Path) -> Path:
    folder = lower_case_names(package().write(tmp / "package", encoding="gb18030"))
    return write_zip(folder, tmp / "EXPORT_GBK.ZIP", prefix="cut/")


def _xlsx_text(tmp: Path) -> Path:
    return write_xlsx(package(), tmp / "export.xlsx")


def _xlsx_numeric(tmp: Path) -> Path:
    return write_xlsx(package(), tmp / "export.xlsx", numeric=True)


WRAPPERS = {
    "folder utf-8": _folder,
    "folder utf-8 with BOM": _bom,
    "folder gb18030": _gb18030,
    "lower-case file names": _lower_file_names,
    "lower-case column names": _lower_column_names,
    "columns in another order": _reordered_columns,
    "zip, forms at root": _zip_root,
    "zip, forms in one top-level folder": _zip_folder,
    "zip of lower-case gb18030 files in a folder": _zip_gb18030_lower,
    "xlsx, SITEID as text": _xlsx_text,
    "xlsx, SITEID numeric 1 formatted 00, numbers and dates as Excel keeps them": _xlsx_numeric,
}


@pytest.mark.parametrize("wrapper", list(WRAPPERS), ids=[w.replace(" ", "-") for w in WRAPPERS])
def test_wrapper_builds_with_chinese_names_intact(wrapper, tmp_path):
    source = WRAPPERS[wrapper](tmp_path)
    wh = tmp_path / "wh"
    result = build(source, wh)
    assert warehouse.current_build(wh) == result.build_dir
    assert result.rows["DM"] == 4 and result.rows["AE"] == 2
    check_built(wh)


def test_gb18030_encoding_is_recorded_in_the_manifest(tmp_path):
    wh = tmp_path / "wh"
    build(_gb18030(tmp_path), wh)
    encodings = warehouse.manifest(wh)["encodings"]
    assert encodings["AE"].lower().replace("-", "") == "gb18030"
    check_built(wh)


# ---------------------------------------------------------------- blinding
@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("blinding")
    wh = tmp / "wh"
    build(package().write(tmp / "package"), wh)
    return wh


def test_blinded_warehouse_has_no_arm_column_and_no_arm_value(built):
    con = warehouse.connect(built)
    try:
        columns = con.execute("select table_name, column_name, data_type from information_schema.columns").fetchall()
        assert {t for t, _, _ in columns} >= {"subjects", "surgeries", "load_history", "problems"}
        assert "crf_rand" not in {t for t, _, _ in columns}  # closed-only
        # the operations form is there for the differences between cuts, with its blinded columns only
        assert {c for t, c, _ in columns if t == "crf_pr"} <= {"subjid", "siteid", "prdat", "entdtc"}
        named = [(t, c) for t, c, _ in columns if c.upper() in ("ARM", "PRTRT")]
        assert not named, f"blinded tables with an arm column: {named}"
        text = [(t, c) for t, c, ty in columns if ty == "VARCHAR"]
        assert len(text) > 50  # the scan really covers the warehouse
        hits = []
        for table, column in text:
            q = f'select "{column}" from "{table}" where upper(trim("{column}")) in (select unnest($v)) limit 1'
            found = con.execute(q, {"v": list(ARM_VALUES + SURGERY_VALUES)}).fetchall()
            if found:
                hits.append((table, column, found[0][0]))
        assert not hits, f"arm values in the blinded warehouse: {hits}"
    finally:
        con.close()


def test_closed_warehouse_has_the_arms(built):
    con = warehouse.connect(built, closed=True)
    try:
        arms = dict(con.execute("select subjid, arm from crf_rand").fetchall())
        assert arms == ARMS
        surgeries = dict(con.execute("select subjid, prtrt from crf_pr").fetchall())
        assert surgeries == {s: f"{a} SURGERY" for s, a in ARMS.items()}
    finally:
        con.close()
