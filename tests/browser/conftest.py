"""A real `streamlit run` server on a free port, on a demo warehouse built for the session, and
Playwright driving Debian's Chromium against it (the way Streamlit's own e2e suite waits).

Two servers on the same warehouse, each started only when a test asks for it:
 - `server`: as a deployment runs, NOT in demo mode (the demo accounts do not exist there, even
   though the warehouse holds the demo trial); local accounts made with the CLI;
 - `demo_server`: as scripts/start.sh runs, in demo mode pinned to the warehouse's build
   (accounts.demo_server_env), with users and audit files of its own.

Written for shared, noisy machines: on two loaded cores a Streamlit rerun can take 20-30 s.
 - No test sleeps. Every wait is for what a click must show (a text, a heading, the page's link
   marked current, the script idle), and every limit is HANG_MS, a ceiling for a hang, not the
   time anything is expected to take. Playwright's own defaults (30 s) are raised to it as well.
 - The idle timeout is the test's, and long (IDLE_MINUTES): no test's session can expire while the
   machine is slow. Idle expiry is tested with a clock the test moves (the `clock` fixture, which
   drives the seam in app/auth.py through NEO_MARGIN_TEST_CLOCK_FILE), not by sleeping through it.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "artifacts" / "screenshots"
PASSWORD = "browser-test-password"
HANG_MS = 180_000  # a ceiling for a hang: a rerun on a loaded 2-core machine can take 20-30 s
IDLE_MINUTES = 30  # the server's idle timeout: no test comes near it, however slow the machine
LOCKOUT_MINUTES = 60  # no longer used by the app (failures slow the name, never lock it)
MAX_FAILED_LOGINS = 3  # failures on a name before each attempt on it waits (1 s, 2 s, 4 s, ...)
CLOCK_ENV = "NEO_MARGIN_TEST_CLOCK_FILE"  # app/auth.py TEST_CLOCK_ENV
DEMO_ENV, DEMO_BUILD_ENV = "NEO_MARGIN_DEMO", "NEO_MARGIN_DEMO_BUILD"  # dashboard/access/accounts.py


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run does it)")
    return {
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-background-networking",
            "--disable-gpu",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(tmp: Path) -> Path:
    """trial.toml with the tests' own access settings: the idle timeout, the lockout and the number
    of failed sign-ins before it (whatever the trial office has written there)."""
    text = (ROOT / "trial.toml").read_text(encoding="utf-8")
    for key, value in (
        ("idle_timeout_minutes", IDLE_MINUTES),
        ("lockout_minutes", LOCKOUT_MINUTES),
        ("max_failed_logins", MAX_FAILED_LOGINS),
    ):
        text, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
        assert n == 1, f"trial.toml: no single line for {key}"
    path = tmp / "trial.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _start_streamlit(tmp: Path, env: dict, name: str) -> tuple[subprocess.Popen, str]:
    """`streamlit run app/serve.py` (the dashboard and its session route) on a free port with `env`;
    returns once it answers its health check."""
    port = _free_port()
    log_path = tmp / f"{name}.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "app" / "serve.py"),
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + HANG_MS / 1000
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("streamlit exited: " + log_path.read_text())
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=5).read() == b"ok":
                return proc, url
        except OSError:
            time.sleep(0.3)  # polling for the server to answer, not a wait for a result
    proc.kill()
    raise RuntimeError("streamlit did not start: " + log_path.read_text())


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _cli(env: dict, *args: str, stdin: str | None = None) -> None:
    subprocess.run(
        [sys.executable, "-m", "dashboard", *args],
        input=stdin,
        text=True,
        env=env,
        check=True,
        cwd=ROOT,
        capture_output=True,
    )


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory):
    """The demo trial's package built into a warehouse, and the environment shared by the servers
    and the CLI runs (trial.toml with the tests' access settings, the audit key)."""
    tmp = tmp_path_factory.mktemp("server")
    env = {
        **os.environ,
        "NEO_MARGIN_WAREHOUSE": str(tmp / "wh"),
        "NEO_MARGIN_USERS": str(tmp / "users.json"),
        "NEO_MARGIN_AUDIT": str(tmp / "audit" / "audit.jsonl"),  # the key may not be in the log's folder
        "NEO_MARGIN_AUDIT_KEY": str(tmp / "keys" / "audit.key"),
        "NEO_MARGIN_CONFIG": str(_config(tmp)),
        "PYTHONPATH": str(ROOT),
    }
    for var in (DEMO_ENV, DEMO_BUILD_ENV, CLOCK_ENV):  # whatever the shell running pytest has
        env.pop(var, None)
    _cli(env, "audit", "init")
    _cli(env, "demo-data", str(tmp / "pkg"))
    _cli(env, "build", str(tmp / "pkg"), "--warehouse", str(tmp / "wh"))
    return tmp, env


@pytest.fixture(scope="session")
def server(warehouse):
    """A freshly started server, not in demo mode: nothing has opened a session on it before the
    tests."""
    tmp, env = warehouse
    clock = tmp / "clock-offset-seconds"
    clock.write_text("0", encoding="utf-8")
    for name, role, site in [
        ("pi.user", "pi", None),
        ("site01.user", "site", "01"),
        ("dm.user", "data_manager", None),
        ("steering.user", "steering", None),
        ("dsmb.chair", "dsmb", None),
        ("admin.user", "admin", None),
        ("guessed.user", "pi", None),
        ("idle.user", "pi", None),
    ]:
        args = ["users", "add", name, "--role", role, "--password-stdin"] + (["--site", site] if site else [])
        _cli(env, *args, stdin=PASSWORD + "\n")
    # only the server process gets the clock seam; the CLI runs above and below do not need it
    proc, url = _start_streamlit(tmp, {**env, CLOCK_ENV: str(clock)}, "streamlit")
    yield {"url": url, "tmp": tmp, "env": env, "proc": proc, "clock": clock}
    _stop(proc)


@pytest.fixture(scope="session")
def demo_server(warehouse):
    """A server started the way scripts/start.sh starts one: demo mode, pinned to the build it serves."""
    from dashboard.access.accounts import demo_server_env

    tmp, base = warehouse
    demo = tmp / "demo-mode"
    demo.mkdir()
    env = {
        **base,
        "NEO_MARGIN_USERS": str(demo / "users.json"),
        "NEO_MARGIN_AUDIT": str(demo / "audit" / "audit.jsonl"),
    }
    env.update(demo_server_env(base["NEO_MARGIN_WAREHOUSE"]))
    proc, url = _start_streamlit(tmp, env, "streamlit-demo")
    yield {"url": url, "tmp": demo, "env": env, "proc": proc}
    _stop(proc)


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """A desktop at 1440x900, the size the issue's screenshots are judged at (a test of the phone
    makes its own 390x844 context)."""
    return {**browser_context_args, "viewport": {"width": 1440, "height": 900}}


@pytest.fixture
def context(context):
    """pytest-playwright's context with every Playwright default limit raised to the hang ceiling."""
    context.set_default_timeout(HANG_MS)
    context.set_default_navigation_timeout(HANG_MS)
    return context


class Clock:
    """The server's idle clock as the test moves it: `ahead(s)` makes every session on the server
    look `s` seconds older to the idle check (app/auth.py); reset to the real clock afterwards."""

    def __init__(self, path: Path):
        self.path = path

    def ahead(self, seconds: float) -> None:
        part = self.path.with_suffix(".part")
        part.write_text(repr(float(seconds)), encoding="utf-8")
        os.replace(part, self.path)  # the server never reads half a number


@pytest.fixture
def clock(server):
    c = Clock(server["clock"])
    yield c
    c.ahead(0)


def summary_of(server, role: str, site: str | None = None) -> dict:
    """What `python -m dashboard summary` says the role sees on the server's warehouse: the
    figures a page must show, from the command line rather than from the page."""
    args = [sys.executable, "-m", "dashboard", "summary", "--warehouse", server["env"]["NEO_MARGIN_WAREHOUSE"]]
    args += ["--role", role] + (["--site", site] if site else [])
    run = subprocess.run(args, env=server["env"], capture_output=True, text=True, check=True)
    return json.loads(run.stdout)


def audit_entries(server) -> list[dict]:
    return [
        json.loads(line)
        for line in Path(server["env"]["NEO_MARGIN_AUDIT"]).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def wait_for_audit(server, predicate, timeout: float = HANG_MS) -> list[dict]:
    """The audit log once an entry matching `predicate` is on it (polled, with the hang ceiling)."""
    deadline = time.monotonic() + timeout / 1000
    while True:
        log = audit_entries(server)
        if any(predicate(e) for e in log):
            return log
        if time.monotonic() > deadline:
            raise AssertionError(f"no such audit entry within {timeout / 1000:.0f} s; last: {log[-3:]}")
        time.sleep(0.2)


def wait_idle(page, timeout: float = HANG_MS) -> None:
    """Streamlit's e2e rule: connected, script not running, no skeleton left."""
    page.wait_for_selector(
        '[data-testid="stApp"][data-test-connection-state="CONNECTED"]', timeout=timeout, state="attached"
    )
    page.wait_for_selector(
        '[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout, state="attached"
    )
    page.wait_for_function("document.querySelectorAll('[data-testid=\"stSkeleton\"]').length === 0", timeout=timeout)


def sign_in(page, url: str, user: str, password: str = PASSWORD, path: str = "") -> None:
    page.goto(url + "/" + path)
    wait_idle(page)
    page.get_by_role("textbox", name="User name").fill(user)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_test_id("stBaseButton-secondaryFormSubmit").or_(
        page.get_by_test_id("stBaseButton-primaryFormSubmit")
    ).click()
    # the script state may still read notRunning right after the click: wait for the outcome
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stSidebarNav\"]') !== null"
        " || document.body.innerText.includes('Sign-in refused')",
        timeout=HANG_MS,
    )
    wait_idle(page)


def wait_for_text(page, text: str, timeout: float = HANG_MS) -> None:
    """After a click the script state may still read notRunning for a moment: wait for what the
    click should show, then for the app to be idle."""
    page.wait_for_function("t => document.body.innerText.includes(t)", arg=text, timeout=timeout)
    wait_idle(page)


def open_page(page, link_title: str, heading: str, timeout: float = HANG_MS) -> None:
    """Click a page's link in the navigation and wait for that page: its link marked current, a
    first heading starting with `heading` that is not a stale element of the previous run, and the
    app idle. (The script state alone can still read notRunning just after the click.)"""
    link = page.locator('[data-testid="stSidebarNavLink"]').filter(has=page.get_by_text(link_title, exact=True))
    link.click()
    page.wait_for_function(
        r"""([link, heading]) => {
            const current = [...document.querySelectorAll('[data-testid="stSidebarNavLink"][aria-current="page"]')];
            if (!current.some(a => a.innerText.trim().split("\n").pop() === link)) return false;
            const h1 = document.querySelector('h1');
            return h1 !== null && h1.innerText.trim().startsWith(heading)
                && h1.closest('[data-stale="true"]') === null;
        }""",
        arg=[link_title, heading],
        timeout=timeout,
    )
    wait_idle(page, timeout)


HIDDEN_TABLE_PARTS = """() => [...document.querySelectorAll('[data-testid="stDataFrame"]')]
    .filter(t => t.closest('[data-stale="true"]') === null && t.offsetParent !== null)
    .map(t => { const s = t.querySelector('.dvn-scroller'); if (s === null) return null;
        // a box as tall as ROWS_SHOWN rows is a long listing, which scrolls by design
        const listing = t.getBoundingClientRect().height >= 35 * ROWS_SHOWN;
        return {columns: s.scrollWidth > s.clientWidth + 2,
         rows: !listing && s.scrollHeight > s.clientHeight + 2,
         header: [...t.querySelectorAll('[role="columnheader"]')].map(h => h.innerText).join(' | ').slice(0, 120)}; })
    .filter(r => r !== null && (r.columns || r.rows))"""
"""The tables on a page that hide columns, or (a table short enough to be shown whole, app/ui.py
TABLE_ROWS_SHOWN) rows, behind their own scrolling. A longer listing scrolls by design."""


def hidden_table_parts(page) -> list[dict]:
    from app.ui import TABLE_ROWS_SHOWN

    return page.evaluate(HIDDEN_TABLE_PARTS.replace("ROWS_SHOWN", str(TABLE_ROWS_SHOWN)))


def screenshot(page, name: str) -> None:
    """A screenshot of the whole page into artifacts/screenshots/ (kept by CI). Streamlit scrolls
    inside its main section, so a full-page shot of the window alone is the first screen only: the
    viewport is made as tall as that section's content for the shot, then put back."""
    size = page.viewport_size
    height = page.evaluate(
        "Math.max(...[...document.querySelectorAll('[data-testid=stMain], section')].map(e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": size["width"], "height": min(int(height) + 40, 16000)})
    wait_idle(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    page.set_viewport_size(size)
    wait_idle(page)


PYTHON_LEFTOVERS = re.compile(r"\bNone\b|\bNaT\b|\bnan\b|\b00:00:00\b|\{'[a-z_]+': ")
"""What a page must never show: Python's missing values, a midnight time, a dict's repr."""


def assert_healthy(page) -> None:
    """No exception element, no Python traceback, not blank, and no Python leftovers in the text
    (None, NaT, nan, 00:00:00, a dict)."""
    assert page.locator('[data-testid="stException"]').count() == 0
    body = page.inner_text("body")
    assert "Traceback (most recent call last)" not in body
    assert len(body.strip()) > 40
    leftovers = sorted({m.group(0) for m in PYTHON_LEFTOVERS.finditer(body)})
    assert not leftovers, f"the page shows {leftovers}"
