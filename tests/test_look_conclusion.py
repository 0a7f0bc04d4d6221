"""Issue 12: at an early look the nominal 95% interval may clear the margin while the group
sequential boundary is not crossed; the closed page, the closed report and `summary --role dsmb`
then all say "not met at this look". A real package: 100 subjects per arm, 10 deaths in each
(20 of the 90 expected: 22% information, O'Brien-Fleming boundary z >= 4.6), everyone else seen
at 37 months: the 3-year OS difference is 0 with a nominal lower limit near -8 points (clears the
12-point margin), its repeated lower bound near -20 points (does not)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pytest

from apptest import clear_caches, open_page, page_text, serving
from dashboard.access.roles import Viewer
from dashboard.ingest.build import build
from dashboard.store import warehouse
from dashboard.views import closed, monitoring
from factory import Package, d


def _package() -> Package:
    pkg = Package(cutoff=d("2030-06-30"))
    n = 0
    for arm in ("DE-ESCALATION", "STANDARD"):
        for k in range(100):
            n += 1
            site = "01" if k % 2 else "02"
            subjid = f"{site}-{n:03d}"
            rand = dt.date(2026, 3, 1) + dt.timedelta(days=n)
            surgery = rand + dt.timedelta(days=10)
            pkg.add_subject(subjid, site, arm=arm, randdat=rand.isoformat(), surgery=surgery.isoformat())
            if k < 10:
                death = rand + dt.timedelta(days=200 + 20 * k)
                pkg.add("DD", SUBJID=subjid, SITEID=site, DTHDAT=death.isoformat(), DTHCAUS="DISEASE")
                pkg.add("DS", SUBJID=subjid, SITEID=site, DSDECOD="DEATH", DSSTDAT=death.isoformat())
            else:
                visit = rand + dt.timedelta(days=1130)
                pkg.add("FU", SUBJID=subjid, SITEID=site, VISIT="M36", VISDAT=visit.isoformat(), SSSTAT="ALIVE")
    return pkg


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("early-look")
    build(_package().write(tmp / "pkg"), tmp / "wh")
    return tmp / "wh"


def test_the_view_says_not_met_although_the_nominal_interval_clears(wh):
    con = warehouse.connect(wh, closed=True)
    try:
        ni = closed.noninferiority(con, Viewer("dsmb"))["itt"]
        look = closed.interim(con, Viewer("dsmb"))["look"]
    finally:
        con.close()
    assert ni["noninferior_by_difference"]  # the nominal 95% interval clears -12 points
    assert look["information_fraction"] == pytest.approx(20 / 90)
    assert look["current_boundary"] > 4.5
    diff = look["difference"]
    assert diff["nominal_lower"] > -0.12 > diff["repeated_lower"]
    assert look["conclusion"] == monitoring.NOT_MET


def test_the_closed_page_says_not_met_at_this_look(wh):
    with serving(wh):
        clear_caches()
        at = open_page(Viewer("dsmb"), "closed_interim.py")
        assert not at.exception, [e.value for e in at.exception]
        text = page_text(at, charts=False)
    assert "Non-inferiority **not met at this look**" in text
    assert "met at this look (" not in text.replace("not met at this look", "")


def test_the_dsmb_summary_and_the_report_say_the_same(wh, tmp_path):
    from dashboard.access import accounts

    user, password = "early.dsmb", "early look password 1"
    if not any(u["username"] == user for u in accounts.list_users()):
        accounts.add_user(user, "dsmb", password)
    env = {**os.environ}
    for cmd in (["summary"], ["report", "--out", str(tmp_path / "closed.html")]):
        done = subprocess.run(
            [sys.executable, "-m", "dashboard", *cmd, "--warehouse", str(wh), "--role", "dsmb", "--user", user]
            + ["--password-stdin"],
            input=password + "\n",
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        if cmd == ["summary"]:
            out = json.loads(done.stdout)["closed"]
            look = out["look"]
            assert look["conclusion"] == "not met at this look" and look["crossed"] is False
            # DFS censoring: the 180 survivors are censored at their M36 visit, a disease
            # assessment and their last contact: none moved
            both = next(r for r in out["dfs_censoring"] if r["arm"] is None)
            assert (both["dfs_censored"], both["dfs_censor_moved"]) == (180, 0)
    assert "non-inferiority not met at this look" in (tmp_path / "closed.html").read_text(encoding="utf-8")


def test_the_dsmb_records_the_look_on_the_interim_page(wh, tmp_path, monkeypatch):
    """The button writes the look to the audit record; the page then says it is on the record.
    (A log of its own: a look on the shared test log would change other tests' boundaries.)"""
    from dashboard.access import looks

    monkeypatch.setenv("NEO_MARGIN_AUDIT", str(tmp_path / "audit" / "audit.jsonl"))
    monkeypatch.setenv("NEO_MARGIN_AUDIT_KEY", str(tmp_path / "keys" / "audit.key"))
    before = len(looks.held())
    with serving(wh):
        clear_caches()
        at = open_page(Viewer("dsmb", user="chair"), "closed_interim.py")
        assert not at.exception, [e.value for e in at.exception]
        button = next(b for b in at.button if b.label.startswith("Record this data cut as look"))
        button.click().run()
        assert not at.exception, [e.value for e in at.exception]
        text = page_text(at, charts=False)
    held = looks.held()
    assert len(held) == before + 1 and held[-1]["recorded_by"] == "chair"
    assert held[-1]["fraction"] == pytest.approx(20 / 90)
    assert "(on the record)" in text


def test_blinded_roles_cannot_read_the_look_or_the_dfs_censoring_by_arm(wh):
    from dashboard.access.roles import AccessDenied

    con = warehouse.connect(wh, closed=True)
    try:
        for role in ("pi", "steering", "data_manager"):
            with pytest.raises(AccessDenied):
                closed.dfs_censoring(con, Viewer(role))
            with pytest.raises(AccessDenied):
                monitoring.at_this_look(con, Viewer(role))
    finally:
        con.close()
