"""Local accounts: argon2id hashes, roles, lockout, demo accounts only on demo data, the CLI,
and the single-sign-on claim mapping (the provider itself cannot be reached here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dashboard.access import accounts, audit
from dashboard.access.roles import Viewer


@pytest.fixture
def users(tmp_path):
    return tmp_path / "users.json"


def test_passwords_are_stored_as_argon2id_hashes(users):
    accounts.add_user("chen.wei", "pi", "correct horse battery", path=users)
    raw = users.read_text(encoding="utf-8")
    assert "correct horse battery" not in raw
    assert json.loads(raw)["users"]["chen.wei"]["password_hash"].startswith("$argon2id$")
    assert oct(users.stat().st_mode & 0o777) == "0o600"


def test_sign_in_gives_the_users_role_and_site(users):
    accounts.add_user("site7", "site", "long enough pw", site="07", path=users)
    assert accounts.sign_in("site7", "long enough pw", demo_data=False, path=users) == Viewer("site", "07", "site7")


def test_wrong_password_and_unknown_user_get_the_same_answer(users):
    accounts.add_user("li.na", "steering", "long enough pw", path=users)
    with pytest.raises(accounts.SignInRefused, match="wrong user name or password"):
        accounts.sign_in("li.na", "wrong", demo_data=False, path=users)
    with pytest.raises(accounts.SignInRefused, match="wrong user name or password"):
        accounts.sign_in("nobody", "wrong", demo_data=False, path=users)


def test_lockout_after_the_configured_failures_even_for_the_right_password(users):
    accounts.add_user("wang", "pi", "long enough pw", path=users)
    for _ in range(4):
        with pytest.raises(accounts.SignInRefused, match="wrong"):
            accounts.sign_in("wang", "nope", demo_data=False, path=users)
    with pytest.raises(accounts.SignInRefused, match="locked"):
        accounts.sign_in("wang", "nope", demo_data=False, path=users)  # the 5th
    with pytest.raises(accounts.SignInRefused, match="locked"):
        accounts.sign_in("wang", "long enough pw", demo_data=False, path=users)
    accounts.set_password("wang", "a new long password", path=users)  # the administrator lifts it
    assert accounts.sign_in("wang", "a new long password", demo_data=False, path=users).role == "pi"


def test_a_success_resets_the_failure_count(users):
    accounts.add_user("zhao", "pi", "long enough pw", path=users)
    for _ in range(4):
        with pytest.raises(accounts.SignInRefused, match="wrong user name or password"):
            accounts.sign_in("zhao", "nope", demo_data=False, path=users)
    accounts.sign_in("zhao", "long enough pw", demo_data=False, path=users)
    for _ in range(4):
        with pytest.raises(accounts.SignInRefused, match="wrong"):
            accounts.sign_in("zhao", "nope", demo_data=False, path=users)


def test_demo_accounts_open_only_the_demo_trial(users):
    v = accounts.sign_in("demo-dsmb", accounts.DEMO_PASSWORD, demo_data=True, path=users)
    assert v.role == "dsmb"
    with pytest.raises(accounts.SignInRefused, match="only the synthetic demo trial"):
        accounts.sign_in("demo-dsmb", accounts.DEMO_PASSWORD, demo_data=False, path=users)
    with pytest.raises(accounts.AccountError, match="'demo-pi' is not an allowed user name"):
        accounts.add_user("demo-pi", "pi", "long enough pw", path=users)


@pytest.mark.parametrize(
    "role,site,message",
    [("sponsor", None, "unknown role"), ("site", None, "needs --site"), ("pi", "01", "not tied to a site")],
)
def test_bad_roles_are_refused(users, role, site, message):
    with pytest.raises(accounts.AccountError, match=message):
        accounts.add_user("x.y", role, "long enough pw", site=site, path=users)


def test_short_passwords_are_refused(users):
    with pytest.raises(accounts.AccountError, match="at least"):
        accounts.add_user("x.y", "pi", "short", path=users)


def test_cli_manages_users_and_writes_the_audit_log(tmp_path):
    env = {**os.environ, "NEO_MARGIN_USERS": str(tmp_path / "u.json"), "NEO_MARGIN_AUDIT": str(tmp_path / "a.jsonl")}

    def run(*args, stdin=""):
        return subprocess.run(
            [sys.executable, "-m", "dashboard", "users", *args],
            input=stdin,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert run("add", "dsmb.chair", "--role", "dsmb", "--password-stdin", stdin="a long password\n").returncode == 0
    assert (
        run(
            "add", "张医生", "--role", "site", "--site", "03", "--password-stdin", stdin="another long one\n"
        ).returncode
        == 0
    )
    assert run("add", "bad name;", "--role", "pi", "--password-stdin", stdin="long enough pw\n").returncode == 2
    listed = run("list")
    assert "dsmb.chair" in listed.stdout and "dsmb" in listed.stdout
    assert run("passwd", "dsmb.chair", "--password-stdin", stdin="changed long password\n").returncode == 0
    assert run("remove", "dsmb.chair").returncode == 0
    assert run("remove", "dsmb.chair").returncode == 2
    actions = [e["action"] for e in audit.read(tmp_path / "a.jsonl")]
    assert actions == ["user add", "user add", "user passwd", "user remove"]
    assert accounts.sign_in("张医生", "another long one", demo_data=False, path=tmp_path / "u.json") == Viewer(
        "site", "03", "张医生"
    )


@pytest.mark.parametrize(
    "claims,expected",
    [
        ({"email": "a@h.cn", "groups": ["neo-margin-dsmb"]}, Viewer("dsmb", None, "a@h.cn")),
        ({"email": "b@h.cn", "groups": "staff,neo-margin-steering"}, Viewer("steering", None, "b@h.cn")),
        ({"email": "c@h.cn", "groups": ["neo-margin-site"], "site": "05"}, Viewer("site", "05", "c@h.cn")),
        ({"email": "d@h.cn", "groups": ["neo-margin-site"]}, None),  # a site role needs its site
        ({"email": "e@h.cn", "groups": ["neo-margin-dsmb", "neo-margin-steering"]}, None),  # two roles: refused
        ({"email": "f@h.cn", "groups": ["radiology"]}, None),
        ({"email": "g@h.cn"}, None),
    ],
)
def test_single_sign_on_claims_map_to_one_role(claims, expected):
    assert accounts.viewer_from_claims(claims) == expected
