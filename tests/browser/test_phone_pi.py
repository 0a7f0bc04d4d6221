"""Issue 13, the PI between operations on a 390x844 phone, and the accrual page at 1440x900: the
first screen answers "are we on track"; nothing scrolls sideways; the sidebar closes after a page
is chosen (app/ui.py phone_navigation); the sites table shows all its rows and columns on a
desktop; no code or Python placeholder on the PI's enrollment pages. Full-page screenshots go to
artifacts/screenshots/."""

from __future__ import annotations

import re

from conftest import HANG_MS, assert_healthy, open_page, screenshot, sign_in, wait_idle

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}

COLLAPSED = """() => document.querySelector('[data-testid="stSidebar"]')?.getAttribute('data-collapsed') === 'true'"""


def _no_sideways_scroll(page) -> None:
    assert page.evaluate("document.scrollingElement.scrollWidth") <= page.viewport_size["width"]
    # nor inside the page's own scrolling section
    assert page.evaluate(
        "[...document.querySelectorAll('[data-testid=stMain]')].every(e => e.scrollWidth <= e.clientWidth + 1)"
    )


def _on_first_screen(page, text: str) -> None:
    box = page.get_by_text(text, exact=False).first.bounding_box()
    assert box is not None, text
    assert 0 <= box["y"] and box["y"] + box["height"] <= PHONE["height"], (text, box)


def test_phone_first_screen_and_sidebar(server, browser):
    context = browser.new_context(viewport=PHONE)
    context.set_default_timeout(HANG_MS)
    page = context.new_page()
    try:
        sign_in(page, server["url"], "pi.user")
        assert page.locator("h1").first.inner_text().startswith("Accrual and sites")
        page.wait_for_function(COLLAPSED)  # a phone opens with the sidebar closed
        # the first screen: randomized of target and %, against the plan, last 30 days, completion, sites
        for text in ("Randomized", "of the target", "Against the plan", "Last 30 days", "Projected completion"):
            _on_first_screen(page, text)
        assert re.search(r"\d+ (ahead|behind)|on plan", page.inner_text("body"))
        _on_first_screen(page, "Fastest site")
        _on_first_screen(page, "slowest")
        _no_sideways_scroll(page)
        # the per-site numbers wrap instead of scrolling sideways
        sites = page.get_by_test_id("stTable").first
        assert sites.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
        assert_healthy(page)
        screenshot(page, "phone-pi-accrual")
        # open the sidebar, choose a page: the sidebar closes and the page has changed
        page.get_by_test_id("stExpandSidebarButton").click()
        page.wait_for_function("() => !(" + COLLAPSED + ")()")
        open_page(page, "Arm balance", "Arm balance")
        page.wait_for_function(COLLAPSED)
        expand = page.get_by_test_id("stExpandSidebarButton")
        assert (
            expand.evaluate(
                "e => e.getAttribute('aria-expanded') ?? e.querySelector('button').getAttribute('aria-expanded')"
            )
            == "false"
        )
        assert page.locator("h1").first.inner_text().startswith("Arm balance")
        _no_sideways_scroll(page)
        screenshot(page, "phone-pi-balance")
        # the charts keep their labels at 390 px: plotly's axes push the margins (automargin)
        # (waited for: a chart still being laid out after the page change has no full layout yet)
        page.wait_for_function(
            """() => { const plots = [...document.querySelectorAll('.js-plotly-plot')]
                .filter(p => p.closest('[data-stale="true"]') === null);
              return plots.length >= 2 && plots.every(p => p._fullLayout?.yaxis?.automargin === true
                && p._fullLayout?.xaxis?.automargin === true && p._fullLayout?.legend?.yref === 'container'); }"""
        )
        for link, heading, key in (
            ("Protocol deviations", "Protocol deviations", "deviations"),
            ("Data quality", "Data quality", "data_quality"),
        ):
            page.get_by_test_id("stExpandSidebarButton").click()
            open_page(page, link, heading)
            page.wait_for_function(COLLAPSED)
            assert_healthy(page)
            _no_sideways_scroll(page)
            screenshot(page, f"phone-pi-{key}")
    finally:
        context.close()


BANNED = re.compile(r"\bNone\b|\bNaT\b|\bnan\b|00:00:00|\bsubjid\b|\bdvstdat\b|response_imaging|SCREEN FAILURE|\|")


def test_enrollment_pages_read_as_labels_and_the_sites_table_fits(server, browser):
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(HANG_MS)
    page = context.new_page()
    try:
        sign_in(page, server["url"], "pi.user")
        page.get_by_text("Site details: activation, screening, screen failures").click()
        grid = page.get_by_test_id("stDataFrame").first
        grid.wait_for()
        wait_idle(page)
        # every column and every row of the sites table in view: no inner scrolling either way
        fits = grid.evaluate(
            """e => { const s = e.querySelector('.dvn-scroller') || e;
                     return [s.scrollWidth <= s.clientWidth + 1, s.scrollHeight <= s.clientHeight + 1]; }"""
        )
        assert fits == [True, True], fits
        screenshot(page, "desktop-pi-accrual")
        for link, heading, key in (
            ("Arm balance", "Arm balance", "balance"),
            ("Protocol deviations", "Protocol deviations", "deviations"),
            ("Data quality", "Data quality", "data_quality"),
        ):
            open_page(page, link, heading)
            assert_healthy(page)
            # what a person reads: the page's text without the icons' ligature names (keyboard_arrow_right)
            text = page.evaluate(
                """() => { const m = document.querySelector('[data-testid="stMain"]').cloneNode(true);
                  m.querySelectorAll('[data-testid="stIconMaterial"], [translate="no"]').forEach(e => e.remove());
                  return m.textContent; }"""
            )
            found = sorted({m.group(0) for m in BANNED.finditer(text)})
            assert found == [], (key, found)
            assert not re.search(r"\b[a-z]+_[a-z_]+\b", text), (key, re.findall(r"\b[a-z]+_[a-z_]+\b", text))
            screenshot(page, f"desktop-pi-{key}")
    finally:
        context.close()
