"""The closed command line (summary and report for the dsmb role), run as the real CLI in a
subprocess on a built test warehouse: refused without a DSMB account's credentials (no terminal,
no --user), with a wrong password, with another role's account, each refusal on the audit
record; with `--user NAME --password-stdin`, or a user name and password typed at a terminal, it
works and writes exactly one audit entry naming the user and the data cut. Blinded roles are as
before: no credentials asked for."""

from __future__ import annotations

import getpass
import json
import os
import pty
import select
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dashboard.access import audit
from dashboard.ingest.build import build
from dashboard.store import warehouse
from test_blinding_pages import _trial

PASSWORD = "a long dsmb password"
PI_PASSWORD = "a long pi password"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A built warehouse of a test trial (four sites, tests/test_blinding_pages._trial), its own
    audit log (key beside, outside the audit folder) and users file with a DSMB and a PI account made by `users add`."""
    tmp = tmp_path_factory.mktemp("closed-cli")
    e = {
        **os.environ,
        "NEO_MARGIN_AUDIT": str(tmp / "audit" / "audit.jsonl"),
        "NEO_MARGIN_AUDIT_KEY": str(tmp / "keys" / "audit.key"),
        "NEO_MARGIN_USERS": str(tmp / "users.json"),
    }
    e.pop("NEO_MARGIN_WAREHOUSE", None)
    with pytest.MonkeyPatch.context() as mp:  # the build records this log's anchor
        for k in ("NEO_MARGIN_AUDIT", "NEO_MARGIN_AUDIT_KEY"):
            mp.setenv(k, e[k])
        build(_trial().write(tmp / "pkg"), tmp / "wh")
    for name, role, password in (("dsmb1", "dsmb", PASSWORD), ("pi1", "pi", PI_PASSWORD)):
        done = _run(e, "users", "add", name, "--role", role, "--password-stdin", stdin=password + "\n")
        assert done.returncode == 0, done.stderr
    return {"env": e, "wh": tmp / "wh", "tmp": tmp, "log": tmp / "audit" / "audit.jsonl"}


def _run(env, *args, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "dashboard", *args],
        env=env,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _closed_summary(env, user: str, stdin: str):
    """`summary --role dsmb` signing `user` in with the password on standard input."""
    return _run(
        env["env"],
        "summary",
        "--warehouse",
        str(env["wh"]),
        "--role",
        "dsmb",
        "--user",
        user,
        "--password-stdin",
        stdin=stdin,
    )


def _entries(env) -> list[dict]:
    return audit.read(env["log"])


def _cut(env) -> dict:
    m = warehouse.manifest(env["wh"])
    return {"build_id": m["build_id"], "cutoff": m["cutoff"]}


def _new(env, before: int) -> list[dict]:
    return _entries(env)[before:]


def test_the_closed_summary_is_refused_without_credentials(env):
    before = len(_entries(env))
    done = _run(env["env"], "summary", "--warehouse", str(env["wh"]), "--role", "dsmb")
    assert done.returncode == 2
    assert done.stdout == ""  # nothing closed printed
    assert done.stderr.strip() == (
        "refused: the closed summary needs a DSMB account: run it at a terminal (it asks for the user "
        "name and password) or pass --user NAME --password-stdin"
    )
    [entry] = _new(env, before)
    assert entry["action"] == "cli_sign_in_refused" and entry["user"] is None and entry["role"] is None
    assert entry["detail"]["command"] == "summary" and entry["detail"]["requested_role"] == "dsmb"
    assert entry["detail"]["os_user"] == getpass.getuser()
    assert entry["data_cut"] == _cut(env)


def test_the_closed_report_is_refused_without_credentials_and_writes_nothing(env):
    out = env["tmp"] / "refused.html"
    before = len(_entries(env))
    done = _run(env["env"], "report", "--warehouse", str(env["wh"]), "--role", "dsmb", "--out", str(out))
    assert done.returncode == 2 and "refused: the closed report needs a DSMB account" in done.stderr
    assert not out.exists()
    [entry] = _new(env, before)
    assert entry["action"] == "cli_sign_in_refused" and entry["detail"]["command"] == "report"


def test_password_stdin_without_a_user_is_refused(env):
    before = len(_entries(env))
    done = _run(
        env["env"], "summary", "--warehouse", str(env["wh"]), "--role", "dsmb", "--password-stdin", stdin=PASSWORD
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == "refused: --password-stdin needs --user NAME"
    assert [e["action"] for e in _new(env, before)] == ["cli_sign_in_refused"]


def test_a_wrong_password_is_refused_and_audited(env):
    before = len(_entries(env))
    done = _closed_summary(env, "dsmb1", "not the password\n")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == "refused: wrong user name or password"
    [entry] = _new(env, before)
    assert entry["action"] == "cli_sign_in_refused" and entry["user"] == "dsmb1"
    assert entry["detail"]["reason"] == "wrong user name or password"
    assert entry["data_cut"] == _cut(env)


def test_an_account_of_a_blinded_role_is_refused(env):
    before = len(_entries(env))
    done = _closed_summary(env, "pi1", PI_PASSWORD + "\n")
    assert done.returncode == 2 and done.stdout == ""
    assert "the account pi1 has the role pi, which may not open the closed session" in done.stderr
    [entry] = _new(env, before)
    assert entry["action"] == "cli_sign_in_refused" and entry["user"] == "pi1"


def test_the_closed_summary_works_with_password_stdin_and_is_audited_once(env):
    before = len(_entries(env))
    done = _closed_summary(env, "dsmb1", PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["role"] == "dsmb" and out["data_cut"]["build_id"] == _cut(env)["build_id"]
    assert sum(out["allocation"]["by_arm"].values()) == out["enrollment"]["randomized"] > 0
    [entry] = _new(env, before)
    assert entry["action"] == "cli_summary_closed"
    assert (entry["user"], entry["role"]) == ("dsmb1", "dsmb")
    assert entry["data_cut"] == _cut(env)
    assert entry["detail"] == {"os_user": getpass.getuser(), "via": "command line"}
    key = Path(env["env"]["NEO_MARGIN_AUDIT_KEY"])
    assert audit.verify(env["log"], warehouse=env["wh"], key_file=key)[0]


def test_the_closed_report_works_with_password_stdin_is_private_and_audited_once(env):
    out = env["tmp"] / "closed.html"
    out.write_text("an older file, readable by all", encoding="utf-8")
    out.chmod(0o644)
    before = len(_entries(env))
    done = _run(
        env["env"],
        "report",
        "--warehouse",
        str(env["wh"]),
        "--role",
        "dsmb",
        "--out",
        str(out),
        "--user",
        "dsmb1",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert done.returncode == 0, done.stderr
    assert "CONFIDENTIAL - DSMB CLOSED SESSION" in out.read_text(encoding="utf-8")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    [entry] = _new(env, before)
    assert entry["action"] == "cli_report_closed" and entry["user"] == "dsmb1" and entry["role"] == "dsmb"
    assert entry["data_cut"] == _cut(env)
    assert entry["detail"] == {"os_user": getpass.getuser(), "via": "command line", "file": str(out), "format": "html"}


def _at_terminal(env, args, answers: list[str], timeout: float = 300) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as its controlling terminal and standard input; each
    answer is typed when the output so far ends with a prompt (':' then a space)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: its terminal is the pty
        os.execve(sys.executable, [sys.executable, "-m", "dashboard", *args], env)
    seen, pending, deadline = b"", list(answers), time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
            if pending and seen.endswith(b": "):
                os.write(fd, (pending.pop(0) + "\n").encode())
                seen += b"<typed>"
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), seen.decode("utf-8", "replace")


def test_the_closed_summary_asks_at_a_terminal(env):
    before = len(_entries(env))
    code, seen = _at_terminal(
        env["env"], ["summary", "--warehouse", str(env["wh"]), "--role", "dsmb"], ["dsmb1", PASSWORD]
    )
    assert code == 0, seen
    assert "DSMB user name: <typed>" in seen and "password for dsmb1: <typed>" in seen
    assert PASSWORD not in seen  # not echoed
    assert '"role": "dsmb"' in seen
    [entry] = _new(env, before)
    assert entry["action"] == "cli_summary_closed" and entry["user"] == "dsmb1"


def test_blinded_roles_need_no_credentials_and_are_unchanged(env):
    before = len(_entries(env))
    done = _run(env["env"], "summary", "--warehouse", str(env["wh"]), "--role", "pi")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["role"] == "pi"
    assert _new(env, before) == []


def test_the_demo_dsmb_account_is_refused_on_a_trial_warehouse(env):
    from dashboard.access.accounts import DEMO_PASSWORD

    before = len(_entries(env))
    demo_mode = {**env["env"], "NEO_MARGIN_DEMO": "1"}  # even in demo mode: this is not the demo build
    done = _run(
        demo_mode,
        "summary",
        "--warehouse",
        str(env["wh"]),
        "--role",
        "dsmb",
        "--user",
        "demo-dsmb",
        "--password-stdin",
        stdin=DEMO_PASSWORD + "\n",
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines()[-1] == "refused: wrong user name or password"
    [entry] = _new(env, before)
    assert entry["action"] == "cli_sign_in_refused" and entry["user"] == "demo-dsmb"
