"""Data quality: forms expected against received, overdue follow-up, entry lag, QoL completion,
and what the last build found and warned about."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd

from dashboard.access.roles import Viewer
from dashboard.config import TrialConfig, load_trial
from dashboard.i18n import N_, _
from dashboard.store import warehouse
from dashboard.store.data import fetch
from dashboard.views.text import localized


def visits_by_site(con: duckdb.DuckDBPyConnection, viewer: Viewer) -> pd.DataFrame:
    """Follow-up visits per site and visit: expected (due by now), received, missed, out of window."""
    v = fetch(con, "views/followup_visit_status", site=viewer.site_filter)
    due = v[v.status.isin(["in window", "out of window", "missed"])]
    if due.empty:
        return pd.DataFrame(columns=["siteid", "visit", "expected", "received", "missed", "out_of_window"])
    table = due.groupby(["siteid", "visit", "month"]).status.value_counts().unstack(fill_value=0)
    for col in ("in window", "out of window", "missed"):
        if col not in table:
            table[col] = 0
    table = table.reset_index().sort_values(["siteid", "month"])
    return pd.DataFrame(
        {
            "siteid": table.siteid,
            "visit": table.visit,
            "expected": table["in window"] + table["out of window"] + table["missed"],
            "received": table["in window"] + table["out of window"],
            "missed": table["missed"],
            "out_of_window": table["out of window"],
        }
    )


def overdue(con: duckdb.DuckDBPyConnection, viewer: Viewer) -> pd.DataFrame:
    """Visits whose window closed before the cut-off with nothing received."""
    v = fetch(con, "views/followup_visit_status", site=viewer.site_filter)
    return v[v.status == "missed"][["subjid", "siteid", "visit", "due_date", "window_end"]].sort_values("window_end")


def entry_lag(con: duckdb.DuckDBPyConnection, viewer: Viewer) -> pd.DataFrame:
    return fetch(con, "views/entry_lag_by_site", site=viewer.site_filter)


def qol_completion(con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None) -> pd.DataFrame:
    cfg = cfg or load_trial()
    df = fetch(
        con,
        "views/qol_completion",
        site=viewer.site_filter,
        qol_visits=cfg.schedule.qol_visits,
        days_per_month=cfg.trial.days_per_month,
    )
    order = {v: i for i, v in enumerate(cfg.schedule.qol_visits)}
    df = df.sort_values("visit", key=lambda s: s.map(order)).reset_index(drop=True)
    df["completion"] = (df.received / df.expected).where(df.expected > 0)
    return df


def build_report(con: duckdb.DuckDBPyConnection, viewer: Viewer, warehouse_dir: str | Path) -> dict:
    """The last build's findings and warnings, its form counts, and every build attempt.

    The attempts come from the warehouse's load history file, refusals since the last build
    included; like the blinded file's copy of it, a text that may name the arm is withheld
    (freetext), and the build's seconds are rounded to a tenth (three decimals of a duration are
    noise, and read like a rate). The messages are in the reader's language: the build wrote each
    in Chinese beside the English (message_zh, first_errors_zh); a build made before that has only
    the English, which is shown then."""
    from dashboard.access import freetext
    from dashboard.access.blinding import FREE_TEXT_MARK
    from dashboard.config import load_trial

    history = pd.DataFrame(warehouse.load_history(warehouse_dir))
    keep = [
        c
        for c in (
            "started",
            "status",
            "package",
            "cutoff",
            "exported",
            "seconds",
            "errors",
            "warnings",
            "first_errors",
            "first_errors_zh",
        )
        if c in history
    ]
    if len(history):
        names_arm = freetext.matcher(load_trial())
        history = history[keep].copy()
        for c in keep:
            history[c] = [FREE_TEXT_MARK if names_arm(str(v)) else v for v in history[c]]
        if "first_errors" in history and "first_errors_zh" in history:
            # the two languages of one message are withheld together: the English withheld means
            # the Chinese (whose wording the matcher may not know) is withheld too, and back
            either = [
                FREE_TEXT_MARK in (en, zh) for en, zh in zip(history.first_errors, history.first_errors_zh, strict=True)
            ]
            history.loc[either, ["first_errors", "first_errors_zh"]] = FREE_TEXT_MARK
        if "seconds" in history:
            history["seconds"] = pd.to_numeric(history["seconds"], errors="coerce").round(1)
        history = localized(history.iloc[::-1].reset_index(drop=True), "first_errors")
    return {
        "findings": fetch(con, "views/findings_summary", site=viewer.site_filter),
        "warnings": localized(fetch(con, "views/build_warnings"), "message"),
        "forms": fetch(con, "views/form_counts"),
        "history": history,
    }


STALE_HOURS = 36
"""A nightly refresh older than this has stopped running (the timer, the service user, the host):
the data-quality page says so, as a failure nobody would otherwise see."""

WITHHELD_REASON = N_("[withheld from blinded views: may name the arm]")
"""What the page shows for a withheld reason: blinding.FREE_TEXT_MARK's words, in the reader's language."""

REFRESH_STATUS = {
    "ok": N_("a new cut was published"),
    "unchanged": N_("nothing new"),
    "refused": N_("the export package was refused"),
    "failed": N_("the refresh failed"),
}


def last_refresh(warehouse_dir: str | Path, now: dt.datetime | None = None) -> dict | None:
    """The last nightly refresh (WAREHOUSE/refresh.json, dashboard/ingest/refresh.py) as the
    data-quality page shows it to every role, or None when no refresh has run in this warehouse.

    {"time", "status" (ok | unchanged | refused | failed | unreadable), "status_text", "package"
    (its name only), "build_id" (the cut it published), "reasons" (in the reader's language),
    "withheld" (how many reasons were withheld), "serving_build_id", "serving_cutoff" (the cut
    serving now), "last_ok_time", "last_ok_build_id", "age_hours", "stale"}.

    A reason or a package name that may name the arm is withheld (freetext's matcher, as the load
    history's copy for every role): both languages of a reason together, so that the Chinese (whose
    wording the matcher may not know) never says what the withheld English would."""
    from dashboard.access import freetext
    from dashboard.i18n import language
    from dashboard.ingest import refresh

    path = Path(warehouse_dir) / refresh.RECORD
    if not path.exists():
        return None
    record = refresh.record_of(warehouse_dir) or {}
    names_arm = freetext.matcher(load_trial())
    zh = language() == "zh"
    reasons, withheld = [], 0
    for r in record.get("reasons") or []:
        r = r if isinstance(r, dict) else {"message": str(r)}
        en, cn = str(r.get("message") or ""), r.get("message_zh")
        if names_arm(en) or (cn and names_arm(str(cn))):
            reasons.append(_(WITHHELD_REASON))
            withheld += 1
        else:
            reasons.append(str(cn) if zh and cn else en)
    package = Path(str(record["package"])).name if record.get("package") else None
    if package and names_arm(package):
        package = _(WITHHELD_REASON)
    status = str(record.get("status") or "unreadable")
    try:
        serving = warehouse.manifest(warehouse_dir)
    except (warehouse.NoWarehouse, OSError, ValueError):
        serving = {}
    when = _utc(record.get("time"))
    now = now or dt.datetime.now(dt.UTC)
    age = round((now - when).total_seconds() / 3600, 1) if when else None
    last_ok = record.get("last_ok") or {}
    return {
        "time": _shown_time(record.get("time")),
        "status": status,
        "status_text": _(REFRESH_STATUS[status]) if status in REFRESH_STATUS else _("the record cannot be read"),
        "package": package,
        "build_id": record.get("build_id"),
        "reasons": reasons,
        "withheld": withheld,
        # the cut serving now (the warehouse's `current`), not the one the record saw
        "serving_build_id": serving.get("build_id"),
        "serving_cutoff": serving.get("cutoff"),
        "last_ok_time": _shown_time(last_ok.get("time")),
        "last_ok_build_id": last_ok.get("build_id"),
        "age_hours": age,
        "stale": age is None or age > STALE_HOURS,
    }


def _utc(value) -> dt.datetime | None:
    try:
        t = dt.datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def _shown_time(value) -> str | None:
    t = _utc(value)
    return t.strftime("%Y-%m-%d %H:%M UTC") if t else None
