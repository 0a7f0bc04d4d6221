"""The warehouse build: an export package in, a blinded and a closed DuckDB warehouse out.

This module is the orchestration only; each step lives in its own module of dashboard/ingest:
package (opening a folder, zip or workbook) -> staging (raw_<form> by DuckDB's CSV reader,
typed_<form> with cell checks) -> validate (checks across forms) -> clean (crf_<form> cut at the
cut-off) -> derive (queries/derived, eligibility, allocation) -> findings (what the build found)
-> publish (the blinded and the closed file, the guard, the switch of `current`).
A package with errors is refused before anything is written; a good one is written to a new
build folder and published by switching the `current` pointer, so the last good warehouse
serves until the very end.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import resource
import secrets
import shutil
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from dashboard.access import blinding
from dashboard.config import TRIAL_CONFIG, ConfigError, CrfSpec, TrialConfig, load_crf_spec, load_trial
from dashboard.ingest import clean, derive, findings, publish, staging
from dashboard.ingest.guard import BlindingBreach, check_blinded, hidden_columns  # noqa: F401  (the build's API)
from dashboard.ingest.package import open_package
from dashboard.ingest.problems import PackageRefused, Problem
from dashboard.ingest.validate import DEMO_SOURCE_PREFIX, cross_form_checks  # noqa: F401
from dashboard.store import warehouse

# Derived tables and the derived tables each reads, in a build order: read from queries/derived.
DEPENDS = {name: list(reads) for name, reads in derive.dependencies().items()}
DERIVED = list(DEPENDS)
META = ["build_info", "form_counts", "problems", "findings", "criteria", "allocation", "load_history"]


@dataclass
class BuildResult:
    build_id: str
    build_dir: Path
    seconds: float
    rows: dict[str, int]
    warnings: list[Problem]
    findings: dict[str, int]
    steps: dict[str, float] = field(default_factory=dict)


Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


class _Steps:
    """Times each step and reports progress."""

    def __init__(self, progress: Progress, total: int):
        self.progress, self.total, self.n = progress, total, 0
        self.times: dict[str, float] = {}
        self._start = time.perf_counter()

    @contextmanager
    def step(self, name: str):
        self.n += 1
        self.progress(f"[{self.n}/{self.total}] {name} ...")
        t0 = time.perf_counter()
        yield
        self.times[name] = round(time.perf_counter() - t0, 3)
        self.progress(f"[{self.n}/{self.total}] {name}: {self.times[name]:.2f} s")

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self._start


def build(
    package: str | Path,
    warehouse_dir: str | Path,
    *,
    encoding: str | None = None,
    progress: Progress = _quiet,
    config: TrialConfig | None = None,
) -> BuildResult:
    """Validate `package` and, if it is sound, publish it as the warehouse's current build.

    Raises PackageRefused (with every problem found) when the package breaks the export spec;
    the current build, if any, is left untouched and the attempt is added to the load history.
    """
    cfg = config or load_trial()
    spec = load_crf_spec()
    wh = Path(warehouse_dir)
    started = dt.datetime.now(dt.UTC)
    build_id = started.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
    steps = _Steps(progress, 9)
    with publish.locked(wh):
        work = wh / "builds" / f".tmp-{build_id}"
        try:
            result = _build(package, wh, work, build_id, started, cfg, spec, encoding, steps)
        except PackageRefused as refused:
            shutil.rmtree(work, ignore_errors=True)
            entry = _history_entry(build_id, started, package, steps, status="refused", problems=refused.problems)
            warehouse.append_history(wh, entry)
            refused.history_entry = entry
            raise
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
    return result


def _history_entry(
    build_id,
    started,
    package,
    steps: _Steps,
    *,
    status: str,
    problems: list[Problem],
    info: dict | None = None,
    rows: dict | None = None,
    findings: dict | None = None,
) -> dict:
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity == "warning"]
    entry = {
        "build_id": build_id,
        "started": started.isoformat(timespec="seconds"),
        "package": str(package),
        "status": status,
        "seconds": round(steps.elapsed, 3),
        "steps": steps.times,
        "errors": len(errors),
        "warnings": len(warnings),
        "first_errors": [str(p) for p in errors[:20]],
        "rows": rows or {},
        "findings": findings or {},
    }
    entry.update(info or {})
    return entry


def _build(
    package,
    wh: Path,
    work: Path,
    build_id: str,
    started: dt.datetime,
    cfg: TrialConfig,
    spec: CrfSpec,
    encoding,
    steps: _Steps,
) -> BuildResult:
    problems: list[Problem] = []
    hidden = hidden_columns(cfg)
    conflicts = blinding.free_text_conflicts(cfg, spec, hidden)
    if conflicts:
        raise ConfigError("; ".join(conflicts))
    work.mkdir(parents=True)
    con = duckdb.connect()
    with steps.step("opening the package"):
        pkg = open_package(package, work / "staging", encoding)
        problems += pkg.problems
    if any(p.severity == "error" for p in problems):
        raise PackageRefused(problems)

    with steps.step("reading the forms"):
        loaded = staging.load_raw(con, pkg, spec, problems)
    with steps.step("checking cells, codes and keys"):
        staging.type_forms(con, loaded, spec)
        staging.check_cells(con, loaded, spec, problems, hide_values=hidden)
    with steps.step("checking the forms against each other"):
        cross_form_checks(con, loaded, spec, problems, cfg)
    if any(p.severity == "error" for p in problems):
        raise PackageRefused(problems)

    with steps.step("cutting at the cut-off"):
        info = derive.build_info(con, build_id, started, package, cfg)
        clean.create_clean(con, loaded, spec)
        clean.create_subject_dates(con, loaded, spec)
    with steps.step("deriving subjects, eligibility, survival, windows, safety"):
        derive.derive(con, cfg)
    with steps.step("recording findings"):
        free_text = findings.free_text(loaded, spec)
        found = findings.record_findings(con, loaded, spec, cfg, free_text)
        rows = findings.form_counts(con, loaded)
        findings.problems_table(con, problems)
        derive.allocation(con, cfg)
    entry = _history_entry(
        build_id, started, package, steps, status="published", problems=problems, info=info, rows=rows, findings=found
    )
    history = warehouse.load_history(wh) + [entry]
    findings.history_table(con, history)

    with steps.step("writing the closed and the blinded warehouse"):
        tables = [f"crf_{f.lower()}" for f in loaded] + DERIVED + META
        publish.write_warehouses(con, work, tables, loaded=loaded, spec=spec, cfg=cfg, free_text=free_text)
        con.close()
    with steps.step("publishing"):
        shutil.rmtree(work / "staging", ignore_errors=True)
        final = wh / "builds" / build_id
        entry["seconds"] = round(steps.elapsed, 3)
        entry["steps"] = steps.times
        entry["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        (work / warehouse.MANIFEST).write_text(
            json.dumps(
                {
                    **entry,
                    "warnings_list": [p.as_dict() for p in problems if p.severity == "warning"],
                    "encodings": {f: pkg.files[f].encoding for f in pkg.files},
                    "wrapper": pkg.wrapper,
                    "ignored_files": pkg.ignored,
                    "duckdb": duckdb.__version__,
                    "config_sha256": _config_hash(),
                },
                ensure_ascii=False,
                indent=1,
                default=str,
            ),
            encoding="utf-8",
        )
        os.replace(work, final)
        warehouse.switch_current(wh, final)
        warehouse.append_history(wh, entry)
        publish.prune(wh, keep=final)
    return BuildResult(
        build_id,
        final,
        round(steps.elapsed, 3),
        rows,
        [p for p in problems if p.severity == "warning"],
        found,
        steps.times,
    )


def _config_hash() -> str:
    path = Path(os.environ.get("NEO_MARGIN_CONFIG") or TRIAL_CONFIG)
    return hashlib.sha256(path.read_bytes()).hexdigest()
