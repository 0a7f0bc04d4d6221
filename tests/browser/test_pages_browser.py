"""Every page of every role in a real browser: sign in, open each page from the navigation, wait
for the app to be idle, check the page's title and that no exception or traceback is shown, and
leave a screenshot in artifacts/screenshots/. Then the main interactions and a phone viewport."""
from __future__ import annotations

import pytest

from conftest import assert_healthy, screenshot, sign_in, wait_for_text, wait_idle
from dashboard.access.roles import Viewer, pages_for

USERS = {"pi": "pi.user", "steering": "steering.user", "site": "site01.user", "data_manager": "dm.user",
         "dsmb": "dsmb.chair", "admin": "admin.user"}


@pytest.mark.parametrize("role", list(USERS))
def test_every_page_of_the_role(server, page, role):
    viewer = Viewer(role, "01" if role == "site" else None)
    # a closed deployment asks nothing of the internet: every request stays on the server
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((server["url"], "data:", "blob:"))
            else None)
    sign_in(page, server["url"], USERS[role])
    links = page.locator('[data-testid="stSidebarNavLink"]')
    expected = [p.title for p in pages_for(viewer)]
    assert [links.nth(i).inner_text().strip().split("\n")[-1] for i in range(links.count())] == expected
    for i, spec in enumerate(pages_for(viewer)):
        links.nth(i).click()
        title = spec.title.split(" (")[0]
        page.locator("h1").filter(has_text=title).first.wait_for(timeout=60_000)
        wait_idle(page)
        heading = page.locator("h1").first.inner_text()
        assert heading.startswith(spec.title.split(" (")[0]), (role, spec.key, heading)
        assert_healthy(page)
        screenshot(page, f"{role}-{spec.key}")
    assert outside == []


def test_survival_endpoint_switch(server, page):
    sign_in(page, server["url"], "steering.user")
    page.locator('[data-testid="stSidebarNavLink"]').filter(has_text="Survival (pooled)").click()
    wait_for_text(page, "Median follow-up")
    events_os = page.get_by_test_id("stMetric").filter(has_text="Events").inner_text()
    page.get_by_test_id("stButtonGroup").get_by_text("Disease-free survival").click()
    page.wait_for_function("t => ![...document.querySelectorAll('[data-testid=\"stMetric\"]')]"
                           ".some(m => m.innerText === t)", arg=events_os, timeout=60_000)
    wait_idle(page)
    events_dfs = page.get_by_test_id("stMetric").filter(has_text="Events").inner_text()
    assert events_os != events_dfs              # more recurrences-or-deaths than deaths
    assert_healthy(page)


def test_site_detail_filter(server, page):
    sign_in(page, server["url"], "pi.user")
    page.get_by_test_id("stSelectbox").filter(has_text="Site detail").click()
    page.keyboard.type("02 ")
    page.keyboard.press("Enter")
    wait_for_text(page, "Site 02 randomized")
    assert page.get_by_test_id("stMetric").filter(has_text="Site 02 randomized").count() == 1
    assert_healthy(page)


def test_report_download(server, page):
    sign_in(page, server["url"], "dsmb.chair")
    page.locator('[data-testid="stSidebarNavLink"]').filter(has_text="Reports").click()
    wait_for_text(page, "Make the closed report")
    page.get_by_role("button", name="Make the closed report").click()
    page.get_by_role("button", name="Download HTML").first.wait_for(timeout=120_000)
    with page.expect_download(timeout=60_000) as info:
        page.get_by_role("button", name="Download HTML").first.click()
    path = info.value.path()
    text = open(path, encoding="utf-8").read()
    assert "CONFIDENTIAL - DSMB CLOSED SESSION" in text or "open monitoring report" in text
    assert_healthy(page)


def test_the_accrual_page_on_a_phone(server, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    try:
        sign_in(page, server["url"], "pi.user")
        wait_idle(page)
        collapse = page.get_by_test_id("stSidebarCollapseButton")
        if collapse.count() and collapse.is_visible():
            collapse.locator("button").first.click() if collapse.locator("button").count() else collapse.click()
            page.wait_for_timeout(500)
        body = page.inner_text("body")
        assert "Accrual and sites" in body and "Randomized" in body
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"horizontal scrolling: the page is {width}px wide"
        assert_healthy(page)
        screenshot(page, "phone-accrual")
    finally:
        context.close()
