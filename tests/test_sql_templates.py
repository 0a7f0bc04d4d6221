"""The build's generated SQL (queries/ingest templates): identifiers are quoted, values are bound,
and a header written by whoever writes the export cannot change a statement."""

from __future__ import annotations

import duckdb
import pytest

from dashboard.ingest.build import build
from dashboard.store import warehouse
from dashboard.store.sql import ident, lit, rename_params, render, tables_read
from factory import small_trial


def test_identifiers_and_literals_are_quoted():
    assert ident('a"b') == '"a""b"'
    assert lit("it's") == "'it''s'"
    con = duckdb.connect()
    # a quoted identifier with a quote in it names one column, it does not end the statement
    name = 'x"); drop table t; --'
    con.execute(f"create table t ({ident(name)} integer)")
    assert [r[0] for r in con.execute("describe t").fetchall()] == ['x"); drop table t; --']


def test_parameters_are_renamed_whatever_their_case():
    assert (
        rename_params("select $Max_Age, $min_age from x where y = $max_age", "p3_")
        == "select $p3_max_age, $p3_min_age from x where y = $p3_max_age"
    )


def test_templates_fail_on_a_missing_name_instead_of_writing_empty_sql():
    import jinja2

    with pytest.raises(jinja2.UndefinedError, match="form"):
        render("ingest/rejects")


def test_tables_read_comes_from_duckdbs_parser():
    sql = "with a as (select * from b) select * from a join c on a.x = c.x where y in (select z from d)"
    assert tables_read(sql) == {"b", "c", "d"}


def test_a_hostile_extra_column_name_is_kept_as_one_text_column(tmp_path):
    """Whoever writes the export writes the header: a column named to break out of a statement
    is an identifier like any other, quoted, kept as text (in the closed file only: it is not in
    the spec), reported as a warning."""
    hostile = 'NOTE"); DROP TABLE raw_dm; --'
    pkg = small_trial()
    for i, row in enumerate(pkg.forms["DM"]):
        row[hostile] = f"n{i}"
    result = build(pkg.write(tmp_path / "pkg"), tmp_path / "wh")
    assert any(w.column == hostile.upper() and w.file == "DM.csv" for w in result.warnings)  # headers are upper-cased
    con = warehouse.connect(tmp_path / "wh", closed=True)
    try:
        assert con.execute(f"select count(*) from crf_dm where {ident(hostile.lower())} like 'n%'").fetchone() == (4,)
        assert con.execute("select count(*) from subjects").fetchone() == (4,)
    finally:
        con.close()
