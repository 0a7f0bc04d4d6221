"""The audit log: append-only JSON lines, each entry chained to the one before by a keyed hash.

Each entry holds seq, time, user, role, site, action, detail, data cut, the previous entry's
hash and its own: HMAC-SHA256 over the canonical JSON of the rest, with a 32-byte key kept
outside the audit folder (`data/keys/audit.key`, `NEO_MARGIN_AUDIT_KEY`). Whoever can write the
log but not read the key can neither edit an entry nor recompute the chain after dropping one.

A head file keeps the last seq and hash under its own HMAC, so lines cut from the end are
detected, and the head cannot be rewound to an earlier entry without the key. What the log
cannot move with it are the anchors: `anchor()` (the last seq and hash) is recorded in every
build manifest and printed in every closed report, and `verify` checks the log still holds each
of them, so cutting the tail together with the head, or deleting log and head, is detected too.

A torn last line (a write interrupted by a crash or a full disk: a final fragment without a
newline that is not a JSON entry) is reported by `verify`, not fatal; the next `append` moves
the fragment into `<log>.torn`, records that in a recovery entry and continues the chain.
Anything else malformed is a verification failure.

Files: the audit folder 0700; log, head, lock and torn files 0600; the key folder 0700, the key
0600.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from dashboard.i18n import _

AUDIT_ENV = "NEO_MARGIN_AUDIT"
DEFAULT_AUDIT = "data/audit/audit.jsonl"
KEY_ENV = "NEO_MARGIN_AUDIT_KEY"
DEFAULT_KEY = "data/keys/audit.key"
WAREHOUSE_ENV = "NEO_MARGIN_WAREHOUSE"
GENESIS = "0" * 64
KEY_BYTES = 32
_ENTRY_CONTEXT = b"neo-margin audit entry\x00"
_HEAD_CONTEXT = b"neo-margin audit head\x00"
TORN_ACTION = "audit: torn last line set aside"


class AuditError(Exception):
    """The audit log cannot be written (its key is missing or unsafe): nothing may proceed that
    must be on the record."""


def audit_path() -> Path:
    return Path(os.environ.get(AUDIT_ENV, DEFAULT_AUDIT))


def key_path() -> Path:
    return Path(os.environ.get(KEY_ENV, DEFAULT_KEY))


def _head_path(path: Path) -> Path:
    return path.with_suffix(path.suffix + ".head")


def _torn_path(path: Path) -> Path:
    return path.with_suffix(path.suffix + ".torn")


def _canonical(entry: dict) -> bytes:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _digest(entry: dict, key: bytes) -> str:
    return hmac.new(key, _ENTRY_CONTEXT + _canonical(entry), hashlib.sha256).hexdigest()


def _head_mac(seq: int, digest: str, key: bytes) -> str:
    return hmac.new(key, _HEAD_CONTEXT + f"{seq}:{digest}".encode("ascii"), hashlib.sha256).hexdigest()


# --- the key ------------------------------------------------------------------------------------


def _inside(child: Path, folder: Path) -> bool:
    try:
        child.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def _check_key_place(key_file: Path, log: Path) -> None:
    if _inside(key_file, log.parent):
        raise AuditError(
            _(
                "the audit key {key_file} is inside the audit folder {parent}: whoever can write "
                "the log could replace it; keep it elsewhere ({KEY_ENV})"
            ).format(key_file=key_file, parent=log.parent, KEY_ENV=KEY_ENV)
        )


def init_key(key_file: Path | None = None, *, log: Path | None = None) -> tuple[Path, bool]:
    """Create the audit key (32 random bytes, file 0600 in a folder 0700) unless it exists:
    (path, created). Never overwrites a key; refuses to make one for a log that already has
    entries (a log without its key cannot be verified, and a new key would not change that)."""
    key_file = key_file or key_path()
    log = log or audit_path()
    _check_key_place(key_file, log)
    if key_file.exists():
        _load_key(key_file)  # exists: only check it is a usable, private key
        return key_file, False
    if log.exists() and log.stat().st_size > 0 or _head_path(log).exists():
        raise AuditError(
            _(
                "the audit log {log} exists but its key {key_file} does not: restore the key from "
                "its backup (a new key cannot verify the entries already written); a log written "
                "before the audit was keyed has no key: move its folder aside as an archive, then "
                "run `audit init`"
            ).format(log=log, key_file=key_file)
        )
    _private_dir(key_file.parent)
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # made by a concurrent process a moment ago
        _load_key(key_file)
        return key_file, False
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, secrets.token_bytes(KEY_BYTES))
        os.fsync(fd)
    finally:
        os.close(fd)
    return key_file, True


def _load_key(key_file: Path) -> bytes:
    try:
        st = key_file.stat()
        data = key_file.read_bytes()
    except FileNotFoundError:
        raise AuditError(_("the audit key {key_file} is missing").format(key_file=key_file)) from None
    except OSError as exc:
        raise AuditError(
            _("the audit key {key_file} cannot be read: {strerror}").format(key_file=key_file, strerror=exc.strerror)
        ) from None
    if st.st_mode & 0o077:
        raise AuditError(
            _("the audit key {key_file} is readable or writable by other users (mode {mode}): chmod 600 it").format(
                key_file=key_file, mode=stat.filemode(st.st_mode)
            )
        )
    if len(data) != KEY_BYTES:
        raise AuditError(
            _("the audit key {key_file} holds {data} bytes, not {KEY_BYTES}: it is not this log's key").format(
                key_file=key_file, data=len(data), KEY_BYTES=KEY_BYTES
            )
        )
    return data


def _private_dir(folder: Path) -> None:
    """Make folder (and missing parents) and set it to 0700 when this user owns it."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = folder.stat()
    if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(folder, 0o700)


def _open_private(path: Path, flags: int):
    fd = os.open(path, flags | os.O_CREAT, 0o600)
    st = os.fstat(fd)
    if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) != 0o600:
        os.fchmod(fd, 0o600)
    return fd


# --- reading the log ------------------------------------------------------------------------------


@dataclass
class _Parsed:
    entries: list[dict] = field(default_factory=list)
    problem: str | None = None  # the first malformed line, if any (not a torn last line)
    torn: tuple[int, int] | None = None  # (line number, bytes) of a torn last line


def _parse(data: bytes) -> _Parsed:
    out = _Parsed()
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline, else the unterminated last line
    for number, raw in enumerate(lines, start=1):
        entry = _entry(raw)
        if entry is None:
            out.problem = _("line {number}: not a JSON entry (edited or corrupted)").format(number=number)
            return out
        out.entries.append(entry)
    if tail:
        entry = _entry(tail)
        if entry is not None:
            out.entries.append(entry)  # complete but for its newline
        else:
            out.torn = (len(lines) + 1, len(tail))
    return out


def _entry(raw: bytes) -> dict | None:
    try:
        entry = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return entry if isinstance(entry, dict) else None


def read(path: Path | None = None, *, lenient: bool = False) -> list[dict]:
    """The entries, in order; a torn last line is left out (verify reports it). Raises ValueError
    naming the line when another line is not a JSON entry, unless `lenient`: then the entries
    before that line (for showing what can be shown beside verify's failure)."""
    path = path or audit_path()
    if not path.exists():
        return []
    parsed = _parse(path.read_bytes())
    if parsed.problem and not lenient:
        raise ValueError(f"{path}: {parsed.problem}")
    return parsed.entries


def anchor(path: Path | None = None) -> dict | None:
    """{"seq", "hash"} of the last entry, or None when the log has none: what a build manifest and a
    closed report record, so that a later truncation or deletion of the log (with its head) is
    detected by `verify` against it."""
    path = path or audit_path()
    if not path.exists():
        return None
    entries = _parse(path.read_bytes()).entries
    for entry in reversed(entries):
        if isinstance(entry.get("seq"), int) and isinstance(entry.get("hash"), str):
            return {"seq": entry["seq"], "hash": entry["hash"]}
    return None


def _read_head(path: Path) -> dict | None:
    head = _head_path(path)
    if not head.exists():
        return None
    try:
        h = json.loads(head.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {"malformed": True}
    return h if isinstance(h, dict) else {"malformed": True}


# --- writing --------------------------------------------------------------------------------------


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
    """Write one entry (under a lock, fsynced) and return it.

    Makes the key first when neither it nor a log exists; raises AuditError when a log exists
    without its key (that log can no longer be verified, and nothing is written to it). A torn
    last line is moved into `<log>.torn` first, with a recovery entry saying so.
    """
    path = path or audit_path()
    kf = key_path()
    _check_key_place(kf, path)
    _private_dir(path.parent)
    lock_fd = _open_private(path.with_suffix(path.suffix + ".lock"), os.O_WRONLY)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        if not kf.exists():
            init_key(kf, log=path)  # raises when a log exists already
        key = _load_key(kf)
        fd = _open_private(path, os.O_RDWR)
        try:
            size, data = _tail(fd)
            parsed = _parse(data)
            fragment = b""
            if parsed.torn is not None:
                fragment = data[data.rfind(b"\n") + 1 :]
                _set_aside(path, fragment)
                os.ftruncate(fd, size - len(fragment))
                os.fsync(fd)
            elif data and not data.endswith(b"\n"):
                _write(fd, b"\n")  # the last entry was complete but for its newline
            seq, prev = _last(parsed, _read_head(path))
            if parsed.torn is not None:
                torn = _entry_dict(
                    seq + 1,
                    prev,
                    TORN_ACTION,
                    user=None,
                    role="system",
                    site=None,
                    detail={
                        "bytes": len(fragment),
                        "sha256": hashlib.sha256(fragment).hexdigest(),
                        "moved_to": str(_torn_path(path)),
                        "after_seq": seq,
                    },
                    data_cut=None,
                    key=key,
                )
                _write(fd, _line(torn))
                seq, prev = torn["seq"], torn["hash"]
            entry = _entry_dict(
                seq + 1,
                prev,
                action,
                user=user,
                role=role,
                site=site,
                detail=detail,
                data_cut=data_cut,
                key=key,
            )
            _write(fd, _line(entry))
            os.fsync(fd)
        finally:
            os.close(fd)
        _write_head(path, entry, key)
    finally:
        os.close(lock_fd)
    return entry


def _entry_dict(seq, prev, action, *, user, role, site, detail, data_cut, key) -> dict:
    entry = {
        "seq": seq,
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        "user": user,
        "role": role,
        "site": site,
        "action": action,
        "detail": detail,
        "data_cut": data_cut,
        "prev": prev,
    }
    entry["hash"] = _digest(entry, key)
    return entry


def _line(entry: dict) -> bytes:
    return (json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")


def _tail(fd: int) -> tuple[int, bytes]:
    """(the file's size, its last lines): at least the last complete line whole, and whatever
    follows the last newline. Read from the end, so an append costs the same for a long log."""
    size = os.fstat(fd).st_size
    block = 1 << 16
    while True:
        start = max(0, size - block)
        os.lseek(fd, start, os.SEEK_SET)
        chunks, left = [], size - start
        while left > 0 and (chunk := os.read(fd, left)):
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if start == 0:
            return size, data
        if data.count(b"\n") >= 2:
            return size, data[data.index(b"\n") + 1 :]  # from the first whole line on
        block *= 4


def _write(fd: int, data: bytes) -> None:
    os.lseek(fd, 0, os.SEEK_END)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _last(parsed: _Parsed, head: dict | None) -> tuple[int, str]:
    """The seq and hash to continue from: the log's last entry, or the head's when the head is
    further on (lines were cut from the log: continuing from the head keeps the gap visible
    instead of papering over it)."""
    seq, prev = 0, GENESIS
    if parsed.entries:
        last = parsed.entries[-1]
        if isinstance(last.get("seq"), int) and isinstance(last.get("hash"), str):
            seq, prev = last["seq"], last["hash"]
    if head and isinstance(head.get("seq"), int) and isinstance(head.get("hash"), str) and head["seq"] > seq:
        seq, prev = head["seq"], head["hash"]
    return seq, prev


def _set_aside(path: Path, fragment: bytes) -> None:
    fd = _open_private(_torn_path(path), os.O_WRONLY | os.O_APPEND)
    try:
        stamp = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
        _write(fd, f"# set aside {stamp}, {len(fragment)} bytes:\n".encode() + fragment + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_head(path: Path, entry: dict, key: bytes) -> None:
    head = _head_path(path)
    tmp = head.with_suffix(f".tmp-{os.getpid()}")
    body = {"seq": entry["seq"], "hash": entry["hash"], "mac": _head_mac(entry["seq"], entry["hash"], key)}
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        _write(fd, json.dumps(body).encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, head)


# --- verification ---------------------------------------------------------------------------------


@dataclass
class Verification:
    """What `verify` found: ok, the message, the entries that check, a torn last line if any
    (line number and bytes: reported, not a failure), and how many anchors were checked."""

    ok: bool
    message: str
    entries: int = 0
    torn: tuple[int, int] | None = None
    anchors: int = 0


def warehouse_anchors(warehouse: str | Path | None) -> tuple[list[tuple[str, dict]], list[str]]:
    """The anchors recorded in the warehouse's build manifests: ([(source, anchor)], problems).
    A manifest that cannot be read is a problem (it may have been damaged to hide its anchor)."""
    if warehouse is None:
        return [], []
    found, problems = [], []
    for manifest in sorted(Path(warehouse).glob("builds/*/manifest.json")):
        build = manifest.parent.name
        try:
            m = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            problems.append(
                _("the manifest of build {build} ({manifest}) cannot be read, so neither can its anchor").format(
                    build=build, manifest=manifest
                )
            )
            continue
        a = m.get("audit_anchor") if isinstance(m, dict) else None
        if a is not None:
            found.append((_("build {build}").format(build=build), a))
    return found, problems


_ANCHOR = re.compile(r"^\s*(?:seq\s*)?(\d+)\s*[:,]?\s*(?:hash\s*)?([0-9a-f]{64})\s*\.?\s*$", re.IGNORECASE)


def parse_anchor(text: str) -> dict:
    """SEQ:HASH, or the report's own wording "seq SEQ, hash HASH", as an anchor; ValueError when it
    is neither."""
    m = _ANCHOR.match(text)
    if not m:
        raise ValueError(
            _("{text} is not an audit anchor SEQ:HASH (a number, a colon, 64 hex digits)").format(text=repr(text))
        )
    return {"seq": int(m.group(1)), "hash": m.group(2).lower()}


def check(
    path: Path | None = None, *, warehouse: str | Path | None = None, anchors=(), key_file: Path | None = None
) -> Verification:
    """Every entry's HMAC, its sequence number and link to the one before, the head file, and every
    anchor (the warehouse's build manifests and those given as dicts, SEQ:HASH strings or
    (source, anchor) pairs). The warehouse defaults to NEO_MARGIN_WAREHOUSE when that is set."""
    path = path or audit_path()
    key_file = key_file or key_path()
    if warehouse is None:
        warehouse = os.environ.get(WAREHOUSE_ENV) or None
    all_anchors, problems = warehouse_anchors(warehouse)
    for a in anchors:
        if isinstance(a, str):
            a = ("the anchor given", parse_anchor(a))
        elif isinstance(a, dict):
            a = ("the anchor given", a)
        all_anchors.append(a)
    checked = []
    for source, a in all_anchors:
        if not (isinstance(a, dict) and isinstance(a.get("seq"), int) and isinstance(a.get("hash"), str)):
            problems.append(
                _("{source} records a malformed audit anchor {anchor}").format(source=source, anchor=repr(a))
            )
        elif a["seq"] > 0:
            checked.append((source, a))

    def result(ok, message, **kw):
        if problems:
            joined = "; ".join(problems)
            message = (_("{message}; {problems}") if not ok else _("{message}, but {problems}")).format(
                message=message, problems=joined
            )
            ok = False
        return Verification(ok, message, anchors=len(checked), **kw)

    head = _read_head(path)
    if not path.exists():
        if head is not None:
            return result(
                False,
                _("the audit log {path} is missing but its head file exists: the log was deleted").format(path=path),
            )
        if checked:
            source, a = max(checked, key=lambda sa: sa[1]["seq"])
            return result(
                False,
                _(
                    "the audit log {path} and its head file are missing, but {source} recorded the "
                    "log at seq {seq}: the log was deleted"
                ).format(path=path, source=source, seq=a["seq"]),
            )
        return result(True, _("no audit log yet"))
    try:
        key = _load_key(key_file)
    except AuditError as exc:
        return result(False, _("{exc}: the log's entries cannot be verified (restore the key)").format(exc=exc))
    parsed = _parse(path.read_bytes())
    prev, expected = GENESIS, 1
    for number, entry in enumerate(parsed.entries, start=1):
        if entry.get("hash") != _digest(entry, key):
            return result(
                False,
                _(
                    "line {number}: entry seq {seq} does not carry this log's keyed hash: it was "
                    "changed, or written without the key"
                ).format(number=number, seq=entry.get("seq")),
            )
        if entry.get("seq") != expected:
            return result(
                False,
                _("line {number}: seq {seq} where {expected} was expected (an entry was deleted or inserted)").format(
                    number=number, seq=entry.get("seq"), expected=expected
                ),
            )
        if entry.get("prev") != prev:
            return result(
                False,
                _("line {number}: does not link to the entry before it (deleted or inserted)").format(number=number),
            )
        prev, expected = entry["hash"], expected + 1
    if parsed.problem:
        return result(False, parsed.problem)
    last = expected - 1
    lag = ""
    if last:
        if head is None:
            return result(False, _("the head file {head} is missing: it was deleted").format(head=_head_path(path)))
        if head.get("malformed") or not isinstance(head.get("seq"), int) or head["seq"] < 1:
            return result(False, _("the head file {head} is not a head record: edited").format(head=_head_path(path)))
        if head.get("mac") != _head_mac(head["seq"], str(head.get("hash")), key):
            return result(
                False,
                _("the head file {head} does not carry its keyed hash: it was rewritten without the key").format(
                    head=_head_path(path)
                ),
            )
        if head["seq"] > last:
            return result(
                False,
                _(
                    "the log ends at seq {last} but the head records seq {seq}: entries were removed from the end"
                ).format(last=last, seq=head["seq"]),
            )
        if head["seq"] < last - 1:
            return result(
                False,
                _(
                    "the log has entries up to seq {last} but the head records seq {seq}: the head "
                    "was rewound or entries were added"
                ).format(last=last, seq=head["seq"]),
            )
        if parsed.entries[head["seq"] - 1]["hash"] != head["hash"]:
            return result(
                False, _("the head records seq {seq} with a hash the log's entry does not have").format(seq=head["seq"])
            )
        if head["seq"] == last - 1:
            lag = _("; the head records seq {seq} (an append was interrupted before the head was written)").format(
                seq=last - 1
            )
    elif head is not None and not head.get("malformed") and head.get("seq"):
        return result(
            False,
            _("the log is empty but the head records seq {seq}: entries were removed from the end").format(
                seq=head["seq"]
            ),
        )
    for source, a in checked:
        if a["seq"] > last:
            problems.append(
                _(
                    "{source} recorded seq {seq} and the log ends at seq {last}: entries were removed "
                    "from the end (truncated below the anchor)"
                ).format(source=source, seq=a["seq"], last=last)
            )
        elif parsed.entries[a["seq"] - 1]["hash"] != a["hash"]:
            problems.append(
                _("entry seq {seq} does not match {source}'s anchor: the log was rewritten or replaced").format(
                    seq=a["seq"], source=source
                )
            )
    anchored = _(", {n} anchor(s) held").format(n=len(checked)) if checked else ""
    if parsed.torn:
        line, size = parsed.torn
        return result(
            True,
            _(
                "chain intact up to seq {last} ({last} entries){anchored}{lag}; line {line} is "
                "torn: an interrupted write of {size} bytes without a newline, set aside into "
                "{name} at the next append"
            ).format(last=last, anchored=anchored, lag=lag, line=line, size=size, name=_torn_path(path).name),
            entries=last,
            torn=parsed.torn,
        )
    return result(
        True,
        _("{last} entries, chain intact{anchored}{lag}").format(last=last, anchored=anchored, lag=lag),
        entries=last,
    )


def verify(
    path: Path | None = None, *, warehouse: str | Path | None = None, anchors=(), key_file: Path | None = None
) -> tuple[bool, str]:
    """(intact, message): see `check`. A torn last line is intact-with-a-notice (its message says
    so); an edit, a deletion, a truncation below an anchor, a missing key or head are not."""
    v = check(path, warehouse=warehouse, anchors=anchors, key_file=key_file)
    return v.ok, v.message
