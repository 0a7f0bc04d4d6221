"""Named data cuts, on the record: "DSMB look 1", "Steering 2027-Q2".

A pin is an entry of the audit log (keyed, chained, anchored: audit.py) naming a published build
for a committee, written by a role trial.toml [cuts] pin_roles allows for that committee. It
records the SHA-256 of the cut's files, so a pinned cut reopened later is checked to be exactly the
files the committee met on (`verify`), and the retention policy keeps a pinned cut forever
(dashboard/store/cuts.py). A pin cannot be removed: the log is append-only.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from dashboard.access import audit
from dashboard.config import TrialConfig, load_trial
from dashboard.i18n import _

ACTION = "data cut pinned"
FILES = ("blinded.duckdb", "closed.duckdb", "manifest.json")  # what a pin's digests cover
NAME_MAX = 80


class PinError(Exception):
    """A pin that cannot be written as asked (a role that may not pin, a name used already)."""


def pinned(path: Path | None = None) -> list[dict]:
    """Every pin on the record, in the order written: name, committee, build, cut-off, digests,
    who pinned it and when."""
    out = []
    for e in audit.read(path, lenient=True):
        d = e.get("detail")
        if e.get("action") != ACTION or not isinstance(d, dict) or not d.get("build_id"):
            continue
        out.append(
            {
                "name": str(d.get("name", "")),
                "committee": str(d.get("committee", "")),
                "build_id": str(d["build_id"]),
                "cutoff": d.get("cutoff"),
                "digests": dict(d.get("digests") or {}),
                "by": e.get("user"),
                "role": e.get("role"),
                "time": e.get("time"),
                "seq": e.get("seq"),
            }
        )
    return out


def digests(build_dir: Path) -> dict[str, str]:
    """The SHA-256 of each file of a cut that a pin vouches for."""
    return {name: digests_of(Path(build_dir) / name) for name in FILES}


def verify(build_dir: Path, pin: dict) -> list[str]:
    """What differs between a pinned cut's files now and when it was pinned (empty: the same)."""
    problems = []
    for name, digest in sorted(pin.get("digests", {}).items()):
        path = Path(build_dir) / name
        try:
            now = digests_of(path)
        except OSError as exc:
            problems.append(_("{file}: cannot be read ({reason})").format(file=path, reason=exc.strerror or exc))
            continue
        if now != digest:
            problems.append(
                _("{file} is not the file pinned as {name} (SHA-256 {now}, pinned {then})").format(
                    file=path, name=pin.get("name"), now=now[:12], then=digest[:12]
                )
            )
    return problems


def digests_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def may_pin(role: str, committee: str, cfg: TrialConfig | None = None) -> bool:
    cfg = cfg or load_trial()
    return committee in cfg.cuts.pin_roles.get(role, [])


def pin(
    *,
    name: str,
    committee: str,
    build_id: str,
    cutoff: str | None,
    build_dir: Path,
    user: str | None,
    role: str,
    cfg: TrialConfig | None = None,
    path: Path | None = None,
) -> dict:
    """Pin a published cut under `name` for `committee`; the audit entry is returned. Refused when
    the role may not pin for the committee, the name is empty, too long or used already, or the cut
    is pinned for the committee already."""
    cfg = cfg or load_trial()
    name = " ".join(str(name).split())
    if committee not in cfg.cuts.committees:
        raise PinError(
            _("{committee} is not a committee (trial.toml [cuts] committees: {names})").format(
                committee=committee, names=", ".join(cfg.cuts.committees)
            )
        )
    if not may_pin(role, committee, cfg):
        raise PinError(
            _("the role {role} may not pin a cut for the {committee} committee").format(role=role, committee=committee)
        )
    if not name or len(name) > NAME_MAX:
        raise PinError(_("a cut's name needs 1 to {n} characters").format(n=NAME_MAX))
    from dashboard.access import freetext

    if freetext.matcher(cfg)(name):
        # every role reads a cut's name (the sidebar, the trends, the open report): it must not name an arm
        raise PinError(_("a cut's name must not name an arm or the protocol surgery; choose another name"))
    before = pinned(path)
    for p in before:
        if p["name"].casefold() == name.casefold():
            raise PinError(
                _("the name {name} is taken already (cut {build}, pinned by {user})").format(
                    name=name, build=p["build_id"], user=p["by"]
                )
            )
        if p["build_id"] == build_id and p["committee"] == committee:
            raise PinError(
                _("the cut {build} is pinned for {committee} already, as {name}").format(
                    build=build_id, committee=committee, name=p["name"]
                )
            )
    detail = {
        "name": name,
        "committee": committee,
        "build_id": build_id,
        "cutoff": cutoff,
        "digests": digests(build_dir),
    }
    return audit.append(
        ACTION, user=user, role=role, detail=detail, data_cut={"build_id": build_id, "cutoff": cutoff}, path=path
    )
