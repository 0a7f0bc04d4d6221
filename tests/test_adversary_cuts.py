"""Adversarial review of issue 16 (data cuts, since the last meeting, trends, pins, the nightly
refresh): can a blinded role learn an arm-level figure from a DIFFERENCE between two cuts, or a
trend across cuts, that no single cut shows?

One hand-made trial (tests/factory.py) exported at two cut-offs, A (2027-01-31) and B (2027-06-30),
built into one warehouse, A pinned for the steering committee by the data manager (the way a
meeting's cut is pinned), B the current cut:

- 01: 5 + 5 at A; between the cuts one more subject, 01-011 (de-escalation), randomized, operated,
  with a positive margin, dead 40 days after surgery: the only change at the site;
- 02: 6 + 6, nothing new;
- 03: de-escalation only (2 at A, 3 at B: 03-003 randomized late, no pathology): a one-arm site,
  withheld (allocation and outcomes) by every single cut;
- 04: 3 + 3, nothing new after A: shown alone at A, withheld at B (the complement of 03);
- 05: 2 + 2 at A (withheld), 3 + 3 at B (shown); the new two have no pathology yet.

Each confirmed leak is a strict xfail (the team drops the marker when it is fixed): the test
computes from what blinded pages show (the blinded files of the two cuts, read by the same view
functions the pages call) what only the closed file should tell, and compares it with the closed
file's truth. The defences that hold are plain passing tests.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from apptest import clear_caches, open_page, page_text, serving
from dashboard.access import audit, blinding, looks, pins
from dashboard.access.freetext import matcher
from dashboard.access.roles import Viewer
from dashboard.config import load_trial
from dashboard.ingest.build import build
from dashboard.views import enrollment, safety, trends
from dashboard.views.changes import changes
from factory import Package

ROOT = Path(__file__).resolve().parent.parent
CFG = load_trial()
DE, STD = "DE-ESCALATION", "STANDARD"
A, B = dt.date(2027, 1, 31), dt.date(2027, 6, 30)
PI = Viewer("pi", user="pi.zhang")
DSMB = Viewer("dsmb", user="dsmb.chen")
MIN_CELL = CFG.blinding.min_cell_size
ARM_NAME = "DSMB look 1: A组死亡偏多"  # a DSMB member's name for a cut: "arm A, more deaths"
DV_ARM_TERM = "A组患者术后访视超窗"  # a late deviation whose term names the arm (A组: a configured term)


# ---------------------------------------------------------------------------------- the trial
def _plan() -> list[dict]:
    out: list[dict] = []

    def add(sid, site, arm, rand, *, surgery=True, path=True, margin="NEGATIVE", death=None, surgery_days=10):
        r = dt.date.fromisoformat(rand)
        s = r + dt.timedelta(days=surgery_days) if surgery else None
        out.append(
            {
                "subjid": sid,
                "site": site,
                "arm": arm,
                "rand": r,
                "surgery": s,
                "path": s + dt.timedelta(days=14) if s and path else None,
                "margin": margin,
                "death": dt.date.fromisoformat(death) if death else None,
                "response": "CR" if len(out) % 3 == 0 else "PR",
            }
        )

    for site, n in (("01", 10), ("02", 12)):
        for i in range(n):
            day = dt.date(2026, 2, 1) + dt.timedelta(days=11 * i + (3 if site == "02" else 0))
            add(f"{site}-{i + 1:03d}", site, DE if i % 2 == 0 else STD, day.isoformat(), margin=_m(i in (0, 3)))
    add("03-001", "03", DE, "2026-03-05", margin="POSITIVE")
    add("03-002", "03", DE, "2026-04-05", margin="POSITIVE")
    for i in range(6):
        day = dt.date(2026, 3, 10) + dt.timedelta(days=9 * i)
        add(f"04-{i + 1:03d}", "04", DE if i % 2 == 0 else STD, day.isoformat(), margin=_m(i == 1))
    for i in range(4):
        day = dt.date(2026, 5, 1) + dt.timedelta(days=13 * i)
        add(f"05-{i + 1:03d}", "05", DE if i % 2 == 0 else STD, day.isoformat(), margin=_m(i == 0))
    # between the cuts
    add("05-005", "05", DE, "2027-02-03", path=False)
    add("05-006", "05", STD, "2027-02-05", path=False)
    add("01-011", "01", DE, "2027-02-10", margin="POSITIVE", death="2027-04-01")
    add("03-003", "03", DE, "2027-04-20", path=False, surgery_days=11)
    return out


def _m(positive: bool) -> str:
    return "POSITIVE" if positive else "NEGATIVE"


PLAN = _plan()


def _package(cutoff: dt.date) -> Package:
    pkg = Package(cutoff=cutoff)
    for site in ("03", "04", "05"):
        pkg.forms["SITES"].append(
            {"SITEID": site, "SITENAME": f"Site {site}", "COUNTRY": "CHN", "ACTDAT": "2026-01-02", "STATUS": "ACTIVE"}
        )
    for s in PLAN:
        if s["rand"] > cutoff:
            continue
        operated = s["surgery"] is not None and s["surgery"] <= cutoff
        pkg.add_subject(
            s["subjid"],
            s["site"],
            arm=s["arm"],
            randdat=s["rand"].isoformat(),
            surgery=s["surgery"].isoformat() if operated else None,
            response=s["response"],
        )
        sid = dict(SUBJID=s["subjid"], SITEID=s["site"])
        if s["path"] and s["path"] <= cutoff:
            pkg.add("PATH", **sid, PATHDAT=s["path"].isoformat(), MARGIN=s["margin"])
        if s["death"] and s["death"] <= cutoff:
            pkg.add("DD", **sid, DTHDAT=s["death"].isoformat(), DTHCAUS="DISEASE")
            pkg.add("DS", **sid, DSDECOD="DEATH", DSSTDAT=s["death"].isoformat())
    if cutoff >= B:  # a deviation reported between the cuts whose term names the arm in Chinese
        pkg.add(
            "DV",
            SUBJID="02-001",
            SITEID="02",
            DVSPID="1",
            DVSTDAT="2027-03-01",
            DVCAT="VISIT WINDOW",
            DVTERM=DV_ARM_TERM,
            DVSEV="MINOR",
        )
    return pkg


def _build_two(tmp: Path) -> tuple[Path, list[Path]]:
    dirs = []
    for k, cutoff in enumerate((A, B)):
        if k:
            time.sleep(1.05)  # a build id is its start to the second
        dirs.append(build(_package(cutoff).write(tmp / f"pkg-{cutoff}"), tmp / "wh").build_dir)
    return tmp / "wh", dirs


def _own_log(tmp: Path) -> dict:
    """Point the audit log, its key and the users file at `tmp`; the old values to restore."""
    old = {k: os.environ.get(k) for k in ("NEO_MARGIN_AUDIT", "NEO_MARGIN_AUDIT_KEY", "NEO_MARGIN_USERS")}
    os.environ["NEO_MARGIN_AUDIT"] = str(tmp / "audit" / "audit.jsonl")
    os.environ["NEO_MARGIN_AUDIT_KEY"] = str(tmp / "keys" / "audit.key")
    os.environ["NEO_MARGIN_USERS"] = str(tmp / "users.json")
    return old


def _restore(old: dict) -> None:
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _pin(name: str, committee: str, build_dir: Path, cutoff: dt.date, role: str, user: str) -> dict:
    return pins.pin(
        name=name,
        committee=committee,
        build_id=build_dir.name,
        cutoff=cutoff.isoformat(),
        build_dir=build_dir,
        user=user,
        role=role,
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The two cuts, A pinned for the steering committee (its meeting's cut): (warehouse, [A, B])."""
    tmp = tmp_path_factory.mktemp("adversary-cuts")
    old = _own_log(tmp)
    try:
        wh, dirs = _build_two(tmp)
        _pin("Steering 2027-Q1", "steering", dirs[0], A, "data_manager", "dm.li")
        yield wh, dirs
    finally:
        _restore(old)


@pytest.fixture()
def pair(tmp_path, monkeypatch):
    """The same two cuts in a warehouse (and audit log) of this test alone, nothing pinned."""
    monkeypatch.setenv("NEO_MARGIN_AUDIT", str(tmp_path / "audit" / "audit.jsonl"))
    monkeypatch.setenv("NEO_MARGIN_AUDIT_KEY", str(tmp_path / "keys" / "audit.key"))
    monkeypatch.setenv("NEO_MARGIN_USERS", str(tmp_path / "users.json"))
    return _build_two(tmp_path)


def _con(build_dir: Path, closed: bool = False) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(build_dir / ("closed.duckdb" if closed else "blinded.duckdb")), read_only=True)


def _closed_rows(build_dir: Path, sql: str) -> list[tuple]:
    con = _con(build_dir, closed=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _blinded_rows(build_dir: Path, sql: str) -> list[tuple]:
    con = _con(build_dir)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _allocation(build_dir: Path) -> dict:
    """What the arm-balance page shows a blinded role (enrollment.allocation on the cut's file)."""
    con = _con(build_dir)
    try:
        return enrollment.allocation(con, PI, CFG)
    finally:
        con.close()


def _truth_arms(build_dir: Path) -> dict[str, str]:
    return dict(_closed_rows(build_dir, "select subjid, arm from subjects where randomized"))


def _site_of(build_dir: Path) -> dict[str, str]:
    return dict(_blinded_rows(build_dir, "select subjid, siteid from subjects"))


def _arm_words() -> list[str]:
    out = []
    for a in CFG.arms:
        out += [a.code, a.label, a.label_zh]
    return [w for w in out if w]


# ---------------------------------------------------------------------------------- sanity
def test_the_two_cuts_are_what_the_plan_says(world):
    """Each single cut obeys the cell rule: the one-arm site 03 is withheld in both, 04 at B, 05
    at A; the overall allocation and site 01 are shown in both (the premise of the attacks)."""
    _wh, (a, b) = world
    at_a, at_b = _allocation(a)["by_site"], _allocation(b)["by_site"]
    assert at_a["03"][DE] is None and at_b["03"][DE] is None
    assert at_a["05"][DE] is None and at_b["05"] == {DE: 3, STD: 3}
    assert at_a["04"] == {DE: 3, STD: 3} and at_b["04"][DE] is None
    assert at_a["01"] == {DE: 5, STD: 5} and at_b["01"] == {DE: 6, STD: 5}
    d = changes(a, b, PI, CFG)
    # the sites a cut withholds (03, 04, 05) have no count of their own: "other sites"
    assert d["randomized"]["by_site"] == {"01": 1, blinding.MERGED: 3}
    assert d["events"]["death"]["pooled"] == 1


# ---------------------------------------------------------------------------------- leaks
def test_a_withheld_sites_allocation_does_not_follow_from_two_cuts(world):
    """Was a leak: the changes page said nobody new was randomized at 04, withheld at B, so 03 followed
    from 04 at A and the merged row at B. Now a site whose allocation a cut withholds has no count of
    its own (it is in "other sites", and named as withheld), so nothing says 04 is unchanged. (What
    two single cuts' arm-balance pages say together is the residual: docs/blinding.md.)"""
    _wh, (a, b) = world
    old, new = _allocation(a)["by_site"], _allocation(b)["by_site"]
    d = changes(a, b, PI, CFG)
    new_by_site = d["randomized"]["by_site"]
    unknown = {w.get("site") for w in d["withheld"] if w["part"] == "randomized"}
    assert "04" in unknown and "04" not in new_by_site
    merged = new[blinding.MERGED_ROW]
    hidden = [s for s, c in new.items() if s != blinding.MERGED_ROW and c[DE] is None]
    # a withheld site of B whose counts are known: shown at A and nobody new there since
    known = {
        s: old[s] for s in hidden if old.get(s, {}).get(DE) is not None and s not in unknown and not new_by_site.get(s)
    }
    derived = {}
    rest = [s for s in hidden if s not in known]
    if len(rest) == 1:
        derived[rest[0]] = {arm: merged[arm] - sum(k[arm] for k in known.values()) for arm in (DE, STD)}
    arms = _truth_arms(b)
    sites = _site_of(b)
    truth = {
        s: {arm: sum(1 for x, a_ in arms.items() if sites[x] == s and a_ == arm) for arm in (DE, STD)} for s in rest
    }
    assert derived.get("03") != truth.get("03"), f"site 03's withheld allocation computed: {derived}"


def test_no_new_subjects_arm_and_no_new_death_by_arm_follow_from_two_cuts(world):
    """Was a leak: a site's only new subject was listed beside an allocation step of one arm. Now a
    site's new subjects are listed only where its allocation step keeps the cell rule."""
    _wh, (a, b) = world
    old, new = _allocation(a)["by_site"], _allocation(b)["by_site"]
    d = changes(a, b, PI, CFG)
    sites = _site_of(b)
    inferred: dict[str, str] = {}
    for site, n in d["randomized"]["by_site"].items():
        if old.get(site, {}).get(DE) is None or new.get(site, {}).get(DE) is None:
            continue
        step = {arm: new[site][arm] - old[site][arm] for arm in (DE, STD)}
        one = [arm for arm, k in step.items() if k]
        if len(one) == 1 and step[one[0]] == n:  # every new subject of the site is of that arm
            inferred |= {s: one[0] for s in d["randomized"]["subjects"] if sites[s] == site}
    dead = {s for (s,) in _blinded_rows(b, "select subjid from survival where os_event")}
    dead_before = {s for (s,) in _blinded_rows(a, "select subjid from survival where os_event")}
    new_dead = dead - dead_before
    blinded_by_arm = {arm: sum(1 for s in new_dead if inferred.get(s) == arm) for arm in (DE, STD)}
    closed = changes(a, b, DSMB, CFG)["events"]["death"]["by_arm"]
    assert not inferred, f"arms of new subjects computed by a blinded role: {inferred}"
    assert blinded_by_arm != closed, f"new deaths by arm computed by a blinded role: {blinded_by_arm}"


def test_a_trend_step_does_not_give_one_subjects_pooled_only_margin(world):
    _wh, (a, b) = world
    df = trends.site_trends([("A", a), ("B", b)], PI, CFG)
    rows = df[(df.signal == "positive_margin") & df.suppressed_code.isna() & (df.siteid != blinding.MERGED)]
    steps = []
    for site, r in rows.groupby("siteid"):
        if set(r.cut) != {"A", "B"}:
            continue
        ra, rb = r[r.cut == "A"].iloc[0], r[r.cut == "B"].iloc[0]
        dn, de = int(rb.n) - int(ra.n), int(rb.events) - int(ra.events)
        if 0 < dn < MIN_CELL:
            steps.append((site, dn, de))
    inferred = {}
    for site, dn, de in steps:
        q = "select subjid from subjects where with_pathology and siteid = '{}'"
        newly = {s for (s,) in _blinded_rows(b, q.format(site))} - {s for (s,) in _blinded_rows(a, q.format(site))}
        if dn == 1 and len(newly) == 1:
            inferred[newly.pop()] = "POSITIVE" if de == 1 else "NEGATIVE"
    truth = dict(_closed_rows(b, "select subjid, margin from crf_path"))
    assert not steps, f"trend steps smaller than the minimum cell: {steps}"
    assert not inferred or any(truth.get(s) != m for s, m in inferred.items()), f"margins computed: {inferred}"


def test_a_trend_and_the_current_safety_page_do_not_give_a_one_arm_sites_margins(world):
    _wh, (a, b) = world
    df = trends.site_trends([("A", a), ("B", b)], PI, CFG)
    pm = df[df.signal == "positive_margin"]
    alone_a = pm[(pm.cut == "A") & (pm.siteid == "04") & pm.suppressed_code.isna()]
    con = _con(b)
    try:  # what the current cut's safety page shows: its own funnel of the signal
        page = safety.signal_by_site(con, PI, "positive_margin", CFG)
    finally:
        con.close()
    merged = page[(page.siteid == blinding.MERGED) & page.suppressed.isna()]
    q = "select count(*) from subjects where with_pathology and siteid = '04'"
    unchanged = _blinded_rows(a, q) == _blinded_rows(b, q)  # nobody at 04 newly with pathology
    derived = None
    if (
        len(alone_a)
        and len(merged)
        and unchanged
        and set(str(merged.merged_groups.iloc[0]).split(", ")) == {"03", "04"}
    ):
        derived = (
            int(merged.events.iloc[0]) - int(alone_a.events.iloc[0]),
            int(merged.n.iloc[0]) - int(alone_a.n.iloc[0]),
        )
    truth = _closed_rows(
        b, "select count(*) filter (where margin = 'POSITIVE'), count(*) from crf_path where siteid = '03'"
    )[0]
    assert set(_truth_arms(b)[s] for s, site in _site_of(b).items() if site == "03") == {DE}
    assert derived != tuple(truth), f"the one-arm site 03's positive margins (events, n) computed: {derived}"


@pytest.fixture(scope="module")
def demo(world, tmp_path_factory):
    """The demo trial cut at three dates (write_demo_cuts), built into one warehouse, the middle
    cut pinned for the steering committee (in the audit log of `world`)."""
    from dashboard.devtools.demo.cuts import write_demo_cuts

    tmp = tmp_path_factory.mktemp("adversary-demo")
    dates = [dt.date(2027, 6, 30), dt.date(2027, 12, 31), dt.date(2028, 6, 30)]
    truth = write_demo_cuts(tmp / "cuts", dates)
    dirs = [build(c["folder"], tmp / "wh").build_dir for c in truth["cuts"]]
    _pin("Steering 2027-Q4 (demo)", "steering", dirs[1], dates[1], "data_manager", "dm.li")
    return tmp / "wh", dirs


def test_demo_cuts_give_no_new_subjects_arm_and_no_step_below_the_minimum_cell(demo):
    _wh, dirs = demo
    determined: dict[str, str] = {}
    for old_dir, new_dir in zip(dirs, dirs[1:], strict=False):
        old, new = _allocation(old_dir)["by_site"], _allocation(new_dir)["by_site"]
        d = changes(old_dir, new_dir, PI, CFG)
        sites = _site_of(new_dir)
        for site, n in d["randomized"]["by_site"].items():
            if old.get(site, {}).get(DE) is None or new.get(site, {}).get(DE) is None:
                continue
            step = {arm: new[site][arm] - old[site][arm] for arm in (DE, STD)}
            one = [arm for arm, k in step.items() if k]
            if len(one) == 1 and step[one[0]] == n:
                determined |= {s: one[0] for s in d["randomized"]["subjects"] if sites[s] == site}
    truth = _truth_arms(dirs[-1])
    assert all(truth[s] == arm for s, arm in determined.items())  # what follows is right, when anything does
    df = trends.site_trends([(p.name, p) for p in dirs], PI, CFG)
    shown = df[df.suppressed_code.isna() & (df.siteid != blinding.MERGED)].sort_values("build_id")
    steps = []
    for (site, signal), r in shown.groupby(["siteid", "signal"]):
        ns, es = [int(x) for x in r.n], [int(x) for x in r.events]
        steps += [
            (site, signal, b_ - a_, f - e)
            for a_, b_, e, f in zip(ns, ns[1:], es, es[1:], strict=False)
            if 0 < b_ - a_ < MIN_CELL
        ]
    assert not determined and not steps, f"arms that follow: {determined}; trend steps below the cell: {steps}"


def test_a_pin_name_naming_the_arm_reaches_no_blinded_role(pair):
    """Was a leak (a pinned cut's name nobody screened, shown to every blinded role): now refused
    when pinned, and one on the record anyway (written by hand with the key) is shown as the mark."""
    wh, (a, b) = pair
    with pytest.raises(pins.PinError, match="must not name an arm"):
        _pin(ARM_NAME, "dsmb", a, A, "dsmb", "dsmb.chen")
    assert not pins.pinned()
    audit.append(
        pins.ACTION,
        user="dsmb.chen",
        role="dsmb",
        detail={"name": ARM_NAME, "committee": "dsmb", "build_id": a.name, "cutoff": A.isoformat(),
                "digests": pins.digests(a)},
        data_cut={"build_id": a.name, "cutoff": A.isoformat()},
    )  # fmt: skip
    clear_caches()
    shown = {}
    with serving(wh):
        for page in ("trends.py", "changes.py"):
            at = open_page(PI, page)
            assert not at.exception, [e.value for e in at.exception]
            shown[page] = page_text(at)
            shown[page + " (selectboxes)"] = " ".join(str(o) for s in at.selectbox for o in s.options)
            shown[page + " (sidebar)"] = " ".join(str(o) for s in at.sidebar.selectbox for o in s.options)
    from dashboard.outputs.report import build_html

    con = _con(b)
    try:
        shown["open report (steering)"] = build_html(con, Viewer("steering", user="s.wu"), CFG)
    finally:
        con.close()
    assert matcher(CFG)(ARM_NAME)  # the name is one the free-text rule withholds everywhere else
    assert not [where for where, text in shown.items() if "A组" in text], [w for w, t in shown.items() if "A组" in t]


def test_a_look_cut_whose_files_changed_is_not_reopened(pair):
    """Was a leak (a look's cut reopened with no digests to check): a look's cut is reopened only
    once pinned, so a swapped file is never shown as that cut; the page reads the current cut."""
    wh, (a, b) = pair
    looks.record(fraction=0.2, events=1, data_cut={"build_id": a.name, "cutoff": A.isoformat()}, user="d", role="dsmb")
    shutil.copyfile(b / "blinded.duckdb", a / "blinded.duckdb")  # someone with a shell swaps the look's file
    clear_caches()
    with serving(wh):
        at = open_page(PI, "accrual.py", cut=a.name)
    text = page_text(at)
    assert "Reopened" not in text and not at.exception
    assert "30 June 2027" in text and "31 January 2027" not in text  # the current cut B, not the look's A


def test_the_report_does_not_compare_with_a_tampered_pinned_cut(pair):
    """Was a leak: the report now checks a pinned cut against its pin before comparing."""
    wh, (a, b) = pair
    _pin("Steering 2027-Q1", "steering", a, A, "data_manager", "dm.li")
    shutil.copyfile(b / "blinded.duckdb", a / "blinded.duckdb")
    assert pins.verify(a, pins.pinned()[0])  # the pinned cut is not the one pinned
    from dashboard.outputs.report import build_html

    con = _con(b)
    try:
        html = build_html(con, Viewer("steering", user="s.wu"), CFG)
    finally:
        con.close()
    since = html.split("Since the last meeting", 2)[-1].split("<h2", 1)[0]
    assert "Randomized between the two cuts" not in since, "a difference computed from a tampered pinned cut"


def test_the_closed_trends_view_is_on_the_record_with_every_cut_it_reads(pair):
    wh, (a, b) = pair
    clear_caches()
    with serving(wh):
        at = open_page(DSMB, "trends.py")
    assert not at.exception
    assert "deaths: " + CFG.arms[0].label in page_text(at)  # the page did read closed counts by arm
    entries = [e for e in audit.read(lenient=True) if e.get("action") == "closed view: trends"]
    assert entries and entries[-1]["user"] == DSMB.user
    said = json.dumps(entries[-1], default=str)
    assert a.name in said and b.name in said, f"the closed trends view's record names: {said}"


# ---------------------------------------------------------------------------------- defences that hold
def test_a_cut_that_is_not_pinned_is_not_reopened(pair):
    wh, (a, b) = pair
    clear_caches()
    with serving(wh):
        at = open_page(PI, "accrual.py", cut=a.name)
    assert not at.exception
    text = page_text(at)
    assert "Reopened" not in text and "30 June 2027" in text and "31 January 2027" not in text
    [box] = [s for s in at.sidebar.selectbox if s.label == "Data cut"]
    assert box.options == ["current cut"]


def test_a_tampered_pinned_cut_is_refused_by_the_changes_page_and_command(pair):
    wh, (a, b) = pair
    _pin("Steering 2027-Q1", "steering", a, A, "data_manager", "dm.li")
    shutil.copyfile(b / "blinded.duckdb", a / "blinded.duckdb")
    clear_caches()
    with serving(wh):
        at = open_page(PI, "changes.py")
    text = page_text(at)
    assert "cannot be compared" in text and "New randomizations" not in text
    done = _cli("changes", "--warehouse", str(wh), "--role", "pi")
    assert done.returncode == 1 and done.stdout == "" and "not the file pinned" in done.stderr


@pytest.mark.parametrize(
    ("role", "committee"), [("pi", "steering"), ("steering", "steering"), ("site", "steering"), ("pi", "dsmb")]
)
def test_a_role_that_may_not_pin_is_refused(pair, role, committee):
    wh, (a, b) = pair
    with pytest.raises(pins.PinError, match="may not pin"):
        _pin("Steering 2027-Q1", committee, a, A, role, "x")
    assert pins.pinned() == []


@pytest.mark.parametrize(
    "command",
    [["changes"], ["summary", "--cut", "Steering 2027-Q1"]],
    ids=["changes", "summary --cut"],
)
def test_the_closed_commands_need_a_dsmb_account(world, command):
    wh, (a, b) = world
    before = len(audit.read(lenient=True))
    done = _cli(*command, "--warehouse", str(wh), "--role", "dsmb")
    assert done.returncode == 2 and done.stdout == ""
    assert "needs a DSMB account" in done.stderr
    after = audit.read(lenient=True)[before:]
    assert [e["action"] for e in after] == ["cli_sign_in_refused"]
    # and a made-up password is refused the same way, with nothing printed
    done = _cli(
        *command, "--warehouse", str(wh), "--role", "dsmb", "--user", "dsmb.chen", "--password-stdin", stdin="x\n"
    )
    assert done.returncode == 2 and done.stdout == ""


def test_a_new_deviation_naming_the_arm_in_chinese_reaches_no_blinded_difference(world):
    _wh, (a, b) = world
    names_arm = matcher(CFG)
    for viewer in (PI, Viewer("steering"), Viewer("data_manager"), Viewer("site", site="02")):
        d = changes(a, b, viewer, CFG)
        text = json.dumps(d, ensure_ascii=False)
        assert DV_ARM_TERM not in text and "A组" not in text and not names_arm(text), viewer
        if viewer.role != "site" or viewer.site == "02":
            assert [r["subjid"] for r in d["deviations"]["new"]] == ["02-001"], viewer
            assert d["deviations"]["new"][0]["dvterm"] == blinding.FREE_TEXT_MARK
        for word in _arm_words():
            assert word not in text, (viewer, word)
    closed = json.dumps(changes(a, b, DSMB, CFG), ensure_ascii=False)
    assert DV_ARM_TERM in closed  # the closed session reads it whole: the check above looks for the right text


def test_the_changes_page_names_no_arm_in_either_language(world):
    wh, _dirs = world
    for lang in ("en", "zh"):
        clear_caches()
        with serving(wh):
            at = open_page(PI, "changes.py", lang=lang)
        assert not at.exception, [e.value for e in at.exception]
        text = page_text(at)
        assert "A组" not in text and DV_ARM_TERM not in text
        for word in _arm_words():
            assert word not in text, (lang, word)


def test_a_site_investigator_sees_only_their_site_and_the_one_arm_site_nothing(world):
    _wh, (a, b) = world
    mine = changes(a, b, Viewer("site", site="01"), CFG)
    # its one new subject is counted, not listed (the allocation step of one subject would give its arm)
    assert mine["randomized"]["by_site"] == {"01": 1} and mine["randomized"]["subjects"] == []
    one_arm = changes(a, b, Viewer("site", site="03"), CFG)
    assert all(v["pooled"] is None for v in one_arm["events"].values())
    assert one_arm["changed_counts"] == [] or all(
        c["form"] not in ("AE", "DD", "DS") for c in one_arm["changed_counts"]
    )
    rows = trends.site_trends([("A", a), ("B", b)], Viewer("site", site="03"), CFG)
    assert set(rows.siteid) == {"03"} and rows.events.isna().all() and rows.suppressed_code.notna().all()


def test_a_refused_package_named_for_the_arm_is_withheld_on_the_data_quality_page(world, tmp_path):
    """A hostile export writer names the drop folder's package for the arm: the build's guard refuses
    it, the current cut keeps serving, and the data-quality page says so without the name."""
    wh, (_a, b) = world
    from dashboard.ingest.refresh import refresh

    drop = tmp_path / "drop"
    pkg = _package(B)
    pkg.forms["EXPORT"][0]["SOURCE"] = "test factory (re-export)"
    pkg.write(drop / "降级组死亡多_export")
    past = time.time() - 3600
    for f in (drop / "降级组死亡多_export").iterdir():
        os.utime(f, (past, past))
    os.utime(drop / "降级组死亡多_export", (past, past))
    done = refresh({"source": "folder", "folder": str(drop), "settle_seconds": 0}, wh, config=CFG)
    assert done.status == "refused" and done.serving_build_id == b.name
    clear_caches()
    with serving(wh):
        at = open_page(PI, "data_quality.py", lang="zh")
        text = page_text(at)
        at = open_page(PI, "data_quality.py")
        text += page_text(at)
    assert "降级" not in text and "死亡多" not in text
    assert "refused" in text or "拒" in text


def _cli(*args, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dashboard", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "NEO_MARGIN_LANG": "en"},
        timeout=300,
    )
