"""A real `streamlit run` server on a free port, on a demo warehouse built for the session, and
Playwright driving Debian's Chromium against it (the way Streamlit's own e2e suite waits)."""
from __future__ import annotations

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
IDLE_SECONDS = 8


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run does it)")
    return {"executable_path": CHROMIUM,
            "args": ["--no-sandbox", "--disable-background-networking", "--disable-gpu",
                     "--disable-component-update", "--disable-sync", "--no-first-run"]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(tmp: Path) -> Path:
    """trial.toml with a short idle timeout and three failed sign-ins before a lockout."""
    text = (ROOT / "trial.toml").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^idle_timeout_minutes = .*$", f"idle_timeout_minutes = {IDLE_SECONDS / 60}", text)
    text = re.sub(r"(?m)^max_failed_logins = .*$", "max_failed_logins = 3", text)
    path = tmp / "trial.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """A freshly started server: nothing has opened a session on it before the tests."""
    tmp = tmp_path_factory.mktemp("server")
    env = {**os.environ, "NEO_MARGIN_WAREHOUSE": str(tmp / "wh"), "NEO_MARGIN_USERS": str(tmp / "users.json"),
           "NEO_MARGIN_AUDIT": str(tmp / "audit.jsonl"), "NEO_MARGIN_CONFIG": str(_config(tmp)),
           "PYTHONPATH": str(ROOT)}
    py = sys.executable
    subprocess.run([py, "-m", "dashboard", "demo-data", str(tmp / "pkg")], env=env, check=True, cwd=ROOT,
                   capture_output=True)
    subprocess.run([py, "-m", "dashboard", "build", str(tmp / "pkg"), "--warehouse", str(tmp / "wh")],
                   env=env, check=True, cwd=ROOT, capture_output=True)
    for name, role, site in [("pi.user", "pi", None), ("site01.user", "site", "01"), ("dm.user", "data_manager", None),
                             ("steering.user", "steering", None), ("dsmb.chair", "dsmb", None),
                             ("admin.user", "admin", None), ("locked.user", "pi", None), ("idle.user", "pi", None)]:
        args = ["users", "add", name, "--role", role, "--password-stdin"] + (["--site", site] if site else [])
        subprocess.run([py, "-m", "dashboard", *args], input=PASSWORD + "\n", text=True, env=env, check=True,
                       cwd=ROOT, capture_output=True)
    port = _free_port()
    log = open(tmp / "streamlit.log", "w")
    proc = subprocess.Popen([py, "-m", "streamlit", "run", str(ROOT / "app" / "main.py"), "--server.port", str(port),
                             "--server.headless", "true", "--server.address", "127.0.0.1"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        raise RuntimeError("streamlit did not start: " + (tmp / "streamlit.log").read_text())
    yield {"url": url, "tmp": tmp, "env": env, "proc": proc}
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def wait_idle(page, timeout: float = 60_000) -> None:
    """Streamlit's e2e rule: connected, script not running, no skeleton left."""
    page.wait_for_selector('[data-testid="stApp"][data-test-connection-state="CONNECTED"]', timeout=timeout,
                           state="attached")
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout,
                           state="attached")
    page.wait_for_function('document.querySelectorAll(\'[data-testid="stSkeleton"]\').length === 0', timeout=timeout)


def sign_in(page, url: str, user: str, password: str = PASSWORD, path: str = "") -> None:
    page.goto(url + "/" + path)
    wait_idle(page)
    page.get_by_role("textbox", name="User name").fill(user)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_test_id("stBaseButton-secondaryFormSubmit").or_(
        page.get_by_test_id("stBaseButton-primaryFormSubmit")).click()
    # the script state may still read notRunning right after the click: wait for the outcome
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stSidebarNav\"]') !== null"
        " || document.body.innerText.includes('Sign-in refused')", timeout=60_000)
    wait_idle(page)


def wait_for_text(page, text: str, timeout: float = 60_000) -> None:
    """After a click the script state may still read notRunning for a moment: wait for what the
    click should show, then for the app to be idle."""
    page.wait_for_function("t => document.body.innerText.includes(t)", arg=text, timeout=timeout)
    wait_idle(page)


def screenshot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def assert_healthy(page) -> None:
    """No exception element, no Python traceback, and not blank."""
    assert page.locator('[data-testid="stException"]').count() == 0
    body = page.inner_text("body")
    assert "Traceback (most recent call last)" not in body
    assert len(body.strip()) > 40
