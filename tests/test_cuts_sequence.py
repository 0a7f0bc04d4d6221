"""Since the last meeting on a sequence of three cuts of the demo trial (issue 16): for every role,
dashboard.views.changes.changes() between consecutive cuts lists each planted change exactly
once and nothing else, against the truth the demo generator computed from its own rows
(dashboard/devtools/demo/cuts.py, in Python, never through the build's SQL).

The closed session (dsmb) gets the whole truth. A blinded role gets what the blinding rule lets a
single cut show: new randomizations and subjects, outcome events as trial-level pooled counts (a
site investigator: the site's, when the site passes the cell rule in both cuts), deviations and
findings with the deviation term withheld where it may name the arm, sites newly outside or back
inside a funnel where both cuts show the site, changed values of the forms the blinded file holds
with their values, of outcome forms as counts by form and column (of the columns it holds: PR,
PATH and FU with their blinded columns, not RECUR or ADJ, dashboard/blinded_tables.toml says why).
No blinded difference holds an arm code or an arm's name in any language."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from dashboard.access.blinding import FREE_TEXT_MARK, MERGED
from dashboard.access.freetext import matcher
from dashboard.access.roles import Viewer
from dashboard.config import load_trial
from dashboard.devtools.demo import cuts as demo_cuts
from dashboard.devtools.demo.cuts import expectations, matches, write_demo_cuts
from dashboard.ingest.build import build
from dashboard.views import safety
from dashboard.views.changes import CLOSED_ONLY, changes

DATES = [dt.date(2027, 6, 30), dt.date(2027, 12, 31), dt.date(2028, 6, 30)]
SITE = "01"
# the small site of the demo trial (one arm or under the minimum cell in the first two cuts): the
# planted deaths are there (the fixture holds it), its investigator may see no outcome count
SMALL_SITE = "09"
ROLES = {
    "pi": Viewer("pi"),
    "steering": Viewer("steering"),
    "site": Viewer("site", site=SITE),
    "site_small": Viewer("site", site=SMALL_SITE),
    "data_manager": Viewer("data_manager"),
    "dsmb": Viewer("dsmb"),
}
BLINDED = [r for r in ROLES if r != "dsmb"]

# The forms and columns a blinded difference compares with their values (the blinded file holds
# them: dashboard/views/changes.py BLINDED_COMPARISONS), and the outcome forms it counts.
BLINDED_VALUES = {
    "SITES": None,  # every column
    "SCREENING": None,
    "DM": {"SITEID", "BRTHDAT", "SEX", "RFICDAT"},
    "DX": None,
    "BL": {"ECOG", "CARDIAC6M", "PREGNANT", "OTHMAL5Y", "SMOKING"},
    "RAND": {"RANDDAT", "STRATRESP", "STRATSITE"},
    "DV": {"SITEID", "DVSTDAT", "DVCAT", "DVSEV"},
}
BLINDED_COUNTED = {
    "AE": None,
    "DD": None,
    "DS": None,
    "QS": None,
    "DV": {"DVTERM"},
    # the outcome forms the blinded file holds with their blinded columns only (the key's excepted)
    "PR": {"SITEID"},
    "PATH": {"SITEID", "PATHDAT"},
    "FU": {"SITEID", "SSSTAT"},
}
# the forms the blinded file does not hold: their changes are the closed session's only
CLOSED_ONLY_FORMS = {"IE", "EX", "RS", "ADJ", "RECUR"}


@pytest.fixture(scope="module")
def seq(tmp_path_factory):
    """Three cuts built into one warehouse, and every role's difference of each consecutive pair."""
    tmp = tmp_path_factory.mktemp("cuts-sequence")
    truth = write_demo_cuts(tmp / "cuts", DATES)
    for pair in truth["pairs"]:
        assert [p["siteid"] for p in pair["planted"] if p["kind"] == "death_small_site"] == [SMALL_SITE]
    dirs = [build(c["folder"], tmp / "wh").build_dir for c in truth["cuts"]]
    diffs = {
        role: [changes(dirs[k - 1], dirs[k], viewer) for k in range(1, len(dirs))] for role, viewer in ROLES.items()
    }
    return truth, dirs, diffs, withheld_sites(dirs)


def withheld_sites(dirs: list) -> list[dict]:
    """Per cut: `allocation`, the sites whose allocation the blinded file withholds (the cell rule
    with its complementary suppression, dashboard/ingest/blinded.py), of which a blinded page shows
    no figure; `funnel`, per safety signal, the sites the cut's blinded funnel shows on its own
    (neither suppressed nor merged: the rule with its complementary suppression of the total,
    dashboard/access/blinding.py), the only ones whose flag a difference may show."""
    cfg = load_trial()
    out = []
    for d in dirs:
        with duckdb.connect(str(d / "blinded.duckdb"), read_only=True) as con:
            rows = con.execute("select group_value from allocation where grouping = 'site' and suppressed is not null")
            allocation = {r[0] for r in rows.fetchall()}
            subjects = safety.subjects(con, Viewer("pi"))
            funnel = {}
            for signal in cfg.safety_signals:
                fun = safety.site_funnel(con, subjects, signal, cfg)
                funnel[signal.name] = {
                    str(r.siteid)
                    for r in fun.itertuples()
                    if str(r.siteid) != MERGED and not isinstance(r.suppressed_code, str)
                }
        out.append({"allocation": allocation, "funnel": funnel})
    return out


def text(v):
    return None if v is None else str(v)


def site_of(item: dict) -> str | None:
    """The site of a truth item (SUBJID is <site>-<number>, tests/test_demo_cuts.py holds it)."""
    if item.get("form") == "SITES":
        return item["key"]["SITEID"]
    if item.get("form") == "SCREENING":
        return item["key"]["SCRNID"][1:].split("-")[0]
    subjid = item.get("subjid")
    return subjid.split("-")[0] if subjid else None


def in_site(items: list, site: str | None) -> list:
    return [i for i in items if site is None or site_of(i) == site]


def rows(items: list[dict], columns=None) -> Counter:
    return Counter(tuple((k, text(v)) for k, v in sorted(i.items()) if columns is None or k in columns) for i in items)


def changed_rows(items: list[dict]) -> Counter:
    return Counter(
        (
            i["form"],
            text(i["subjid"]),
            tuple((k, text(v)) for k, v in i["key"].items()),
            i["column"],
            text(i["old"]),
            text(i["new"]),
        )
        for i in items
    )


def allowed(item: dict, forms: dict) -> bool:
    return item["form"] in forms and (forms[item["form"]] is None or item["column"] in forms[item["form"]])


def counts(items: list[dict]) -> list[dict]:
    c = Counter((i["form"], i["column"]) for i in items)
    return sorted(
        ({"form": f, "column": col, "n": n} for (f, col), n in c.items()), key=lambda d: (d["form"], d["column"])
    )


def cell_ok(alloc: dict) -> bool:
    return sum(alloc.values()) >= load_trial().blinding.min_cell_size and min(alloc.values()) > 0


# ------------------------------------------------------------------ the truth a role may see
def expected(truth: dict, k: int, role: str, withheld: list[set]) -> dict:
    """The difference of pair k (cut k to cut k+1) a role may see, from the generator's truth."""
    pair = truth["pairs"][k]
    viewer = ROLES[role]
    site = viewer.site
    if role == "dsmb":
        return {
            "randomized": pair["randomized"],
            "events": {kind: {x: e[x] for x in ("pooled", "by_arm", "subjects")} for kind, e in pair["events"].items()},
            "deviations": pair["deviations"],
            "findings": pair["findings"],
            "funnel": pair["funnel"],
            "changed": pair["changed"],
        }
    names_arm = matcher(load_trial())
    new_subjects = in_site([{"subjid": s} for s in pair["randomized"]["subjects"]], site)
    cuts = truth["cuts"][k : k + 2]
    # a site's new randomizations by name only where both cuts' blinded files show its allocation
    # (else one "other sites" count); its new subjects listed only where the change of its
    # allocation (the truth's, by arm) itself keeps the cell rule
    hidden = withheld[k]["allocation"] | withheld[k + 1]["allocation"]
    new_by_site = {s: n for s, n in pair["randomized"]["by_site"].items() if site is None or s == site}
    by_site = {s: n for s, n in new_by_site.items() if s not in hidden}
    if sum(n for s, n in new_by_site.items() if s in hidden):
        by_site[MERGED] = sum(n for s, n in new_by_site.items() if s in hidden)
    arms = [a.code for a in load_trial().arms]

    def step_ok(s: str) -> bool:
        old, new = cuts[0]["allocation"].get(s, {}), cuts[1]["allocation"].get(s, {})
        return cell_ok({a: new.get(a, 0) - old.get(a, 0) for a in arms})

    randomized = {
        "total": len(new_subjects),
        "by_site": by_site,
        "subjects": [x["subjid"] for x in new_subjects if site_of(x) not in hidden and step_ok(site_of(x))],
    }
    # a site's pooled events only when the site may be shown in both cuts
    shown = site is None or all(cell_ok(c["allocation"].get(site, {"x": 0})) for c in cuts)
    shown = shown and not (site and any(site in w["allocation"] for w in withheld[k : k + 2]))
    events = {}
    for kind, e in pair["events"].items():
        items = e["records"] if "records" in e else e["subjects"]
        n = sum(1 for i in items if site is None or (i[0] if isinstance(i, list) else i).split("-")[0] == site)
        events[kind] = {"pooled": n if shown else None}

    def deviation(d: dict) -> dict:
        return {**d, "dvterm": FREE_TEXT_MARK if names_arm(d["dvterm"]) else d["dvterm"]}

    funnel = {
        part: [] if site else [i for i in items if funnel_shown(i, withheld[k : k + 2])]
        for part, items in pair["funnel"].items()
    }
    changed = in_site(pair["changed"], site)
    findings = pair["findings"]
    if site:  # a site investigator: the findings of the site's subjects
        findings = {part: [f for f in fs if f["subjid"] and site_of(f) == site] for part, fs in findings.items()}
    return {
        "randomized": randomized,
        "events": events,
        "deviations": {part: [deviation(d) for d in in_site(ds, site)] for part, ds in pair["deviations"].items()},
        "findings": findings,
        "funnel": funnel,
        "changed": [c for c in changed if allowed(c, BLINDED_VALUES)],
        "changed_counts": counts([c for c in changed if allowed(c, BLINDED_COUNTED)]) if shown else [],
    }


def funnel_shown(item: dict, withheld: list[dict]) -> bool:
    """May a blinded page show this site's funnel flag in both cuts? Only when each cut's own
    blinded funnel shows the site (not suppressed, not merged with others)."""
    return all(item["siteid"] in w["funnel"][item["signal"]] for w in withheld)


# ------------------------------------------------------------------ the tests
def test_the_closed_difference_is_the_truth(seq):
    """DSMB: every section of every pair is the truth, item for item (multisets)."""
    truth, _dirs, diffs, withheld = seq
    for k, got in enumerate(diffs["dsmb"]):
        want = expected(truth, k, "dsmb", withheld)
        assert got["from"]["cutoff"] == truth["pairs"][k]["from"]["cutoff"]
        assert got["to"]["cutoff"] == truth["pairs"][k]["to"]["cutoff"]
        assert got["randomized"] == want["randomized"]
        assert got["events"] == want["events"]
        for part in ("new", "resolved"):
            assert rows(got["deviations"][part]) == rows(want["deviations"][part]), part
            assert rows(got["findings"][part]) == rows(want["findings"][part]), part
        for part in ("newly_outside", "back_inside"):
            assert rows(got["funnel"][part]) == rows(want["funnel"][part]), part
        assert changed_rows(got["changed"]) == changed_rows(want["changed"])
        assert got["changed_counts"] == [] or all(c["n"] > 0 for c in got["changed_counts"])


@pytest.mark.parametrize("role", ROLES)
def test_each_planted_change_is_listed_exactly_once(seq, role):
    """The planted changes a role may see, each once in its difference (the closed role: all of
    them; a blinded role: those of the forms it may read with values, at its site)."""
    truth, _dirs, diffs, withheld = seq
    site = ROLES[role].site
    checked = 0
    for k, got in enumerate(diffs[role]):
        for e in expectations(truth["pairs"][k]):
            match, path = e["match"], e["path"]
            if role != "dsmb":
                if path.startswith("events."):
                    continue  # pooled counts only: test_the_blinded_difference_is_the_truth
                if path == "changed" and not allowed(match, BLINDED_VALUES):
                    continue  # an outcome form: counted, not listed
                where = match.get("siteid") or site_of(match)
                if site and where != site:
                    continue
                if path.startswith("funnel.") and (site or not funnel_shown(match, withheld[k : k + 2])):
                    continue
            assert matches(got, path, match) == 1, (role, k, e)
            checked += 1
    assert checked >= (len(DATES) - 1) * (12 if role == "dsmb" else 0 if site else 5)


@pytest.mark.parametrize("role", BLINDED)
def test_the_blinded_difference_is_the_truth(seq, role):
    """A blinded role: the truth less what the blinding rule withholds, nothing else."""
    truth, _dirs, diffs, withheld = seq
    for k, got in enumerate(diffs[role]):
        want = expected(truth, k, role, withheld)
        assert got["randomized"] == want["randomized"]
        assert got["events"] == want["events"]
        for part in ("new", "resolved"):
            assert rows(got["deviations"][part]) == rows(want["deviations"][part]), part
            assert rows(got["findings"][part]) == rows(want["findings"][part]), part
        for part in ("newly_outside", "back_inside"):
            assert rows(got["funnel"][part]) == rows(want["funnel"][part]), part
        assert changed_rows(got["changed"]) == changed_rows(want["changed"])
        assert sorted(got["changed_counts"], key=lambda d: (d["form"], d["column"])) == want["changed_counts"]


def test_a_small_sites_investigator_sees_no_outcome_of_the_site(seq):
    """The new death at the small site: pooled in the trial's counts for the other blinded roles,
    by arm in the closed session, and no outcome figure at all for the site's investigator (the
    site fails the cell rule in a cut), neither events nor counts of changed outcome values."""
    truth, _dirs, diffs, _withheld = seq
    for k, pair in enumerate(truth["pairs"]):
        death = next(p for p in pair["planted"] if p["kind"] == "death_small_site")
        assert death["subjid"] in diffs["dsmb"][k]["events"]["death"]["subjects"]
        assert diffs["pi"][k]["events"]["death"]["pooled"] == pair["events"]["death"]["pooled"] > 0
        got = diffs["site_small"][k]
        assert got["events"] == {kind: {"pooled": None} for kind in pair["events"]}
        assert got["changed_counts"] == []
        assert {w.get("part") for w in got["withheld"] if w.get("site") == SMALL_SITE} >= {"events"}


@pytest.mark.parametrize("role", ["pi", "site"])
def test_the_blinded_difference_says_which_forms_it_does_not_compare(seq, role):
    """The end dates of adjuvant therapy change between the cuts (courses end): the closed
    session lists them; a blinded role's difference, whose file holds no ADJ, counts none of
    them and says that ADJ (with RECUR, IE, EX, RS) is compared in the closed session only."""
    truth, _dirs, diffs, _withheld = seq
    for k, got in enumerate(diffs[role]):
        adj = [c for c in truth["pairs"][k]["changed"] if c["form"] == "ADJ"]
        assert adj and {c["column"] for c in adj} == {"ADJENDAT"}
        assert matches(diffs["dsmb"][k], "changed", {"form": "ADJ", "column": "ADJENDAT"}) == len(adj)
        assert not {c["form"] for c in got["changed_counts"]} & CLOSED_ONLY_FORMS
        notice = [w for w in got["withheld"] if w.get("reason") == CLOSED_ONLY]
        assert len(notice) == 1 and set(notice[0]["forms"]) == CLOSED_ONLY_FORMS, notice
    assert not [w for d in diffs["dsmb"] for w in d["withheld"] if w.get("reason") == CLOSED_ONLY]


@pytest.mark.parametrize("role", BLINDED)
def test_a_blinded_difference_names_no_arm(seq, role):
    """No arm code, no arm's label in English or Chinese, no events by arm or subjects, no
    randomization number and no free text that names the arm, anywhere in the JSON."""
    truth, _dirs, diffs, _withheld = seq
    cfg = load_trial()
    words = {w for a in cfg.arms for w in (a.code, a.label, a.label_zh)}
    # the deviation terms that name the arm: the simulation's (in every cut) and the planted new ones
    terms = {"受试者入降级组，术后访视超出访视窗", demo_cuts.ARM_TERM}
    for got in diffs[role]:
        blob = json.dumps(got, ensure_ascii=False)
        assert not [w for w in words if w in blob], role
        assert not [t for t in terms if t in blob], role
        assert all(set(e) == {"pooled"} for e in got["events"].values())
        assert not {c["column"] for c in got["changed"]} & {"ARM", "RANDNO"}
        assert not {c["form"] for c in got["changed"]} - set(BLINDED_VALUES)


def test_a_new_deviation_naming_the_arm_is_withheld_from_a_blinded_listing(seq):
    """The late deviation whose term names the arm (planted in every pair): listed with its text
    to the closed session, with the mark to every blinded role that lists its site."""
    truth, _dirs, diffs, _withheld = seq
    for k, pair in enumerate(truth["pairs"]):
        p = next(p for p in pair["planted"] if p["kind"] == "deviation_new_naming_arm")
        key = {"subjid": p["subjid"], "dvspid": p["dvspid"]}
        assert matches(diffs["dsmb"][k], "deviations.new", key | {"dvterm": demo_cuts.ARM_TERM}) == 1
        for role in BLINDED:
            if ROLES[role].site in (None, p["siteid"]):
                assert matches(diffs[role][k], "deviations.new", key | {"dvterm": FREE_TEXT_MARK}) == 1, role


def test_the_natural_keys_are_the_engines(seq):
    """The generator's truth and changes() match unkeyed forms' records on the same columns."""
    from dashboard.views import changes as engine

    assert engine.NATURAL_KEYS == demo_cuts.NATURAL_KEYS


# ------------------------------------------------------------------ changes of PR, PATH and FU
def _rewrite(path: Path, change) -> None:
    """Rewrite one CSV of a package, row by row (`change(row) -> row`), keeping its columns."""
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header, rows = reader.fieldnames, [dict(r) for r in reader]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header)
        w.writeheader()
        w.writerows(change(r) for r in rows)


def _read(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def outcome_edits(tmp_path_factory):
    """The last two cuts of the demo trial with corrections planted in records of both cuts, at
    site 01: a pathology date (PATH.PATHDAT, blinded), a margin (PATH.MARGIN, pooled-only), a
    reconstruction (PR.FLAP, closed) and a vital status entered DEAD by mistake in the earlier cut
    (FU.SSSTAT, blinded). Returns the generator's truth with the planted changes added, the two
    builds and every role's difference."""
    tmp = tmp_path_factory.mktemp("outcome-edits")
    truth = write_demo_cuts(tmp / "cuts", DATES[1:])
    pair = truth["pairs"][0]
    old_dir, new_dir = (Path(c["folder"]) for c in truth["cuts"])
    # the subjects a change of the generator's already touches (SUBJID is <site>-<number>)
    touched = set(re.findall(r"\b\d{2}-\d{3}\b", json.dumps([pair["planted"], pair["changed"]])))
    cutoff = pair["from"]["cutoff"]

    def fresh(rows: list[dict], avoid: set) -> list[dict]:
        return [r for r in rows if r["SUBJID"].startswith(SITE + "-") and r["SUBJID"] not in touched | avoid]

    planted, used = [], set()
    path_old = {r["SUBJID"]: r for r in _read(old_dir / "PATH.csv")}
    path_new = {r["SUBJID"]: r for r in _read(new_dir / "PATH.csv")}
    both = [path_new[s] for s in path_old if s in path_new and path_old[s] == path_new[s]]
    a, b = fresh(both, used)[:2]
    used |= {a["SUBJID"], b["SUBJID"]}
    day = (dt.date.fromisoformat(a["PATHDAT"]) + dt.timedelta(days=1)).isoformat()
    margin = "CLOSE" if b["MARGIN"] != "CLOSE" else "NEGATIVE"
    planted += [
        {
            "form": "PATH",
            "subjid": a["SUBJID"],
            "key": {"SUBJID": a["SUBJID"]},
            "column": "PATHDAT",
            "old": a["PATHDAT"],
            "new": day,
        },
        {
            "form": "PATH",
            "subjid": b["SUBJID"],
            "key": {"SUBJID": b["SUBJID"]},
            "column": "MARGIN",
            "old": b["MARGIN"],
            "new": margin,
        },
    ]
    _rewrite(
        new_dir / "PATH.csv",
        lambda r: (
            {**r, "PATHDAT": day}
            if r["SUBJID"] == a["SUBJID"]
            else {**r, "MARGIN": margin}
            if r["SUBJID"] == b["SUBJID"]
            else r
        ),
    )
    pr_new = _read(new_dir / "PR.csv")
    pr = next(r for r in fresh(_read(old_dir / "PR.csv"), used) if r in pr_new and r["FLAP"] in ("Y", "N"))
    used.add(pr["SUBJID"])
    flap = "N" if pr["FLAP"] == "Y" else "Y"
    planted.append(
        {
            "form": "PR",
            "subjid": pr["SUBJID"],
            "key": {k: pr[k] for k in ("SUBJID", "PRDAT", "PRTRT")},
            "column": "FLAP",
            "old": pr["FLAP"],
            "new": flap,
        }
    )
    _rewrite(new_dir / "PR.csv", lambda r: {**r, "FLAP": flap} if r == pr else r)
    fu_new = _read(new_dir / "FU.csv")
    fu = next(
        r
        for r in fresh(_read(old_dir / "FU.csv"), used)
        if r in fu_new and r["SSSTAT"] == "ALIVE" and r["VISIT"] != "UNSCHEDULED" and r["VISDAT"] <= cutoff
    )
    planted.append(
        {
            "form": "FU",
            "subjid": fu["SUBJID"],
            "key": {k: fu[k] for k in ("SUBJID", "VISIT", "VISDAT")},
            "column": "SSSTAT",
            "old": "DEAD",
            "new": "ALIVE",
        }
    )
    _rewrite(old_dir / "FU.csv", lambda r: {**r, "SSSTAT": "DEAD"} if r == fu else r)
    dirs = [build(c["folder"], tmp / "wh").build_dir for c in truth["cuts"]]
    truth = copy.deepcopy(truth)
    truth["pairs"][0]["changed"] += planted
    diffs = {role: [changes(dirs[0], dirs[1], viewer)] for role, viewer in ROLES.items()}
    return truth, planted, diffs, withheld_sites(dirs)


def test_corrections_of_pr_path_and_fu_are_listed_to_the_closed_session(outcome_edits):
    """Each planted correction once with its values, and nothing else changed, for the DSMB."""
    truth, planted, diffs, _withheld = outcome_edits
    got = diffs["dsmb"][0]
    assert changed_rows(got["changed"]) == changed_rows(truth["pairs"][0]["changed"])
    for p in planted:
        assert matches(got, "changed", p) == 1, p


@pytest.mark.parametrize("role", BLINDED)
def test_corrections_of_pr_path_and_fu_are_counted_for_blinded_roles(outcome_edits, role):
    """A blinded role: the corrections of the blinded columns (PATHDAT, SSSTAT) counted by form and
    column, at the role's site and where the site may be shown; the margin (pooled-only) and the
    reconstruction (closed) not at all, nor any value or subject of the outcome forms."""
    truth, planted, diffs, withheld = outcome_edits
    got = diffs[role][0]
    want = expected(truth, 0, role, withheld)
    assert sorted(got["changed_counts"], key=lambda d: (d["form"], d["column"])) == want["changed_counts"]
    assert changed_rows(got["changed"]) == changed_rows(want["changed"])
    assert not {c["form"] for c in got["changed"]} & {"PR", "PATH", "FU"}
    counted = {(c["form"], c["column"]) for c in got["changed_counts"]}
    assert not counted & {("PATH", "MARGIN"), ("PR", "FLAP")}
    if role in ("pi", "steering", "data_manager", "site"):  # the trial, and site 01, pass the cell rule
        assert counted >= {("PATH", "PATHDAT"), ("FU", "SSSTAT")}, role


def test_a_cut_built_before_the_allow_list_held_a_form_says_it_is_not_compared(seq, tmp_path):
    """A cut whose blinded file lacks crf_pr, crf_path and crf_fu (built before the allow-list held
    them): the difference counts none of their changes and its notice names them with the
    forms only the closed session compares."""
    import shutil

    _truth, dirs, _diffs, _withheld = seq
    old = tmp_path / dirs[0].name
    shutil.copytree(dirs[0], old)
    with duckdb.connect(str(old / "blinded.duckdb")) as con:
        for table in ("crf_pr", "crf_path", "crf_fu"):
            con.execute(f"drop table {table}")
    got = changes(old, dirs[1], ROLES["pi"])
    assert not {c["form"] for c in got["changed_counts"]} & {"PR", "PATH", "FU"}
    notice = [w for w in got["withheld"] if w.get("reason") == CLOSED_ONLY]
    assert len(notice) == 1 and notice[0]["forms"] == ["IE", "EX", "RS", "PR", "PATH", "ADJ", "FU", "RECUR"]
    # the rest of the difference is the one of the cut as built
    assert got["changed"] == changes(dirs[0], dirs[1], ROLES["pi"])["changed"]
