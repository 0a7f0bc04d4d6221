"""What the build found and records in the warehouse: data-quality findings (queries/findings and
the generated ones: dates after the cut-off, imputed partial dates, free text that may name the
arm), the rows read and kept per form, the problems of the package and the load history."""

from __future__ import annotations

import json

import duckdb
import pandas as pd

from dashboard.access import blinding, freetext
from dashboard.config import CrfSpec, TrialConfig
from dashboard.i18n import N_
from dashboard.ingest import clean
from dashboard.ingest.derive import frame_table
from dashboard.ingest.problems import Msg, Problem, render_messages
from dashboard.store.sql import names, query, render

# A finding's kind is its English name (a catalogue msgid: pages show `_(kind)`); the kinds of
# queries/findings are extracted from the SQL.
FREE_TEXT_KIND = N_("free text that may name the arm")
UNLISTED_KIND = N_("column not in the spec: closed only")
UNLISTED = N_("{column} is not in the export spec: kept in the closed warehouse only, not shown to blinded roles")


def free_text(loaded, spec: CrfSpec) -> set[str]:
    """The free-text columns (lower case): the spec's, and every column not in the spec."""
    return blinding.free_text_columns(spec) | {c.lower() for lf in loaded.values() for c in lf.extra_columns}


def _free_text_findings(loaded, spec: CrfSpec, cfg: TrialConfig, columns: set[str]) -> str | None:
    cells = []
    for name, lf in loaded.items():
        form = spec.forms[name]
        for col in [c.name for c in form.columns if c.name.lower() in columns] + lf.extra_columns:
            cells.append({"form": name, "column": col, "has_subjid": "SUBJID" in form.column_names})
    return render("ingest/free_text_findings", cells=cells, match=freetext.UDF)


def record_findings(
    con: duckdb.DuckDBPyConnection, loaded, spec: CrfSpec, cfg: TrialConfig, columns: set[str]
) -> dict[str, int]:
    """The findings table (kind, form, file, line, subjid, column_name, value, message,
    message_zh); returns the count of each kind."""
    freetext.register(con, cfg, freetext.UDF)
    parts = [p for p in (clean.imputed_findings(spec, loaded), _free_text_findings(loaded, spec, cfg, columns)) if p]
    df = con.execute(render("ingest/findings", parts=parts, names=names("findings"))).df()
    df["message"], df["message_zh"] = render_messages(df["message"], df["params"])
    df = df.drop(columns=["params"])
    df["file"] = [loaded[f].file.original if f in loaded else f"{f}.csv" for f in df["form"]]
    df["line"] = [
        loaded[f].line_of(int(r)) if f in loaded and pd.notna(r) else None
        for f, r in zip(df["form"], df["_row"], strict=True)
    ]
    df = df.drop(columns=["_row"])
    unlisted = [
        {
            "kind": UNLISTED_KIND,
            "form": form,
            "file": lf.file.original,
            "line": 1,
            "subjid": None,
            "col": col,
            "val": None,
            "message": Msg(UNLISTED, {"column": col}).render("en"),
            "message_zh": Msg(UNLISTED, {"column": col}).render("zh"),
        }
        for form, lf in loaded.items()
        for col in lf.extra_columns
    ]
    if unlisted:
        df = pd.concat([df, pd.DataFrame(unlisted)], ignore_index=True)
    df["val"] = _quotable(df, spec, cfg)
    df = df.sort_values(["kind", "form", "line"], kind="stable")
    con.register("findings_df", df)
    try:
        con.execute(query("ingest/findings_table"))
    finally:
        con.unregister("findings_df")
    return dict(con.execute(query("ingest/findings_by_kind")).fetchall())


def _quotable(df: pd.DataFrame, spec: CrfSpec, cfg: TrialConfig) -> list:
    """A finding quotes its cell's value only when blinded roles may read the column and the
    value does not name the arm: the findings table is in the blinded file."""
    from dashboard.access.freetext import matcher

    names_arm = matcher(cfg)
    return [
        v
        if v is not None and not pd.isna(v) and spec.visibility(f, c or "") == "blinded" and not names_arm(str(v))
        else None
        for f, c, v in zip(df["form"], df["col"], df["val"], strict=True)
    ]


def withheld_columns(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The columns (upper case) in which a free-text cell was withheld from the blinded file."""
    return {r[0].upper() for r in con.execute(query("ingest/withheld_columns"), {"kind": FREE_TEXT_KIND}).fetchall()}


def form_counts(con: duckdb.DuckDBPyConnection, loaded) -> dict[str, int]:
    rows = []
    for form, lf in loaded.items():
        kept = con.execute(render("ingest/row_count", table=f"crf_{form.lower()}")).fetchall()[0][0]
        rows.append(
            {
                "form": form,
                "file": lf.file.original,
                "encoding": lf.file.encoding,
                "rows_read": lf.rows,
                "rows_rejected": lf.rejected,
                "rows_after_cutoff": lf.rows - kept,
                "rows_kept": kept,
                "extra_columns": ", ".join(lf.extra_columns),
            }
        )
    frame_table(con, "form_counts", pd.DataFrame(rows))
    return {r["form"]: r["rows_read"] for r in rows}


def problems_table(con: duckdb.DuckDBPyConnection, problems: list[Problem]) -> None:
    """The problems table: each problem's message in English and in Chinese (message_zh)."""
    df = pd.DataFrame(
        [p.as_dict() for p in problems],
        columns=["severity", "file", "line", "column", "subjid", "message", "message_zh"],
    )
    df["line"] = df["line"].astype("Int64")
    con.register("problems_df", df)
    try:
        con.execute(query("ingest/problems_table"))
    finally:
        con.unregister("problems_df")


def history_table(con: duckdb.DuckDBPyConnection, history: list[dict]) -> None:
    rows = [
        {
            "build_id": h.get("build_id"),
            "started": h.get("started"),
            "status": h.get("status"),
            "package": h.get("package"),
            "cutoff": h.get("cutoff"),
            "exported": h.get("exported"),
            "source": h.get("source"),
            "seconds": h.get("seconds"),
            "errors": h.get("errors"),
            "warnings": h.get("warnings"),
            "findings": sum((h.get("findings") or {}).values()),
            "rows": json.dumps(h.get("rows") or {}),
            "first_errors": "\n".join(h.get("first_errors") or []),
            # entries written before the build kept the Chinese have none (null)
            "first_errors_zh": "\n".join(h["first_errors_zh"]) if h.get("first_errors_zh") is not None else None,
        }
        for h in history
    ]
    df = pd.DataFrame(rows)
    if "first_errors_zh" in df:
        df["first_errors_zh"] = df["first_errors_zh"].astype("string")
    frame_table(con, "load_history", df)
