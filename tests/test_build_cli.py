"""`python -m dashboard build` as a data manager runs it: after a published build every finding is
listed with its file, line, column and subject (the first 50 on stdout, all in the build's
findings.csv, 0600), and a refused build prints each error with its subject too. The command
line's umask keeps the build folder private."""

from __future__ import annotations

import csv
import io
import os
import re
import stat
import subprocess
import sys

import pytest

from dashboard.devtools.demo import write_demo_package
from dashboard.store import warehouse
from factory import small_trial

LINE = re.compile(
    r"^FINDING \((?P<kind>[^)]+)\): (?P<where>.+?), (?:SUBJID (?P<subjid>[^:,]+)|no SUBJID): (?P<msg>.+)$"
)


def _build(pkg, wh):
    return subprocess.run(
        [sys.executable, "-m", "dashboard", "build", str(pkg), "--warehouse", str(wh)],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("build-cli")
    write_demo_package(tmp / "pkg")
    done = _build(tmp / "pkg", tmp / "wh")
    assert done.returncode == 0, done.stderr
    return tmp / "wh", done


def test_the_findings_are_listed_with_their_subjects(demo):
    wh, done = demo
    con = warehouse.connect(wh, closed=True)
    try:
        total, with_subject = con.execute("select count(*), count(subjid) from findings").fetchone()
    finally:
        con.close()
    assert total > 50 and with_subject > 0
    shown = [line for line in done.stdout.splitlines() if line]
    assert len(shown) == 50
    parsed = [LINE.match(line) for line in shown]
    assert all(parsed), [line for line, m in zip(shown, parsed, strict=True) if not m]
    assert sum(m["subjid"] is not None for m in parsed) > 0
    assert all(m["where"].split(", ")[0].endswith(".csv") for m in parsed)
    path = warehouse.current_build(wh) / "findings.csv"
    assert f"all {total} finding(s) (the first 50 above) with their subjects in {path}" in done.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert len(rows) == total
    assert list(rows[0]) == ["kind", "file", "line", "column", "subjid", "message"]
    assert sum(bool(r["subjid"]) for r in rows) == with_subject
    assert all(r["line"] == "" or r["line"].isdigit() for r in rows)  # 82, not 82.0
    first = parsed[0]
    assert rows[0]["kind"] == first["kind"] and rows[0]["message"] == first["msg"]


def test_the_build_folder_is_private(demo):
    wh, _ = demo
    build_dir = warehouse.current_build(wh)
    assert stat.S_IMODE(build_dir.stat().st_mode) & 0o077 == 0
    for name in ("closed.duckdb", "manifest.json"):
        assert stat.S_IMODE((build_dir / name).stat().st_mode) & 0o077 == 0, name


def test_a_refused_build_names_the_subject_of_each_error(tmp_path):
    pkg = small_trial()
    pkg.rows("RAND", SUBJID="01-002")[0]["RANDDAT"] = "2026-13-45"  # no such date
    done = _build(pkg.write(tmp_path / "pkg"), tmp_path / "wh")
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR: ")]
    assert errors, done.stderr
    assert all(re.search(r", (SUBJID \S+|no SUBJID): ", e) for e in errors), errors
    assert any("RAND" in e and "line " in e and "RANDDAT" in e for e in errors), errors
    assert not os.path.exists(tmp_path / "wh" / "current")
