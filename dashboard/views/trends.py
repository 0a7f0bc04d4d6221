"""Trends across data cuts (issue 16): per site, each safety signal's value and funnel flag at
every cut; per trial, accrual, deaths, DFS events and the information fraction at every cut.

Each cut is read from its own files (WAREHOUSE/builds/<build_id>/blinded.duckdb, or closed.duckdb
in a closed session) and each cut's row is exactly what that cut's own pages show, under the same
rule: the site figures are views/safety.py's site_funnel (one-arm and small sites suppressed or
merged by dashboard/access/blinding.py, with that cut's allocation counts), the trial figures are
withheld where the cut's population check withholds the pooled outcomes. Nothing is computed
across cuts (no difference of two cuts, no merged row split by another cut's membership): a trend
is the single cuts side by side. Blinded roles get no arm; the closed session gets the trial
counts by arm beside the pooled ones.

A site investigator (Viewer("site", site=...)) gets its own site only: its signals as its safety
page shows them (the threshold rule; no funnel, which needs the other sites), and its site's
accrual and events; the information fraction is the trial's and is not shown for one site.

No Streamlit here; `site_rows` and `trial_row` take one cut's connection (the page caches them per
file), `site_trends` and `trial_trends` open each cut themselves.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from dashboard.access import blinding
from dashboard.access.roles import Viewer
from dashboard.config import TrialConfig, load_trial
from dashboard.i18n import N_, _, fact, percent
from dashboard.store import warehouse
from dashboard.store.data import fetch
from dashboard.views import safety
from dashboard.views.text import site as site_name
from dashboard.views.text import suppression

SITE_COLUMNS = [
    "cut",
    "build_id",
    "cutoff",
    "siteid",
    "site_label",
    "signal",
    "signal_label",
    "events",
    "n",
    "rate",
    "p0",
    "flag",
    "flagged",
    "flag_rule",
    "threshold",
    "suppressed",
    "suppressed_code",
    "merged_groups",
]
"""One row per cut x site x configured signal. `flag`: the funnel flag of the cut's safety page
("within", "above", "below"; None where the page draws no funnel: a site investigator, a
suppressed row); `flagged`/`flag_rule`: the signal's own rule (trial.toml threshold, flag_any) on
the row's figures; `p0`: the pooled rate the funnel is drawn around; `suppressed`: why the row's
figures are withheld, in the reader's language (`suppressed_code`: the rule's own words)."""

OUTSIDE = ("above", "below")
"""Funnel flags that mark a site outside the limits."""

MERGE_CHANGED = N_("the merged sites differ between cuts")
"""Why a trend withholds the blinding rule's merged row (see `_withhold_changing_merges`)."""


def cut_file(build_dir: str | Path, viewer: Viewer) -> Path:
    """The file of a cut the viewer reads: the blinded one, or the closed one in a closed session."""
    return Path(build_dir) / (warehouse.CLOSED if viewer.closed else warehouse.BLINDED)


def _cut_list(cut_dirs) -> list[tuple[str, Path]]:
    """(label, build folder) from (label, folder) pairs or from dashboard.store.cuts Cut records."""
    out = []
    for c in cut_dirs:
        if hasattr(c, "build_dir"):
            out.append((c.label, Path(c.build_dir)))
        else:
            label, folder = c
            out.append((str(label), Path(folder)))
    return out


def data_cut(con: duckdb.DuckDBPyConnection) -> dict:
    """The build id and cut-off (ISO) of a cut's file."""
    row = fetch(con, "views/data_cut").iloc[0]
    cutoff = row.cutoff_date
    return {"build_id": str(row.build_id), "cutoff": pd.Timestamp(cutoff).date().isoformat()}


def _rule(signal, events, n) -> tuple[bool | None, str | None]:
    """(flagged, which rule) of a signal's figures: above its threshold, any event (flag_any)."""
    if events is None or n is None or pd.isna(events) or pd.isna(n):
        return None, None
    rate = events / n if n else None
    above = signal.threshold is not None and rate is not None and rate > signal.threshold
    any_event = bool(signal.flag_any and events > 0)
    rule = " and ".join(r for r, hit in (("threshold", above), ("any event", any_event)) if hit) or None
    return bool(above or any_event), rule


def _none(value):
    return None if value is None or pd.isna(value) else value


def site_rows(con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None) -> pd.DataFrame:
    """One cut: a row per site x configured signal, as that cut's safety page shows it (without
    the cut's label: see `labelled`)."""
    cfg = cfg or load_trial()
    viewer.require_trial_data()
    rows: list[dict] = []
    check = blinding.population_check(con, viewer.site_filter, cfg)
    if not check.ok:
        # the cut's safety page shows nothing of this population: one withheld row per signal
        for s in cfg.safety_signals:
            rows.append(
                {
                    "siteid": viewer.site_filter,
                    "site_label": site_name(viewer.site_filter) if viewer.site_filter else None,
                    "signal": s.name,
                    "suppressed": suppression(check.reason),
                    "suppressed_code": check.reason,
                }
            )
        return _frame(rows, cfg)
    df = safety.subjects(con, viewer)
    if viewer.site_filter:
        # a site investigator: the pooled signals of its own site (safety.pooled), no funnel
        margin = safety.pooled_margin(con, viewer)
        for s, sig in zip(cfg.safety_signals, safety.signals(df, cfg, {"positive_margin": margin}), strict=True):
            rows.append(
                {
                    "siteid": viewer.site_filter,
                    "site_label": site_name(viewer.site_filter),
                    "signal": s.name,
                    "events": sig["events"],
                    "n": sig["n"],
                    "rate": sig["observed"],
                    "flagged": sig["flagged"],
                    "flag_rule": sig["flag_rule"],
                }
            )
        return _frame(rows, cfg)
    for s in cfg.safety_signals:
        fun = safety.site_funnel(con, df, s, cfg)
        for r in fun.to_dict("records"):
            events, n = _none(r.get("events")), _none(r.get("n"))
            shown = _none(r.get("suppressed")) is None
            flagged, rule = _rule(s, events, n) if shown else (None, None)
            rows.append(
                {
                    "siteid": r["siteid"],
                    "site_label": r.get("site_label", site_name(r["siteid"])),
                    "signal": s.name,
                    "events": events if shown else None,
                    "n": n if shown else None,
                    "rate": _none(r.get("rate")) if shown else None,
                    "p0": _none(r.get("p0")),
                    "flag": _none(r.get("flag")) if shown else None,
                    "flagged": flagged,
                    "flag_rule": rule,
                    "suppressed": _none(r.get("suppressed")),
                    "suppressed_code": _none(r.get("suppressed_code")),
                    "merged_groups": _none(r.get("merged_groups")),
                }
            )
    return _frame(rows, cfg)


def _frame(rows: list[dict], cfg: TrialConfig) -> pd.DataFrame:
    signals = {s.name: s for s in cfg.safety_signals}
    out = pd.DataFrame(rows, columns=[c for c in SITE_COLUMNS if c not in ("cut", "build_id", "cutoff")])
    out["signal_label"] = [fact(signals[s], "label") for s in out.signal]
    out["threshold"] = [signals[s].threshold for s in out.signal]
    out = out.astype({"events": "Int64", "n": "Int64", "rate": "float64", "p0": "float64", "threshold": "float64"})
    return out.astype({"flagged": "object"})


def trial_row(con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None) -> dict:
    """One cut: randomized, deaths (OS events), DFS events and the information fraction (deaths
    over trial.toml [design] expected_deaths_final) of the viewer's population; the events are
    withheld (None, with the reason) where the cut's pooled survival page withholds them. The
    closed session also gets each count by arm (randomized_<arm key>, deaths_<key>, dfs_events_<key>)."""
    cfg = cfg or load_trial()
    viewer.require_trial_data()
    counts = fetch(con, "trends/trial_counts", site=viewer.site_filter).iloc[0]
    expected = cfg.design.expected_deaths_final
    row: dict = {
        "randomized": int(counts.randomized),
        "deaths": int(counts.deaths),
        "dfs_events": int(counts.dfs_events),
        "expected_deaths_final": expected,
        "information_fraction": None,
        "suppressed": None,
        "suppressed_code": None,
    }
    if not viewer.closed:
        check = blinding.population_check(con, viewer.site_filter, cfg)
        if not check.ok:
            row.update(deaths=None, dfs_events=None, suppressed=suppression(check.reason), suppressed_code=check.reason)
    if row["deaths"] is not None and not viewer.site_filter and expected:
        row["information_fraction"] = row["deaths"] / expected
    if viewer.closed:
        by_arm = fetch(con, "trends/trial_counts_by_arm", site=viewer.site_filter).set_index("arm")
        for arm in cfg.arms:
            for what in ("randomized", "deaths", "dfs_events"):
                row[f"{what}_{arm.key}"] = int(by_arm.at[arm.code, what]) if arm.code in by_arm.index else 0
    return row


def labelled(frame: pd.DataFrame, label: str, cut: dict) -> pd.DataFrame:
    """A cut's rows with the cut's label, build id and cut-off in front."""
    out = frame.copy()
    out.insert(0, "cut", label)
    out.insert(1, "build_id", cut["build_id"])
    out.insert(2, "cutoff", cut["cutoff"])
    return out


def combine_sites(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The labelled rows of every cut, oldest cut first, in SITE_COLUMNS order; the merged row of
    a signal withheld at every cut where the sites it hides are not the same at every cut
    (`_withhold_changing_merges`)."""
    if not parts:
        return pd.DataFrame(columns=SITE_COLUMNS)
    out = pd.concat(parts, ignore_index=True)[SITE_COLUMNS]
    return _withhold_changing_merges(out)


def _members(merged_groups) -> frozenset[str]:
    return frozenset(m.strip() for m in str(merged_groups).split(",") if m.strip())


def _merges_differ(rows: pd.DataFrame) -> bool:
    """Whether the merged rows with figures of one signal, across the cuts, could be subtracted
    from one another or from a site shown alone: their sites differ between two cuts, or a site
    merged at one cut is shown alone at another. (A site absent from a cut had no subject in the
    signal's denominator there: nothing to subtract.)"""
    figures = rows.suppressed_code.isna()
    merged = rows[figures & (rows.siteid == blinding.MERGED)]
    memberships = {_members(m) for m in merged.merged_groups}
    if len(memberships) > 1:
        return True
    members = set().union(*memberships) if memberships else set()
    alone = set(rows.siteid[figures & (rows.siteid != blinding.MERGED)].dropna())
    return bool(members & alone)


def _withhold_changing_merges(df: pd.DataFrame) -> pd.DataFrame:
    """A merged row (blinding.MERGED) is the sum of sites a cut may not show alone. Beside
    another cut whose merge differs it is a difference waiting to be taken: {03, 04} merged at one
    cut less site 04 shown alone at the next is nearly site 03, an arm-level figure that neither
    cut shows. So in a trend the merged row of a signal is shown only when it merges the same
    sites at every cut and none of them is shown alone at any cut (`_merges_differ`); otherwise it
    is withheld at every cut (MERGE_CHANGED)."""
    out = df.copy()
    for _signal, rows in out.groupby("signal", sort=False):
        if not _merges_differ(rows):
            continue
        idx = rows.index[(rows.siteid == blinding.MERGED) & rows.suppressed_code.isna()]
        out.loc[idx, ["events", "n", "rate", "flag", "flagged", "flag_rule"]] = None
        out.loc[idx, "suppressed_code"] = MERGE_CHANGED
        out.loc[idx, "suppressed"] = _(MERGE_CHANGED)
    return out


def _open(build_dir: Path, viewer: Viewer) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(cut_file(build_dir, viewer)), read_only=True)


def site_trends(cut_dirs, viewer: Viewer, cfg: TrialConfig | None = None) -> pd.DataFrame:
    """Every cut's site rows (`site_rows`), the cuts given oldest first as (label, build folder)
    pairs or dashboard.store.cuts Cut records."""
    cfg = cfg or load_trial()
    parts = []
    for label, folder in _cut_list(cut_dirs):
        con = _open(folder, viewer)
        try:
            parts.append(labelled(site_rows(con, viewer, cfg), label, data_cut(con)))
        finally:
            con.close()
    return combine_sites(parts)


def trial_trends(cut_dirs, viewer: Viewer, cfg: TrialConfig | None = None) -> pd.DataFrame:
    """One row per cut (`trial_row`), the cuts given as for `site_trends`."""
    cfg = cfg or load_trial()
    rows = []
    for label, folder in _cut_list(cut_dirs):
        con = _open(folder, viewer)
        try:
            rows.append({"cut": label, **data_cut(con), **trial_row(con, viewer, cfg)})
        finally:
            con.close()
    return combine_trial(rows)


def combine_trial(rows: list[dict]) -> pd.DataFrame:
    out = pd.DataFrame(rows)
    if out.empty:
        return pd.DataFrame(columns=["cut", "build_id", "cutoff", "randomized", "deaths", "dfs_events"])
    for c in out.columns:
        if c.startswith(("randomized", "deaths", "dfs_events")):
            out[c] = out[c].astype("Int64")
    return out.astype({"information_fraction": "float64"})


# ------------------------------------------------------------------ tables for people


def _count(value) -> str:
    from dashboard.outputs.labels import MISSING

    return MISSING if value is None or pd.isna(value) else str(int(value))


def _pct(value) -> str:
    from dashboard.outputs.labels import MISSING

    return MISSING if value is None or pd.isna(value) else percent(value, 1)


def trial_table(df: pd.DataFrame, cfg: TrialConfig | None = None) -> pd.DataFrame:
    """The trial trends as a page shows them: a row per cut, the counts, the information fraction,
    the counts by arm in a closed session, and why events are withheld where they are."""
    cfg = cfg or load_trial()
    table = pd.DataFrame(
        {
            _("data cut"): df.cut,
            _("cut-off"): df.cutoff,
            _("randomized"): [_count(v) for v in df.randomized],
            _("deaths"): [_count(v) for v in df.deaths],
            _("DFS events"): [_count(v) for v in df.dfs_events],
        }
    )
    if "information_fraction" in df and df.information_fraction.notna().any():
        table[_("information fraction")] = [_pct(v) for v in df.information_fraction]
    for arm in cfg.arms:
        if f"deaths_{arm.key}" in df:
            name = fact(arm, "label")
            table[_("randomized: {arm}").format(arm=name)] = [_count(v) for v in df[f"randomized_{arm.key}"]]
            table[_("deaths: {arm}").format(arm=name)] = [_count(v) for v in df[f"deaths_{arm.key}"]]
            table[_("DFS events: {arm}").format(arm=name)] = [_count(v) for v in df[f"dfs_events_{arm.key}"]]
    if "suppressed" in df and df.suppressed.notna().any():
        table[_("withheld")] = [v if isinstance(v, str) else "" for v in df.suppressed]
    return table


def _flag_text(row) -> str:
    if row.flag == "above":
        return _("above the funnel limits")
    if row.flag == "below":
        return _("below the funnel limits")
    if (row.flag is None or pd.isna(row.flag)) and row.flagged is True:
        return _("flagged")
    return ""


def _cell(row) -> str:
    if isinstance(row.suppressed, str):
        return _("withheld: {reason}").format(reason=row.suppressed)
    if row.n is None or pd.isna(row.n):
        from dashboard.outputs.labels import MISSING

        return MISSING
    text = _("{events}/{n} ({rate})").format(events=int(row.events), n=int(row.n), rate=_pct(row.rate))
    flag = _flag_text(row)
    return _("{figures} · {flag}").format(figures=text, flag=flag) if flag else text


def _cut_columns(df: pd.DataFrame) -> dict[str, str]:
    """Each build id's column name: the cut's label, with its build id where labels repeat."""
    cuts = df[["build_id", "cut"]].drop_duplicates("build_id")
    repeated = set(cuts.cut[cuts.cut.duplicated()])
    return {b: (f"{c} ({b})" if c in repeated else c) for b, c in zip(cuts.build_id, cuts.cut, strict=True)}


def site_order(df: pd.DataFrame) -> list[str]:
    """The sites of the trends, by ID, the merged row of the blinding rule last."""
    sites = [s for s in df.siteid.dropna().unique()]
    return sorted((s for s in sites if s != blinding.MERGED), key=str) + (
        [blinding.MERGED] if blinding.MERGED in sites else []
    )


def site_table(df: pd.DataFrame, cfg: TrialConfig | None = None) -> pd.DataFrame:
    """The site trends as a page shows them: a row per site x signal, a column per cut holding
    "events/n (rate)" and its funnel flag, or why the cut withholds it; the dash where the cut has
    no such row (the site had no subject in the signal's denominator, or was merged)."""
    cfg = cfg or load_trial()
    if df.empty:
        return pd.DataFrame(columns=[_("site"), _("signal")])
    columns = _cut_columns(df)
    order = {s.name: i for i, s in enumerate(cfg.safety_signals)}
    labels = dict(zip(df.signal, df.signal_label, strict=False))
    site_labels = dict(zip(df.siteid.fillna(""), df.site_label.fillna(""), strict=False))
    cells: dict[tuple[str, str], dict[str, str]] = {}
    for row in df.itertuples(index=False):
        key = ("" if row.siteid is None or pd.isna(row.siteid) else row.siteid, row.signal)
        cells.setdefault(key, {})[columns[row.build_id]] = _cell(row)
    sites = {s: i for i, s in enumerate(site_order(df))}
    from dashboard.outputs.labels import MISSING

    out = []
    for (siteid, signal), by_cut in sorted(cells.items(), key=lambda kv: (sites.get(kv[0][0], -1), order[kv[0][1]])):
        out.append(
            {
                _("site"): site_labels.get(siteid) or _("all sites"),
                _("signal"): labels[signal],
                **{name: by_cut.get(name, MISSING) for name in columns.values()},
            }
        )
    return pd.DataFrame(out)


def withheld(df: pd.DataFrame) -> list[dict]:
    """The suppressed rows of the site trends, one per cut and site (the signals share a reason)."""
    hidden = df[df.suppressed.notna()]
    seen, out = set(), []
    for r in hidden.itertuples(index=False):
        key = (r.build_id, r.siteid, r.suppressed)
        if key in seen:
            continue
        seen.add(key)
        out.append({"cut": r.cut, "site": r.site_label or _("all sites"), "reason": r.suppressed})
    return out
