"""Every page renders for every role that may open it (Streamlit AppTest on the demo trial), shows
the same figures as the summary, and a role is refused a page it may not open."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.access.roles import PAGES, Viewer, pages_for
from dashboard.ingest.build import build
from dashboard.devtools.demo import write_demo_package
from dashboard.outputs.summary import summary
from apptest import MAIN, clear_caches, open_page, page_text, serving

ROLES = [Viewer("pi"), Viewer("steering"), Viewer("site", "01"), Viewer("data_manager"), Viewer("dsmb")]


@pytest.fixture(scope="module")
def demo_warehouse(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pages")
    write_demo_package(tmp / "pkg")
    build(tmp / "pkg", tmp / "wh")
    with serving(tmp / "wh") as wh:
        yield wh


@pytest.fixture(autouse=True)
def fresh_caches():
    clear_caches()


CASES = [(v, p) for v in ROLES for p in pages_for(v)]


@pytest.mark.parametrize("viewer,page", CASES, ids=[f"{v.role}-{p.key}" for v, p in CASES])
def test_every_page_renders_for_every_role(demo_warehouse, viewer, page):
    at = open_page(viewer, page.file)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title and at.title[0].value.startswith(page.title.split(" (")[0])
    text = page_text(at)
    assert "data cut-off **2028-06-30**" in text
    assert "Synthetic demo trial" in text


def test_accrual_page_matches_the_summary(demo_warehouse):
    s = summary(demo_warehouse, Viewer("pi"))
    at = open_page(Viewer("pi"), "accrual.py")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Randomized"] == f"{s['enrollment']['randomized']} / 356"
    assert metrics["Screened"] == str(s["enrollment"]["screened"])
    assert metrics["Projected completion"] == s["enrollment"]["projection"]["completion_date"]


def test_survival_page_matches_the_summary(demo_warehouse):
    s = summary(demo_warehouse, Viewer("steering"))["survival"]["os"]["pooled"]
    at = open_page(Viewer("steering"), "survival.py")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Subjects"] == str(s["n"]) and metrics["Events"] == str(s["events"])
    table = at.dataframe[1].value
    lm12 = s["landmarks"]["12"]
    row = table[table["months"] == "12"].iloc[0]
    assert row["at risk"] == lm12["at_risk"]
    assert f"{lm12['survival']:.1%}" in row["survival (95% CI)"]


def test_safety_page_matches_the_summary(demo_warehouse):
    s = summary(demo_warehouse, Viewer("pi"))["safety"]["pooled"]
    at = open_page(Viewer("pi"), "safety.py")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Any adverse event"] == str(s["any_ae"])
    assert metrics["Serious"] == str(s["serious"])
    assert metrics["Operated"] == str(s["operated"])


def test_survival_endpoint_switch(demo_warehouse):
    s = summary(demo_warehouse, Viewer("pi"))["survival"]["dfs"]["pooled"]
    at = open_page(Viewer("pi"), "survival.py")
    at.session_state["endpoint"] = "dfs"
    at.run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Events"] == str(s["events"])


def test_site_user_sees_only_their_site(demo_warehouse):
    at = open_page(Viewer("site", "01"), "accrual.py")
    sites = at.dataframe[0].value
    assert set(sites["siteid"]) == {"01"}
    at = open_page(Viewer("site", "01"), "deviations.py")
    for frame in at.dataframe:
        df = frame.value
        if "subjid" in df:
            assert all(str(s).startswith("01-") for s in df["subjid"])


def test_a_page_refuses_a_role_that_may_not_open_it(demo_warehouse):
    # through the navigation: the page is not in the admin's list at all
    at = AppTest.from_file(MAIN, default_timeout=60)
    at.session_state["viewer"] = Viewer("admin")
    at.run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("../pages/survival.py")
    assert "Median" not in page_text(at)
    # and the page itself checks the role again, whoever runs it
    for viewer in (Viewer("admin"), None):
        at = AppTest.from_file(str(Path(MAIN).parent.parent / "pages" / "survival.py"), default_timeout=60)
        if viewer:
            at.session_state["viewer"] = viewer
        at.run()
        text = page_text(at)
        assert "not available to your role" in text
        assert not at.metric


def test_subject_listings_only_for_roles_that_see_them(demo_warehouse):
    at = open_page(Viewer("pi"), "deviations.py")
    assert any(t.label == "Eligibility" for t in at.tabs)
