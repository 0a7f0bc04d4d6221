"""The build's parallel parts: derived tables are built two at a time, each once the derived
tables it reads exist (build.DEPENDS); the data-checked eligibility criteria run as one
statement, and a check that fails is still named."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from dashboard.config import load_trial
from dashboard.ingest import derive
from dashboard.ingest.build import DEPENDS, DERIVED, build
from factory import small_trial

QUERIES = Path(__file__).resolve().parent.parent / "queries"


def _reads(sql_file: Path) -> set[str]:
    """The derived tables a query reads: named after FROM or JOIN (comments left out; a column of
    the same name, such as survival.last_known_alive, is not a read)."""
    sql = re.sub(r"--[^\n]*", "", sql_file.read_text(encoding="utf-8"))
    return {name for name in DERIVED if re.search(rf"\b(from|join)\s+{name}\b", sql, re.IGNORECASE)}


@pytest.mark.parametrize("name", DERIVED)
def test_each_derived_table_declares_the_derived_tables_it_reads(name):
    reads = _reads(QUERIES / "derived" / f"{name}.sql") - {name}
    if name == "eligibility":
        for check in (QUERIES / "eligibility").glob("*.sql"):
            reads |= _reads(check)
    assert reads <= set(DEPENDS[name]), f"{name}.sql reads {sorted(reads - set(DEPENDS[name]))} undeclared"


def test_the_derived_list_is_in_an_order_that_builds_what_is_read_first():
    # the scheduler is deadlock-free only if every table comes after what it reads
    assert len(DERIVED) >= 10 and set(DERIVED) == set(DEPENDS)
    for i, name in enumerate(DERIVED):
        assert set(DEPENDS[name]) <= set(DERIVED[:i]), name


def test_a_failing_eligibility_check_is_named(tmp_path):
    cfg = load_trial()
    broken = [
        c.model_copy(update={"params": {**c.params, "min_age": "eighteen"}}) if c.code == "I01" else c
        for c in cfg.eligibility
    ]
    cfg = cfg.model_copy(update={"eligibility": broken})
    pkg = small_trial().write(tmp_path / "pkg")
    with pytest.raises(duckdb.Error, match=r"eligibility check I01 \(queries/eligibility/age_range.sql\)"):
        build(pkg, tmp_path / "wh", config=cfg)
    assert not (tmp_path / "wh" / "current").exists()  # nothing published


def test_parameter_names_are_renamed_whatever_their_case(tmp_path):
    """DuckDB's parameter names are case-insensitive: a key written Max_Age in trial.toml binds
    $max_age in the check's SQL, as it did before the checks shared one statement."""
    cfg = load_trial()
    i01 = next(c for c in cfg.eligibility if c.code == "I01")
    recased = {("Min_Age" if k == "min_age" else k): v for k, v in i01.params.items()}
    cfg = cfg.model_copy(
        update={
            "eligibility": [c.model_copy(update={"params": recased}) if c.code == "I01" else c for c in cfg.eligibility]
        }
    )
    con = duckdb.connect()
    con.execute("create table subjects as select '01-001' as subjid, 17 as age_at_consent, true as randomized")
    cfg = cfg.model_copy(update={"eligibility": [c for c in cfg.eligibility if c.code == "I01"]})
    derive.eligibility_data(con, cfg)
    assert con.execute("select code, subjid, violated from eligibility_data").fetchall() == [("I01", "01-001", True)]
