"""The warehouse folder on disk, and read-only connections to the build it currently serves.

    WAREHOUSE/
      current -> builds/<id>        the pointer, switched atomically (a symlink replaced by rename)
      builds/<id>/blinded.duckdb    no arm, no arm-revealing field: every blinded role reads this
      builds/<id>/closed.duckdb     everything; opened only for a closed (DSMB) session
      builds/<id>/manifest.json     what the build read and found
      load_history.jsonl            every build attempt, refused ones included (append-only)

Each build writes a new folder, so a reader holding the old files keeps reading them until it
reconnects (duckdb#15912: an os.replace() under an open connection is not seen).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb

from dashboard.i18n import _

BLINDED = "blinded.duckdb"
CLOSED = "closed.duckdb"
MANIFEST = "manifest.json"
HISTORY = "load_history.jsonl"


class NoWarehouse(Exception):
    """No build has been published in this warehouse folder yet."""


def current_build(warehouse: str | Path) -> Path:
    """The folder of the build the warehouse serves now."""
    pointer = Path(warehouse) / "current"
    try:
        target = os.readlink(pointer)
    except (FileNotFoundError, OSError) as exc:
        raise NoWarehouse(
            _(
                "{warehouse}: no warehouse has been built here yet (python -m dashboard build PACKAGE --warehouse DIR)"
            ).format(warehouse=warehouse)
        ) from exc
    # joined without resolve(): realpath() on every page run was 3% of the server's CPU under
    # load, and the link target is relative to the warehouse folder by construction
    return Path(os.path.abspath(os.path.join(warehouse, target)))


def switch_current(warehouse: Path, build_dir: Path) -> None:
    """Point `current` at build_dir in one rename, so a reader sees the old or the new build."""
    tmp = warehouse / f".current-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(os.path.relpath(build_dir, warehouse), tmp)
    os.replace(tmp, warehouse / "current")


def connect(warehouse: str | Path, closed: bool = False, build: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the blinded (default) or closed file of the current build, or of
    `build` (a retained data cut's folder: dashboard/store/cuts.py)."""
    path = (build or current_build(warehouse)) / (CLOSED if closed else BLINDED)
    return duckdb.connect(str(path), read_only=True)


def manifest(warehouse: str | Path, build: Path | None = None) -> dict:
    return json.loads(((build or current_build(warehouse)) / MANIFEST).read_text(encoding="utf-8"))


def load_history(warehouse: str | Path) -> list[dict]:
    path = Path(warehouse) / HISTORY
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            entries.append(json.loads(line))
    return entries


def append_history(warehouse: Path, entry: dict) -> None:
    warehouse.mkdir(parents=True, exist_ok=True)
    with open(warehouse / HISTORY, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
