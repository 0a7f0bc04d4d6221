"""Free text that may name the arm: site staff can write "randomized to de-escalation" into a
deviation term or an adverse-event verbatim. Such a cell is withheld from the blinded warehouse
(the closed one keeps it), listed as a finding without its text, and the blinding guard refuses a
blinded file where one is left."""

from __future__ import annotations

import duckdb
import pytest

from dashboard.access.blinding import FREE_TEXT_MARK
from dashboard.access.roles import Viewer
from dashboard.config import ConfigError, load_trial
from dashboard.ingest.build import BlindingBreach, build, check_blinded
from dashboard.store import warehouse
from dashboard.views.deviations import listings
from factory import small_trial

LEAKY_DV = "Randomized to De-Escalation arm; surgery moved by a week"
LEAKY_AE = "降级组术后出血"
PLAIN_AE = "伤口感染"


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("free-text")
    pkg = small_trial()
    pkg.add(
        "DV",
        SUBJID="01-001",
        SITEID="01",
        DVSPID="1",
        DVSTDAT="2026-03-20",
        DVCAT="PROCEDURE",
        DVTERM=LEAKY_DV,
        DVSEV="MINOR",
    )
    pkg.add(
        "DV",
        SUBJID="01-002",
        SITEID="01",
        DVSPID="1",
        DVSTDAT="2026-04-25",
        DVCAT="VISIT WINDOW",
        DVTERM="visit 5 days late",
        DVSEV="MINOR",
    )
    pkg.add(
        "AE",
        SUBJID="02-001",
        SITEID="02",
        AESPID="1",
        AETERM=LEAKY_AE,
        AESTDAT="2026-05-12",
        AETOXGR="3",
        AESER="Y",
        NOTES="standard arm patient, no flap",
    )
    pkg.add(
        "AE",
        SUBJID="02-002",
        SITEID="02",
        AESPID="1",
        AETERM=PLAIN_AE,
        AESTDAT="2026-06-20",
        AETOXGR="2",
        AESER="N",
        NOTES="",
    )
    build(pkg.write(tmp / "pkg"), tmp / "wh")
    return tmp / "wh"


def _one(con, sql):
    return con.execute(sql).fetchall()


def test_the_blinded_file_withholds_the_cells_and_the_closed_file_keeps_them(wh):
    blinded, closed = warehouse.connect(wh), warehouse.connect(wh, closed=True)
    try:
        assert _one(blinded, "select dvterm from crf_dv where subjid = '01-001'") == [(FREE_TEXT_MARK,)]
        assert _one(closed, "select dvterm from crf_dv where subjid = '01-001'") == [(LEAKY_DV,)]
        # the derived copy of the verbatim term too; a column that is not in the spec is not in
        # the blinded file at all (closed by default, tests/test_allow_list.py)
        assert _one(blinded, "select aeterm from adverse_events where subjid = '02-001'") == [(FREE_TEXT_MARK,)]
        assert _one(closed, "select aeterm, notes from crf_ae where subjid = '02-001'") == [
            (LEAKY_AE, "standard arm patient, no flap")
        ]
        # text that names no arm, Chinese included, is untouched
        assert _one(blinded, "select aeterm from adverse_events where subjid = '02-002'") == [(PLAIN_AE,)]
        assert _one(blinded, "select dvterm from crf_dv where subjid = '01-002'") == [("visit 5 days late",)]
    finally:
        blinded.close()
        closed.close()


def test_each_withheld_cell_is_a_finding_without_its_text(wh):
    con = warehouse.connect(wh)
    try:
        rows = _one(
            con,
            "select form, file, line, subjid, column_name, value from findings "
            "where kind = 'free text that may name the arm' order by form, column_name",
        )
    finally:
        con.close()
    # AE.csv line 2 is 02-001's row (the header is line 1); DV.csv line 2 is 01-001's
    assert rows == [
        ("AE", "AE.csv", 2, "02-001", "AETERM", None),
        ("AE", "AE.csv", 2, "02-001", "NOTES", None),
        ("DV", "DV.csv", 2, "01-001", "DVTERM", None),
    ]


def test_a_site_investigator_listing_shows_the_mark_not_the_text(wh):
    con = warehouse.connect(wh)
    try:
        text = "\n".join(frame.to_string() for frame in listings(con, Viewer("site", "01")).values())
    finally:
        con.close()
    assert "De-Escalation" not in text and FREE_TEXT_MARK in text


def test_the_guard_refuses_a_blinded_file_with_such_free_text(wh, tmp_path):
    """A blinded file that matches the allow-list but holds a leaky verbatim (as if a derivation
    had copied it past the withholding) is refused: the guard's second line."""
    import shutil

    path = tmp_path / "leaky.duckdb"
    shutil.copyfile(warehouse.current_build(wh) / warehouse.BLINDED, path)
    con = duckdb.connect(str(path))
    con.execute(f"update crf_dv set dvterm = '{LEAKY_DV}' where subjid = '01-002'")
    con.close()
    with pytest.raises(BlindingBreach, match="free text"):
        check_blinded(path, load_trial())


def test_a_term_inside_a_code_blinded_users_see_is_refused(tmp_path):
    cfg = load_trial()
    cfg = cfg.model_copy(
        update={
            "blinding": cfg.blinding.model_copy(
                update={"free_text_terms": [*cfg.blinding.free_text_terms, "SCREEN FAILURE"]}
            )
        }
    )
    with pytest.raises(ConfigError, match=r"'screen failure' matches the code 'SCREEN FAILURE' of SCREENING.SCRNOUT"):
        build(small_trial().write(tmp_path / "pkg"), tmp_path / "wh", config=cfg)
    assert not (tmp_path / "wh" / "current").exists()
