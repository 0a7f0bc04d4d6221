"""Bad export packages are refused, naming file, line and column; the last good warehouse serves on.

Contract: the CRF export spec, section 1 ("Error messages give the file, the column and the line
number in the file (the header is line 1)"; "a package that breaks it must be refused ... and
must never replace the last good warehouse"). Every expected line number below is counted by
hand from the rows `tests/factory.small_trial()` writes:

    SITES      01 (line 2), 02 (line 3)
    SCREENING  S0001 01-001 (2), S0002 01-002 (3), S0003 02-001 (4), S0004 02-002 (5), S9001 (6)
    DM DX BL RS RAND PR   01-001 (2), 01-002 (3), 02-001 (4), 02-002 (5)
    IE         19 criteria per subject in that order: 01-001 lines 2..20, 01-002 lines 21..39, ...
    EX         3 cycles per subject: 01-001 lines 2..4, ..., 02-002 lines 11..13
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from dashboard.config import load_crf_spec
from dashboard.ingest.build import build
from dashboard.ingest.problems import PackageRefused, Problem
from dashboard.store import warehouse
from factory import Package, small_trial

ROOT = Path(__file__).resolve().parents[1]
SUBJECTS = 4  # randomized subjects of small_trial()
ANY = object()  # "not checked" for an expected line or column


# ---------------------------------------------------------------- helpers
def ae_row(subjid="01-001", siteid="01", aespid="1", **over) -> dict:
    row = {
        "SUBJID": subjid,
        "SITEID": siteid,
        "AESPID": aespid,
        "AETERM": "伤口感染",
        "AEDECOD": "Wound infection",
        "AESOC": "Infections and infestations",
        "AESTDAT": "2026-03-20",
        "AEENDAT": "2026-04-02",
        "AETOXGR": "2",
        "AESER": "N",
        "AEREL": "SURGERY",
        "AEIMMUNE": "N",
        "AECLAV": "II",
        "AEOUT": "RECOVERED",
    }
    row.update(over)
    return row


def subject_count(wh: Path) -> int:
    con = warehouse.connect(wh)
    try:
        return con.execute("select count(*) from subjects").fetchall()[0][0]
    finally:
        con.close()


def describe(problems: list[Problem]) -> str:
    return "\n".join(str(p) for p in problems) or "(no problems)"


def find_error(
    problems: list[Problem], file: str, line, column, message: str | None = None, flags: int = re.IGNORECASE
) -> Problem:
    """The error that names `file` (case-insensitively), `line` and `column` (or fail, listing all)."""

    def column_ok(p: Problem) -> bool:
        if column is ANY:
            return True
        if column is None:
            return p.column is None
        wanted = {column} if isinstance(column, str) else set(column)
        # a composite key column may be reported as "SUBJID+AESPID"
        named = set((p.column or "").upper().split("+"))
        return bool({c.upper() for c in wanted} & named)

    hits = [
        p
        for p in problems
        if p.severity == "error" and p.file.lower() == file.lower() and (line is ANY or p.line == line) and column_ok(p)
    ]
    assert hits, (
        f"expected an error naming {file}, line {line if line is not ANY else '*'}, "
        f"column {column if column is not ANY else '*'}; the build reported:\n{describe(problems)}"
    )
    if message is not None:
        assert any(re.search(message, p.message, flags) for p in hits), (
            f"no error at {file}:{line}:{column} has a message matching {message!r}:\n{describe(hits)}"
        )
    return hits[0]


@dataclass
class GoodWarehouse:
    path: Path
    build_dir: Path
    subjects: int


@pytest.fixture(scope="module")
def _golden(tmp_path_factory) -> Path:
    """One good warehouse built from small_trial(), copied for each test."""
    root = tmp_path_factory.mktemp("golden")
    pkg = small_trial().write(root / "package")
    build(pkg, root / "wh")
    return root / "wh"


@pytest.fixture
def good_wh(_golden, tmp_path) -> GoodWarehouse:
    """A warehouse whose current build is small_trial() (a private copy for this test)."""
    wh = tmp_path / "wh"
    shutil.copytree(_golden, wh, symlinks=True)
    current = warehouse.current_build(wh)
    assert current.is_relative_to(wh.resolve())  # the copy serves its own build
    n = subject_count(wh)
    assert n == SUBJECTS
    return GoodWarehouse(wh, current, n)


def refused(package: Path, good: GoodWarehouse) -> list[Problem]:
    """Build `package` over the good warehouse: it must be refused and change nothing served."""
    reader = warehouse.connect(good.path)  # a reader holding the old build open
    try:
        with pytest.raises(PackageRefused) as info:
            build(package, good.path)
        assert warehouse.current_build(good.path) == good.build_dir
        assert subject_count(good.path) == good.subjects
        assert reader.execute("select count(*) from subjects").fetchall()[0][0] == good.subjects
    finally:
        reader.close()
    builds = good.path / "builds"
    assert [p.name for p in builds.iterdir()] == [good.build_dir.name], (
        "a refused package left a build (or a temporary build folder) behind"
    )
    problems = info.value.problems
    assert any(p.severity == "error" for p in problems), describe(problems)
    return problems


# ---------------------------------------------------------------- the bad kinds
@dataclass
class Bad:
    """A way to break small_trial(): change the rows, or the written files, and what must be said."""

    change: Callable[[Package], None] | None
    file: str
    line: object
    column: object
    message: str | None = None
    after_write: Callable[[Path], None] | None = None
    columns: dict[str, list[str]] | None = None
    flags: int = re.IGNORECASE


def _dm_columns_without(name: str) -> dict[str, list[str]]:
    return {"DM": [c for c in load_crf_spec().forms["DM"].column_names if c != name]}


def _set(form: str, index: int, **values) -> Callable[[Package], None]:
    def change(pkg: Package) -> None:
        pkg.forms[form][index].update(values)

    return change


def _dup_dm(pkg: Package) -> None:
    # the same subject twice, the second row differing only in its consent date
    pkg.forms["DM"].append({**pkg.forms["DM"][1], "RFICDAT": "2026-02-01"})


def _dup_ae(pkg: Package) -> None:
    pkg.forms["AE"] += [ae_row(), ae_row()]  # identical rows: still a repeated key


def _screen_at_unknown_site(pkg: Package) -> None:
    pkg.add("SCREENING", SCRNID="S9002", SITEID="99", SCRNDAT="2026-02-10", SCRNOUT="SCREEN FAILURE", SFREAS="I04")


def _two_export_rows(pkg: Package) -> None:
    pkg.forms["EXPORT"].append({**pkg.forms["EXPORT"][0], "EXPORTDTC": "2028-07-04T09:00:00"})


def _drop_dx_02_001(pkg: Package) -> None:
    pkg.forms["DX"] = [r for r in pkg.forms["DX"] if r["SUBJID"] != "02-001"]


def _ae_not_enrolled(pkg: Package) -> None:
    pkg.forms["AE"].append(ae_row(subjid="01-099"))


def _truncate_ex(folder: Path) -> None:
    # the transfer stopped in the middle of the last record (line 13), inside the EXTRT value
    path = folder / "EX.csv"
    data = path.read_bytes()
    last = data.rstrip(b"\n").rsplit(b"\n", 1)[1]
    assert last.startswith(b"02-002,02,3,") and b",TORIPALIMAB," in last
    cut = data.rindex(b",TORIPALIMAB,") + len(b",TORI")
    path.write_bytes(data[:cut])


def _unterminated_quote_rs(folder: Path) -> None:
    path = folder / "RS.csv"
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[2].startswith("01-002,01,")  # line 3 of the file
    fields = lines[2].split(",")
    fields[2] = '"' + fields[2]  # RSDAT: opening quote, never closed
    lines[2] = ",".join(fields)
    path.write_text("\n".join(lines), encoding="utf-8")


def _remove_export(folder: Path) -> None:
    (folder / "EXPORT.csv").unlink()


def _empty_ae(folder: Path) -> None:
    (folder / "AE.csv").write_bytes(b"")


def _bad_byte_in_sites(folder: Path) -> None:
    # 0xFF is valid in neither UTF-8 nor GB18030; it sits in CITY of site 02 (line 3)
    path = folder / "SITES.csv"
    data = path.read_bytes()
    lines = data.split(b"\n")
    assert lines[2].startswith(b"02,")
    city = "广州".encode()
    assert city in lines[2]
    lines[2] = lines[2].replace(city, b"Guang\xffzhou")
    path.write_bytes(b"\n".join(lines))


def _multiline_then_bad_date(pkg: Package) -> None:
    # AE 1 has a quoted two-line verbatim term (lines 2-3); AE 2 (line 4) has a bad onset date
    pkg.forms["AE"] += [ae_row(AETERM="伤口感染\n右颌下切口"), ae_row(aespid="2", AESTDAT="2026-13-01")]


BAD = {
    "missing required column": Bad(
        None, "DM.csv", 1, "SEX", r"SEX|missing|required", columns=_dm_columns_without("SEX")
    ),
    "duplicate subject in DM": Bad(_dup_dm, "DM.csv", 6, "SUBJID", r"01-002"),
    "duplicate identical AE rows": Bad(_dup_ae, "AE.csv", 3, "AESPID", r"01-001"),
    "impossible date 2026-02-30": Bad(_set("DX", 2, DXDAT="2026-02-30"), "DX.csv", 4, "DXDAT", r"2026-02-30"),
    "malformed date 2026/03/01": Bad(_set("BL", 3, BLDAT="2026/03/01"), "BL.csv", 5, "BLDAT", r"2026/03/01"),
    "lower-case y in a Y/N field": Bad(_set("IE", 19, IEORRES="y"), "IE.csv", 21, "IEORRES", r"['\"]y['\"]", flags=0),
    "code not in list": Bad(_set("DX", 0, PRIMSITE="TONGUE"), "DX.csv", 2, "PRIMSITE", r"TONGUE"),
    "subject on two sites": Bad(_set("BL", 1, SITEID="02"), "BL.csv", 3, "SITEID", r"01-002"),
    "unknown site": Bad(_screen_at_unknown_site, "SCREENING.csv", 7, "SITEID", r"\b99\b"),
    "truncated file": Bad(None, "EX.csv", 13, ("EXTRT", "EXCLASS"), after_write=_truncate_ex),
    "unterminated quote": Bad(None, "RS.csv", 3, "RSDAT", r"quote", after_write=_unterminated_quote_rs),
    "missing EXPORT.csv": Bad(None, "EXPORT.csv", ANY, ANY, r"missing", after_write=_remove_export),
    # the second row is the one too many: line 3
    "EXPORT.csv with two rows": Bad(_two_export_rows, "EXPORT.csv", 3, ANY, r"one row"),
    "EXPORT.csv with a header and no row": Bad(
        lambda pkg: pkg.forms["EXPORT"].clear(), "EXPORT.csv", ANY, ANY, r"one row|no row|holds 0"
    ),
    "EXPORT.csv empty (0 bytes)": Bad(
        None,
        "EXPORT.csv",
        ANY,
        ANY,
        r"empty|header",
        after_write=lambda folder: (folder / "EXPORT.csv").write_bytes(b""),
    ),
    "empty file (0 bytes)": Bad(None, "AE.csv", 1, ANY, r"empty|header", after_write=_empty_ae),
    # no line of DX.csv holds the missing subject, so no line number is required here
    "randomized subject missing from DX": Bad(_drop_dx_02_001, "DX.csv", ANY, "SUBJID", r"02-001"),
    "bad encoding bytes": Bad(None, "SITES.csv", 3, "CITY", r"decod|encoding", after_write=_bad_byte_in_sites),
    "SUBJID in AE not enrolled": Bad(_ae_not_enrolled, "AE.csv", 2, "SUBJID", r"01-099"),
    # partial dates are allowed only for AESTDAT (YYYY-MM, YYYY) and BRTHDAT (YYYY-MM)
    "BRTHDAT year only": Bad(_set("DM", 0, BRTHDAT="1960"), "DM.csv", 2, "BRTHDAT", r"1960"),
    "partial date in RFICDAT": Bad(_set("DM", 1, RFICDAT="2026-01"), "DM.csv", 3, "RFICDAT", r"2026-01"),
    "required value empty": Bad(_set("DX", 1, CT=""), "DX.csv", 3, "CT", r"required|empty|missing"),
    "line numbers count the lines of a multi-line record": Bad(
        _multiline_then_bad_date, "AE.csv", 4, "AESTDAT", r"2026-13-01"
    ),
}


@pytest.mark.parametrize("kind", list(BAD), ids=[k.replace(" ", "-") for k in BAD])
def test_bad_package_is_refused_naming_file_line_column(kind, good_wh, tmp_path):
    bad = BAD[kind]
    pkg = small_trial()
    if bad.change:
        bad.change(pkg)
    folder = pkg.write(tmp_path / "package", columns=bad.columns)
    if bad.after_write:
        bad.after_write(folder)
    problems = refused(folder, good_wh)
    find_error(problems, bad.file, bad.line, bad.column, bad.message, bad.flags)


def test_two_files_for_one_form_differing_in_case_are_refused(good_wh, tmp_path):
    pkg = small_trial()
    pkg.forms["AE"].append(ae_row())
    folder = pkg.write(tmp_path / "package")
    shutil.copy(folder / "AE.csv", folder / "ae.csv")  # file names are case-insensitive
    problems = refused(folder, good_wh)
    errors = [p for p in problems if p.severity == "error" and p.file.lower() == "ae.csv"]
    assert errors, describe(problems)


def test_utf8_file_with_one_stray_byte_is_not_stored_as_gb18030_mojibake(good_wh, tmp_path):
    """Spec 1: the build detects the encoding "and never stores mojibake".

    SITES.csv is UTF-8 with Chinese names and one stray Windows-1252 byte (an e-acute, 0xE9)
    in CITY of site 02 (line 3). Those bytes happen to be valid GB18030 as a whole, so reading
    the file as GB18030 would turn every Chinese name into mojibake. The package must be
    refused naming SITES.csv, or load with the names intact; never load them garbled.
    """
    pkg = small_trial()
    pkg.forms["SITES"][0].update(SITENAME="中山大学附属肿瘤医院", CITY="广州")
    pkg.forms["SITES"][1].update(SITENAME="四川大学华西口腔医院", CITY="Chengdu")
    folder = pkg.write(tmp_path / "package")
    path = folder / "SITES.csv"
    data = path.read_bytes()
    assert data.count(b"Chengdu") == 1
    data = data.replace(b"Chengdu", b"Chengdu Caf\xe9x")
    with pytest.raises(UnicodeDecodeError, match="'utf-8' codec can't decode byte 0xe9"):
        data.decode("utf-8")
    data.decode("gb18030")  # the trap: valid GB18030, but not what was written
    path.write_bytes(data)
    try:
        build(folder, good_wh.path)
    except PackageRefused as exc:
        find_error(exc.problems, "SITES.csv", ANY, ANY)
        assert warehouse.current_build(good_wh.path) == good_wh.build_dir
        return
    con = warehouse.connect(good_wh.path)
    try:
        names = dict(con.execute("select siteid, sitename from crf_sites").fetchall())
    finally:
        con.close()
    assert names.get("01") == "中山大学附属肿瘤医院", f"stored as mojibake: {names}"


def test_refused_attempt_is_in_the_load_history_with_its_error_count(good_wh, tmp_path):
    before = warehouse.load_history(good_wh.path)
    assert [h["status"] for h in before] == ["published"]
    pkg = small_trial()
    pkg.forms["DX"][2]["DXDAT"] = "2026-02-30"
    pkg.forms["BL"][3]["BLDAT"] = "2026/03/01"
    folder = pkg.write(tmp_path / "package")
    problems = refused(folder, good_wh)
    errors = [p for p in problems if p.severity == "error"]
    assert len(errors) >= 2

    history = warehouse.load_history(good_wh.path)
    assert len(history) == len(before) + 1
    entry = history[-1]
    assert entry["status"] == "refused"
    assert entry["errors"] == len(errors)
    assert Path(entry["package"]) == folder
    shown = "\n".join(entry["first_errors"])
    assert "DX.csv" in shown and "DXDAT" in shown and "line 4" in shown
    assert "BL.csv" in shown and "BLDAT" in shown and "line 5" in shown
    # the manifest of the build being served is untouched
    assert warehouse.manifest(good_wh.path)["build_id"] == before[0]["build_id"]


def test_cli_refuses_with_exit_code_2_and_names_file_line_column(good_wh, tmp_path):
    pkg = small_trial()
    pkg.forms["DX"][2]["DXDAT"] = "2026-02-30"
    folder = pkg.write(tmp_path / "package")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    run = subprocess.run(
        [sys.executable, "-m", "dashboard", "build", str(folder), "--warehouse", str(good_wh.path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2, run.stderr
    lines = [ln for ln in run.stderr.splitlines() if "DX.csv" in ln]
    assert any("line 4" in ln and "DXDAT" in ln and "2026-02-30" in ln for ln in lines), run.stderr
    assert "REFUSED" in run.stderr
    assert warehouse.current_build(good_wh.path) == good_wh.build_dir
    assert subject_count(good_wh.path) == good_wh.subjects


# ---------------------------------------------------------------- what must NOT refuse a package
def test_unknown_extra_column_is_a_warning_kept_and_reported(good_wh, tmp_path):
    pkg = small_trial()
    for i, row in enumerate(pkg.forms["DM"]):
        row["LOCALNOTE"] = f"note {i}"
    folder = pkg.write(tmp_path / "package")
    result = build(folder, good_wh.path)

    assert warehouse.current_build(good_wh.path) == result.build_dir != good_wh.build_dir
    assert any(w.file == "DM.csv" and w.column == "LOCALNOTE" for w in result.warnings), result.warnings
    con = warehouse.connect(good_wh.path)
    try:
        rows = con.execute(
            "select severity, file, line, column_name, message from problems where upper(column_name) = 'LOCALNOTE'"
        ).fetchall()
        assert rows, con.execute("select * from problems").fetchall()
        assert all(r[0] == "warning" for r in rows)
        assert ("DM.csv", 1) in {(r[1], r[2]) for r in rows}
        assert not con.execute("select count(*) from problems where severity = 'error'").fetchall()[0][0]
        assert con.execute("select count(*) from subjects").fetchall()[0][0] == SUBJECTS
    finally:
        con.close()
    # kept, as text (spec: "Unknown extra columns are kept"), in the closed file only: crf_dm is
    # not a table of the blinded allow-list (dashboard/blinded_tables.toml)
    con = warehouse.connect(good_wh.path, closed=True)
    try:
        kept = dict(con.execute("select subjid, localnote from crf_dm").fetchall())
        assert kept["01-002"] == "note 1"
    finally:
        con.close()
    assert warehouse.load_history(good_wh.path)[-1]["status"] == "published"


def test_partial_dates_are_imputed_and_flagged(good_wh, tmp_path):
    pkg = small_trial()
    pkg.forms["AE"] += [
        ae_row(aespid="1", AESTDAT="2026-04", AEENDAT=""),  # AE.csv line 2
        ae_row(aespid="2", AESTDAT="2026", AEENDAT=""),
    ]  # AE.csv line 3
    pkg.forms["DM"][2]["BRTHDAT"] = "1961-07"  # DM.csv line 4
    folder = pkg.write(tmp_path / "package")
    build(folder, good_wh.path)
    con = warehouse.connect(good_wh.path, closed=True)  # crf_ae and crf_dm are closed-only tables
    try:
        onset = dict(con.execute("select aespid, aestdat::varchar from crf_ae").fetchall())
        assert onset == {"1": "2026-04-01", "2": "2026-01-01"}
        birth = con.execute("select brthdat::varchar from crf_dm where subjid = '02-001'").fetchall()
        assert birth == [("1961-07-01",)]
        flagged = con.execute(
            "select file, line, column_name from findings where kind = 'partial date imputed' order by file, line"
        ).fetchall()
        assert flagged == [("AE.csv", 2, "AESTDAT"), ("AE.csv", 3, "AESTDAT"), ("DM.csv", 4, "BRTHDAT")]
    finally:
        con.close()


def test_rows_dated_after_the_cutoff_are_findings_left_out(good_wh, tmp_path):
    pkg = small_trial()  # cut-off 2028-06-30
    pkg.forms["AE"] += [
        ae_row(aespid="1"),  # line 2
        ae_row(aespid="2", AESTDAT="2028-07-02", AEENDAT=""),  # after the cut-off, before the export
    ]  # line 3
    folder = pkg.write(tmp_path / "package")
    result = build(folder, good_wh.path)
    con = warehouse.connect(good_wh.path, closed=True)  # crf_ae is a closed-only table
    try:
        assert con.execute("select aespid from crf_ae").fetchall() == [("1",)]
        hits = con.execute(
            "select file, line, column_name, value from findings where form = 'AE' and kind like '%after the cut-off%'"
        ).fetchall()
        assert hits == [("AE.csv", 3, "AESTDAT", "2028-07-02")]
    finally:
        con.close()
    assert sum(n for k, n in result.findings.items() if "after the cut-off" in k) == 1
