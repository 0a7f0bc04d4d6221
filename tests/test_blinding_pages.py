"""The blinding rule on every page: with arms whose outcomes differ clearly, no blinded role sees
an arm next to an outcome, an arm-level estimate, or a pooled figure of a one-arm or small site.

The package: sites 01 and 02 with 10 subjects per arm each; in the de-escalation arm 7 of 10 die
within 6 months and 7 of 10 have a serious grade 3 AE, in the standard arm 1 and 3 of 10. Pooled
12-month survival is 32/40 = 80.0%; by arm it would be 30.0% and 90.0%. Site 03 has 3 subjects,
all de-escalation: any pooled outcome of site 03 is an arm-level figure.
"""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.access.roles import Viewer, pages_for
from dashboard.ingest.build import build
from dashboard.outputs.summary import summary
from apptest import clear_caches, open_page, page_text, serving
from factory import Package, d

ARM_WORDS = ["DE-ESCALATION", "De-escalation surgery", "STANDARD SURGERY", "Standard surgery"]   # I08 names "de-escalation surgery" as a criterion: not an arm
ARM_LEVEL = ["30.0%", "90.0%", "70.0%"]            # 12-month OS and serious-AE rates by arm
BLINDED = [Viewer("pi"), Viewer("steering"), Viewer("data_manager"), Viewer("site", "01"), Viewer("site", "03")]
OUTCOME_PAGES = ["deviations", "survival", "safety", "data_quality"]


def _trial() -> Package:
    pkg = Package()
    pkg.forms["SITES"].append({"SITEID": "03", "SITENAME": "四川大学华西口腔医院", "CITY": "成都",
                               "COUNTRY": "CHN", "ACTDAT": "2026-01-20", "STATUS": "ACTIVE"})
    n = 0
    for site in ("01", "02", "03"):
        size = 3 if site == "03" else 10
        for arm in ("DE-ESCALATION", "STANDARD"):
            if site == "03" and arm == "STANDARD":
                continue
            for k in range(size):
                n += 1
                subjid = f"{site}-{n:03d}"
                rand = dt.date(2026, 3, 1) + dt.timedelta(days=n)
                surgery = rand + dt.timedelta(days=10)
                pkg.add_subject(subjid, site, arm=arm, randdat=rand.isoformat(), surgery=surgery.isoformat())
                dies = k < (7 if arm == "DE-ESCALATION" else 1)
                sick = k < (7 if arm == "DE-ESCALATION" else 3)
                if sick:
                    pkg.add("AE", SUBJID=subjid, SITEID=site, AESPID="1", AETERM="咽瘘", AEDECOD="Pharyngeal fistula",
                            AESOC="Respiratory, thoracic and mediastinal disorders",
                            AESTDAT=(surgery + dt.timedelta(days=5)).isoformat(), AETOXGR="3", AESER="Y",
                            AECLAV="IIIB", AEREL="SURGERY")
                if dies:
                    death = rand + dt.timedelta(days=60 + k)
                    pkg.add("DD", SUBJID=subjid, SITEID=site, DTHDAT=death.isoformat(), DTHCAUS="DISEASE")
                    pkg.add("DS", SUBJID=subjid, SITEID=site, DSDECOD="DEATH", DSSTDAT=death.isoformat())
                else:
                    pkg.add("FU", SUBJID=subjid, SITEID=site, VISIT="M24",
                            VISDAT=(surgery + dt.timedelta(days=730)).isoformat(), SSSTAT="ALIVE")
                pkg.add("PATH", SUBJID=subjid, SITEID=site, PATHDAT=(surgery + dt.timedelta(days=14)).isoformat(),
                        MARGIN="POSITIVE" if sick else "NEGATIVE")
    return pkg


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("blind")
    build(_trial().write(tmp / "pkg"), tmp / "wh")
    with serving(tmp / "wh") as path:
        yield path


@pytest.fixture(autouse=True)
def fresh_caches():
    clear_caches()


def _text(viewer: Viewer, page: str) -> str:
    at = open_page(viewer, f"{page}.py", timeout=60)
    assert not at.exception, [e.value for e in at.exception]
    return page_text(at)


CASES = [(v, p) for v in BLINDED for p in OUTCOME_PAGES if any(s.key == p for s in pages_for(v))]
ALL_CASES = [(v, p.file[:-3]) for v in BLINDED + [Viewer("admin")] for p in pages_for(v)]


@pytest.mark.parametrize("viewer,page", CASES, ids=[f"{v.role}{v.site or ''}-{p}" for v, p in CASES])
def test_no_arm_on_an_outcome_page(wh, viewer, page):
    text = _text(viewer, page)
    for word in ARM_WORDS:
        assert word not in text, f"{word!r} on {page} for {viewer}"
    for figure in ARM_LEVEL:
        assert figure not in text, f"arm-level figure {figure} on {page} for {viewer}"


def test_pooled_figures_are_the_pooled_ones(wh):
    s = summary(wh, Viewer("steering"))
    os_ = s["survival"]["os"]["pooled"]
    assert os_["events"] == 7 + 1 + 7 + 1 + 3                       # sites 01, 02 and 03
    text = _text(Viewer("steering"), "survival")
    assert f"Events {os_['events']}" in text
    assert f"{os_['landmarks']['12']['survival']:.1%}" in text


def test_a_one_arm_site_sees_no_outcome(wh):
    """Site 03 is all one arm: its investigator's pooled survival would be arm-level."""
    for page in ("survival", "safety"):
        text = _text(Viewer("site", "03"), page)
        assert "not shown for this population" in text
        assert "Events" not in text
    assert summary(wh, Viewer("site", "03"))["survival"] == {"suppressed": "fewer than 5 subjects"}


def test_one_arm_sites_are_not_plotted_by_site(wh):
    text = _text(Viewer("pi"), "deviations")
    assert "03: fewer than 5 subjects" in text or "Merged: sites 03" in text or "03 (" in text


def test_the_arm_balance_page_shows_allocation_only(wh):
    text = _text(Viewer("steering"), "balance")
    assert "De-escalation surgery" in text                  # allocation counts are for everyone
    for figure in ARM_LEVEL:
        assert figure not in text


@pytest.mark.parametrize("viewer,page", ALL_CASES, ids=[f"{v.role}{v.site or ''}-{p}" for v, p in ALL_CASES])
def test_no_arm_level_figure_on_any_page(wh, viewer, page):
    """Every page a blinded role has (allocation pages included): no arm-level estimate."""
    text = _text(viewer, page)
    for figure in ARM_LEVEL:
        assert figure not in text, f"arm-level figure {figure} on {page} for {viewer}"


def _arm_level_values(wh):
    """What the closed warehouse gives by arm: 12-month OS and the signals' rates."""
    from dashboard.views import outcomes
    from dashboard.views import safety
    from dashboard.store import warehouse
    from dashboard.config import load_trial

    cfg = load_trial()
    con = warehouse.connect(wh, closed=True)
    try:
        arms = dict(con.execute("select subjid, arm from subjects where randomized").fetchall())
        times = outcomes.survival_times(con, Viewer("dsmb"))
        subjects = safety.subjects(con, Viewer("dsmb"))
    finally:
        con.close()
    values = set()
    for arm in set(arms.values()):
        km = outcomes.km_summary(times[times.subjid.map(arms) == arm], "os", cfg)
        values.add(round(km["landmarks"]["12"]["survival"], 6))
        for sig in safety.signals(subjects[subjects.subjid.map(arms) == arm].reset_index(drop=True), cfg):
            if sig["observed"] is not None:
                values.add(round(sig["observed"], 6))
    return values


@pytest.mark.parametrize("viewer", BLINDED + [Viewer("admin")], ids=lambda v: f"{v.role}{v.site or ''}")
def test_no_arm_level_figure_in_the_summary(wh, viewer):
    import json

    arm_level = _arm_level_values(wh)
    s = summary(wh, viewer)
    pooled = set()
    if "survival" in s and "os" in s["survival"]:
        pooled.add(round(s["survival"]["os"]["pooled"]["landmarks"]["12"]["survival"], 6))
        pooled |= {round(x["observed"], 6) for x in s["safety"]["signals"] if x["observed"] is not None}
    found = set()

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k not in ("threshold", "level", "expected_survival"):   # configured constants
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, float):
            found.add(round(node, 6))
    walk(s)
    leaked = (found & arm_level) - pooled
    assert not leaked, f"arm-level values {leaked} in the {viewer.role} summary"
    assert "by_arm" not in json.dumps({k: v for k, v in s.items() if k != "allocation"})
