"""Attacks on the sign-in sessions (dashboard/access/sessions.py, app/serve.py, app/auth.py) that
once worked, kept as regressions:

- an account removed or given a new password kept every tab that was already open: only a reload
  checked the account, so a removed DSMB member went on opening the closed pages in that tab;
- behind the TLS proxy of docs/security.md (which adds no X-Forwarded-Proto) the cookie was set
  without Secure, so the browser sent it over plain HTTP to any other port of the same host name:
  a shell account on the server ran a server there, read the cookie and resumed the session.
"""

from __future__ import annotations

import urllib.error
import urllib.request

from conftest import PASSWORD, _cli, open_page, sign_in, wait_for_audit, wait_for_text
from dashboard.access.sessions import COOKIE, ROUTE, TICKET_HEADER


def _add_user(server, name: str, role: str) -> None:
    _cli(server["env"], "users", "add", name, "--role", role, "--password-stdin", stdin=PASSWORD + "\n")


def test_a_removed_account_loses_the_tab_it_has_open(server, page):
    _add_user(server, "removed.dsmb", "dsmb")
    sign_in(page, server["url"], "removed.dsmb")
    open_page(page, "Safety by arm", "Safety by arm")
    _cli(server["env"], "users", "remove", "removed.dsmb")
    # the next click in the same tab (no reload): the sign-in page, not the closed page
    page.locator('[data-testid="stSidebarNavLink"]').filter(
        has=page.get_by_text("Interim monitoring", exact=True)
    ).click()
    wait_for_text(page, "account has changed")
    assert page.get_by_role("textbox", name="User name").count() == 1
    assert page.locator('[data-testid="stSidebarNavLink"]').count() == 0
    wait_for_audit(
        server,
        lambda e: (
            e["action"] == "session ended"
            and e["user"] == "removed.dsmb"
            and (e.get("detail") or {}).get("reason") == "account changed"
        ),
    )


def test_the_cookie_is_secure_when_the_page_is_https_behind_a_proxy(server, page):
    """The page posts its ticket itself; this test takes it instead and posts it the way the
    documented nginx proxy forwards the browser's request from https://monitor.example.org: plain
    HTTP to Streamlit, the page's Origin, no X-Forwarded-Proto."""
    _add_user(server, "proxied.user", "pi")
    tickets: list[str] = []

    def take(route, request):
        if request.method == "POST":
            tickets.append(request.headers[TICKET_HEADER.lower()])
            route.abort()
        else:
            route.continue_()

    page.route("**" + ROUTE, take)
    sign_in(page, server["url"], "proxied.user")
    page.wait_for_function("() => true")
    for _ in range(600):
        if tickets:
            break
        page.wait_for_timeout(100)
    assert tickets, "the page never posted its ticket"
    request = urllib.request.Request(
        server["url"] + ROUTE,
        method="POST",
        headers={TICKET_HEADER: tickets[0], "Origin": "https://monitor.example.org", "Host": "monitor.example.org"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        assert answer.status == 204
        set_cookie = answer.headers.get("Set-Cookie", "")
    assert set_cookie.startswith(COOKIE + "=")
    attributes = [a.strip().lower() for a in set_cookie.split(";")[1:]]
    assert "secure" in attributes, set_cookie
    assert "httponly" in attributes


def test_a_plain_http_page_still_gets_a_cookie_it_can_use(server, page, context):
    """The fix must not break a server reached over plain HTTP on localhost (the tests, a laptop):
    the browser's own post from http://127.0.0.1 sets a cookie without Secure that a reload uses."""
    _add_user(server, "plain.user", "pi")
    sign_in(page, server["url"], "plain.user")
    page.wait_for_function("() => true")
    for _ in range(600):
        found = [c for c in context.cookies() if c["name"] == COOKIE]
        if found:
            break
        page.wait_for_timeout(100)
    assert found and not found[0]["secure"]
    try:
        urllib.request.urlopen(urllib.request.Request(server["url"] + ROUTE, method="POST"), timeout=60)
        raise AssertionError("a post without a ticket set a cookie")
    except urllib.error.HTTPError as exc:
        assert exc.code == 403
