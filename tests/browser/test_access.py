"""Access control in a real browser on a freshly started server: typed URLs, wrong passwords, the
sign-in throttle, idle expiry that clears the screen without a click, demo accounts only in demo
mode, a site user's own site."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

from conftest import (
    HANG_MS,
    IDLE_MINUTES,
    MAX_FAILED_LOGINS,
    PASSWORD,
    assert_healthy,
    audit_entries,
    open_page,
    screenshot,
    sign_in,
    summary_of,
    wait_for_audit,
    wait_for_text,
    wait_idle,
)
from dashboard.access import accounts


def test_a_page_url_on_a_fresh_server_shows_the_sign_in_not_the_page(server, page):
    """Streamlit serves a pages/ folder beside the entrypoint before st.navigation runs; ours is
    not beside it, so a typed page URL on a fresh server gets the sign-in form."""
    for path in ("deviations", "survival", "safety", "audit", "users"):
        page.goto(f"{server['url']}/{path}")
        # what must appear: the form (the script state reads notRunning before the first run, too)
        page.get_by_role("textbox", name="User name").wait_for()
        wait_idle(page)
        body = page.inner_text("body")
        assert "Sign in" in body and "User name" in body, path
        for content in ("Kaplan-Meier", "Number at risk", "Eligibility, criterion", "Chain intact"):
            assert content not in body, (path, content)
    screenshot(page, "fresh-server-typed-url")
    # The page file's own path is not served at all (static serving is off): the server answers it
    # with the same app shell as a path that names nothing, so neither the file nor its page leaves
    # the server. (The shell's relative script paths do not even load under /pages/, so a browser
    # shows nothing there; asserting a blank page after a fixed wait proved nothing.)
    shell = urllib.request.urlopen(f"{server['url']}/no-such-path-at-all", timeout=HANG_MS / 1000).read()
    served = page.goto(f"{server['url']}/pages/survival.py", wait_until="load")
    assert served.ok and served.body() == shell
    assert b"ui.page(" not in shell and b"Number at risk" not in shell
    body = page.inner_text("body")
    assert "Number at risk" not in body and "Kaplan-Meier" not in body


def test_wrong_password_is_refused(server, page):
    sign_in(page, server["url"], "pi.user", "not the password")
    body = page.inner_text("body")
    assert "Sign-in refused: wrong user name or password" in body
    assert "Accrual and sites" not in body


def test_failed_sign_ins_slow_the_name_alike_known_or_not_and_the_owner_still_gets_in(server, page):
    """No lockout: past the free failures each attempt on a name waits, whether the name exists or
    not, with the same answer; the owner's right password then gets in (after the wait)."""
    tries = MAX_FAILED_LOGINS + 1  # one attempt past the free ones: it waited 1 s, the next waits 2 s
    for name in ("guessed.user", "no.such.user"):
        for attempt in range(tries):
            # each attempt in a new session: the throttle is the name's, not only the session's
            sign_in(page, server["url"], name, "wrong password")
            main = page.get_by_test_id("stMain").inner_text()
            assert "Sign-in refused: wrong user name or password." in main, (name, attempt)
            assert "locked" not in main and "Accrual and sites" not in main
    state = json.loads((server["tmp"] / "users.json.throttle").read_text(encoding="utf-8"))
    # the same state for both names, under a hash of each
    assert [state[accounts._throttle_key(n)]["failed"] for n in ("guessed.user", "no.such.user")] == [tries, tries]
    sign_in(page, server["url"], "guessed.user", PASSWORD)  # the owner: slowed, never locked out
    wait_for_text(page, "Accrual and sites")
    assert_healthy(page)
    log = audit_entries(server)
    for name in ("guessed.user", "no.such.user"):
        failed = [e for e in log if e["user"] == name and e["action"] == "failed sign-in"]
        assert len(failed) == tries and {e["detail"]["reason"] for e in failed} == {"wrong user name or password"}
    assert [e["action"] for e in log if e["user"] == "guessed.user"][-1] == "sign-in"


def test_without_demo_mode_the_demo_accounts_do_not_exist(server, page):
    """The warehouse holds the demo trial (its SOURCE says so, as a forged one would), but this
    server was not started in demo mode: no word of demo accounts, and the published demo password
    gets the answer of an unknown name."""
    page.goto(server["url"])
    page.get_by_role("textbox", name="User name").wait_for()
    wait_idle(page)
    assert "demo accounts" not in page.inner_text("body")
    sign_in(page, server["url"], "demo-dsmb", "neo-margin-demo")
    main = page.get_by_test_id("stMain").inner_text()
    assert "Sign-in refused: wrong user name or password." in main
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0 and "CONFIDENTIAL" not in main


def test_in_demo_mode_the_demo_accounts_open_the_demo(demo_server, page):
    page.goto(demo_server["url"])
    page.get_by_role("textbox", name="User name").wait_for()
    wait_idle(page)
    assert "the demo accounts in the README work here, and only here" in page.inner_text("body")
    sign_in(page, demo_server["url"], "demo-dsmb", "neo-margin-demo")
    open_page(page, "Survival by arm", "Survival by arm")
    assert "CONFIDENTIAL - DSMB CLOSED SESSION" in page.inner_text("body")
    assert_healthy(page)
    assert [e["action"] for e in audit_entries(demo_server) if e["user"] == "demo-dsmb"][:1] == ["sign-in"]


CLOSED_PAGES = ("closed_survival", "closed_interim", "closed_safety", "closed_surgery")


def test_a_blinded_user_typing_an_admin_or_closed_url_gets_none_of_it(server, page):
    for user in ("pi.user", "steering.user"):
        page.context.clear_cookies()  # a new sign-in for each user (a sign-in survives a typed URL)
        for i, path in enumerate(("audit", "users") + CLOSED_PAGES):
            if i == 0:  # signing in at the URL of a page the role may not open...
                sign_in(page, server["url"], user, path=path)
            else:  # ...and typing one, signed in
                page.goto(f"{server['url']}/{path}")
                wait_idle(page)
                page.locator('[data-testid="stSidebarNav"]').wait_for()
            wait_idle(page)
            body = page.inner_text("body")
            assert "Chain intact" not in body and "Users file" not in body, path
            for closed_text in (
                "CONFIDENTIAL",
                "Non-inferiority",
                "Interim monitoring",
                "Conditional power",
                "Hazard ratio",
                "by arm",
            ):
                assert closed_text not in body, (user, path, closed_text)
            assert_healthy(page)


def test_the_dsmb_chair_opens_the_closed_pages(server, page):
    sign_in(page, server["url"], "dsmb.chair")
    for title in ("Survival by arm", "Interim monitoring", "Safety by arm", "Surgical quality by arm"):
        open_page(page, title, title)
        body = page.inner_text("body")
        assert "CONFIDENTIAL - DSMB CLOSED SESSION" in body, title
        assert_healthy(page)
        screenshot(page, "dsmb-" + title.lower().replace(" ", "-"))


def _sign_in_form_without_a_click(page) -> str:
    """Wait, clicking nothing, until the idle timer has replaced the page by the sign-in form; the
    main area's text then."""
    page.wait_for_function(
        "() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
        " return m !== null && m.innerText.includes('Signed out after') && m.innerText.includes('User name'); }",
        timeout=HANG_MS,
    )
    wait_idle(page)
    return page.get_by_test_id("stMain").inner_text()


def test_idle_sessions_expire(server, page, clock):
    """The test moves the server's idle clock (no sleeping through the timeout, no racing the
    machine): just short of the timeout the session lives on through a click; then, 30 s short of it
    and with nobody clicking, the screen clears by itself once the real half minute has passed. That
    can only happen if the idle timer's own runs (every 10 s) do not count as activity: if they did,
    the session would never get more than 10 s older than the moved clock, and would live on."""
    sign_in(page, server["url"], "idle.user")
    assert "Accrual and sites" in page.inner_text("body")
    # five minutes short of the timeout: far more than any real gap between two clicks here
    clock.ahead(IDLE_MINUTES * 60 - 300)
    open_page(page, "Arm balance", "Arm balance")
    assert "Signed out after" not in page.inner_text("body")
    clock.ahead(IDLE_MINUTES * 60 - 30)
    main = _sign_in_form_without_a_click(page)
    assert f"Signed out after {IDLE_MINUTES} minutes without activity." in main and "Arm balance" not in main
    # signed out: no sign-out button, no "signed in as", and the sidebar lists no page of before
    assert page.get_by_role("button", name="Sign out").count() == 0
    body = page.inner_text("body")
    assert "signed in as" not in body and "Protocol deviations" not in body
    assert page.locator('[data-testid="stSidebarNavLink"]').count() == 0
    assert_healthy(page)
    expired = [e for e in audit_entries(server) if e["action"] == "session expired" and e["user"] == "idle.user"]
    assert len(expired) == 1 and expired[0]["detail"]["test_clock_offset_seconds"] == IDLE_MINUTES * 60 - 30
    assert expired[0]["detail"]["idle_minutes"] >= IDLE_MINUTES and expired[0]["detail"]["found_by"] == "timer"


def test_an_idle_closed_page_is_cleared_without_a_click(server, page, clock):
    """The DSMB chair leaves a closed page open: past the timeout its content disappears from the
    screen by itself (nobody clicks), and the expiry is on the record."""
    sign_in(page, server["url"], "dsmb.chair")
    open_page(page, "Survival by arm", "Survival by arm")
    assert "CONFIDENTIAL - DSMB CLOSED SESSION" in page.inner_text("body")
    clock.ahead(IDLE_MINUTES * 60 + 120)
    main = _sign_in_form_without_a_click(page)
    body = page.inner_text("body")
    for closed in ("CONFIDENTIAL", "Survival by arm", "Hazard ratio", "by arm"):
        assert closed not in body, closed
    assert "User name" in main and page.get_by_role("button", name="Sign out").count() == 0
    screenshot(page, "dsmb-idle-cleared")
    log = wait_for_audit(server, lambda e: e["action"] == "session expired" and e["user"] == "dsmb.chair")
    expired = [e for e in log if e["action"] == "session expired" and e["user"] == "dsmb.chair"]
    assert len(expired) == 1 and expired[0]["role"] == "dsmb" and expired[0]["detail"]["found_by"] == "timer"
    assert expired[0]["detail"]["test_clock_offset_seconds"] == IDLE_MINUTES * 60 + 120
    # the closed page's URL, typed again, is the sign-in form, not the page
    page.goto(page.url)
    page.get_by_role("textbox", name="User name").wait_for()
    wait_idle(page)
    assert "CONFIDENTIAL" not in page.inner_text("body")


def test_a_site_user_sees_only_their_site(server, page):
    summary = summary_of(server, "site", "01")
    sign_in(page, server["url"], "site01.user")
    body = page.inner_text("body")
    assert "site 01" in body
    randomized = page.get_by_test_id("stMetric").filter(has_text="Randomized").inner_text()
    assert str(summary["enrollment"]["randomized"]) in randomized
    screenshot(page, "site01-accrual")


def test_sign_in_and_out_are_on_the_record(server, page):
    sign_in(page, server["url"], "steering.user")
    page.get_by_role("button", name="Sign out").click()
    wait_for_text(page, "User name")
    # signed out: the sidebar no longer lists the steering committee's pages
    assert page.locator('[data-testid="stSidebarNavLink"]').count() == 0
    assert "Accrual and sites" not in page.inner_text("body")
    log = audit_entries(server)
    mine = [e["action"] for e in log if e["user"] == "steering.user"]
    assert mine[-2:] == ["sign-in", "sign-out"]
    assert log[-1]["data_cut"]["cutoff"] == "2028-06-30"
    verify = subprocess.run(
        [sys.executable, "-m", "dashboard", "audit", "verify"], env=server["env"], capture_output=True, text=True
    )
    assert verify.returncode == 0, verify.stdout
    # app/main.py set the server's umask: whatever it writes is the service user's only
    status = Path(f"/proc/{server['proc'].pid}/status").read_text(encoding="utf-8")
    assert "Umask:\t0077" in status
