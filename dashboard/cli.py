"""Command line: `neo-margin` or `python -m dashboard`: demo-data, build, convert, edc-design, pull, summary,
report, users, audit, looks, bench.

The closed commands (summary and report for the dsmb role) sign a DSMB account in first (asked
at the terminal, or --user NAME --password-stdin) and put the command on the audit record before
anything closed is printed or written; a refusal is recorded too and exits with 2."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time

from dashboard.config import ConfigError
from dashboard.i18n import N_, _

DESCRIPTION = N_(
    "Command line: `neo-margin` or `python -m dashboard`: demo-data, build, convert, edc-design, pull, refresh, "
    "summary, changes, cuts, report, users, audit, looks, bench. The closed commands (summary, changes and report "
    "for the dsmb role) sign a DSMB "
    "account in first (asked at the terminal, or --user NAME --password-stdin) and put the command on the audit "
    "record before anything closed is printed or written; a refusal is recorded too and exits with 2."
)
"""What `--help` says (in the command's language); the demo generator's and the bench's own output
stays English (developer tools, dashboard/devtools)."""


def _say(message: str) -> None:
    """A message for the person at the terminal (standard error)."""
    print(message, file=sys.stderr)


def _dev(text: str, **kwargs) -> None:
    """Output of the developers' commands (demo-data, bench): English, like dashboard/devtools."""
    print(text, **kwargs)


def _demo_data(args) -> int:
    from dashboard.devtools.demo import write_demo_package

    t0 = time.perf_counter()
    if args.cuts:
        from dashboard.devtools.demo.cuts import write_demo_cuts

        dates = sorted(dt.date.fromisoformat(d.strip()) for d in args.cuts.split(",") if d.strip())
        write_demo_cuts(args.out, dates, subjects=args.subjects, sites=args.sites, seed=args.seed)
        _dev(
            f"wrote {len(dates)} cuts of one demo trial into {args.out}/<cut-off>/ "
            f"({', '.join(d.isoformat() for d in dates)}; {time.perf_counter() - t0:.1f} s)",
            file=sys.stderr,
        )
        return 0
    planted = write_demo_package(
        args.out, subjects=args.subjects, sites=args.sites, cutoff=args.cutoff, seed=args.seed, encoding=args.encoding
    )
    _dev(
        f"wrote {args.out}: {planted.get('randomized')} randomized, {planted.get('screened')} screened, "
        f"{args.sites} sites, cut-off {args.cutoff} ({time.perf_counter() - t0:.1f} s)",
        file=sys.stderr,
    )
    if args.redcap or args.odm:
        from pathlib import Path

        from dashboard.devtools.demo.edc import write_odm_export, write_redcap_export

        writers = ((args.redcap, write_redcap_export, "a REDCap"), (args.odm, write_odm_export, "an ODM"))
        for folder, writer, what in writers:
            if folder:
                t0 = time.perf_counter()
                writer(Path(args.out), Path(folder))
                _dev(
                    f"wrote the demo trial as {what} export in {folder}, with the mapping that reads it "
                    f"({time.perf_counter() - t0:.1f} s)",
                    file=sys.stderr,
                )
    return 0


def _where(file, line, column, subjid) -> str:
    """File, line, column and subject (SUBJID, or that there is none), in the command's language."""
    from dashboard.ingest.problems import WITHHELD

    if subjid:
        subject = _(", SUBJID {subjid}").format(subjid=_(WITHHELD) if subjid == WITHHELD else subjid)
    else:
        subject = _(", no SUBJID")
    return _("{file}{line}{column}{subject}").format(
        file=file,
        line=_(", line {line}").format(line=line) if line is not None else "",
        column=_(", column {column}").format(column=column) if column else "",
        subject=subject,
    )


def _problem_line(p) -> str:
    """One error or warning with everything a data manager needs to raise a query: file, line,
    column and the subject (SUBJID) beside the message, in the command's language."""
    from dashboard.ingest.problems import SEVERITY

    return _("{severity}: {where}: {message}").format(
        severity=_(SEVERITY.get(p.severity, p.severity.upper())),
        where=_where(str(p.file), p.line, p.column, getattr(p, "subjid", None)),
        message=p.text(),
    )


FINDINGS_SHOWN = 50
FINDINGS_FILE = "findings.csv"


def _list_findings(warehouse_dir, build_dir) -> None:
    """Every finding of the build just published, with its subject: the first FINDINGS_SHOWN on
    stdout, all of them in builds/<id>/findings.csv (0600, formula-escaped for spreadsheets)."""
    from pathlib import Path

    import pandas as pd

    from dashboard.i18n import language
    from dashboard.outputs.escape import csv_bytes
    from dashboard.store import warehouse
    from dashboard.store.sql import query

    con = warehouse.connect(warehouse_dir, closed=True)
    try:
        df = con.execute(query("cli/findings_listing")).df()
    finally:
        con.close()
    df["line"] = df["line"].astype("Int64")  # 82, not 82.0, where some findings have no line
    # findings.csv is a record (English, as the warehouse's `message`); the listing below is in the
    # command's language (the warehouse's `message_zh` for Chinese)
    local = df.pop("message_zh") if "message_zh" in df else df["message"]
    path = Path(build_dir) / FINDINGS_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(csv_bytes(df))
    for r, zh in zip(df.head(FINDINGS_SHOWN).itertuples(index=False), local, strict=False):
        where = _where(
            str(r.file),
            int(r.line) if pd.notna(r.line) else None,
            r.column if pd.notna(r.column) and r.column else None,
            r.subjid if pd.notna(r.subjid) and r.subjid else None,
        )
        message = zh if language() == "zh" and isinstance(zh, str) else r.message
        print(_("FINDING ({kind}): {where}: {message}").format(kind=_(r.kind), where=where, message=message))
    more = _(" (the first {n} above)").format(n=FINDINGS_SHOWN) if len(df) > FINDINGS_SHOWN else ""
    _say(_("all {n} finding(s){more} with their subjects in {path}").format(n=len(df), more=more, path=path))


def _refused(problems, what: str, warehouse_dir) -> int:
    for p in problems:
        _say(_problem_line(p))
    errors = sum(p.severity == "error" for p in problems)
    _say(
        _("REFUSED: {errors} error(s) in {package}; the warehouse in {warehouse} was not changed").format(
            errors=errors, package=what, warehouse=warehouse_dir
        )
    )
    return 2


def _convert_edc(kind: str, source, mapping, out, *, show_warnings: bool = True):
    """Convert an EDC export into a package; (conversion, None) or (None, exit code) after the
    reason was printed."""
    from dashboard.ingest.edc.convert import convert
    from dashboard.ingest.edc.mapping import MappingError
    from dashboard.ingest.problems import PackageRefused, shown

    try:
        conv = convert(source, mapping, out, kind=kind)
    except MappingError as exc:
        _say(_("mapping error: {error}").format(error=exc))
        return None, 2
    except PackageRefused as refused:
        for p in refused.problems:
            _say(_problem_line(p))
        errors = sum(p.severity == "error" for p in refused.problems)
        _say(
            _("REFUSED: {errors} error(s) converting the {kind} export in {source}; nothing was written").format(
                errors=errors, kind=kind, source=source
            )
        )
        return None, 2
    for w in conv.warnings if show_warnings else []:  # the build prints them with its own otherwise
        _say(_problem_line(w))
    for note in conv.notes:
        _say(_("note: {note}").format(note=shown(note)))
    _say(
        _(
            "converted the {kind} export {source} into {out} in {seconds:.2f} s: {rows}; {n} unmapped field(s) listed"
        ).format(
            kind=kind,
            source=source,
            out=out,
            seconds=conv.seconds,
            rows=", ".join(f"{f} {n}" for f, n in conv.rows.items()),
            n=len(conv.warnings),
        )
    )
    return conv, None


def _convert(args) -> int:
    conv, code = _convert_edc(args.kind, args.source, args.mapping, args.out)
    return code if conv is None else 0


KEEP_CONVERTED = 3


def _build(args) -> int:
    from pathlib import Path

    from dashboard.ingest.build import build
    from dashboard.ingest.edc.convert import annotate
    from dashboard.ingest.problems import PackageRefused

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    package, provenance = args.package, None
    if bool(args.source) != bool(args.mapping):
        _say(_("error: --source and --mapping go together (an EDC export and the mapping that reads it)"))
        return 2
    if args.source:
        # the converted package is kept beside the warehouse (0700), the last few of them
        converted = Path(args.warehouse) / "converted"
        converted.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(converted, 0o700)
        package = converted / (dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ") + f"-{args.source}")
        conv, code = _convert_edc(args.source, args.package, args.mapping, package, show_warnings=False)
        if conv is None:
            _say(_("the warehouse in {warehouse} was not changed").format(warehouse=args.warehouse))
            return code
        provenance = {**conv.provenance, "package": str(package)}
        _prune_converted(converted)
    try:
        result = build(
            package,
            args.warehouse,
            encoding=args.encoding,
            progress=progress,
            provenance=provenance,
            carried=conv.warnings if provenance else None,
        )
    except PackageRefused as refused:
        problems = annotate(refused.problems, package) if provenance else refused.problems
        return _refused(problems, args.package, args.warehouse)
    for w in result.warnings:
        _say(_problem_line(w))
    findings = sum(result.findings.values())
    _say(
        _(
            "published build {build} in {seconds:.2f} s: {rows} rows in {forms} forms, "
            "{warnings} warning(s), {findings} finding(s)"
        ).format(
            build=result.build_id,
            seconds=result.seconds,
            rows=sum(result.rows.values()),
            forms=len(result.rows),
            warnings=len(result.warnings),
            findings=findings,
        )
    )
    for kind, n in result.findings.items():
        _say(_("  finding: {kind}: {n}").format(kind=_(kind), n=n))
    try:
        _list_findings(args.warehouse, result.build_dir)
    except (OSError, _duckdb_error()) as exc:
        _say(
            _("error: build {build} is published, but its findings could not be listed: {error}").format(
                build=result.build_id, error=exc
            )
        )
        return 1
    return 0


def _prune_converted(folder) -> None:
    import shutil

    kept = sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: p.name)
    for old in kept[:-KEEP_CONVERTED]:
        shutil.rmtree(old, ignore_errors=True)


def _edc_design(args) -> int:
    from pathlib import Path

    from dashboard.ingest.edc.design import write_design

    for path in write_design(args.kind, Path(args.out)):
        _say(_("wrote {path}").format(path=path))
    return 0


def _pull(args) -> int:
    from pathlib import Path

    from dashboard.ingest.edc.pull import PullFailed, pull_redcap

    try:
        folder = pull_redcap(args.url, Path(args.token_file) if args.token_file else None, Path(args.out))
    except PullFailed as exc:
        _say(_("pull failed: {error}").format(error=exc))
        return 2
    _say(_("saved the REDCap API responses in {folder}").format(folder=folder))
    if args.warehouse:
        args.package, args.source, args.encoding = str(folder), "redcap", None
        return _build(args)
    package = folder.parent / f"{folder.name}-package"
    conv, code = _convert_edc("redcap", folder, args.mapping, package)
    return code if conv is None else 0


def _duckdb_error():
    import duckdb

    return duckdb.Error


def _closed_role(role: str) -> bool:
    """Whether `role` opens the closed session (its commands print or write by-arm results)."""
    from dashboard.access.roles import AccessDenied, Viewer

    try:
        return Viewer(role).closed
    except (AccessDenied, KeyError):
        return False  # an unknown role: the command refuses it as before


def _manifest(warehouse_dir) -> dict:
    """The current build's manifest, or {} when there is none (the command then says so itself)."""
    from dashboard.store import warehouse

    try:
        return warehouse.manifest(warehouse_dir)
    except (warehouse.NoWarehouse, OSError, ValueError):
        return {}


def _data_cut(manifest: dict) -> dict:
    return {"build_id": manifest.get("build_id"), "cutoff": manifest.get("cutoff")}


def _dsmb_sign_in(args, command: str, may=None):
    """The signed-in DSMB viewer for a closed command, or None after a refusal (message on stderr,
    `cli_sign_in_refused` on the record). Credentials: --user NAME --password-stdin (automation),
    or asked for at a terminal (user name, then the password without echo). `may`: for a command
    that is not closed but on the record (pinning a cut), (viewer -> None or the refusal's Msg)
    instead of "the account opens the closed session"."""
    import getpass

    from dashboard.access import accounts, audit
    from dashboard.i18n import using
    from dashboard.ingest.problems import Msg, msg

    os_user = getpass.getuser()
    manifest = _manifest(args.warehouse)
    name, password = args.user, None
    reason: Msg | None = None  # English on the record, the command's language on the terminal
    at_terminal = sys.stdin is not None and sys.stdin.isatty()
    if args.password_stdin and not name:
        reason = msg(N_("--password-stdin needs --user NAME"))
    elif not name and not at_terminal:
        reason = msg(
            N_(
                "the closed {command} needs a DSMB account: run it at a terminal (it asks for the user name "
                "and password) or pass --user NAME --password-stdin"
            ),
            command=command,
        )
    else:
        if not name:
            print(_("DSMB user name: ") if may is None else _("user name: "), end="", file=sys.stderr, flush=True)
            name = sys.stdin.readline().strip()
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        elif at_terminal:
            password = getpass.getpass(_("password for {name}: ").format(name=name))
        else:
            reason = msg(
                N_("no password: pass --password-stdin with the password on standard input, or run at a terminal")
            )
        if not name:
            reason = msg(N_("no user name given"))
    viewer = None
    if reason is None:
        try:
            # demo accounts only where the app takes them: demo mode, on the pinned demo build
            demo = accounts.demo_warehouse(manifest)
            with using("en"):  # the refusal's words go on the record in English
                viewer = accounts.sign_in(name, password or "", demo_data=demo, manifest=manifest)
        except accounts.SignInRefused as exc:
            reason = msg(str(exc))
        else:
            if may is not None:
                reason = may(viewer)
            elif not viewer.closed:
                reason = msg(
                    N_("the account {name} has the role {role}, which may not open the closed session"),
                    name=name,
                    role=viewer.role,
                )
    if reason is None:
        return viewer
    try:
        audit.append(
            "cli_sign_in_refused",
            user=name or None,
            role=None,
            detail={
                "command": command,
                "requested_role": args.role,
                "reason": reason.render("en"),
                "os_user": os_user,
            },
            data_cut=_data_cut(manifest),
        )
    except audit.AuditError as exc:
        _say(_("error: the refusal could not be recorded: {error}").format(error=exc))
    _say(_("refused: {reason}").format(reason=reason.render()))
    return None


def _record_closed(action: str, viewer, args, detail: dict | None = None, data_cut: dict | None = None) -> dict | None:
    """The audit entry of a closed command, written before anything closed is printed or kept;
    None (with the reason on stderr) when it cannot be written: then nothing is."""
    import getpass

    from dashboard.access import audit

    try:
        return audit.append(
            action,
            user=viewer.user,
            role=viewer.role,
            site=viewer.site,
            detail={"os_user": getpass.getuser(), "via": "command line", **(detail or {})},
            data_cut=data_cut or _data_cut(_manifest(args.warehouse)),
        )
    except audit.AuditError as exc:
        _say(
            _("error: the closed {action} cannot be put on the record, so it is not given: {error}").format(
                action=action, error=exc
            )
        )
        return None


def _summary(args) -> int:
    from dashboard.access.roles import AccessDenied, Viewer
    from dashboard.outputs.summary import summary
    from dashboard.store.warehouse import NoWarehouse

    closed = _closed_role(args.role)
    if closed:
        viewer = _dsmb_sign_in(args, "summary")
        if viewer is None:
            return 2
    else:
        viewer = Viewer(args.role, args.site)
    from dashboard.store import cuts

    try:
        cut = cuts.get(args.warehouse, args.cut) if args.cut else None
        if cut is not None and not _cut_intact(cut):
            return 1
        out = summary(args.warehouse, viewer, build=cut.build_dir if cut else None)
    except (AccessDenied, NoWarehouse, cuts.CutNotFound) as exc:
        _say(_("error: {error}").format(error=exc))
        return 2
    data_cut = {"build_id": cut.build_id, "cutoff": cut.cutoff} if cut else None
    if closed and not _record_closed("cli_summary_closed", viewer, args, data_cut=data_cut):
        return 2
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1, default=str)
    sys.stdout.write("\n")
    return 0


def _changes(args) -> int:
    """What is new between two retained cuts for a role (default: from the last cut pinned for the
    role's committee to the current one), as JSON; the closed role's is a closed command."""
    from dashboard.access.roles import AccessDenied, Viewer
    from dashboard.config import load_trial
    from dashboard.store import cuts, warehouse
    from dashboard.views.changes import changes

    cfg = load_trial()
    closed = _closed_role(args.role)
    if closed:
        viewer = _dsmb_sign_in(args, "changes")
        if viewer is None:
            return 2
    else:
        viewer = Viewer(args.role, args.site)
    try:
        viewer = viewer.validated(cfg)
        to = cuts.get(args.warehouse, args.to) if args.to else cuts.current(args.warehouse)
        since = (
            cuts.get(args.warehouse, args.since) if args.since else cuts.baseline(args.warehouse, viewer.role, cfg, to)
        )
        if since is None:
            _say(
                _("error: {warehouse} holds one data cut only: nothing to compare it with").format(
                    warehouse=args.warehouse
                )
            )
            return 2
        if not (_cut_intact(since) and _cut_intact(to)):
            return 1
        out = changes(since.build_dir, to.build_dir, viewer, cfg)
    except (AccessDenied, warehouse.NoWarehouse, cuts.CutNotFound) as exc:
        _say(_("error: {error}").format(error=exc))
        return 2
    if closed and not _record_closed(
        "cli_changes_closed",
        viewer,
        args,
        detail={"since": {"build_id": since.build_id, "cutoff": since.cutoff}},
        data_cut={"build_id": to.build_id, "cutoff": to.cutoff},
    ):
        return 2
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1, default=str)
    sys.stdout.write("\n")
    return 0


def _refresh(args) -> int:
    """The nightly refresh: the configured pull or drop folder, then the build (docs/deployment.md)."""
    from dashboard.config import load_trial
    from dashboard.ingest.refresh import refresh

    return refresh(load_trial(), args.warehouse, progress=lambda m: print(m, file=sys.stderr, flush=True)).exit_code


def _cut_intact(cut) -> bool:
    """A pinned cut reopened is the files its pins vouch for; False (and why, on stderr) if not."""
    from dashboard.access import pins

    problems = [x for p in cut.pins for x in pins.verify(cut.build_dir, p)]
    for x in problems:
        _say(_("error: {error}").format(error=x))
    return not problems


def _cuts(args) -> int:
    """The warehouse's data cuts: list them, pin one under a name for a committee (on the record),
    or verify that every pinned cut still holds the files it was pinned with."""
    from dashboard.access import pins
    from dashboard.config import load_trial
    from dashboard.ingest.problems import msg
    from dashboard.store import cuts, warehouse

    cfg = load_trial()
    try:
        all_cuts = cuts.cuts(args.warehouse)
        now = cuts.current(args.warehouse)
    except warehouse.NoWarehouse as exc:
        _say(_("error: {error}").format(error=exc))
        return 2
    if args.action == "list":
        rows = [{**c.as_dict(), "current": c.build_id == now.build_id, "bytes": cuts.disk_use(c)} for c in all_cuts]
        if args.json:
            json.dump(rows, sys.stdout, ensure_ascii=False, indent=1)
            sys.stdout.write("\n")
            return 0
        for c, r in zip(all_cuts, rows, strict=True):
            names = "; ".join(
                _("{name} ({committee})").format(name=p["name"], committee=p["committee"]) for p in c.pins
            )
            print(
                _("{build}  cut-off {cutoff}  exported {exported}  {size} MB{current}{look}{names}").format(
                    build=c.build_id,
                    cutoff=c.cutoff,
                    exported=c.exported,
                    size=round(r["bytes"] / 1e6, 1),
                    current=_("  [current]") if r["current"] else "",
                    look=_("  DSMB look {n}").format(n=c.look) if c.look else "",
                    names=("  " + names) if names else "",
                )
            )
        return 0
    if args.action == "verify":
        bad = 0
        for c in all_cuts:
            for p in c.pins:
                problems = pins.verify(c.build_dir, p)
                bad += len(problems)
                for x in problems:
                    _say(_("error: {error}").format(error=x))
                if not problems:
                    print(_("{name}: cut {build} is as it was pinned").format(name=p["name"], build=c.build_id))
        return 1 if bad else 0
    # pin
    if not args.name or not args.committee:
        _say(_("error: cuts pin needs --name NAME and --committee COMMITTEE"))
        return 2
    try:
        cut = now if args.cut in (None, "current") else cuts.get(args.warehouse, args.cut)
    except cuts.CutNotFound as exc:
        _say(_("error: {error}").format(error=exc))
        return 2

    def may(viewer):
        if pins.may_pin(viewer.role, args.committee, cfg):
            return None
        return msg(
            N_("the account {name} has the role {role}, which may not pin a cut for the {committee} committee"),
            name=viewer.user,
            role=viewer.role,
            committee=args.committee,
        )

    args.role = "pin"
    viewer = _dsmb_sign_in(args, "cuts pin", may=may)
    if viewer is None:
        return 2
    try:
        entry = pins.pin(
            name=args.name,
            committee=args.committee,
            build_id=cut.build_id,
            cutoff=cut.cutoff,
            build_dir=cut.build_dir,
            user=viewer.user,
            role=viewer.role,
            cfg=cfg,
        )
    except pins.PinError as exc:
        _say(_("refused: {reason}").format(reason=exc))
        return 2
    print(
        _("pinned cut {build} (cut-off {cutoff}) as {name} for the {committee} committee (audit seq {seq})").format(
            build=cut.build_id,
            cutoff=cut.cutoff,
            name=entry["detail"]["name"],
            committee=args.committee,
            seq=entry["seq"],
        )
    )
    return 0


def _bench(args) -> int:
    from pathlib import Path

    from dashboard.devtools.bench import bench_build, bench_pages
    from dashboard.ingest.build import build

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    if args.edc:
        from dashboard.devtools.bench import bench_edc

        r = bench_edc(args.subjects, args.sites, work)
        _dev(f"EDC exports in: {args.subjects} subjects, {args.sites} sites (convert + build, each in its own process)")
        for kind, t in r.items():
            _dev(
                f"  {kind:<7} source {t['source_mb']:7.1f} MB  convert {t['convert_seconds']:6.2f} s "
                f"(peak RSS {t['convert_peak_rss_mb']} MB)  build {t['build_seconds']:6.2f} s  "
                f"total {t['total_seconds']:6.2f} s"
                + (
                    f"  x{t['ratio_to_spec_build']:.2f} of the spec build (goal <= 1.5)"
                    if "ratio_to_spec_build" in t
                    else ""
                )
            )
        return 0
    if args.cuts:
        from dashboard.devtools.bench import bench_cuts

        r = bench_cuts(args.subjects, args.sites, work, n_cuts=args.cuts)
        if args.json:
            json.dump(r, sys.stdout, indent=1)
            sys.stdout.write("\n")
            return 0
        n = r["cuts"]
        _dev(
            f"data cuts: {r['subjects']} subjects, {r['sites']} sites, {n} monthly cuts "
            f"({r['generate_seconds']} s to generate)"
        )
        _dev(f"  builds 1..{n - 1}: " + " ".join(f"{x:.1f}" for x in r["earlier_builds_seconds"]) + " s")
        _dev(f"  build of cut {n}: {r['nth_build_seconds']:.2f} s")
        for step, secs in r["nth_build_steps"].items():
            _dev(f"    {step:<60} {secs:6.2f} s")
        c = r["changes_seconds"]
        _dev(
            f"  since the pinned cut ({r['since']}): steering {c['steering']:.2f} s, dsmb {c['dsmb']:.2f} s "
            f"({c['steering_new_randomized']} new randomizations)"
        )
        for page, t in r["pages"].items():
            _dev(f"  page {page:<12} cold {t['cold_seconds']:6.3f} s  warm {t['warm_seconds']:6.3f} s")
        _dev(f"  disk per cut {r['disk_mb_per_cut_mean']} MB (mean of {n}), {r['disk_mb_total']} MB in all")
        return 0
    results = [bench_build(args.subjects, args.sites, work, repeats=args.repeats)]
    if not args.no_pages:
        wh = work / f"wh-pages-{args.subjects}"
        if not (wh / "current").exists():
            build(work / f"pkg-{args.subjects}-{args.sites}", wh)
        results[0]["pages"] = bench_pages(wh, lang="en")
        results[0]["pages_zh"] = bench_pages(wh, lang="zh")  # the same pages read in Chinese
    if args.browser:
        from dashboard.devtools.bench import (
            bench_browser,
            bench_concurrency,
            bench_ws_concurrency,
            rss_mb,
            start_server,
        )

        wh = work / f"wh-pages-{args.subjects}"
        if not (wh / "current").exists():
            build(work / f"pkg-{args.subjects}-{args.sites}", wh)
        proc, url = start_server(wh, work)
        try:
            results[0]["browser"] = bench_browser(url)
            if args.load in ("websocket", "both"):
                results[0]["concurrency"] = bench_ws_concurrency(
                    url, sessions=args.sessions, seconds=args.seconds, server_pid=proc.pid
                )
            if args.load in ("chromium", "both"):
                key = "concurrency" if args.load == "chromium" else "concurrency_chromium"
                results[0][key] = bench_concurrency(
                    url, sessions=args.sessions, seconds=args.seconds, server_pid=proc.pid
                )
            results[0]["server_memory"] = rss_mb(proc.pid)
        finally:
            proc.terminate()
    if args.json:
        json.dump(results[0] if len(results) == 1 else results, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    for r in results:
        b = r["build"]
        _dev(f"{r['subjects']} subjects, {r['sites']} sites ({r['package_mb']} MB of CSV, {r['cpus']} cpus)")
        _dev(
            f"  build {b['seconds']:.2f} s  floor {b['floor_seconds']:.2f} s  ratio {b['ratio']:.2f}  "
            f"peak RSS {b['peak_rss_mb']:.0f} MB"
        )
        for step, secs in b["steps"].items():
            _dev(f"    {step:<60} {secs:6.2f} s")
        if "browser" in r:
            _dev(f"  {'browser, click to idle':<32} {'first s':>8} {'again s':>8}")
            for page, t in r["browser"].items():
                _dev(
                    f"  {page:<32} {t.get('first_seconds_to_idle', t['seconds_to_idle']):8.3f} "
                    f"{t.get('returning_seconds_to_idle', float('nan')):8.3f}"
                    + (
                        f"   (form shown in {t['form_seconds']:.3f} s; time after the click)"
                        if "form_seconds" in t
                        else ""
                    )
                )
            for key in ("concurrency", "concurrency_chromium"):
                if key in r:
                    c = r[key]
                    _dev(
                        f"  {key} ({c['client']} clients): {c['sessions']} sessions for {c['seconds']:.0f} s: "
                        f"{c['page_opens']} page opens, p50 {c['p50_seconds']} s, p95 {c['p95_seconds']} s, "
                        f"max {c['max_seconds']} s, errors {c['errors']}"
                        + (
                            f", server CPU {c['server_cpu_share']:.0%} of the machine"
                            if "server_cpu_share" in c
                            else ""
                        )
                    )
                    for e in c["error_samples"]:
                        _dev(f"    {e}")
            _dev(f"  server memory: {r['server_memory']}")
        if "pages" in r:
            zh = r.get("pages_zh", {})
            _dev(f"  {'page (AppTest, server side)':<32} {'cold s':>8} {'warm s':>8} {'zh cold':>8} {'zh warm':>8}")
            for page, t in r["pages"].items():
                z = zh.get(page, {})
                _dev(
                    f"  {page:<32} {t['cold_seconds']:8.3f} {t['warm_seconds']:8.3f} "
                    f"{z.get('cold_seconds', float('nan')):8.3f} {z.get('warm_seconds', float('nan')):8.3f}"
                )
    return 0


def _password(args) -> str:
    import getpass

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(_("password: "))
    if first != getpass.getpass(_("again: ")):
        raise SystemExit(_("the passwords differ"))
    return first


# what `users ACTION NAME` says when it is done (the action's English is the audit record's)
USERS_DONE = {
    "add": N_("add: {name}"),
    "remove": N_("remove: {name}"),
    "passwd": N_("passwd: {name}"),
    "language": N_("language: {name}"),
}


def _users(args) -> int:
    import getpass

    from dashboard.access import accounts, audit

    operator = getpass.getuser()
    try:
        if args.action == "list":
            for u in accounts.list_users():
                wait = accounts.throttle_wait(u["username"])
                waits = _("next sign-in attempt waits {seconds:.0f} s").format(seconds=wait) if wait else ""
                print(f"{u['username']:<24} {u['role']:<13} {u['site'] or '':<5} {waits}")
            return 0
        if not args.name:
            raise accounts.AccountError(_("name the user"))
        if args.action == "add":
            accounts.add_user(args.name, args.role or "", _password(args), site=args.site)
            detail = {"user": args.name, "role": args.role, "site": args.site}
            if args.language:
                accounts.set_language(args.name, args.language)
                detail["language"] = args.language
        elif args.action == "language":
            accounts.set_language(args.name, args.language)
            detail = {"user": args.name, "language": args.language}
        elif args.action == "remove":
            accounts.remove_user(args.name)
            detail = {"user": args.name}
        else:
            accounts.set_password(args.name, _password(args))
            detail = {"user": args.name}
    except accounts.AccountError as exc:
        _say(_("error: {error}").format(error=exc))
        return 2
    try:
        audit.append(f"user {args.action}", user=operator, role="cli", detail=detail)
    except audit.AuditError as exc:
        _say(
            _("error: {action} {name} was done but could not be put on the record: {error}").format(
                action=args.action, name=args.name, error=exc
            )
        )
        return 2
    _say(_(USERS_DONE[args.action]).format(name=args.name))
    return 0


def _audit(args) -> int:
    from dashboard.access import audit

    if args.action == "init":
        try:
            key, created = audit.init_key()
        except audit.AuditError as exc:
            _say(_("error: {error}").format(error=exc))
            return 2
        if created:
            _say(_("made the audit key {key} (0600, folder 0700)").format(key=key))
        else:
            _say(_("kept the audit key {key} (0600, folder 0700)").format(key=key))
        return 0
    if args.action == "verify":
        try:
            check = audit.check(warehouse=args.warehouse, anchors=args.anchor or ())
        except ValueError as exc:  # an --anchor that is not SEQ:HASH
            _say(_("error: {error}").format(error=exc))
            return 2
        print((_("OK: {message}") if check.ok else _("TAMPERED: {message}")).format(message=check.message))
        return 0 if check.ok else 1
    for e in audit.read(lenient=True)[-args.last :]:
        print(
            f"{e.get('seq', '?'):>6} {e.get('time')} {e.get('user') or '-':<20} {e.get('role') or '-':<12} "
            f"{e.get('action')!s:<24} {json.dumps(e['detail'], ensure_ascii=False) if e.get('detail') else ''}"
        )
    return 0


def _report(args) -> int:
    import getpass
    from pathlib import Path

    from dashboard.access import audit
    from dashboard.access.roles import AccessDenied, Viewer
    from dashboard.outputs import report
    from dashboard.store import warehouse

    closed_role = _closed_role(args.role)
    try:
        if closed_role:
            viewer = _dsmb_sign_in(args, "report")
            if viewer is None:
                return 2
        else:
            viewer = Viewer(args.role, args.site, getpass.getuser()).validated()
        viewer.require_trial_data()
        con = warehouse.connect(args.warehouse, closed=viewer.closed)
    except (AccessDenied, warehouse.NoWarehouse) as exc:
        _say(_("error: {error}").format(error=exc))
        return 2
    out = Path(args.out)
    kind = "closed" if viewer.closed and not args.open else "open"
    fmt = out.suffix.lstrip(".")
    detail = {"file": str(out), "format": fmt}
    anchor = None
    if closed_role:
        # on the record before it is made, and the report prints this very entry as its anchor
        entry = _record_closed(f"cli_report_{kind}", viewer, args, detail)
        if entry is None:
            con.close()
            return 2
        anchor = {"seq": entry["seq"], "hash": entry["hash"]}
    try:
        html = report.build_html(con, viewer, closed_report=viewer.closed and not args.open, audit_anchor=anchor)
    finally:
        con.close()
    html_path = out if out.suffix.lower() != ".pdf" else out.with_suffix(".html")
    _write_private(html_path, html.encode("utf-8"))
    if out.suffix.lower() == ".pdf":
        report.html_to_pdf(html_path, out)
        os.chmod(out, 0o600)
    if not closed_role:
        m = warehouse.manifest(args.warehouse)
        audit.append(
            f"export: {kind} report ({fmt})",
            user=viewer.user,
            role=viewer.role,
            site=viewer.site,
            detail={**detail, "via": "command line"},
            data_cut={"build_id": m.get("build_id"), "cutoff": m.get("cutoff")},
        )
    if kind == "closed":
        _say(_("wrote the closed report: {file}").format(file=out))
    else:
        _say(_("wrote the open report: {file}").format(file=out))
    return 0


def _write_private(path, data: bytes) -> None:
    """Write a file only its owner can read (0600), also when it existed with another mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(data)


def _looks(args) -> int:
    """The DSMB's looks on the record: list them, or record the current data cut as the next one
    (its information fraction: OS deaths over the design's expected final deaths)."""
    from dashboard.access import looks
    from dashboard.config import load_trial
    from dashboard.store import warehouse
    from dashboard.store.data import scalar

    args.role = "dsmb"
    viewer = _dsmb_sign_in(args, f"looks {args.action}")
    if viewer is None:
        return 2
    if args.action == "list":
        for lk in looks.held():
            cut = lk["data_cut"] or {}
            print(
                _(
                    "look {look}: fraction {fraction:.3f} ({events} deaths){final}, data cut {cutoff} "
                    "(build {build}), recorded by {user} at {time}"
                ).format(
                    look=lk["look"],
                    fraction=lk["fraction"],
                    events=lk["events"],
                    final=_(" FINAL") if lk["final"] else "",
                    cutoff=cut.get("cutoff"),
                    build=cut.get("build_id"),
                    user=lk["recorded_by"],
                    time=lk["time"],
                )
            )
        return 0
    cfg = load_trial()
    try:
        con = warehouse.connect(args.warehouse, closed=True)
    except warehouse.NoWarehouse as exc:
        _say(_("error: {error}").format(error=exc))
        return 2
    try:
        deaths = int(scalar(con, "closed/look_deaths") or 0)
    finally:
        con.close()
    fraction = deaths / cfg.design.expected_deaths_final
    try:
        entry = looks.record(
            fraction=fraction,
            events=deaths,
            data_cut=_data_cut(_manifest(args.warehouse)),
            user=viewer.user,
            role=viewer.role,
            final=args.final,
        )
    except looks.LookError as exc:
        _say(_("refused: {reason}").format(reason=exc))
        return 2
    d = entry["detail"]
    print(
        _("recorded look {look}: fraction {fraction:.3f} ({events} deaths){final}").format(
            look=d["look"], fraction=fraction, events=deaths, final=_(" FINAL") if args.final else ""
        )
    )
    return 0


def _i18n(args) -> int:
    """The message catalogues (dashboard/i18n): extract the code's messages into the .po files,
    fill translations in, compile them, or list what is missing (unwrapped English, untranslated).
    Its output is the translators' and developers' tool, in English (_dev)."""
    import json

    from dashboard.i18n import catalogue, unwrapped

    domains = [args.domain] if args.domain else list(catalogue.DOMAINS)
    if args.action == "extract":
        for domain in domains:
            _dev(f"{domain}: {catalogue.update(domain)}")
        return 0
    if args.action == "fill":
        if not args.domain or not args.file:
            _dev("fill needs --domain and a FILE (JSON: {English: Chinese})", file=sys.stderr)
            return 2
        done, unknown = catalogue.fill(args.domain, json.loads(open(args.file, encoding="utf-8").read()))
        _dev(f"{done} set; not in {args.domain}.po: {unknown}")
        return 1 if unknown else 0
    if args.action == "compile":
        for path in catalogue.compile_all():
            _dev(path)
        return 0
    found = [str(u) for u in unwrapped.find(domains=domains)]
    if args.action == "unwrapped":
        _dev("\n".join(found))
        return 1 if found else 0
    missing = catalogue.problems(domains)
    _dev("\n".join(found + missing))
    _dev(f"{len(found)} unwrapped, {len(missing)} not translated", file=sys.stderr)
    return 1 if found or missing else 0


def _credentials(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--user",
        default=None,
        help=_("dsmb role: the DSMB account to sign in as (without it the command asks at the terminal)"),
    )
    p.add_argument(
        "--password-stdin",
        action="store_true",
        help=_("dsmb role: read the account's password from the first line of standard input (automation)"),
    )


def parser() -> argparse.ArgumentParser:
    # `neo-margin` (the console script) or `python -m dashboard`, whichever was typed
    invoked = os.path.basename(sys.argv[0])
    p = argparse.ArgumentParser(
        prog=invoked if invoked == "neo-margin" else "python -m dashboard", description=_(DESCRIPTION)
    )
    p.add_argument(
        "--lang",
        default=None,
        help=_("the language of messages and reports: zh or en (default: NEO_MARGIN_LANG, else LANG, else en)"),
    )
    sub = p.add_subparsers(dest="command", required=True)
    # --lang is taken after the command too (`build PKG --warehouse W --lang zh`); main() reads it
    lang = argparse.ArgumentParser(add_help=False)
    lang.add_argument("--lang", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    def add(name: str, **kwargs) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[lang], **kwargs)

    d = add("demo-data", help=_("write a synthetic Neo-Margin export package"))
    d.add_argument("out", help=_("folder to write the package into"))
    d.add_argument("--subjects", type=int, default=300, help=_("randomized subjects (default 300)"))
    d.add_argument("--sites", type=int, default=12, help=_("sites (default 12)"))
    d.add_argument(
        "--cutoff",
        type=dt.date.fromisoformat,
        default=dt.date(2028, 6, 30),
        help=_("data cut-off date YYYY-MM-DD (default 2028-06-30)"),
    )
    d.add_argument("--seed", type=int, default=20260101)
    d.add_argument("--encoding", default="utf-8", help=_("utf-8 (default), utf-8-sig or gb18030"))
    d.add_argument("--redcap", default=None, help=_("also write the demo trial as a REDCap export into this folder"))
    d.add_argument("--odm", default=None, help=_("also write the demo trial as a CDISC ODM export into this folder"))
    d.add_argument(
        "--cuts",
        default=None,
        metavar="DATE,DATE,...",
        help=_("write one trial cut at each of these dates into OUT/<date>/, with planted changes between cuts"),
    )
    d.set_defaults(func=_demo_data)

    b = add("build", help=_("validate an export package and publish it as the warehouse"))
    b.add_argument("package", help=_("a folder, a .zip or an .xlsx export package (or, with --source, an EDC export)"))
    b.add_argument("--warehouse", required=True, help=_("the warehouse folder"))
    b.add_argument("--encoding", default=None, help=_("the CSV encoding, when detection should not decide"))
    b.add_argument(
        "--source",
        choices=["redcap", "odm"],
        default=None,
        help=_("PACKAGE is a REDCap or ODM export: convert it through --mapping first (docs/edc.md)"),
    )
    b.add_argument("--mapping", default=None, help=_("with --source: the mapping file (TOML)"))
    b.set_defaults(func=_build)

    cv = add("convert", help=_("convert a REDCap or CDISC ODM export into an export package"))
    cv.add_argument("kind", choices=["redcap", "odm"])
    cv.add_argument("source", help=_("the folder holding the export (records.csv, dictionary.csv / export.xml)"))
    cv.add_argument("--mapping", required=True, help=_("the mapping file (TOML, docs/edc.md)"))
    cv.add_argument("--out", required=True, help=_("the package folder to write (new or empty)"))
    cv.set_defaults(func=_convert)

    ed = add("edc-design", help=_("write the REDCap data dictionary or ODM metadata (and mapping) of our spec"))
    ed.add_argument("kind", choices=["redcap", "odm"])
    ed.add_argument("--out", required=True, help=_("the folder to write into"))
    ed.set_defaults(func=_edc_design)

    pl = add("pull", help=_("fetch a REDCap project's exports through its API, then convert (and build)"))
    pl.add_argument("kind", choices=["redcap"])
    pl.add_argument("--url", required=True, help=_("the REDCap API URL (https://.../api/)"))
    pl.add_argument(
        "--token-file", default=None, help=_("a file (mode 0600) holding the API token; else NEO_MARGIN_REDCAP_TOKEN")
    )
    pl.add_argument("--mapping", required=True, help=_("the mapping file that reads the project's exports"))
    pl.add_argument("--out", required=True, help=_("the folder that keeps the dated raw responses"))
    pl.add_argument("--warehouse", default=None, help=_("also build the warehouse from the pull"))
    pl.set_defaults(func=_pull)

    s = add("summary", help=_("print the figures a role sees, as JSON"))
    s.add_argument("--warehouse", required=True)
    s.add_argument("--role", required=True)
    s.add_argument("--site", default=None, help=_("the site, for the site role"))
    s.add_argument(
        "--cut", default=None, help=_("a retained data cut (build id or pinned name) instead of the current one")
    )
    _credentials(s)
    s.set_defaults(func=_summary)
    ch = add("changes", help=_("what is new between two data cuts for a role, as JSON"))
    ch.add_argument("--warehouse", required=True)
    ch.add_argument("--role", required=True)
    ch.add_argument("--site", default=None, help=_("the site, for the site role"))
    ch.add_argument(
        "--from",
        dest="since",
        default=None,
        help=_("the earlier cut (build id or pinned name; default: the last cut pinned for the role's committee)"),
    )
    ch.add_argument("--to", default=None, help=_("the later cut (default: the current one)"))
    _credentials(ch)
    ch.set_defaults(func=_changes)
    rf = add(
        "refresh",
        help=_(
            "fetch the configured export (trial.toml [refresh]: a drop folder or the REDCap pull) and build it "
            "if it is new; exit 0 published or nothing new, 1 failed, 2 refused, 75 busy (docs/deployment.md)"
        ),
    )
    rf.add_argument(
        "--warehouse",
        default=None,
        help=_("the warehouse folder (default: [refresh] warehouse, else NEO_MARGIN_WAREHOUSE, else data/warehouse)"),
    )
    rf.set_defaults(func=_refresh)
    c = add("cuts", help=_("the warehouse's data cuts: list, pin one under a name for a committee, verify the pins"))
    c.add_argument("action", choices=["list", "pin", "verify"])
    c.add_argument("cut", nargs="?", default=None, help=_("pin: the build id or name of the cut (default: current)"))
    c.add_argument("--warehouse", required=True)
    c.add_argument("--name", default=None, help=_("pin: the name of the cut, e.g. 'DSMB look 1'"))
    c.add_argument("--committee", default=None, help=_("pin: the committee that meets on it (trial.toml [cuts])"))
    c.add_argument("--json", action="store_true", help=_("list: as JSON"))
    _credentials(c)
    c.set_defaults(func=_cuts)
    r = add("report", help=_("write the open (pooled) or, for dsmb, the closed report"))
    r.add_argument("--warehouse", required=True)
    r.add_argument("--role", required=True)
    r.add_argument("--site", default=None)
    r.add_argument("--out", required=True, help=_("FILE.html, or FILE.pdf (printed by headless Chromium)"))
    r.add_argument("--open", action="store_true", help=_("the open report even for the dsmb role"))
    _credentials(r)
    r.set_defaults(func=_report)

    u = add("users", help=_("manage local accounts (users file: NEO_MARGIN_USERS)"))
    u.add_argument("action", choices=["add", "remove", "list", "passwd", "language"])
    u.add_argument("name", nargs="?")
    u.add_argument("--role")
    u.add_argument("--site")
    u.add_argument("--password-stdin", action="store_true", help=_("read the password from standard input"))
    u.add_argument("--language", default=None, help=_("the user's language, zh or en"))
    u.set_defaults(func=_users)

    a = add(
        "audit",
        help=_("make the audit key (init), verify or show the audit log (NEO_MARGIN_AUDIT, key NEO_MARGIN_AUDIT_KEY)"),
    )
    a.add_argument("action", choices=["init", "verify", "show"])
    a.add_argument("--last", type=int, default=50)
    a.add_argument(
        "--anchor",
        action="append",
        metavar="SEQ:HASH",
        help=_(
            'verify: an anchor the log must still hold, as printed in a closed report ("seq N, hash H" '
            "is taken too; repeatable)"
        ),
    )
    a.add_argument(
        "--warehouse",
        default=None,
        help=_("verify: check the anchors of this warehouse's build manifests (default NEO_MARGIN_WAREHOUSE)"),
    )
    a.set_defaults(func=_audit)

    lk = add("looks", help=_("the DSMB's looks on the record: list them, or record this data cut as one"))
    lk.add_argument("action", choices=["list", "record"])
    lk.add_argument("--warehouse", required=True)
    lk.add_argument("--final", action="store_true", help=_("this look is the final analysis"))
    _credentials(lk)
    lk.set_defaults(func=_looks)
    m = add("bench", help=_("measure the build against DuckDB's floor (prints numbers)"))
    m.add_argument("--subjects", type=int, default=300)
    m.add_argument("--sites", type=int, default=12)
    m.add_argument("--repeats", type=int, default=3)
    m.add_argument("--workdir", default="data/bench")
    m.add_argument("--json", action="store_true")
    m.add_argument("--no-pages", action="store_true", help=_("only the build"))
    m.add_argument(
        "--edc", action="store_true", help=_("convert and build the REDCap and ODM exports against the spec build")
    )
    m.add_argument(
        "--browser",
        action="store_true",
        help=_("also time pages in Chromium and run concurrent sessions against a real server"),
    )
    m.add_argument(
        "--cuts",
        type=int,
        default=0,
        help=_("build this many monthly cuts of one trial and time the last, the difference and its pages"),
    )
    m.add_argument("--sessions", type=int, default=20)
    m.add_argument("--seconds", type=float, default=60.0)
    m.add_argument(
        "--load",
        choices=["websocket", "chromium", "both"],
        default="both",
        help=_(
            "concurrent sessions as websocket clients (the server alone), as Chromium pages "
            "(renderers on the same cores), or both (default)"
        ),
    )
    m.set_defaults(func=_bench)
    t = add("i18n", help=_("the message catalogues: extract, compile, check (or list unwrapped English)"))
    t.add_argument("action", choices=["extract", "fill", "compile", "check", "unwrapped"])
    t.add_argument("file", nargs="?", help=_("fill: a JSON file {English: Chinese}"))
    t.add_argument("--domain", default=None, help=_("one catalogue (dashboard/i18n DOMAINS); default all"))
    t.set_defaults(func=_i18n)
    return p


def language(argv: list[str]) -> str:
    """The command's language, known before the parser is made (its help text is translated):
    --lang, else NEO_MARGIN_LANG, else the locale's LANG (zh_CN.UTF-8 -> zh), else English."""
    from dashboard import i18n

    for i, a in enumerate(argv):
        if a == "--lang" and i + 1 < len(argv):
            return i18n.normalize(argv[i + 1]) or argv[i + 1]
        if a.startswith("--lang="):
            return i18n.normalize(a[7:]) or a[7:]
    for var in ("NEO_MARGIN_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        code = i18n.normalize(os.environ.get(var))
        if os.environ.get(var) and var == "NEO_MARGIN_LANG":
            return code or os.environ[var]
        if code:
            return code
    return i18n.DEFAULT


def main(argv: list[str] | None = None) -> int:
    # everything the command line writes (warehouse builds, reports, findings, audit files, keys)
    # is readable by the service user only
    os.umask(0o077)
    from dashboard import i18n

    asked = language(sys.argv[1:] if argv is None else argv)
    try:
        i18n.set_language(asked)
    except i18n.UnknownLanguage:
        # refused in the locale's language when it is one we have (LANG=zh_CN.UTF-8 --lang xx), else English
        i18n.set_language(_fallback_language())
        _say(
            _("unknown language {language}: choose one of {languages}").format(
                language=repr(asked), languages=", ".join(i18n.LANGUAGES)
            )
        )
        return 2
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        _say(_("configuration error: {error}").format(error=exc))
        return 3


def _fallback_language() -> str:
    from dashboard import i18n

    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        code = i18n.normalize(os.environ.get(var))
        if code:
            return code
    return i18n.DEFAULT
