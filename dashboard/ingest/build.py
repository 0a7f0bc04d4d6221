"""The warehouse build: an export package in, a blinded and a closed DuckDB warehouse out.

This module is the orchestration only; each step lives in its own module of dashboard/ingest:
package (opening a folder, zip or workbook) -> staging (raw_<form> by DuckDB's CSV reader,
typed_<form> with cell checks) -> validate (checks across forms) -> clean (crf_<form> cut at the
cut-off) -> derive (queries/derived, eligibility, allocation) -> findings (what the build found)
-> publish (the blinded and the closed file, the guard, the switch of `current`).
A package with errors is refused before anything is written; a good one is written to a new
build folder and published by switching the `current` pointer, so the last good warehouse
serves until the very end.

Every refusal is a PackageRefused with messages naming the file (never a traceback) and an entry
in the load history: a bad package, a second build while one runs, a disk that fills up while the
build is written. The warehouse is the service user's alone: folders 0700, files 0600.
"""

from __future__ import annotations

import datetime as dt
import errno
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

from dashboard.access import audit, blinding, freetext
from dashboard.config import TRIAL_CONFIG, ConfigError, CrfSpec, TrialConfig, load_crf_spec, load_trial
from dashboard.i18n import N_, _
from dashboard.ingest import clean, derive, findings, publish, staging
from dashboard.ingest.guard import BlindingBreach, check_blinded, hidden_columns  # noqa: F401  (the build's API)
from dashboard.ingest.package import fingerprint, open_package
from dashboard.ingest.problems import PackageRefused, Problem, Quoting, refusal
from dashboard.ingest.validate import DEMO_SOURCE_PREFIX, cross_form_checks  # noqa: F401
from dashboard.store import warehouse

# Derived tables and the derived tables each reads, in a build order: read from queries/derived.
DEPENDS = {name: list(reads) for name, reads in derive.dependencies().items()}
DERIVED = list(DEPENDS)
META = ["build_info", "form_counts", "problems", "findings", "criteria", "allocation", "load_history"]
DIR_MODE, FILE_MODE = 0o700, 0o600  # the warehouse is the service user's alone
TMP_PREFIX = ".tmp-"  # a build folder being written; one left behind was interrupted
# errno values and DuckDB's words for a disk (or the file-size limit) that is full
_FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
_FULL_WORDS = ("no space left", "file too large", "disk quota", "not enough space")


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
        """A step of the build: `name` (an N_() message) is the English key of its time in the
        manifest and the load history, and is shown in the current language."""
        self.n += 1
        self.progress(_("[{n}/{total}] {step} ...").format(n=self.n, total=self.total, step=_(name)))
        t0 = time.perf_counter()
        yield
        self.times[name] = round(time.perf_counter() - t0, 3)
        self.progress(
            _("[{n}/{total}] {step}: {seconds:.2f} s").format(
                n=self.n, total=self.total, step=_(name), seconds=self.times[name]
            )
        )

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
    provenance: dict | None = None,
    carried: list[Problem] | None = None,
) -> BuildResult:
    """Validate `package` and, if it is sound, publish it as the warehouse's current build.

    Raises PackageRefused (with every problem found) when the package breaks the export spec;
    the current build, if any, is left untouched and the attempt is added to the load history.
    `provenance`: where the package came from when an EDC export was converted into it (the
    source's files and fingerprints, the mapping's hash), kept in the manifest as `provenance`
    (its `source` is the export's SOURCE);
    `carried`: the conversion's warnings (unmapped fields, by name and count), recorded with the
    build's own so the data manager sees them where every other warning is.
    """
    cfg = config or load_trial()
    spec = load_crf_spec()
    wh = Path(warehouse_dir)
    started = dt.datetime.now(dt.UTC)
    # microseconds: two builds in one second still sort in the order they began (cuts are ordered by id)
    build_id = started.strftime("%Y%m%dT%H%M%S%f") + "-" + secrets.token_hex(3)
    steps = _Steps(progress, 9)
    _private_dir(wh)

    def refuse(refused: PackageRefused) -> PackageRefused:
        entry = _history_entry(build_id, started, package, steps, status="refused", problems=refused.problems)
        try:
            _append_history(wh, entry)
        except OSError as exc:  # the disk is full: say so beside the refusal
            refused.problems.append(
                Problem(
                    "error",
                    str(wh),
                    None,
                    None,
                    N_("the load history could not be written: {reason}"),
                    params={"reason": exc},
                )
            )
        refused.history_entry = entry
        return refused

    try:
        lock = publish.locked(wh)
        lock.__enter__()
    except RuntimeError as exc:  # another build holds the warehouse's lock
        raise refuse(
            refusal(
                str(package),
                N_("not built: another build of {warehouse} is running; try again when it has finished ({reason})"),
                warehouse=str(wh),
                reason=getattr(exc, "msg", exc),
            )
        ) from None
    work = wh / "builds" / f"{TMP_PREFIX}{build_id}"
    try:
        for lock_file in wh.glob(".build.lock"):
            os.chmod(lock_file, FILE_MODE)
        _remove_leftovers(wh)
        _tighten(wh)
        try:
            result = _build(package, wh, work, build_id, started, cfg, spec, encoding, steps, provenance, carried)
        except PackageRefused as refused:
            shutil.rmtree(work, ignore_errors=True)
            raise refuse(refused) from None
        except BlindingBreach as breach:
            # the guard's word names tables and columns, never a value
            shutil.rmtree(work, ignore_errors=True)
            raise refuse(
                refusal(
                    str(package),
                    N_(
                        "not published: the blinding guard refused the blinded file ({reason}); "
                        "the warehouse was not changed"
                    ),
                    reason=breach.msg,
                )
            ) from None
        except (OSError, duckdb.IOException) as exc:
            shutil.rmtree(work, ignore_errors=True)
            if not _disk_full(exc):
                _record_failure(wh, build_id, started, package, steps, exc)
                raise
            raise refuse(
                refusal(
                    str(package),
                    N_("not built: the disk holding {warehouse} is full ({reason}); the warehouse was not changed"),
                    warehouse=str(wh),
                    reason=_first_line(exc),
                )
            ) from None
        except BaseException as exc:
            shutil.rmtree(work, ignore_errors=True)
            _record_failure(wh, build_id, started, package, steps, exc)
            raise
    finally:
        lock.__exit__(None, None, None)
    return result


def _first_line(exc: BaseException) -> str:
    """The line of the error that says the disk is full, else its first line."""
    lines = [x.strip() for x in str(exc).splitlines() if x.strip()]
    full = [x for x in lines if any(w in x.lower() for w in _FULL_WORDS)]
    return (full or lines or [type(exc).__name__])[0]


def _disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in _FULL:
        return True
    return any(w in str(exc).lower() for w in _FULL_WORDS)


def _record_failure(wh: Path, build_id, started, package, steps: _Steps, exc: BaseException) -> None:
    """A build that failed for a reason that is not the package's still leaves a history entry."""
    problem = Problem(
        "error", str(package), None, None, N_("the build failed: {error}"), params={"error": type(exc).__name__}
    )
    entry = _history_entry(build_id, started, package, steps, status="failed", problems=[problem])
    try:
        _append_history(wh, entry)
    except OSError:
        pass


def _private_dir(path: Path) -> None:
    """A folder only the service user can open (0700), made if missing."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    os.chmod(path, DIR_MODE)


def _private_files(folder: Path) -> None:
    """Every file in `folder` (and below) readable by the service user only (0600)."""
    for root, dirs, files in os.walk(folder):
        for d in dirs:
            os.chmod(os.path.join(root, d), DIR_MODE)
        for f in files:
            os.chmod(os.path.join(root, f), FILE_MODE)


def _tighten(wh: Path) -> None:
    """Builds published before the warehouse was kept private (0755/0644) become 0700/0600 too."""
    builds = wh / "builds"
    for p in builds.iterdir() if builds.is_dir() else []:
        if p.is_dir() and not p.is_symlink():
            try:
                os.chmod(p, DIR_MODE)
                _private_files(p)
            except PermissionError:
                pass  # not ours: left as it is
    history = wh / warehouse.HISTORY
    if history.exists():
        os.chmod(history, FILE_MODE)


def _append_history(wh: Path, entry: dict) -> None:
    warehouse.append_history(wh, entry)
    os.chmod(wh / warehouse.HISTORY, FILE_MODE)


def _load_history(wh: Path) -> list[dict]:
    """The load history, leaving out a torn line (a crash or a full disk while it was written)."""
    path = wh / warehouse.HISTORY
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line) if line.strip() else None
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def _remove_leftovers(wh: Path) -> list[str]:
    """Remove the build folders interrupted builds left behind. Called under the warehouse's
    lock, so no other build is writing one; the running build's folder does not exist yet."""
    builds = wh / "builds"
    removed = []
    if builds.is_dir():
        for p in builds.iterdir():
            if p.name.startswith(TMP_PREFIX) and p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p.name)
    for p in wh.glob(".current-*"):  # a pointer switch cut short
        if p.is_symlink():
            p.unlink(missing_ok=True)
    return removed


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
        # the record: English, and the Chinese beside it (load_history.first_errors_zh)
        "first_errors": [p.line_text("en") for p in errors[:20]],
        "first_errors_zh": [p.line_text("zh") for p in errors[:20]],
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
    provenance: dict | None = None,
    carried: list[Problem] | None = None,
) -> BuildResult:
    problems: list[Problem] = [p for p in carried or [] if p.severity == "warning"]
    hidden = hidden_columns(cfg)
    conflicts = blinding.free_text_conflicts(cfg, spec, hidden)
    # and the arms' own names, in both languages, must be caught (dashboard/access/freetext.py)
    conflicts += freetext.uncaught_arm_names(cfg)
    if conflicts:
        raise ConfigError("; ".join(conflicts))
    quoting = Quoting(cfg, spec)
    _private_dir(wh / "builds")
    work.mkdir(mode=DIR_MODE)
    os.chmod(work, DIR_MODE)
    con = duckdb.connect()
    with steps.step(N_("opening the package")):
        source_fingerprint = fingerprint(package)
        pkg = open_package(package, work / "staging", encoding, spec=spec, quoting=quoting)
        problems += pkg.problems
    if any(p.severity == "error" for p in problems):
        raise PackageRefused(problems)

    with steps.step(N_("reading the forms")):
        loaded = staging.load_raw(con, pkg, spec, problems, quoting)
    with steps.step(N_("checking cells, codes and keys")):
        staging.type_forms(con, loaded, spec)
        staging.check_cells(con, loaded, spec, problems, quoting)
    with steps.step(N_("checking the forms against each other")):
        cross_form_checks(con, loaded, spec, problems, cfg, quoting)
    if any(p.severity == "error" for p in problems):
        raise PackageRefused(problems)

    with steps.step(N_("cutting at the cut-off")):
        info = derive.build_info(con, build_id, started, package, cfg)
        clean.create_clean(con, loaded, spec)
        clean.create_subject_dates(con, loaded, spec)
    with steps.step(N_("deriving subjects, eligibility, survival, windows, safety")):
        derive.derive(con, cfg)
    with steps.step(N_("recording findings")):
        free_text = findings.free_text(loaded, spec)
        found = findings.record_findings(con, loaded, spec, cfg, free_text)
        rows = findings.form_counts(con, loaded)
        findings.problems_table(con, problems)
        derive.allocation(con, cfg)
    info = {**info, "fingerprint": source_fingerprint, "code_version": code_version()}
    entry = _history_entry(
        build_id, started, package, steps, status="published", problems=problems, info=info, rows=rows, findings=found
    )
    history = _load_history(wh) + [entry]
    findings.history_table(con, history)

    with steps.step(N_("writing the closed and the blinded warehouse")):
        tables = [f"crf_{f.lower()}" for f in loaded] + DERIVED + META
        publish.write_warehouses(con, work, tables, loaded=loaded, spec=spec, cfg=cfg, free_text=free_text)
        con.close()
    with steps.step(N_("publishing")):
        shutil.rmtree(work / "staging", ignore_errors=True)
        final = wh / "builds" / build_id
        entry["seconds"] = round(steps.elapsed, 3)
        entry["steps"] = steps.times
        entry["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        edc_mapping = Path(package) / "_conversion" / "mapping.toml"
        if provenance and edc_mapping.is_file():  # the mapping that read the EDC export, kept with the build
            shutil.copyfile(edc_mapping, work / "mapping.toml")
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
                    "audit_anchor": audit.anchor(),
                    "provenance": provenance or {"kind": "spec package", "package": str(package)},
                },
                ensure_ascii=False,
                indent=1,
                default=str,
            ),
            encoding="utf-8",
        )
        _private_files(work)
        os.replace(work, final)
        warehouse.switch_current(wh, final)
        # the retention policy (trial.toml [cuts]); what it removed is on the load history
        entry["pruned"] = publish.prune(wh, keep=final, cfg=cfg)
        _append_history(wh, entry)
    return BuildResult(
        build_id,
        final,
        round(steps.elapsed, 3),
        rows,
        [p for p in problems if p.severity == "warning"],
        found,
        steps.times,
    )


def code_version() -> str:
    """The code that built a cut: the package's version and, in a git checkout, its commit."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        v = version("neo-margin-monitor")
    except PackageNotFoundError:
        v = "unknown"
    head = Path(__file__).resolve().parents[2] / ".git"
    try:
        ref = (head / "HEAD").read_text().strip()
        if ref.startswith("ref: "):
            ref_file = head / ref[5:]
            ref = ref_file.read_text().strip() if ref_file.is_file() else _packed_ref(head, ref[5:])
        return f"{v}+git.{ref[:12]}" if ref else v
    except OSError:
        return v


def _packed_ref(git: Path, name: str) -> str:
    try:
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + name):
                return line.split()[0]
    except OSError:
        pass
    return ""


def _config_hash() -> str:
    path = Path(os.environ.get("NEO_MARGIN_CONFIG") or TRIAL_CONFIG)
    return hashlib.sha256(path.read_bytes()).hexdigest()
