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


def write_warehouses(
    con: duckdb.DuckDBPyConnection,
    work: Path,
    tables: list[str],
    *,
    loaded: dict,
    spec,
    cfg,
    free_text: set[str],
) -> None:
    """Write the build's blinded and closed file into `work`, and have the guard check the blinded
    one (BlindingBreach when it fails)."""
    from dashboard.ingest import findings
    from dashboard.ingest.guard import check_blinded, hidden_columns
    from dashboard.store import warehouse

    hidden = hidden_columns(cfg)
    # The blinded file is written once; the closed file starts as a byte copy of it and only
    # the tables that lost a column to the blinding are written again, whole. Writing two
    # files of 2.6 M rows each took 2.4 s at 35,600 subjects; this takes about 1.8 s.
    # Every table the blinding changed is rewritten: those that lost a column, and those in
    # which a free-text cell was withheld. A new kind of blinding change must be added here.
    pattern = blinding.free_text_pattern(cfg)
    write(con.cursor(), work / warehouse.BLINDED, tables, hidden, "blinded_out", redact=(free_text, pattern))
    # the withheld cells are findings already: their columns name the tables that changed
    changed = with_columns(con, tables, hidden | findings.withheld_columns(con))
    shutil.copyfile(work / warehouse.BLINDED, work / warehouse.CLOSED)
    with ThreadPoolExecutor(max_workers=2) as pool:  # the guard scans while the closed file is written
        guard = pool.submit(check_blinded, work / warehouse.BLINDED, cfg, free_text)
        closed = pool.submit(write, con.cursor(), work / warehouse.CLOSED, changed, set(), "closed_out", replace=True)
        guard.result()  # a breach is the error to report first
        closed.result()


def prune(wh: Path, keep: Path) -> None:
    """Keep the newest builds; an open reader of an older file keeps its file until it closes."""
    builds = sorted(
        (p for p in (wh / "builds").iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name
    )
    for old in builds[:-KEEP_BUILDS]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)
