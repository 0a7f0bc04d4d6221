"""Markup in the data, confidential downloads and listing exports, on a real Streamlit server in
headless Chromium (issue 11, classes 6 and 9).

The package is the demo trial made hostile by this test: site 02's SITEID is a Markdown image, every
site name, a third of the AE system organ classes, half the AE terms and half the deviation terms
carry a Markdown image, an `<a href>` and an `<img onerror>` pointing at a local HTTP server the test
starts; the other deviation terms are spreadsheet formulas (`=HYPERLINK(...)`). Then:
 - a blinded user of each blinded role opens every page: the local server gets no request, the
   browser asks nothing of it, and no attribute of any element (links, images, SVG links of plotly,
   inside the iframes too) names it, while the markup is on the page as text;
 - the DSMB chair makes the closed report: the browser saves it, no /media/ URL is involved, every
   URL the browser fetched answers nothing confidential without the session, the export is on the
   audit log and the report prints the log's anchor, that entry's seq and hash;
 - a listing exported to CSV has its formulas defused (leading apostrophe) and is on the audit log
   with the listing, the rows and the data cut.
"""

from __future__ import annotations

import csv
import http.server
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import (
    HANG_MS,
    PASSWORD,
    ROOT,
    _config,
    _free_port,
    assert_healthy,
    open_page,
    sign_in,
    wait_idle,
)
from dashboard.access.roles import Viewer, pages_for
from hostile import FORMULA, hostile_package

BLINDED = {"pi": ("pi.user", None), "data_manager": ("dm.user", None), "site": ("site01.user", "01")}
USERS = [*[(u, r, s) for r, (u, s) in BLINDED.items()], ("dsmb.chair", "dsmb", None)]


class _Trap(http.server.BaseHTTPRequestHandler):
    """The server the hostile markup points at: it notes every request it gets."""

    hits: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def trap():
    _Trap.hits = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Trap)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield {"origin": f"http://127.0.0.1:{httpd.server_address[1]}", "hits": _Trap.hits}
    httpd.shutdown()


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory, trap):
    """A freshly started server on the hostile package's warehouse, with one user per role tested."""
    tmp = tmp_path_factory.mktemp("hostile")
    env = {
        **os.environ,
        "NEO_MARGIN_WAREHOUSE": str(tmp / "wh"),
        "NEO_MARGIN_USERS": str(tmp / "users.json"),
        "NEO_MARGIN_AUDIT": str(tmp / "audit" / "audit.jsonl"),
        "NEO_MARGIN_AUDIT_KEY": str(tmp / "key" / "audit.key"),
        "NEO_MARGIN_CONFIG": str(_config(tmp)),
        "PYTHONPATH": str(ROOT),
    }
    py = sys.executable

    def cli(*args, stdin=None):
        done = subprocess.run(
            [py, "-m", "dashboard", *args], env=env, cwd=ROOT, input=stdin, text=True, capture_output=True
        )
        assert done.returncode == 0, (
            f"{args[0]} failed ({done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )
        return done

    cli("demo-data", str(tmp / "demo"), "--subjects", "160", "--sites", "6")
    planted = hostile_package(tmp / "demo", tmp / "pkg", trap["origin"])
    cli("build", str(tmp / "pkg"), "--warehouse", str(tmp / "wh"))
    for name, role, site in USERS:
        cli(
            "users",
            "add",
            name,
            "--role",
            role,
            "--password-stdin",
            *(["--site", site] if site else []),
            stdin=PASSWORD + "\n",
        )
    port = _free_port()
    log = open(tmp / "streamlit.log", "w")
    proc = subprocess.Popen(
        [py, "-m", "streamlit", "run", str(ROOT / "app" / "main.py"), "--server.port", str(port)]
        + ["--server.headless", "true", "--server.address", "127.0.0.1"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + HANG_MS / 1000
    while True:
        if proc.poll() is not None:
            raise RuntimeError("streamlit exited: " + (tmp / "streamlit.log").read_text())
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=5).read() == b"ok":
                break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("streamlit did not start: " + (tmp / "streamlit.log").read_text()) from None
            time.sleep(0.3)  # polling for the server to answer, not a wait for a result
    yield {"url": url, "tmp": tmp, "env": env, **planted}
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def _audit(server) -> list[dict]:
    path = Path(server["env"]["NEO_MARGIN_AUDIT"])
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _wait_for_audit(server, predicate) -> dict:
    deadline = time.monotonic() + HANG_MS / 1000
    while True:
        found = [e for e in _audit(server) if predicate(e)]
        if found:
            return found[-1]
        assert time.monotonic() < deadline, f"no such audit entry; last: {_audit(server)[-3:]}"
        time.sleep(0.2)


# Every attribute of every element of the page and of its same-origin iframes that names the trap's
# origin, except the ones that only hold text (data-*, aria-*, title, alt, value, placeholder: plotly
# keeps a label's text in data-unformatted): a live link (HTML, or plotly's SVG <a xlink:href>), an
# image, a style, an event handler; and any event handler that fetches.
_ATTRIBUTES_NAMING = """origin => {
    const text = n => n.startsWith('data-') || n.startsWith('aria-')
        || ['title', 'alt', 'value', 'placeholder'].includes(n);
    const found = [];
    const visit = doc => {
        for (const el of doc.querySelectorAll('*')) {
            for (const a of el.attributes) {
                if (a.value.includes(origin) && !text(a.name) || a.name.startsWith('on') && a.value.includes('fetch'))
                    found.push(`<${el.tagName.toLowerCase()} ${a.name}="${a.value.slice(0, 120)}">`);
            }
            if (el.tagName === 'IFRAME') { try { if (el.contentDocument) visit(el.contentDocument); } catch (e) {} }
        }
    };
    visit(document);
    return found;
}"""

_ALL_TEXT = """() => {
    const parts = [document.body.innerText];
    for (const t of document.querySelectorAll('svg text')) parts.push(t.textContent);
    return parts.join('\\n');
}"""


@pytest.mark.parametrize("role", list(BLINDED))
def test_markup_in_the_data_is_text_for_a_blinded_user(hostile_server, trap, page, role):
    user, site = BLINDED[role]
    origin = trap["origin"]
    asked = []
    page.on("request", lambda r: asked.append(r.url) if r.url.startswith(origin) else None)
    sign_in(page, hostile_server["url"], user)
    shown = set()
    specs = pages_for(Viewer(role, site))
    assert len(specs) >= 6, [s.key for s in specs]
    for spec in specs:
        open_page(page, spec.title, spec.title.split(" (")[0])
        assert_healthy(page)
        live = page.evaluate(_ATTRIBUTES_NAMING, origin)
        assert live == [], (spec.key, live)
        if spec.key == "accrual" and site is None:
            # the site detail of the hostile site: its SITEID goes into a metric's label (Markdown)
            page.get_by_test_id("stSelectbox").filter(has_text="Site detail").click()
            page.keyboard.type("siteid")
            # the open list's options hold the site IDs and names: plain text in Streamlit 1.67
            page.get_by_role("option").filter(has_text="sitename link").first.wait_for()
            assert page.evaluate(_ATTRIBUTES_NAMING, origin) == [], "the open list of sites"
            page.keyboard.press("Enter")
            page.wait_for_function(
                "() => [...document.querySelectorAll('[data-testid=stMetricLabel]')].some(m =>"
                " m.closest('[data-stale=\"true\"]') === null && /^Site .* randomized$/.test(m.innerText.trim()))"
            )
            wait_idle(page)
            live = page.evaluate(_ATTRIBUTES_NAMING, origin)
            assert live == [], (spec.key, "site detail", live)
            label = (
                page.get_by_test_id("stMetricLabel")
                .filter(has_text=re.compile(r"^Site .* randomized$"))
                .first.inner_text()
            )
            # shown as typed (escape.markdown's invisible word joiner keeps the URL from becoming a link)
            assert label.strip().replace("\u2060", "") == f"Site {hostile_server['siteid']} randomized", label
        if spec.key == "safety":
            # a hover label of the adverse-event chart (system organ classes from the data)
            # (its tick labels are cut to three lines, figures.common.tick_lines: the whole class
            # name, markup and all, is in the hover label)
            chart = page.locator(".js-plotly-plot").filter(has_text="Grade 5").first
            chart.scroll_into_view_if_needed()
            boxes = [b for b in (p.bounding_box() for p in chart.locator("g.point path").all()) if b and b["width"] > 4]
            assert boxes, "no bar to hover"
            hover = chart.locator(".hoverlayer")
            for box in boxes:  # the bars of a hostile class: its hover label holds the markup
                page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
                chart.locator(".hoverlayer .hovertext").first.wait_for()
                if "aesoc link" in hover.text_content():
                    break
            assert "aesoc link" in hover.text_content() and "<a href=" in hover.text_content()
            assert page.evaluate(_ATTRIBUTES_NAMING, origin) == [], "a hover label"
        text = page.evaluate(_ALL_TEXT)
        shown |= {tag for tag in ("sitename link", "aesoc link", "siteid", "<a href=", "<img src=") if tag in text}
    page.wait_for_load_state("networkidle")
    assert asked == [] and trap["hits"] == [], (asked, trap["hits"])
    # not vacuous: the markup reached the pages, as text (a chart's labels, a caption)
    assert "aesoc link" in shown and "<a href=" in shown, shown
    if role != "site":  # site 02's hostile SITEID is another site's, which a site user never sees
        assert "siteid" in shown, shown


def test_a_closed_report_reaches_the_dsmb_session_only_and_is_on_the_record(hostile_server, trap, page):
    base = hostile_server["url"]
    seen = []
    page.on("request", lambda r: seen.append(r.url))
    sign_in(page, base, "dsmb.chair")
    open_page(page, "Reports", "Reports")
    before = set(seen)  # the page's own files (its favicon is a /media/ file of the app)
    with page.expect_download(timeout=HANG_MS) as info:
        page.get_by_role("button", name="Make the closed report", exact=True).click()
    download = info.value
    assert re.fullmatch(r"neo-margin-closed-report-\d{4}-\d\d-\d\d\.html", download.suggested_filename)
    report = Path(download.path()).read_text(encoding="utf-8")
    assert report.count('<div class="banner">CONFIDENTIAL - DSMB CLOSED SESSION</div>') == 2
    assert "<h2>CLOSED: survival by arm</h2>" in report
    # on the record, before it was built: the report prints that entry's seq and hash
    entry = _wait_for_audit(
        hostile_server, lambda e: e["action"] == "export: closed report (html)" and e["user"] == "dsmb.chair"
    )
    assert entry["role"] == "dsmb" and entry["data_cut"]["build_id"]
    assert f"Audit log at seq {entry['seq']}, hash {entry['hash']} when this report was made." in report
    # no markup of the data is live in the report either (the hostile site names, AE terms)
    assert f'<a href="{trap["origin"]}' not in report and f'<img src="{trap["origin"]}' not in report
    wait_idle(page)
    # the bytes came over the session's websocket: no media URL was used, and every URL the
    # browser fetched answers a request without the session with nothing confidential
    http_urls = sorted({u for u in seen if u.startswith(base)})
    assert not [u for u in set(seen) - before if u.startswith(base + "/media/")], sorted(set(seen) - before)
    assert http_urls, seen
    for url in http_urls:
        try:
            with urllib.request.urlopen(url, timeout=30) as answer:
                body = answer.read()
        except urllib.error.HTTPError as exc:
            body = exc.read()
        for secret in (b"CONFIDENTIAL", b"CLOSED: survival by arm", entry["hash"].encode()):
            assert secret not in body, (url, secret)
    assert_healthy(page)


def test_a_listing_export_is_formula_escaped_and_on_the_record(hostile_server, trap, page):
    sign_in(page, hostile_server["url"], "dm.user")
    open_page(page, "Protocol deviations", "Protocol deviations")
    page.get_by_role("tab", name="Reported").click()
    button = page.get_by_role("button", name="Export deviation listing: reported (CSV)")
    with page.expect_download(timeout=HANG_MS) as info:
        button.click()
    download = info.value
    assert download.suggested_filename.startswith("neo-margin-deviations-reported-")
    raw = Path(download.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte-order mark, for spreadsheets
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    cells = [c for r in body for c in r]
    formula = FORMULA.format(origin=trap["origin"])
    assert cells.count("'" + formula) >= 1, header
    assert formula not in cells
    assert not [c for c in cells + header if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert any("<a href=" in c for c in cells)  # other text kept as it was: a CSV has no markup
    entry = _wait_for_audit(hostile_server, lambda e: e["action"] == "export: listing (csv)" and e["user"] == "dm.user")
    assert entry["detail"]["listing"] == "deviation listing: reported"
    assert entry["detail"]["rows"] == len(body) > 0
    assert entry["detail"]["file"] == download.suggested_filename
    assert entry["role"] == "data_manager" and entry["data_cut"]["build_id"] and entry["data_cut"]["cutoff"]
    # the tables' own CSV download (not audited, formulas kept) is off
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.hover()
    assert page.get_by_role("button", name="Download as CSV").count() == 0
    assert trap["hits"] == []
    assert_healthy(page)
