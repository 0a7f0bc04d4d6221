"""Writing a build to disk and publishing it: one build at a time per warehouse folder, the
tables copied into the blinded and the closed file, the manifest, the atomic switch of
`current`, and pruning old builds."""

from __future__ import annotations

import fcntl
import shutil
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import duckdb

from dashboard.access import blinding
from dashboard.store.sql import render

KEEP_BUILDS = 3
WRITERS = 2


@contextmanager
def locked(folder: Path):
    """One build at a time per warehouse folder."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".build.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise RuntimeError(f"{folder}: another build is running") from exc
        yield


def columns(con: duckdb.DuckDBPyConnection, table: str, with_types: bool = False) -> list:
    rows = con.execute(render("ingest/columns", table=table)).fetchall()
    return rows if with_types else [r[0] for r in rows]


def with_columns(con: duckdb.DuckDBPyConnection, tables: list[str], names: set[str]) -> list[str]:
    """The tables that have a column named in `names`."""
    return [t for t in tables if any(c.upper() in names for c in columns(con, t))]


def write(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    tables: list[str],
    exclude: set[str],
    alias: str,
    replace: bool = False,
    redact: tuple[set[str], str | None] | None = None,
) -> None:
    """Copy `tables` into a database file (new, or replacing those tables in it), leaving out the
    columns named in `exclude` and those starting with '_'; with `redact` (column names, pattern),
    a text cell of those columns that matches the pattern is written as blinding.FREE_TEXT_MARK."""
    names, pattern = redact if redact and redact[1] else (set(), None)
    con.execute(render("ingest/attach", path=str(path), alias=alias))

    def copy(some: list[str]) -> None:
        cur = con.cursor()
        try:
            for t in some:
                keep = [
                    {"name": c, "redact": bool(pattern and ct == "VARCHAR" and c.lower() in names)}
                    for c, ct in columns(cur, t, with_types=True)
                    if c.upper() not in exclude and not c.startswith("_")
                ]
                cur.execute(
                    render(
                        "ingest/copy_table",
                        table=t,
                        alias=alias,
                        columns=keep,
                        replace=replace,
                        pattern=pattern,
                        mark=blinding.FREE_TEXT_MARK,
                    )
                )
        finally:
            cur.close()

    try:
        # two writers, each taking every other table: most tables are below the row-group size
        # DuckDB splits one statement's work by, so one writer left a core idle
        with ThreadPoolExecutor(max_workers=WRITERS) as pool:
            for job in [pool.submit(copy, tables[i::WRITERS]) for i in range(WRITERS)]:
                job.result()
    finally:
        con.execute(render("ingest/detach", alias=alias))
        con.close()


def prune(wh: Path, keep: Path) -> None:
    """Keep the newest builds; an open reader of an older file keeps its file until it closes."""
    builds = sorted(
        (p for p in (wh / "builds").iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name
    )
    for old in builds[:-KEEP_BUILDS]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)
