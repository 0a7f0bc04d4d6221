"""Empty analysis sets in the closed session (issue 12 item 5): a per-protocol set with nobody in
it (no subject was operated), a trial whose subjects are all in one arm, and a trial with no
events. Every closed page, `summary --role dsmb` and the closed report show a message instead of
crashing, on real packages built into real warehouses."""

from __future__ import annotations

import json

import pytest

from apptest import clear_caches, open_page, page_text, serving
from dashboard.access.roles import Viewer
from dashboard.ingest.build import build
from dashboard.store import warehouse
from dashboard.views import closed
from factory import Package, small_trial
from test_closed import DSMB_PASSWORD, DSMB_USER, _dsmb_account, _report

CLOSED_PAGES = ("closed_survival", "closed_interim", "closed_safety", "closed_surgery")


def _no_surgery() -> Package:
    """Six subjects, three per arm, none operated (no surgery rows): the per-protocol set is
    empty. Two de-escalation subjects and one standard subject die."""
    pkg = Package()
    for i, arm in enumerate(["DE-ESCALATION", "STANDARD"] * 3):
        pkg.add_subject(f"01-{i + 1:03d}", "01", arm=arm, randdat="2026-03-01", surgery=None)
    for subjid, when in (("01-001", "2026-09-01"), ("01-003", "2027-01-10"), ("01-002", "2027-03-01")):
        pkg.add("DD", SUBJID=subjid, SITEID="01", DTHDAT=when, DTHCAUS="DISEASE")
    return pkg


def _one_arm() -> Package:
    """Four operated subjects, all in the standard arm; one dies."""
    pkg = Package()
    for i in range(4):
        pkg.add_subject(f"01-{i + 1:03d}", "01", arm="STANDARD", randdat="2026-03-01", surgery="2026-03-15")
    pkg.add("DD", SUBJID="01-001", SITEID="01", DTHDAT="2026-10-01", DTHCAUS="DISEASE")
    return pkg


PACKAGES = {"no_surgery": _no_surgery, "one_arm": _one_arm, "no_events": small_trial}


@pytest.fixture(scope="module", params=list(PACKAGES))
def wh(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(request.param)
    build(PACKAGES[request.param]().write(tmp / "pkg"), tmp / "wh")
    with serving(tmp / "wh") as path:
        yield request.param, path


def test_the_views_say_why_instead_of_failing(wh):
    kind, path = wh
    con = warehouse.connect(path, closed=True)
    try:
        v = Viewer("dsmb")
        surv = closed.survival_by_arm(con, v)
        lr = closed.logrank(con, v)
        part = closed.summary_part(con, v)
    finally:
        con.close()
    labels = {"DE-ESCALATION": "De-escalation surgery", "STANDARD": "Standard surgery"}
    if kind == "no_surgery":
        assert closed.empty_message(surv["pp"]["os"], labels).startswith("No subjects to analyse in this set")
        assert closed.empty_message(surv["itt"]["os"], labels) is None
        assert lr["pp"]["os"]["stratified"]["reason"] == "no subjects"
        itt = lr["itt"]["os"]["stratified"]
        assert itt["reason"] is None and itt["events"] == 3
        assert itt["by_arm"]["experimental"]["observed"] == 2 and itt["by_arm"]["reference"]["observed"] == 1
    elif kind == "one_arm":
        msg = closed.empty_message(surv["itt"]["os"], labels)
        assert msg == "De-escalation surgery: no subjects, no curve"
        assert lr["itt"]["os"]["unstratified"]["reason"] == "only one arm ('STANDARD') among the subjects used"
    else:
        assert closed.empty_message(surv["itt"]["os"], labels) is None
        assert lr["itt"]["os"]["stratified"]["reason"] == "no events"
        assert lr["itt"]["dfs"]["unstratified"]["chisq"] is None
    json.dumps(part, default=str)  # the summary's part is JSON


def test_every_closed_page_opens_with_a_message(wh):
    kind, _path = wh
    clear_caches()
    for page in CLOSED_PAGES:
        at = open_page(Viewer("dsmb", None, "dsmb.chair"), f"{page}.py")
        assert not at.exception, (kind, page, [e.value for e in at.exception])
        text = page_text(at, charts=False)
        assert "CONFIDENTIAL - DSMB CLOSED SESSION" in text
        if page == "closed_survival":
            assert "Log-rank test by arm" in text
            if kind == "no_surgery":
                assert "Per protocol: no subjects in this set" in text
                assert "No subjects to analyse in this set" in text
            elif kind == "one_arm":
                assert "De-escalation surgery: no subjects, no curve" in text
                assert "only one arm" in text
            else:
                assert "no events" in text and "Intention to treat: no deaths yet" in text
            if kind == "no_surgery":  # the other endpoint too
                at.segmented_control(key="closed_endpoint").set_value("dfs").run()
                assert not at.exception, [e.value for e in at.exception]
                assert "No subjects to analyse in this set" in page_text(at, charts=False)
        if page == "closed_interim":
            if kind == "no_events":
                assert "No deaths yet: information fraction 0" in text
            elif kind == "one_arm":
                assert "The stratified hazard ratio is not estimable yet" in text


def test_the_dsmb_summary_and_the_closed_report_do_not_crash(wh, tmp_path):
    import subprocess
    import sys

    kind, path = wh
    _dsmb_account()
    done = subprocess.run(
        [sys.executable, "-m", "dashboard", "summary", "--warehouse", str(path), "--role", "dsmb"]
        + ["--user", DSMB_USER, "--password-stdin"],
        input=DSMB_PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    s = json.loads(done.stdout)
    lr = s["closed"]["logrank"]
    assert set(lr) == {"itt", "pp"} and set(lr["itt"]) == {"os", "dfs"}
    if kind == "no_surgery":
        assert lr["pp"]["os"]["stratified"]["reason"] == "no subjects"
        assert s["survival"]["os"]["by_arm"]["DE-ESCALATION"]["n"] == 3
    done = _report(path, tmp_path, "dsmb", "closed.html")
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "closed.html").read_text(encoding="utf-8")
    assert "CLOSED: log-rank test by arm" in html
    if kind == "no_surgery":
        assert "Per protocol: no subjects in this set" in html and "No subjects to analyse in this set" in html
    elif kind == "one_arm":
        assert "De-escalation surgery: no subjects, no curve" in html
    else:
        assert "Intention to treat: no deaths yet" in html
