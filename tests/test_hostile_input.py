"""Hostile export packages, generated here from a good one, are refused or contained, and the last
good warehouse serves on (issue 11, classes 3, 7, 8, 11, 12; the subject in every message; the
warehouse on disk readable by the service user only; the audit anchor in each manifest).

Every refusal is checked the same way (`refused`): a PackageRefused whose errors name the file,
a load-history entry for the attempt, `current` still pointing at the same build and that
build's files byte for byte as they were, no build folder left behind. Line numbers are those
`tests/factory.small_trial()` writes (see tests/test_bad_packages.py): subject 01-001 is line 2
of DM, RAND, DX, BL, RS and SCREENING; its first EX cycle line 2.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import resource
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from dashboard.access import audit
from dashboard.config import load_crf_spec, load_trial
from dashboard.ingest import package as package_module
from dashboard.ingest import publish, staging
from dashboard.ingest.build import build
from dashboard.ingest.problems import WITHHELD, PackageRefused, Problem, Quoting
from dashboard.store import warehouse
from factory import Package, small_trial

ROOT = Path(__file__).resolve().parents[1]
ARM_VALUES = [a.upper() for a in load_trial().arm_codes]  # DE-ESCALATION, STANDARD
BUFFER = 16 * staging.MAX_RECORD_BYTES  # DuckDB's CSV buffer: a longer record vanishes


# ---------------------------------------------------------------- helpers
def describe(problems: list[Problem]) -> str:
    return "\n".join(str(p) for p in problems) or "(no problems)"


def file_hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


@dataclass
class Good:
    path: Path  # the warehouse folder
    build_dir: Path  # its current build
    hashes: dict[str, str]  # the current build's files


@pytest.fixture(scope="module")
def _golden(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("golden")
    build(small_trial().write(root / "package"), root / "wh")
    return root / "wh"


@pytest.fixture
def good(_golden, tmp_path) -> Good:
    """A warehouse whose current build is small_trial() (a private copy for this test)."""
    wh = tmp_path / "wh"
    shutil.copytree(_golden, wh, symlinks=True)
    current = warehouse.current_build(wh)
    assert current.is_relative_to(wh.resolve())
    return Good(wh, current, file_hashes(current))


def history(wh: Path) -> list[dict]:
    return warehouse.load_history(wh)


def assert_serving(good: Good) -> None:
    assert warehouse.current_build(good.path) == good.build_dir
    assert file_hashes(good.build_dir) == good.hashes, "the serving build's files changed"
    con = warehouse.connect(good.path)
    try:
        assert con.execute("select count(*) from subjects").fetchall()[0][0] == 4
    finally:
        con.close()
    left = sorted(p.name for p in (good.path / "builds").iterdir())
    assert left == [good.build_dir.name], f"a refused build left {left} behind"


def refused(package: Path, good: Good, match: str, **kwargs) -> PackageRefused:
    """Build `package` over the good warehouse: refused with an error matching `match`, a history
    entry for the attempt, the previous build serving unchanged."""
    before = len(history(good.path))
    with pytest.raises(PackageRefused) as info:
        build(package, good.path, **kwargs)
    problems = info.value.problems
    errors = [p for p in problems if p.severity == "error"]
    assert errors, describe(problems)
    assert any(re.search(match, str(p), re.IGNORECASE) for p in errors), (
        f"no error matches {match!r}:\n{describe(problems)}"
    )
    assert all(p.file for p in errors), describe(errors)
    assert "Traceback" not in str(info.value)
    entries = history(good.path)
    assert len(entries) == before + 1, "the refusal has no load-history entry"
    assert entries[-1]["status"] == "refused"
    assert entries[-1]["build_id"] == info.value.history_entry["build_id"]
    assert entries[-1]["errors"] == len(errors)
    assert_serving(good)
    return info.value


def find(problems: list[Problem], file: str, line, column, message: str) -> Problem:
    hits = [
        p
        for p in problems
        if p.severity == "error"
        and p.file.lower() == file.lower()
        and (line is None or p.line == line)
        and (column is None or (p.column or "").upper() == column)
        and re.search(message, p.message, re.IGNORECASE)
    ]
    assert hits, f"no error {file}:{line}:{column} ~ {message!r}:\n{describe(problems)}"
    return hits[0]


def cli_build(package: Path, wh: Path, *extra: str, preexec=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dashboard", "build", str(package), "--warehouse", str(wh), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=preexec,
    )


def zip_folder(folder: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.iterdir()):
            zf.write(path, path.name)
    return archive


def text_cells(path: Path) -> list[tuple[str, str, str]]:
    """Every (table, column, value) text cell of a warehouse file."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        out = []
        cols = con.execute(
            "select table_name, column_name from information_schema.columns where data_type = 'VARCHAR'"
        ).fetchall()
        assert cols
        for table, column in cols:
            q = f'select distinct "{column}" from "{table}" where "{column}" is not null'
            out += [(table, column, v) for (v,) in con.execute(q).fetchall()]
        return out
    finally:
        con.close()


# ---------------------------------------------------------------- class 7: silent loss
def test_duckdb_drops_a_record_longer_than_its_buffer_silently(tmp_path):
    """The premise, measured: DuckDB 2.0's CSV reader rejects a record longer than max_line_size
    (2,000,000 bytes) with its line, but drops one longer than its buffer (16 x max_line_size,
    32,000,000 bytes) with no error and no reject when store_rejects is on."""
    con = duckdb.connect()
    for k, (size, rejected) in enumerate([(staging.MAX_RECORD_BYTES + 10, [(3,)]), (BUFFER + 10, [])]):
        path = tmp_path / f"x{k}.csv"
        path.write_text("A,B\n1,x\n2," + "y" * size + "\n3,z\n")
        rows = con.execute(
            "select a from read_csv($p, header = true, auto_detect = false, columns = {'A': 'VARCHAR', 'B': 'VARCHAR'},"
            f" store_rejects = true, rejects_table = 'r{k}', rejects_scan = 's{k}')",
            {"p": str(path)},
        ).fetchall()
        assert rows == [("1",), ("3",)]
        assert con.execute(f"select line from r{k}").fetchall() == rejected
        counted = staging.count_records(path)
        assert counted.records == 3 and list(counted.long) == [3]


@pytest.mark.parametrize(
    "size,quoted",
    [(staging.MAX_RECORD_BYTES + 100, False), (BUFFER + 100, False), (BUFFER + 100, True)],
    ids=["over-the-line-limit", "over-the-buffer", "over-the-buffer-quoted-multiline"],
)
def test_record_longer_than_the_reader_limit_is_an_error_naming_file_line_subject(good, tmp_path, size, quoted):
    pkg = small_trial()
    long = "x" * size
    # DX line 3 is subject 01-002; the quoted variant adds a comma, a quote and a newline
    pkg.forms["DX"][1]["STAGE"] = ('He said "T3",\n' + long) if quoted else long
    folder = pkg.write(tmp_path / "package")
    if not quoted:
        assert b'"' not in (folder / "DX.csv").read_bytes()  # the fast count (no quotes) is used
    err = refused(folder, good, "longer than the CSV reader's limit")
    p = find(err.problems, "DX.csv", 3, None, r"longer than the CSV reader's limit of 2,000,000 bytes")
    assert p.subjid == "01-002"
    # the long record is counted as rejected, not lost: no "unaccounted" error
    assert not any("unaccounted" in q.message for q in err.problems), describe(err.problems)


def test_records_unaccounted_for_are_an_error_naming_the_file(good, tmp_path, monkeypatch):
    """The reconciliation itself: a file whose own count differs from loaded + rejected (here the
    counter is made to see one record more than the reader took) is an error naming the file."""
    real = staging.count_records

    def one_more(path, *args, **kwargs):
        counted = real(path, *args, **kwargs)
        if path.name == "AE.csv":
            counted.records += 1
        return counted

    monkeypatch.setattr(staging, "count_records", one_more)
    err = refused(small_trial().write(tmp_path / "package"), good, "unaccounted")
    p = find(
        err.problems,
        "AE.csv",
        None,
        None,
        r"1 records in the file, but the CSV reader loaded 0 and rejected 0: 1 record\(s\) unaccounted",
    )
    assert p.line is None


def test_independent_count_agrees_with_the_csv_module_and_duckdb(tmp_path):
    from dashboard.devtools.demo import write_demo_package

    write_demo_package(tmp_path / "demo", subjects=60, sites=4)
    con = duckdb.connect()
    files = sorted((tmp_path / "demo").glob("*.csv"))
    assert len(files) == len(load_crf_spec().forms)
    quoted = 0
    for path in files:
        with open(path, encoding="utf-8", newline="") as fh:
            expected = sum(1 for r in csv.reader(fh) if r) - 1
        counted = staging.count_records(path)
        quoted += counted.starts is not None
        assert counted.records == expected, path.name
        loaded = con.execute("select count(*) from read_csv($p, header = true, all_varchar = true)", {"p": str(path)})
        assert loaded.fetchall()[0][0] == expected, path.name
    assert quoted >= 1  # the csv-module path was exercised too (the demo's AE terms hold commas)


BENCH = ROOT / "data" / "bench" / "pkg-35600-300"


@pytest.mark.skipif(not BENCH.is_dir(), reason="the 35,600-subject bench package is not generated here")
def test_counting_the_bench_package_is_cheap():
    """The reconciliation's own cost on the 35,600-subject package (64 MB, 1.55 M records)."""
    t0 = time.perf_counter()
    total = sum(staging.count_records(p).records for p in BENCH.glob("*.csv"))
    seconds = time.perf_counter() - t0
    print(f"counted {total} records of {BENCH.name} in {seconds:.2f} s")
    assert total > 1_500_000
    assert seconds < 5


# ---------------------------------------------------------------- class 8: encodings
def test_latin1_file_is_refused_as_ambiguous_naming_file_and_candidates(good, tmp_path):
    pkg = small_trial()
    pkg.forms["SITES"][0]["SITENAME"] = "Hôpital Saint-Éloi"
    pkg.forms["SITES"][1]["SITENAME"] = "Universitätsklinikum Köln"
    pkg.forms["SITES"][0]["CITY"] = "Besançon"
    pkg.forms["SITES"][1]["CITY"] = "Köln"
    folder = pkg.write(tmp_path / "package", encoding="utf-8-sig")
    sites = folder / "SITES.csv"
    sites.write_bytes(sites.read_bytes().decode("utf-8-sig").encode("latin-1"))
    sites.read_bytes().decode("gb18030")  # the trap: strict GB18030 takes these bytes
    err = refused(folder, good, "ambiguous")
    p = find(err.problems, "SITES.csv", 2, "SITENAME", r"ambiguous.*GB18030.*(latin_1|cp1252|cp1250)")
    assert "--encoding" in p.message and "0% of its non-ASCII characters are common simplified Chinese" in p.message
    assert len([q for q in err.problems if q.severity == "error"]) == 1, describe(err.problems)

    # named, it loads as written (the other files carry a BOM: UTF-8 whatever --encoding says)
    result = build(folder, good.path, encoding="latin-1")
    con = warehouse.connect(good.path, closed=True)
    try:
        names = {r[0] for r in con.execute("select sitename from crf_sites").fetchall()}
    finally:
        con.close()
    assert names == {"Hôpital Saint-Éloi", "Universitätsklinikum Köln"}
    manifest = json.loads((result.build_dir / warehouse.MANIFEST).read_text(encoding="utf-8"))
    assert manifest["encodings"]["SITES"] == "latin-1" and manifest["encodings"]["DM"] == "utf-8-sig"


@pytest.mark.parametrize("needle", ["Hôpital Éloi", "Straße", "Müller"])
def test_one_latin1_name_in_a_large_ascii_file_is_still_ambiguous(needle):
    """The second opinion reads the non-ASCII lines only: 60,000 ASCII lines would fit every
    encoding and let charset-normalizer agree with GB18030."""
    rows = ["SUBJID,SITEID,DVSPID,DVSTDAT,DVCAT,DVTERM,DVSEV"]
    rows += [f"01-{i:05d},01,1,2026-05-01,OTHER,visit out of window,MINOR" for i in range(60000)]
    rows[31234] = rows[31234].replace("visit out of window", needle)
    raw = ("\n".join(rows) + "\n").encode("latin-1")
    raw.decode("gb18030")
    _, _, problem = package_module.decode(raw, "DV.csv")
    assert problem is not None and "ambiguous" in problem.message, problem
    assert (problem.line, problem.column) == (31235, "DVTERM")
    chinese = raw.replace(needle.encode("latin-1"), "受试者入组后访视超窗".encode("gb18030"))
    assert package_module.decode(chinese, "DV.csv")[1:] == ("gb18030", None)


def test_big5_read_as_gb18030_is_ambiguous():
    """Traditional Chinese in Big5 decodes as GB18030 into nonsense; few of those characters are
    common simplified Chinese, so the reading is not believed."""
    raw = "SITEID,SITENAME\n01,臺北榮民總醫院\n02,國立臺灣大學醫學院附設醫院\n".encode("big5")
    raw.decode("gb18030")
    _, _, problem = package_module.decode(raw, "SITES.csv")
    assert problem is not None and "ambiguous" in problem.message and problem.line == 2
    assert package_module.decode(raw, "SITES.csv", "big5")[1:] == ("big5", None)  # named, it loads


def test_true_gb18030_demo_package_still_builds(tmp_path):
    from dashboard.devtools.demo import write_demo_package

    folder = tmp_path / "demo"
    write_demo_package(folder, subjects=40, sites=3, encoding="gb18030")
    non_ascii = [p for p in folder.glob("*.csv") if any(b > 127 for b in p.read_bytes())]
    assert {p.stem for p in non_ascii} >= {"SITES", "AE", "DV"}
    for path in non_ascii:
        text, used, problem = package_module.decode(path.read_bytes(), path.name)
        assert problem is None and used == "gb18030", (path.name, problem)
    result = build(folder, tmp_path / "wh")
    manifest = json.loads((result.build_dir / warehouse.MANIFEST).read_text(encoding="utf-8"))
    assert {manifest["encodings"][p.stem] for p in non_ascii} == {"gb18030"}


@pytest.mark.parametrize("bom", [False, True])
def test_utf8_with_or_without_bom_is_accepted_silently(bom):
    raw = ("SITEID,SITENAME\n01,上海交通大学 Hôpital\n").encode("utf-8-sig" if bom else "utf-8")
    text, used, problem = package_module.decode(raw, "SITES.csv")
    assert problem is None and text.lstrip("\ufeff").startswith("SITEID")
    assert used == ("utf-8-sig" if bom else "utf-8")


def test_bytes_that_are_neither_utf8_nor_gb18030_name_candidates():
    raw = "SITEID,SITENAME\n01,Ελληνικά νοσοκομείο\n".encode("iso8859_7") + b"\xff\xff"
    _, _, problem = package_module.decode(raw, "SITES.csv")
    assert problem is not None and problem.line == 2 and "--encoding" in problem.message


def test_undecodable_byte_names_file_line_column_and_subject(good, tmp_path):
    folder = small_trial().write(tmp_path / "package")
    dm = folder / "DM.csv"
    lines = dm.read_bytes().split(b"\n")
    assert lines[2].startswith(b"01-002,")
    lines[2] = lines[2].replace(b",M,", b",M\xff,", 1)  # SEX on line 3
    dm.write_bytes(b"\n".join(lines))
    err = refused(folder, good, "cannot be decoded")
    p = find(err.problems, "DM.csv", 3, "SEX", "cannot be decoded as UTF-8")
    assert p.subjid == "01-002" and "--encoding" in p.message


# ---------------------------------------------------------------- class 11: crashes
def _patch_encrypted(archive: Path, member: str) -> None:
    """Set the 'encrypted' flag bit of one member in its local and central headers (what a
    password-protected export looks like to a reader)."""
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(member)
    local = info.header_offset
    assert data[local : local + 4] == b"PK\x03\x04"
    data[local + 6] |= 0x1
    central = data.find(b"PK\x01\x02")
    while central >= 0:
        name_len = int.from_bytes(data[central + 28 : central + 30], "little")
        if data[central + 46 : central + 46 + name_len] == member.encode():
            data[central + 8] |= 0x1
            break
        central = data.find(b"PK\x01\x02", central + 4)
    assert central >= 0
    archive.write_bytes(bytes(data))


def test_encrypted_zip_member_is_a_clean_refusal(good, tmp_path):
    archive = zip_folder(small_trial().write(tmp_path / "package"), tmp_path / "export.zip")
    _patch_encrypted(archive, "DM.csv")
    with zipfile.ZipFile(archive) as zf, pytest.raises(RuntimeError, match="encrypted"):
        zf.read("DM.csv")  # what used to crash the build
    err = refused(archive, good, "encrypted")
    find(err.problems, "export.zip:DM.csv", None, None, "encrypted .*password")
    out = cli_build(archive, good.path)
    assert out.returncode == 2 and "Traceback" not in out.stderr and "encrypted" in out.stderr, out.stderr


def test_corrupt_zip_is_a_clean_refusal(good, tmp_path):
    archive = zip_folder(small_trial().write(tmp_path / "package"), tmp_path / "export.zip")
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(archive.read_bytes()[: len(archive.read_bytes()) // 2])  # cut in the middle
    refused(garbage, good, "garbage.zip.*not a readable zip")
    # a member whose compressed bytes are damaged: its CRC (or inflate) fails on reading
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo("AE.csv")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for k in range(start + 10, start + min(info.compress_size, 60)):
        data[k] ^= 0x5A
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(bytes(data))
    err = refused(damaged, good, "cannot be read from damaged.zip")
    find(err.problems, "AE.csv", None, None, "cannot be read from damaged.zip")


def test_zip_beyond_the_caps_is_refused_before_expanding(good, tmp_path, monkeypatch):
    folder = small_trial().write(tmp_path / "package")
    # a zip bomb in miniature: 40 MB of zeros that compress to a few kB
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.iterdir()):
            zf.write(path, path.name)
        zf.writestr("NOTES.txt", b"\0" * (40 << 20))
    assert bomb.stat().st_size < 1 << 20
    monkeypatch.setattr(package_module, "MAX_ARCHIVE_BYTES", 32 << 20)
    refused(bomb, good, r"bomb.zip.*expand to 41,\d{3},\d{3} bytes, more than the cap of 33,554,432")
    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as zf:
        for path in sorted(folder.iterdir()):
            zf.write(path, path.name)
        for k in range(50):
            zf.writestr(f"extra/{k}.txt", "")
    monkeypatch.setattr(package_module, "MAX_ARCHIVE_MEMBERS", 40)
    refused(many, good, r"many.zip.*\d+ members, more than the cap of 40")
    assert package_module.MAX_ARCHIVE_BYTES > 0 and package_module.MAX_ARCHIVE_MEMBERS > 0


def _xlsx(pkg: Package, path: Path, *, siteid_number: bool = False, visit_number: bool = False) -> Path:
    import openpyxl

    spec = load_crf_spec()
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, form in spec.forms.items():
        ws = wb.create_sheet(name)
        header = form.column_names
        ws.append(header)
        for row in pkg.forms[name]:
            values = [row.get(c, "") or None for c in header]
            if siteid_number and "SITEID" in header and values[header.index("SITEID")]:
                values[header.index("SITEID")] = int(values[header.index("SITEID")])  # General format: 1
            ws.append(values)
    if visit_number:
        ws = wb["FU"]
        ws.append(["01-001", "01", 3, "2026-06-20", "ALIVE"])  # VISIT 3 where M3 was meant
    wb.save(path)
    return path


def _xml_bomb(workbook: Path, part: str) -> Path:
    entities = '<!ENTITY a0 "lol">' + "".join(
        f'<!ENTITY a{k} "{("&a" + str(k - 1) + ";") * 10}">' for k in range(1, 10)
    )
    out = workbook.with_name("bomb.xlsx")
    with zipfile.ZipFile(workbook) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == part:
                body = re.sub(rb"^<\?xml[^>]*\?>", b"", data)
                body = body.replace(b"<t>", b"<t>&a9;", 1)
                data = b'<?xml version="1.0"?><!DOCTYPE lolz [' + entities.encode() + b"]>" + body
            dst.writestr(zipfile.ZipInfo(item.filename), data)
    return out


def test_openpyxl_parses_through_defusedxml():
    import openpyxl.xml

    assert openpyxl.xml.DEFUSEDXML


@pytest.mark.parametrize("part", ["xl/worksheets/sheet1.xml", "xl/workbook.xml"])
def test_xml_bomb_in_xlsx_is_a_clean_refusal(good, tmp_path, part):
    workbook = _xlsx(small_trial(), tmp_path / "export.xlsx")
    bomb = _xml_bomb(workbook, part)
    err = refused(bomb, good, "XML bomb")
    find(err.problems, "bomb.xlsx", None, None, "declares entities or a DTD .*XML bomb")


def test_second_concurrent_build_is_a_clean_refusal(good, tmp_path):
    folder = small_trial().write(tmp_path / "package")
    with publish.locked(good.path):  # a build is running
        err = refused(folder, good, "another build .* is running")
        out = cli_build(folder, good.path)
    assert out.returncode == 2 and "Traceback" not in out.stderr and "another build" in out.stderr, out.stderr
    assert history(good.path)[-1]["status"] == "refused"
    assert err.problems[0].file == str(folder)


def test_full_disk_is_a_clean_refusal(good, tmp_path):
    """The build's files hit the file-size limit (RLIMIT_FSIZE, as a full disk does: EFBIG;
    Python ignores SIGXFSZ): a refusal, a history entry, the previous build serving."""
    folder = small_trial().write(tmp_path / "package")
    before = len(history(good.path))
    limit = 64 * 1024  # below a DuckDB file's first blocks, above a history line

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    out = cli_build(folder, good.path, preexec=small_files)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert re.search(r"disk holding .* is full", out.stderr), out.stderr
    entries = history(good.path)
    assert len(entries) == before + 1 and entries[-1]["status"] == "refused"
    assert any("is full" in e for e in entries[-1]["first_errors"])
    assert_serving(good)


def test_full_tmpfs_is_a_clean_refusal(tmp_path):
    """A real full disk (ENOSPC): the warehouse's builds/ folder on a small tmpfs that holds one
    build and not two. Skipped where mounting is not allowed."""
    wh = tmp_path / "wh"
    mount = wh / "builds"
    mount.mkdir(parents=True)
    size = 18 << 20  # one small_trial() build is about 11 MB (two DuckDB files)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        first = build(small_trial().write(tmp_path / "package"), wh)
        good = Good(wh, first.build_dir, file_hashes(first.build_dir))
        pkg = small_trial()
        pkg.forms["AE"] = [
            {
                "SUBJID": "01-001",
                "SITEID": "01",
                "AESPID": str(k),
                "AETERM": "伤口感染 " + "x" * 2000,
                "AESTDAT": "2026-04-01",
                "AETOXGR": "1",
                "AESER": "N",
            }
            for k in range(3000)
        ]  # a package whose build does not fit beside the first
        err = refused(pkg.write(tmp_path / "bigger"), good, r"disk holding .* is full")
        assert len(err.problems) == 1 and "no space left" in err.problems[0].message.lower(), describe(err.problems)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_leftover_temporary_builds_are_removed_by_the_next_build(good, tmp_path):
    leftover = good.path / "builds" / ".tmp-20260101T000000-dead00"
    (leftover / "staging").mkdir(parents=True)
    (leftover / "blinded.duckdb").write_bytes(b"half written")
    stray_pointer = good.path / ".current-99999"
    os.symlink("builds/nowhere", stray_pointer)
    result = build(small_trial().write(tmp_path / "package"), good.path)
    assert not leftover.exists() and not stray_pointer.is_symlink()
    assert sorted(p.name for p in (good.path / "builds").iterdir()) == sorted([good.build_dir.name, result.build_id])


def test_a_killed_build_leaves_a_temporary_folder_the_next_build_removes(good, tmp_path):
    """A build killed (SIGKILL: no clean-up runs) while it writes leaves builds/.tmp-<id>; the
    next build removes it, keeps the serving build, and publishes."""
    from dashboard.devtools.demo import write_demo_package

    write_demo_package(tmp_path / "demo", subjects=300, sites=12)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dashboard", "build", str(tmp_path / "demo"), "--warehouse", str(good.path)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    builds = good.path / "builds"
    deadline = time.monotonic() + 120
    try:
        while not any(p.name.startswith(".tmp-") for p in builds.iterdir()):
            assert proc.poll() is None, f"the build ended before it could be interrupted: {proc.stderr.read()}"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        # let it write a little, then kill it where it stands
        while not any((p / "staging").exists() or list(p.glob("*.duckdb")) for p in builds.glob(".tmp-*")):
            if proc.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.005)
        proc.kill()
    finally:
        proc.wait(timeout=60)
    leftovers = [p.name for p in builds.glob(".tmp-*")]
    if not leftovers:
        pytest.skip("the build finished before it was killed (a fast machine): nothing left to clean")
    assert warehouse.current_build(good.path) == good.build_dir
    result = build(small_trial().write(tmp_path / "package"), good.path)
    assert not list(builds.glob(".tmp-*"))
    assert sorted(p.name for p in builds.iterdir()) == sorted([good.build_dir.name, result.build_id])


# ---------------------------------------------------------------- class 12: implausible data
def test_randomization_in_1900_is_an_error_naming_file_line_column_subject(good, tmp_path):
    pkg = small_trial()
    pkg.forms["RAND"][0]["RANDDAT"] = "1900-03-01"
    err = refused(pkg.write(tmp_path / "package"), good, "before the trial start")
    p = find(err.problems, "RAND.csv", 2, "RANDDAT", r"1900-03-01 is before the trial start 2026-01-01")
    assert p.subjid == "01-001"


def test_dates_outside_the_trials_range(good, tmp_path):
    pkg = small_trial()
    pkg.forms["EX"][0]["EXSTDAT"] = "1995-05-01"  # neoadjuvant may precede the start, not by decades
    pkg.forms["DX"][3]["DXDAT"] = "2025-10-01"  # a diagnosis 3 months before the start: fine
    pkg.forms["PR"][1]["PRDAT"] = "2025-12-31"  # surgery is a trial event
    pkg.forms["DM"][2]["BRTHDAT"] = "2031-01-01"  # after the export
    err = refused(pkg.write(tmp_path / "package"), good, "implausible")
    assert find(err.problems, "EX.csv", 2, "EXSTDAT", "more than 365 days before").subjid == "01-001"
    assert find(err.problems, "PR.csv", 3, "PRDAT", "before the trial start").subjid == "01-002"
    assert find(err.problems, "DM.csv", 4, "BRTHDAT", "after the export").subjid == "02-001"
    assert not [p for p in err.problems if p.file == "DX.csv"], describe(err.problems)


def test_xlsx_siteid_stored_as_a_number_is_refused(good, tmp_path):
    workbook = _xlsx(small_trial(), tmp_path / "export.xlsx", siteid_number=True)
    err = refused(workbook, good, "stored as a number")
    p = find(err.problems, "export.xlsx[DM]", 2, "SITEID", "stored as a number")
    assert p.subjid == "01-001"
    assert find(err.problems, "export.xlsx[SCREENING]", 2, "SITEID", "stored as a number").subjid == "S0001"


def test_xlsx_number_in_a_patterned_text_column_follows_the_pattern(good, tmp_path):
    workbook = _xlsx(small_trial(), tmp_path / "export.xlsx", visit_number=True)
    err = refused(workbook, good, "pattern")
    find(err.problems, "export.xlsx[FU]", None, "VISIT", "does not follow the column's pattern")


# ---------------------------------------------------------------- class 3: messages
def _swap_sex_and_arm(pkg: Package) -> None:
    arm = {r["SUBJID"]: r["ARM"] for r in pkg.forms["RAND"]}
    sex = {r["SUBJID"]: r["SEX"] for r in pkg.forms["DM"]}
    for r in pkg.forms["DM"]:
        r["SEX"] = arm[r["SUBJID"]]
    for r in pkg.forms["RAND"]:
        r["ARM"] = sex[r["SUBJID"]]


def _arm_in_many_places(pkg: Package) -> None:
    _swap_sex_and_arm(pkg)
    pkg.forms["RAND"][1]["RANDDAT"] = "STANDARD"  # a date column holding the arm
    pkg.forms["BL"][0]["ECOG"] = "de-escalation"  # an integer column
    pkg.forms["AE"].append(
        {"SUBJID": "STANDARD", "SITEID": "01", "AESPID": "1", "AETERM": "x", "AESTDAT": "2026-04-01", "AETOXGR": "1"}
        | {"AESER": "N"}
    )  # a subject identifier that is the arm
    pkg.forms["FU"].append(
        {"SUBJID": "01-001", "SITEID": "01", "VISIT": "STANDARD ARM M3", "VISDAT": "2026-06-20", "SSSTAT": "ALIVE"}
    )  # a pattern column


@pytest.mark.parametrize("change", [_swap_sex_and_arm, _arm_in_many_places], ids=["sex-arm-swapped", "many-places"])
def test_no_message_history_or_blinded_table_quotes_an_arm_value(good, tmp_path, change):
    pkg = small_trial()
    change(pkg)
    err = refused(pkg.write(tmp_path / "package"), good, "SEX")
    texts = [str(p) for p in err.problems] + [str(err), json.dumps(err.history_entry, ensure_ascii=False)]
    texts.append((good.path / warehouse.HISTORY).read_text(encoding="utf-8"))
    for text in texts:
        for arm in ARM_VALUES:
            assert arm not in text.upper(), f"{arm} quoted in: {text[:300]}"
    sex = find(err.problems, "DM.csv", 2, "SEX", "not one of: M, F")
    assert WITHHELD in sex.message and sex.subjid == "01-001"
    arm = find(err.problems, "RAND.csv", 2, "ARM", "not one of the column's codes")
    assert "M" not in arm.message.split(":")[-1].split() and arm.subjid == "01-001"
    # the previous blinded file, and the next one (whose load history holds this refusal)
    result = build(small_trial().write(tmp_path / "good-again"), good.path)
    con = warehouse.connect(good.path)
    try:
        refusals = con.execute("select first_errors from load_history where status = 'refused'").fetchall()
    finally:
        con.close()
    assert refusals and "SEX" in refusals[0][0]
    for path in (good.build_dir / warehouse.BLINDED, result.build_dir / warehouse.BLINDED):
        cells = text_cells(path)
        # no cell is an arm value; what the build wrote about packages quotes none anywhere
        hits = [c for c in cells if str(c[2]).strip().upper() in ARM_VALUES]
        hits += [
            c
            for c in cells
            if c[0] in ("load_history", "problems", "findings") and any(a in str(c[2]).upper() for a in ARM_VALUES)
        ]
        assert not hits, hits[:5]


def test_quoting_rule():
    cfg, spec = load_trial(), load_crf_spec()
    q = Quoting(cfg, spec)
    assert q.quote("DM", "SEX", "X") == "'X'"
    assert q.quote("DM", "SEX", "standard") == WITHHELD  # names the arm
    assert q.quote("DM", "SEX", "Ｓｔａｎｄａｒｄ") == WITHHELD  # full-width look-alike
    assert q.quote("RAND", "ARM", "M") == WITHHELD  # a closed column
    assert q.quote("PATH", "MARGIN", "WIDE") == WITHHELD  # pooled only
    assert q.quote("DM", "LOCALNOTE", "hello") == WITHHELD  # not in the spec: closed
    assert q.quote("DV", "DVTERM", "受试者入降级组") == WITHHELD  # the configured words
    assert q.subject("AE", "SUBJID", "01-001") == "01-001"
    assert q.subject("AE", "SUBJID", "DE-ESCALATION") == WITHHELD


# ---------------------------------------------------------------- the subject everywhere
def test_every_row_error_names_its_subject(good, tmp_path):
    pkg = small_trial()
    pkg.forms["BL"][1]["ECOG"] = "one"  # a type error, 01-002
    pkg.forms["RS"][2]["RSORRES"] = "XR"  # a code, 02-001
    pkg.forms["EX"][3]["SITEID"] = "09"  # an unknown site (and a second site), 01-002's first cycle
    pkg.forms["DX"][3]["SUBJID"] = "02-001"  # a duplicate key, 02-001 twice
    pkg.forms["SCREENING"][4]["SFREAS"] = "E99"  # the screen failure S9001
    folder = pkg.write(tmp_path / "package")
    with open(folder / "RS.csv", "a", encoding="utf-8") as fh:
        fh.write("02-002,02,2026-04-26,PR,extra\n")  # a malformed line (too many fields), line 6
    err = refused(folder, good, "ECOG")
    expected = {
        ("BL.csv", 3, "ECOG"): "01-002",
        ("RS.csv", 4, "RSORRES"): "02-001",
        ("EX.csv", 5, "SITEID"): "01-002",
        ("DX.csv", 5, "SUBJID"): "02-001",
        ("SCREENING.csv", 6, "SFREAS"): "S9001",
        ("RS.csv", 6, None): "02-002",
    }
    for (file, line, column), subject in expected.items():
        hits = [
            p
            for p in err.problems
            if p.file == file and p.line == line and (column is None or column in (p.column or ""))
        ]
        assert hits and all(p.subjid == subject for p in hits), (file, line, column, describe(hits or err.problems))
        assert f"subject {subject}" in str(hits[0])
    row_errors = [p for p in err.problems if p.severity == "error" and p.line and p.line > 1]
    assert row_errors and all(p.subjid for p in row_errors if not p.file.startswith(("SITES", "EXPORT"))), describe(
        row_errors
    )


def test_findings_name_their_subject(tmp_path):
    from dashboard.devtools.demo import write_demo_package

    write_demo_package(tmp_path / "demo", subjects=60, sites=4)
    result = build(tmp_path / "demo", tmp_path / "wh")
    con = duckdb.connect(str(result.build_dir / warehouse.CLOSED), read_only=True)
    try:
        rows = con.execute("select form, kind, subjid from findings").fetchall()
    finally:
        con.close()
    assert len(rows) > 10
    missing = [r for r in rows if r[2] is None and r[0] not in ("SITES", "EXPORT")]
    assert not missing, missing[:10]


# ---------------------------------------------------------------- least privilege on disk
def test_warehouse_is_readable_by_the_service_user_only(good, tmp_path):
    # a warehouse made before these modes: world-readable folders and files
    for p in [good.path, *good.path.rglob("*")]:
        if not p.is_symlink():
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
    result = build(small_trial().write(tmp_path / "package"), good.path)
    assert {stat.S_IMODE(p.stat().st_mode) for p in good.build_dir.iterdir()} == {0o600}  # the older build too
    assert stat.S_IMODE(good.build_dir.stat().st_mode) == 0o700
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(good.path) == 0o700
    assert mode(good.path / "builds") == 0o700
    assert mode(result.build_dir) == 0o700
    files = [p for p in result.build_dir.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {warehouse.BLINDED, warehouse.CLOSED, warehouse.MANIFEST}
    assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
    assert mode(good.path / warehouse.HISTORY) == 0o600


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("runuser"), reason="needs root and runuser")
def test_another_os_user_cannot_read_the_closed_file():
    root = Path(tempfile.mkdtemp(prefix="neo-margin-perm-", dir="/tmp"))
    try:
        os.chmod(root, 0o755)  # others may enter the parent: only the warehouse's own modes protect it
        control = root / "public.txt"
        control.write_text("readable")
        os.chmod(control, 0o644)
        wh = root / "wh"
        result = build(small_trial().write(root / "package"), wh)
        closed = result.build_dir / warehouse.CLOSED

        def cat(path: Path) -> subprocess.CompletedProcess:
            return subprocess.run(["runuser", "-u", "nobody", "--", "cat", str(path)], capture_output=True, timeout=30)

        assert cat(control).returncode == 0  # the test can tell a refusal from a broken runuser
        assert cat(closed).returncode != 0
        # loosen every folder: the 0600 file still refuses
        for d in (wh, wh / "builds", result.build_dir):
            os.chmod(d, 0o755)
        out = cat(closed)
        assert out.returncode != 0 and b"Permission denied" in out.stderr
        assert cat(wh / warehouse.HISTORY).returncode != 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------- the audit anchor
def test_manifest_records_the_audit_anchor(good, tmp_path):
    audit.append("test_event", user="tester", role="admin", detail={"why": "anchor"})
    expected = audit.anchor()
    assert expected and {"seq", "hash"} <= expected.keys()
    result = build(small_trial().write(tmp_path / "package"), good.path)
    manifest = json.loads((result.build_dir / warehouse.MANIFEST).read_text(encoding="utf-8"))
    assert manifest["audit_anchor"] == expected


def test_cli_refusal_is_clean(good, tmp_path):
    pkg = small_trial()
    pkg.forms["RAND"][0]["RANDDAT"] = "1900-03-01"
    out = cli_build(pkg.write(tmp_path / "package"), good.path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    line = next(x for x in out.stderr.splitlines() if x.startswith("ERROR: RAND.csv, line 2, column RANDDAT"))
    assert "01-001" in line and "before the trial start" in line, out.stderr
    assert_serving(good)
