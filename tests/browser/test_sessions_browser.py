"""A sign-in survives a reload, a typed URL and a second tab, until sign-out or the idle timeout
(dashboard/access/sessions.py, app/serve.py); a deep link opens after the sign-in; a reload writes
nothing to the audit log."""

from __future__ import annotations

from conftest import (
    IDLE_MINUTES,
    PASSWORD,
    _cli,
    audit_entries,
    open_page,
    sign_in,
    wait_for_audit,
    wait_for_text,
    wait_idle,
)
from dashboard.access.sessions import COOKIE


def _signed_in(page) -> bool:
    return (
        page.locator('[data-testid="stSidebarNav"]').count() > 0
        and page.get_by_role("textbox", name="User name").count() == 0
    )


def _reload(page) -> None:
    page.reload()
    wait_idle(page)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stSidebarNav\"]') !== null"
        " || document.querySelector('input[autocomplete=\"username\"]') !== null"
    )
    wait_idle(page)


def _wait_cookie(context) -> dict:
    page = context.pages[0]
    page.wait_for_function("() => true")  # the cookie's fetch runs right after the signed-in run
    for _ in range(600):
        found = [c for c in context.cookies() if c["name"] == COOKIE]
        if found:
            return found[0]
        page.wait_for_timeout(100)
    raise AssertionError("the session cookie was never set")


def _sign_ins(server, user: str) -> int:
    return sum(1 for e in audit_entries(server) if e["action"] == "sign-in" and e["user"] == user)


def _add_user(server, name: str, role: str = "pi") -> None:
    _cli(server["env"], "users", "add", name, "--role", role, "--password-stdin", stdin=PASSWORD + "\n")


def test_a_reload_and_a_typed_url_keep_the_session_and_write_no_new_sign_in(server, page, context):
    _add_user(server, "reload.user")
    sign_in(page, server["url"], "reload.user")
    cookie = _wait_cookie(context)
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert COOKIE not in page.evaluate("document.cookie")  # no script of the page can read it
    assert _sign_ins(server, "reload.user") == 1
    _reload(page)
    assert _signed_in(page), page.inner_text("body")[:300]
    page.goto(server["url"] + "/survival")
    wait_for_text(page, "Survival")
    assert page.locator("h1").first.inner_text().startswith("Survival") and _signed_in(page)
    second = context.new_page()  # a second tab of the same browser
    second.goto(server["url"] + "/safety")
    wait_idle(second)
    second.wait_for_function(
        "() => document.querySelector('h1') && document.querySelector('h1').innerText.startsWith('Safety')"
    )
    for _ in range(3):
        _reload(page)
    assert _signed_in(page)
    assert _sign_ins(server, "reload.user") == 1  # one sign-in, however often the page is reloaded


def test_a_deep_link_opens_that_page_after_the_sign_in(server, page):
    _add_user(server, "deeplink.user")
    sign_in(page, server["url"], "deeplink.user", path="survival")
    assert page.url.endswith("/survival")
    assert page.locator("h1").first.inner_text().startswith("Survival")


def test_sign_out_ends_the_session_in_every_tab(server, page, context):
    _add_user(server, "signout.user")
    sign_in(page, server["url"], "signout.user")
    _wait_cookie(context)
    other = context.new_page()
    other.goto(server["url"] + "/survival")
    wait_idle(other)
    other.wait_for_selector('[data-testid="stSidebarNav"]')
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("textbox", name="User name").wait_for()
    _reload(other)
    assert not _signed_in(other) and "Survival (pooled" not in other.inner_text("body")
    _reload(page)
    assert not _signed_in(page)
    log = wait_for_audit(server, lambda e: e["action"] == "sign-out" and e["user"] == "signout.user")
    assert sum(1 for e in log if e["action"] == "sign-out" and e["user"] == "signout.user") == 1


def test_an_idle_session_is_not_resumed_by_a_reload(server, page, context, clock):
    _add_user(server, "idlereload.user")
    sign_in(page, server["url"], "idlereload.user")
    _wait_cookie(context)
    clock.ahead(IDLE_MINUTES * 60 + 120)
    _reload(page)
    assert not _signed_in(page)
    log = wait_for_audit(server, lambda e: e["action"] == "session expired" and e["user"] == "idlereload.user")
    assert sum(1 for e in log if e["action"] == "session expired" and e["user"] == "idlereload.user") == 1
    clock.ahead(0)
    _reload(page)  # the cookie of the expired session opens nothing, even with the clock back
    assert not _signed_in(page)


def test_a_changed_password_ends_the_session_at_the_next_reload(server, page, context):
    _add_user(server, "changed.user")
    sign_in(page, server["url"], "changed.user")
    _wait_cookie(context)
    _cli(server["env"], "users", "passwd", "changed.user", "--password-stdin", stdin="another-password-9\n")
    _reload(page)
    assert not _signed_in(page)
    assert "account has changed" in page.inner_text("body")


def test_a_forged_cookie_opens_nothing(server, page, context):
    context.add_cookies([{"name": COOKIE, "value": "x" * 43, "url": server["url"]}])
    page.goto(server["url"] + "/survival")
    wait_idle(page)
    page.get_by_role("textbox", name="User name").wait_for()
    assert not _signed_in(page)


def test_a_page_link_still_opens_after_a_reload(server, page, context):
    _add_user(server, "nav.user")
    sign_in(page, server["url"], "nav.user")
    _wait_cookie(context)
    _reload(page)
    open_page(page, "Safety signals (pooled)", "Safety")
