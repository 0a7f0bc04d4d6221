"""Issue 13 at 1440x900 (the browser tests' default viewport): on the closed safety page every
table's columns are in view, the signals table's flag column included, with no sideways scrolling."""

from __future__ import annotations

from conftest import assert_healthy, open_page, screenshot, sign_in

# The width of a data grid's columns (glide-data-grid's scroll content) and of the grid's window.
WIDTHS = """grid => {
    const scroller = grid.querySelector('.dvn-scroller');
    const content = grid.querySelector('.dvn-stack > div');
    return [content.getBoundingClientRect().width, scroller.clientWidth];
}"""


def test_the_safety_by_arm_tables_fit_at_1440(server, page):
    assert page.viewport_size == {"width": 1440, "height": 900}
    sign_in(page, server["url"], "dsmb.chair")
    open_page(page, "Safety by arm", "Safety by arm")
    grids = page.locator('[data-testid="stDataFrame"]')
    assert grids.count() >= 1  # the counts by arm (the signals by arm are a static table: below)
    for i in range(grids.count()):
        grids.nth(i).scroll_into_view_if_needed()
        content, window = grids.nth(i).evaluate(WIDTHS)
        assert content <= window, f"table {i}: columns {content:.0f} px wide in a {window} px window"
    screenshot(page, "dsmb-closed_safety-1440")
    assert_healthy(page)


def test_the_signals_by_arm_flag_column_is_read_whole_at_1440(server, page):
    sign_in(page, server["url"], "dsmb.chair")
    open_page(page, "Safety by arm", "Safety by arm")
    table = page.locator('[data-testid="stTable"]').filter(has_text="Flagged").first
    table.scroll_into_view_if_needed()
    header = table.get_by_role("columnheader", name="Flagged")
    box, width = header.bounding_box(), page.viewport_size["width"]
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= width
    # a flag names the arm and the rule, whole (a static table wraps; nothing is cut)
    cell = table.get_by_role("cell", name="De-escalation surgery (above threshold)")
    cbox = cell.bounding_box()
    assert cbox and cbox["x"] + cbox["width"] <= width
    assert cell.evaluate("c => c.scrollWidth <= c.clientWidth + 1")
    screenshot(page, "dsmb-closed_safety-signals-1440")
    assert_healthy(page)
