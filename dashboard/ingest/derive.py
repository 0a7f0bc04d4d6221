"""The derived tables of the warehouse (queries/derived/<table>.sql), built two at a time in an
order read from the SQL itself: a table is built once every derived table its query reads (as
DuckDB's parser sees it) exists. Also build_info, the criteria, the data-checked eligibility
(queries/eligibility, one statement) and the allocation counts."""

from __future__ import annotations

import graphlib
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import duckdb
import pandas as pd

from dashboard.config import TrialConfig
from dashboard.i18n import _
from dashboard.ingest.problems import render_messages
from dashboard.ingest.validate import DEMO_SOURCE_PREFIX
from dashboard.store.sql import names, query, render, tables_read

WORKERS = 2


def _reads(sql: str, among: set[str]) -> set[str]:
    return tables_read(sql) & among


@lru_cache(maxsize=1)
def dependencies() -> dict[str, tuple[str, ...]]:
    """Each derived table -> the derived tables it reads, in a build order (reads first). The
    eligibility table reads what its checks read as well."""
    tables = [n.split("/", 1)[1] for n in names("derived")]
    among = set(tables)
    reads = {t: _reads(query(f"derived/{t}"), among) - {t} for t in tables}
    if "eligibility" in reads:
        for check in names("eligibility"):
            reads["eligibility"] |= _reads(query(check), among)
    order = list(graphlib.TopologicalSorter({t: sorted(reads[t]) for t in sorted(tables)}).static_order())
    return {t: tuple(sorted(reads[t])) for t in order}


def derived_tables() -> list[str]:
    return list(dependencies())


def build_info(con: duckdb.DuckDBPyConnection, build_id: str, started, package, cfg: TrialConfig) -> dict:
    con.execute(
        query("ingest/build_info"),
        {
            "build_id": build_id,
            "built_at": started.replace(tzinfo=None),
            "package": Path(package).name,
            "demo": DEMO_SOURCE_PREFIX,
            "trial": cfg.trial.name,
            "registry": cfg.trial.registry_id,
        },
    )
    cutoff, exported, source, is_demo = con.execute(query("ingest/build_info_row")).fetchall()[0]
    return {
        "cutoff": cutoff.isoformat(),
        "exported": exported.isoformat(sep=" "),
        "source": source,
        "is_demo": bool(is_demo),
    }


def frame_table(con: duckdb.DuckDBPyConnection, table: str, df: pd.DataFrame) -> None:
    """A table of the build from a data frame."""
    frame = f"{table}_df"
    con.register(frame, df)
    try:
        con.execute(render("ingest/table_from_frame", table=table, frame=frame))
    finally:
        con.unregister(frame)


def parameters(cfg: TrialConfig) -> dict[str, dict]:
    """The trial.toml values each derived query binds, by table."""
    s, safety = cfg.schedule, cfg.safety
    return {
        "subjects": {
            "never_operated_after_days": s.never_operated_after_days,
            "p16_staged_sites": cfg.trial.p16_staged_sites,
            "p16_positive": cfg.trial.p16_positive,
        },
        "windows": {
            "adjuvant_rt_types": s.adjuvant_rt_types,
            "response_imaging_max_days": s.response_imaging_max_days_after_last_cycle,
            "randomization_to_surgery_max_days": s.randomization_to_surgery_max_days,
            "surgery_to_adjuvant_rt_max_days": s.surgery_to_adjuvant_rt_max_days,
        },
        "followup_visits": {
            "followup_months": s.followup_months,
            "days_per_month": cfg.trial.days_per_month,
            "window_switch_month": s.followup_window_switch_month,
            "window_days": s.followup_window_days,
            "window_days_late": s.followup_window_days_late,
        },
        "adverse_events": {
            "clavien_order": safety.clavien_order,
            "clavien_serious": safety.clavien_serious,
            "complication_window_days": safety.complication_window_days,
            "early_death_days": sorted(safety.early_death_days),
        },
    }


def derive(con: duckdb.DuckDBPyConnection, cfg: TrialConfig) -> None:
    params = parameters(cfg)
    frame_table(
        con,
        "criteria",
        pd.DataFrame(
            [
                {"code": c.code, "kind": c.kind, "text": c.text, "checked_by": "data" if c.check else "investigator"}
                for c in cfg.eligibility
            ]
        ),
    )
    deps = dependencies()

    def make(name: str, after: list) -> None:
        for f in after:
            f.result()
        cur = con.cursor()
        try:
            if name == "eligibility":
                eligibility_data(cur, cfg)
            sql = render("ingest/derive", name=name)
            wanted = {k: v for k, v in (params.get(name) or {}).items() if f"${k}" in sql.lower()}
            cur.execute(sql, wanted or None)
        finally:
            cur.close()

    # a job waits only for jobs submitted before it, which have started already: no deadlock
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        jobs: dict = {}
        for name, reads in deps.items():
            jobs[name] = pool.submit(make, name, [jobs[d] for d in reads])
        for job in jobs.values():
            job.result()
    eligibility_details(con)


def eligibility_details(con: duckdb.DuckDBPyConnection) -> None:
    """What the data say about each kept eligibility row (`detail`), rendered from its template
    and values (queries/eligibility) in English, and in Chinese as `detail_zh`."""
    df = con.execute(query("ingest/eligibility_details")).df()
    df["detail"], df["detail_zh"] = render_messages(df["template"], df["params"])
    df = df[["subjid", "code", "detail", "detail_zh"]].astype({"detail": "string", "detail_zh": "string"})
    con.register("details_df", df)
    try:
        con.execute(query("ingest/eligibility_details_update"))
    finally:
        con.unregister("details_df")


def eligibility_data(con: duckdb.DuckDBPyConnection, cfg: TrialConfig) -> None:
    """One row per subject and checked criterion the data say is violated or unknown, all the
    checks in one statement; a check that fails is named."""
    checks = [
        {"i": i, "check": c.check, "code": c.code, "params": c.params}
        for i, c in enumerate(x for x in cfg.eligibility if x.check)
    ]
    con.execute(query("ingest/eligibility_data_table"))
    if not checks:
        return

    def bound(some: list[dict]) -> dict:
        out = {}
        for c in some:
            out[f"code{c['i']}"] = c["code"]
            out.update({f"p{c['i']}_{k.lower()}": v for k, v in c["params"].items()})
        return out

    try:
        con.execute(render("ingest/eligibility_data", checks=checks), bound(checks))
    except duckdb.Error:
        for c in checks:  # name the check that fails, one at a time
            try:
                con.execute(render("ingest/eligibility_data", checks=[c]), bound([c]))
            except duckdb.Error as exc:
                raise duckdb.Error(
                    _("eligibility check {code} (queries/eligibility/{check}.sql): {error}").format(
                        code=c["code"], check=c["check"], error=exc
                    )
                ) from exc
        raise


def allocation(con: duckdb.DuckDBPyConnection, cfg: TrialConfig) -> None:
    """Allocation counts by arm, overall and by site, stratum and month: shown to every role.

    Stored wide, one count column per arm (n_<arm key>), so no table of the blinded warehouse
    holds an arm as a value; the counts are not outcomes (monitoring plan section 1).
    """
    long = con.execute(query("ingest/allocation_long")).df()
    keys = {a.code: a.key for a in cfg.arms}
    long["arm_key"] = "n_" + long["arm"].map(keys)
    wide = (
        long.pivot_table(index=["grouping", "group_value"], columns="arm_key", values="n", aggfunc="sum", fill_value=0)
        .reindex(columns=[f"n_{a.key}" for a in cfg.arms], fill_value=0)
        .reset_index()
    )
    wide.columns.name = None
    wide["n_total"] = wide[[f"n_{a.key}" for a in cfg.arms]].sum(axis=1)
    frame_table(con, "allocation", wide)
