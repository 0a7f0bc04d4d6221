"""The audit log: append-only JSON lines, each entry hash-chained to the one before.

Each entry holds seq, time, user, role, site, action, detail, data cut, the previous entry's
hash and its own (SHA-256 over the canonical JSON of the rest). A head file keeps the last seq
and hash, so removing the last lines is detected too. `verify` names the first broken line.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
from pathlib import Path

AUDIT_ENV = "NEO_MARGIN_AUDIT"
DEFAULT_AUDIT = "data/audit/audit.jsonl"
GENESIS = "0" * 64


def audit_path() -> Path:
    return Path(os.environ.get(AUDIT_ENV, DEFAULT_AUDIT))


def _digest(entry: dict) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    ).hexdigest()


def _head_path(path: Path) -> Path:
    return path.with_suffix(path.suffix + ".head")


def append(
    action: str,
    *,
    user: str | None,
    role: str | None,
    site: str | None = None,
    detail: str | dict | None = None,
    data_cut: dict | None = None,
    path: Path | None = None,
) -> dict:
    """Write one entry (under a lock, fsynced) and return it."""
    path = path or audit_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(path.suffix + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        head = _head_path(path)
        seq, prev = (0, GENESIS)
        if head.exists():
            h = json.loads(head.read_text(encoding="utf-8"))
            seq, prev = h["seq"], h["hash"]
        entry = {
            "seq": seq + 1,
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "user": user,
            "role": role,
            "site": site,
            "action": action,
            "detail": detail,
            "data_cut": data_cut,
            "prev": prev,
        }
        entry["hash"] = _digest(entry)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        tmp = head.with_suffix(".tmp")
        tmp.write_text(json.dumps({"seq": entry["seq"], "hash": entry["hash"]}), encoding="utf-8")
        os.replace(tmp, head)
    return entry


def read(path: Path | None = None) -> list[dict]:
    path = path or audit_path()
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def anchor(path: Path | None = None) -> dict | None:
    """{"seq", "hash"} of the last entry, or None when the log has none: what a build manifest and a
    closed report record, so that a later truncation or deletion of the log (with its head) is
    detected by `verify` against it."""
    path = path or audit_path()
    last = None
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn last line: the entry before it is the last one
            if isinstance(entry, dict) and "seq" in entry and "hash" in entry:
                last = entry
    return None if last is None else {"seq": last["seq"], "hash": last["hash"]}


def verify(path: Path | None = None) -> tuple[bool, str]:
    """(intact, message): every entry's hash, its link to the one before, its sequence number,
    and the head file's record of the last entry."""
    path = path or audit_path()
    if not path.exists():
        return (
            not _head_path(path).exists(),
            "no audit log yet"
            if not _head_path(path).exists()
            else "the audit log is missing but its head file exists: the log was deleted",
        )
    prev, expected_seq = GENESIS, 1
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            return False, f"line {number}: not a JSON entry (edited)"
        if entry.get("hash") != _digest(entry):
            return False, f"line {number}: entry seq {entry.get('seq')} was changed (its hash does not match)"
        if entry.get("seq") != expected_seq:
            return False, (
                f"line {number}: seq {entry.get('seq')} where {expected_seq} was expected "
                "(an entry was deleted or inserted)"
            )
        if entry.get("prev") != prev:
            return False, f"line {number}: does not link to the entry before it (deleted or inserted)"
        prev, expected_seq = entry["hash"], expected_seq + 1
    head = _head_path(path)
    if head.exists():
        h = json.loads(head.read_text(encoding="utf-8"))
        if h["seq"] != expected_seq - 1 or h["hash"] != prev:
            return False, (
                f"the log ends at seq {expected_seq - 1} but the head records seq {h['seq']}: "
                "entries were removed from the end"
            )
    return True, f"{expected_seq - 1} entries, chain intact"
