"""The DSMB closed session: by-arm figures checked by hand, the closed summary, refusals for
blinded roles, the audit of closed views, and the reports (HTML, PDF) per role."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from apptest import MAIN, clear_caches, open_page, page_text, serving
from dashboard.access import audit
from dashboard.access.roles import AccessDenied, Viewer
from dashboard.ingest.build import build
from dashboard.outputs.summary import summary
from dashboard.store import warehouse
from dashboard.views import closed
from test_blinding_pages import _trial


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    """Sites 01 and 02: 10 subjects per arm, 7 of 10 de-escalation and 1 of 10 standard subjects die
    within 70 days; site 03: 3 de-escalation subjects, all die; site 04: 6 standard subjects, one
    dies. Survivors are seen 2 years on (tests/test_blinding_pages._trial)."""
    tmp = tmp_path_factory.mktemp("closed")
    build(_trial().write(tmp / "pkg"), tmp / "wh")
    with serving(tmp / "wh") as path:
        yield path


@pytest.fixture
def con(wh):
    c = warehouse.connect(wh, closed=True)
    yield c
    c.close()


def test_survival_by_arm_by_hand(con):
    surv = closed.survival_by_arm(con, Viewer("dsmb"))["itt"]["os"]
    de, std = surv["DE-ESCALATION"], surv["STANDARD"]
    assert (de["n"], de["events"]) == (23, 17) and (std["n"], std["events"]) == (26, 3)
    # no censoring before 12 months: the 12-month survival is the surviving share
    assert de["landmarks"]["12"]["survival"] == pytest.approx(6 / 23)
    assert std["landmarks"]["12"]["survival"] == pytest.approx(23 / 26)
    assert de["landmarks"]["12"]["at_risk"] == 6 and std["landmarks"]["12"]["at_risk"] == 23


def test_logrank_by_arm_matches_r(con):
    """R 4.2.2, survival 3.5.3, on this warehouse's ITT OS times: survdiff(Surv(os_days, os_event) ~
    arm + strata(stratum_response, stratum_site)) gives O 17 and 3, E 8.05133604861 and
    11.94866395139, chisq 18.1208749653416, p 2.07316137396e-05. Every subject here is in one
    stratum (PR, oral cavity), so the unstratified test is the same."""
    lr = closed.logrank(con, Viewer("dsmb"))["itt"]["os"]
    for kind in ("stratified", "unstratified"):
        r = lr[kind]
        assert (r["by_arm"]["experimental"]["observed"], r["by_arm"]["reference"]["observed"]) == (17, 3)
        assert r["by_arm"]["experimental"]["label"] == "DE-ESCALATION"
        assert r["by_arm"]["experimental"]["expected"] == pytest.approx(8.05133604861, abs=1e-10)
        assert r["by_arm"]["reference"]["expected"] == pytest.approx(11.94866395139, abs=1e-10)
        assert r["chisq"] == pytest.approx(18.1208749653416, abs=1e-12)
        assert r["p"] == pytest.approx(2.07316137396e-05, rel=1e-10)
    assert lr["stratified"]["stratified_by"] == ["stratum_response", "stratum_site"]
    rows = closed.logrank_rows(closed.logrank(con, Viewer("dsmb")), closed.load_trial())
    first = rows[0]
    assert first["De-escalation surgery: observed / expected"] == "17 / 8.1"
    assert first["Standard surgery: observed / expected"] == "3 / 11.9"
    assert (first["chi-square (1 df)"], first["p"]) == ("18.12", "<0.001")


def test_logrank_refuses_blinded_viewers(wh):
    blinded = warehouse.connect(wh)
    try:
        for role in ("pi", "steering", "data_manager"):
            with pytest.raises(AccessDenied, match="may not open the closed session"):
                closed.logrank(blinded, Viewer(role))
    finally:
        blinded.close()


def test_the_survival_page_shows_the_logrank_and_blinded_roles_do_not(wh):
    clear_caches()
    at = open_page(Viewer("dsmb", None, "dsmb.chair"), "closed_survival.py")
    assert not at.exception
    text = page_text(at, charts=False)
    assert "Log-rank test by arm" in text and "18.12" in text and "17 / 8.1" in text
    assert "stratified by the randomization strata (response, primary site)" in text
    for viewer in (Viewer("steering"), Viewer("pi"), Viewer("site", "01")):
        at = AppTest.from_file(str(Path(MAIN).parent.parent / "pages" / "closed_survival.py"), default_timeout=60)
        at.session_state["viewer"] = viewer
        at.run()
        text = page_text(at, charts=False)
        assert "not available to your role" in text and "Log-rank" not in text and "18.12" not in text


def test_safety_by_arm_by_hand(con):
    saf = closed.safety_by_arm(con, Viewer("dsmb"))
    assert saf["by_arm"]["DE-ESCALATION"]["serious"] == 7 + 7 + 3
    assert saf["by_arm"]["STANDARD"]["serious"] == 3 + 3 + 2
    assert saf["by_arm"]["DE-ESCALATION"]["positive_margin"] == 17
    sig = saf["signal_differences"].set_index("name")
    assert sig.loc["positive_margin", "difference"] == pytest.approx(17 / 23 - 8 / 26)


def test_markers_are_tabulated_within_arm(con):
    q = closed.surgical_quality(con, Viewer("dsmb"))
    mand = q["markers"]["Mandible preserved"]
    assert mand.loc["Y", "DE-ESCALATION"] == 23 and mand.loc["N", "STANDARD"] == 26


def test_the_dsmb_summary_has_by_arm_and_closed(wh):
    s = summary(wh, Viewer("dsmb"))
    assert set(s["survival"]["os"]["by_arm"]) == {"DE-ESCALATION", "STANDARD"}
    assert s["survival"]["os"]["by_arm"]["STANDARD"]["landmarks"]["12"]["survival"] == pytest.approx(23 / 26)
    assert set(s["safety"]["by_arm"]) == {"DE-ESCALATION", "STANDARD"}
    ni, it = s["closed"]["noninferiority"], s["closed"]["interim"]
    assert ni["margin"] == 0.12 and ni["hr_margin"] == 1.8
    assert ni["os36_difference"] is None  # 36 months lie beyond the longest follow-up here
    assert ni["hr_lower"] < ni["hazard_ratio"] < ni["hr_upper"] and ni["hazard_ratio"] > 1
    assert it["observed_deaths"] == 20 and it["information_fraction"] == pytest.approx(20 / 90)
    assert [round(p["fraction"], 2) for p in it["planned"]] == [0.5, 0.75, 1.0]
    lr = s["closed"]["logrank"]["itt"]["os"]["stratified"]
    assert lr["chisq"] == pytest.approx(18.1208749653416, abs=1e-12) and lr["df"] == 1
    assert lr["by_arm"]["reference"]["observed"] == 3


@pytest.mark.parametrize("role", ["pi", "steering", "data_manager", "admin"])
def test_other_summaries_have_neither(wh, role):
    s = summary(wh, Viewer(role))
    assert "closed" not in s
    assert "by_arm" not in json.dumps(s.get("survival", {})) + json.dumps(s.get("safety", {}))
    assert "logrank" not in json.dumps(s) and "18.12" not in json.dumps(s)


def test_closed_functions_refuse_blinded_viewers_and_blinded_files(wh):
    blinded = warehouse.connect(wh)
    try:
        with pytest.raises(AccessDenied, match="role steering may not open the closed session"):
            closed.survival_by_arm(blinded, Viewer("steering"))
        with pytest.raises(duckdb.BinderException, match='column "arm" not found'):
            closed.arms(blinded, Viewer("dsmb"))  # the arm is not in the blinded file at all
    finally:
        blinded.close()


def test_closed_pages_render_and_are_on_the_record(wh):
    clear_caches()
    before = len(audit.read())
    for page in ("closed_survival", "closed_interim", "closed_safety", "closed_surgery"):
        at = open_page(Viewer("dsmb", None, "dsmb.chair"), f"{page}.py")
        assert not at.exception, [e.value for e in at.exception]
        assert any("CONFIDENTIAL - DSMB CLOSED SESSION" in m.value for m in at.markdown)
    entries = audit.read()[before:]
    views = [e["action"] for e in entries if e["action"].startswith("closed view")]
    assert views == [
        "closed view: closed_survival",
        "closed view: closed_interim",
        "closed view: closed_safety",
        "closed view: closed_surgery",
    ]
    assert all(e["user"] == "dsmb.chair" and e["data_cut"]["cutoff"] == "2028-06-30" for e in entries)


def test_a_closed_page_run_by_a_blinded_role_shows_nothing(wh):
    at = AppTest.from_file(str(Path(MAIN).parent.parent / "pages" / "closed_survival.py"), default_timeout=60)
    at.session_state["viewer"] = Viewer("steering")
    at.run()
    assert any("not available to your role" in e.value for e in at.error)
    assert not at.get("plotly_chart") and not at.dataframe


def test_the_reports_page_offers_the_closed_report_to_the_dsmb_only(wh):
    for viewer, closed_offered in ((Viewer("dsmb"), True), (Viewer("steering"), False)):
        at = open_page(viewer, "reports.py")
        labels = [b.label for b in at.button]
        assert "Make the open report" in labels
        assert ("Make the closed report" in labels) is closed_offered


DSMB_USER, DSMB_PASSWORD = "dsmb.chair", "closed-session-pass-1"


def _dsmb_account() -> None:
    """A DSMB account in the test users file: the closed CLI signs one in (issue 11)."""
    from dashboard.access import accounts

    if not any(u["username"] == DSMB_USER for u in accounts.list_users()):
        accounts.add_user(DSMB_USER, "dsmb", DSMB_PASSWORD)


def _report(wh, tmp_path, role, out, *extra):
    env = {**os.environ}
    login: list[str] = []
    if role == "dsmb":
        _dsmb_account()
        login = ["--user", DSMB_USER, "--password-stdin"]
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "dashboard",
            "report",
            "--warehouse",
            str(wh),
            "--role",
            role,
            "--out",
            str(tmp_path / out),
            *login,
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        input=DSMB_PASSWORD + "\n" if login else None,
    )


def test_the_open_report_is_pooled_and_the_closed_one_is_marked(wh, tmp_path):
    assert _report(wh, tmp_path, "steering", "open.html").returncode == 0
    text = (tmp_path / "open.html").read_text(encoding="utf-8")
    assert "CONFIDENTIAL" not in text and "De-escalation surgery" not in text and "CLOSED:" not in text
    assert "四川大学华西口腔医院" in text and "plotly" in text.lower()
    assert _report(wh, tmp_path, "dsmb", "closed.html").returncode == 0
    text = (tmp_path / "closed.html").read_text(encoding="utf-8")
    assert text.count("CONFIDENTIAL - DSMB CLOSED SESSION") >= 2
    assert "CLOSED: non-inferiority" in text and "De-escalation surgery" in text
    assert "CLOSED: log-rank test by arm" in text and "17 / 8.1" in text and "18.12" in text
    assert "made by" in text and "Data cut-off 2028-06-30" in text
    actions = [e["action"] for e in audit.read()]
    assert "export: open report (html)" in actions and "cli_report_closed" in actions


@pytest.mark.skipif(
    not shutil.which("chromium") or not shutil.which("pdftoppm"),
    reason="needs Debian's chromium and poppler-utils (.ci/run installs both)",
)
def test_the_closed_report_prints_to_pdf_and_its_first_page_is_not_blank(wh, tmp_path):
    from PIL import Image, ImageStat

    done = _report(wh, tmp_path, "dsmb", "closed.pdf")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "closed.pdf").read_bytes().startswith(b"%PDF")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(tmp_path / "closed.pdf"), str(tmp_path / "page")],
        check=True,
    )
    png = next(tmp_path.glob("page*.png"))
    shots = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    shutil.copy(png, shots / "closed-report-page1.png")
    image = Image.open(png).convert("L")
    assert ImageStat.Stat(image).stddev[0] > 10  # text and a red banner, not a blank page
    rgb = Image.open(png).convert("RGB")
    red = rgb.get_flattened_data() if hasattr(rgb, "get_flattened_data") else rgb.getdata()  # Pillow >= 12.1
    assert sum(1 for r, g, b in red if r > 150 and g < 90 and b < 90) > 200  # the CONFIDENTIAL banner
