"""The DSMB's looks on the record (issue 12): `looks record` writes the current data cut as the
next look, with its information fraction (OS deaths over the design's expected final deaths), to
the audit log; looks come in order, once per data cut, none after the final; a blinded account
cannot record one; and a look's record is part of the keyed chain."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.access import audit, looks
from dashboard.config import load_trial
from test_closed_cli import PASSWORD, PI_PASSWORD, _run, env  # noqa: F401  (the fixture)


def _looks(env, action, user="dsmb1", password=PASSWORD, *extra):  # noqa: F811
    return _run(
        env["env"],
        "looks",
        action,
        "--warehouse",
        str(env["wh"]),
        "--user",
        user,
        "--password-stdin",
        *extra,
        stdin=password + "\n",
    )


def test_a_look_is_recorded_once_with_its_fraction_and_listed(env):  # noqa: F811
    done = _looks(env, "record")
    assert done.returncode == 0, done.stderr
    [lk] = looks.held(env["log"])
    deaths = lk["events"]
    assert lk["look"] == 1 and lk["fraction"] == pytest.approx(deaths / load_trial().design.expected_deaths_final)
    assert lk["recorded_by"] == "dsmb1" and lk["data_cut"]["build_id"]
    # the same data cut cannot be a second look
    again = _looks(env, "record")
    assert again.returncode == 2 and "was a look already" in again.stderr
    listed = _looks(env, "list")
    assert listed.returncode == 0 and listed.stdout.startswith(f"look 1: fraction {lk['fraction']:.3f}")
    ok, message = audit.verify(env["log"], key_file=Path(env["env"]["NEO_MARGIN_AUDIT_KEY"]))
    assert ok, message


def test_a_blinded_account_cannot_record_a_look(env):  # noqa: F811
    done = _looks(env, "record", "pi1", PI_PASSWORD)
    assert done.returncode == 2 and "may not open the closed session" in done.stderr


def test_looks_come_in_order_and_none_after_the_final(tmp_path):
    log = tmp_path / "audit" / "audit.jsonl"
    cut = {"build_id": "b1", "cutoff": "2028-06-30"}
    looks.record(fraction=0.4, events=36, data_cut=cut, user="chair", role="dsmb", path=log)
    with pytest.raises(looks.LookError, match="more information"):
        looks.record(fraction=0.3, events=27, data_cut={"build_id": "b2"}, user="chair", role="dsmb", path=log)
    with pytest.raises(looks.LookError, match="only the DSMB"):
        looks.record(fraction=0.6, events=54, data_cut={"build_id": "b3"}, user="x", role="steering", path=log)
    looks.record(fraction=1.1, events=99, data_cut={"build_id": "b4"}, user="chair", role="dsmb", final=True, path=log)
    with pytest.raises(looks.LookError, match="final analysis was held"):
        looks.record(fraction=1.2, events=108, data_cut={"build_id": "b5"}, user="chair", role="dsmb", path=log)
    assert [(lk["look"], lk["fraction"], lk["final"]) for lk in looks.held(log)] == [(1, 0.4, False), (2, 1.1, True)]
