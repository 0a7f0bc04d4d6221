"""Issue 13, the accrual and arm-balance views: the CONSORT flow adds up (every box is the sum of
the arrows leaving it and of those entering it, an exclusion box the sum of its reasons), on the
demo trial and on hand-made packages; the arm-balance check uses the blocking unit of trial.toml
(blocks within strata: no check on one site's strata; within site and stratum: every cell); the
"are we on track" figures of the accrual page's first screen."""

from __future__ import annotations

import datetime as dt

import pytest

from dashboard.access.roles import Viewer
from dashboard.config import load_trial
from dashboard.devtools.demo import write_demo_package
from dashboard.ingest.build import build
from dashboard.outputs import figures
from dashboard.store import warehouse
from dashboard.views import enrollment
from factory import Package, small_trial

SITES = [f"{k:02d}" for k in range(1, 13)]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("enrollment-views")
    write_demo_package(tmp / "pkg")
    build(tmp / "pkg", tmp / "wh")
    return tmp / "wh"


def _assert_adds_up(f: dict) -> None:
    boxes, edges = f["boxes"], f["edges"]
    for key, box in boxes.items():
        out = [n for a, _b, n in edges if a == key]
        into = [n for _a, b, n in edges if b == key]
        if out:
            assert box["n"] == sum(out), (key, box, out)
        if into:
            assert box["n"] == sum(into), (key, box, into)
        if box.get("parts"):
            assert box["n"] == sum(n for _label, n in box["parts"]), (key, box)
    for a, b, n in edges:
        # a box with one way in holds exactly what arrives
        if sum(1 for _a, bb, _n in edges if bb == b) == 1:
            assert boxes[b]["n"] == n, (a, b)
    # the flat counts too: nothing before surgery is counted under Operated
    assert (
        f["operated"]
        == f["in_follow_up"] + f["died"] + f["withdrew"] + f["lost"] + f["completed"] + (f["physician_decision"])
    )
    assert f["randomized"] == f["operated"] + f["not_operated_total"]
    assert f["not_operated_total"] == f["awaiting_surgery"] + f["not_operated"] + f["off_study_not_operated"]
    assert (
        f["screened"]
        == (f["screen_failures"] + f["screening_pending"] + f["other_outcome"] + f["enrolled_not_randomized"])
        + f["enrolled_randomized"]
    )


def test_demo_flow_adds_up_for_every_scope(demo):
    con = warehouse.connect(demo)
    f = enrollment.flow(con, Viewer("pi"))
    _assert_adds_up(f)
    # the numbers: Operated 278 read 266 in follow-up + 9 died + 8 withdrew + 1 lost = 284;
    # the deaths and withdrawals of never-operated subjects belong under "not operated"
    dead = con.execute("select count(*) from followup_status where status like 'dead%'").fetchone()[0]
    withdrew = con.execute("select count(*) from followup_status where status = 'withdrew consent'").fetchone()[0]
    assert f["died"] + f["died_before_surgery"] == dead
    assert f["withdrew"] + f["withdrew_before_surgery"] == withdrew
    assert f["died_before_surgery"] + f["withdrew_before_surgery"] > 0  # the demo has such subjects
    for site in SITES:
        _assert_adds_up(enrollment.flow(con, Viewer("site", site)))


def _flow_package() -> Package:
    """Every branch of the flow: operated (in follow-up, died, withdrew, lost), not operated
    (awaiting surgery, none after 28 days, died and withdrew before surgery), a screen failure, a
    pending screening, an enrolled row never randomized, a randomized subject with no enrolled row."""
    pkg = small_trial()
    cut = pkg.cutoff
    recent = (cut - dt.timedelta(days=10)).isoformat()
    pkg.add_subject("01-010", "01", randdat="2027-01-10", surgery="2027-01-20")  # operated, then died
    pkg.add("DD", SUBJID="01-010", SITEID="01", DTHDAT="2027-06-01", DTHCAUS="DISEASE")
    pkg.add("DS", SUBJID="01-010", SITEID="01", DSDECOD="DEATH", DSSTDAT="2027-06-01")
    pkg.add_subject("01-011", "01", randdat="2027-02-10", surgery="2027-02-20")  # operated, withdrew
    pkg.add("DS", SUBJID="01-011", SITEID="01", DSDECOD="WITHDREW CONSENT", DSSTDAT="2027-08-01")
    pkg.add_subject("01-012", "01", randdat="2027-03-10", surgery="2027-03-20")  # operated, lost
    pkg.add("DS", SUBJID="01-012", SITEID="01", DSDECOD="LOST TO FOLLOW-UP", DSSTDAT="2027-09-01")
    pkg.add_subject("02-010", "02", randdat="2027-04-10", surgery=None)  # died before surgery
    pkg.add("DD", SUBJID="02-010", SITEID="02", DTHDAT="2027-04-20", DTHCAUS="DISEASE")
    pkg.add("DS", SUBJID="02-010", SITEID="02", DSDECOD="DEATH", DSSTDAT="2027-04-20")
    pkg.add_subject("02-011", "02", randdat="2027-05-10", surgery=None)  # withdrew before surgery
    pkg.add("DS", SUBJID="02-011", SITEID="02", DSDECOD="WITHDREW CONSENT", DSSTDAT="2027-05-20")
    pkg.add_subject("02-012", "02", randdat="2027-06-10", surgery=None)  # no surgery after 28 days
    pkg.add_subject("02-013", "02", randdat=recent, surgery=None)  # awaiting surgery
    pkg.add_subject("01-013", "01", randdat="2027-07-10", randomize=False)  # enrolled, never randomized
    pkg.add_subject("01-014", "01", randdat="2027-07-20", surgery="2027-08-01")
    pkg.forms["SCREENING"] = [r for r in pkg.forms["SCREENING"] if r.get("SUBJID") != "01-014"]  # no log row
    pkg.add("SCREENING", SCRNID="S9100", SITEID="02", SCRNDAT=recent, SCRNOUT="PENDING")
    return pkg


def test_hand_made_flow_adds_up_and_puts_each_subject_in_its_box(tmp_path):
    wh = tmp_path / "wh"
    build(_flow_package().write(tmp_path / "pkg"), wh)
    con = warehouse.connect(wh)
    f = enrollment.flow(con, Viewer("pi"))
    _assert_adds_up(f)
    assert (f["screened"], f["randomized"], f["operated"]) == (14, 12, 8)
    assert (f["in_follow_up"], f["died"], f["withdrew"], f["lost"]) == (5, 1, 1, 1)
    assert (f["died_before_surgery"], f["withdrew_before_surgery"]) == (1, 1)
    assert (f["awaiting_surgery"], f["not_operated"]) == (1, 1)
    assert (f["screen_failures"], f["screening_pending"], f["enrolled_not_randomized"]) == (1, 1, 1)
    assert f["randomized_unscreened"] == 1 and "unscreened" in f["boxes"]
    for site in ("01", "02"):
        _assert_adds_up(enrollment.flow(con, Viewer("site", site)))
    # and the graph draws every box with its count and every exclusion with its reasons
    dot = figures.consort_dot(f)
    for box in f["boxes"].values():
        assert f"n = {box['n']}" in dot
        for label, n in box.get("parts", []):
            assert f"{label}: {n}" in dot
    assert "Died: 1" in dot and "Enrolled, not randomized: 1" in dot


def _cfg(unit: str):
    cfg = load_trial()
    return cfg.model_copy(update={"randomization": cfg.randomization.model_copy(update={"blocks_within": unit})})


def _balance_package() -> Package:
    """Stratum PR|ORAL CAVITY balanced trial-wide (4 and 4) but 4 apart within each of its sites:
    blocks within strata allow it, blocks within site and stratum do not."""
    pkg = Package()
    for k in range(4):
        pkg.add_subject(f"01-{k + 1:03d}", "01", arm="DE-ESCALATION", randdat=f"2026-0{k + 3}-01", surgery=None)
        pkg.add_subject(f"02-{k + 1:03d}", "02", arm="STANDARD", randdat=f"2026-0{k + 3}-02", surgery=None)
    return pkg


@pytest.fixture(scope="module")
def balance_closed(tmp_path_factory):
    """The closed file: every allocation count (the blinded file withholds one-arm cells)."""
    tmp = tmp_path_factory.mktemp("balance")
    build(_balance_package().write(tmp / "pkg"), tmp / "wh")
    return warehouse.connect(tmp / "wh", closed=True)


def test_blocks_within_strata_no_alarm_for_a_site(balance_closed):
    cfg = _cfg("stratum")
    site = enrollment.imbalance(balance_closed, Viewer("site", "01"), cfg)
    assert site["stratum"]["difference"] == 4  # what the old check compared with blocks of 4
    assert site["check"] is None and site["alert"] is False
    trial = enrollment.imbalance(balance_closed, Viewer("pi"), cfg)
    assert trial["check"]["difference"] == 0 and trial["alert"] is False


def test_blocks_within_site_and_stratum_checks_each_cell(balance_closed):
    cfg = _cfg("site_stratum")
    for viewer in (Viewer("pi"), Viewer("site", "02")):
        imb = enrollment.imbalance(balance_closed, viewer, cfg)
        assert imb["unit"] == "site_stratum"
        assert imb["check"]["difference"] == 4 and imb["check"]["stratum"] == "PR|ORAL CAVITY"
        assert imb["alert"] is True
    assert enrollment.imbalance(balance_closed, Viewer("site", "02"), cfg)["check"]["site"] == "02"


def test_on_track_figures(demo):
    con = warehouse.connect(demo)
    cfg = load_trial()
    t = enrollment.on_track(con, Viewer("pi"), cfg)
    dates = con.execute("select randomization_date from subjects where randomized").fetchall()
    cut = t["cutoff"]
    assert t["randomized"] == len(dates)
    assert t["last_days"] == sum(1 for (x,) in dates if cut - dt.timedelta(days=30) < x <= cut)
    start = enrollment.accrual(con, Viewer("pi"), cfg)["start"]
    planned = 356 * min(1.0, (cut - start).days / 30.4375 / cfg.design.accrual_months)
    assert t["ahead_by"] == len(dates) - round(planned)
    assert t["fraction"] == pytest.approx(len(dates) / 356)
    assert t["slowest"]["per_month"] <= t["fastest"]["per_month"]
    assert "slowest" not in enrollment.on_track(con, Viewer("site", "01"), cfg)
