"""Every page of every role in a real browser: sign in, open each page from the navigation, wait
for the app to be idle, check the page's title and that no exception or traceback is shown, and
leave a screenshot in artifacts/screenshots/. Then the main interactions and a phone viewport."""

from __future__ import annotations

import re

import pytest

from conftest import (
    HANG_MS,
    assert_healthy,
    hidden_table_parts,
    open_page,
    screenshot,
    sign_in,
    summary_of,
    wait_for_audit,
    wait_for_text,
    wait_idle,
)
from dashboard.access.roles import Viewer, pages_for

USERS = {
    "pi": "pi.user",
    "steering": "steering.user",
    "site": "site01.user",
    "data_manager": "dm.user",
    "dsmb": "dsmb.chair",
    "admin": "admin.user",
}


@pytest.mark.parametrize("role", list(USERS))
def test_every_page_of_the_role(server, page, role):
    viewer = Viewer(role, "01" if role == "site" else None)
    # a closed deployment asks nothing of the internet: every request stays on the server
    outside = []
    page.on(
        "request", lambda r: outside.append(r.url) if not r.url.startswith((server["url"], "data:", "blob:")) else None
    )
    sign_in(page, server["url"], USERS[role])
    hidden = []
    links = page.locator('[data-testid="stSidebarNavLink"]')
    expected = [p.title for p in pages_for(viewer)]
    assert [links.nth(i).inner_text().strip().split("\n")[-1] for i in range(links.count())] == expected
    for spec in pages_for(viewer):
        title = spec.title.split(" (")[0]
        open_page(page, spec.title, title)
        heading = page.locator("h1").first.inner_text()
        assert heading.startswith(spec.title.split(" (")[0]), (role, spec.key, heading)
        assert_healthy(page)
        hidden.extend((spec.key, t) for t in hidden_table_parts(page))
        screenshot(page, f"{role}-{spec.key}")
    assert outside == []
    assert hidden == [], f"tables that hide columns or rows at 1440x900: {hidden}"


def _metric_reads(page, label: str, value) -> None:
    """Wait until the metric `label` shows `value` (a number the summary command computed)."""
    page.wait_for_function(
        """([label, value]) => [...document.querySelectorAll('[data-testid="stMetric"]')].some(m =>
            m.closest('[data-stale="true"]') === null
            && m.querySelector('[data-testid="stMetricLabel"]')?.innerText.trim() === label
            && m.querySelector('[data-testid="stMetricValue"]')?.innerText.trim() === value)""",
        arg=[label, str(value)],
        timeout=HANG_MS,
    )


def test_survival_endpoint_switch(server, page):
    summary = summary_of(server, "steering")
    events = {e: summary["survival"][e]["pooled"]["events"] for e in ("os", "dfs")}
    assert events["dfs"] > events["os"]  # more recurrences-or-deaths than deaths: the switch shows
    sign_in(page, server["url"], "steering.user")
    open_page(page, "Survival (pooled)", "Survival")
    _metric_reads(page, "Events", events["os"])
    assert "Deaths against the design" in page.inner_text("body")
    page.get_by_test_id("stButtonGroup").get_by_text("Disease-free survival").click()
    _metric_reads(page, "Events", events["dfs"])  # what the click must show
    wait_idle(page)
    assert "Deaths against the design" not in page.inner_text("body")  # an OS-only section, gone
    assert_healthy(page)


def test_site_detail_filter(server, page):
    sign_in(page, server["url"], "pi.user")
    page.get_by_test_id("stSelectbox").filter(has_text="Site detail").click()
    page.keyboard.type("02 ")
    page.keyboard.press("Enter")
    wait_for_text(page, "Site 02 randomized")
    assert page.get_by_test_id("stMetric").filter(has_text="Site 02 randomized").count() == 1
    assert_healthy(page)


CLOSED_SECTIONS = (
    "CLOSED: non-inferiority",
    "CLOSED: survival by arm",
    "CLOSED: interim monitoring",
    "CLOSED: safety by arm",
    "CLOSED: surgical quality",
)


def test_the_closed_report_download_is_the_closed_report(server, page):
    """Asked for the closed report, the DSMB chair gets the closed report itself, from its own
    button: its CONFIDENTIAL banners and closed-only sections, and nothing of the open report. The
    file comes over the session's own connection (pages/reports.py, app.ui.deliver), not a URL."""
    sign_in(page, server["url"], "dsmb.chair")
    open_page(page, "Reports", "Reports")
    with page.expect_download(timeout=HANG_MS) as info:
        page.get_by_role("button", name="Make the closed report", exact=True).click()
    download = info.value
    wait_idle(page)
    assert page.locator(".st-key-delivered-open").count() == 0  # the open one was never asked for
    assert page.locator(".st-key-delivered-closed iframe").count() == 1
    assert re.fullmatch(r"neo-margin-closed-report-\d{4}-\d\d-\d\d\.html", download.suggested_filename)
    text = open(download.path(), encoding="utf-8").read()
    assert "<h1>Neo-Margin (NCT07320690) closed monitoring report</h1>" in text
    assert text.count('<div class="banner">CONFIDENTIAL - DSMB CLOSED SESSION</div>') == 2  # top and foot
    for heading in CLOSED_SECTIONS:
        assert f"<h2>{heading}</h2>" in text, heading
    assert "open monitoring report" not in text
    assert "Outcomes pooled over both arms (blinding rule" not in text  # the open report's note
    log = wait_for_audit(server, lambda e: e["action"] == "export: closed report (html)" and e["user"] == "dsmb.chair")
    entry = [e for e in log if e["action"] == "export: closed report (html)"][-1]
    assert f"Audit log at seq {entry['seq']}, hash {entry['hash']} when this report was made." in text
    assert_healthy(page)


def test_every_page_of_the_pi_on_a_phone(server, browser):
    """The PI between operations, on a 390x844 phone: every page of the role opens from the
    sidebar (which closes again), is healthy, does not scroll sideways, and is kept as a
    full-page screenshot."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    context.set_default_timeout(HANG_MS)
    context.set_default_navigation_timeout(HANG_MS)
    page = context.new_page()
    collapsed = "() => document.querySelector('[data-testid=\"stSidebar\"]')?.getAttribute('data-collapsed') === 'true'"
    try:
        sign_in(page, server["url"], "pi.user")
        page.wait_for_function(collapsed)
        for spec in pages_for(Viewer("pi")):
            page.get_by_test_id("stExpandSidebarButton").click()
            page.wait_for_function("() => !(" + collapsed + ")()")
            open_page(page, spec.title, spec.title.split(" (")[0])
            page.wait_for_function(collapsed)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{spec.key}: horizontal scrolling, the page is {width}px wide"
            assert_healthy(page)
            screenshot(page, f"phone-pi-{spec.key}")
    finally:
        context.close()
