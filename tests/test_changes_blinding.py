"""The difference between two data cuts under the blinding rule (dashboard/views/changes.py).

One hand-made trial exported twice (cut-offs 2027-06-30 and 2027-12-31) and built into one
warehouse. Sites 01, 02 and 04 have 12 subjects each, both arms; site 03 has 6, all de-escalation
(large enough, but one arm), site 06 has 6, all standard; site 05 has 4 in the first cut (too
small) and 6 in the second. Between the cuts: a one-arm site's subject dies (03), eleven of site
04's subjects die within 90 days of surgery (04 leaves the funnel), every subject of site 05 has a
Clavien IIIB complication (05 is outside the funnel in the second cut, but was merged in the
first), three subjects are randomized, a recurrence, an AE's grade goes from 2 to 3, a birth date
becomes partial, a site's target changes, a deviation is resolved, one is added and one rewritten
in words that name the arm.

What the difference must say is computed here from the two packages' rows (Python, not the
build's SQL), and from the single cuts' own figures (the site funnel of each cut's file).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections import Counter
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dashboard.access.blinding import MERGED
from dashboard.access.roles import Viewer
from dashboard.config import load_trial
from dashboard.ingest.build import build
from dashboard.store import warehouse
from dashboard.store.data import fetch
from dashboard.views import safety
from dashboard.views.changes import EVENT_KINDS, STEP_RULE, changes
from factory import Package, d

CFG = load_trial()
ARM_WORDS = [w for a in CFG.arms for w in (a.code, a.label, a.label_zh) if w] + ["STANDARD SURGERY"]
BLINDED = [Viewer("pi"), Viewer("steering"), Viewer("data_manager"), Viewer("site", "01"), Viewer("site", "03")]
ARM_TEXT = {
    "new": "随机分入降阶梯手术组后手术延迟",  # a new deviation whose term names the arm
    "rewritten": "randomized to the standard arm, surgery delayed",  # an existing one rewritten so
}
SITES = {
    "03": ("四川大学华西口腔医院", "成都"),
    "04": ("浙江大学医学院附属第一医院", "杭州"),
    "05": ("中南大学湘雅医院", "长沙"),
    "06": ("山东大学齐鲁医院", "济南"),
}
PLAN = {"01": 12, "02": 12, "03": 6, "04": 12, "05": 4, "06": 6}  # subjects per site in the first cut
ADDED = [("01", "01-013", "2027-03-01"), ("05", "05-005", "2027-01-05"), ("05", "05-006", "2027-01-12")]


def _arm(site: str, k: int) -> str:
    if site in ("03", "06"):  # one arm each: withheld in every cut, merged together (two arms, 12)
        return "DE-ESCALATION" if site == "03" else "STANDARD"
    return "DE-ESCALATION" if k % 2 == 0 else "STANDARD"


def _trial(second: bool) -> Package:
    pkg = Package(cutoff=d("2027-12-31") if second else d("2027-06-30"))
    for site, (name, city) in SITES.items():
        pkg.forms["SITES"].append(
            {
                "SITEID": site,
                "SITENAME": name,
                "CITY": city,
                "COUNTRY": "CHN",
                "ACTDAT": "2026-01-20",
                "STATUS": "ACTIVE",
            }
        )
    n = 0
    subjects = []
    for site, size in PLAN.items():
        for k in range(size):
            n += 1
            subjects.append((site, f"{site}-{k + 1:03d}", (dt.date(2026, 3, 1) + dt.timedelta(days=n)).isoformat(), k))
    if second:  # randomized after the first cut; added last, so every earlier row keeps its number
        subjects += [(site, subjid, rand, int(subjid[-3:]) - 1) for site, subjid, rand in ADDED]
    for site, subjid, rand, k in subjects:
        surgery = d(rand) + dt.timedelta(days=10)
        pkg.add_subject(subjid, site, arm=_arm(site, k), randdat=rand, surgery=surgery.isoformat())
        pkg.add(
            "FU",
            SUBJID=subjid,
            SITEID=site,
            VISIT="UNSCHEDULED",
            VISDAT=(surgery + dt.timedelta(days=20)).isoformat(),  # before any death of the package
            SSSTAT="ALIVE",
        )
        if second and (subjid == "03-002" or (site == "04" and k < 11)):
            # reported in the second cut: a one-arm site's death, and site 04's deaths within 90 days
            pkg.add("DD", SUBJID=subjid, SITEID=site, DTHDAT=(surgery + dt.timedelta(days=30)).isoformat())
        if second and site == "05":
            pkg.add(
                "AE",
                SUBJID=subjid,
                SITEID=site,
                AESPID="1",
                AETERM="咽瘘",
                AEDECOD="Pharyngeal fistula",
                AESOC="Respiratory, thoracic and mediastinal disorders",
                AESTDAT=(surgery + dt.timedelta(days=5)).isoformat(),
                AETOXGR="3",
                AESER="Y",
                AECLAV="IIIB",
                AEREL="SURGERY",
            )
    # in both cuts: a death at site 01 within 90 days of surgery, an AE whose grade is revised
    pkg.add("DD", SUBJID="01-001", SITEID="01", DTHDAT="2026-04-20", DTHCAUS="DISEASE")
    pkg.add(
        "AE",
        SUBJID="01-002",
        SITEID="01",
        AESPID="1",
        AETERM="乏力",
        AEDECOD="Fatigue",
        AESOC="General disorders and administration site conditions",
        AESTDAT="2026-09-01",
        AETOXGR="3" if second else "2",
        AESER="N",
        AEREL="IMMUNOTHERAPY",
    )
    pkg.add(
        "DV",
        SUBJID="04-002",
        SITEID="04",
        DVSPID="1",
        DVSTDAT="2026-03-20",
        DVCAT="TREATMENT",
        DVTERM=ARM_TEXT["rewritten"] if second else "surgery delayed",
        DVSEV="MINOR",
    )
    if second:
        pkg.add(
            "DV",
            SUBJID="02-004",
            SITEID="02",
            DVSPID="1",
            DVSTDAT="2026-05-01",
            DVCAT="TREATMENT",
            DVTERM=ARM_TEXT["new"],
            DVSEV="MAJOR",
        )
        pkg.add("RECUR", SUBJID="02-003", SITEID="02", RECDAT="2026-09-01", RECTYPE="LOCAL")
        pkg.rows("DM", SUBJID="02-001")[0]["BRTHDAT"] = "1960-05"
        pkg.rows("SITES", SITEID="02")[0]["TARGETN"] = "50"
    else:
        pkg.add(
            "DV",
            SUBJID="01-003",
            SITEID="01",
            DVSPID="1",
            DVSTDAT="2026-04-01",
            DVCAT="VISIT WINDOW",
            DVTERM="M3 visit outside its window",
            DVSEV="MINOR",
        )
    return pkg


@pytest.fixture(scope="module")
def cuts(tmp_path_factory):
    """(old build folder, new build folder, old package, new package)."""
    tmp = tmp_path_factory.mktemp("changes")
    old_pkg, new_pkg = _trial(False), _trial(True)
    old = build(old_pkg.write(tmp / "cut1"), tmp / "wh").build_dir
    new = build(new_pkg.write(tmp / "cut2"), tmp / "wh").build_dir
    return old, new, old_pkg, new_pkg


# ------------------------------------------------------------------ the truth, from the packages
def _arms(pkg: Package) -> dict[str, str]:
    return {r["SUBJID"]: r["ARM"] for r in pkg.forms["RAND"]}


def _site_of(pkg: Package) -> dict[str, str]:
    return {r["SUBJID"]: r["SITEID"] for r in pkg.forms["DM"]}


def _events_truth(old: Package, new: Package) -> dict[str, list]:
    """Per kind, the new events' subjects (one entry per record), from the rows."""

    def ae(pkg, test):
        return {(r["SUBJID"], r["AESPID"]) for r in pkg.forms["AE"] if test(r)}

    def serious(r):
        return r["AESER"] == "Y"

    def severe(r):
        return int(r["AETOXGR"]) >= 3

    randomized = set(_arms(new))
    dead = {r["SUBJID"] for r in new.forms["DD"]} - {r["SUBJID"] for r in old.forms["DD"]}
    recurred = {r["SUBJID"] for r in new.forms["RECUR"]} - {r["SUBJID"] for r in old.forms["RECUR"]}
    return {
        "death": sorted(dead & randomized),
        "recurrence": sorted(recurred & randomized),
        "sae": sorted(s for s, _k in ae(new, serious) - ae(old, serious)),
        "grade3plus": sorted(s for s, _k in ae(new, severe) - ae(old, severe)),
    }


def _leaks(result: dict) -> list[str]:
    text = json.dumps(result, ensure_ascii=False).casefold()
    return [w for w in ARM_WORDS + list(ARM_TEXT.values()) if w.casefold() in text]


# ------------------------------------------------------------------ the closed session
def test_closed_difference_has_every_change_by_arm(cuts):
    old, new, old_pkg, new_pkg = cuts
    result = changes(old, new, Viewer("dsmb"), CFG)
    arms = _arms(new_pkg)
    truth = _events_truth(old_pkg, new_pkg)
    assert truth["death"] and "03-002" in truth["death"]  # the package is what the test needs
    for kind in EVENT_KINDS:
        ev = result["events"][kind]
        assert ev["pooled"] == len(truth[kind]), kind
        assert ev["subjects"] == sorted(set(truth[kind])), kind
        assert ev["by_arm"] == {a.code: sum(arms[s] == a.code for s in truth[kind]) for a in CFG.arms}, kind
    # the one-arm site's new death is there, by arm
    assert result["events"]["death"]["by_arm"]["DE-ESCALATION"] >= 1
    added = sorted(s for _site, s, _r in ADDED)
    assert result["randomized"]["subjects"] == added
    assert result["randomized"]["by_site"] == dict(Counter(site for site, _s, _r in ADDED))
    assert result["randomized"]["total"] == len(ADDED)
    changed = {(c["form"], c["subjid"], c["column"], c["old"], c["new"]) for c in result["changed"]}
    assert changed == {
        ("SITES", None, "TARGETN", "40", "50"),
        ("DM", "02-001", "BRTHDAT", "1960-05-10", "1960-05"),
        ("AE", "01-002", "AETOXGR", "2", "3"),
        ("DV", "04-002", "DVTERM", "surgery delayed", ARM_TEXT["rewritten"]),
    }
    assert len(result["changed"]) == len(changed)  # each change listed once
    assert [c["key"] for c in result["changed"] if c["form"] == "AE"] == [{"SUBJID": "01-002", "AESPID": "1"}]
    assert result["changed_counts"] == []
    new_dv = result["deviations"]["new"]
    assert [(r["subjid"], r["dvterm"]) for r in new_dv] == [("02-004", ARM_TEXT["new"])]  # whole, in the closed file
    assert [(r["subjid"], r["dvspid"]) for r in result["deviations"]["resolved"]] == [("01-003", "1")]
    assert result["to"]["cutoff"] == "2027-12-31" and result["from"]["cutoff"] == "2027-06-30"
    json.dumps(result)  # JSON as it is


# ------------------------------------------------------------------ blinded roles
@pytest.mark.parametrize("viewer", BLINDED, ids=lambda v: f"{v.role}-{v.site or 'all'}")
def test_blinded_difference_has_no_arm_and_no_site_outcome(cuts, viewer):
    old, new, old_pkg, new_pkg = cuts
    result = changes(old, new, viewer, CFG)
    assert _leaks(result) == []
    for kind in EVENT_KINDS:
        assert set(result["events"][kind]) == {"pooled"}, kind  # no arm, no site, no subjects
    text = json.dumps(result, ensure_ascii=False)
    assert "03-002" not in text  # the one-arm site's dead subject is named nowhere
    assert "by_arm" not in text
    for row in result["funnel"]["newly_outside"] + result["funnel"]["back_inside"]:
        assert row["siteid"] not in ("03", "05", "06")  # one arm in both cuts; merged in the first
    # the free text naming the arm is withheld exactly as the single cut withholds it
    from dashboard.access.blinding import FREE_TEXT_MARK

    if viewer.site_filter in (None, "02"):
        assert [r["dvterm"] for r in result["deviations"]["new"]] == [FREE_TEXT_MARK]
    assert not any(c["form"] in ("AE", "DD", "DS", "QS") or c["column"] == "DVTERM" for c in result["changed"])


def test_blinded_pooled_counts_are_trial_level(cuts):
    old, new, old_pkg, new_pkg = cuts
    truth = _events_truth(old_pkg, new_pkg)
    result = changes(old, new, Viewer("steering"), CFG)
    assert {k: v["pooled"] for k, v in result["events"].items()} == {k: len(v) for k, v in truth.items()}
    assert {"part": "events", "reason": "by arm: closed session only"} in result["withheld"]
    # allow-listed forms with values; outcome forms and free text counted only
    changed = {(c["form"], c["subjid"], c["column"], c["old"], c["new"]) for c in result["changed"]}
    assert changed == {("SITES", None, "TARGETN", "40", "50"), ("DM", "02-001", "BRTHDAT", "1960-05-10", "1960-05")}
    assert result["changed_counts"] == [
        {"form": "AE", "column": "AETOXGR", "n": 1},
        {"form": "DV", "column": "DVTERM", "n": 1},
    ]
    # nothing that changed only because the cut-off moved (never_operated, survival times, ...)
    assert len(result["changed"]) == 2


def test_site_sees_only_its_site(cuts):
    old, new, old_pkg, new_pkg = cuts
    site_of = _site_of(new_pkg)
    truth = _events_truth(old_pkg, new_pkg)
    result = changes(old, new, Viewer("site", "01"), CFG)
    assert set(result["randomized"]["by_site"]) == {"01"}
    # one new subject: counted, not listed (with the allocation counts of both cuts it would say its arm)
    assert result["randomized"]["by_site"] == {"01": 1} and result["randomized"]["subjects"] == []
    assert {"part": "randomized", "reason": STEP_RULE} in result["withheld"]
    for part in ("new", "resolved"):
        assert all(r["siteid"] == "01" for r in result["deviations"][part])
        assert all(site_of.get(r["subjid"]) == "01" for r in result["findings"][part])
    assert [r["subjid"] for r in result["deviations"]["resolved"]] == ["01-003"]
    assert all(c["subjid"] is None or site_of[c["subjid"]] == "01" for c in result["changed"])
    assert result["changed"] == []  # the changed site and birth date are site 02's
    # its site's pooled counts: 01 is two-arm and large enough in both cuts
    assert {k: v["pooled"] for k, v in result["events"].items()} == {
        k: sum(site_of[s] == "01" for s in v) for k, v in truth.items()
    }
    assert result["changed_counts"] == [{"form": "AE", "column": "AETOXGR", "n": 1}]
    assert result["funnel"] == {"newly_outside": [], "back_inside": []}


def test_one_arm_site_gets_no_pooled_outcome(cuts):
    old, new, *_ = cuts
    result = changes(old, new, Viewer("site", "03"), CFG)
    assert all(v["pooled"] is None for v in result["events"].values())  # its new death is not counted
    assert result["changed_counts"] == []
    reasons = {(w["part"], w.get("cut"), w["reason"]) for w in result["withheld"] if w.get("site") == "03"}
    assert ("events", "from", "all subjects in one arm") in reasons or (
        "events",
        "from",
        "withheld by the cell rule",
    ) in reasons
    assert {cut for part, cut, _r in reasons if part == "events"} == {"from", "to"}
    assert {cut for part, cut, _r in reasons if part == "changed"} == {"from", "to"}


# ------------------------------------------------------------------ the funnel against single cuts
def _single_cut_flags(build_dir: Path, viewer: Viewer) -> dict[str, dict[str, str | None]]:
    """Per signal, per site: the flag a single cut's safety page shows, None where suppressed."""
    path = build_dir / (warehouse.CLOSED if viewer.closed else warehouse.BLINDED)
    con = duckdb.connect(str(path), read_only=True)
    try:
        out = {}
        for s in CFG.safety_signals:
            fun = safety.signal_by_site(con, viewer, s.name, CFG)
            merged = {m for g in fun.get("merged_groups", pd.Series()).dropna() for m in str(g).split(", ")}
            # a merged row's members differ from cut to cut: the difference withholds it and them
            out[s.name] = {
                str(r.siteid): (None if isinstance(r.suppressed_code, str) or r.siteid == MERGED else r.flag)
                for r in fun.itertuples()
            } | {m: None for m in merged}
        return out
    finally:
        con.close()


@pytest.mark.parametrize("viewer", [Viewer("pi"), Viewer("dsmb")], ids=["blinded", "closed"])
def test_funnel_difference_is_what_both_single_cuts_show(cuts, viewer):
    old, new, *_ = cuts
    before, after = _single_cut_flags(old, viewer), _single_cut_flags(new, viewer)
    outside = ("above", "below")
    expected_out, expected_back, hidden = set(), set(), set()
    for signal, now in after.items():
        was = before[signal]
        for site in set(now) & set(was):  # a site the funnel shows in both cuts
            if now[site] is None or was[site] is None:
                hidden.add(site)
                continue
            if now[site] in outside and was[site] not in outside:
                expected_out.add((site, signal))
            if was[site] in outside and now[site] not in outside:
                expected_back.add((site, signal))
    result = changes(old, new, viewer, CFG)
    funnel = result["funnel"]
    assert {(r["siteid"], r["signal"]) for r in funnel["newly_outside"]} == expected_out
    assert {(r["siteid"], r["signal"]) for r in funnel["back_inside"]} == expected_back
    assert ("04", "death_90d") in expected_out  # the package does what it is meant to
    row = next(r for r in funnel["newly_outside"] if (r["siteid"], r["signal"]) == ("04", "death_90d"))
    assert (row["old"], row["new"]) == (before["death_90d"]["04"], after["death_90d"]["04"]) == ("within", "above")
    # site 05 is outside in the second cut alone, merged in the first: withheld from the difference
    # site 05 is outside in the second cut, merged in the first: withheld from the difference (in the
    # blinded file complementary suppression merges it in the second cut too)
    assert after["clavien_3a_plus_30d"].get("05") in ("above", None)
    assert before["clavien_3a_plus_30d"].get("05") is None
    assert not any(r["siteid"] == "05" for r in funnel["newly_outside"])
    withheld = {w["site"] for w in result["withheld"] if w["part"] == "funnel" and "site" in w}
    assert withheld >= {"03", "05", "06"} and withheld >= hidden - {MERGED}


# ------------------------------------------------------------------ findings, and the files read
def test_findings_are_the_single_cut_listings_difference(cuts):
    old, new, *_ = cuts

    def listing(build_dir):
        con = duckdb.connect(str(build_dir / warehouse.BLINDED), read_only=True)
        try:
            df = fetch(con, "views/findings_listing", site=None)
        finally:
            con.close()
        return Counter(zip(df.kind, df.subjid, df.column_name, strict=True))

    a, b = listing(old), listing(new)
    result = changes(old, new, Viewer("data_manager"), CFG)
    got_new = Counter((r["kind"], r["subjid"], r["column"]) for r in result["findings"]["new"])
    got_resolved = Counter((r["kind"], r["subjid"], r["column"]) for r in result["findings"]["resolved"])
    assert got_new == b - a and got_resolved == a - b
    assert ("partial date imputed", "02-001", "BRTHDAT") in got_new
    assert got_new[("free text that may name the arm", "02-004", "DVTERM")] == 1
    assert got_new[("free text that may name the arm", "04-002", "DVTERM")] == 1


def test_blinded_difference_reads_only_the_blinded_files(cuts, tmp_path):
    """Without the closed files a blinded difference is the same: it never opens them."""
    old, new, *_ = cuts
    copies = []
    for src in (old, new):
        dst = tmp_path / src.name
        dst.mkdir()
        for f in (warehouse.BLINDED, warehouse.MANIFEST):
            shutil.copy(src / f, dst / f)
        copies.append(dst)
    for viewer in (Viewer("pi"), Viewer("site", "01")):
        assert changes(*copies, viewer, CFG) == changes(old, new, viewer, CFG)
    with pytest.raises(duckdb.IOException):
        changes(*copies, Viewer("dsmb"), CFG)
