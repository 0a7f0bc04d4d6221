"""Local accounts: argon2id hashes, roles, the throttle (a known and an unknown name answered alike,
the owner never locked out), demo accounts only in demo mode on the pinned demo build, the CLI, and
the single-sign-on claim mapping (the provider itself cannot be reached here)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

import pytest

from dashboard.access import accounts, audit
from dashboard.access.roles import Viewer
from dashboard.config import load_trial


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


def _fail(name: str, users, n: int = 1) -> list[float]:
    """`n` failed sign-ins on `name`; the seconds each took, and each answered as a wrong password."""
    took = []
    for _ in range(n):
        t = time.perf_counter()
        with pytest.raises(accounts.SignInRefused) as refused:
            accounts.sign_in(name, "not the password", demo_data=False, path=users)
        took.append(time.perf_counter() - t)
        assert str(refused.value) == accounts.WRONG
    return took


@pytest.fixture
def fast_throttle(monkeypatch):
    """The throttle's parameters scaled down (the same rule, in tenths of a second), so that a
    test can run twenty failures; trial.toml's max_failed_logins failures are free."""
    monkeypatch.setattr(accounts, "THROTTLE_BASE_SECONDS", 0.05)
    monkeypatch.setattr(accounts, "THROTTLE_CAP_SECONDS", 0.4)
    return load_trial().access.max_failed_logins


def test_the_delay_doubles_after_the_free_failures_up_to_the_cap():
    assert [accounts.throttle_delay(n, 3) for n in range(0, 10)] == [0, 0, 0, 1, 2, 4, 8, 16, 30, 30]
    assert accounts.throttle_delay(10**9, 3) == accounts.THROTTLE_CAP_SECONDS == 30


def test_a_known_and_an_unknown_name_get_the_same_answer_state_and_time(users, fast_throttle):
    accounts.add_user("li.na", "steering", "long enough pw", path=users)
    before = users.read_bytes()
    known, unknown = [], []
    for _ in range(fast_throttle + 3):  # interleaved, so both see the same machine load
        known += _fail("li.na", users)
        unknown += _fail("nobody.here", users)
    # failures never touch the users file (a locked or counted account would show there)
    assert users.read_bytes() == before
    state = json.loads(accounts.throttle_path(users).read_text(encoding="utf-8"))
    assert sorted(e["failed"] for e in state.values()) == [fast_throttle + 3] * 2
    assert "li.na" not in json.dumps(state) and "nobody.here" not in json.dumps(state)
    assert oct(accounts.throttle_path(users).stat().st_mode & 0o777) == "0o600"
    assert [sorted(v) for v in state.values()] == [["failed", "last"]] * 2  # nothing else tells them apart
    # the free attempts cost one argon2 check each, known or not; the later ones wait the same delay
    free_k, free_u = statistics.median(known[:fast_throttle]), statistics.median(unknown[:fast_throttle])
    assert 0.5 < free_k / free_u < 2, (known, unknown)
    for n in range(fast_throttle, fast_throttle + 3):
        delay = accounts.throttle_delay(n, fast_throttle)
        # the delay runs from the name's last failure, and the other name's attempt came between
        assert known[n] + unknown[n - 1] >= delay and unknown[n] + known[n] >= delay, (n, known, unknown)
        assert abs(known[n] - unknown[n]) < max(free_k, free_u) + 0.2, (n, known, unknown)


def test_the_owner_gets_in_after_an_attackers_twenty_failures(users, fast_throttle):
    accounts.add_user("wang", "pi", "long enough pw", path=users)
    _fail("wang", users, 20)
    wait = accounts.throttle_wait("wang", path=users)
    assert 0 < wait <= accounts.THROTTLE_CAP_SECONDS  # slowed, not locked out
    t = time.perf_counter()
    assert accounts.sign_in("wang", "long enough pw", demo_data=False, path=users) == Viewer("pi", None, "wang")
    assert time.perf_counter() - t >= wait - 0.05  # after the delay
    # the success forgets the failures: the owner's next mistakes are free again
    assert accounts.throttle_wait("wang", path=users) == 0
    _fail("wang", users, 2)
    assert accounts.throttle_wait("wang", path=users) == 0


def test_the_shipped_delays_hold_the_next_attempt_and_the_password_still_works(users):
    """The shipped parameters, not scaled: after the free failures the next attempt waits 1 s."""
    free = load_trial().access.max_failed_logins
    accounts.add_user("zhou", "pi", "long enough pw", path=users)
    _fail("zhou", users, free)
    assert 0.5 < accounts.throttle_wait("zhou", path=users) <= 1.0
    t = time.perf_counter()
    assert accounts.sign_in("zhou", "long enough pw", demo_data=False, path=users).role == "pi"
    assert time.perf_counter() - t >= 0.5


def test_a_callers_session_delay_is_applied_too(users):
    accounts.add_user("sun", "pi", "long enough pw", path=users)
    t = time.perf_counter()
    accounts.sign_in("sun", "long enough pw", demo_data=False, path=users, min_delay=0.6)
    assert time.perf_counter() - t >= 0.6


def test_a_new_password_forgets_the_failures(users, fast_throttle):
    accounts.add_user("qian", "pi", "long enough pw", path=users)
    _fail("qian", users, fast_throttle + 2)
    assert accounts.throttle_wait("qian", path=users) > 0
    accounts.set_password("qian", "a new long password", path=users)  # the administrator
    assert accounts.throttle_wait("qian", path=users) == 0
    assert accounts.sign_in("qian", "a new long password", demo_data=False, path=users).role == "pi"


def test_a_disabled_account_is_answered_like_an_unknown_name(users):
    accounts.add_user("gone", "pi", "long enough pw", path=users)
    raw = json.loads(users.read_text(encoding="utf-8"))
    raw["users"]["gone"]["disabled"] = True
    users.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(accounts.SignInRefused) as refused:
        accounts.sign_in("gone", "long enough pw", demo_data=False, path=users)
    assert str(refused.value) == accounts.WRONG


def test_a_success_resets_the_failure_count(users):
    accounts.add_user("zhao", "pi", "long enough pw", path=users)
    _fail("zhao", users, 4)
    accounts.sign_in("zhao", "long enough pw", demo_data=False, path=users)
    assert accounts.throttle_wait("zhao", path=users) == 0
    assert json.loads(accounts.throttle_path(users).read_text(encoding="utf-8")) == {}


@pytest.fixture(scope="module")
def demo_builds(tmp_path_factory):
    """A real demo build, then the same package built again into the same warehouse (a later
    build whose SOURCE says demo, as a forged one would): the manifests of both, and the
    environment scripts/start.sh gives a server started on the first."""
    from dashboard.devtools.demo import write_demo_package
    from dashboard.ingest.build import build
    from dashboard.store import warehouse

    tmp = tmp_path_factory.mktemp("demo")
    write_demo_package(tmp / "pkg")
    build(tmp / "pkg", tmp / "wh")
    first = warehouse.manifest(tmp / "wh")
    env = accounts.demo_server_env(tmp / "wh")
    build(tmp / "pkg", tmp / "wh")
    second = warehouse.manifest(tmp / "wh")
    assert first["is_demo"] is True and second["is_demo"] is True and first["build_id"] != second["build_id"]
    return first, second, env


def _demo_sign_in(users, manifest):
    return accounts.sign_in("demo-dsmb", accounts.DEMO_PASSWORD, demo_data=True, path=users, manifest=manifest)


def test_demo_accounts_open_the_demo_build_the_server_was_started_with(users, demo_builds, monkeypatch):
    first, _, env = demo_builds
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert env == {accounts.DEMO_ENV: "1", accounts.DEMO_BUILD_ENV: first["build_id"]}
    assert _demo_sign_in(users, first) == Viewer("dsmb", None, "demo-dsmb")
    with pytest.raises(accounts.SignInRefused, match=f"^{accounts.WRONG}$"):
        accounts.sign_in("demo-dsmb", "not the demo one", demo_data=True, path=users, manifest=first)
    with pytest.raises(accounts.AccountError, match="'demo-pi' is not an allowed user name"):
        accounts.add_user("demo-pi", "pi", "long enough pw", path=users)


def test_demo_accounts_are_unknown_names_without_demo_mode_even_on_demo_data(users, demo_builds, monkeypatch):
    """A warehouse whose SOURCE says demo (which the export writer writes) opens nothing by itself:
    without demo mode the demo name and password get the answer of an unknown name."""
    first, _, env = demo_builds
    monkeypatch.delenv(accounts.DEMO_ENV, raising=False)
    monkeypatch.setenv(accounts.DEMO_BUILD_ENV, env[accounts.DEMO_BUILD_ENV])
    assert not accounts.demo_mode() and not accounts.demo_warehouse(first)
    with pytest.raises(accounts.SignInRefused, match=f"^{accounts.WRONG}$"):
        _demo_sign_in(users, first)
    for value in ("0", "true", "yes", ""):  # only the exact "1" the start script sets
        monkeypatch.setenv(accounts.DEMO_ENV, value)
        with pytest.raises(accounts.SignInRefused, match=f"^{accounts.WRONG}$"):
            _demo_sign_in(users, first)


def test_demo_accounts_refuse_any_other_build_even_with_the_demo_source(users, demo_builds, monkeypatch, caplog):
    """Answered like an unknown name; the reason is in the operator's log."""
    first, second, env = demo_builds
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    # a later build into the demo warehouse whose SOURCE starts with the demo prefix
    assert second["source"].startswith("NEO-MARGIN SYNTHETIC DEMO")
    with pytest.raises(accounts.SignInRefused, match=f"^{accounts.WRONG}$"):
        _demo_sign_in(users, second)
    # the pinned build id on a warehouse that is not the demo trial
    with pytest.raises(accounts.SignInRefused, match=f"^{accounts.WRONG}$"):
        _demo_sign_in(users, {**first, "is_demo": False})
    # demo mode without a pinned build, or a caller that does not vouch for the warehouse
    monkeypatch.delenv(accounts.DEMO_BUILD_ENV)
    with pytest.raises(accounts.SignInRefused, match=f"^{accounts.WRONG}$"):
        _demo_sign_in(users, first)
    monkeypatch.setenv(accounts.DEMO_BUILD_ENV, first["build_id"])
    with pytest.raises(accounts.SignInRefused, match=f"^{accounts.WRONG}$"):
        accounts.sign_in("demo-dsmb", accounts.DEMO_PASSWORD, demo_data=True, path=users)  # no manifest
    with pytest.raises(accounts.SignInRefused, match=f"^{accounts.WRONG}$"):
        accounts.sign_in("demo-dsmb", accounts.DEMO_PASSWORD, demo_data=False, path=users, manifest=first)
    refusals = [r.getMessage() for r in caplog.records if "demo account demo-dsmb refused" in r.getMessage()]
    assert len(refusals) == 5 and f"build {second['build_id']}" in refusals[0]


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
