"""The audit log's keyed chain: `audit verify` detects an edited, a deleted, an inserted line, a
chain recomputed without the key, lines cut from the end with or without the head, a log and
head deleted while a build manifest holds an anchor, a missing key; a torn last line is reported,
survived, and appended after."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
import subprocess
import sys

import pytest

from apptest import _MD_ESCAPE, clear_caches, open_page, serving
from dashboard.access import audit
from dashboard.access.roles import Viewer
from dashboard.ingest.build import build
from factory import small_trial

ACTIONS = ["sign-in", "closed view: survival by arm", "export: closed report", "sign-out"]


@pytest.fixture
def key(tmp_path, monkeypatch):
    """This test's own key, outside the audit folder (as data/keys/ is beside data/audit/)."""
    path = tmp_path / "keys" / "audit.key"
    monkeypatch.setenv("NEO_MARGIN_AUDIT_KEY", str(path))
    monkeypatch.delenv("NEO_MARGIN_WAREHOUSE", raising=False)
    return path


@pytest.fixture
def log(tmp_path, key):
    path = tmp_path / "audit" / "audit.jsonl"
    for i, action in enumerate(ACTIONS):
        audit.append(
            action,
            user="dsmb.chair",
            role="dsmb",
            detail={"n": i, "note": "封闭会议"},
            data_cut={"build_id": "b1", "cutoff": "2028-06-30"},
            path=path,
        )
    return path


def _head(path):
    return path.with_suffix(path.suffix + ".head")


def _lines(path):
    return path.read_text(encoding="utf-8").splitlines()


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _cli(*args, env=None, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "dashboard", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
    )


def _forge(path, entries, forger_key: bytes | None):
    """Rewrite log and head as a forger would: each entry re-hashed and re-linked with
    `forger_key` (None: the unkeyed SHA-256 of the first version), the head to match."""
    prev = audit.GENESIS
    out = []
    for seq, entry in enumerate(entries, start=1):
        entry = {**entry, "seq": seq, "prev": prev}
        body = audit._canonical(entry)
        if forger_key is None:
            entry["hash"] = hashlib.sha256(body).hexdigest()
        else:
            entry["hash"] = hmac.new(forger_key, audit._ENTRY_CONTEXT + body, hashlib.sha256).hexdigest()
        prev = entry["hash"]
        out.append(json.dumps(entry, ensure_ascii=False, sort_keys=True))
    _write(path, out)
    mac = (
        hashlib.sha256(f"{len(entries)}:{prev}".encode()).hexdigest()
        if forger_key is None
        else audit._head_mac(len(entries), prev, forger_key)
    )
    _head(path).write_text(json.dumps({"seq": len(entries), "hash": prev, "mac": mac}), encoding="utf-8")


def test_an_intact_log_verifies_and_its_files_are_private(log, key):
    assert audit.verify(log) == (True, "4 entries, chain intact")
    assert audit.read(log)[1]["detail"]["note"] == "封闭会议"
    assert audit.anchor(log) == {"seq": 4, "hash": audit.read(log)[-1]["hash"]}
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700
    for f in (log, _head(log), log.with_suffix(".jsonl.lock")):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_bytes()) == 32


def test_an_edited_line_is_detected(log):
    lines = _lines(log)
    entry = json.loads(lines[1])
    entry["user"] = "someone.else"
    lines[1] = json.dumps(entry, ensure_ascii=False, sort_keys=True)
    _write(log, lines)
    ok, message = audit.verify(log)
    assert not ok
    assert message.startswith("line 2: entry seq 2 does not carry this log's keyed hash: it was changed"), message


def test_a_deleted_line_is_detected(log):
    lines = _lines(log)
    del lines[1]
    _write(log, lines)
    ok, message = audit.verify(log)
    assert not ok and message.startswith("line 2: seq 3 where 2 was expected"), message


def test_an_inserted_line_is_detected_even_with_an_unkeyed_hash(log):
    lines = _lines(log)
    forged = json.loads(lines[1])
    forged["action"] = "sign-in"
    forged["hash"] = hashlib.sha256(audit._canonical(forged)).hexdigest()  # what the first version checked
    lines.insert(2, json.dumps(forged, sort_keys=True))
    _write(log, lines)
    ok, message = audit.verify(log)
    assert not ok and message.startswith("line 3: entry seq 2 does not carry this log's keyed hash"), message


@pytest.mark.parametrize(
    "forger_key",
    [None, b"\0" * 32, b"neo-margin" + b"\0" * 22, os.urandom(32)],
    ids=["unkeyed sha256", "zero key", "guessed key", "random key"],
)
def test_an_entry_deleted_and_the_chain_and_head_recomputed_without_the_key_is_detected(log, forger_key):
    entries = audit.read(log)
    del entries[1]  # the closed view goes
    _forge(log, entries, forger_key)
    ok, message = audit.verify(log)
    assert not ok
    assert message.startswith("line 1: entry seq 1 does not carry this log's keyed hash"), message
    done = _cli("audit", "verify", env={"NEO_MARGIN_AUDIT": str(log)})
    assert done.returncode == 1 and done.stdout.startswith("TAMPERED: line 1"), done.stdout + done.stderr


def test_lines_removed_from_the_end_are_detected(log):
    _write(log, _lines(log)[:-1])
    ok, message = audit.verify(log)
    assert not ok
    assert message == "the log ends at seq 3 but the head records seq 4: entries were removed from the end"


def test_the_tail_cut_with_a_head_rewritten_by_hand_is_detected(log):
    lines = _lines(log)[:2]
    _write(log, lines)
    last = json.loads(lines[-1])
    _head(log).write_text(json.dumps({"seq": 2, "hash": last["hash"]}), encoding="utf-8")  # no mac
    ok, message = audit.verify(log)
    assert not ok and "does not carry its keyed hash: it was rewritten without the key" in message, message
    _head(log).unlink()
    ok, message = audit.verify(log)
    assert not ok and message.endswith(".head is missing: it was deleted"), message


def test_the_tail_cut_with_an_old_head_put_back_is_detected_by_an_anchor(log):
    """The one cut the log alone cannot show: a genuine old head file kept and put back after the
    tail is cut. The anchor printed in a closed report (or a build manifest) still shows it."""
    old_head = _head(log).read_bytes()  # the head at seq 4
    printed = audit.anchor(log)
    for action in ("closed view: interim", "export: closed report"):
        audit.append(action, user="dsmb.chair", role="dsmb", path=log)
    later = audit.anchor(log)
    assert later["seq"] == 6
    _write(log, _lines(log)[:4])
    _head(log).write_bytes(old_head)
    assert audit.verify(log) == (True, "4 entries, chain intact")  # the log alone looks whole
    ok, message = audit.verify(log, anchors=[later])
    assert not ok
    assert "the anchor given recorded seq 6 and the log ends at seq 4: entries were removed from the end" in message
    assert audit.verify(log, anchors=[printed]) == (True, "4 entries, chain intact, 1 anchor(s) held")
    env = {"NEO_MARGIN_AUDIT": str(log)}
    done = _cli("audit", "verify", "--anchor", f"{later['seq']}:{later['hash']}", env=env)
    assert done.returncode == 1 and "truncated below the anchor" in done.stdout, done.stdout + done.stderr
    done = _cli("audit", "verify", "--anchor", f"{printed['seq']}:{printed['hash']}", env=env)
    assert done.returncode == 0 and done.stdout.startswith("OK: 4 entries, chain intact, 1 anchor(s) held")
    done = _cli("audit", "verify", "--anchor", f"seq {later['seq']}, hash {later['hash']}", env=env)  # as printed
    assert done.returncode == 1 and "truncated below the anchor" in done.stdout, done.stdout + done.stderr
    done = _cli("audit", "verify", "--anchor", "6:abc", env=env)
    assert done.returncode == 2 and "is not an audit anchor SEQ:HASH" in done.stderr


def test_an_anchor_the_log_does_not_hold_is_detected(log):
    wrong = {"seq": 2, "hash": "f" * 64}
    ok, message = audit.verify(log, anchors=[wrong])
    assert not ok and "entry seq 2 does not match the anchor given's anchor: the log was rewritten" in message


@pytest.fixture
def built(tmp_path, key, monkeypatch):
    """A real build of a test package, made while the log held four entries: its manifest records
    the anchor {"seq": 4, ...}."""
    log = tmp_path / "audit" / "audit.jsonl"
    for action in ACTIONS:
        audit.append(action, user="dsmb.chair", role="dsmb", path=log)
    monkeypatch.setenv("NEO_MARGIN_AUDIT", str(log))  # the log the build records the anchor of
    result = build(small_trial().write(tmp_path / "pkg"), tmp_path / "wh")
    manifest = json.loads((result.build_dir / "manifest.json").read_text(encoding="utf-8"))
    return log, tmp_path / "wh", result, manifest


def test_a_build_manifest_records_the_anchor(built):
    log, wh, result, manifest = built
    assert manifest["audit_anchor"] == audit.anchor(log) == {"seq": 4, "hash": audit.read(log)[3]["hash"]}
    assert audit.verify(log, warehouse=wh) == (True, "4 entries, chain intact, 1 anchor(s) held")


def test_log_and_head_deleted_are_detected_by_the_build_manifest_anchor(built):
    log, wh, result, _ = built
    log.unlink()
    _head(log).unlink()
    ok, message = audit.verify(log)
    assert ok and message == "no audit log yet"  # without an anchor, nothing to tell
    ok, message = audit.verify(log, warehouse=wh)
    assert not ok
    assert message == (
        f"the audit log {log} and its head file are missing, but build {result.build_id} recorded the log "
        "at seq 4: the log was deleted"
    )
    done = _cli("audit", "verify", env={"NEO_MARGIN_AUDIT": str(log), "NEO_MARGIN_WAREHOUSE": str(wh)})
    assert done.returncode == 1 and done.stdout.startswith("TAMPERED: the audit log"), done.stdout + done.stderr


def test_the_tail_cut_with_the_head_is_detected_by_the_build_manifest_anchor(built):
    log, wh, result, _ = built
    _write(log, _lines(log)[:2])
    entries = audit.read(log)
    key = audit._load_key(audit.key_path())
    # even with the key (someone who can read it), the head can be made to match the cut log;
    # the build's manifest still records seq 4
    _head(log).write_text(
        json.dumps({"seq": 2, "hash": entries[-1]["hash"], "mac": audit._head_mac(2, entries[-1]["hash"], key)}),
        encoding="utf-8",
    )
    assert audit.verify(log) == (True, "2 entries, chain intact")
    ok, message = audit.verify(log, warehouse=wh)
    assert not ok
    assert f"build {result.build_id} recorded seq 4 and the log ends at seq 2" in message, message


def test_a_damaged_manifest_is_reported(built):
    log, wh, result, _ = built
    (result.build_dir / "manifest.json").write_text("{", encoding="utf-8")
    ok, message = audit.verify(log, warehouse=wh)
    assert not ok and f"the manifest of build {result.build_id}" in message and "cannot be read" in message


def test_a_torn_last_line_is_reported_survived_and_appended_after(built):
    log, wh, _result, _ = built
    fragment = b'{"action": "closed view: closed_surv'  # a write cut short: no newline
    with open(log, "ab") as fh:
        fh.write(fragment)
    ok, message = audit.verify(log, warehouse=wh)
    assert ok, message
    assert message == (
        "chain intact up to seq 4 (4 entries), 1 anchor(s) held; line 5 is torn: an interrupted write of "
        f"{len(fragment)} bytes without a newline, set aside into audit.jsonl.torn at the next append"
    )
    assert [e["seq"] for e in audit.read(log)] == [1, 2, 3, 4]
    env = {"NEO_MARGIN_AUDIT": str(log), "NEO_MARGIN_WAREHOUSE": str(wh)}
    done = _cli("audit", "verify", env=env)
    assert done.returncode == 0 and "line 5 is torn" in done.stdout, done.stdout + done.stderr
    done = _cli("audit", "show", env=env)
    assert done.returncode == 0 and done.stdout.count("\n") == 4, done.stdout + done.stderr

    # the audit page shows the notice, not a failure
    with serving(wh):
        clear_caches()
        at = open_page(Viewer("admin", None, "admin"), "admin_audit.py")
        assert not at.exception, [e.value for e in at.exception]
        shown = [_MD_ESCAPE.sub(r"\1", w.value) for w in at.warning if "torn" in w.value]  # as read: escapes off
        assert shown == ["Chain intact, with a torn last line: " + message]
        assert not at.error
    shown = at.dataframe[0].value
    assert shown["seq"].tolist()[:4] == [4, 3, 2, 1] or shown["seq"].tolist()[-4:] == [4, 3, 2, 1]

    entry = audit.append("sign-in", user="dsmb.chair", role="dsmb", path=log)
    assert entry["seq"] == 6
    recovery = audit.read(log)[4]
    assert recovery["action"] == audit.TORN_ACTION and recovery["seq"] == 5
    assert recovery["detail"]["bytes"] == len(fragment) and recovery["detail"]["after_seq"] == 4
    assert recovery["detail"]["sha256"] == hashlib.sha256(fragment).hexdigest()
    torn = log.with_suffix(".jsonl.torn")
    assert fragment in torn.read_bytes() and stat.S_IMODE(torn.stat().st_mode) == 0o600
    assert audit.verify(log, warehouse=wh) == (True, "6 entries, chain intact, 1 anchor(s) held")


def test_a_last_line_complete_but_for_its_newline_is_an_entry(log):
    data = log.read_bytes()
    log.write_bytes(data[:-1])
    assert audit.verify(log) == (True, "4 entries, chain intact")
    assert audit.append("sign-out", user="x", role="pi", path=log)["seq"] == 5
    assert audit.verify(log) == (True, "5 entries, chain intact")


@pytest.mark.parametrize(
    "damage",
    ["garbage line in the middle", "garbage last line with its newline", "empty line"],
)
def test_other_malformed_lines_remain_failures(log, damage):
    lines = _lines(log)
    if damage == "garbage line in the middle":
        lines.insert(2, '{"seq": 3, "act')
        expected = "line 3: "
    elif damage == "garbage last line with its newline":
        lines.append('{"seq": 5, "act')
        expected = "line 5: not a JSON entry"
    else:
        lines.insert(1, "")
        expected = "line 2: "
    _write(log, lines)
    ok, message = audit.verify(log)
    assert not ok and message.startswith(expected), message
    with pytest.raises(ValueError, match="not a JSON entry"):
        audit.read(log)


def test_an_interrupted_append_before_the_head_is_written_is_intact(log):
    entries = audit.read(log)
    head = _head(log).read_bytes()
    audit.append("sign-in", user="x", role="pi", path=log)
    _head(log).write_bytes(head)  # the crash came between the line's fsync and the head's rename
    ok, message = audit.verify(log)
    assert ok and "the head records seq 4 (an append was interrupted" in message, message
    assert audit.append("sign-out", user="x", role="pi", path=log)["seq"] == 6
    assert audit.verify(log) == (True, "6 entries, chain intact")
    assert audit.read(log)[:4] == entries


def test_a_missing_key_with_a_log_present_is_a_failure_not_a_new_key(log, key):
    key.unlink()
    ok, message = audit.verify(log)
    assert (
        not ok and message == f"the audit key {key} is missing: the log's entries cannot be verified (restore the key)"
    )
    before = log.read_bytes()
    with pytest.raises(audit.AuditError, match="exists but its key .* does not: restore the key"):
        audit.append("sign-in", user="x", role="pi", path=log)
    assert log.read_bytes() == before and not key.exists()
    done = _cli("audit", "init", env={"NEO_MARGIN_AUDIT": str(log)})
    assert done.returncode == 2 and "restore the key from its backup" in done.stderr and not key.exists()
    done = _cli("audit", "verify", env={"NEO_MARGIN_AUDIT": str(log)})
    assert done.returncode == 1 and f"the audit key {key} is missing" in done.stdout


def test_a_key_of_another_log_does_not_verify(log, key):
    key.write_bytes(os.urandom(32))
    ok, message = audit.verify(log)
    assert not ok and message.startswith("line 1: entry seq 1 does not carry this log's keyed hash")


def test_audit_init_makes_a_private_key_once(tmp_path, key):
    env = {"NEO_MARGIN_AUDIT": str(tmp_path / "audit" / "audit.jsonl")}
    done = _cli("audit", "init", env=env)
    assert done.returncode == 0 and f"made the audit key {key}" in done.stderr, done.stderr
    first = key.read_bytes()
    assert len(first) == 32 and stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    done = _cli("audit", "init", env=env)
    assert done.returncode == 0 and f"kept the audit key {key}" in done.stderr
    assert key.read_bytes() == first


def test_an_unsafe_key_is_refused(tmp_path, key, monkeypatch):
    log = tmp_path / "audit" / "audit.jsonl"
    audit.append("sign-in", user="x", role="pi", path=log)
    key.chmod(0o644)
    with pytest.raises(audit.AuditError, match="readable or writable by other users"):
        audit.append("sign-in", user="x", role="pi", path=log)
    ok, message = audit.verify(log)
    assert not ok and "readable or writable by other users" in message
    monkeypatch.setenv("NEO_MARGIN_AUDIT_KEY", str(log.parent / "audit.key"))
    with pytest.raises(audit.AuditError, match="is inside the audit folder"):
        audit.append("sign-in", user="x", role="pi", path=log)


def test_the_cli_exits_non_zero_on_tampering(log):
    env = {"NEO_MARGIN_AUDIT": str(log)}
    good = _cli("audit", "verify", env=env)
    assert good.returncode == 0 and good.stdout.startswith("OK"), good.stdout + good.stderr
    _write(log, _lines(log)[:2] + _lines(log)[3:])
    bad = _cli("audit", "verify", env=env)
    assert bad.returncode == 1 and bad.stdout.startswith("TAMPERED"), bad.stdout
