"""The demo trial three ways (issue 14): as the spec package, as a REDCap export and as a CDISC ODM
export (dashboard.devtools.demo.edc, after the designs of `edc-design`), each converted through
its mapping and built: every role's summary JSON is the same, to the last number.

A difference anywhere (a row lost, a code mapped wrong, a partial date completed, a Chinese name
mangled, an entry time moved) changes some count, date or finding in some role's summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from dashboard.access.roles import Viewer
from dashboard.config import load_trial
from dashboard.devtools.demo import write_demo_package
from dashboard.devtools.demo.edc import write_odm_export, write_redcap_export
from dashboard.ingest.build import build
from dashboard.ingest.edc.convert import convert
from dashboard.outputs.summary import summary

ROOT = Path(__file__).resolve().parent.parent


def _summaries(wh: Path) -> dict:
    out = {}
    for role in load_trial().roles:
        sites = ["01", "07"] if role == "site" else [None]
        for site in sites:
            s = summary(wh, Viewer(role, site))
            s["data_cut"].pop("build_id", None)  # a new id for every build, by design
            out[f"{role}:{site}"] = s
    return out


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("roundtrip")
    pkg = tmp / "pkg"
    write_demo_package(pkg)  # the demo trial: 300 randomized, 12 sites
    whs = {"spec": tmp / "wh-spec"}
    build(pkg, whs["spec"])
    for kind, writer in (("redcap", write_redcap_export), ("odm", write_odm_export)):
        src = writer(pkg, tmp / kind)
        converted = tmp / f"pkg-{kind}"
        convert(src, src / "mapping.toml", converted)
        whs[kind] = tmp / f"wh-{kind}"
        build(converted, whs[kind])
    return tmp, whs


def test_every_role_sees_the_same_summary_from_the_spec_package_the_redcap_and_the_odm_export(three):
    _, whs = three
    spec = _summaries(whs["spec"])
    assert spec["dsmb:None"]["closed"] and spec["pi:None"]["enrollment"]  # the summaries are not empty
    assert spec["pi:None"]["enrollment"]["randomized"] == 300
    for kind in ("redcap", "odm"):
        other = _summaries(whs[kind])
        assert other.keys() == spec.keys()
        for role in spec:
            assert json.dumps(other[role], sort_keys=True, default=str) == json.dumps(
                spec[role], sort_keys=True, default=str
            ), f"{kind}: the summary of {role} differs"


def test_the_findings_are_the_same_subject_for_subject(three):
    """Beyond the summaries: every finding, with its subject and column (not its line, which
    follows the file the build read)."""
    _, whs = three

    def findings(wh):
        con = duckdb.connect(str(wh / "current" / "closed.duckdb"), read_only=True)
        try:
            return sorted(
                con.execute("SELECT kind, form, subjid, column_name, value, message FROM findings").fetchall()
            )
        finally:
            con.close()

    spec = findings(whs["spec"])
    assert len(spec) > 20
    assert findings(whs["redcap"]) == spec
    assert findings(whs["odm"]) == spec


def test_build_source_from_the_command_line_keeps_provenance(three):
    """`build SOURCE --source redcap --mapping M`: converted and built in one command; the
    manifest keeps the source's fingerprints and the mapping's hash, the build folder the mapping."""
    tmp, _ = three
    src, wh = tmp / "redcap", tmp / "wh-cli"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "dashboard",
            "build",
            str(src),
            "--source",
            "redcap",
            "--mapping",
            str(src / "mapping.toml"),
            "--warehouse",
            str(wh),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    manifest = json.loads((wh / "current" / "manifest.json").read_text(encoding="utf-8"))
    source = manifest["provenance"]
    assert source["kind"] == "redcap"
    assert set(source["files"]) >= {"records.csv", "dictionary.csv"}
    assert len(source["files"]["records.csv"]["sha256"]) == 64
    import hashlib

    assert source["mapping"]["sha256"] == hashlib.sha256((src / "mapping.toml").read_bytes()).hexdigest()
    assert (wh / "current" / "mapping.toml").read_bytes() == (src / "mapping.toml").read_bytes()
    assert ((wh / "current" / "mapping.toml").stat().st_mode & 0o077) == 0
    converted = [p for p in (wh / "converted").iterdir()]
    assert len(converted) == 1 and (converted[0].stat().st_mode & 0o077) == 0
    assert "converted the redcap export" in run.stderr and "published build" in run.stderr
