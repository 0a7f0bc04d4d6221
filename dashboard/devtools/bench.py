"""Benchmarks that print numbers (never timed tests): the build against DuckDB's floor.

`floor_seconds`: DuckDB reading the same CSV files into tables of a new database file and
nothing else, so `build / floor` says what validation, derivation and the two warehouses cost.
"""

from __future__ import annotations

import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from dashboard.devtools.demo import write_demo_package
from dashboard.ingest.build import build
from dashboard.store.sql import render


def floor_seconds(package: Path) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        con = duckdb.connect(str(Path(tmp) / "floor.duckdb"))
        for csv_file in sorted(package.glob("*.csv")):
            con.execute(render("bench/read_csv_floor", table=csv_file.stem.lower()), {"p": str(csv_file)})
        con.close()
        return time.perf_counter() - t0


def bench_build(subjects: int, sites: int, workdir: Path, repeats: int = 3) -> dict:
    """Median of `repeats` builds and floors of one generated package."""
    package = workdir / f"pkg-{subjects}-{sites}"
    if not (package / "EXPORT.csv").exists():
        write_demo_package(package, subjects=subjects, sites=sites)
    builds, floors = [], []
    for i in range(repeats):
        wh = workdir / f"wh-{subjects}-{i}"
        shutil.rmtree(wh, ignore_errors=True)
        floors.append(floor_seconds(package))
        result = build(package, wh)
        builds.append(result.seconds)
        steps = result.steps
        shutil.rmtree(wh, ignore_errors=True)
    b, f = sorted(builds)[len(builds) // 2], sorted(floors)[len(floors) // 2]
    return {
        "subjects": subjects,
        "sites": sites,
        "build": {
            "seconds": round(b, 3),
            "floor_seconds": round(f, 3),
            "ratio": round(b / f, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "steps": steps,
        },
        "package_mb": round(sum(p.stat().st_size for p in package.glob("*.csv")) / 2**20, 1),
        "cpus": os.cpu_count(),
    }


def bench_pages(
    warehouse_dir: Path, role: str = "pi", repeats: int = 5, lang: str | None = None, only: tuple[str, ...] = ()
) -> dict:
    """Server-side render time of every page (Streamlit AppTest), cold (caches cleared) and warm
    (median of repeats), beside the floor: a page that only writes a line; in `lang` (zh, en) as
    the language switch sets it."""
    import statistics

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from dashboard.access.roles import Viewer, pages_for
    from dashboard.config import PROJECT_ROOT as root

    os.environ["NEO_MARGIN_WAREHOUSE"] = str(warehouse_dir)
    viewer = Viewer(role, "01" if role == "site" else None)

    def run(page_file: str | None, cold: bool = False) -> float:
        if page_file is None:
            with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
                fh.write("import streamlit as st\nst.write('floor')\n")
            at = AppTest.from_file(fh.name, default_timeout=120)
            at.run()  # timed like a page: the second run of an AppTest
            t0 = time.perf_counter()
            at.run()
            return time.perf_counter() - t0
        at = AppTest.from_file(str(root / "app" / "main.py"), default_timeout=120)
        at.session_state["viewer"] = viewer
        if lang:
            at.session_state["_lang"] = lang
        at.run()
        at.switch_page(f"../pages/{page_file}")
        if cold:  # the first run rendered the default page: forget what it cached
            st.cache_data.clear()
            st.cache_resource.clear()
        t0 = time.perf_counter()
        at.run()
        elapsed = time.perf_counter() - t0
        if at.exception:
            raise RuntimeError(f"{page_file}: {at.exception[0].value}")
        return elapsed

    out = {
        "floor": {
            "cold_seconds": round(run(None), 3),
            "warm_seconds": round(statistics.median(run(None) for _ in range(repeats)), 3),
        }
    }
    for page in pages_for(viewer):
        if only and page.key not in only:
            continue
        cold = run(page.file, cold=True)
        warm = statistics.median(run(page.file) for _ in range(repeats))
        out[page.key] = {"cold_seconds": round(cold, 3), "warm_seconds": round(warm, 3)}
    return out


# ---------------------------------------------------------------- data cuts over time
def bench_cuts(subjects: int, sites: int, workdir: Path, n_cuts: int = 12) -> dict:
    """The same trial cut `n_cuts` times, a month apart (the demo generator's cuts): the first
    n_cuts - 1 built into one warehouse, one of them pinned for the steering committee; then the
    n-th build timed, the difference since the pinned cut (steering, DSMB) and the "since the last
    meeting" and trends pages rendered, and the disk each cut takes. Its own audit log, in workdir."""
    import datetime as dt

    from dashboard.access import pins
    from dashboard.access.roles import Viewer
    from dashboard.devtools.demo.cuts import write_demo_cuts
    from dashboard.store import cuts
    from dashboard.views.changes import changes

    os.environ["NEO_MARGIN_AUDIT"] = str(workdir / f"audit-cuts-{subjects}" / "audit.jsonl")
    os.environ["NEO_MARGIN_AUDIT_KEY"] = str(workdir / f"keys-cuts-{subjects}" / "audit.key")
    last = dt.date(2028, 6, 30)
    dates = [_months_before(last, n_cuts - 1 - k) for k in range(n_cuts)]
    packages = workdir / f"cuts-{subjects}-{sites}-{n_cuts}"
    t0 = time.perf_counter()
    if not (packages / dates[-1].isoformat() / "EXPORT.csv").exists():
        shutil.rmtree(packages, ignore_errors=True)
        write_demo_cuts(packages, dates, subjects=subjects, sites=sites)
    generated = time.perf_counter() - t0
    wh = workdir / f"wh-cuts-{subjects}"
    shutil.rmtree(wh, ignore_errors=True)
    earlier = []
    for k, d in enumerate(dates[:-1]):
        r = build(packages / d.isoformat(), wh)
        earlier.append(r.seconds)
        if k == len(dates) // 2:
            pins.pin(
                name="Steering bench",
                committee="steering",
                build_id=r.build_id,
                cutoff=d.isoformat(),
                build_dir=r.build_dir,
                user="bench",
                role="data_manager",
            )
    twelfth = build(packages / dates[-1].isoformat(), wh)
    since = cuts.baseline(wh, "steering")
    timings = {}
    for role in ("steering", "dsmb"):
        t0 = time.perf_counter()
        diff = changes(since.build_dir, twelfth.build_dir, Viewer(role))
        timings[role] = round(time.perf_counter() - t0, 3)
        timings[f"{role}_new_randomized"] = diff["randomized"]["total"]
    pages = bench_pages(wh, role="steering", repeats=3, only=("changes", "trends"))
    sizes = [cuts.disk_use(c) for c in cuts.cuts(wh)]
    return {
        "subjects": subjects,
        "sites": sites,
        "cuts": n_cuts,
        "generate_seconds": round(generated, 2),
        "earlier_builds_seconds": [round(x, 2) for x in earlier],
        "nth_build_seconds": round(twelfth.seconds, 3),
        "nth_build_steps": twelfth.steps,
        "since": since.cutoff,
        "changes_seconds": timings,
        "pages": pages,
        "disk_bytes_per_cut": sizes,
        "disk_mb_per_cut_mean": round(sum(sizes) / len(sizes) / 1e6, 1),
        "disk_mb_total": round(sum(sizes) / 1e6, 1),
    }


def _months_before(day, months: int):
    """The last day of the month `months` before `day`'s month."""
    import calendar
    import datetime as dt

    y, m = day.year, day.month - months
    while m < 1:
        y, m = y - 1, m + 12
    return dt.date(y, m, calendar.monthrange(y, m)[1])


# ---------------------------------------------------------------- browser and concurrency
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IDLE = '[data-testid="stApp"][data-test-connection-state="CONNECTED"][data-test-script-state="notRunning"]'


def start_server(warehouse_dir: Path, workdir: Path) -> tuple:
    """`streamlit run` on a free port over the warehouse; returns (process, url)."""
    import socket
    import subprocess
    import sys
    import urllib.request

    from dashboard.config import PROJECT_ROOT as root

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "NEO_MARGIN_WAREHOUSE": str(warehouse_dir),
        "PYTHONPATH": str(root),
        "NEO_MARGIN_AUDIT": str(workdir / "bench-audit.jsonl"),
        "NEO_MARGIN_AUDIT_KEY": str(workdir / "bench-keys" / "audit.key"),
        "NEO_MARGIN_USERS": str(workdir / "bench-users.json"),
    }
    # the bench signs in with the demo accounts: the server runs in demo mode on this build
    from dashboard.access.accounts import demo_server_env

    env.update(demo_server_env(warehouse_dir))
    log = open(workdir / "bench-streamlit.log", "w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(root / "app" / "serve.py"),
            "--server.port",
            str(port),
            "--server.headless",
            "true",
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("streamlit did not start")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentiles(times: list[float]) -> dict:
    import statistics

    q = statistics.quantiles(times, n=20) if len(times) >= 20 else [float("nan")] * 19
    return {
        "p50_seconds": round(statistics.median(times), 3) if times else None,
        "p95_seconds": round(q[18], 3),
        "max_seconds": round(max(times), 3) if times else None,
    }


def bench_ws_concurrency(
    url: str, sessions: int = 20, seconds: float = 60.0, user: str = "demo-pi", server_pid: int | None = None
) -> dict:
    """`sessions` websocket clients (dashboard.devtools.wsload: the browser's own messages, no renderer)
    each signing in and opening the pages in turn with no pause for `seconds`: the server alone,
    from a page request to the end of its run."""
    import asyncio

    from dashboard.access.accounts import DEMO_PASSWORD
    from dashboard.devtools import wsload

    cpu0 = cpu_seconds(server_pid) if server_pid else None
    t0 = time.perf_counter()
    r = asyncio.run(wsload.load(url, user, DEMO_PASSWORD, sessions, seconds))
    wall = time.perf_counter() - t0
    out = {
        "client": "websocket",
        "sessions": sessions,
        "seconds": seconds,
        "page_opens": len(r["times"]),
        **_percentiles(r["times"]),
        "errors": len(r["errors"]),
        "error_samples": r["errors"][:5],
        "sign_in": _percentiles(r["sign_ins"]),
        "per_page_p95": {k: _percentiles(v)["p95_seconds"] for k, v in r["per_page"].items()},
    }
    if server_pid:
        out["server_cpu_share"] = round((cpu_seconds(server_pid) - cpu0) / wall / (os.cpu_count() or 1), 2)
    return out


def rss_mb(pid: int) -> dict:
    """Resident and peak memory of a process (Linux /proc)."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS", "VmHWM")):
            out[line.split(":")[0]] = round(int(line.split()[1]) / 1024, 1)
    return {"rss_mb": out.get("VmRSS"), "peak_rss_mb": out.get("VmHWM")}


def _sign_in_sync(page, url: str, user: str, password: str) -> None:
    page.goto(url)
    page.wait_for_selector(IDLE, state="attached", timeout=60_000)
    page.get_by_role("textbox", name="User name").fill(user)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_test_id("stBaseButton-secondaryFormSubmit").or_(
        page.get_by_test_id("stBaseButton-primaryFormSubmit")
    ).click()
    page.wait_for_selector('[data-testid="stSidebarNav"]', state="attached", timeout=60_000)
    page.wait_for_selector(IDLE, state="attached", timeout=60_000)


def bench_browser(url: str, user: str = "demo-pi") -> dict:
    """Seconds from a click in the navigation to an idle app, per page: in a fresh browser context
    (first visit: plotly.js and the page load) and again in the same context (a returning user)."""
    from playwright.sync_api import sync_playwright

    from dashboard.access.accounts import DEMO_PASSWORD

    out = {}
    with sync_playwright() as p:
        # A person in a new browser: the form shown, a pause to type, then "Sign in" to the first
        # page idle with its charts drawn; first after the server started (caches cold), then again.
        # Each in a browser process of its own: contexts of one browser share compiled code.
        for label in ("sign_in", "sign_in_again"):
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page()
            t0 = time.perf_counter()
            page.goto(url)
            page.get_by_role("textbox", name="User name").wait_for(timeout=60_000)
            form = time.perf_counter() - t0
            page.wait_for_timeout(3000)
            page.get_by_role("textbox", name="User name").fill(user)
            page.get_by_role("textbox", name="Password").fill(DEMO_PASSWORD)
            t1 = time.perf_counter()
            page.get_by_test_id("stBaseButton-secondaryFormSubmit").or_(
                page.get_by_test_id("stBaseButton-primaryFormSubmit")
            ).click()
            page.wait_for_selector('[data-testid="stSidebarNav"]', state="attached", timeout=60_000)
            page.wait_for_selector(IDLE, state="attached", timeout=60_000)
            page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length > 0", timeout=60_000)
            out[label] = {"form_seconds": round(form, 3), "seconds_to_idle": round(time.perf_counter() - t1, 3)}
            browser.close()
        # a robot in a new browser, no pause: from goto to the first page idle (the first record's number)
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context()
        page = context.new_page()
        t0 = time.perf_counter()
        _sign_in_sync(page, url, user, DEMO_PASSWORD)
        out["sign_in_no_pause"] = {"seconds_to_idle": round(time.perf_counter() - t0, 3)}
        links = page.locator('[data-testid="stSidebarNavLink"]')
        names = [links.nth(i).inner_text().split("\n")[-1].strip() for i in range(links.count())]
        for rnd in ("first", "returning"):
            for i, name in enumerate(names):
                t0 = time.perf_counter()
                links.nth(i).click()
                page.wait_for_timeout(50)
                page.wait_for_selector(IDLE, state="attached", timeout=60_000)
                page.wait_for_function("document.querySelectorAll('[data-testid=\"stSkeleton\"]').length === 0")
                out.setdefault(name, {})[f"{rnd}_seconds_to_idle"] = round(time.perf_counter() - t0, 3)
        browser.close()
        # the floor: a new browser loading the app's sign-in page (the one-line page of this app)
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page()
        t0 = time.perf_counter()
        page.goto(url)
        page.wait_for_selector(IDLE, state="attached", timeout=60_000)
        out["floor_sign_in_page"] = {"seconds_to_idle": round(time.perf_counter() - t0, 3)}
        browser.close()
    for v in out.values():
        v["seconds_to_idle"] = v.get("seconds_to_idle", v.get("first_seconds_to_idle"))
    return out


_APP_STATE = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app) return 'no app element';
  return `connection ${app.dataset.testConnectionState}, script ${app.dataset.testScriptState}, ` +
         `${document.querySelectorAll('[data-testid="stSkeleton"]').length} skeletons, ` +
         `title ${document.querySelector('h1') ? document.querySelector('h1').innerText.slice(0, 40) : '-'}`;
}"""


def bench_concurrency(
    url: str, sessions: int = 20, seconds: float = 60.0, user: str = "demo-pi", server_pid: int | None = None
) -> dict:
    """`sessions` browser sessions at once, each signing in and opening pages in turn for
    `seconds`; the time from each click to an idle app, and the errors (timeouts, exceptions)."""
    import asyncio

    from playwright.async_api import async_playwright

    from dashboard.access.accounts import DEMO_PASSWORD

    times: list[float] = []
    errors: list[str] = []
    console_tail: dict[int, list[str]] = {}
    start = time.monotonic()

    async def one(browser, k: int):
        context = await browser.new_context()
        page = await context.new_page()
        console: list[str] = []
        page.on("console", lambda m: console.append(f"{time.monotonic() - start:.1f}s {m.text[:160]}"))
        page.on("requestfailed", lambda r: console.append(f"{time.monotonic() - start:.1f}s failed {r.url[:100]}"))
        try:
            await page.goto(url)
            await page.wait_for_selector(IDLE, state="attached", timeout=60_000)
            await page.get_by_role("textbox", name="User name").fill(user)
            await page.get_by_role("textbox", name="Password").fill(DEMO_PASSWORD)
            await (
                page.get_by_test_id("stBaseButton-secondaryFormSubmit")
                .or_(page.get_by_test_id("stBaseButton-primaryFormSubmit"))
                .click()
            )
            await page.wait_for_selector('[data-testid="stSidebarNav"]', state="attached", timeout=60_000)
            links = page.locator('[data-testid="stSidebarNavLink"]')
            n = await links.count()
            end, i = time.monotonic() + seconds, k
            while time.monotonic() < end:
                t0 = time.perf_counter()
                await links.nth(i % n).click()
                await page.wait_for_timeout(50)
                await page.wait_for_selector(IDLE, state="attached", timeout=60_000)
                if await page.locator('[data-testid="stException"]').count():
                    errors.append(f"session {k}: exception on page {i % n}")
                times.append(time.perf_counter() - t0)
                i += 1
        except Exception as exc:  # a timeout or a crash is an error of the run, counted
            try:
                state = await page.evaluate(_APP_STATE)
            except Exception as gone:  # the page or its browser is gone: still one error
                state = f"page state unreadable: {type(gone).__name__}"
            first = (str(exc).splitlines() or [""])[0][:120]
            errors.append(f"session {k}: {type(exc).__name__} ({state}): {first}")
            console_tail[k] = console[-12:]
        finally:
            await context.close()

    async def main():
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            await asyncio.gather(*(one(browser, k) for k in range(sessions)))
            await browser.close()

    cpu0 = cpu_seconds(server_pid) if server_pid else None
    t0 = time.perf_counter()
    asyncio.run(main())
    wall = time.perf_counter() - t0
    share = (
        {"server_cpu_share": round((cpu_seconds(server_pid) - cpu0) / wall / (os.cpu_count() or 1), 2)}
        if server_pid
        else {}
    )
    return {
        "client": "chromium",
        **share,
        "sessions": sessions,
        "seconds": seconds,
        "page_opens": len(times),
        **_percentiles(times),
        "errors": len(errors),
        "error_samples": errors[:5],
        "console_of_failed_sessions": {str(k): v for k, v in list(console_tail.items())[:3]},
    }


def bench_edc(subjects: int, sites: int, workdir: Path) -> dict:
    """Converting and building the REDCap and the ODM form of the demo trial of this size, against
    building its spec package (goal: within 1.5x). Each step runs in its own process, so the peak
    memory printed is the conversion's own (ODM: streamed, the file never held whole)."""
    import json
    import subprocess
    import sys

    from dashboard.devtools.demo.edc import write_odm_export, write_redcap_export

    package = workdir / f"pkg-{subjects}-{sites}"
    if not (package / "EXPORT.csv").exists():
        write_demo_package(package, subjects=subjects, sites=sites)
    code = (
        "import json, resource, sys, time, shutil\n"
        "from pathlib import Path\n"
        "from dashboard.ingest.build import build\n"
        "from dashboard.ingest.edc.convert import convert\n"
        "kind, src, out, wh = sys.argv[1:5]\n"
        "shutil.rmtree(out, ignore_errors=True); shutil.rmtree(wh, ignore_errors=True)\n"
        "t0 = time.perf_counter(); pkg = src\n"
        "if kind != 'spec':\n"
        "    convert(src, Path(src) / 'mapping.toml', out); pkg = out\n"
        "t1 = time.perf_counter()\n"
        "rss_convert = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "build(pkg, wh); t2 = time.perf_counter()\n"
        "print(json.dumps({'convert_seconds': round(t1 - t0, 2), 'build_seconds': round(t2 - t1, 2),"
        " 'convert_peak_rss_mb': round(rss_convert), 'peak_rss_mb':"
        " round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))\n"
    )
    out = {}
    for kind, writer in (("spec", None), ("redcap", write_redcap_export), ("odm", write_odm_export)):
        src = package
        if writer:
            src = workdir / f"{kind}-{subjects}-{sites}"
            if not (src / "mapping.toml").exists():
                writer(package, src)
        size = sum(p.stat().st_size for p in Path(src).glob("*") if p.is_file())
        run = subprocess.run(
            [
                sys.executable,
                "-c",
                code,
                kind,
                str(src),
                str(workdir / f"edc-pkg-{kind}"),
                str(workdir / f"edc-wh-{kind}"),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        out[kind] = {**json.loads(run.stdout.strip().splitlines()[-1]), "source_mb": round(size / 2**20, 1)}
        out[kind]["total_seconds"] = round(out[kind]["convert_seconds"] + out[kind]["build_seconds"], 2)
    spec = out["spec"]["total_seconds"]
    for kind in ("redcap", "odm"):
        out[kind]["ratio_to_spec_build"] = round(out[kind]["total_seconds"] / spec, 2)
    return out
