"""`python -m dashboard summary`: the figures per role, checked against the demo package's
planted findings and against totals that must agree with each other."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys

import pytest

from dashboard.access.roles import Viewer
from dashboard.config import load_trial
from dashboard.devtools.demo import write_demo_package
from dashboard.ingest.build import build
from dashboard.outputs.summary import summary
from dashboard.store import warehouse


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demo")
    planted = write_demo_package(tmp / "pkg")
    build(tmp / "pkg", tmp / "wh")
    return tmp / "wh", planted, tmp / "pkg"


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "dashboard", "summary", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_prints_the_summary_json(demo):
    wh, planted, _pkg = demo
    done = _cli("--warehouse", str(wh), "--role", "pi")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["data_cut"]["cutoff"] == "2028-06-30"
    assert out["data_cut"]["source"].startswith("NEO-MARGIN SYNTHETIC DEMO")
    assert out["enrollment"]["randomized"] == planted["randomized"] == 300
    assert out["enrollment"]["screened"] == planted["screened"]
    assert out["enrollment"]["target"] == 356


def test_totals_agree(demo):
    wh, _, _pkg = demo
    s = summary(wh, Viewer("pi"))
    e, a = s["enrollment"], s["allocation"]
    assert sum(v["randomized"] for v in e["by_site"].values()) == e["randomized"]
    assert sum(v["screened"] for v in e["by_site"].values()) == e["screened"]
    assert sum(e["screen_failure_reasons"].values()) == e["screen_failures"]
    assert sum(a["by_arm"].values()) == e["randomized"]

    def shown(groups: dict) -> int:
        # cells the cell rule withholds have no counts by arm; their merged row has them together
        return sum(sum(v.values()) for v in groups.values() if None not in v.values())

    assert shown(a["by_site"]) == e["randomized"]
    assert shown(a["by_stratum"]) == e["randomized"]
    # 1:1 permuted blocks of 4 within the two-by-two strata: at most 2 apart in each stratum
    # shown; two strata are withheld on the demo (docs/blinding.md), merged into one row
    strata = {k: v for k, v in a["by_stratum"].items() if k != "other (merged)"}
    assert len(strata) == 4 and sum(None in v.values() for v in strata.values()) == 2
    for counts in strata.values():
        if None not in counts.values():
            assert abs(counts["DE-ESCALATION"] - counts["STANDARD"]) <= 2
    # pending sites: no activation date, no patients
    pending = [k for k, v in e["by_site"].items() if v["activated"] is None]
    assert pending and all(e["by_site"][k]["randomized"] == 0 for k in pending)


@pytest.mark.parametrize("code", ["I01", "I04", "I06", "I07", "I12", "STAGE_MISMATCH"])
def test_planted_eligibility_findings_are_found_exactly(demo, code):
    wh, planted, _pkg = demo
    found = summary(wh, Viewer("pi"))["deviations"]["eligibility"][code]
    assert sorted(found) == sorted(planted["planted"][code])


def _csv(folder, form):
    import csv

    with open(folder / f"{form}.csv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_planted_window_deviations_are_found(demo):
    """Each window's list, exactly: the planted subjects, and for response imaging the subjects
    the demo package puts outside the window (read from its CSV files with the rule of
    trial.toml, not from the warehouse). Edges are pinned on hand-made subjects in test_windows."""
    wh, planted, pkg = demo
    windows = summary(wh, Viewer("data_manager"))["deviations"]["windows"]
    p = planted["planted"]
    for name in ("surgery_to_adjuvant", "randomization_to_surgery", "followup_visit", "response_imaging"):
        assert windows[name], name  # the demo has some of each
    assert windows["surgery_to_adjuvant"] == sorted(p["surgery_to_adjuvant_rt"])
    # randomization to surgery: the planted late surgeries plus the never-operated subjects
    assert windows["randomization_to_surgery"] == sorted(set(p["randomization_to_surgery"]) | set(p["never_operated"]))
    assert windows["followup_visit"] == sorted(p["followup_out_of_window"])
    # response imaging: last neoadjuvant dose to the last response on or before randomization,
    # outside 0..max days
    limit = load_trial().schedule.response_imaging_max_days_after_last_cycle
    rand = {r["SUBJID"]: r["RANDDAT"] for r in _csv(pkg, "RAND")}
    last_dose = {}
    for r in _csv(pkg, "EX"):
        last_dose[r["SUBJID"]] = max(last_dose.get(r["SUBJID"], ""), r["EXSTDAT"])
    response = {}
    for r in _csv(pkg, "RS"):
        if r["SUBJID"] in rand and r["RSDAT"] <= rand[r["SUBJID"]]:
            response[r["SUBJID"]] = max(response.get(r["SUBJID"], ""), r["RSDAT"])
    gap = {s: (dt.date.fromisoformat(response[s]) - dt.date.fromisoformat(last_dose[s])).days for s in response}
    late = sorted(s for s, g in gap.items() if not 0 <= g <= limit)
    assert set(p["response_imaging_late"]) <= set(late)  # the planted ones are among them
    assert windows["response_imaging"] == late


def test_planted_free_text_naming_the_arm_is_withheld(demo):
    wh, planted, _pkg = demo
    con = warehouse.connect(wh)
    try:
        found = [
            r[0]
            for r in con.execute(
                "select subjid from findings where kind = 'free text that may name the arm'"
            ).fetchall()
        ]
        shown = {r[0] for r in con.execute("select dvterm from crf_dv").fetchall()}
    finally:
        con.close()
    assert found == planted["planted"]["free_text_arm"] and len(found) == 1
    assert shown and not any("降级" in (t or "") for t in shown)


def test_site_disagreements_found(demo):
    wh, planted, _pkg = demo
    found = set(summary(wh, Viewer("pi"))["deviations"]["eligibility"]["IE_DISAGREES"])
    assert {subjid for subjid, _code in planted["planted"]["IE_DISAGREE"]} == found


def test_site_role_sees_only_its_site(demo):
    wh, _, _pkg = demo
    everyone = summary(wh, Viewer("pi"))
    site = next(k for k, v in everyone["enrollment"]["by_site"].items() if v["randomized"] > 10)
    mine = summary(wh, Viewer("site", site))
    assert set(mine["enrollment"]["by_site"]) == {site}
    assert mine["enrollment"]["randomized"] == everyone["enrollment"]["by_site"][site]["randomized"]
    assert mine["allocation"]["by_arm"] == everyone["allocation"]["by_site"][site]
    withheld = [v for v in mine["allocation"]["by_stratum"].values() if None in v.values()]
    if not withheld:
        assert (
            sum(sum(v.values()) for v in mine["allocation"]["by_stratum"].values()) == mine["enrollment"]["randomized"]
        )
    listed = {s for lst in mine["deviations"]["eligibility"].values() for s in lst} | {
        s for lst in mine["deviations"]["windows"].values() for s in lst
    }
    assert listed and all(s.startswith(site + "-") for s in listed)


def test_site_role_needs_a_site_and_unknown_roles_are_refused(demo):
    wh, _, _pkg = demo
    done = _cli("--warehouse", str(wh), "--role", "site")
    assert done.returncode == 2 and "needs a site" in done.stderr
    done = _cli("--warehouse", str(wh), "--role", "sponsor")
    assert done.returncode == 2 and "unknown role" in done.stderr


def test_admin_sees_counts_only(demo):
    wh, _, _pkg = demo
    s = summary(wh, Viewer("admin"))
    assert "deviations" not in s
    assert not re.search(r'"[0-9]{2,3}-[0-9]{3,5}"', json.dumps(s))  # no subject ID anywhere


@pytest.mark.parametrize("role", ["pi", "steering", "data_manager", "admin"])
def test_blinded_summaries_hold_no_arm_level_outcome(demo, role):
    """Allocation counts by arm are shown to all; nothing else in a blinded summary names an arm
    or holds a figure of one arm: the figures of each arm (and of each arm within each site) are
    computed from the demo's closed file (tests/test_blinding_pages) and none is in the summary."""
    from test_blinding_pages import closed_subjects, forbidden_for, summary_leaks

    wh, _, _pkg = demo
    forbidden = forbidden_for(closed_subjects(wh), Viewer(role))
    assert len(forbidden.floats) > 50 and len(forbidden.counts) > 10  # the demo's arms differ
    s = summary(wh, Viewer(role))
    assert "closed" not in s
    assert not summary_leaks(s, forbidden)


def test_no_warehouse_is_a_clear_error(tmp_path):
    done = _cli("--warehouse", str(tmp_path / "none"), "--role", "pi")
    assert done.returncode == 2 and "no warehouse has been built" in done.stderr


def test_summary_has_pooled_survival_safety_and_projection(demo):
    wh, _, _pkg = demo
    s = summary(wh, Viewer("steering"))
    for endpoint in ("os", "dfs"):
        pooled = s["survival"][endpoint]["pooled"]
        assert pooled["n"] == 300 and 0 < pooled["events"] < 300
        assert set(pooled["landmarks"]) == {"12", "24", "36"}
        lm = pooled["landmarks"]["12"]
        assert lm["lower"] <= lm["survival"] <= lm["upper"] and lm["at_risk"] > 0
        assert pooled["landmarks"]["36"]["survival"] is None  # beyond the longest follow-up
    safety = s["safety"]["pooled"]
    assert safety["subjects"] == 300
    assert safety["grade3plus"] <= safety["any_ae"] <= safety["subjects"]
    assert safety["positive_margin"] <= safety["with_pathology"] <= safety["operated"]
    assert safety["death_30d"] <= safety["death_90d"]
    assert sum(safety["by_soc"].values()) >= safety["any_ae"]
    names = [sig["name"] for sig in s["safety"]["signals"]]
    assert names == [
        "clavien_3a_plus_30d",
        "death_90d",
        "positive_margin",
        "local_recurrence_12m",
        "immune_grade3plus_neoadjuvant",
    ]
    rules = {c.name: c for c in load_trial().safety_signals}
    for sig in s["safety"]["signals"]:
        assert sig["lower"] <= sig["observed"] <= sig["upper"]
        assert sig["observed"] == pytest.approx(sig["events"] / sig["n"])
        # flagged exactly when above the threshold, or when any event is a signal and there is one
        rule = rules[sig["name"]]
        above = rule.threshold is not None and sig["observed"] > rule.threshold
        assert sig["flagged"] is (above or (rule.flag_any and sig["events"] > 0)), sig
    proj = s["enrollment"]["projection"]
    assert proj["lower"] <= proj["completion_date"] <= proj["upper"]
    assert proj["completion_date"] > "2028-06-30"


def test_safety_counts_by_hand_on_a_small_package(tmp_path):
    """Two operated subjects: one with a Clavien IIIA complication on day 30 and a death on day
    80 after surgery, one with an immune-related grade 3 AE before surgery and a positive margin."""
    from factory import Package

    pkg = Package()
    pkg.add_subject("01-001", "01", arm="STANDARD", randdat="2026-03-01", surgery="2026-03-10")
    pkg.add_subject("01-002", "01", arm="DE-ESCALATION", randdat="2026-03-02", surgery="2026-03-12")
    pkg.add(
        "AE",
        SUBJID="01-001",
        SITEID="01",
        AESPID="1",
        AETERM="伤口感染",
        AESOC="Infections and infestations",
        AESTDAT="2026-04-09",
        AETOXGR="3",
        AESER="Y",
        AECLAV="IIIA",
    )
    pkg.add("DD", SUBJID="01-001", SITEID="01", DTHDAT="2026-05-29")
    pkg.add(
        "AE",
        SUBJID="01-002",
        SITEID="01",
        AESPID="1",
        AETERM="免疫性肺炎",
        AESOC="Respiratory disorders",
        AESTDAT="2026-02-20",
        AETOXGR="3",
        AESER="N",
        AEIMMUNE="Y",
    )
    pkg.add("PATH", SUBJID="01-002", SITEID="01", PATHDAT="2026-03-25", MARGIN="POSITIVE")
    build(pkg.write(tmp_path / "p"), tmp_path / "wh")
    from dashboard.store import warehouse
    from dashboard.views import safety

    con = warehouse.connect(tmp_path / "wh")
    try:
        p = safety.pooled(con, Viewer("dsmb"))
    finally:
        con.close()
    assert "suppressed" in p  # two subjects: fewer than the minimum cell, even for pooled
    # the signals by hand, on the closed file: margins are pooled-only, so the blinded file has
    # no subject-level margin, and its pooled counts are withheld here (two subjects)
    from dashboard.views import closed

    con = warehouse.connect(tmp_path / "wh", closed=True)
    try:
        df = safety.subjects(con, Viewer("dsmb")).merge(closed.margins(con, Viewer("dsmb")), on="subjid", how="left")
    finally:
        con.close()
    con = warehouse.connect(tmp_path / "wh")
    try:
        assert safety.pooled_margin(con, Viewer("pi")) is None
    finally:
        con.close()
    from dashboard.config import load_trial

    sig = {s["name"]: s for s in safety.signals(df, load_trial())}
    assert (sig["clavien_3a_plus_30d"]["events"], sig["clavien_3a_plus_30d"]["n"]) == (1, 2)
    assert (sig["death_90d"]["events"], sig["death_90d"]["n"]) == (1, 2) and sig["death_90d"]["flagged"]
    assert (sig["positive_margin"]["events"], sig["positive_margin"]["n"]) == (1, 1)
    assert (sig["immune_grade3plus_neoadjuvant"]["events"], sig["immune_grade3plus_neoadjuvant"]["n"]) == (1, 2)
    assert sig["immune_grade3plus_neoadjuvant"]["flagged"]
    assert sig["positive_margin"]["observed"] == 1.0 and sig["positive_margin"]["flagged"]
