"""The "since the last meeting" page and report section on two cuts of the hand-made trial of
tests/test_changes_blinding.py (a one-arm site's new death, free text naming the arm, a site
leaving the funnel): every blinded role's page, in English and in Chinese, and its report section
name no arm and no withheld text; the DSMB's page and closed report show the events by arm and
its view is on the record."""

from __future__ import annotations

import html
import re

import pytest

from apptest import clear_caches, open_page, page_text, serving
from dashboard.access import audit
from dashboard.access.roles import Viewer
from dashboard.config import load_trial
from dashboard.i18n import using
from dashboard.ingest.build import build
from dashboard.outputs import report
from dashboard.store import cuts, warehouse
from dashboard.views.changes import EVENT_KINDS, changes
from test_changes_blinding import ARM_TEXT, ARM_WORDS, _trial

CFG = load_trial()
BLINDED = [Viewer("pi"), Viewer("steering"), Viewer("data_manager"), Viewer("site", "01"), Viewer("site", "03")]
LANGS = ["en", "zh"]


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("changes-page")
    build(_trial(False).write(tmp / "cut1"), tmp / "wh")
    build(_trial(True).write(tmp / "cut2"), tmp / "wh")
    with serving(tmp / "wh") as path:
        yield path


@pytest.fixture(autouse=True)
def fresh_caches():
    clear_caches()


def _leaks(text: str) -> list[str]:
    folded = text.casefold()
    return [w for w in ARM_WORDS + list(ARM_TEXT.values()) if w.casefold() in folded]


def _section(doc: str) -> str:
    """The text of the report's first section (since the last meeting), tags left out."""
    start = doc.index("<h2>")
    end = doc.index("<h2>", start + 4)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", doc[start:end])).split())


# ------------------------------------------------------------------ the page
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("viewer", BLINDED, ids=lambda v: f"{v.role}-{v.site or 'all'}")
def test_blinded_page_names_no_arm(wh, viewer, lang):
    at = open_page(viewer, "changes.py", lang=lang)
    assert not at.exception, at.exception
    text = page_text(at)
    assert _leaks(text) == []
    title = "Since the last meeting" if lang == "en" else None
    assert at.title and (title is None or at.title[0].value == title)
    # the difference shown is this role's: its pooled death count, or the dash where withheld
    d = changes(cuts.baseline(wh, viewer.role, CFG).build_dir, cuts.current(wh).build_dir, viewer, CFG)
    deaths = at.metric[1]  # after the randomizations: deaths, recurrences, SAEs, grade 3+
    assert str(deaths.value) == ("—" if d["events"]["death"]["pooled"] is None else str(d["events"]["death"]["pooled"]))
    assert "03-002" not in text  # the one-arm site's dead subject


def test_page_defaults_to_the_committee_baseline_and_the_current_cut(wh):
    at = open_page(Viewer("steering"), "changes.py")
    assert not at.exception, at.exception
    assert at.selectbox(key="changes-from").value == cuts.baseline(wh, "steering", CFG).build_id
    assert at.selectbox(key="changes-to").value == cuts.current(wh).build_id
    # the other way round reads backwards, and says so
    at.selectbox(key="changes-from").set_value(cuts.current(wh).build_id)
    at.selectbox(key="changes-to").set_value(cuts.baseline(wh, "steering", CFG).build_id)
    at.run()
    assert not at.exception, at.exception
    assert any("backwards" in w.value for w in at.warning)
    assert _leaks(page_text(at)) == []


def test_dsmb_page_shows_events_by_arm_on_the_record(wh):
    before = len(audit.read(lenient=True))
    at = open_page(Viewer("dsmb", user="dsmb.t"), "changes.py")
    assert not at.exception, at.exception
    text = page_text(at)
    d = changes(cuts.baseline(wh, "dsmb", CFG).build_dir, cuts.current(wh).build_dir, Viewer("dsmb"), CFG)
    labels = [a.label for a in CFG.arms]
    table = next(t.value for t in at.dataframe if all(label in t.value.columns for label in labels))
    assert len(table) == len(EVENT_KINDS)
    deaths = table.iloc[0]  # the first row: deaths
    assert [int(deaths[label]) for label in labels] == [d["events"]["death"]["by_arm"][a.code] for a in CFG.arms]
    assert d["events"]["death"]["by_arm"]["DE-ESCALATION"] >= 1  # the one-arm site's death, by arm
    assert "03-002" in text  # the subjects with a new event, in the closed session
    entries = audit.read(lenient=True)[before:]
    assert [e["action"] for e in entries].count("closed view: changes") == 1
    assert entries[-1]["data_cut"]["build_id"] == cuts.current(wh).build_id


# ------------------------------------------------------------------ the report section
@pytest.mark.parametrize("lang", LANGS)
def test_open_report_section_is_blinded(wh, lang):
    viewer = Viewer("steering", user="steering.t")
    con = warehouse.connect(wh)
    try:
        with using(lang):
            doc = report.build_html(con, viewer, CFG, audit_anchor={"seq": 1, "hash": "ab" * 32})
    finally:
        con.close()
    section = _section(doc)
    assert _leaks(section) == []  # (the rest of the report names criterion I08, "de-escalation surgery")
    d = changes(cuts.baseline(wh, "steering", CFG).build_dir, cuts.current(wh).build_dir, viewer, CFG)
    if lang == "en":
        assert section.startswith("Since the last meeting")
        deaths = re.search(r"Deaths (\d+)", section)
        assert deaths and int(deaths.group(1)) == d["events"]["death"]["pooled"]
    assert "02-001" not in section  # counted by form and column, no subject in the open report


def test_closed_report_section_has_events_by_arm(wh):
    viewer = Viewer("dsmb", user="dsmb.t")
    con = warehouse.connect(wh, closed=True)
    try:
        doc = report.build_html(con, viewer, CFG, audit_anchor={"seq": 1, "hash": "ab" * 32})
    finally:
        con.close()
    section = _section(doc)
    d = changes(cuts.baseline(wh, "dsmb", CFG).build_dir, cuts.current(wh).build_dir, viewer, CFG)
    by_arm = d["events"]["death"]["by_arm"]
    labels = [a.label for a in CFG.arms]
    assert all(label in section for label in labels)
    row = re.search(r"Deaths (\d+) (\d+) (\d+)", section)
    assert row and [int(x) for x in row.groups()] == [
        *(by_arm[a.code] for a in CFG.arms),
        d["events"]["death"]["pooled"],
    ]
    assert "02-001" in section  # the changed birth date, listed in the closed report


def test_report_of_a_first_cut_says_there_is_nothing_to_compare(tmp_path):
    build(_trial(False).write(tmp_path / "cut1"), tmp_path / "wh")
    con = warehouse.connect(tmp_path / "wh")
    try:
        doc = report.build_html(con, Viewer("steering"), CFG)
    finally:
        con.close()
    assert "This is the first data cut: nothing to compare it with." in _section(doc)
