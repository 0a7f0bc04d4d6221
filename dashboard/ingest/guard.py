"""The blinding guard: the last check before a blinded warehouse file is published.

First line: the blinded file's tables and columns must be exactly those of the allow-list
(dashboard/blinded_tables.toml with crf_spec.toml's visibility), read from the file itself and
compared with the list read from the configuration, not with what the writer meant to write.
Second line, whatever a derivation does: a column named as the arm or an arm-revealing field, a
text cell that is an arm or a protocol-surgery value, or free text that may name the arm is
refused."""

from __future__ import annotations

from pathlib import Path

import duckdb

from dashboard.access import blinding, freetext
from dashboard.config import TrialConfig, load_allow_list, load_crf_spec
from dashboard.i18n import N_
from dashboard.ingest.blinded import expected
from dashboard.ingest.problems import MessageError
from dashboard.store.sql import query, render

# Tables written from trial.toml, not from the export: the eligibility criteria's own words
# ("eligible for de-escalation surgery") are the protocol's, not a mention of a subject's arm.
FROM_CONFIG = {"criteria"}
MESSAGES = {"message", "message_zh", "first_errors", "first_errors_zh", "value", "detail", "detail_zh", "note"}


class BlindingBreach(MessageError, RuntimeError):
    """The blinded warehouse would hold an arm or an arm-revealing value: never published. Its
    words (`.msg`, either language) name tables and columns, never a value."""


def hidden_columns(cfg: TrialConfig) -> set[str]:
    """Columns that never reach a blinded table: the arm, what reveals it, what is withheld."""
    b = cfg.blinding
    return {c.upper() for c in [b.arm_field, *b.arm_revealing_fields, *b.withheld_fields]}


def check_blinded(path: Path, cfg: TrialConfig, free_text: set[str] | None = None) -> None:
    """Check a blinded warehouse file: its tables and columns against the allow-list, then every
    text column of every table for an arm value and for a term that may name the arm
    (dashboard/access/freetext.py, normalised; a free-text column's cells were withheld by then,
    `free_text`, lower-case names, so a hit in any column is a breach); one scan per table."""
    forbidden = [v.upper() for v in list(cfg.arm_codes) + list(cfg.blinding.protocol_surgery_values)]
    hidden = hidden_columns(cfg)
    free_text = blinding.free_text_columns(load_crf_spec()) if free_text is None else free_text
    # the build's own messages are free text too: a quoted value could name the arm
    free_text = free_text | MESSAGES
    con = duckdb.connect(str(path), read_only=True)
    freetext.register(con, cfg, freetext.UDF)
    try:
        allowed = expected(load_crf_spec(), load_allow_list())
        found: dict[str, set[str]] = {}
        rows = con.execute(query("ingest/guard_columns")).fetchall()
        for table, column, _ in rows:
            found.setdefault(table.lower(), set()).add(column.lower())
        for table, cols in sorted(found.items()):
            if table not in allowed:
                raise BlindingBreach(N_("blinded file has table {table}, which is not on the allow-list"), table=table)
            if cols != allowed[table]:
                extra, missing = sorted(cols - allowed[table]), sorted(allowed[table] - cols)
                if extra and missing:
                    template = N_(
                        "blinded table {table} does not match the allow-list: columns not on it: {extra}; "
                        "listed columns missing: {missing}"
                    )
                elif extra:
                    template = N_("blinded table {table} does not match the allow-list: columns not on it: {extra}")
                else:
                    template = N_(
                        "blinded table {table} does not match the allow-list; listed columns missing: {missing}"
                    )
                raise BlindingBreach(template, table=table, extra=", ".join(extra), missing=", ".join(missing))
        by_table: dict[str, list[str]] = {}
        for table, column, dtype in rows:
            if column.upper() in hidden:
                raise BlindingBreach(N_("blinded table {table} has column {column}"), table=table, column=column)
            if dtype == "VARCHAR":
                by_table.setdefault(table, []).append(column)
        for table, columns in by_table.items():
            sql = render("ingest/guard_scan", table=table, columns=columns, words=[], match=freetext.UDF)
            arm_hit, _ = con.execute(sql, {"v": forbidden}).fetchall()[0]
            if arm_hit:
                raise BlindingBreach(N_("blinded table {table} holds an arm value in a text column"), table=table)
        # every text column, not only free text: a code column never matches (the build refuses
        # terms that match a visible code), so a hit is a value out of place. One pass over the
        # file's distinct values; only on a hit, table by table to name where.
        words = {t: cols for t, cols in by_table.items() if t.lower() not in FROM_CONFIG}
        cells = [{"table": t, "column": c} for t, cols in words.items() for c in cols]
        if cells and con.execute(render("ingest/guard_words", cells=cells, match=freetext.UDF)).fetchone()[0]:
            for table, columns in words.items():
                sql = render("ingest/guard_scan", table=table, columns=[], words=columns, match=freetext.UDF)
                if con.execute(sql).fetchall()[0][1]:
                    raise BlindingBreach(N_("blinded table {table} holds free text that may name the arm"), table=table)
            raise BlindingBreach(N_("the blinded file holds free text that may name the arm"))
    finally:
        con.close()
