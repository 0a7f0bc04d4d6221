"""Two EDC projects that are not ours, converted through their mapping files and built: a REDCap
project laid out differently (tests/fixtures/edc/redcap_hn: other field names, data access groups,
REDCap arms in the event names, a repeating AE instrument, a checkbox, eligibility one field per
criterion, split and offset dates, comma decimals, Chinese text) and an ODM 1.3 study
(tests/fixtures/edc/odm_hn). Each is built on the command line (`build SOURCE --source ...
--mapping M`) and through the Python API, and the warehouse is checked against numbers counted by
hand from the fixture (its README.md lists them): subjects, sites, AEs, the imputed partial date,
the Chinese text byte for byte, the arm only in the closed file and never from the event names."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from dashboard.ingest.build import build
from dashboard.ingest.edc.convert import convert
from dashboard.store import warehouse

FIXTURES = Path(__file__).parent / "fixtures" / "edc"
REDCAP = FIXTURES / "redcap_hn"
ODM = FIXTURES / "odm_hn"

DE, STD = "DE-ESCALATION", "STANDARD"
REDCAP_ARMS = {"1001": DE, "1002": STD, "1003": DE, "1004": STD, "1005": DE, "1006": STD, "1007": DE, "1008": STD}
REDCAP_AE_TERMS = {
    ("1001", "1"): "口腔黏膜炎",
    ("1001", "2"): "伤口感染",
    ("1003", "1"): "甲状腺功能减退",
    ("1006", "1"): "免疫相关性肺炎",
    ("1007", "1"): "吞咽困难",
}
ODM_ARMS = {"2001": DE, "2002": STD, "2003": DE, "2004": STD, "2005": DE, "2006": STD}
ODM_AE_TERMS = {
    ("2001", "1"): "口腔溃疡",
    ("2001", "2"): "术后出血",
    ("2003", "1"): "免疫性肝炎",
    ("2005", "1"): "皮疹",
}
ARM_IN_EVENT = re.compile(r"_arm_[0-9]")


def _cli_build(source: Path, kind: str, wh: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "dashboard",
            "build",
            str(source),
            "--source",
            kind,
            "--mapping",
            str(source / "mapping.toml"),
            "--warehouse",
            str(wh),
        ],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
    )


def _rows(wh: Path, sql: str, closed: bool = True, params=None) -> list[tuple]:
    con = warehouse.connect(wh, closed=closed)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _text_cells(path: Path) -> list[tuple[str, str, str]]:
    """(table, column, value) of every non-empty text cell of a warehouse file."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        cols = con.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE data_type = 'VARCHAR'"
        ).fetchall()
        out = []
        for table, col in cols:
            for (v,) in con.execute(f'SELECT DISTINCT "{col}" FROM "{table}" WHERE "{col}" IS NOT NULL').fetchall():
                out.append((table, col, v))
        return out
    finally:
        con.close()


def _columns(path: Path) -> list[tuple[str, str]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("SELECT table_name, column_name FROM information_schema.columns").fetchall()
    finally:
        con.close()


# ---------------------------------------------------------------------------------------- REDCap


@pytest.fixture(scope="module")
def redcap_cli(tmp_path_factory):
    wh = tmp_path_factory.mktemp("redcap-hn") / "wh"
    done = _cli_build(REDCAP, "redcap", wh)
    assert done.returncode == 0, done.stderr
    return wh, done


@pytest.fixture(scope="module")
def redcap_api(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("redcap-hn-api")
    conv = convert(REDCAP, REDCAP / "mapping.toml", tmp / "pkg")
    result = build(conv.package, tmp / "wh", provenance=conv.provenance)
    return conv, result, tmp / "wh"


def test_redcap_conversion_counts_every_form_by_hand(redcap_api):
    conv, result, _ = redcap_api
    assert conv.kind == "redcap"
    expected = {
        "EXPORT": 1,
        "SITES": 2,
        "SCREENING": 9,  # 8 enrolled + the screen failure 1009
        "DM": 8,
        "IE": 8 * 19,
        "DX": 8,
        "BL": 8,
        "EX": 8 * 3,
        "RS": 8,
        "RAND": 8,
        "PR": 8,
        "PATH": 8,
        "ADJ": 2,
        "AE": 5,
        "FU": 8 * 2 + 3,
        "RECUR": 0,
        "DD": 0,
        "DS": 0,
        "DV": 0,
        "QS": 0,
    }
    assert conv.rows == expected
    assert result.rows == expected
    assert result.findings == {"partial date imputed": 1}


def test_redcap_unmapped_fields_are_warnings_by_name(redcap_api, redcap_cli):
    conv, _, _ = redcap_api
    unmapped = {w.column: w for w in conv.warnings}
    assert set(unmapped) == {"weight_kg", "height_cm", "ae_action"}  # the _complete fields are not data
    for name, w in unmapped.items():
        assert w.severity == "warning" and w.file == "records.csv" and name in w.message
    assert "8 value(s)" in unmapped["weight_kg"].message and "4 value(s)" in unmapped["ae_action"].message
    assert "68,5" not in unmapped["weight_kg"].message  # by name and count, never by value
    _, done = redcap_cli
    for name in unmapped:
        assert re.search(rf"^WARNING: records\.csv, column {name}\b.*is not mapped", done.stderr, re.M), done.stderr
    assert [u["field"] for u in conv.provenance["unmapped_fields"]] == ["weight_kg", "height_cm", "ae_action"]


def test_redcap_randomized_per_site(redcap_cli):
    wh, _ = redcap_cli
    assert _rows(wh, "SELECT count(*) FROM crf_rand") == [(8,)]
    by_site = dict(_rows(wh, "SELECT siteid, count(*) FROM subjects WHERE randomized GROUP BY 1", closed=False))
    assert by_site == {"11": 5, "12": 3}
    sites = _rows(wh, "SELECT siteid, sitename, city FROM crf_sites ORDER BY 1", closed=False)
    assert sites == [("11", "北京协和医院", "北京"), ("12", "中山大学肿瘤防治中心", "广州")]
    assert sites[0][1].encode("utf-8") == "北京协和医院".encode()
    screening = _rows(wh, "SELECT scrnid, siteid, scrnout, sfreas, subjid FROM crf_screening ORDER BY 1", closed=False)
    assert len(screening) == 9
    assert ("S-ZS-004", "12", "SCREEN FAILURE", "I07", "1009") in screening
    assert sum(r[2] == "ENROLLED" for r in screening) == 8
    # every subject is eligible as planted: no criterion violated, no site answer disagreeing
    assert _rows(wh, "SELECT count(*) FROM eligibility WHERE violated OR site_disagrees", closed=False) == [(0,)]
    assert _rows(wh, "SELECT count(*) FROM subjects WHERE stage_mismatch", closed=False) == [(0,)]
    assert _rows(wh, "SELECT ietestcd, ieorres, count(*) FROM crf_ie GROUP BY 1, 2 ORDER BY 1") == [
        *[(f"E{i:02d}", "N", 8) for i in range(1, 8)],
        *[(f"I{i:02d}", "Y", 8) for i in range(1, 13)],
    ]


def test_redcap_adverse_events_grades_and_the_partial_date(redcap_cli):
    wh, done = redcap_cli
    grade3 = _rows(wh, "SELECT DISTINCT subjid FROM adverse_events WHERE grade >= 3 ORDER BY 1", closed=False)
    assert grade3 == [("1001",), ("1006",)]
    ae = {
        (s, a): (str(d), imp)
        for s, a, d, imp in _rows(wh, "SELECT subjid, aespid, aestdat, aestdat_imputed FROM crf_ae")
    }
    assert ae[("1003", "1")] == ("2026-04-01", "day")  # year 2026, month 04, no day
    assert ae[("1001", "2")] == ("2026-03-30", None)  # 2026 / 03 / 30
    assert sum(imp is not None for _, imp in ae.values()) == 1
    flagged = _rows(wh, "SELECT form, subjid, column_name FROM findings WHERE kind = 'partial date imputed'")
    assert flagged == [("AE", "1003", "AESTDAT")]
    assert re.search(r"FINDING \(partial date imputed\): AE\.csv, line \d+, column AESTDAT, SUBJID 1003", done.stdout)
    # the repeat instance is the AE's number; the entry time YYYY-MM-DD HH:MM a timestamp
    entered = dict(_rows(wh, "SELECT subjid || '/' || aespid, strftime(entdtc, '%Y-%m-%d %H:%M') FROM crf_ae"))
    assert entered == {
        "1001/1": "2026-01-22 09:40",
        "1001/2": "2026-04-02 10:30",
        "1003/1": "2026-05-06 15:10",
        "1006/1": "2026-03-17 08:05",
        "1007/1": "2026-09-03 17:25",
    }
    clavien = dict(_rows(wh, "SELECT subjid || '/' || aespid, aeclav FROM crf_ae WHERE aeclav IS NOT NULL"))
    assert clavien == {"1001/2": "IIIA", "1007/1": "I"}


def test_redcap_chinese_terms_survive_byte_for_byte(redcap_cli):
    wh, _ = redcap_cli
    for closed, table in ((True, "crf_ae"), (False, "adverse_events")):
        got = {(s, a): t for s, a, t in _rows(wh, f"SELECT subjid, aespid, aeterm FROM {table}", closed=closed)}
        assert got == REDCAP_AE_TERMS
        for key, term in REDCAP_AE_TERMS.items():
            assert got[key].encode("utf-8") == term.encode("utf-8")


def test_redcap_dates_numbers_checkboxes_and_visits(redcap_cli):
    wh, _ = redcap_cli
    rand = {s: str(d) for s, d in _rows(wh, "SELECT subjid, randdat FROM crf_rand")}
    assert rand["1005"] == "2027-03-04"  # 2027-03-04T09:15:00+08:00
    assert rand["1003"] == "2026-06-02"  # 2026-06-02T07:45:00+08:00: the date as written, not UTC's 06-01
    assert rand["1002"] == "2026-04-15"  # 2026-04-15 10:20
    assert dict(_rows(wh, "SELECT subjid, rtdose FROM crf_adj")) == {"1002": 60.0, "1004": 66.0}  # 60,0 and 66,0
    pr = {s: (p, f, n) for s, p, f, n in _rows(wh, "SELECT subjid, prprim, flap, neckdis FROM crf_pr")}
    assert pr == {s: ("Y", "Y" if arm == STD else "N", "N" if s == "1007" else "Y") for s, arm in REDCAP_ARMS.items()}
    cycles = _rows(wh, "SELECT subjid, list(excycle ORDER BY excycle) FROM crf_ex GROUP BY 1 ORDER BY 1")
    assert cycles == [(s, [1, 2, 3]) for s in sorted(REDCAP_ARMS)]  # cycle_2_arm_2 is cycle 2, not arm 2
    visits = dict(_rows(wh, "SELECT visit, count(*) FROM crf_fu GROUP BY 1"))
    assert visits == {"M3": 8, "M6": 8, "M12": 3}  # m3, m6 upper-cased; fu_year1 through [events]
    assert _rows(wh, "SELECT DISTINCT subjid FROM crf_fu WHERE visit = 'M12' ORDER BY 1") == [
        ("1001",),
        ("1002",),
        ("1006",),
    ]
    dm = {s: (str(b), x) for s, b, x in _rows(wh, "SELECT subjid, brthdat, sex FROM crf_dm")}
    assert dm["1002"] == ("1970-11-02", "F") and dm["1001"] == ("1962-04-18", "M")
    exported = _rows(wh, "SELECT exported, source FROM build_info")
    assert exported[0][1] == "REDCap 14.5.1 project 4711 (HN-Followup 头颈部肿瘤随访研究)"
    assert str(exported[0][0]).startswith("2028-07-01 08:00")


def test_redcap_arm_only_in_the_closed_file(redcap_cli):
    wh, done = redcap_cli
    assert dict(_rows(wh, "SELECT subjid, arm FROM crf_rand")) == REDCAP_ARMS
    blinded = warehouse.current_build(wh) / warehouse.BLINDED
    assert not [c for c in _columns(blinded) if c[1].lower() in ("arm", "rand_group", "prtrt", "randno")]
    cells = _text_cells(blinded)
    arm_values = {DE, STD, "DE-ESCALATION SURGERY", "STANDARD SURGERY"}
    assert not [c for c in cells if c[2].strip().upper() in arm_values]
    # REDCap's arm numbers in the event names reach neither the blinded file nor the messages
    assert not [c for c in cells if ARM_IN_EVENT.search(c[2])]
    assert not ARM_IN_EVENT.search(done.stdout) and not ARM_IN_EVENT.search(done.stderr)
    # the dictionary's labels of the arm (降级手术 / 标准手术) are in no warehouse file
    closed = warehouse.current_build(wh) / warehouse.CLOSED
    for path in (blinded, closed):
        assert not [c for c in _text_cells(path) if "降级手术" in c[2] or "标准手术" in c[2]]
    # nor does the converted package carry an event name anywhere
    package = Path(warehouse.manifest(wh)["package"])
    for f in package.glob("*.csv"):
        assert not ARM_IN_EVENT.search(f.read_text(encoding="utf-8")), f.name


def test_redcap_api_and_command_line_agree(redcap_api, redcap_cli):
    _, _, wh_api = redcap_api
    wh_cli, _ = redcap_cli
    for sql in (
        "SELECT * FROM crf_ae ORDER BY subjid, aespid",
        "SELECT * FROM crf_rand ORDER BY subjid",
        "SELECT * FROM crf_ie ORDER BY subjid, ietestcd",
        "SELECT * FROM subjects ORDER BY subjid",
    ):
        assert _rows(wh_api, sql) == _rows(wh_cli, sql), sql
    src = warehouse.manifest(wh_api)["provenance"]
    assert src["kind"] == "redcap" and set(src["files"]) == {"records.csv", "dictionary.csv", "export.json"}


# ---------------------------------------------------------------------------------------- ODM


@pytest.fixture(scope="module")
def odm_cli(tmp_path_factory):
    wh = tmp_path_factory.mktemp("odm-hn") / "wh"
    done = _cli_build(ODM, "odm", wh)
    assert done.returncode == 0, done.stderr
    return wh, done


def test_odm_conversion_counts_and_warnings(tmp_path):
    conv = convert(ODM, ODM / "mapping.toml", tmp_path / "pkg")
    assert conv.kind == "odm"
    assert {k: v for k, v in conv.rows.items() if v} == {
        "EXPORT": 1,
        "SITES": 2,
        "SCREENING": 7,
        "DM": 6,
        "IE": 6 * 19,
        "DX": 6,
        "BL": 6,
        "EX": 6 * 3,
        "RS": 6,
        "RAND": 6,
        "PR": 6,
        "PATH": 6,
        "AE": 4,
        "FU": 12,
    }
    assert [(w.file, w.column) for w in conv.warnings] == [("export.xml", "I.BMI")]
    assert any("Remove" in n for n in conv.notes)


def test_odm_subjects_sites_and_arm(odm_cli):
    wh, done = odm_cli
    by_site = dict(_rows(wh, "SELECT siteid, count(*) FROM subjects WHERE randomized GROUP BY 1", closed=False))
    assert by_site == {"21": 4, "22": 2}
    assert _rows(wh, "SELECT siteid, sitename FROM crf_sites ORDER BY 1", closed=False) == [
        ("21", "复旦大学附属肿瘤医院"),
        ("22", "四川大学华西医院"),
    ]
    assert dict(_rows(wh, "SELECT subjid, arm FROM crf_rand")) == ODM_ARMS
    assert _rows(wh, "SELECT scrnout, count(*) FROM crf_screening GROUP BY 1 ORDER BY 1", closed=False) == [
        ("ENROLLED", 6),
        ("SCREEN FAILURE", 1),
    ]
    assert _rows(wh, "SELECT count(*) FROM eligibility WHERE violated OR site_disagrees", closed=False) == [(0,)]
    blinded = warehouse.current_build(wh) / warehouse.BLINDED
    assert not [c for c in _columns(blinded) if c[1].lower() in ("arm", "prtrt", "randno")]
    assert not [c for c in _text_cells(blinded) if c[2].strip().upper() in {DE, STD}]
    info = _rows(wh, "SELECT source, strftime(exported, '%Y-%m-%d %H:%M') FROM build_info")
    assert info == [("OpenClinica 3.14", "2028-07-01 08:00")]


def test_odm_values_audit_isnull_and_remove(odm_cli):
    wh, _ = odm_cli
    grade3 = _rows(wh, "SELECT DISTINCT subjid FROM adverse_events WHERE grade >= 3 ORDER BY 1", closed=False)
    assert grade3 == [("2001",), ("2003",)]
    ae = {
        (s, a): (t, str(d), imp, out, e)
        for s, a, t, d, imp, out, e in _rows(
            wh,
            "SELECT subjid, aespid, aeterm, aestdat, aestdat_imputed, aeout, strftime(entdtc, '%Y-%m-%d %H:%M') "
            "FROM crf_ae",
        )
    }
    assert {k: v[0] for k, v in ae.items()} == ODM_AE_TERMS
    assert ae[("2003", "1")][1:4] == ("2026-05-01", "day", None)  # partial onset; the removed outcome left out
    assert ae[("2001", "2")][4] == "2026-04-26 17:45"  # the item's audit record, later than the form's
    assert ae[("2001", "1")][4] == "2026-02-12 09:00"
    dm = {
        s: (str(b), imp, e)
        for s, b, imp, e in _rows(
            wh, "SELECT subjid, brthdat, brthdat_imputed, strftime(entdtc, '%Y-%m-%d') FROM crf_dm"
        )
    }
    assert dm["2001"] == ("1961-05-01", "day", "2026-01-07")
    flagged = _rows(wh, "SELECT form, subjid FROM findings WHERE kind = 'partial date imputed' ORDER BY 1")
    assert flagged == [("AE", "2003"), ("DM", "2001")]
    p16 = dict(_rows(wh, "SELECT subjid, p16 FROM crf_dx"))
    assert p16 == {"2001": None, "2002": "NEGATIVE", "2003": None, "2004": None, "2005": None, "2006": None}
    dx = dict(_rows(wh, "SELECT subjid, stage FROM crf_dx"))
    assert dx["2003"] == "IVA" and dx["2001"] == "III"  # CodeList decode 4A -> IVA
    cycles = _rows(wh, "SELECT subjid, list(excycle ORDER BY excycle) FROM crf_ex GROUP BY 1 ORDER BY 1")
    assert cycles == [(s, [1, 2, 3]) for s in sorted(ODM_ARMS)]
    assert dict(_rows(wh, "SELECT visit, count(*) FROM crf_fu GROUP BY 1")) == {"M3": 6, "M6": 6}
    rand = {s: str(d) for s, d in _rows(wh, "SELECT subjid, randdat FROM crf_rand")}
    assert rand["2003"] == "2026-07-01"  # 2026-07-01T08:00:00+08:00: UTC's date would be 06-30
    for closed, table in ((True, "crf_ae"), (False, "adverse_events")):
        got = {(s, a): t for s, a, t in _rows(wh, f"SELECT subjid, aespid, aeterm FROM {table}", closed=closed)}
        assert {k: v.encode("utf-8") for k, v in got.items()} == {k: v.encode("utf-8") for k, v in ODM_AE_TERMS.items()}
