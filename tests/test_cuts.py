"""Data cuts as first-class records (issue 16): every published build is a cut with its cut-off,
export time, source fingerprint and code version; named cuts are pinned on the audit log by the
roles trial.toml [cuts] allows; the retention policy keeps pinned and look cuts forever and the
newest `keep_recent` others; a pinned cut reopened after later builds gives the same summary as
when it was pinned, and one whose files changed is refused."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard.access import accounts, audit, looks, pins
from dashboard.access.roles import Viewer
from dashboard.config import load_trial
from dashboard.devtools.demo import write_demo_package
from dashboard.ingest.build import build
from dashboard.ingest.package import fingerprint
from dashboard.outputs.summary import summary
from dashboard.store import cuts, warehouse

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "a-long-test-password-16"
CUTOFFS = ["2027-06-30", "2027-09-30", "2027-12-31", "2028-03-31", "2028-06-30"]


@pytest.fixture()
def own_log(tmp_path, monkeypatch):
    """An audit log and users file of this test alone (pins and looks are read from the log)."""
    monkeypatch.setenv("NEO_MARGIN_AUDIT", str(tmp_path / "audit" / "audit.jsonl"))
    monkeypatch.setenv("NEO_MARGIN_AUDIT_KEY", str(tmp_path / "keys" / "audit.key"))
    monkeypatch.setenv("NEO_MARGIN_USERS", str(tmp_path / "users.json"))
    return tmp_path


def _packages(tmp_path: Path, dates=CUTOFFS) -> list[Path]:
    out = []
    for d in dates:
        pkg = tmp_path / f"pkg-{d}"
        write_demo_package(pkg, cutoff=dt.date.fromisoformat(d))
        out.append(pkg)
    return out


def _cfg(keep_recent: int):
    cfg = load_trial()
    return cfg.model_copy(update={"cuts": cfg.cuts.model_copy(update={"keep_recent": keep_recent})})


def test_every_published_build_is_a_cut_with_its_record(own_log, tmp_path):
    wh = tmp_path / "wh"
    pkgs = _packages(tmp_path, CUTOFFS[:2])
    ids = [build(p, wh).build_id for p in pkgs]
    found = cuts.cuts(wh)
    assert [c.build_id for c in found] == ids  # oldest first
    assert [c.cutoff for c in found] == CUTOFFS[:2]
    for c, p in zip(found, pkgs, strict=True):
        assert c.fingerprint == fingerprint(p) and len(c.fingerprint) == 64
        assert c.code_version and c.code_version.split("+")[0].count(".") == 2
        assert c.exported and c.exported > c.cutoff
        assert c.published.startswith("20")
    assert cuts.current(wh).build_id == ids[-1]
    # the same export is the same fingerprint; any byte changed is another one
    assert fingerprint(pkgs[0]) == fingerprint(pkgs[0])
    dm = pkgs[0] / "DM.csv"
    dm.write_bytes(dm.read_bytes() + b"\n")
    assert fingerprint(pkgs[0]) != found[0].fingerprint


def test_retention_keeps_pinned_and_look_cuts_forever_and_the_newest_others(own_log, tmp_path):
    wh = tmp_path / "wh"
    cfg = _cfg(keep_recent=2)
    pkgs = _packages(tmp_path)
    first = build(pkgs[0], wh, config=cfg)
    pins.pin(
        name="Steering 2027-Q2",
        committee="steering",
        build_id=first.build_id,
        cutoff="2027-06-30",
        build_dir=first.build_dir,
        user="dm",
        role="data_manager",
        cfg=cfg,
    )
    second = build(pkgs[1], wh, config=cfg)
    looks.record(
        fraction=0.2,
        events=18,
        data_cut={"build_id": second.build_id, "cutoff": "2027-09-30"},
        user="chair",
        role="dsmb",
    )
    rest = [build(p, wh, config=cfg) for p in pkgs[2:]]
    kept = [c.build_id for c in cuts.cuts(wh)]
    # pinned and look cuts kept forever, of the other three only the newest two
    assert kept == [first.build_id, second.build_id, rest[1].build_id, rest[2].build_id]
    assert not rest[0].build_dir.exists()
    history = warehouse.load_history(wh)
    assert history[-1]["pruned"] == [rest[0].build_id]  # the build that pushed it out says so
    assert history[-2]["pruned"] == []
    by_id = {c.build_id: c for c in cuts.cuts(wh)}
    assert by_id[first.build_id].label == "Steering 2027-Q2" and by_id[first.build_id].committees() == {"steering"}
    assert by_id[second.build_id].look == 1 and by_id[second.build_id].committees() == {"dsmb"}
    # "since the last meeting" starts at the committee's last cut: steering's pin, the DSMB's look
    assert cuts.baseline(wh, "steering", cfg).build_id == first.build_id
    assert cuts.baseline(wh, "pi", cfg).build_id == first.build_id
    assert cuts.baseline(wh, "dsmb", cfg).build_id == second.build_id
    # a committee that never met: the cut before the current one
    none_met = cfg.model_copy(
        update={"cuts": cfg.cuts.model_copy(update={"committee_of_role": {"data_manager": "steering"}})}
    )
    assert cuts.baseline(wh, "site", none_met).build_id == rest[1].build_id
    assert cuts.get(wh, "steering 2027-q2").build_id == first.build_id  # by name, any case
    with pytest.raises(cuts.CutNotFound):
        cuts.get(wh, rest[0].build_id)


def test_only_the_roles_of_the_policy_pin_and_a_name_is_used_once(own_log, tmp_path):
    wh = tmp_path / "wh"
    cfg = load_trial()
    b = build(_packages(tmp_path, CUTOFFS[:1])[0], wh)
    kw = dict(build_id=b.build_id, cutoff=CUTOFFS[0], build_dir=b.build_dir, user="u", cfg=cfg)
    for role, committee in [("pi", "steering"), ("steering", "steering"), ("site", "dsmb"), ("dsmb", "steering")]:
        with pytest.raises(pins.PinError):
            pins.pin(name="DSMB look 1", committee=committee, role=role, **kw)
    with pytest.raises(pins.PinError):
        pins.pin(name="x", committee="sponsor", role="data_manager", **kw)  # not a committee
    with pytest.raises(pins.PinError):
        pins.pin(name="   ", committee="dsmb", role="dsmb", **kw)
    entry = pins.pin(name="DSMB  look 1", committee="dsmb", role="dsmb", **kw)
    assert entry["action"] == pins.ACTION and entry["detail"]["name"] == "DSMB look 1"
    assert entry["data_cut"] == {"build_id": b.build_id, "cutoff": CUTOFFS[0]}
    assert entry["detail"]["digests"] == pins.digests(b.build_dir)
    with pytest.raises(pins.PinError, match="taken"):
        pins.pin(name="dsmb LOOK 1", committee="steering", role="data_manager", **kw)
    with pytest.raises(pins.PinError, match="already"):
        pins.pin(name="Another", committee="dsmb", role="data_manager", **kw)
    pins.pin(name="Steering 2027-Q2 会议", committee="steering", role="data_manager", **kw)  # Chinese survives
    assert [p["name"] for p in cuts.current(wh).pins] == ["DSMB look 1", "Steering 2027-Q2 会议"]
    ok, message = audit.verify()
    assert ok, message


def _cli(*args, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dashboard", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "NEO_MARGIN_LANG": "en"},
        timeout=300,
    )


def test_a_pinned_cut_reopened_after_later_builds_gives_the_same_summary(own_log, tmp_path):
    wh = tmp_path / "wh"
    pkgs = _packages(tmp_path, CUTOFFS[:3])
    first = build(pkgs[0], wh)
    accounts.add_user("dm.wang", "data_manager", PASSWORD)
    pinned = _cli(
        "cuts", "pin", "current", "--name", "Steering 2027-Q2", "--committee", "steering",
        "--warehouse", str(wh), "--user", "dm.wang", "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert pinned.returncode == 0, pinned.stderr
    roles = [Viewer("steering"), Viewer("pi"), Viewer("site", "01"), Viewer("data_manager"), Viewer("dsmb")]
    then = {v.role: summary(wh, v) for v in roles}
    before_cli = _cli("summary", "--warehouse", str(wh), "--role", "steering")
    for p in pkgs[1:]:
        build(p, wh)
    assert cuts.current(wh).build_id != first.build_id
    cut = cuts.get(wh, "Steering 2027-Q2")
    for v in roles:
        now = summary(wh, v, build=cut.build_dir)
        assert json.dumps(now, sort_keys=True, default=str) == json.dumps(then[v.role], sort_keys=True, default=str)
        assert now["data_cut"]["cutoff"] == CUTOFFS[0]
    # the command line reopens it by name, byte for byte the summary printed when it was current
    again = _cli("summary", "--warehouse", str(wh), "--role", "steering", "--cut", "Steering 2027-Q2")
    assert again.returncode == 0, again.stderr
    assert again.stdout == before_cli.stdout
    assert (
        json.loads(_cli("summary", "--warehouse", str(wh), "--role", "steering").stdout)["data_cut"]["cutoff"]
        == CUTOFFS[2]
    )
    listed = json.loads(_cli("cuts", "list", "--warehouse", str(wh), "--json").stdout)
    assert [c["cutoff"] for c in listed] == CUTOFFS[:3]
    assert listed[0]["pins"][0]["name"] == "Steering 2027-Q2" and listed[-1]["current"]
    assert all(c["bytes"] > 0 for c in listed)


def test_a_pinned_cut_whose_files_changed_is_refused(own_log, tmp_path):
    wh = tmp_path / "wh"
    pkgs = _packages(tmp_path, CUTOFFS[:2])
    first = build(pkgs[0], wh)
    pins.pin(
        name="DSMB look 1",
        committee="dsmb",
        build_id=first.build_id,
        cutoff=CUTOFFS[0],
        build_dir=first.build_dir,
        user="chair",
        role="dsmb",
    )
    build(pkgs[1], wh)
    assert _cli("cuts", "verify", "--warehouse", str(wh)).returncode == 0
    blinded = first.build_dir / warehouse.BLINDED
    blinded.write_bytes(blinded.read_bytes() + b"\0")  # someone with a shell edits the pinned file
    checked = _cli("cuts", "verify", "--warehouse", str(wh))
    assert checked.returncode == 1 and "blinded.duckdb" in checked.stderr and "DSMB look 1" in checked.stderr
    refused = _cli("summary", "--warehouse", str(wh), "--role", "steering", "--cut", "DSMB look 1")
    assert refused.returncode == 1 and refused.stdout == ""


def test_pinning_on_the_command_line_needs_an_account_that_may_pin(own_log, tmp_path):
    wh = tmp_path / "wh"
    build(_packages(tmp_path, CUTOFFS[:1])[0], wh)
    accounts.add_user("pi.chen", "pi", PASSWORD)
    refused = _cli(
        "cuts", "pin", "--name", "Steering 2027-Q2", "--committee", "steering", "--warehouse", str(wh),
        "--user", "pi.chen", "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert refused.returncode == 2 and "may not pin" in refused.stderr
    assert cuts.current(wh).pins == ()
    wrong = _cli(
        "cuts", "pin", "--name", "x", "--committee", "steering", "--warehouse", str(wh),
        "--user", "pi.chen", "--password-stdin", stdin="wrong\n",
    )  # fmt: skip
    assert wrong.returncode == 2
    actions = [e["action"] for e in audit.read()]
    assert actions.count("cli_sign_in_refused") == 2 and pins.ACTION not in actions
