"""The warehouse build: an export package in, a blinded and a closed DuckDB warehouse out.

Layers, each in DuckDB: raw_<form> (DuckDB's CSV reader) -> typed_<form> (spec types, cell
checks) -> crf_<form> (cut at the cut-off) -> derived tables (queries/derived, eligibility,
findings). A package with errors is refused before anything is written; a good one is written
to a new build folder and published by switching the `current` pointer, so the last good
warehouse serves until the very end.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import resource
import secrets
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import duckdb
import pandas as pd

from dashboard.access import blinding
from dashboard.ingest import clean
from dashboard.ingest import staging
from dashboard.store import warehouse
from dashboard.config import TRIAL_CONFIG, ConfigError, CrfSpec, TrialConfig, load_crf_spec, load_trial
from dashboard.ingest.package import open_package
from dashboard.ingest.problems import PackageRefused, Problem
from dashboard.store.sql import names, query

DEMO_SOURCE_PREFIX = "NEO-MARGIN SYNTHETIC DEMO"
KEEP_BUILDS = 3

# Derived tables from queries/derived/<name>.sql, with the derived tables each one reads; built
# two at a time, each once what it reads is built (the list is in an order that respects that).
DEPENDS = {"subjects": [], "last_known_alive": [], "surgeries": [], "entry_lag": [],
           "eligibility": ["subjects"], "survival": ["subjects", "last_known_alive"], "windows": ["subjects"],
           "followup_visits": ["subjects"], "adverse_events": ["subjects"],
           "followup_status": ["subjects", "survival"]}
DERIVED = list(DEPENDS)
WRITERS = 2
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


@contextmanager
def _locked(folder: Path):
    """One build at a time per warehouse folder."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".build.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise RuntimeError(f"{folder}: another build is running") from exc
        yield


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


def _hidden_columns(cfg: TrialConfig) -> set[str]:
    """Columns that never reach a blinded table: the arm, what reveals it, what is withheld."""
    b = cfg.blinding
    return {c.upper() for c in [b.arm_field, *b.arm_revealing_fields, *b.withheld_fields]}


def build(package: str | Path, warehouse_dir: str | Path, *, encoding: str | None = None,
          progress: Progress = _quiet, config: TrialConfig | None = None) -> BuildResult:
    """Validate `package` and, if it is sound, publish it as the warehouse's current build.

    Raises PackageRefused (with every problem found) when the package breaks the export spec;
    the current build, if any, is left untouched and the attempt is added to the load history.
    """
    cfg = config or load_trial()
    spec = load_crf_spec()
    wh = Path(warehouse_dir)
    started = dt.datetime.now(dt.timezone.utc)
    build_id = started.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
    steps = _Steps(progress, 9)
    with _locked(wh):
        work = wh / "builds" / f".tmp-{build_id}"
        try:
            result = _build(package, wh, work, build_id, started, cfg, spec, encoding, steps)
        except PackageRefused as refused:
            shutil.rmtree(work, ignore_errors=True)
            entry = _history_entry(build_id, started, package, steps, status="refused",
                                   problems=refused.problems)
            warehouse.append_history(wh, entry)
            refused.history_entry = entry
            raise
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
    return result


def _history_entry(build_id, started, package, steps: _Steps, *, status: str,
                   problems: list[Problem], info: dict | None = None,
                   rows: dict | None = None, findings: dict | None = None) -> dict:
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity == "warning"]
    entry = {
        "build_id": build_id, "started": started.isoformat(timespec="seconds"),
        "package": str(package), "status": status,
        "seconds": round(steps.elapsed, 3), "steps": steps.times,
        "errors": len(errors), "warnings": len(warnings),
        "first_errors": [str(p) for p in errors[:20]],
        "rows": rows or {}, "findings": findings or {},
    }
    entry.update(info or {})
    return entry


def _build(package, wh: Path, work: Path, build_id: str, started: dt.datetime,
           cfg: TrialConfig, spec: CrfSpec, encoding, steps: _Steps) -> BuildResult:
    problems: list[Problem] = []
    hidden = _hidden_columns(cfg)
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
        _cross_form_checks(con, loaded, spec, problems, cfg)
    if any(p.severity == "error" for p in problems):
        raise PackageRefused(problems)

    with steps.step("cutting at the cut-off"):
        info = _build_info(con, build_id, started, package, cfg, problems)
        clean.create_clean(con, loaded, spec)
        clean.create_subject_dates(con, loaded, spec)
    with steps.step("deriving subjects, eligibility, survival, windows, safety"):
        _derive(con, cfg)
    with steps.step("recording findings"):
        free_text = _free_text(loaded, spec)
        findings = _findings(con, loaded, spec, cfg, free_text)
        rows = _form_counts(con, loaded)
        _problems_table(con, problems)
        _allocation(con, cfg)
    entry = _history_entry(build_id, started, package, steps, status="published",
                           problems=problems, info=info, rows=rows, findings=findings)
    history = warehouse.load_history(wh) + [entry]
    _history_table(con, history)

    with steps.step("writing the closed and the blinded warehouse"):
        tables = [f"crf_{f.lower()}" for f in loaded] + DERIVED + META
        # The blinded file is written once; the closed file starts as a byte copy of it and only
        # the tables that lost a column to the blinding are written again, whole. Writing two
        # files of 2.6 M rows each took 2.4 s at 35,600 subjects; this takes about 1.8 s.
        # Every table the blinding changed is rewritten: those that lost a column, and those in
        # which a free-text cell was withheld. A new kind of blinding change must be added here.
        pattern = blinding.free_text_pattern(cfg)
        _write(con.cursor(), work / warehouse.BLINDED, tables, hidden, "blinded_out", redact=(free_text, pattern))
        # the withheld cells are findings already: their columns name the tables that changed
        hit = {r[0].upper() for r in con.execute(
            "select distinct column_name from findings where kind = 'free text that may name the arm'").fetchall()}
        changed = _with_columns(con, tables, hidden | hit)
        shutil.copyfile(work / warehouse.BLINDED, work / warehouse.CLOSED)
        with ThreadPoolExecutor(max_workers=2) as pool:     # the guard scans while the closed file is written
            guard = pool.submit(check_blinded, work / warehouse.BLINDED, cfg, free_text)
            closed = pool.submit(_write, con.cursor(), work / warehouse.CLOSED, changed,
                                 set(), "closed_out", replace=True)
            guard.result()                                  # a breach is the error to report first
            closed.result()
        con.close()
    with steps.step("publishing"):
        shutil.rmtree(work / "staging", ignore_errors=True)
        final = wh / "builds" / build_id
        entry["seconds"] = round(steps.elapsed, 3)
        entry["steps"] = steps.times
        entry["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        (work / warehouse.MANIFEST).write_text(
            json.dumps({**entry, "warnings_list": [p.as_dict() for p in problems if p.severity == "warning"],
                        "encodings": {f: pkg.files[f].encoding for f in pkg.files},
                        "wrapper": pkg.wrapper, "ignored_files": pkg.ignored,
                        "duckdb": duckdb.__version__, "config_sha256": _config_hash()},
                       ensure_ascii=False, indent=1, default=str), encoding="utf-8")
        os.replace(work, final)
        warehouse.switch_current(wh, final)
        warehouse.append_history(wh, entry)
        _prune(wh, keep=final)
    return BuildResult(build_id, final, round(steps.elapsed, 3), rows,
                       [p for p in problems if p.severity == "warning"], findings, steps.times)


def _config_hash() -> str:
    path = Path(os.environ.get("NEO_MARGIN_CONFIG") or TRIAL_CONFIG)
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- validation across forms
def _cross_form_checks(con, loaded, spec: CrfSpec, problems: list[Problem], cfg: TrialConfig) -> None:
    needed = {"DM", "SITES", "SCREENING", "EXPORT"}
    if not needed <= loaded.keys():
        return          # the missing file is already an error; cross checks need these forms
    con.execute("create or replace table spec_forms as select * from (values "
                + ", ".join(f"('{n}', {str(f.rows_for_every_subject).lower()})"
                            for n, f in spec.forms.items())
                + ") as t(form, rows_for_every_subject)")
    clean.create_subject_rows(con, loaded, spec)
    for name in names("validate"):
        for form, row, col, val, message in con.execute(query(name)).fetchall():
            lf = loaded.get(form)
            file = lf.file.original if lf else f"{form}.csv"
            line = lf.line_of(row) if (lf and row is not None) else None
            problems.append(Problem("error", file, line, col, message))
    export = con.execute("select cutoffdat, exportdtc, specver, source from typed_export").fetchall()
    if len(export) != 1:
        return          # already an error: EXPORT.csv holds exactly one row
    if export[0][0] and export[0][1]:
        cutoff, exported, _, source = export[0]
        if exported.date() < cutoff:
            problems.append(Problem("error", loaded["EXPORT"].file.original, 2, "CUTOFFDAT",
                                    f"cut-off {cutoff} is after the export time {exported}"))
        # the synthetic demo trial is simulated to a cut-off in the future on purpose
        if cutoff > dt.date.today() and not (source or "").startswith(DEMO_SOURCE_PREFIX):
            problems.append(Problem("warning", loaded["EXPORT"].file.original, 2, "CUTOFFDAT",
                                    f"cut-off {cutoff} is in the future"))
    spec_version = con.execute("select specver from typed_export").fetchall()[0]
    if spec_version and spec_version[0] and spec_version[0] != cfg.trial.spec_version:
        problems.append(Problem("error", loaded["EXPORT"].file.original, 2, "SPECVER",
                                f"spec version {spec_version[0]}; this build reads {cfg.trial.spec_version}"))


# ---------------------------------------------------------------- clean and derived
def _build_info(con, build_id, started, package, cfg: TrialConfig, problems) -> dict:
    con.execute(
        "create or replace table build_info as select $build_id as build_id, "
        "$built_at::timestamp as built_at, cutoffdat as cutoff_date, exportdtc as exported, "
        "source, specver as spec_version, $package as package, "
        "starts_with(source, $demo) as is_demo, $trial as trial, $registry as registry_id "
        "from typed_export",
        {"build_id": build_id, "built_at": started.replace(tzinfo=None), "package": Path(package).name,
         "demo": DEMO_SOURCE_PREFIX, "trial": cfg.trial.name, "registry": cfg.trial.registry_id})
    cutoff, exported, source, is_demo = con.execute(
        "select cutoff_date, exported, source, is_demo from build_info").fetchall()[0]
    return {"cutoff": cutoff.isoformat(), "exported": exported.isoformat(sep=" "),
            "source": source, "is_demo": bool(is_demo)}


def _derive(con, cfg: TrialConfig) -> None:
    s = cfg.schedule
    params = {
        "subjects": {"never_operated_after_days": s.never_operated_after_days},
        "windows": {"adjuvant_rt_types": s.adjuvant_rt_types,
                    "response_imaging_max_days": s.response_imaging_max_days_after_last_cycle,
                    "randomization_to_surgery_max_days": s.randomization_to_surgery_max_days,
                    "surgery_to_adjuvant_rt_max_days": s.surgery_to_adjuvant_rt_max_days},
        "followup_visits": {"followup_months": s.followup_months,
                            "days_per_month": cfg.trial.days_per_month,
                            "window_switch_month": s.followup_window_switch_month,
                            "window_days": s.followup_window_days,
                            "window_days_late": s.followup_window_days_late},
        "adverse_events": {"clavien_order": cfg.safety.clavien_order,
                           "clavien_serious": cfg.safety.clavien_serious},
    }
    criteria = pd.DataFrame([{"code": c.code, "kind": c.kind, "text": c.text,
                              "checked_by": "data" if c.check else "investigator"}
                             for c in cfg.eligibility])
    con.register("criteria_df", criteria)
    con.execute("create or replace table criteria as select * from criteria_df")
    con.unregister("criteria_df")

    def make(name: str, after: list) -> None:
        for f in after:
            f.result()
        cur = con.cursor()
        try:
            if name == "eligibility":
                _eligibility_data(cur, cfg)
            cur.execute(f"create or replace table {name} as " + query(f"derived/{name}"),
                        params.get(name) or None)
        finally:
            cur.close()
    # a job waits only for jobs submitted before it, which have started already: no deadlock
    with ThreadPoolExecutor(max_workers=2) as pool:
        jobs: dict = {}
        for name in DERIVED:
            jobs[name] = pool.submit(make, name, [jobs[d] for d in DEPENDS[name]])
        for job in jobs.values():
            job.result()


def _eligibility_data(con, cfg: TrialConfig) -> None:
    """One row per subject and checked criterion the data say is violated or unknown, all the
    checks in one statement."""
    checks = [c for c in cfg.eligibility if c.check]
    parts, params = [], {}
    for i, c in enumerate(checks):
        sql = query("eligibility/" + c.check)
        # each check's own parameters, renamed so the checks can share one statement (DuckDB's
        # parameter names are case-insensitive, so the renaming is too)
        for key, value in c.params.items():
            sql = re.sub(rf"\${re.escape(key)}\b", f"$p{i}_{key}", sql, flags=re.IGNORECASE)
            params[f"p{i}_{key}"] = value
        params[f"code{i}"] = c.code
        parts.append(f"select $code{i} as code, subjid, violated, detail from ({sql}\n)")
    con.execute("create or replace table eligibility_data "
                "(code varchar, subjid varchar, violated boolean, detail varchar)")
    if not parts:
        return
    try:
        con.execute("insert into eligibility_data " + " union all ".join(parts), params)
    except duckdb.Error:
        for i, c in enumerate(checks):          # name the check that fails, one at a time
            try:
                con.execute(parts[i].replace(f"$code{i}", "$code"),
                            {"code": c.code, **{k: v for k, v in params.items() if k.startswith(f"p{i}_")}})
            except duckdb.Error as exc:
                raise duckdb.Error(f"eligibility check {c.code} (queries/eligibility/{c.check}.sql): {exc}") from exc
        raise


def _free_text(loaded, spec: CrfSpec) -> set[str]:
    """The free-text columns (lower case): the spec's, and every column not in the spec."""
    return blinding.free_text_columns(spec) | {c.lower() for lf in loaded.values() for c in lf.extra_columns}


def _free_text_findings(loaded, spec: CrfSpec, cfg: TrialConfig, free_text: set[str]) -> str:
    """A finding per free-text cell that may name the arm, without its text (blinded roles read
    the findings): the cell itself is withheld from the blinded warehouse."""
    pattern = blinding.free_text_pattern(cfg)
    if not pattern:
        return ""
    parts = []
    for name, lf in loaded.items():
        form = spec.forms[name]
        subjid = "subjid" if "SUBJID" in form.column_names else "null"
        columns = [c.name for c in form.columns if c.name.lower() in free_text] + lf.extra_columns
        for col in columns:
            parts.append(
                f"select 'free text that may name the arm' as kind, {staging.lit(name)} as form, _row, "
                f"{subjid} as subjid, {staging.lit(col)} as col, null::varchar as val, "
                f"'withheld from blinded views; read it in the closed session' as message "
                f"from crf_{name.lower()} where regexp_matches({staging.ident(col.lower())}, {staging.lit(pattern)})")
    return " union all ".join(parts)


def _findings(con, loaded, spec: CrfSpec, cfg: TrialConfig, free_text: set[str]) -> dict[str, int]:
    parts = [clean.generic_findings_sql()]
    for extra in (clean.imputed_findings(con, spec, loaded), _free_text_findings(loaded, spec, cfg, free_text)):
        if extra:
            parts.append(extra)
    parts += [query(n) for n in names("findings")]
    df = con.execute(" union all ".join(f"select * from ({p})" for p in parts)).df()
    df["file"] = [loaded[f].file.original if f in loaded else f"{f}.csv" for f in df["form"]]
    df["line"] = [loaded[f].line_of(int(r)) if f in loaded and pd.notna(r) else None
                  for f, r in zip(df["form"], df["_row"])]
    df = df.drop(columns=["_row"]).sort_values(["kind", "form", "line"], kind="stable")
    con.register("findings_df", df)
    con.execute("create or replace table findings as select kind, form, file, line::bigint as line, "
                "subjid, col as column_name, val as value, message from findings_df")
    con.unregister("findings_df")
    return dict(con.execute("select kind, count(*) from findings group by kind order by kind").fetchall())


def _form_counts(con, loaded) -> dict[str, int]:
    rows = []
    for form, lf in loaded.items():
        kept = con.execute(f"select count(*) from crf_{form.lower()}").fetchall()[0][0]
        rows.append({"form": form, "file": lf.file.original, "encoding": lf.file.encoding,
                     "rows_read": lf.rows, "rows_rejected": lf.rejected,
                     "rows_after_cutoff": lf.rows - kept, "rows_kept": kept,
                     "extra_columns": ", ".join(lf.extra_columns)})
    df = pd.DataFrame(rows)
    con.register("form_counts_df", df)
    con.execute("create or replace table form_counts as select * from form_counts_df")
    con.unregister("form_counts_df")
    return {r["form"]: r["rows_read"] for r in rows}


def _problems_table(con, problems: list[Problem]) -> None:
    df = pd.DataFrame([p.as_dict() for p in problems],
                      columns=["severity", "file", "line", "column", "message"])
    df["line"] = df["line"].astype("Int64")
    con.register("problems_df", df)
    con.execute("create or replace table problems as select severity, file, line, \"column\" as column_name, "
                "message from problems_df")
    con.unregister("problems_df")


def _allocation(con, cfg: TrialConfig) -> None:
    """Allocation counts by arm, overall and by site, stratum and month: shown to every role.

    Stored wide, one count column per arm (n_<arm key>), so no table of the blinded warehouse
    holds an arm as a value; the counts are not outcomes (monitoring plan section 1).
    """
    long = con.execute(query("derived/allocation")).df()
    keys = {a.code: a.key for a in cfg.arms}
    long["arm_key"] = "n_" + long["arm"].map(keys)
    wide = (long.pivot_table(index=["grouping", "group_value"], columns="arm_key", values="n",
                             aggfunc="sum", fill_value=0)
            .reindex(columns=[f"n_{a.key}" for a in cfg.arms], fill_value=0)
            .reset_index())
    wide.columns.name = None
    wide["n_total"] = wide[[f"n_{a.key}" for a in cfg.arms]].sum(axis=1)
    con.register("allocation_df", wide)
    con.execute("create or replace table allocation as select * from allocation_df")
    con.unregister("allocation_df")


def _history_table(con, history: list[dict]) -> None:
    rows = [{"build_id": h.get("build_id"), "started": h.get("started"), "status": h.get("status"),
             "package": h.get("package"), "cutoff": h.get("cutoff"), "exported": h.get("exported"),
             "source": h.get("source"), "seconds": h.get("seconds"), "errors": h.get("errors"),
             "warnings": h.get("warnings"), "findings": sum((h.get("findings") or {}).values()),
             "rows": json.dumps(h.get("rows") or {}), "first_errors": "\n".join(h.get("first_errors") or [])}
            for h in history]
    df = pd.DataFrame(rows)
    con.register("history_df", df)
    con.execute("create or replace table load_history as select * from history_df")
    con.unregister("history_df")


# ---------------------------------------------------------------- writing and the blinding guard
def _columns(con, table: str, with_types: bool = False) -> list:
    rows = con.execute(f"select column_name, column_type from (describe {table})").fetchall()
    return rows if with_types else [r[0] for r in rows]


def _with_columns(con, tables: list[str], names: set[str]) -> list[str]:
    """The tables that have a column named in `names`."""
    return [t for t in tables if any(c.upper() in names for c in _columns(con, t))]


def _write(con, path: Path, tables: list[str], exclude: set[str], alias: str, replace: bool = False,
           redact: tuple[set[str], str | None] | None = None) -> None:
    """Copy `tables` into a database file (new, or replacing those tables in it), leaving out the
    columns named in `exclude`; with `redact` (column names, pattern), a text cell of those
    columns that matches the pattern is written as blinding.FREE_TEXT_MARK."""
    names, pattern = redact if redact and redact[1] else (set(), None)

    def expr(column: str, ctype: str) -> str:
        c = staging.ident(column)
        if pattern and ctype == "VARCHAR" and column.lower() in names:
            return (f"case when regexp_matches({c}, {staging.lit(pattern)}) "
                    f"then {staging.lit(blinding.FREE_TEXT_MARK)} else {c} end as {c}")
        return c
    con.execute(f"attach '{path}' as {alias}")

    def copy(some: list[str]) -> None:
        cur = con.cursor()
        try:
            for t in some:
                keep = [(c, ct) for c, ct in _columns(cur, t, with_types=True)
                        if c.upper() not in exclude and not c.startswith("_")]
                select = ", ".join(expr(c, ct) for c, ct in keep)
                verb = "create or replace table" if replace else "create table"
                cur.execute(f"{verb} {alias}.{t} as select {select} from memory.main.{t}")
        finally:
            cur.close()
    try:
        # two writers, each taking every other table: most tables are below the row-group size
        # DuckDB splits one statement's work by, so one writer left a core idle
        with ThreadPoolExecutor(max_workers=WRITERS) as pool:
            for job in [pool.submit(copy, tables[i::WRITERS]) for i in range(WRITERS)]:
                job.result()
    finally:
        con.execute(f"detach {alias}")
        con.close()


class BlindingBreach(RuntimeError):
    """The blinded warehouse would hold an arm or an arm-revealing value: never published."""


def check_blinded(path: Path, cfg: TrialConfig, free_text: set[str] | None = None) -> None:
    """Scan every text column of every table of a blinded warehouse for an arm value, and every
    free-text column (`free_text`, lower-case names; the spec's by default) for a term that may
    name the arm.

    This is the last line of defence: whatever a derivation does, a blinded file that names an
    arm (or a protocol surgery, which reveals it) is refused before it can be published.
    """
    forbidden = [v.upper() for v in list(cfg.arm_codes) + list(cfg.blinding.protocol_surgery_values)]
    hidden = _hidden_columns(cfg)
    free_text = blinding.free_text_columns(load_crf_spec()) if free_text is None else free_text
    pattern = blinding.free_text_pattern(cfg)
    con = duckdb.connect(str(path), read_only=True)
    try:
        cols = con.execute("select table_name, column_name, data_type from information_schema.columns "
                           "order by table_name").fetchall()
        by_table: dict[str, list[str]] = {}
        for table, column, dtype in cols:
            if column.upper() in hidden:
                raise BlindingBreach(f"blinded table {table} has column {column}")
            if dtype == "VARCHAR":
                by_table.setdefault(table, []).append(column)
        for table, columns in by_table.items():
            # one scan per table: any text cell that, trimmed and upper-cased, is an arm value;
            # any free-text cell that holds a term that may name the arm
            arm = " or ".join(f"upper(trim({staging.ident(c)})) in (select unnest($v))" for c in columns)
            words = [c for c in columns if pattern and c.lower() in free_text]
            text = " or ".join(f"regexp_matches({staging.ident(c)}, {staging.lit(pattern)})" for c in words) \
                or "false"
            arm_hit, text_hit = con.execute(f"select coalesce(bool_or({arm}), false), coalesce(bool_or({text}), false) "
                                            f"from {staging.ident(table)}", {"v": forbidden}).fetchall()[0]
            if arm_hit:
                raise BlindingBreach(f"blinded table {table} holds an arm value in a text column")
            if text_hit:
                raise BlindingBreach(f"blinded table {table} holds free text that may name the arm")
    finally:
        con.close()


def _prune(wh: Path, keep: Path) -> None:
    """Keep the newest builds; an open reader of an older file keeps its file until it closes."""
    builds = sorted((p for p in (wh / "builds").iterdir() if p.is_dir() and not p.name.startswith(".")),
                    key=lambda p: p.name)
    for old in builds[:-KEEP_BUILDS]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)
