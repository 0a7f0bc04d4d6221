"""The audit log's hash chain: `audit verify` detects an edited, a deleted, an inserted line, and
lines removed from the end."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dashboard.access import audit


@pytest.fixture
def log(tmp_path):
    path = tmp_path / "audit.jsonl"
    for i, action in enumerate(["sign-in", "closed view: survival by arm", "export: closed report", "sign-out"]):
        audit.append(
            action,
            user="dsmb.chair",
            role="dsmb",
            detail={"n": i, "note": "封闭会议"},
            data_cut={"build_id": "b1", "cutoff": "2028-06-30"},
            path=path,
        )
    return path


def _lines(path):
    return path.read_text(encoding="utf-8").splitlines()


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_an_intact_log_verifies(log):
    assert audit.verify(log) == (True, "4 entries, chain intact")
    assert audit.read(log)[1]["detail"]["note"] == "封闭会议"


def test_an_edited_line_is_detected(log):
    lines = _lines(log)
    entry = json.loads(lines[1])
    entry["user"] = "someone.else"
    lines[1] = json.dumps(entry, ensure_ascii=False, sort_keys=True)
    _write(log, lines)
    ok, message = audit.verify(log)
    assert not ok and "line 2" in message and "changed" in message


def test_a_deleted_line_is_detected(log):
    lines = _lines(log)
    del lines[1]
    _write(log, lines)
    ok, message = audit.verify(log)
    assert not ok and "line 2" in message


def test_an_inserted_line_is_detected_even_with_a_valid_hash(log):
    lines = _lines(log)
    forged = json.loads(lines[1])
    forged["action"] = "sign-in"
    forged["hash"] = audit._digest(forged)  # a forger can hash an entry, not re-link the chain
    lines.insert(2, json.dumps(forged, sort_keys=True))
    _write(log, lines)
    ok, message = audit.verify(log)
    assert not ok and "line 3" in message


def test_lines_removed_from_the_end_are_detected(log):
    _write(log, _lines(log)[:-1])
    ok, message = audit.verify(log)
    assert not ok and "removed from the end" in message


def test_the_cli_exits_non_zero_on_tampering(log):
    env = {**os.environ, "NEO_MARGIN_AUDIT": str(log)}
    good = subprocess.run(
        [sys.executable, "-m", "dashboard", "audit", "verify"], env=env, capture_output=True, text=True, timeout=60
    )
    assert good.returncode == 0 and good.stdout.startswith("OK")
    _write(log, _lines(log)[:2] + _lines(log)[3:])
    bad = subprocess.run(
        [sys.executable, "-m", "dashboard", "audit", "verify"], env=env, capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 1 and bad.stdout.startswith("TAMPERED")
