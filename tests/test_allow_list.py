"""The blinded file by allow-list (issue 11): its tables and columns are exactly those of
dashboard/blinded_tables.toml with crf_spec.toml's visibility; anything unlisted is closed; the
allocation cells it holds determine no subject's arm; margins are pooled-only; and a model on its
subject-level columns does not predict the arm on a package with a strong arm effect."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from dashboard.config import load_allow_list, load_crf_spec, load_trial
from dashboard.devtools.demo import write_demo_package
from dashboard.ingest import blinded
from dashboard.ingest.build import build
from dashboard.ingest.guard import BlindingBreach, check_blinded
from dashboard.store import warehouse

CFG = load_trial()
ARM_COLS = [f"n_{a.key}" for a in CFG.arms]
EXPERIMENTAL = next(a.code for a in CFG.arms if a.experimental)


def _columns(path: Path) -> dict[str, set[str]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        out: dict[str, set[str]] = {}
        for t, c in con.execute("select table_name, column_name from information_schema.columns").fetchall():
            out.setdefault(t.lower(), set()).add(c.lower())
        return out
    finally:
        con.close()


def _rewrite(path: Path, change) -> None:
    """Rewrite one CSV of a package, row by row (`change(row) -> row`, may add keys)."""
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows = [change(dict(r)) for r in rows]
    header = list(rows[0])
    for r in rows:
        header += [k for k in r if k not in header]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header)
        w.writeheader()
        w.writerows(rows)


@pytest.fixture(scope="module")
def strong(tmp_path_factory):
    """A 600-subject demo package in which the arm shows strongly in the intervention's own and
    the pooled-only fields (margins, neck dissection, adjuvant dose, QoL scores), plus export
    columns nobody listed (an arm code, operative time, blood loss, reconstruction type)."""
    root = tmp_path_factory.mktemp("strong")
    pkg = root / "pkg"
    write_demo_package(pkg, subjects=600, sites=12, seed=11)
    with open(pkg / "RAND.csv", encoding="utf-8", newline="") as fh:
        arm = {r["SUBJID"]: r["ARM"] for r in csv.DictReader(fh)}
    de = {s for s, a in arm.items() if a == EXPERIMENTAL}
    rng = np.random.default_rng(5)

    def rand(r):
        r["ARMCD"] = "A" if r["SUBJID"] in de else "B"
        return r

    def pr(r):
        d = r["SUBJID"] in de
        r["NECKDIS"] = "N" if d else "Y"
        r["OPDUR"] = str(int(rng.normal(180 if d else 420, 30)))
        r["EBL"] = str(int(rng.normal(150 if d else 600, 50)))
        r["RECONTYPE"] = "PRIMARY CLOSURE" if d else "FREE FLAP"
        return r

    def path_(r):
        r["MARGIN"] = "POSITIVE" if (r["SUBJID"] in de and rng.random() < 0.6) else "NEGATIVE"
        r["PNPOS"] = "0" if r["SUBJID"] in de else "3"
        return r

    def adj(r):
        r["RTDOSE"] = "60" if r["SUBJID"] in de else "66"
        return r

    def qs(r):
        r["QSSTRESN"] = "95" if r["SUBJID"] in de else "40"
        return r

    for name, change in [("RAND", rand), ("PR", pr), ("PATH", path_), ("ADJ", adj), ("QS", qs)]:
        _rewrite(pkg / f"{name}.csv", change)
    wh = root / "wh"
    result = build(pkg, wh)
    return {"pkg": pkg, "wh": wh, "build": warehouse.current_build(wh), "result": result, "arm": arm}


def test_the_blinded_file_holds_exactly_the_allow_list(strong):
    want = blinded.expected(load_crf_spec(), load_allow_list())
    got = _columns(strong["build"] / warehouse.BLINDED)
    assert got == want


def test_unlisted_export_columns_are_closed_only_and_listed_as_findings(strong):
    blind = _columns(strong["build"] / warehouse.BLINDED)
    closed = _columns(strong["build"] / warehouse.CLOSED)
    for table, col in [("crf_rand", "armcd"), ("crf_pr", "opdur"), ("crf_pr", "ebl"), ("crf_pr", "recontype")]:
        assert col in closed[table]
        assert all(col not in cols for cols in blind.values())
    con = warehouse.connect(strong["wh"])
    try:
        found = con.execute(
            "select form, column_name, value from findings where kind = 'column not in the spec: closed only'"
        ).fetchall()
    finally:
        con.close()
    assert {(f, c.upper()) for f, c, _ in found} >= {("RAND", "ARMCD"), ("PR", "OPDUR"), ("PR", "EBL")}
    assert all(v is None for _, _, v in found)


def test_no_column_of_the_blinded_file_is_an_intervention_or_pooled_only_field(strong):
    spec = load_crf_spec()
    hidden = {c.name.lower() for f in spec.forms.values() for c in f.columns if c.visibility != "blinded"}
    hidden |= {"surgical_margin", "pathological_complete_response", "neckdis"}
    for table, cols in _columns(strong["build"] / warehouse.BLINDED).items():
        assert not (cols & hidden), table


def _subjects(build_dir: Path) -> pd.DataFrame:
    con = duckdb.connect(str(build_dir / warehouse.CLOSED), read_only=True)
    try:
        return con.execute(
            """select subjid, siteid, coalesce(stratum_response, '?') || '|' || coalesce(stratum_site, '?') as stratum,
                      strftime(randomization_date, '%Y-%m') as month, randomization_date
               from subjects where randomized"""
        ).df()
    finally:
        con.close()


def _allocation(build_dir: Path, closed: bool = False) -> pd.DataFrame:
    con = duckdb.connect(str(build_dir / (warehouse.CLOSED if closed else warehouse.BLINDED)), read_only=True)
    try:
        return con.execute("select * from allocation").df()
    finally:
        con.close()


def test_the_allocation_cells_determine_no_subjects_arm(strong):
    """Counted the way an analyst would: a shown cell all of one arm determines its subjects, a
    shown blocking unit whose last incomplete block is one arm determines that block's."""
    alloc = _allocation(strong["build"])
    assert blinded.determined_subjects(_subjects(strong["build"]), alloc, ARM_COLS, CFG) == 0
    # and the unprotected allocation would have determined some: the measure can see them
    full = _allocation(strong["build"], closed=True).assign(suppressed=None)
    assert blinded.determined_subjects(_subjects(strong["build"]), full, ARM_COLS, CFG) > 0


def test_no_withheld_allocation_cell_follows_by_subtraction(strong):
    """A shown parent minus its shown children is the withheld children together: that must be
    safe under the cell rule (or nothing is withheld)."""
    alloc = _allocation(strong["build"])
    shown = alloc[alloc.suppressed.isna()].set_index(["grouping", "group_value"])
    min_cell = CFG.blinding.min_cell_size

    def check(parent: tuple[str, str], children: pd.DataFrame) -> None:
        if parent not in shown.index or children.empty:
            return
        withheld = children[children.suppressed.notna()]
        if withheld.empty:
            return
        rest = [int(shown.loc[parent, c]) - int(children[children.suppressed.isna()][c].sum()) for c in ARM_COLS]
        assert sum(rest) >= min_cell and all(r > 0 for r in rest), (parent, rest)

    real = alloc[alloc.group_value != blinded.MERGED]
    for g in ["site", "stratum", "month"]:
        check(("overall", "all"), real[real.grouping == g])
    units = real[real.grouping == "site_stratum"]
    for site in {v.split("|", 1)[0] for v in units.group_value}:
        check(("site", site), units[units.group_value.str.split("|").str[0] == site])
    for stratum in {v.split("|", 1)[1] for v in units.group_value}:
        check(("stratum", stratum), units[units.group_value.str.split("|", n=1).str[1] == stratum])


def test_a_shown_allocation_cell_has_its_true_counts(strong):
    blind = _allocation(strong["build"])
    full = _allocation(strong["build"], closed=True).set_index(["grouping", "group_value"])
    shown = blind[blind.suppressed.isna() & (blind.group_value != blinded.MERGED)]
    assert len(shown) > 10
    for r in shown.itertuples():
        assert [getattr(r, c) for c in ARM_COLS] == [full.loc[(r.grouping, r.group_value), c] for c in ARM_COLS]
    # a withheld cell keeps its total (accrual is shown anyway) but not its split
    withheld = blind[blind.suppressed.notna() & (blind.group_value != blinded.MERGED)]
    assert len(withheld) and withheld[ARM_COLS].isna().all().all()
    assert (
        withheld.n_total.to_numpy()
        == [full.loc[(g, v), "n_total"] for g, v in zip(withheld.grouping, withheld.group_value, strict=True)]
    ).all()


def test_suppression_of_small_frames_by_hand():
    """Three sites: A 3/0 (one arm), B 10/10, C 6/5, overall 19/15. A alone would follow from
    the overall minus B and C, so the smallest other site (C) is withheld with it."""
    wide = pd.DataFrame(
        [
            ("overall", "all", 19, 15),
            ("site", "A", 3, 0),
            ("site", "B", 10, 10),
            ("site", "C", 6, 5),
        ],
        columns=["grouping", "group_value", *ARM_COLS],
    )
    wide["n_total"] = wide[ARM_COLS].sum(axis=1)
    out = blinded.suppress_allocation(wide, ARM_COLS, CFG).set_index("group_value")
    assert out.loc["A", "suppressed"] and out.loc["C", "suppressed"]
    assert pd.isna(out.loc["B", "suppressed"]) and out.loc["B", ARM_COLS[0]] == 10
    merged = out.loc[blinded.MERGED]
    assert [int(merged[c]) for c in ARM_COLS] == [9, 5]


def test_a_blocking_unit_whose_last_block_is_one_arm_is_withheld():
    """Blocks of 4 (trial.toml): a unit of 5 with 3/2 has its fifth subject's arm given away."""
    assert CFG.randomization.block_size == 4
    assert not blinded._safe([3, 2], 5, (4, [1, 1]))
    assert blinded._safe([3, 3], 5, (4, [1, 1]))  # last block 1/1
    assert blinded._safe([3, 2], 5)  # not a blocking unit: only the cell rule


def test_margins_are_pooled_by_site_with_the_true_counts(strong):
    con = duckdb.connect(str(strong["build"] / warehouse.CLOSED), read_only=True)
    try:
        truth = con.execute(
            """select siteid, count(*) filter (where surgical_margin is not null),
                      count(*) filter (where surgical_margin = 'POSITIVE')
               from subjects where randomized group by siteid"""
        ).fetchall()
    finally:
        con.close()
    truth = {s: (n, x) for s, n, x in truth}
    con = duckdb.connect(str(strong["build"] / warehouse.BLINDED), read_only=True)
    try:
        pooled = con.execute(
            "select siteid, n, events from pooled_by_site where measure = 'positive_margin'"
        ).fetchall()
    finally:
        con.close()
    total = [(n, x) for s, n, x in pooled if s is None][0]
    assert total == (sum(n for n, _ in truth.values()), sum(x for _, x in truth.values()))
    for s, n, x in pooled:
        if s in truth and n is not None:
            assert (n, x) == truth[s]


def test_a_model_on_the_blinded_file_does_not_predict_the_arm(strong):
    """The strong package's arm effects sit in the intervention's and pooled-only fields: the
    deny-list file (closed minus the arm and five named fields) gives them away; the allow-listed
    blinded file does not. (Cross-validated gradient boosting, dashboard/devtools/inference.py.)"""
    from dashboard.devtools import inference

    m = inference.measure(strong["build"])
    assert m["auc_deny_list_file"] > 0.9
    assert m["auc_blinded_file"] < 0.65


def test_the_guard_refuses_a_table_or_column_not_on_the_list(strong, tmp_path):
    for sql in ["create table extra as select 1 as x", "alter table crf_sites add column opdur integer"]:
        copy = tmp_path / "b.duckdb"
        shutil.copyfile(strong["build"] / warehouse.BLINDED, copy)
        con = duckdb.connect(str(copy))
        con.execute(sql)
        con.close()
        with pytest.raises(BlindingBreach, match="allow-list"):
            check_blinded(copy, CFG)


def test_every_column_the_build_makes_is_classified():
    """A derived or metadata column the allow-list names neither as blinded nor as closed would
    be closed by default at run time; here it fails, so that someone decides."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        pkg = Path(tmp) / "pkg"
        write_demo_package(pkg, subjects=60, sites=4)
        build(pkg, Path(tmp) / "wh")
        closed = _columns(warehouse.current_build(Path(tmp) / "wh") / warehouse.CLOSED)
    allow, spec = load_allow_list(), load_crf_spec()
    want = blinded.expected(spec, allow)
    loose = []
    for table, t in allow.tables.items():
        if t.form or table not in closed:
            continue
        loose += [f"{table}.{c}" for c in closed[table] - want[table] - {c.lower() for c in t.closed}]
    assert loose == []


def test_an_export_column_named_after_the_arm_is_not_named_to_blinded_roles(tmp_path):
    """The build's own record (warnings, findings, form counts, load history) quotes the export: a
    column called "Standard Arm Flag" would name the arm in every blinded table that lists it.
    Blinded roles read a copy with such cells withheld; the closed file names it."""
    pkg = tmp_path / "pkg"
    write_demo_package(pkg, subjects=60, sites=4)
    _rewrite(pkg / "DM.csv", lambda r: {**r, "Standard Arm Flag": "1"})
    build(pkg, tmp_path / "wh")
    b = warehouse.current_build(tmp_path / "wh")
    for path, named in [(b / warehouse.BLINDED, False), (b / warehouse.CLOSED, True)]:
        con = duckdb.connect(str(path), read_only=True)
        try:
            cells = [
                str(v)
                for table in ("problems", "findings", "form_counts", "load_history")
                for row in con.execute(f"select * from {table}").fetchall()
                for v in row
            ]
        finally:
            con.close()
        assert any("STANDARD ARM FLAG" in c.upper() for c in cells) is named, path.name
