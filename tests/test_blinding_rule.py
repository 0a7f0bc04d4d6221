"""The blinding rule of dashboard.access.blinding at its edges: a pooled cell of exactly the minimum
size, a cell that is all one arm, one or two unsafe sites merged or not, and the build's refusal
of a free-text term that would blank a code blinded users see.

The rule (trial.toml [blinding], monitoring plan): a pooled cell may be shown when it has at least
min_cell_size (5) subjects and more than one arm. The allocation counts are written here by hand
into an in-memory DuckDB `allocation` table, laid out as the build writes it
(dashboard.ingest.derive.allocation: grouping, group_value, n_<arm key>..., n_total), which is
all suppress_by_group and population_check read."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from dashboard.access.blinding import (
    FREE_TEXT_MARK,
    MERGED,
    CellCheck,
    check_counts,
    free_text_conflicts,
    population_check,
    suppress_by_group,
)
from dashboard.config import Column, CrfSpec, Form, load_trial

CFG = load_trial()
ARM_COLS = [f"n_{a.key}" for a in CFG.arms]  # n_de_escalation, n_standard


def test_the_configuration_these_tests_assume():
    assert CFG.blinding.min_cell_size == 5
    assert ARM_COLS == ["n_de_escalation", "n_standard"]


# ------------------------------------------------------------------------------- check_counts


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ([6, 0], CellCheck(False, "all subjects in one arm")),  # enough subjects, one arm
        ([0, 6], CellCheck(False, "all subjects in one arm")),
        ([3, 2], CellCheck(True)),  # exactly the minimum, both arms: shown
        ([4, 1], CellCheck(True)),  # one subject in an arm is still two arms
        ([2, 2], CellCheck(False, "fewer than 5 subjects")),  # 4 < 5
        ([4, 0], CellCheck(False, "fewer than 5 subjects")),  # the size is checked first
        ([0, 0], CellCheck(False, "fewer than 5 subjects")),
        ([10, 10], CellCheck(True)),
    ],
)
def test_check_counts(counts, expected):
    assert check_counts(counts, 5) == expected


def test_a_shown_cell_gives_no_reason():
    assert check_counts([3, 2], 5).reason is None


# ------------------------------------------------------------------------------- suppress_by_group


def _con(sites: dict[str, tuple[int, int]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    rows = [("site", s, de, st, de + st) for s, (de, st) in sites.items()]
    rows.append(("overall", "all", sum(r[2] for r in rows), sum(r[3] for r in rows), sum(r[4] for r in rows)))
    frame = pd.DataFrame(rows, columns=["grouping", "group_value", *ARM_COLS, "n_total"])
    con.register("frame", frame)
    con.execute("create table allocation as select * from frame")
    con.unregister("frame")
    return con


def _outcomes(sites: list[str]) -> pd.DataFrame:
    # a rate (an outcome figure) with its numerator and denominator per site
    events = {"01": 4, "02": 3, "03": 1, "04": 2, "05": 0}
    n = {"01": 10, "02": 8, "03": 3, "04": 3, "05": 2}
    return pd.DataFrame(
        {
            "siteid": sites,
            "rate": [events[s] / n[s] for s in sites],
            "events": [events[s] for s in sites],
            "n": [n[s] for s in sites],
        }
    )


def _suppress(sites: dict[str, tuple[int, int]], merge: bool = True, sum_columns=("events", "n")) -> pd.DataFrame:
    con = _con(sites)
    try:
        return suppress_by_group(
            _outcomes(list(sites)),
            "siteid",
            "site",
            ["rate"],
            con,
            CFG,
            merge=merge,
            sum_columns=list(sum_columns) if sum_columns else None,
        )
    finally:
        con.close()


def _row(out: pd.DataFrame, site: str) -> dict:
    rows = out[out["siteid"] == site].to_dict("records")
    assert len(rows) == 1, (site, out)
    return rows[0]


def test_safe_sites_keep_their_figures():
    out = _suppress({"01": (5, 5), "02": (3, 2)})  # 10 and 5 subjects, both arms
    assert list(out["siteid"]) == ["01", "02"]
    assert list(out["rate"]) == [0.4, 0.375]  # 4/10, 3/8
    assert list(out["events"]) == [4, 3] and list(out["n"]) == [10, 8]
    assert list(out["suppressed"]) == [None, None]


def test_two_small_sites_of_one_arm_merge_with_the_smallest_safe_site():
    # 03 and 04 each 3 subjects, all de-escalation: merged 6, still all one arm. Left suppressed
    # beside 01, the merged row would be the page's total minus 01 (adversarial review, issue 16):
    # complementary suppression merges the smallest site that keeps the rule into it.
    out = _suppress({"01": (5, 5), "02": (4, 4), "03": (3, 0), "04": (3, 0)})
    assert list(out["siteid"]) == ["01", MERGED]
    safe = _row(out, "01")
    assert (safe["rate"], safe["events"], safe["n"], safe["suppressed"]) == (0.4, 4, 10, None)
    merged = _row(out, MERGED)
    assert merged["suppressed"] is None and merged["merged_groups"] == "03, 04, 02"
    # summed counts of the three (events 4/10 + ... as _suppress makes them), the rate not carried
    assert merged["n"] == out["n"].sum() - 10 and pd.isna(merged["rate"])


def test_a_lone_suppressed_site_is_not_the_total_minus_the_others():
    # one one-arm site: suppressed alone, total - shown would give it; it is merged with 02
    out = _suppress({"01": (5, 5), "02": (3, 2), "03": (3, 0)})
    assert list(out["siteid"]) == ["01", MERGED]
    assert _row(out, MERGED)["merged_groups"] == "03, 02" and _row(out, MERGED)["suppressed"] is None
    # without merging, the smallest safe site is blanked beside it (complementary suppression)
    blanked = _suppress({"01": (5, 5), "02": (3, 2), "03": (3, 0)}, merge=False)
    assert list(blanked["suppressed"]) == [None, "withheld with a suppressed group", "fewer than 5 subjects"]
    assert pd.isna(_row(blanked, "02")["rate"]) and _row(blanked, "01")["rate"] == 0.4


def test_two_small_sites_too_small_together_take_in_a_safe_site():
    # 03 (3 de-escalation) and 05 (1 standard): merged 4 < 5, which would be the total minus 01;
    # 01 joins them (complementary suppression), and the merge of all keeps the rule
    out = _suppress({"01": (5, 5), "03": (3, 0), "05": (0, 1)})
    assert list(out["siteid"]) == [MERGED]
    merged = _row(out, MERGED)
    assert merged["merged_groups"] == "03, 05, 01" and merged["suppressed"] is None
    assert (merged["events"], merged["n"]) == (5, 15)


def test_two_small_sites_of_opposite_arms_are_shown_merged():
    # 03: 3 de-escalation, 04: 2 standard -> merged [3, 2], 5 subjects of both arms: shown.
    # The counts are summed: events 1 + 2 = 3, n 3 + 3 = 6; the rate is not a sum and is not
    # carried into the merged row.
    out = _suppress({"01": (5, 5), "03": (3, 0), "04": (0, 2)})
    assert list(out["siteid"]) == ["01", MERGED]
    merged = _row(out, MERGED)
    assert merged["suppressed"] is None
    assert (merged["events"], merged["n"]) == (3, 6)
    assert merged["merged_groups"] == "03, 04"
    assert pd.isna(merged["rate"])
    assert _row(out, "01")["suppressed"] is None


def test_exactly_one_unsafe_site_is_merged_with_the_smallest_safe_one():
    # one bad site alone would be the total minus the others: it is merged with 02 (5 subjects,
    # the smallest that keeps the rule), and the merged row of both keeps the rule
    out = _suppress({"01": (5, 5), "02": (3, 2), "04": (6, 0)})
    assert list(out["siteid"]) == ["01", MERGED]
    merged = _row(out, MERGED)
    assert merged["merged_groups"] == "04, 02" and merged["suppressed"] is None
    assert (merged["events"], merged["n"]) == (5, 11)
    assert (_row(out, "01")["rate"], _row(out, "01")["n"]) == (0.4, 10)


def test_without_merging_each_unsafe_site_keeps_its_row():
    # 03 and 04 together are still one arm: the only safe site, 01, is blanked beside them
    out = _suppress({"01": (5, 5), "03": (3, 0), "04": (6, 0)}, merge=False)
    assert list(out["siteid"]) == ["01", "03", "04"]
    assert list(out["suppressed"]) == [
        "withheld with a suppressed group",
        "fewer than 5 subjects",
        "all subjects in one arm",
    ]
    assert out[["rate", "events", "n"]].isna().all().all()


def test_without_sum_columns_unsafe_sites_are_blanked_not_merged():
    out = _suppress({"01": (5, 5), "02": (3, 2), "03": (3, 0), "04": (0, 6)}, sum_columns=None)
    assert list(out["siteid"]) == ["01", "02", "03", "04"]
    # 03 and 04 together keep the rule ([3, 6]): nothing more is blanked
    assert list(out["suppressed"]) == [None, None, "fewer than 5 subjects", "all subjects in one arm"]
    assert out["rate"].isna().tolist() == [False, False, True, True]


def test_a_site_missing_from_the_allocation_counts_is_suppressed():
    con = _con({"01": (5, 5)})
    try:
        out = suppress_by_group(_outcomes(["01", "02"]), "siteid", "site", ["rate"], con, CFG)
    finally:
        con.close()
    # 02 alone would be the total minus 01, so 01 is withheld beside it
    assert list(out["suppressed"]) == ["withheld with a suppressed group", "fewer than 5 subjects"]
    assert out["rate"].isna().all()


def test_a_site_missing_from_the_counts_adds_no_subjects_to_a_merge():
    # 02 has outcomes but no allocation row: it counts as [0, 0]. Merged with 04 (6, all
    # de-escalation) the merge is still all one arm, [6, 0], so the safe 01 joins it: [11, 5].
    con = _con({"01": (5, 5), "04": (6, 0)})
    try:
        out = suppress_by_group(
            _outcomes(["01", "02", "04"]), "siteid", "site", ["rate"], con, CFG, sum_columns=["events", "n"]
        )
    finally:
        con.close()
    merged = _row(out, MERGED)
    assert merged["merged_groups"] == "02, 04, 01"
    assert merged["suppressed"] is None and merged["n"] == 8 + 3 + 10


def test_population_check_of_the_trial_and_of_a_site():
    con = _con({"01": (3, 2), "04": (6, 0)})
    try:
        assert population_check(con, "01", CFG) == CellCheck(True)
        assert population_check(con, "04", CFG) == CellCheck(False, "all subjects in one arm")
        assert population_check(con, "09", CFG) == CellCheck(False, "fewer than 5 subjects")  # no row
        assert population_check(con, None, CFG) == CellCheck(True)  # overall [9, 2]
    finally:
        con.close()


# ------------------------------------------------------------------------------- free_text_conflicts


def _cfg(terms: list[str]):
    return CFG.model_copy(update={"blinding": CFG.blinding.model_copy(update={"free_text_terms": terms})})


def _spec() -> CrfSpec:
    # form PR: ARM is hidden (first column), then two coded columns blinded users see; form AE
    # after it has a coded column too
    return CrfSpec(
        version="1.0",
        optional_everywhere=[],
        forms={
            "PR": Form(
                columns=[
                    Column(name="SUBJID", type="text"),
                    Column(name="ARM", type="text", codes=["ZZQ-HIDDEN"]),
                    Column(name="PRTYPE", type="text", codes=["NECK DISSECTION", "ZZQ-VISIBLE"]),
                    Column(name="PRSIDE", type="text", codes=["LEFT", "RIGHT", "ZZQ-SIDE"]),
                ]
            ),
            "AE": Form(columns=[Column(name="AEOUT", type="text", codes=["RECOVERED", "ZZQ-AE"])]),
        },
    )


def test_a_term_in_codes_after_a_hidden_column_is_a_conflict():
    # ARM is hidden, so its code is not a conflict; every visible column after it is checked,
    # in this form and the next
    out = free_text_conflicts(_cfg(["zzq"]), _spec(), {"ARM"})
    assert out == [
        "free_text_terms: 'zzq' matches the code 'ZZQ-VISIBLE' of PR.PRTYPE",
        "free_text_terms: 'zzq' matches the code 'ZZQ-SIDE' of PR.PRSIDE",
        "free_text_terms: 'zzq' matches the code 'ZZQ-AE' of AE.AEOUT",
    ]


def test_a_hidden_column_is_matched_by_its_upper_case_name():
    # the build passes hidden names in upper case (guard.hidden_columns)
    out = free_text_conflicts(_cfg(["ZZQ-HIDDEN"]), _spec(), {"ARM"})
    assert out == []
    out = free_text_conflicts(_cfg(["ZZQ-HIDDEN"]), _spec(), set())
    assert out == ["free_text_terms: 'zzq hidden' matches the code 'ZZQ-HIDDEN' of PR.ARM"]
    # a spec column spelled in lower case is still the hidden ARM
    lower = CrfSpec(
        version="1.0",
        optional_everywhere=[],
        forms={"PR": Form(columns=[Column(name="arm", type="text", codes=["ZZQ-HIDDEN"])])},
    )
    assert free_text_conflicts(_cfg(["ZZQ-HIDDEN"]), lower, {"ARM"}) == []


def test_a_term_that_is_part_of_the_mark_is_a_conflict():
    assert "withheld" in FREE_TEXT_MARK
    out = free_text_conflicts(_cfg(["WITHHELD", "NOT IN ANY CODE"]), _spec(), {"ARM"})
    assert out == [f"free_text_terms: 'withheld' matches the mark {FREE_TEXT_MARK!r}"]


def test_the_configured_terms_have_no_conflict_with_the_real_spec():
    from dashboard.config import load_crf_spec
    from dashboard.ingest.guard import hidden_columns

    assert free_text_conflicts(CFG, load_crf_spec(), hidden_columns(CFG)) == []
