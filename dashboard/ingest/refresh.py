"""The nightly refresh: fetch the next export (a drop folder or the REDCap pull), build it if it is
new, and say on the record what happened (`python -m dashboard refresh`, docs/deployment.md).

    refresh(cfg, warehouse_dir, *, progress) -> RefreshResult

`cfg` is the trial's configuration (its `[refresh]` section is read), a RefreshSettings, or the
`[refresh]` section as a dict (settings_from). Sources:

- "folder": the drop folder's newest package (a folder, a .zip or an .xlsx whose name matches
  `pattern`; hidden names and names of a file being copied, *.part, *.tmp, *.crdownload, are
  not packages) that has not changed for `settle_seconds` (a copy still under way is left for the
  next run). Its fingerprint (`fingerprint`: sha256 over the package's file names and bytes) is
  compared with the current cut's (manifest["fingerprint"]): the same package is "unchanged" and
  nothing is built. A new one is built (dashboard.ingest.build.build); once published, it and the
  older packages of the drop folder (superseded by it) are moved to `done_folder` when one is set.
  A refused package stays where it is: the next run refuses it again until a good one replaces it,
  so the refusal is never silently forgotten.
- "redcap": the API pull (dashboard/ingest/edc/pull.py) into `raw_dir` (default WAREHOUSE/pulls),
  compared with the current cut's source (the records and dictionary files' sha256 and the
  mapping's, which the conversion kept in manifest["provenance"]): the same export is "unchanged"
  and the pull just made is removed; else it is converted through `mapping` into
  WAREHOUSE/converted/ and built. The last `keep` pulls and converted packages are kept.

Statuses and exit codes (EXIT): ok 0 (a new cut is published), unchanged 0 (nothing new, nothing
built), failed 1 (the source could not be read, the configuration is wrong, the build broke for a
reason that is not the package's), refused 2 (the package, or the export's conversion, breaks the
export spec), busy 75 (EX_TEMPFAIL: another refresh or build holds the warehouse; nothing was done
and refresh.json is left as the running one will write it). Whatever happens, the current cut
keeps serving until a good build replaces it: the build only switches `current` at its very end.

Each run but a busy one writes WAREHOUSE/refresh.json (0600, written whole and renamed over the
old one): time, finished, seconds, status, source, package, fingerprint, build_id (the cut this run
published), serving_build_id and serving_cutoff (the cut serving when it ended), reasons (the first
errors, each {"message": English, "message_zh": Chinese} as the build's problems carry them),
superseded (packages moved aside with the built one), last_ok ({"time", "build_id"} of the last run
that published). The data-quality page reads it (dashboard.views.quality.last_refresh), withholding
a reason that may name the arm.

Two refreshes never overlap: WAREHOUSE/.refresh.lock is held (flock) for the whole run, beside the
build's own lock (publish.locked), which is checked before the build starts.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path

from dashboard.i18n import N_, _, using
from dashboard.ingest.problems import Msg, Problem, msg

RECORD = "refresh.json"
LOCK = ".refresh.lock"
DEFAULT_WAREHOUSE = "data/warehouse"
WAREHOUSE_ENV = "NEO_MARGIN_WAREHOUSE"
EXIT = {"ok": 0, "unchanged": 0, "failed": 1, "refused": 2, "busy": 75}
REASONS_KEPT = 20  # the first errors, as the load history keeps them
PACKAGE_SUFFIXES = (".zip", ".xlsx", ".xlsm")
IN_PROGRESS_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload", ".filepart")
_CHUNK = 1 << 20
_log = logging.getLogger(__name__)

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


# ------------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class RefreshSettings:
    """trial.toml [refresh] (dashboard.config.Refresh), with the two settings the config model may
    lack given defaults (settle_seconds, keep)."""

    source: str = "none"  # none | folder | redcap
    folder: str = ""  # the drop folder (source = "folder")
    done_folder: str = ""  # where a published package (and those it supersedes) is moved; empty: left
    pattern: str = "*"  # which entries of the drop folder are packages (a glob)
    redcap_url: str = ""
    token_file: str = ""  # empty: the token comes from NEO_MARGIN_REDCAP_TOKEN
    mapping: str = ""  # the EDC mapping file (docs/edc.md)
    raw_dir: str = ""  # where the pull writes the export it fetched; empty: WAREHOUSE/pulls
    warehouse: str = ""  # empty: NEO_MARGIN_WAREHOUSE or data/warehouse
    settle_seconds: float = 120.0  # a package changed more recently than this is still being copied
    keep: int = 3  # pulls and converted packages kept (the published cuts keep their own data)


SOURCES = ("none", "folder", "redcap")


class SettingsError(ValueError):
    """[refresh] holds a key or a value the refresh does not know."""


def settings_from(section) -> RefreshSettings:
    """RefreshSettings from trial.toml's [refresh]: a dict, or the config model (pydantic, read
    through model_dump()), or RefreshSettings itself."""
    if isinstance(section, RefreshSettings):
        return section
    if section is None:
        return RefreshSettings()
    if hasattr(section, "model_dump"):
        section = section.model_dump()
    if not isinstance(section, Mapping):
        raise SettingsError(_("[refresh]: not a table of settings"))
    known = {f.name: f for f in fields(RefreshSettings)}
    unknown = sorted(set(section) - set(known))
    if unknown:
        raise SettingsError(_("[refresh]: unknown settings {keys}").format(keys=", ".join(unknown)))
    values = {}
    for key, value in section.items():
        default = known[key].default
        if isinstance(default, str):
            if not isinstance(value, str):
                raise SettingsError(_("[refresh] {key}: a text is needed").format(key=key))
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise SettingsError(_("[refresh] {key}: a number of at least 0 is needed").format(key=key))
        values[key] = value
    s = RefreshSettings(**values)
    if s.source not in SOURCES:
        raise SettingsError(
            _("[refresh] source: {value} is none of {choices}").format(value=repr(s.source), choices=", ".join(SOURCES))
        )
    return s


def settings_of(cfg) -> RefreshSettings:
    """The refresh settings of `cfg`: a TrialConfig (its .refresh), a RefreshSettings, or a dict."""
    if isinstance(cfg, RefreshSettings):
        return cfg
    if hasattr(cfg, "refresh") and not isinstance(cfg, Mapping):
        return settings_from(cfg.refresh)
    return settings_from(cfg)


def warehouse_of(settings: RefreshSettings, given: str | os.PathLike | None = None) -> Path:
    """The warehouse the refresh builds into: --warehouse, else [refresh] warehouse, else
    NEO_MARGIN_WAREHOUSE, else data/warehouse (the app's default)."""
    return Path(given or settings.warehouse or os.environ.get(WAREHOUSE_ENV) or DEFAULT_WAREHOUSE)


# ------------------------------------------------------------------------------------- fingerprint


def fingerprint(path: str | os.PathLike) -> str:
    """The source fingerprint of an export package, as the build keeps it in manifest["fingerprint"]
    (dashboard.ingest.package.fingerprint, the one definition): sha256 over the package's files'
    relative names and bytes in sorted order (a folder: every file below it; a .zip or .xlsx: the
    file). A renamed, added, removed or changed file changes it; the files' times do not."""
    from dashboard.ingest.package import fingerprint as package_fingerprint

    return package_fingerprint(path)


# ------------------------------------------------------------------------------------- result


@dataclass
class RefreshResult:
    status: str  # ok | unchanged | failed | refused | busy
    package: str | None = None
    build_id: str | None = None
    serving_build_id: str | None = None
    fingerprint: str | None = None
    reasons: list[dict] = field(default_factory=list)  # [{"message", "message_zh"}]
    record: dict = field(default_factory=dict)  # what refresh.json holds now (empty when busy)

    @property
    def exit_code(self) -> int:
        return EXIT[self.status]

    def messages(self, lang: str | None = None) -> list[str]:
        """The reasons in `lang` (en, zh; default: the current language)."""
        from dashboard.i18n import language

        zh = (lang or language()) == "zh"
        return [(r.get("message_zh") if zh else None) or r.get("message") or "" for r in self.reasons]


class _Done(Exception):
    """The end of a run before (or instead of) a build: a status and its reasons."""

    def __init__(self, *, status: str, reasons=(), **info):
        super().__init__(status)
        self.status, self.reasons, self.info = status, list(reasons), info


def reason(item) -> dict:
    """A reason as refresh.json keeps it: {"message": English, "message_zh": Chinese}. A Problem
    is its whole line (severity, file, line, column, subject, message), as the load history keeps
    it; a Msg its message."""
    if isinstance(item, Problem):
        return {"message": item.line_text("en"), "message_zh": item.line_text("zh")}
    if isinstance(item, Msg):
        return {"message": item.render("en"), "message_zh": item.render("zh")}
    if isinstance(item, dict):
        return {"message": str(item.get("message", "")), "message_zh": item.get("message_zh")}
    return {"message": str(item), "message_zh": None}


def _error_text(exc: BaseException) -> str:
    """An exception's message, its first line, short: for a reason."""
    carried = getattr(exc, "msg", None)
    text = carried.render("en") if isinstance(carried, Msg) else str(exc)
    lines = [x.strip() for x in text.splitlines() if x.strip()]
    return (lines[0] if lines else type(exc).__name__)[:300]


# ------------------------------------------------------------------------------------- the run


def refresh(
    cfg=None,
    warehouse_dir: str | os.PathLike | None = None,
    *,
    progress: Progress = _quiet,
    config=None,
    clock: Callable[[], float] = time.time,
) -> RefreshResult:
    """One refresh of the warehouse (see the module's doc). `cfg`: the TrialConfig, RefreshSettings
    or [refresh] dict (None: trial.toml's); `config`: the TrialConfig the build uses (default: `cfg`
    when it is one, else trial.toml's); `clock`: seconds since the epoch (the settle time's now)."""
    from dashboard.config import TrialConfig, load_trial

    if cfg is None:
        cfg = load_trial()
    if config is None:
        config = cfg if isinstance(cfg, TrialConfig) else None
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    try:
        settings = settings_of(cfg)
    except SettingsError as exc:
        settings, early = (
            RefreshSettings(),
            _Done(status="failed", reasons=[msg(N_("the refresh settings are wrong: {error}"), error=exc)]),
        )
    else:
        early = None
    wh = warehouse_of(settings, warehouse_dir)
    try:
        wh.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(wh, 0o700)
    except OSError as exc:
        return RefreshResult(
            "failed",
            reasons=[reason(msg(N_("cannot use the warehouse folder {folder}: {error}"), folder=str(wh), error=exc))],
        )
    try:
        lock = _locked(wh)
        lock.__enter__()
    except BlockingIOError:
        progress(_("another refresh of {warehouse} is running; nothing was done").format(warehouse=wh))
        return RefreshResult(
            "busy", reasons=[reason(msg(N_("another refresh of {warehouse} is running"), warehouse=str(wh)))]
        )
    try:
        previous = _read_record(wh)
        try:
            if early is not None:
                raise early
            if settings.source == "folder":
                done = _from_folder(settings, wh, progress, config, clock)
            elif settings.source == "redcap":
                done = _from_redcap(settings, wh, progress, config)
            else:
                raise _Done(
                    status="failed",
                    reasons=[msg(N_('no refresh source is configured: set [refresh] source to "folder" or "redcap"'))],
                )
        except _Done as d:
            done = d
        except Exception as exc:  # noqa: BLE001 - every other failure is on the record, the cut keeps serving
            # the record every role reads names the error's kind only (its text may quote a value, as
            # the build's own failure entry never does); the traceback goes to the log (journalctl)
            _log.exception("refresh of %s failed", wh)
            done = _Done(status="failed", reasons=[msg(N_("the refresh failed: {error}"), error=type(exc).__name__)])
        if done.status == "busy":
            progress(_("the warehouse {warehouse} is busy: {reason}").format(warehouse=wh, reason=done.reasons[0]))
            return RefreshResult("busy", reasons=[reason(r) for r in done.reasons])
        record = _record(wh, settings, started, time.perf_counter() - t0, done, previous)
        try:
            _write_record(wh, record)
        except OSError as exc:  # a full disk: the exit code says the refresh is not on the record
            _log.error("%s could not be written: %s", wh / RECORD, exc)
            if record["status"] in ("ok", "unchanged"):
                record["status"] = "failed"
            record["reasons"].append(reason(msg(N_("{file} could not be written: {error}"), file=RECORD, error=exc)))
    finally:
        lock.__exit__(None, None, None)
    result = RefreshResult(
        record["status"],
        package=record["package"],
        build_id=record["build_id"],
        serving_build_id=record["serving_build_id"],
        fingerprint=record["fingerprint"],
        reasons=record["reasons"],
        record=record,
    )
    for line in result.messages():
        progress("  " + line)
    progress(summary_line(result))
    return result


def summary_line(result: RefreshResult) -> str:
    """One line saying how the refresh ended, in the current language (the CLI prints it)."""
    if result.status == "ok":
        return _("refresh: published build {build}; it is the cut serving now").format(build=result.build_id)
    if result.status == "busy":
        return _("refresh: another refresh or build is running; nothing was done")
    ended = {
        "unchanged": N_("refresh: nothing new"),
        "refused": N_("refresh: the package was refused"),
    }.get(result.status, N_("refresh: failed"))
    if result.serving_build_id:
        serving = _("the cut of build {build} keeps serving").format(build=result.serving_build_id)
    else:
        serving = _("no cut is serving yet")
    return _("{ended}; {serving}").format(ended=_(ended), serving=serving)


@contextmanager
def _locked(wh: Path):
    """The refresh's own lock (not the build's: the build takes that one itself)."""
    fd = os.open(wh / LOCK, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BaseException:
        os.close(fd)
        raise
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _build_free(wh: Path) -> None:
    """_Done(status="busy") when a build (the CLI's `build`, say) holds the warehouse now."""
    from dashboard.ingest import publish

    try:
        with publish.locked(wh):
            pass
    except publish.BuildRunning as exc:
        raise _Done(status="busy", reasons=[exc.msg]) from None


def _current(wh: Path) -> tuple[str | None, dict]:
    """The build id and manifest of the cut serving now (None, {} when there is none)."""
    from dashboard.store import warehouse

    try:
        build_dir = warehouse.current_build(wh)
        manifest = json.loads((build_dir / warehouse.MANIFEST).read_text(encoding="utf-8"))
    except (warehouse.NoWarehouse, OSError, ValueError):
        return None, {}
    return build_dir.name, manifest


def _current_fingerprint(wh: Path) -> str | None:
    """The source fingerprint of the cut serving now (its manifest's; None for a build made before
    manifests kept one, which the next package then replaces)."""
    return _current(wh)[1].get("fingerprint")


def _build(package: Path, wh: Path, progress: Progress, config, **kwargs) -> str:
    """Build `package`; its build id, or _Done(refused | failed)."""
    from dashboard.config import ConfigError
    from dashboard.ingest.build import build
    from dashboard.ingest.problems import PackageRefused

    _build_free(wh)
    progress(_("building {package}").format(package=package))
    annotate = kwargs.pop("annotate", None)
    try:
        result = build(package, wh, progress=progress, config=config, **kwargs)
    except PackageRefused as refused:
        problems = annotate(refused.problems) if annotate else refused.problems
        errors = [p for p in problems if p.severity == "error"]
        raise _Done(status="refused", reasons=errors[:REASONS_KEPT] or problems[:REASONS_KEPT]) from None
    except ConfigError as exc:
        raise _Done(
            status="failed", reasons=[msg(N_("the trial's configuration is wrong: {error}"), error=_error_text(exc))]
        ) from None
    return result.build_id


# ------------------------------------------------------------------------------------- drop folder


@dataclass(frozen=True)
class _Entry:
    path: Path
    changed: float  # the newest modification time of the entry (and, for a folder, of its files)

    @property
    def order(self):
        return (self.changed, self.path.name)


def _changed(path: Path) -> float:
    newest = path.stat().st_mtime
    if path.is_dir():
        for root, dirs, names in os.walk(path):
            for name in dirs + names:
                try:
                    newest = max(newest, os.stat(os.path.join(root, name)).st_mtime)
                except OSError:
                    pass
    return newest


def candidates(folder: Path, pattern: str = "*") -> tuple[list[_Entry], list[str]]:
    """The drop folder's packages, oldest first (by the time they last changed, then by name), and
    the names of the entries matching `pattern` that are not packages."""
    found, ignored = [], []
    for p in sorted(folder.glob(pattern or "*")):
        name = p.name
        if name.startswith(".") or name.lower().endswith(IN_PROGRESS_SUFFIXES):
            continue
        if p.is_dir() or (p.is_file() and p.suffix.lower() in PACKAGE_SUFFIXES):
            try:
                found.append(_Entry(p, _changed(p)))
            except OSError:
                continue  # gone while listed
        else:
            ignored.append(name)
    return sorted(found, key=lambda e: e.order), ignored


def _from_folder(settings: RefreshSettings, wh: Path, progress: Progress, config, clock) -> _Done:
    if not settings.folder:
        raise _Done(
            status="failed", reasons=[msg(N_('[refresh] folder is empty: name the drop folder (source = "folder")'))]
        )
    folder = Path(settings.folder)
    if not folder.is_dir():
        raise _Done(
            status="failed",
            reasons=[msg(N_("the drop folder {folder} does not exist or is not a folder"), folder=str(folder))],
        )
    found, _ignored = candidates(folder, settings.pattern)
    if not found:
        progress(_("no package in the drop folder {folder}").format(folder=folder))
        raise _Done(status="unchanged", reasons=[msg(N_("no package in the drop folder {folder}"), folder=str(folder))])
    newest = found[-1]
    age = clock() - newest.changed
    if age < settings.settle_seconds:
        raise _Done(
            status="unchanged",
            reasons=[
                msg(
                    N_(
                        "{package} changed {seconds:.0f} s ago and may still be being copied; the next refresh takes it"
                    ),
                    package=newest.path.name,
                    seconds=max(age, 0),
                )
            ],
            package=str(newest.path),
        )
    fp = fingerprint(newest.path)
    if fp == _current_fingerprint(wh):
        progress(
            _("{package} is the package the current cut was built from; nothing to build").format(
                package=newest.path.name
            )
        )
        raise _Done(
            status="unchanged",
            reasons=[msg(N_("{package} is the package the current cut was built from"), package=newest.path.name)],
            package=str(newest.path),
            fingerprint=fp,
        )
    try:
        build_id = _build(newest.path, wh, progress, config)
    except _Done as d:  # refused, failed or busy: the record names the package all the same
        d.info.update(package=str(newest.path), fingerprint=fp)
        raise
    done = _Done(status="ok", package=str(newest.path), fingerprint=fp, build_id=build_id)
    if settings.done_folder:
        moved, failures = _move_done([e.path for e in found], Path(settings.done_folder), build_id)
        done.info["superseded"] = [p.name for p in moved if p != newest.path]
        done.reasons += failures
    return done


def _move_done(paths: list[Path], done_folder: Path, build_id: str) -> tuple[list[Path], list[Msg]]:
    """Move the published package and those it superseded out of the drop folder; a name already
    there gets the build id after it. A move that fails is a reason, not a failure: the cut is
    published."""
    moved, failures = [], []
    try:
        done_folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        return [], [
            msg(N_("the published package could not be moved to {folder}: {error}"), folder=str(done_folder), error=exc)
        ]
    for p in paths:
        target = done_folder / p.name
        if target.exists() or target.is_symlink():
            target = (
                done_folder / f"{p.stem}-{build_id}{p.suffix}" if p.is_file() else done_folder / f"{p.name}-{build_id}"
            )
        try:
            shutil.move(str(p), str(target))
        except OSError as exc:
            failures.append(
                msg(
                    N_("{package} could not be moved to {folder}: {error}"),
                    package=p.name,
                    folder=str(done_folder),
                    error=exc,
                )
            )
        else:
            moved.append(p)
    return moved, failures


# ------------------------------------------------------------------------------------- REDCap


def _sha256(path: Path) -> str:
    """The sha256 of a file's bytes (as the conversion fingerprints a source file); "" if it is none."""
    if not path.is_file():
        return ""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def same_redcap_source(pulled: Path, mapping: Path, manifest: dict) -> bool:
    """Whether the pull in `pulled`, read through `mapping`, holds what the cut of `manifest` was
    built from: every source file the conversion fingerprinted (records, dictionary; not
    export.json, which says when the pull was made) and the mapping, byte for byte."""
    prov = manifest.get("provenance") or {}
    if prov.get("kind") != "redcap":
        return False
    files = {k: v for k, v in (prov.get("files") or {}).items() if k != "export.json"}
    if not files or not (prov.get("mapping") or {}).get("sha256"):
        return False
    for name, kept in files.items():
        sha = kept.get("sha256") if isinstance(kept, dict) else kept
        if not sha or _sha256(pulled / name) != sha:
            return False
    return _sha256(mapping) == prov["mapping"]["sha256"]


def _from_redcap(settings: RefreshSettings, wh: Path, progress: Progress, config) -> _Done:
    from dashboard.ingest.edc.convert import annotate, convert
    from dashboard.ingest.edc.mapping import MappingError
    from dashboard.ingest.edc.pull import PullFailed, pull_redcap
    from dashboard.ingest.problems import PackageRefused

    if not settings.redcap_url:
        raise _Done(
            status="failed",
            reasons=[msg(N_('[refresh] redcap_url is empty: give the REDCap API URL (source = "redcap")'))],
        )
    mapping = Path(settings.mapping) if settings.mapping else None
    if mapping is None or not mapping.is_file():
        raise _Done(
            status="failed",
            reasons=[
                msg(N_("the EDC mapping file {file} does not exist ([refresh] mapping)"), file=settings.mapping or "''")
            ],
        )
    raw = Path(settings.raw_dir) if settings.raw_dir else wh / "pulls"
    progress(_("pulling the REDCap export into {folder}").format(folder=raw))
    try:
        with using("en"):  # the record keeps the pull's words in English, inside a message in both languages
            pulled = pull_redcap(settings.redcap_url, Path(settings.token_file) if settings.token_file else None, raw)
    except PullFailed as exc:
        raise _Done(
            status="failed", reasons=[msg(N_("the REDCap pull failed: {error}"), error=_error_text(exc))]
        ) from None
    try:
        os.chmod(raw, 0o700)
    except OSError:
        pass  # a folder the deployment made and owns: left as it is
    _build_id, manifest = _current(wh)
    if same_redcap_source(pulled, mapping, manifest):
        shutil.rmtree(pulled, ignore_errors=True)
        progress(_("the REDCap export holds nothing new; nothing to build"))
        raise _Done(
            status="unchanged",
            reasons=[
                msg(N_("the REDCap export holds the same records, data dictionary and mapping as the current cut"))
            ],
            package=str(pulled),
        )
    converted = wh / "converted"
    converted.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(converted, 0o700)
    package = converted / f"{pulled.name}-redcap"
    try:
        conv = convert(pulled, mapping, package, kind="redcap")
    except MappingError as exc:
        raise _Done(status="failed", reasons=[exc.msg]) from None
    except PackageRefused as refused:
        errors = [p for p in refused.problems if p.severity == "error"]
        raise _Done(status="refused", reasons=errors[:REASONS_KEPT], package=str(pulled)) from None
    finally:
        _prune(raw, settings.keep)
    try:
        build_id = _build(
            package,
            wh,
            progress,
            config,
            provenance={**conv.provenance, "package": str(package)},
            carried=conv.warnings,
            annotate=lambda problems: annotate(problems, package),
        )
    except _Done as d:
        d.info.setdefault("package", str(package))
        raise
    finally:
        _prune(converted, settings.keep)
    return _Done(status="ok", package=str(package), fingerprint=fingerprint(package), build_id=build_id)


def _prune(folder: Path, keep: int) -> None:
    """Keep the newest `keep` folders (by name: the pulls' and conversions' names are UTC times)."""
    if not folder.is_dir():
        return
    kept = sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)
    for old in kept[: -max(int(keep), 1)]:
        shutil.rmtree(old, ignore_errors=True)


# ------------------------------------------------------------------------------------- the record


def _read_record(wh: Path) -> dict:
    try:
        value = json.loads((wh / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _record(
    wh: Path, settings: RefreshSettings, started: dt.datetime, seconds: float, done: _Done, previous: dict
) -> dict:
    serving, manifest = _current(wh)
    now = dt.datetime.now(dt.UTC)
    record = {
        "time": started.isoformat(timespec="seconds"),
        "finished": now.isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "status": done.status,
        "source": settings.source,
        "package": done.info.get("package"),
        "fingerprint": done.info.get("fingerprint"),
        "build_id": done.info.get("build_id"),
        "serving_build_id": serving,
        "serving_cutoff": manifest.get("cutoff"),
        "reasons": [reason(r) for r in done.reasons],
        "superseded": done.info.get("superseded", []),
    }
    if done.status == "ok":
        record["last_ok"] = {"time": record["time"], "build_id": record["build_id"]}
    else:
        record["last_ok"] = previous.get("last_ok")
    return record


def _write_record(wh: Path, record: dict) -> None:
    """refresh.json, 0600, written whole and renamed over the old one."""
    tmp = wh / f".{RECORD}.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", closefd=False) as fh:
            json.dump(record, fh, ensure_ascii=False, indent=1, default=str)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
    finally:
        os.close(fd)
    os.replace(tmp, wh / RECORD)


def record_of(warehouse_dir: str | os.PathLike) -> dict | None:
    """What the last refresh wrote (refresh.json), or None when no refresh has run here."""
    path = Path(warehouse_dir) / RECORD
    if not path.exists():
        return None
    return _read_record(Path(warehouse_dir))


__all__ = [
    "EXIT",
    "RECORD",
    "RefreshResult",
    "RefreshSettings",
    "SettingsError",
    "candidates",
    "fingerprint",
    "reason",
    "record_of",
    "refresh",
    "same_redcap_source",
    "settings_from",
    "settings_of",
    "summary_line",
    "warehouse_of",
]
