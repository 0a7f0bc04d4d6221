"""Data cuts: every published build of a warehouse is a cut, with its cut-off, export time, source
fingerprint and code version (its manifest), and the names it was pinned under (the audit log,
dashboard/access/pins.py).

    WAREHOUSE/builds/<build_id>/   one cut (blinded.duckdb, closed.duckdb, manifest.json)

Which cuts are kept (`retained`): every cut pinned for a committee of trial.toml [cuts] and every
cut a DSMB look was recorded on, forever; of the others the newest `keep_recent`; the current one
always. A pinned cut is reopened read-only as it was: its files are the ones the pin's digests name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from dashboard.config import TrialConfig, load_trial
from dashboard.i18n import _
from dashboard.store import warehouse


class CutNotFound(LookupError):
    """No retained cut of this warehouse has that build id or name."""


@dataclass(frozen=True)
class Cut:
    build_id: str
    build_dir: Path
    cutoff: str
    exported: str | None
    published: str
    fingerprint: str | None
    code_version: str | None
    source: str | None = None
    pins: tuple[dict, ...] = field(default=(), compare=False)
    look: int | None = None  # the DSMB look recorded on this cut, if any

    @property
    def label(self) -> str:
        """How a person names the cut: its first pin's name, else its cut-off and build."""
        if self.pins:
            return self.pins[0]["name"]
        return _("cut-off {cutoff} ({build})").format(cutoff=self.cutoff, build=self.build_id)

    def committees(self) -> set[str]:
        return {p["committee"] for p in self.pins} | ({"dsmb"} if self.look else set())

    def as_dict(self) -> dict:
        return {
            "build_id": self.build_id,
            "cutoff": self.cutoff,
            "exported": self.exported,
            "published": self.published,
            "fingerprint": self.fingerprint,
            "code_version": self.code_version,
            "pins": [{k: p[k] for k in ("name", "committee", "by", "time", "seq")} for p in self.pins],
            "look": self.look,
        }


def _published(wh: Path) -> list[Path]:
    builds = wh / "builds"
    if not builds.is_dir():
        return []
    return sorted(
        (
            p
            for p in builds.iterdir()
            if p.is_dir() and not p.name.startswith(".") and (p / warehouse.MANIFEST).is_file()
        ),
        key=lambda p: p.name,
    )


def _record(build_dir: Path, pins: list[dict], looks: dict[str, int]) -> Cut | None:
    try:
        m = json.loads((build_dir / warehouse.MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None  # a damaged manifest is not a cut anyone can open (audit verify reports it)
    bid = build_dir.name
    return Cut(
        build_id=bid,
        build_dir=build_dir,
        cutoff=str(m.get("cutoff")),
        exported=m.get("exported"),
        published=str(m.get("started")),
        fingerprint=m.get("fingerprint"),
        code_version=m.get("code_version"),
        source=m.get("source"),
        pins=tuple(p for p in pins if p["build_id"] == bid),
        look=looks.get(bid),
    )


def _on_record() -> tuple[list[dict], dict[str, int]]:
    from dashboard.access import blinding, freetext, looks, pins

    held = {}
    for look in looks.held():
        bid = (look.get("data_cut") or {}).get("build_id")
        if bid:
            held.setdefault(bid, look["look"])
    # a name that may name an arm is refused when pinned; one on the record anyway (written before
    # that check, or by hand) is shown as the free-text mark: every role reads a cut's name
    names = freetext.matcher(load_trial())
    screened = [{**p, "name": blinding.FREE_TEXT_MARK} if names(p["name"]) else p for p in pins.pinned()]
    return screened, held


def cuts(warehouse_dir: str | Path) -> list[Cut]:
    """Every retained published cut, oldest first, with its pins and look."""
    pins, held = _on_record()
    out = [_record(p, pins, held) for p in _published(Path(warehouse_dir))]
    return [c for c in out if c is not None]


def get(warehouse_dir: str | Path, build_id_or_name: str) -> Cut:
    """A retained cut by its build id or by a name it was pinned under (case-insensitive)."""
    wanted = str(build_id_or_name).strip()
    all_cuts = cuts(warehouse_dir)
    for c in all_cuts:
        if c.build_id == wanted:
            return c
    for c in reversed(all_cuts):
        if any(p["name"].casefold() == wanted.casefold() for p in c.pins):
            return c
    raise CutNotFound(
        _("{warehouse}: no retained data cut is named {name}").format(warehouse=warehouse_dir, name=repr(wanted))
    )


def current(warehouse_dir: str | Path) -> Cut:
    build = warehouse.current_build(warehouse_dir)
    pins, held = _on_record()
    cut = _record(build, pins, held)
    if cut is None:
        raise warehouse.NoWarehouse(_("{build}: the current build has no readable manifest").format(build=build))
    return cut


def committee(role: str, cfg: TrialConfig | None = None) -> str | None:
    cfg = cfg or load_trial()
    return cfg.cuts.committee_of_role.get(role)


def baseline(warehouse_dir: str | Path, role: str, cfg: TrialConfig | None = None, to: Cut | None = None) -> Cut | None:
    """Where a role's "since the last meeting" starts: the last cut older than `to` (default the
    current one) pinned for the role's committee (or, for the DSMB, a look's cut), else the cut
    before `to`, else None (the first cut)."""
    cfg = cfg or load_trial()
    to = to or current(warehouse_dir)
    older = [c for c in cuts(warehouse_dir) if c.build_id < to.build_id]
    mine = committee(role, cfg)
    met = [c for c in older if mine and mine in c.committees()]
    if met:
        return met[-1]
    return older[-1] if older else None


def keep(
    warehouse_dir: str | Path, newest: Path, cfg: TrialConfig | None = None, current_dir: Path | None = None
) -> set[str]:
    """The build ids the retention policy keeps: every cut pinned for a committee or a look's cut,
    the newest `keep_recent` of the others, the build just published and the one `current` names."""
    cfg = cfg or load_trial()
    pins, held = _on_record()
    committees = set(cfg.cuts.committees)
    forever = {p["build_id"] for p in pins if p["committee"] in committees} | set(held)
    ids = [p.name for p in _published(Path(warehouse_dir))]
    others = [b for b in ids if b not in forever]
    kept = forever | set(others[-cfg.cuts.keep_recent :]) | {newest.name}
    if current_dir is not None:
        kept.add(current_dir.name)
    return kept & set(ids) | {newest.name}


def disk_use(cut: Cut) -> int:
    """Bytes the cut's folder holds."""
    return sum(f.stat().st_size for f in cut.build_dir.rglob("*") if f.is_file())
