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

from dashboard.access import blinding, freetext
from dashboard.i18n import N_
from dashboard.ingest.problems import MessageError
from dashboard.store.sql import render

WRITERS = 2
ALIASES = ("blinded_out", "closed_out", "closed_add")  # the files' names while they are attached


class BuildRunning(MessageError, RuntimeError):
    """Another build holds the warehouse folder's lock."""


@contextmanager
def locked(folder: Path):
    """One build at a time per warehouse folder."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".build.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BuildRunning(N_("{folder}: another build is running"), folder=str(folder)) from exc
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
    copies: list,
    alias: str,
    replace: bool = False,
    redact: tuple[set[str], str | None] | None = None,
) -> None:
    """Copy tables into a database file (new, or replacing those tables in it). `copies`: table
    names (every column but those starting with '_') or blinded.Copy (a table from a source with
    exactly these columns). With `redact` (column names, the name of the SQL function that tells
    whether a text may name the arm: freetext.register), a text cell of those columns that may
    name the arm is written as blinding.FREE_TEXT_MARK."""
    from dashboard.ingest.blinded import Copy

    names, match = redact if redact and redact[1] else (set(), None)
    con.execute(render("ingest/attach", path=str(path), alias=alias))

    def copy(some: list) -> None:
        cur = con.cursor()
        try:
            for job in some:
                job = job if isinstance(job, Copy) else Copy(job, job, ())
                typed = columns(cur, job.source, with_types=True)
                wanted = {c.lower() for c in job.columns}
                keep = [
                    {"name": c, "redact": bool(match and ct == "VARCHAR" and c.lower() in names)}
                    for c, ct in typed
                    if (c.lower() in wanted if job.columns else not c.startswith("_"))
                ]
                cur.execute(
                    render(
                        "ingest/copy_table",
                        table=job.table,
                        source=job.source,
                        alias=alias,
                        columns=keep,
                        replace=replace,
                        pattern=None,
                        match=match,
                        mark=blinding.FREE_TEXT_MARK,
                    )
                )
        finally:
            cur.close()

    try:
        # two writers, each taking every other table: most tables are below the row-group size
        # DuckDB splits one statement's work by, so one writer left a core idle
        with ThreadPoolExecutor(max_workers=WRITERS) as pool:
            for job in [pool.submit(copy, copies[i::WRITERS]) for i in range(WRITERS)]:
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
    one (BlindingBreach when it fails).

    The blinded file holds exactly the allow-list (dashboard/blinded_tables.toml, with the
    visibility of each spec column): every other table and column is in the closed file only.
    The closed file starts as a byte copy of the blinded one; the tables the blinded file lacks or
    holds in another form (fewer columns, a blinded variant, withheld free text) are then written
    to it whole.
    """
    from dashboard.config import load_allow_list
    from dashboard.ingest import blinded, findings
    from dashboard.ingest.guard import check_blinded
    from dashboard.store import warehouse

    allow = load_allow_list()
    blinded.blinded_variants(con, cfg)
    tables = tables + [blinded.POOLED]
    plan = blinded.plan(con, tables, spec, allow)
    freetext.register(con, cfg, freetext.UDF)
    write(con.cursor(), work / warehouse.BLINDED, plan, ALIASES[0], redact=(free_text, freetext.UDF))
    redacted = set(findings.withheld_columns(con))
    same = {
        c.table
        for c in plan
        if c.source == c.table
        and {x.lower() for x in c.columns} == {x.lower() for x in columns(con, c.table) if not x.startswith("_")}
        and not ({x.upper() for x in c.columns} & redacted)
    }
    in_blinded = {c.table for c in plan}
    rewrite = [t for t in tables if t in in_blinded and t not in same]
    add = [t for t in tables if t not in in_blinded]
    shutil.copyfile(work / warehouse.BLINDED, work / warehouse.CLOSED)

    def closed() -> None:
        write(con.cursor(), work / warehouse.CLOSED, rewrite, ALIASES[1], replace=True)
        write(con.cursor(), work / warehouse.CLOSED, add, ALIASES[2])

    with ThreadPoolExecutor(max_workers=2) as pool:  # the guard scans while the closed file is written
        guard = pool.submit(check_blinded, work / warehouse.BLINDED, cfg, free_text)
        done = pool.submit(closed)
        guard.result()  # a breach is the error to report first
        done.result()


def prune(wh: Path, keep: Path, cfg=None) -> list[str]:
    """Remove the builds the retention policy of trial.toml [cuts] does not keep (every pinned cut and
    every look's cut forever, the newest `keep_recent` others: dashboard/store/cuts.py keep); an
    open reader of a removed file keeps its file until it closes. Returns the removed build ids."""
    from dashboard.store import cuts

    builds = sorted(
        (p for p in (wh / "builds").iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name
    )
    kept = cuts.keep(wh, keep, cfg)
    removed = []
    for old in builds:
        if old.name not in kept and old != keep:
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old.name)
    return removed
