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


def _demo_data(args) -> int:
    from dashboard.devtools.demo import write_demo_package

    t0 = time.perf_counter()
    planted = write_demo_package(
        args.out, subjects=args.subjects, sites=args.sites, cutoff=args.cutoff, seed=args.seed, encoding=args.encoding
    )
    print(
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
                print(
                    f"wrote the demo trial as {what} export in {folder}, with the mapping that reads it "
                    f"({time.perf_counter() - t0:.1f} s)",
                    file=sys.stderr,
                )
    return 0


def _problem_line(p) -> str:
    """One error or warning with everything a data manager needs to raise a query: file, line,
    column and the subject (SUBJID) beside the message."""
    where = [str(p.file)]
    if p.line is not None:
        where.append(f"line {p.line}")
    if p.column:
        where.append(f"column {p.column}")
    subjid = getattr(p, "subjid", None)
    where.append(f"SUBJID {subjid}" if subjid else "no SUBJID")
    return f"{p.severity.upper()}: {', '.join(where)}: {p.message}"


FINDINGS_SHOWN = 50
FINDINGS_FILE = "findings.csv"


def _list_findings(warehouse_dir, build_dir) -> None:
    """Every finding of the build just published, with its subject: the first FINDINGS_SHOWN on
    stdout, all of them in builds/<id>/findings.csv (0600, formula-escaped for spreadsheets)."""
    from pathlib import Path

    import pandas as pd

    from dashboard.outputs.escape import csv_bytes
    from dashboard.store import warehouse
    from dashboard.store.sql import query

    con = warehouse.connect(warehouse_dir, closed=True)
    try:
        df = con.execute(query("cli/findings_listing")).df()
    finally:
        con.close()
    df["line"] = df["line"].astype("Int64")  # 82, not 82.0, where some findings have no line
    path = Path(build_dir) / FINDINGS_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(csv_bytes(df))
    for r in df.head(FINDINGS_SHOWN).itertuples(index=False):
        where = [str(r.file)]
        if pd.notna(r.line):
            where.append(f"line {int(r.line)}")
        if pd.notna(r.column) and r.column:
            where.append(f"column {r.column}")
        where.append(f"SUBJID {r.subjid}" if pd.notna(r.subjid) and r.subjid else "no SUBJID")
        print(f"FINDING ({r.kind}): {', '.join(where)}: {r.message}")
    more = f" (the first {FINDINGS_SHOWN} above)" if len(df) > FINDINGS_SHOWN else ""
    print(f"all {len(df)} finding(s){more} with their subjects in {path}", file=sys.stderr)


def _refused(problems, what: str, warehouse_dir) -> int:
    for p in problems:
        print(_problem_line(p), file=sys.stderr)
    errors = sum(p.severity == "error" for p in problems)
    print(f"REFUSED: {errors} error(s) in {what}; the warehouse in {warehouse_dir} was not changed", file=sys.stderr)
    return 2


def _convert_edc(kind: str, source, mapping, out, *, show_warnings: bool = True):
    """Convert an EDC export into a package; (conversion, None) or (None, exit code) after the
    reason was printed."""
    from dashboard.ingest.edc.convert import convert
    from dashboard.ingest.edc.mapping import MappingError
    from dashboard.ingest.problems import PackageRefused

    try:
        conv = convert(source, mapping, out, kind=kind)
    except MappingError as exc:
        print(f"mapping error: {exc}", file=sys.stderr)
        return None, 2
    except PackageRefused as refused:
        for p in refused.problems:
            print(_problem_line(p), file=sys.stderr)
        errors = sum(p.severity == "error" for p in refused.problems)
        print(
            f"REFUSED: {errors} error(s) converting the {kind} export in {source}; nothing was written", file=sys.stderr
        )
        return None, 2
    for w in conv.warnings if show_warnings else []:  # the build prints them with its own otherwise
        print(_problem_line(w), file=sys.stderr)
    for note in conv.notes:
        print(f"note: {note}", file=sys.stderr)
    print(
        f"converted the {kind} export {source} into {out} in {conv.seconds:.2f} s: "
        + ", ".join(f"{f} {n}" for f, n in conv.rows.items())
        + f"; {len(conv.warnings)} unmapped field(s) listed",
        file=sys.stderr,
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
        print(
            "error: --source and --mapping go together (an EDC export and the mapping that reads it)", file=sys.stderr
        )
        return 2
    if args.source:
        # the converted package is kept beside the warehouse (0700), the last few of them
        converted = Path(args.warehouse) / "converted"
        converted.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(converted, 0o700)
        package = converted / (dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ") + f"-{args.source}")
        conv, code = _convert_edc(args.source, args.package, args.mapping, package, show_warnings=False)
        if conv is None:
            print(f"the warehouse in {args.warehouse} was not changed", file=sys.stderr)
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
        print(_problem_line(w), file=sys.stderr)
    findings = sum(result.findings.values())
    print(
        f"published build {result.build_id} in {result.seconds:.2f} s: "
        f"{sum(result.rows.values())} rows in {len(result.rows)} forms, "
        f"{len(result.warnings)} warning(s), {findings} finding(s)",
        file=sys.stderr,
    )
    for kind, n in result.findings.items():
        print(f"  finding: {kind}: {n}", file=sys.stderr)
    try:
        _list_findings(args.warehouse, result.build_dir)
    except (OSError, _duckdb_error()) as exc:
        print(
            f"error: build {result.build_id} is published, but its findings could not be listed: {exc}",
            file=sys.stderr,
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
        print(f"wrote {path}", file=sys.stderr)
    return 0


def _pull(args) -> int:
    from pathlib import Path

    from dashboard.ingest.edc.pull import PullFailed, pull_redcap

    try:
        folder = pull_redcap(args.url, Path(args.token_file) if args.token_file else None, Path(args.out))
    except PullFailed as exc:
        print(f"pull failed: {exc}", file=sys.stderr)
        return 2
    print(f"saved the REDCap API responses in {folder}", file=sys.stderr)
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


def _dsmb_sign_in(args, command: str):
    """The signed-in DSMB viewer for a closed command, or None after a refusal (message on stderr,
    `cli_sign_in_refused` on the record). Credentials: --user NAME --password-stdin (automation),
    or asked for at a terminal (user name, then the password without echo)."""
    import getpass

    from dashboard.access import accounts, audit

    os_user = getpass.getuser()
    manifest = _manifest(args.warehouse)
    name, password, reason = args.user, None, None
    at_terminal = sys.stdin is not None and sys.stdin.isatty()
    if args.password_stdin and not name:
        reason = "--password-stdin needs --user NAME"
    elif not name and not at_terminal:
        reason = (
            f"the closed {command} needs a DSMB account: run it at a terminal (it asks for the user name "
            "and password) or pass --user NAME --password-stdin"
        )
    else:
        if not name:
            print("DSMB user name: ", end="", file=sys.stderr, flush=True)
            name = sys.stdin.readline().strip()
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        elif at_terminal:
            password = getpass.getpass(f"password for {name}: ")
        else:
            reason = "no password: pass --password-stdin with the password on standard input, or run at a terminal"
        if not name:
            reason = "no user name given"
    viewer = None
    if reason is None:
        try:
            # demo accounts only where the app takes them: demo mode, on the pinned demo build
            demo = accounts.demo_warehouse(manifest)
            viewer = accounts.sign_in(name, password or "", demo_data=demo, manifest=manifest)
        except accounts.SignInRefused as exc:
            reason = str(exc)
        else:
            if not viewer.closed:
                reason = f"the account {name} has the role {viewer.role}, which may not open the closed session"
    if reason is None:
        return viewer
    try:
        audit.append(
            "cli_sign_in_refused",
            user=name or None,
            role=None,
            detail={"command": command, "requested_role": args.role, "reason": reason, "os_user": os_user},
            data_cut=_data_cut(manifest),
        )
    except audit.AuditError as exc:
        print(f"error: the refusal could not be recorded: {exc}", file=sys.stderr)
    print(f"refused: {reason}", file=sys.stderr)
    return None


def _record_closed(action: str, viewer, args, detail: dict | None = None) -> dict | None:
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
            data_cut=_data_cut(_manifest(args.warehouse)),
        )
    except audit.AuditError as exc:
        print(f"error: the closed {action} cannot be put on the record, so it is not given: {exc}", file=sys.stderr)
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
    try:
        out = summary(args.warehouse, viewer)
    except (AccessDenied, NoWarehouse) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if closed and not _record_closed("cli_summary_closed", viewer, args):
        return 2
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1, default=str)
    sys.stdout.write("\n")
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
        print(
            f"EDC exports in: {args.subjects} subjects, {args.sites} sites (convert + build, each in its own process)"
        )
        for kind, t in r.items():
            print(
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
    results = [bench_build(args.subjects, args.sites, work, repeats=args.repeats)]
    if not args.no_pages:
        wh = work / f"wh-pages-{args.subjects}"
        if not (wh / "current").exists():
            build(work / f"pkg-{args.subjects}-{args.sites}", wh)
        results[0]["pages"] = bench_pages(wh)
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
        print(f"{r['subjects']} subjects, {r['sites']} sites ({r['package_mb']} MB of CSV, {r['cpus']} cpus)")
        print(
            f"  build {b['seconds']:.2f} s  floor {b['floor_seconds']:.2f} s  ratio {b['ratio']:.2f}  "
            f"peak RSS {b['peak_rss_mb']:.0f} MB"
        )
        for step, secs in b["steps"].items():
            print(f"    {step:<60} {secs:6.2f} s")
        if "browser" in r:
            print(f"  {'browser, click to idle':<32} {'first s':>8} {'again s':>8}")
            for page, t in r["browser"].items():
                print(
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
                    print(
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
                        print(f"    {e}")
            print(f"  server memory: {r['server_memory']}")
        if "pages" in r:
            print(f"  {'page (AppTest, server side)':<32} {'cold s':>8} {'warm s':>8}")
            for page, t in r["pages"].items():
                print(f"  {page:<32} {t['cold_seconds']:8.3f} {t['warm_seconds']:8.3f}")
    return 0


def _password(args) -> str:
    import getpass

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise SystemExit("the passwords differ")
    return first


def _users(args) -> int:
    import getpass

    from dashboard.access import accounts, audit

    operator = getpass.getuser()
    try:
        if args.action == "list":
            for u in accounts.list_users():
                wait = accounts.throttle_wait(u["username"])
                print(
                    f"{u['username']:<24} {u['role']:<13} {u['site'] or '':<5} "
                    f"{f'next sign-in attempt waits {wait:.0f} s' if wait else ''}"
                )
            return 0
        if not args.name:
            raise accounts.AccountError("name the user")
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
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        audit.append(f"user {args.action}", user=operator, role="cli", detail=detail)
    except audit.AuditError as exc:
        print(f"error: {args.action} {args.name} was done but could not be put on the record: {exc}", file=sys.stderr)
        return 2
    print(f"{args.action}: {args.name}", file=sys.stderr)
    return 0


def _audit(args) -> int:
    from dashboard.access import audit

    if args.action == "init":
        try:
            key, created = audit.init_key()
        except audit.AuditError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"{'made' if created else 'kept'} the audit key {key} (0600, folder 0700)", file=sys.stderr)
        return 0
    if args.action == "verify":
        try:
            check = audit.check(warehouse=args.warehouse, anchors=args.anchor or ())
        except ValueError as exc:  # an --anchor that is not SEQ:HASH
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(("OK: " if check.ok else "TAMPERED: ") + check.message)
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
        print(f"error: {exc}", file=sys.stderr)
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
    print(f"wrote the {kind} report: {out}", file=sys.stderr)
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
                f"look {lk['look']}: fraction {lk['fraction']:.3f} ({lk['events']} deaths)"
                f"{' FINAL' if lk['final'] else ''}, data cut {cut.get('cutoff')} (build {cut.get('build_id')}), "
                f"recorded by {lk['recorded_by']} at {lk['time']}"
            )
        return 0
    cfg = load_trial()
    try:
        con = warehouse.connect(args.warehouse, closed=True)
    except warehouse.NoWarehouse as exc:
        print(f"error: {exc}", file=sys.stderr)
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
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    d = entry["detail"]
    print(f"recorded look {d['look']}: fraction {fraction:.3f} ({deaths} deaths){' FINAL' if args.final else ''}")
    return 0


def _i18n(args) -> int:
    """The message catalogues (dashboard/i18n): extract the code's messages into the .po files,
    fill translations in, compile them, or list what is missing (unwrapped English, untranslated)."""
    import json

    from dashboard.i18n import catalogue, unwrapped

    domains = [args.domain] if args.domain else list(catalogue.DOMAINS)
    if args.action == "extract":
        for domain in domains:
            print(f"{domain}: {catalogue.update(domain)}")
        return 0
    if args.action == "fill":
        if not args.domain or not args.file:
            print("fill needs --domain and a FILE (JSON: {English: Chinese})", file=sys.stderr)
            return 2
        done, unknown = catalogue.fill(args.domain, json.loads(open(args.file, encoding="utf-8").read()))
        print(f"{done} set; not in {args.domain}.po: {unknown}")
        return 1 if unknown else 0
    if args.action == "compile":
        for path in catalogue.compile_all():
            print(path)
        return 0
    found = [str(u) for u in unwrapped.find(domains=domains)]
    if args.action == "unwrapped":
        print("\n".join(found))
        return 1 if found else 0
    missing = catalogue.problems(domains)
    print("\n".join(found + missing))
    print(f"{len(found)} unwrapped, {len(missing)} not translated", file=sys.stderr)
    return 1 if found or missing else 0


def _credentials(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--user",
        default=None,
        help="dsmb role: the DSMB account to sign in as (without it the command asks at the terminal)",
    )
    p.add_argument(
        "--password-stdin",
        action="store_true",
        help="dsmb role: read the account's password from the first line of standard input (automation)",
    )


def parser() -> argparse.ArgumentParser:
    # `neo-margin` (the console script) or `python -m dashboard`, whichever was typed
    invoked = os.path.basename(sys.argv[0])
    p = argparse.ArgumentParser(prog=invoked if invoked == "neo-margin" else "python -m dashboard", description=__doc__)
    p.add_argument(
        "--lang",
        default=None,
        help="the language of messages and reports: zh or en (default: NEO_MARGIN_LANG, else LANG, else en)",
    )
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo-data", help="write a synthetic Neo-Margin export package")
    d.add_argument("out", help="folder to write the package into")
    d.add_argument("--subjects", type=int, default=300, help="randomized subjects (default 300)")
    d.add_argument("--sites", type=int, default=12, help="sites (default 12)")
    d.add_argument(
        "--cutoff",
        type=dt.date.fromisoformat,
        default=dt.date(2028, 6, 30),
        help="data cut-off date YYYY-MM-DD (default 2028-06-30)",
    )
    d.add_argument("--seed", type=int, default=20260101)
    d.add_argument("--encoding", default="utf-8", help="utf-8 (default), utf-8-sig or gb18030")
    d.add_argument("--redcap", default=None, help="also write the demo trial as a REDCap export into this folder")
    d.add_argument("--odm", default=None, help="also write the demo trial as a CDISC ODM export into this folder")
    d.set_defaults(func=_demo_data)

    b = sub.add_parser("build", help="validate an export package and publish it as the warehouse")
    b.add_argument("package", help="a folder, a .zip or an .xlsx export package (or, with --source, an EDC export)")
    b.add_argument("--warehouse", required=True, help="the warehouse folder")
    b.add_argument("--encoding", default=None, help="the CSV encoding, when detection should not decide")
    b.add_argument(
        "--source",
        choices=["redcap", "odm"],
        default=None,
        help="PACKAGE is a REDCap or ODM export: convert it through --mapping first (docs/edc.md)",
    )
    b.add_argument("--mapping", default=None, help="with --source: the mapping file (TOML)")
    b.set_defaults(func=_build)

    cv = sub.add_parser("convert", help="convert a REDCap or CDISC ODM export into an export package")
    cv.add_argument("kind", choices=["redcap", "odm"])
    cv.add_argument("source", help="the folder holding the export (records.csv, dictionary.csv / export.xml)")
    cv.add_argument("--mapping", required=True, help="the mapping file (TOML, docs/edc.md)")
    cv.add_argument("--out", required=True, help="the package folder to write (new or empty)")
    cv.set_defaults(func=_convert)

    ed = sub.add_parser("edc-design", help="write the REDCap data dictionary or ODM metadata (and mapping) of our spec")
    ed.add_argument("kind", choices=["redcap", "odm"])
    ed.add_argument("--out", required=True, help="the folder to write into")
    ed.set_defaults(func=_edc_design)

    pl = sub.add_parser("pull", help="fetch a REDCap project's exports through its API, then convert (and build)")
    pl.add_argument("kind", choices=["redcap"])
    pl.add_argument("--url", required=True, help="the REDCap API URL (https://.../api/)")
    pl.add_argument(
        "--token-file", default=None, help="a file (mode 0600) holding the API token; else NEO_MARGIN_REDCAP_TOKEN"
    )
    pl.add_argument("--mapping", required=True, help="the mapping file that reads the project's exports")
    pl.add_argument("--out", required=True, help="the folder that keeps the dated raw responses")
    pl.add_argument("--warehouse", default=None, help="also build the warehouse from the pull")
    pl.set_defaults(func=_pull)

    s = sub.add_parser("summary", help="print the figures a role sees, as JSON")
    s.add_argument("--warehouse", required=True)
    s.add_argument("--role", required=True)
    s.add_argument("--site", default=None, help="the site, for the site role")
    _credentials(s)
    s.set_defaults(func=_summary)
    r = sub.add_parser("report", help="write the open (pooled) or, for dsmb, the closed report")
    r.add_argument("--warehouse", required=True)
    r.add_argument("--role", required=True)
    r.add_argument("--site", default=None)
    r.add_argument("--out", required=True, help="FILE.html, or FILE.pdf (printed by headless Chromium)")
    r.add_argument("--open", action="store_true", help="the open report even for the dsmb role")
    _credentials(r)
    r.set_defaults(func=_report)

    u = sub.add_parser("users", help="manage local accounts (users file: NEO_MARGIN_USERS)")
    u.add_argument("action", choices=["add", "remove", "list", "passwd", "language"])
    u.add_argument("name", nargs="?")
    u.add_argument("--role")
    u.add_argument("--site")
    u.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    u.add_argument("--language", default=None, help="the user's language, zh or en")
    u.set_defaults(func=_users)

    a = sub.add_parser(
        "audit",
        help="make the audit key (init), verify or show the audit log (NEO_MARGIN_AUDIT, key NEO_MARGIN_AUDIT_KEY)",
    )
    a.add_argument("action", choices=["init", "verify", "show"])
    a.add_argument("--last", type=int, default=50)
    a.add_argument(
        "--anchor",
        action="append",
        metavar="SEQ:HASH",
        help='verify: an anchor the log must still hold, as printed in a closed report ("seq N, hash H" '
        "is taken too; repeatable)",
    )
    a.add_argument(
        "--warehouse",
        default=None,
        help="verify: check the anchors of this warehouse's build manifests (default NEO_MARGIN_WAREHOUSE)",
    )
    a.set_defaults(func=_audit)

    lk = sub.add_parser("looks", help="the DSMB's looks on the record: list them, or record this data cut as one")
    lk.add_argument("action", choices=["list", "record"])
    lk.add_argument("--warehouse", required=True)
    lk.add_argument("--final", action="store_true", help="this look is the final analysis")
    _credentials(lk)
    lk.set_defaults(func=_looks)
    m = sub.add_parser("bench", help="measure the build against DuckDB's floor (prints numbers)")
    m.add_argument("--subjects", type=int, default=300)
    m.add_argument("--sites", type=int, default=12)
    m.add_argument("--repeats", type=int, default=3)
    m.add_argument("--workdir", default="data/bench")
    m.add_argument("--json", action="store_true")
    m.add_argument("--no-pages", action="store_true", help="only the build")
    m.add_argument(
        "--edc", action="store_true", help="convert and build the REDCap and ODM exports against the spec build"
    )
    m.add_argument(
        "--browser",
        action="store_true",
        help="also time pages in Chromium and run concurrent sessions against a real server",
    )
    m.add_argument("--sessions", type=int, default=20)
    m.add_argument("--seconds", type=float, default=60.0)
    m.add_argument(
        "--load",
        choices=["websocket", "chromium", "both"],
        default="both",
        help="concurrent sessions as websocket clients (the server alone), as Chromium pages "
        "(renderers on the same cores), or both (default)",
    )
    m.set_defaults(func=_bench)
    t = sub.add_parser("i18n", help="the message catalogues: extract, compile, check (or list unwrapped English)")
    t.add_argument("action", choices=["extract", "fill", "compile", "check", "unwrapped"])
    t.add_argument("file", nargs="?", help="fill: a JSON file {English: Chinese}")
    t.add_argument("--domain", default=None, help="one catalogue (dashboard/i18n DOMAINS); default all")
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

    try:
        i18n.set_language(language(sys.argv[1:] if argv is None else argv))
    except i18n.UnknownLanguage as exc:
        print(exc, file=sys.stderr)
        return 2
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 3
