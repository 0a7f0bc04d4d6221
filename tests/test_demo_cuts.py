"""The demo trial cut at three dates (dashboard/devtools/demo/cuts.py): every cut builds with no
error and no warning, the generator's truth of each cut (findings, site funnels, randomizations,
events) is what the build finds in it, and consecutive cuts are one trial: what a cut holds stays
in the next unless a planted change withdrew it, and every value that differs is explained."""

from __future__ import annotations

import csv
import datetime as dt
import filecmp
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from dashboard.access.roles import Viewer
from dashboard.config import load_crf_spec, load_trial
from dashboard.devtools.demo import write_demo_package
from dashboard.devtools.demo.cuts import NATURAL_KEYS, expectations, matches, write_demo_cuts
from dashboard.ingest.build import build
from dashboard.views import safety

DATES = [dt.date(2027, 6, 30), dt.date(2027, 12, 31), dt.date(2028, 6, 30)]
KINDS = {
    "death_small_site",
    "value_nonoutcome",
    "value_outcome",
    "finding_resolved",
    "deviation_new",
    "deviation_new_naming_arm",
    "deviation_resolved",
    "funnel_outside",
}


def read(folder, form) -> list[dict]:
    with open(Path(folder) / f"{form}.csv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def seq(tmp_path_factory):
    """The three cuts written once and built into one warehouse, oldest first."""
    tmp = tmp_path_factory.mktemp("demo-cuts")
    truth = write_demo_cuts(tmp / "cuts", DATES)
    results = [build(c["folder"], tmp / "wh") for c in truth["cuts"]]
    return tmp, truth, results


def closed(result) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(result.build_dir / "closed.duckdb"), read_only=True)


# ------------------------------------------------------------------ each cut builds, and is its truth
def test_each_cut_builds_with_no_error_and_no_warning(seq):
    _, truth, results = seq
    assert [c["cutoff"] for c in truth["cuts"]] == [d.isoformat() for d in DATES]
    for cut, r in zip(truth["cuts"], results, strict=True):
        assert r.warnings == [], (cut["cutoff"], [w.as_dict()["message"] for w in r.warnings])
        with closed(r) as con:
            cutoff, exported = con.execute("select cutoff_date, exported from build_info").fetchone()
        assert cutoff.isoformat() == cut["cutoff"]
        assert exported.isoformat() == cut["exported"]
        assert r.rows["RAND"] == cut["randomized"] == cut["rows"]["RAND"]
    # the trial grows: 300 randomized by the last cut, fewer before
    assert [c["randomized"] for c in truth["cuts"]] == sorted({c["randomized"] for c in truth["cuts"]})
    assert truth["cuts"][-1]["randomized"] == 300


def test_the_builds_findings_are_the_truths(seq):
    """The generator's findings (computed in Python from its rows) are the build's, one for one."""
    _, truth, results = seq
    for cut, r in zip(truth["cuts"], results, strict=True):
        with closed(r) as con:
            got = Counter(con.execute("select kind, subjid, form, column_name from findings").fetchall())
        want = Counter(tuple(f) for f in cut["findings"])
        assert got == want, (cut["cutoff"], got - want, want - got)
        kinds = {f[0] for f in want}
        assert {
            "partial date imputed",
            "recorded stage differs from recomputed",
            "free text that may name the arm",
        } <= kinds


def test_the_builds_funnels_are_the_truths(seq):
    """Every configured signal's site funnel, as the closed session computes it on each cut
    (dashboard/views/safety.py), flags the sites the truth flags, and shows the same sites."""
    _, truth, results = seq
    cfg = load_trial()
    outside = 0
    for cut, r in zip(truth["cuts"], results, strict=True):
        with closed(r) as con:
            for signal in cfg.safety_signals:
                fun = safety.signal_by_site(con, Viewer("dsmb"), signal.name, cfg)
                got = {
                    str(x.siteid): x.flag
                    for x in fun.itertuples()
                    if not isinstance(x.suppressed_code, str) and str(x.siteid) in cut["allocation"]
                }
                assert got == cut["funnel"][signal.name], (cut["cutoff"], signal.name)
                outside += sum(1 for f in got.values() if f != "within")
    assert outside >= len(DATES) - 1  # at least the planted ones


def test_the_builds_subjects_and_events_are_the_truths(seq):
    _, truth, results = seq
    cfg = load_trial()
    for k, (cut, r) in enumerate(zip(truth["cuts"], results, strict=True)):
        with closed(r) as con:
            alloc = Counter(con.execute("select siteid, arm from subjects where randomized").fetchall())
            deaths = {s for (s,) in con.execute("select subjid from survival where os_event").fetchall()}
            serious = set(con.execute("select subjid, aespid::varchar from adverse_events where serious").fetchall())
        assert alloc == Counter({(s, a): n for s, c in cut["allocation"].items() for a, n in c.items() if n})
        assert set(a for _s, a in alloc) == set(cfg.arm_codes)
        if k:
            pair = truth["pairs"][k - 1]
            with closed(results[k - 1]) as con:
                before = {s for (s,) in con.execute("select subjid from survival where os_event").fetchall()}
                serious_before = set(
                    con.execute("select subjid, aespid::varchar from adverse_events where serious").fetchall()
                )
            assert sorted(deaths - before) == pair["events"]["death"]["subjects"]
            assert sorted(list(x) for x in serious - serious_before) == pair["events"]["sae"]["records"]


def test_subject_ids_name_their_site(seq):
    """SUBJID is <site>-<number> (the sequence tests restrict the truth to a site by it)."""
    _, truth, _ = seq
    for cut in truth["cuts"]:
        for r in read(cut["folder"], "DM"):
            assert r["SUBJID"].split("-")[0] == r["SITEID"]


# ------------------------------------------------------------------ consecutive cuts are one trial
def test_cut_offs_and_exports_follow_each_other(seq):
    _, truth, _ = seq
    cuts = truth["cuts"]
    for c in cuts:
        assert c["exported"][:10] > c["cutoff"]
    for a, b in zip(cuts, cuts[1:], strict=False):
        assert a["exported"] < b["exported"] and a["exported"][:10] < b["cutoff"]


def test_what_a_cut_holds_stays_in_the_next(seq):
    """Every record of a cut (keyed forms, and the natural keys of the others) is in the next one
    but the deviations a site withdrew (planted), and a randomization never changes."""
    _, truth, _ = seq
    spec = load_crf_spec()
    withdrawn = {
        (p["subjid"], p["dvspid"])
        for pair in truth["pairs"]
        for p in pair["planted"]
        if p["kind"] == "deviation_resolved"
    }
    assert len(withdrawn) == len(truth["pairs"])
    for a, b in zip(truth["cuts"], truth["cuts"][1:], strict=False):
        for form, f in spec.forms.items():
            key = f.key or NATURAL_KEYS.get(form)
            if not key:
                continue
            old = {tuple(r[c] for c in key) for r in read(a["folder"], form)}
            new = {tuple(r[c] for c in key) for r in read(b["folder"], form)}
            gone = old - new
            if form == "DV":
                assert gone and gone <= withdrawn, gone
            else:
                assert not gone, (form, sorted(gone)[:5])
        rand_old = {r["SUBJID"]: r for r in read(a["folder"], "RAND")}
        rand_new = {r["SUBJID"]: r for r in read(b["folder"], "RAND")}
        assert all(rand_new[s] == r for s, r in rand_old.items())


def test_every_changed_value_is_planted_or_the_trial_moving_on(seq):
    """A value that differs between consecutive cuts is a planted correction, or what time does
    to a record: an adverse event or adjuvant therapy that ended after the old cut-off, a screened
    patient randomized since, a site activated or closed since."""
    _, truth, _ = seq
    natural = Counter()
    for pair in truth["pairs"]:
        planted = {
            (p["form"], p["subjid"], p["column"]) for p in pair["planted"] if p["kind"].startswith(("value", "finding"))
        }
        for c in pair["changed"]:
            item = (c["form"], c["subjid"], c["column"])
            if item in planted:
                planted.discard(item)
                continue
            col, old, new = c["column"], c["old"], c["new"]
            kind = {
                ("AE", "AEENDAT"): old is None and new is not None and new > pair["from"]["cutoff"],
                ("AE", "AEOUT"): old == "RECOVERING" and new == "RECOVERED",
                ("ADJ", "ADJENDAT"): old is None and new is not None and new > pair["from"]["cutoff"],
                ("SCREENING", "SCRNOUT"): (old, new) == ("PENDING", "ENROLLED"),
                ("SCREENING", "SUBJID"): old is None and new is not None,
                ("SITES", "STATUS"): (old, new) in (("PENDING", "ACTIVE"), ("ACTIVE", "CLOSED")),
                ("SITES", "ACTDAT"): old is None and new is not None and new > pair["from"]["cutoff"],
            }.get((c["form"], col))
            assert kind, c
            natural[(c["form"], col)] += 1
        assert not planted, planted  # each planted correction is a changed value
    assert {("AE", "AEENDAT"), ("SCREENING", "SCRNOUT"), ("ADJ", "ADJENDAT")} <= set(natural)


def test_no_row_is_dated_after_its_cut_off_but_the_planted_one(seq):
    _, truth, _ = seq
    spec = load_crf_spec()
    for k, cut in enumerate(truth["cuts"]):
        late = []
        for form, f in spec.forms.items():
            dates = [c.name for c in f.columns if c.type in ("date", "partial_date", "partial_date_y")]
            for r in read(cut["folder"], form):
                late += [
                    (form, r.get("SUBJID"), c) for c in dates if r[c] and r[c][: len(cut["cutoff"])] > cut["cutoff"]
                ]
        # the simulation's own planted AE after the cut-off, in the last cut only
        assert len(late) == (1 if k == len(truth["cuts"]) - 1 else 0), late


def test_the_last_cut_is_the_single_package_but_for_the_planted_changes(seq):
    """The last cut is write_demo_package at that cut-off, but for the rows of the subjects the
    planted changes touched in the trial itself (a death, late reports, a withdrawn deviation)."""
    tmp, truth, _ = seq
    single = tmp / "single"
    write_demo_package(single, cutoff=DATES[-1])
    touched = set()
    for pair in truth["pairs"]:
        for p in pair["planted"]:
            if p["kind"] in ("death_small_site", "deviation_new", "deviation_new_naming_arm", "deviation_resolved"):
                touched.add(p["subjid"])
            elif p["kind"] == "funnel_outside":
                touched |= {s for s, _ in p["records"]}
    last = truth["cuts"][-1]["folder"]
    differing = set()
    for form in load_crf_spec().forms:
        if form == "EXPORT":
            a, b = read(last, form)[0], read(single, form)[0]
            assert (a["CUTOFFDAT"], a["EXPORTDTC"]) == (b["CUTOFFDAT"], b["EXPORTDTC"])
            continue
        a = Counter(tuple(r.items()) for r in read(last, form))
        b = Counter(tuple(r.items()) for r in read(single, form))
        for row in (a - b) + (b - a):
            differing.add(dict(row).get("SUBJID"))
    assert differing and differing <= touched, differing - touched


# ------------------------------------------------------------------ the planted changes
def test_every_pair_has_every_planted_change_once_in_its_truth(seq):
    _, truth, _ = seq
    for pair in truth["pairs"]:
        assert {p["kind"] for p in pair["planted"]} == KINDS
        exp = expectations(pair)
        assert len(exp) >= len(KINDS) + 3
        for e in exp:
            assert matches(pair, e["path"], e["match"]) == 1, e
        # the death is at a site the cell rule suppresses in one of the two cuts
        death = next(p for p in pair["planted"] if p["kind"] == "death_small_site")
        cells = [
            c["allocation"].get(death["siteid"], {})
            for c in truth["cuts"]
            if c["cutoff"] in (pair["from"]["cutoff"], pair["to"]["cutoff"])
        ]
        assert any(sum(c.values()) < 5 or min(c.values()) == 0 for c in cells), cells
        # the pushed site has both arms in both cuts, inside the funnel before, above it after
        push = next(p for p in pair["planted"] if p["kind"] == "funnel_outside")
        assert {"siteid": push["siteid"], "signal": push["signal"], "old": "within", "new": "above"} in pair["funnel"][
            "newly_outside"
        ]


def test_the_same_arguments_give_the_same_cuts(seq, tmp_path):
    _, truth, _ = seq
    again = write_demo_cuts(tmp_path / "again", DATES)
    assert [p["planted"] for p in again["pairs"]] == [p["planted"] for p in truth["pairs"]]
    for a, b in zip(truth["cuts"], again["cuts"], strict=True):
        names = sorted(p.name for p in Path(a["folder"]).iterdir())
        match, mismatch, errors = filecmp.cmpfiles(a["folder"], b["folder"], names, shallow=False)
        assert not mismatch and not errors and len(match) == len(load_crf_spec().forms)


def test_cut_offs_must_increase(tmp_path):
    with pytest.raises(ValueError, match="at least"):
        write_demo_cuts(tmp_path, [dt.date(2027, 6, 30), dt.date(2027, 7, 2)])
    with pytest.raises(ValueError, match="no subject"):
        write_demo_cuts(tmp_path, [dt.date(2026, 1, 5), dt.date(2028, 6, 30)])
