"""The app's data cut (issue 16): a pinned cut reopened from the sidebar is read as it was (its
cut-off on every page, read-only, a banner saying so), a cut whose files changed since the pin is
refused, and pinning from the sidebar is for the roles of trial.toml [cuts] pin_roles only."""

from __future__ import annotations

import datetime as dt

import pytest

from apptest import clear_caches, open_page, page_text, serving
from dashboard.access import pins
from dashboard.access.roles import Viewer
from dashboard.devtools.demo import write_demo_package
from dashboard.ingest.build import build
from dashboard.store import cuts, warehouse


@pytest.fixture()
def two_cuts(tmp_path, monkeypatch):
    monkeypatch.setenv("NEO_MARGIN_AUDIT", str(tmp_path / "audit" / "audit.jsonl"))
    monkeypatch.setenv("NEO_MARGIN_AUDIT_KEY", str(tmp_path / "keys" / "audit.key"))
    wh = tmp_path / "wh"
    built = []
    for d in ("2027-06-30", "2028-06-30"):
        write_demo_package(tmp_path / d, cutoff=dt.date.fromisoformat(d))
        built.append(build(tmp_path / d, wh))
    pins.pin(
        name="Steering 2027-Q2",
        committee="steering",
        build_id=built[0].build_id,
        cutoff="2027-06-30",
        build_dir=built[0].build_dir,
        user="dm",
        role="data_manager",
    )
    clear_caches()
    with serving(wh):
        yield wh, built


def test_a_pinned_cut_reopened_is_read_as_it_was(two_cuts):
    wh, built = two_cuts
    now = page_text(open_page(Viewer("steering", user="s"), "accrual.py"))
    assert "30 June 2028" in now and "Reopened" not in now
    at = open_page(Viewer("steering", user="s"), "accrual.py", cut=built[0].build_id)
    assert not at.exception
    old = page_text(at)
    assert "Reopened" in old and "Steering 2027-Q2" in old and "30 June 2027" in old
    assert "30 June 2028" not in old.split("Reopened")[0]  # the header's cut-off is the pinned one's
    # the sidebar offers the current cut and the pinned one, nothing else
    [box] = [s for s in at.sidebar.selectbox if s.label == "Data cut"]
    assert box.options == ["current cut", "Steering 2027-Q2 · cut-off 2027-06-30"]


def test_a_cut_changed_since_its_pin_is_refused(two_cuts):
    wh, built = two_cuts
    closed = built[0].build_dir / warehouse.CLOSED
    closed.write_bytes(closed.read_bytes() + b"\0")
    at = open_page(Viewer("pi", user="p"), "accrual.py", cut=built[0].build_id)
    text = page_text(at)
    assert "cannot be reopened" in text and "closed.duckdb" in text
    assert "30 June 2027" not in text


def test_only_the_pinning_roles_see_the_pin_form_and_a_pin_goes_on_the_record(two_cuts):
    wh, built = two_cuts
    for role in ("pi", "steering"):
        at = open_page(Viewer(role, user="x"), "accrual.py")
        assert not [e for e in at.sidebar.expander if e.label == "Pin this cut"]
    at = open_page(Viewer("data_manager", user="dm.li"), "data_quality.py")
    [form_box] = [s for s in at.sidebar.selectbox if s.label == "For the committee"]
    assert form_box.options == ["DSMB", "Steering committee"]
    form_box.select("dsmb")
    [name] = [t for t in at.sidebar.text_input if t.label == "Name"]
    name.input("DSMB 第1次期中分析")
    at.sidebar.button[-1].click().run()
    current = cuts.current(wh)
    assert [(p["name"], p["committee"], p["by"]) for p in current.pins] == [("DSMB 第1次期中分析", "dsmb", "dm.li")]
    assert [s.value for s in at.sidebar.success] == ["Pinned as DSMB 第1次期中分析."]
