"""Access control in a real browser on a freshly started server: typed URLs, wrong passwords,
lockout, idle expiry, a site user's own site."""
from __future__ import annotations

import json
import subprocess
import sys
import time

from conftest import IDLE_SECONDS, PASSWORD, assert_healthy, screenshot, sign_in, wait_for_text, wait_idle


def test_a_page_url_on_a_fresh_server_shows_the_sign_in_not_the_page(server, page):
    """Streamlit serves a pages/ folder beside the entrypoint before st.navigation runs; ours is
    not beside it, so a typed page URL on a fresh server gets the sign-in form."""
    for path in ("deviations", "survival", "safety", "audit", "users"):
        page.goto(f"{server['url']}/{path}")
        wait_idle(page)
        body = page.inner_text("body")
        assert "Sign in" in body and "User name" in body, path
        for content in ("Kaplan-Meier", "Number at risk", "Eligibility, criterion", "Chain intact"):
            assert content not in body, (path, content)
    screenshot(page, "fresh-server-typed-url")
    # the page file's own path is not served as a page at all (static serving is off)
    page.goto(f"{server['url']}/pages/survival.py")
    page.wait_for_timeout(3000)
    body = page.inner_text("body")
    assert "Number at risk" not in body and "Kaplan-Meier" not in body


def test_wrong_password_is_refused(server, page):
    sign_in(page, server["url"], "pi.user", "not the password")
    body = page.inner_text("body")
    assert "Sign-in refused: wrong user name or password" in body
    assert "Accrual and sites" not in body


def test_lockout_after_three_failures(server, page):
    for _ in range(3):
        sign_in(page, server["url"], "locked.user", "wrong password")
    assert "locked" in page.inner_text("body")
    sign_in(page, server["url"], "locked.user", PASSWORD)          # the right one, too late
    body = page.inner_text("body")
    assert "locked" in body and "Accrual and sites" not in body


CLOSED_PAGES = ("closed_survival", "closed_interim", "closed_safety", "closed_surgery")


def test_a_blinded_user_typing_an_admin_or_closed_url_gets_none_of_it(server, page):
    for user in ("pi.user", "steering.user"):
        for path in ("audit", "users") + CLOSED_PAGES:
            sign_in(page, server["url"], user, path=path)
            wait_idle(page)
            body = page.inner_text("body")
            assert "Chain intact" not in body and "Users file" not in body, path
            for closed_text in ("CONFIDENTIAL", "Non-inferiority", "Interim monitoring", "Conditional power",
                                "Hazard ratio", "by arm"):
                assert closed_text not in body, (user, path, closed_text)
            assert_healthy(page)


def test_the_dsmb_chair_opens_the_closed_pages(server, page):
    sign_in(page, server["url"], "dsmb.chair")
    for title in ("Survival by arm", "Interim monitoring", "Safety by arm", "Surgical quality by arm"):
        page.locator('[data-testid="stSidebarNavLink"]').filter(has_text=title).click()
        wait_for_text(page, "CONFIDENTIAL - DSMB CLOSED SESSION")
        page.locator("h1").filter(has_text=title).first.wait_for(timeout=60_000)
        body = page.inner_text("body")
        assert "CONFIDENTIAL - DSMB CLOSED SESSION" in body, title
        assert_healthy(page)
        screenshot(page, "dsmb-" + title.lower().replace(" ", "-"))


def test_idle_sessions_expire(server, page):
    sign_in(page, server["url"], "idle.user")
    assert "Accrual and sites" in page.inner_text("body")
    time.sleep(IDLE_SECONDS + 2)
    page.locator('[data-testid="stSidebarNavLink"]').nth(1).click()
    wait_for_text(page, "Signed out after")
    assert "User name" in page.inner_text("body")
    log = [json.loads(l) for l in (server["tmp"] / "audit.jsonl").read_text(encoding="utf-8").splitlines()]
    assert any(e["action"] == "session expired" and e["user"] == "idle.user" for e in log)


def test_a_site_user_sees_only_their_site(server, page):
    summary = json.loads(subprocess.run(
        [sys.executable, "-m", "dashboard", "summary", "--warehouse", server["env"]["NEO_MARGIN_WAREHOUSE"],
         "--role", "site", "--site", "01"], env=server["env"], capture_output=True, text=True, check=True).stdout)
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
    log = [json.loads(l) for l in (server["tmp"] / "audit.jsonl").read_text(encoding="utf-8").splitlines()]
    mine = [e["action"] for e in log if e["user"] == "steering.user"]
    assert mine[-2:] == ["sign-in", "sign-out"]
    assert log[-1]["data_cut"]["cutoff"] == "2028-06-30"
    verify = subprocess.run([sys.executable, "-m", "dashboard", "audit", "verify"], env=server["env"],
                            capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout
