"""Trends across data cuts (issue 16): per site, each safety signal's value and funnel flag at
every cut; per trial, accrual, deaths, DFS events and the information fraction at every cut.

Each cut is read from its own files (WAREHOUSE/builds/<build_id>/blinded.duckdb, or closed.duckdb
in a closed session) and each cut's row starts as exactly what that cut's own pages show, under the
same rule: the site figures are views/safety.py's site_funnel (one-arm and small sites suppressed or
merged by dashboard/access/blinding.py, with that cut's allocation counts), the trial figures are
withheld where the cut's population check withholds the pooled outcomes.

Side by side, two cuts give a third figure neither shows: their difference. For a blinded role
the trend therefore withholds more than the single cuts do (`combine`):

- the step rule: two neighbouring points of a site that are shown differ by a step that is itself
  a cell the rule allows: the site's allocation (the cut's allocation table, which every role
  reads) gained subjects of both arms and at least trial.toml [blinding] min_cell_size of them, or
  none at all, and the signal's denominator moved by none or at least min_cell_size subjects
  (`step_check`). Site 01 going 5/5 -> 6/5 while its signal goes 0/10 -> 1/11 would otherwise give
  one subject of a known arm. The rule is applied from the latest cut back: the latest point stands
  on its cut's own rule (the cut in view shows it on its own safety page anyway, so it is the point
  an older one must not be subtracted from); an earlier point is withheld when its step to the
  nearest later point shown breaks the rule, and the next earlier one is judged against that same
  later point. A merged row is judged the same way against merged rows of the same sites; a site
  investigator's own-site deaths and DFS events too (STEP_BELOW);
- the merge rule: a site shown alone at one cut and merged with others at another cut of the trend
  is withheld where it stands alone (MERGED_ELSEWHERE): the merged row is on that cut's own page
  anyway, and the merged row less the site alone would be the sites the merge hides.

The trial rows of the other blinded roles are the whole trial's, pooled, and are kept as they are.
The closed session sees the arms anyway: its trend is the single cuts side by side, with the trial
counts by arm beside the pooled ones.

A site investigator (Viewer("site", site=...)) gets its own site only: its signals as its safety
page shows them (the threshold rule; no funnel, which needs the other sites), and its site's
accrual and events; the information fraction is the trial's and is not shown for one site.

No Streamlit here; `read_cut` takes one cut's connection (the page caches it per file),
`combine` applies the rules across cuts, `site_trends` and `trial_trends` open each cut themselves.
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

STEP_BELOW = N_("the change to the next point shown is below the cell rule")
"""Why a trend withholds a point the single cut shows: the step rule (`step_check`)."""

MERGED_ELSEWHERE = N_("merged with other sites at another cut")
"""Why a trend withholds a site shown alone: it is merged at another cut of the trend."""

TREND_RULES = (STEP_BELOW, MERGED_ELSEWHERE)
"""The reasons (codes) of what a trend withholds beyond the single cuts."""

FIGURES = ["events", "n", "rate", "flag", "flagged", "flag_rule"]
"""The columns of a site row a withheld point loses."""

PANELS = 24
"""At most this many sites get a panel of the small multiples (`panel_sites`); the table has all."""


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


# ------------------------------------------------------------------ one cut, then across cuts

Counts = tuple[int, ...]
"""Subjects randomized to each arm (trial.toml arms order) of a site at one cut."""


def site_allocation(
    con: duckdb.DuckDBPyConnection, cfg: TrialConfig | None = None, site: str | None = None
) -> dict[str, Counts | None]:
    """Each site's allocation at one cut, as the cut's allocation table (views/allocation, which
    every role reads) holds it: its counts by arm, or None where the cell rule withholds them; the
    blinding rule's merged allocation row (blinding.MERGED_ROW) too. `site`: that site only."""
    cfg = cfg or load_trial()
    alloc = blinding.allocation_table(con, "site", cfg)
    arms = [f"n_{a.key}" for a in cfg.arms]
    out: dict[str, Counts | None] = {}
    for r in alloc.to_dict("records"):
        group = str(r["group_value"])
        if site is not None and group != site:
            continue
        hidden = isinstance(r.get("suppressed"), str) or any(pd.isna(r.get(c)) for c in arms)
        out[group] = None if hidden else tuple(int(r[c]) for c in arms)
    return out


def read_cut(con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None) -> dict:
    """Everything a trend takes from one cut's file: its build id and cut-off ("cut"), its trial row
    (`trial_row`), its site rows (`site_rows`) and, for a blinded role, the sites' allocation the
    step rule compares (`site_allocation`; the viewer's own site only for a site investigator)."""
    cfg = cfg or load_trial()
    return {
        "cut": data_cut(con),
        "trial": trial_row(con, viewer, cfg),
        "sites": site_rows(con, viewer, cfg),
        "allocation": None if viewer.closed else site_allocation(con, cfg, viewer.site_filter),
    }


def step_check(before: Counts | None, after: Counts | None, min_cell: int) -> blinding.CellCheck:
    """May a point be shown beside the point shown before it? The step of the allocation between
    the two is a cell of its own: it must pass the cell rule (subjects of both arms, at least
    `min_cell` of them), unless nobody was randomized in between. Counts the cut withholds (None),
    or a step that adds to one arm and takes from another, are never judged safe."""
    if before is None or after is None:
        return blinding.CellCheck(False, STEP_BELOW)
    gains = [a - b for a, b in zip(after, before, strict=True)]
    if not any(gains):
        return blinding.CellCheck(True)
    if any(g < 0 for g in gains) and any(g > 0 for g in gains):
        return blinding.CellCheck(False, STEP_BELOW)
    check = blinding.check_counts([abs(g) for g in gains], min_cell)
    return check if check.ok else blinding.CellCheck(False, STEP_BELOW)


def _n_step_ok(before, after, min_cell: int) -> bool:
    """The signal's denominator moved by nobody or by at least `min_cell` subjects."""
    if before is None or after is None:
        return True
    moved = abs(int(after) - int(before))
    return moved == 0 or moved >= min_cell


def _members(merged_groups) -> frozenset[str]:
    if merged_groups is None or (not isinstance(merged_groups, str) and pd.isna(merged_groups)):
        return frozenset()
    return frozenset(m.strip() for m in str(merged_groups).split(",") if m.strip())


def group_allocation(alloc: dict[str, Counts | None], members) -> Counts | None:
    """The allocation of a merged row's sites at one cut: the sum of its members' counts; where
    some are withheld, the allocation table's merged row speaks for exactly the withheld cells (as
    blinding.suppress_by_group counts it); otherwise None (unknown)."""
    known = [alloc.get(m) for m in members if alloc.get(m) is not None]
    hidden = {m for m in members if alloc.get(m) is None}
    if hidden:
        withheld = {g for g, c in alloc.items() if c is None and g != blinding.MERGED_ROW}
        row = alloc.get(blinding.MERGED_ROW)
        if hidden != withheld or row is None:
            return None
        known.append(row)
    if not known:
        return None
    return tuple(sum(c[j] for c in known) for j in range(len(known[0])))


def _withhold(out: pd.DataFrame, idx, code: str) -> None:
    if len(idx) == 0:
        return
    for c in ("suppressed_code", "suppressed", "flag", "flag_rule", "flagged"):
        if out[c].dtype != object:
            out[c] = out[c].astype(object)
    out.loc[idx, FIGURES] = None
    out.loc[idx, "suppressed_code"] = code
    out.loc[idx, "suppressed"] = _(code)


def withhold_alone_where_merged(df: pd.DataFrame) -> pd.DataFrame:
    """The merge rule: per signal, a site shown alone at one cut and a member of a merged row
    with figures at another cut is withheld where it stands alone (MERGED_ELSEWHERE). The merged
    row stays: the cut's own safety page shows it."""
    out = df.copy()
    figures = out.suppressed_code.isna()
    for _signal, rows in out.groupby("signal", sort=False):
        shown = figures.loc[rows.index]
        merged = rows[shown & (rows.siteid == blinding.MERGED)]
        members = frozenset().union(*(_members(m) for m in merged.merged_groups))
        alone = rows.index[shown & (rows.siteid != blinding.MERGED) & rows.siteid.isin(members)]
        _withhold(out, alone, MERGED_ELSEWHERE)
    return out


def withhold_small_steps(
    df: pd.DataFrame, allocations: dict[str, dict[str, Counts | None]], min_cell: int
) -> pd.DataFrame:
    """The step rule (`step_check`, `_n_step_ok`) on every site x signal. The latest cut's point
    stands on its cut's own rule (that cut's safety page shows it anyway); going back in time, each
    earlier point with figures is compared with the nearest later point of the same site (a merged
    row: of the same sites) that is shown, and withheld when the step between them breaks the rule.
    So every two neighbouring points shown, and the cut in view beside any point shown, differ by a
    step the cell rule allows. `allocations`: each build id's `site_allocation`."""
    out = df.copy()
    order = {b: i for i, b in enumerate(sorted(set(out.build_id)))}
    shown = out[out.suppressed_code.isna() & out.siteid.notna()]
    groups = [shown.siteid, shown.signal, shown.merged_groups.map(_members)]
    hide = []
    for (site, _signal, members), rows in shown.groupby(groups, sort=False):
        later: tuple | None = None  # (allocation, n) of the nearest later point shown
        for i in sorted(rows.index, key=lambda i: -order[out.at[i, "build_id"]]):
            alloc = allocations.get(out.at[i, "build_id"]) or {}
            counts = group_allocation(alloc, members) if site == blinding.MERGED else alloc.get(site)
            n = out.at[i, "n"]
            n = None if pd.isna(n) else int(n)
            if later is not None and not (
                step_check(counts, later[0], min_cell).ok and _n_step_ok(n, later[1], min_cell)
            ):
                hide.append(i)
                continue
            later = (counts, n)
    _withhold(out, pd.Index(hide), STEP_BELOW)
    return out


def combine_sites(
    parts: list[pd.DataFrame],
    allocations: dict[str, dict[str, Counts | None]] | None = None,
    cfg: TrialConfig | None = None,
) -> pd.DataFrame:
    """The labelled rows of every cut, oldest cut first, in SITE_COLUMNS order. With `allocations`
    (a blinded role: each build id's `site_allocation`) the merge rule, then the step rule, withhold
    what the cuts side by side would give (`withhold_alone_where_merged`, `withhold_small_steps`)."""
    if not parts:
        return pd.DataFrame(columns=SITE_COLUMNS)
    out = pd.concat(parts, ignore_index=True)[SITE_COLUMNS]
    if allocations is None:
        return out
    cfg = cfg or load_trial()
    out = withhold_alone_where_merged(out)
    return withhold_small_steps(out, allocations, cfg.blinding.min_cell_size)


def combine_trial(
    rows: list[dict],
    allocations: dict[str, dict[str, Counts | None]] | None = None,
    site: str | None = None,
    cfg: TrialConfig | None = None,
) -> pd.DataFrame:
    """The trial rows of every cut, oldest first. A site investigator's (`site`, with `allocations`)
    deaths and DFS events obey the step rule as the site rows do (`withhold_small_steps`): the
    latest cut's stand; an earlier cut's are withheld where the site's allocation between it and
    the nearest later cut whose events are shown breaks the cell rule (STEP_BELOW). The whole
    trial's rows (every other role) are kept."""
    rows = [dict(r) for r in rows]
    if site is not None and allocations is not None:
        cfg = cfg or load_trial()
        later: Counts | None = None
        shown_later = False
        for r in sorted(rows, key=lambda r: r["build_id"], reverse=True):
            if r.get("deaths") is None:
                continue
            counts = (allocations.get(r["build_id"]) or {}).get(site)
            if shown_later and not step_check(counts, later, cfg.blinding.min_cell_size).ok:
                r.update(deaths=None, dfs_events=None, information_fraction=None)
                r.update(suppressed=_(STEP_BELOW), suppressed_code=STEP_BELOW)
                continue
            later, shown_later = counts, True
    out = pd.DataFrame(rows)
    if out.empty:
        return pd.DataFrame(columns=["cut", "build_id", "cutoff", "randomized", "deaths", "dfs_events"])
    for c in out.columns:
        if c.startswith(("randomized", "deaths", "dfs_events")):
            out[c] = out[c].astype("Int64")
    return out.astype({"information_fraction": "float64"})


def combine(parts: list[tuple[str, dict]], viewer: Viewer, cfg: TrialConfig | None = None):
    """(trial trends, site trends) of the cuts' `read_cut` results, given oldest first as (label,
    result) pairs, under the trend's rules for the viewer (none in a closed session)."""
    cfg = cfg or load_trial()
    allocations = None if viewer.closed else {p["cut"]["build_id"]: p["allocation"] for _label, p in parts}
    trial = combine_trial(
        [{"cut": label, **p["cut"], **p["trial"]} for label, p in parts], allocations, viewer.site_filter, cfg
    )
    sites = combine_sites([labelled(p["sites"], label, p["cut"]) for label, p in parts], allocations, cfg)
    return trial, sites


def _open(build_dir: Path, viewer: Viewer) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(cut_file(build_dir, viewer)), read_only=True)


def read_cuts(cut_dirs, viewer: Viewer, cfg: TrialConfig | None = None) -> list[tuple[str, dict]]:
    """`read_cut` of each cut, the cuts given oldest first as (label, build folder) pairs or
    dashboard.store.cuts Cut records."""
    cfg = cfg or load_trial()
    out = []
    for label, folder in _cut_list(cut_dirs):
        con = _open(folder, viewer)
        try:
            out.append((label, read_cut(con, viewer, cfg)))
        finally:
            con.close()
    return out


def site_trends(cut_dirs, viewer: Viewer, cfg: TrialConfig | None = None) -> pd.DataFrame:
    """Every cut's site rows (`site_rows`) under the trend's rules (`combine`)."""
    cfg = cfg or load_trial()
    return combine(read_cuts(cut_dirs, viewer, cfg), viewer, cfg)[1]


def trial_trends(cut_dirs, viewer: Viewer, cfg: TrialConfig | None = None) -> pd.DataFrame:
    """One row per cut (`trial_row`) under the trend's rules (`combine`)."""
    cfg = cfg or load_trial()
    return combine(read_cuts(cut_dirs, viewer, cfg), viewer, cfg)[0]


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


def panel_sites(df: pd.DataFrame, limit: int | None = None) -> tuple[list[str], list[str]]:
    """The sites (IDs) that get a panel of the small multiples, at most `limit` (PANELS): the sites flagged at
    any cut (outside the funnel limits; a site investigator's: by the signal's own rule), most
    flagged points first, then the sites with the most events (at their latest point shown, summed
    over the signals; a site with no point shown last), then by ID. Returns (the panels in
    `site_order`, the flagged among them)."""
    limit = PANELS if limit is None else limit
    sites = df.siteid.dropna().unique()
    if not len(sites):
        return [], []
    shown = df[df.suppressed_code.isna() & df.siteid.notna()]
    hit = shown.flag.isin(OUTSIDE) | (shown.flag.isna() & shown.flagged.map(lambda v: v is True))
    flagged = hit.groupby(shown.siteid).sum()
    latest = shown.sort_values("build_id").groupby(["siteid", "signal"]).events.last()
    events = latest.fillna(0).astype(int).groupby(level="siteid").sum()
    ranked = sorted(sites, key=lambda s: (-int(flagged.get(s, 0)), -int(events.get(s, 0)), str(s)))
    chosen = set(ranked[:limit])
    order = [s for s in site_order(df) if s in chosen]
    return order, [s for s in order if flagged.get(s, 0)]


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
