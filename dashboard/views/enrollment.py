"""Accrual, screening and allocation: the figures of the accrual and arm-balance views."""

from __future__ import annotations

import duckdb
import pandas as pd

from dashboard.access.roles import Viewer
from dashboard.config import TrialConfig, load_trial
from dashboard.i18n import _
from dashboard.store.data import fetch


def _iso(value) -> str | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date().isoformat()


def data_cut(con: duckdb.DuckDBPyConnection) -> dict:
    row = fetch(con, "views/data_cut").iloc[0]
    return {
        "cutoff": _iso(row.cutoff_date),
        "exported": str(pd.Timestamp(row.exported)),
        "source": row.source,
        "is_demo": bool(row.is_demo),
        "build_id": row.build_id,
    }


def enrollment(con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None) -> dict:
    """Screened, screen failures and their reasons, randomized against the target, by site."""
    cfg = cfg or load_trial()
    site = viewer.site_filter
    totals = fetch(con, "views/screening_totals", site=site).iloc[0]
    reasons = fetch(con, "views/screen_failure_reasons", site=site)
    by_site = fetch(con, "views/enrollment_by_site", site=site)
    randomized = int(fetch(con, "views/randomized_total", site=site).iloc[0, 0])
    return {
        "screened": int(totals.screened),
        "screen_failures": int(totals.screen_failures),
        "screening_pending": int(totals.pending),
        "randomized": randomized,
        "target": cfg.trial.target_enrollment,
        "screen_failure_reasons": {r.reason: int(r.n) for r in reasons.itertuples()},
        "by_site": {
            r.siteid: {
                "name": r.sitename,
                "screened": int(r.screened),
                "randomized": int(r.randomized),
                "activated": _iso(r.activated),
                "first_randomized": _iso(r.first_randomized),
            }
            for r in by_site.itertuples()
        },
    }


def _arm_counts(row, cfg: TrialConfig) -> dict[str, int | None]:
    """A cell's counts by arm; None for a cell the cell rule withholds (its total is still shown:
    accrual is not by arm)."""
    values = {a.code: getattr(row, f"n_{a.key}") for a in cfg.arms}
    return {k: None if pd.isna(v) else int(v) for k, v in values.items()}


def allocation(con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None) -> dict:
    """Randomized by arm overall, by site and by stratum. Allocation counts are not outcomes."""
    cfg = cfg or load_trial()
    site = viewer.site_filter
    sites = fetch(con, "views/allocation", grouping="site")
    if site:
        sites = sites[sites.group_value == site]
        overall = sites
        strata = fetch(con, "views/allocation", grouping="site_stratum")
        strata = strata[strata.group_value.str.startswith(site + "|")].copy()
        strata["group_value"] = strata.group_value.str.slice(len(site) + 1)
    else:
        overall = fetch(con, "views/allocation", grouping="overall")
        strata = fetch(con, "views/allocation", grouping="stratum")
    by_arm: dict[str, int | None] = {a.code: 0 for a in cfg.arms}
    for row in overall.itertuples():
        for code, n in _arm_counts(row, cfg).items():
            by_arm[code] = None if n is None or by_arm[code] is None else by_arm[code] + n
    return {
        "by_arm": by_arm,
        "by_site": {r.group_value: _arm_counts(r, cfg) for r in sites.itertuples()},
        "by_stratum": {r.group_value: _arm_counts(r, cfg) for r in strata.itertuples()},
    }


# ---------------------------------------------------------------- accrual page
def site_table(con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None) -> pd.DataFrame:
    """Per site: activation, screened, randomized, screen-failure rate, patients per month since
    activation, days since the last randomization (at the cut-off)."""
    cfg = cfg or load_trial()
    cut = pd.Timestamp(fetch(con, "views/data_cut").cutoff_date.iloc[0])
    df = fetch(con, "views/enrollment_by_site", site=viewer.site_filter)
    activated = pd.to_datetime(df.activated)
    months_active = (cut - activated).dt.days / cfg.trial.days_per_month
    df["screen_failure_rate"] = (df.screen_failures / df.screened).where(df.screened > 0)
    df["per_month"] = (df.randomized / months_active).where(months_active > 0)
    df["days_since_last"] = (cut - pd.to_datetime(df.last_randomized)).dt.days
    return df


def flow(con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None) -> dict:
    """CONSORT flow from screening to follow-up: the counts, and the boxes and arrows drawn.

    Every box is the sum of the arrows leaving it and of those entering it (a box with parts, the
    exclusions, is the sum of its parts): screened = not randomized + randomized from the log;
    randomized = randomized from the log + randomized without an enrolled screening-log row;
    randomized = operated + not operated; operated = in follow-up + off study after surgery; not
    operated = awaiting surgery + not operated in time + off study before surgery. Deaths,
    withdrawals and losses before surgery are under "not operated", never under "operated"."""
    cfg = cfg or load_trial()
    row = fetch(con, "views/consort_flow", site=viewer.site_filter).iloc[0]
    f = {k: int(v) for k, v in row.items()}
    f["randomized_unscreened"] = f["randomized"] - f["enrolled_randomized"]
    f["not_randomized"] = f["screened"] - f["enrolled_randomized"]
    f["off_study"] = f["died"] + f["withdrew"] + f["lost"] + f["completed"] + f["physician_decision"]
    f["off_study_not_operated"] = (
        f["died_before_surgery"]
        + f["withdrew_before_surgery"]
        + f["lost_before_surgery"]
        + f["off_study_before_surgery"]
    )
    days = cfg.schedule.never_operated_after_days

    def parts(*pairs: tuple[str, int]) -> list[tuple[str, int]]:
        shown = [(label, n) for label, n in pairs if n]
        return shown

    boxes = {
        "screened": {"label": _("Screened"), "n": f["screened"], "main": True},
        "not_randomized": {
            "label": _("Not randomized"),
            "n": f["not_randomized"],
            "parts": parts(
                (_("Screen failure"), f["screen_failures"]),
                (_("Screening pending"), f["screening_pending"]),
                (_("Other screening outcome"), f["other_outcome"]),
                (_("Enrolled, not randomized"), f["enrolled_not_randomized"]),
            ),
        },
        "randomized": {"label": _("Randomized"), "n": f["randomized"], "main": True},
        "operated": {"label": _("Operated"), "n": f["operated"], "main": True},
        "not_operated": {"label": _("Not operated"), "n": f["not_operated_total"]},
        "awaiting_surgery": {
            "label": _("Awaiting surgery (randomized {days} days ago or less)").format(days=days),
            "n": f["awaiting_surgery"],
        },
        "never_operated": {
            "label": _("No surgery more than {days} days after randomization").format(days=days),
            "n": f["not_operated"],
        },
        "off_before_surgery": {
            "label": _("Off study before surgery"),
            "n": f["off_study_not_operated"],
            "parts": parts(
                (_("Died"), f["died_before_surgery"]),
                (_("Withdrew consent"), f["withdrew_before_surgery"]),
                (_("Lost to follow-up"), f["lost_before_surgery"]),
                (_("Completed or physician decision"), f["off_study_before_surgery"]),
            ),
        },
        "in_follow_up": {"label": _("In follow-up"), "n": f["in_follow_up"], "main": True},
        "off_study": {
            "label": _("Off study after surgery"),
            "n": f["off_study"],
            "parts": parts(
                (_("Died"), f["died"]),
                (_("Withdrew consent"), f["withdrew"]),
                (_("Lost to follow-up"), f["lost"]),
                (_("Completed"), f["completed"]),
                (_("Physician decision"), f["physician_decision"]),
            ),
        },
    }
    edges = [
        ("screened", "not_randomized", f["not_randomized"]),
        ("screened", "randomized", f["enrolled_randomized"]),
        ("randomized", "operated", f["operated"]),
        ("randomized", "not_operated", f["not_operated_total"]),
        ("not_operated", "awaiting_surgery", f["awaiting_surgery"]),
        ("not_operated", "never_operated", f["not_operated"]),
        ("not_operated", "off_before_surgery", f["off_study_not_operated"]),
        ("operated", "in_follow_up", f["in_follow_up"]),
        ("operated", "off_study", f["off_study"]),
    ]
    if f["randomized_unscreened"]:
        boxes["unscreened"] = {
            "label": _("Randomized without an enrolled screening-log row"),
            "n": f["randomized_unscreened"],
        }
        edges.insert(2, ("unscreened", "randomized", f["randomized_unscreened"]))
    # a branch with no subjects is not drawn (its parent's sum is unchanged)
    edges = [e for e in edges if e[2] or boxes[e[1]].get("main")]
    drawn = {k for e in edges for k in e[:2]}
    return {**f, "boxes": {k: v for k, v in boxes.items() if k in drawn or k == "screened"}, "edges": edges}


def accrual(con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None) -> dict:
    """Cumulative randomized, the planned line, and the projected completion date."""
    from dashboard.stats.accrual import cumulative_accrual, planned_accrual, project_completion

    cfg = cfg or load_trial()
    cut = pd.Timestamp(fetch(con, "views/data_cut").cutoff_date.iloc[0]).date()
    dates = fetch(con, "views/randomization_dates", site=viewer.site_filter).randomization_date
    dates = [pd.Timestamp(d).date() for d in dates]
    sites = fetch(con, "views/sites", site=viewer.site_filter)
    activations = pd.to_datetime(sites.activated).dropna()
    start = activations.min().date() if len(activations) else cfg.trial.start
    target = cfg.trial.target_enrollment
    planned_months = cfg.design.accrual_months
    if viewer.site_filter:
        # one site's share of the target: its own target, if the site has one
        t = sites.target.iloc[0] if len(sites) else None
        target = int(t) if t is not None and not pd.isna(t) else None
    out = {"cumulative": cumulative_accrual(dates), "start": start, "cutoff": cut, "target": target}
    if target:
        out["planned"] = planned_accrual(start, target, planned_months, cfg.trial.days_per_month)
        out["projection"] = project_completion(
            dates, start, cut, target, planned_months, days_per_month=cfg.trial.days_per_month
        )
    return out


def on_track(con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None, days: int = 30) -> dict:
    """Are we on track: randomized of the target (and %), ahead of or behind the planned line at
    the cut-off and by how many, randomized in the last `days` days against the plan's rate, the
    projected completion against the planned end, and (trial-wide) the fastest and slowest active
    sites by patients per month since activation. No arm anywhere."""
    from dashboard.stats.accrual import planned_by, recent

    cfg = cfg or load_trial()
    acc = accrual(con, viewer, cfg)
    cut, start, target = acc["cutoff"], acc["start"], acc["target"]
    dates = fetch(con, "views/randomization_dates", site=viewer.site_filter).randomization_date
    n = int(len(dates.dropna()))
    months, dpm = cfg.design.accrual_months, cfg.trial.days_per_month
    out: dict = {"randomized": n, "target": target, "cutoff": cut, "days": days, "last_days": recent(dates, cut, days)}
    if target:
        planned = planned_by(cut, start, target, months, dpm)
        out.update(
            fraction=n / target,
            planned_by_now=planned,
            ahead_by=n - round(planned),
            planned_last_days=target / (months * dpm) * days,
            planned_end=(pd.Timestamp(start) + pd.Timedelta(days=round(months * dpm))).date(),
        )
        proj = acc.get("projection")
        if proj:
            out["projection"] = {k: proj[k] for k in ("completion_date", "lower", "upper", "level")}
    if not viewer.site_filter:
        sites = site_table(con, viewer, cfg)
        active = sites[(sites.status.astype(str).str.upper() == "ACTIVE") & sites.per_month.notna()]
        active = active.sort_values(["per_month", "siteid"])
        if len(active) >= 2:
            pick = lambda r: {"siteid": r.siteid, "name": r.sitename, "per_month": float(r.per_month)}  # noqa: E731
            out["slowest"] = pick(active.iloc[0])
            out["fastest"] = pick(active.iloc[-1])
    return out


# ---------------------------------------------------------------- arm balance page
def allocation_over_time(
    con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None
) -> pd.DataFrame:
    """Cumulative randomized per arm by month of randomization (allocation, not outcome)."""
    cfg = cfg or load_trial()
    months = fetch(con, "views/allocation", grouping="month").sort_values("group_value")
    out = pd.DataFrame({"month": months.group_value})
    for a in cfg.arms:
        out[a.code] = months[f"n_{a.key}"].cumsum().to_numpy()
    return out


def imbalance(con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None) -> dict:
    """The largest difference between arms within a stratum and within a site, and the check of
    the randomization against its blocking unit (trial.toml [randomization] blocks_within).

    With 1:1 permuted blocks of size b, the difference between arms within one blocking unit never
    exceeds b/2; a larger one means the randomization was not followed. The unit is a stratum
    across all sites ("stratum") or a site and stratum ("site_stratum"). With blocks within
    strata a single site's difference within a stratum is not bounded (the stratum's blocks are
    shared by all sites), so a site's view has nothing to check (`check` is None); the trial-wide
    views check every stratum. With blocks within site and stratum every site-stratum cell is
    checked (a site's view: its own cells). Cells the cell rule withholds are not checked here
    (the closed session has their counts).
    """
    cfg = cfg or load_trial()
    a = allocation(con, viewer, cfg)
    codes = cfg.arm_codes[:2]
    unit = cfg.randomization.blocks_within
    bound = cfg.randomization.block_size // 2

    def worst(groups: dict) -> dict:
        groups = {k: v for k, v in groups.items() if None not in (v[codes[0]], v[codes[1]])}
        if not groups:
            return {"group": None, "difference": 0}
        key = max(groups, key=lambda k: abs(groups[k][codes[0]] - groups[k][codes[1]]))
        return {"group": key, "difference": abs(groups[key][codes[0]] - groups[key][codes[1]]), "counts": groups[key]}

    check = None
    if unit == "stratum" and not viewer.site_filter:
        check = worst(a["by_stratum"])
    elif unit == "site_stratum":
        cells = fetch(con, "views/allocation", grouping="site_stratum")
        if viewer.site_filter:
            cells = cells[cells.group_value.str.startswith(viewer.site_filter + "|")]
        check = worst({r.group_value: _arm_counts(r, cfg) for r in cells.itertuples()})
        if check["group"] is not None:
            site, _sep, stratum = check["group"].partition("|")
            check.update(site=site, stratum=stratum)
    if check is not None and unit == "stratum" and check["group"] is not None:
        check.update(site=None, stratum=check["group"])
    return {
        "stratum": worst(a["by_stratum"]),
        "site": worst(a["by_site"]),
        "block_size": cfg.randomization.block_size,
        "stratum_bound": bound,
        "unit": unit,
        "check": check,
        "alert": check is not None and check["difference"] > bound,
    }


def baseline(con: duckdb.DuckDBPyConnection, viewer: Viewer, cfg: TrialConfig | None = None) -> dict:
    """Baseline characteristics of the randomized, pooled: age summary and counts per category."""
    cfg = cfg or load_trial()
    df = fetch(con, "views/baseline_randomized", site=viewer.site_filter)
    n = len(df)
    out: dict = {"n": n}
    if n:
        age = df.age_at_consent.dropna()
        out["age"] = {
            "median": float(age.median()),
            "q1": float(age.quantile(0.25)),
            "q3": float(age.quantile(0.75)),
            "min": int(age.min()),
            "max": int(age.max()),
        }
    for col, label in [
        ("sex", _("Sex")),
        ("ecog", _("ECOG")),
        ("primary_site", _("Primary site")),
        ("p16", _("p16 (oropharynx)")),
        ("stage_computed", _("Stage (AJCC 8th, recomputed)")),
        ("response_at_randomization", _("Response")),
        ("smoking", _("Smoking")),
    ]:
        series = df[col]
        if col == "p16":
            series = df.loc[df.primary_site.isin(cfg.trial.p16_staged_sites), col]
        counts = series.fillna("missing").astype(str).value_counts()
        out[col] = {"label": label, "counts": {k: int(v) for k, v in counts.sort_index().items()}}
    return out
