"""Issue 16, trends across data cuts (dashboard/views/trends.py, its figures and pages/trends.py).

One hand-made trial (tests/factory.py) exported at three cut-offs, each export holding what had
happened by its cut-off, built one after another into one warehouse: three cuts. The sites:
01 and 02 with 10 subjects per arm (at 01 every de-escalation subject and half the standard ones
die within 90 days of surgery: a site far above the others; at 02 nobody dies and a few recur),
03 three de-escalation subjects who all die (too small and one arm), 04 six standard subjects
(one arm), 05 four per arm randomized late (too small at the first cut, not at the last).

What is checked: each cut's row of the site trends equals what that cut's own safety page computes
(views/safety.py signal_by_site on that cut's file, the blinding rule applied there) for every
role, a site investigator's its own site's pooled signals; the trial trends equal the counts the
plan itself gives (randomized, deaths and DFS events by each cut-off, computed here from the plan,
not from the build) and the single cut's pooled survival figures; a suppressed site cell stays
suppressed in every cut; no arm reaches a blinded role; the closed session's counts by arm equal
the plan's; the figures mark what the rows flag; the page renders for each role.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from apptest import clear_caches, open_page, page_text, serving
from dashboard import i18n
from dashboard.access import blinding
from dashboard.access.roles import Viewer
from dashboard.config import load_trial
from dashboard.ingest.build import build
from dashboard.outputs.figures import trends as trend_figures
from dashboard.store import cuts
from dashboard.views import outcomes, safety, trends
from factory import Package

CFG = load_trial()
CUTOFFS = [dt.date(2026, 5, 31), dt.date(2026, 10, 31), dt.date(2027, 6, 30)]
BLINDED = [Viewer("pi"), Viewer("steering"), Viewer("data_manager")]
DSMB = Viewer("dsmb")
ARM_CODES = {a.key: a.code for a in CFG.arms}
DE, STD = "DE-ESCALATION", "STANDARD"

# site -> [(arm, subjects, of whom die within 90 days of surgery, of whom recur)], first randomization, days apart
PLAN = {
    "01": ([(DE, 10, 10, 0), (STD, 10, 5, 0)], dt.date(2026, 1, 5), 9),
    "02": ([(DE, 10, 0, 2), (STD, 10, 0, 1)], dt.date(2026, 1, 8), 9),
    "03": ([(DE, 3, 3, 0)], dt.date(2026, 2, 1), 20),
    "04": ([(STD, 6, 1, 0)], dt.date(2026, 2, 3), 20),
    "05": ([(DE, 4, 0, 0), (STD, 4, 0, 0)], dt.date(2026, 4, 20), 30),
}


def _subjects() -> list[dict]:
    """The whole trial as planned: each subject's site, arm and dates (randomization, surgery,
    death, recurrence), the same at every cut."""
    out = []
    for site, (groups, first, step) in PLAN.items():
        k = 0
        for arm, size, deaths, recurs in groups:
            for i in range(size):
                # the two arms of a site interleaved in time
                rand = first + dt.timedelta(days=step * (2 * i + (0 if arm == DE else 1)))
                k += 1
                surgery = rand + dt.timedelta(days=10)
                out.append(
                    {
                        "subjid": f"{site}-{arm[:2]}{i + 1:02d}",
                        "site": site,
                        "arm": arm,
                        "rand": rand,
                        "surgery": surgery,
                        "death": surgery + dt.timedelta(days=40 + i) if i < deaths else None,
                        "recurrence": surgery + dt.timedelta(days=120 + 10 * i) if i < recurs else None,
                        "complication": i % 3 == 0,
                    }
                )
    return out


SUBJECTS = _subjects()


def _package(cutoff: dt.date) -> Package:
    """The trial's export at `cutoff`: the subjects randomized by then, each row dated by then."""
    pkg = Package(cutoff=cutoff)
    for site in ("03", "04", "05"):
        pkg.forms["SITES"].append(
            {"SITEID": site, "SITENAME": f"Site {site}", "COUNTRY": "CHN", "ACTDAT": "2026-01-02", "STATUS": "ACTIVE"}
        )
    for s in SUBJECTS:
        if s["rand"] > cutoff:
            continue
        operated = s["surgery"] <= cutoff
        pkg.add_subject(
            s["subjid"],
            s["site"],
            arm=s["arm"],
            randdat=s["rand"].isoformat(),
            surgery=s["surgery"].isoformat() if operated else None,
        )
        if not operated:
            continue
        sid = dict(SUBJID=s["subjid"], SITEID=s["site"])
        if s["complication"] and s["surgery"] + dt.timedelta(days=5) <= cutoff:
            pkg.add(
                "AE",
                **sid,
                AESPID="1",
                AETERM="Pharyngeal fistula",
                AEDECOD="Pharyngeal fistula",
                AESOC="Respiratory, thoracic and mediastinal disorders",
                AESTDAT=(s["surgery"] + dt.timedelta(days=5)).isoformat(),
                AETOXGR="3",
                AESER="Y",
                AECLAV="IIIB",
                AEREL="SURGERY",
            )
        if s["surgery"] + dt.timedelta(days=14) <= cutoff:
            pkg.add(
                "PATH",
                **sid,
                PATHDAT=(s["surgery"] + dt.timedelta(days=14)).isoformat(),
                MARGIN="POSITIVE" if s["complication"] else "NEGATIVE",
            )
        if s["recurrence"] and s["recurrence"] <= cutoff:
            pkg.add("RECUR", **sid, RECDAT=s["recurrence"].isoformat(), RECTYPE="LOCAL")
        if s["death"] and s["death"] <= cutoff:
            pkg.add("DD", **sid, DTHDAT=s["death"].isoformat(), DTHCAUS="DISEASE")
            pkg.add("DS", **sid, DSDECOD="DEATH", DSSTDAT=s["death"].isoformat())
            continue
        for visit, days in (("M3", 91), ("M6", 183), ("M12", 365)):
            when = s["surgery"] + dt.timedelta(days=days)
            if when <= cutoff:
                pkg.add("FU", **sid, VISIT=visit, VISDAT=when.isoformat(), SSSTAT="ALIVE")
    return pkg


def _truth(cutoff: dt.date, site: str | None = None, arm: str | None = None) -> dict:
    """Randomized, deaths and DFS events (first of recurrence and death) by `cutoff`, from the plan."""
    rows = [
        s
        for s in SUBJECTS
        if s["rand"] <= cutoff and (site is None or s["site"] == site) and (arm is None or s["arm"] == arm)
    ]
    dead = [s for s in rows if s["death"] and s["death"] <= cutoff]
    dfs = [s for s in rows if any(d and d <= cutoff for d in (s["death"], s["recurrence"]))]
    return {"randomized": len(rows), "deaths": len(dead), "dfs_events": len(dfs)}


@pytest.fixture(scope="module")
def wh(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("trends")
    for k, cutoff in enumerate(CUTOFFS):
        if k:
            time.sleep(1.05)  # a build id is its start to the second: one cut a second keeps them in order
        build(_package(cutoff).write(tmp / f"pkg-{cutoff}"), tmp / "wh")
    return tmp / "wh"


@pytest.fixture(scope="module")
def cut_dirs(wh) -> list[tuple[str, Path]]:
    """The published cuts, oldest first (dashboard.store.cuts), as (label, build folder) pairs."""
    out = [(f"cut {c.cutoff}", c.build_dir) for c in cuts.cuts(wh)]
    assert [label for label, _f in out] == [f"cut {c}" for c in CUTOFFS]
    return out


def _con(folder: Path, viewer: Viewer) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(trends.cut_file(folder, viewer)), read_only=True)


def _arm_words() -> list[str]:
    words = []
    for a in CFG.arms:
        words += [a.code, a.label] + ([a.label_zh] if a.label_zh else [])
    return words


# ------------------------------------------------------------------ site trends


@pytest.mark.parametrize("viewer", BLINDED + [DSMB], ids=lambda v: v.role)
def test_each_cut_of_the_site_trends_is_that_cuts_own_funnel(cut_dirs, viewer):
    got = trends.site_trends(cut_dirs, viewer, CFG)
    assert list(got.columns) == trends.SITE_COLUMNS
    assert list(dict.fromkeys(got.cut)) == [label for label, _f in cut_dirs]
    for label, folder in cut_dirs:
        mine = got[got.cut == label]
        assert set(mine.cutoff) == {CUTOFFS[[f for _l, f in cut_dirs].index(folder)].isoformat()}
        con = _con(folder, viewer)
        try:
            for s in CFG.safety_signals:
                single = safety.signal_by_site(con, viewer, s.name, CFG)
                rows = mine[mine.signal == s.name]
                # the same sites (the merged row too), in the same order, with the same figures
                assert list(rows.siteid) == list(single.siteid), (label, s.name)
                # but for what the trend's own rules withhold (a blinded role only): shown by the cut
                extra = rows.suppressed_code.isin(trends.TREND_RULES).to_numpy()
                assert not (viewer.closed and extra.any())
                assert single.suppressed[extra].isna().all() and single.n[extra].notna().all()
                codes = rows.suppressed_code.where(~extra, None)
                assert list(codes.fillna("")) == list(single.suppressed_code.fillna(""))
                shown = single.suppressed.isna() & ~extra
                assert list(rows.events[shown.values].astype(int)) == list(single.events[shown].astype(int))
                assert list(rows.n[shown.values].astype(int)) == list(single.n[shown].astype(int))
                assert list(rows.flag[shown.values]) == list(single.flag[shown])
                assert rows.rate[shown.values].tolist() == pytest.approx(single.rate[shown].tolist())
                if folder == cut_dirs[-1][1]:  # the latest cut is its own safety page but for the merge rule
                    assert not (rows.suppressed_code == trends.STEP_BELOW).any()
                # a withheld cell has no figure and no flag, whatever the other cuts show
                hidden = rows[rows.suppressed_code.notna()]
                assert hidden.events.isna().all() and hidden.n.isna().all() and hidden.rate.isna().all()
                assert hidden.flag.isna().all() and hidden.flagged.isna().all()
        finally:
            con.close()


def _merged_members(cut_dirs, viewer: Viewer) -> dict[str, dict[str, set[str]]]:
    """Per signal, per cut label: the sites a single cut's safety page merges into a merged row
    with figures (views/safety.py signal_by_site on each cut's own file)."""
    out: dict[str, dict[str, set[str]]] = {s.name: {} for s in CFG.safety_signals}
    for label, folder in cut_dirs:
        con = _con(folder, viewer)
        try:
            for s in CFG.safety_signals:
                single = safety.signal_by_site(con, viewer, s.name, CFG)
                merged = single[(single.siteid == blinding.MERGED) & single.suppressed.isna()]
                out[s.name][label] = {m for g in merged.merged_groups for m in str(g).split(", ")}
        finally:
            con.close()
    return out


def test_a_site_merged_at_one_cut_is_not_shown_alone_at_another(cut_dirs):
    """The merge rule: a merged row less a site shown alone at another cut would be the sites the
    merge hides. So a site merged (into a merged row with figures) at any cut of the trend is
    withheld wherever it stands alone, while the merged rows keep the figures their cut's page
    shows. Here complementary suppression merges a two-arm site with the small sites at the first
    cut, which it then withholds at the later two: with the first cut out of the trend it is back."""
    pi = Viewer("pi")
    every = trends.site_trends(cut_dirs, pi, CFG)
    members = _merged_members(cut_dirs, pi)
    withheld_alone = []
    for s in CFG.safety_signals:
        merged_somewhere = set().union(*members[s.name].values())
        alone = every[(every.signal == s.name) & (every.siteid != blinding.MERGED)]
        for r in alone.itertuples():
            if r.siteid in merged_somewhere:
                # withheld: by the merge rule, or by its own cut
                assert isinstance(r.suppressed_code, str), (s.name, r.cut, r.siteid)
                assert pd.isna(r.events) and pd.isna(r.n) and pd.isna(r.flag), (s.name, r.cut, r.siteid)
                if r.suppressed_code == trends.MERGED_ELSEWHERE:
                    withheld_alone.append((s.name, r.cut, r.siteid))
            else:
                assert r.suppressed_code != trends.MERGED_ELSEWHERE, (s.name, r.cut, r.siteid)
        # the merged rows keep their cut's figures (the step rule aside)
        rows = every[(every.signal == s.name) & (every.siteid == blinding.MERGED)]
        assert not (rows.suppressed_code == trends.MERGED_ELSEWHERE).any()
    # the two-arm site 02 is merged at the first cut (the complement of the small sites): alone later
    assert ("death_90d", cut_dirs[1][0], "02") in withheld_alone
    assert "02" in members["death_90d"][cut_dirs[0][0]] and "02" not in members["death_90d"][cut_dirs[1][0]]
    later = trends.site_trends(cut_dirs[1:], pi, CFG)
    row = later[(later.signal == "death_90d") & (later.siteid == "02")]
    assert len(row) == 2 and row.suppressed_code.isna().all() and row.n.notna().all()


def test_the_trends_hold_a_site_above_the_funnel_and_a_site_that_is_suppressed_then_shown(cut_dirs):
    got = trends.site_trends(cut_dirs, Viewer("pi"), CFG)
    last = got[got.cut == cut_dirs[-1][0]]
    deaths = last[last.signal == "death_90d"].set_index("siteid")
    assert deaths.at["01", "flag"] == "above"  # the plan's site 01: far above the others
    assert deaths.at["01", "flagged"] is True and deaths.at["01", "flag_rule"] == "threshold and any event"
    # site 05: too small at the first cut (merged with the small sites), shown by the later cuts,
    # alone or as the complement of the small sites: never alone beside a cut that merges it
    first = got[(got.cut == cut_dirs[0][0]) & (got.signal == "clavien_3a_plus_30d")]
    assert "05" not in set(first.siteid)
    assert "05" in (first.merged_groups.dropna().iloc[0] if first.merged_groups.notna().any() else "")
    alone = got[(got.siteid == "05")]
    assert alone.n.isna().all() and set(alone.suppressed_code) <= {trends.MERGED_ELSEWHERE}


def test_suppressed_site_cells_stay_suppressed_in_every_cut(cut_dirs):
    """Sites 03 (three subjects, one arm) and 04 (one arm) never appear with figures of their own."""
    for viewer in BLINDED:
        got = trends.site_trends(cut_dirs, viewer, CFG)
        for site in ("03", "04"):
            own = got[got.siteid == site]
            assert own.events.isna().all() and own.n.isna().all(), (viewer.role, site)
        # wherever they are counted, it is inside the merged row of several sites
        merged = got[got.merged_groups.notna()]
        assert all(len(m.split(", ")) > 1 for m in merged.merged_groups)
        assert set(got.siteid.dropna()) <= {"01", "02", "03", "04", "05", blinding.MERGED}


def test_a_site_investigator_sees_its_own_site_as_its_safety_page_shows_it(cut_dirs):
    for site in ("01", "02", "03", "05"):
        viewer = Viewer("site", site=site)
        got = trends.site_trends(cut_dirs, viewer, CFG)
        assert set(got.siteid) == {site}, site
        assert got.flag.isna().all()  # no funnel for one site
        for label, folder in cut_dirs:
            con = _con(folder, viewer)
            try:
                single = safety.pooled(con, viewer, CFG)
            finally:
                con.close()
            rows = got[got.cut == label].set_index("signal")
            if "suppressed" in single:
                assert set(rows.suppressed_code) == {single["suppressed_code"]}, (site, label)
                assert rows.events.isna().all()
                continue
            for sig in single["signals"]:
                r = rows.loc[sig["name"]]
                if r.suppressed_code == trends.STEP_BELOW:  # the step to the next point shown: not the last cut
                    assert label != cut_dirs[-1][0] and pd.isna(r.events) and pd.isna(r.n), (site, label)
                    continue
                assert pd.isna(r.suppressed), (site, label, sig["name"])
                assert (int(r.events), int(r.n), bool(r.flagged)) == (sig["events"], sig["n"], sig["flagged"])
                assert r.flag_rule == sig["flag_rule"]
    # the one-arm site of three subjects: withheld at every cut
    three = trends.site_trends(cut_dirs, Viewer("site", site="03"), CFG)
    assert three.suppressed_code.notna().all() and three.events.isna().all()


# ------------------------------------------------------------------ trial trends


@pytest.mark.parametrize("viewer", BLINDED + [DSMB], ids=lambda v: v.role)
def test_trial_trends_equal_the_plan_and_the_single_cuts(cut_dirs, viewer):
    got = trends.trial_trends(cut_dirs, viewer, CFG)
    assert list(got.cutoff) == [c.isoformat() for c in CUTOFFS]
    for cutoff, (label, folder), row in zip(CUTOFFS, cut_dirs, got.itertuples(), strict=True):
        truth = _truth(cutoff)
        assert (row.randomized, row.deaths, row.dfs_events) == tuple(truth.values()), (viewer.role, label)
        assert row.information_fraction == pytest.approx(truth["deaths"] / CFG.design.expected_deaths_final)
        con = _con(folder, viewer)
        try:
            single = outcomes.pooled(con, viewer, CFG)
        finally:
            con.close()
        assert row.deaths == single["design"]["observed_deaths"] == single["os"]["pooled"]["events"]
        assert row.dfs_events == single["dfs"]["pooled"]["events"]
    assert list(got.randomized) == sorted(got.randomized) and got.randomized.iloc[0] < got.randomized.iloc[-1]
    assert got.deaths.iloc[0] < got.deaths.iloc[-1]
    by_arm = [c for c in got.columns if c.endswith(tuple(f"_{k}" for k in ARM_CODES))]
    if viewer.closed:
        for cutoff, row in zip(CUTOFFS, got.to_dict("records"), strict=True):
            for key, code in ARM_CODES.items():
                truth = _truth(cutoff, arm=code)
                assert (row[f"randomized_{key}"], row[f"deaths_{key}"], row[f"dfs_events_{key}"]) == tuple(
                    truth.values()
                )
    else:
        assert by_arm == []


def test_the_cuts_of_the_store_name_the_rows(wh, cut_dirs):
    """dashboard.store.cuts records are taken as they are: each row carries its cut's label."""
    records = cuts.cuts(wh)
    got = trends.trial_trends(records, Viewer("pi"), CFG)
    assert list(got.cut) == [c.label for c in records] and list(got.build_id) == [c.build_id for c in records]
    sites = trends.site_trends(records, Viewer("pi"), CFG)
    pairs = trends.site_trends(cut_dirs, Viewer("pi"), CFG)
    assert list(dict.fromkeys(sites.cut)) == [c.label for c in records]
    pd.testing.assert_frame_equal(sites.drop(columns="cut"), pairs.drop(columns="cut"))


def test_trial_trends_of_a_site_investigator(cut_dirs):
    """A site's own trial row: randomized at every cut (allocation, which every role reads), the
    events where the cut shows them and the step to the next cut shown keeps the cell rule: site 01
    goes from 9 + 8 subjects at the first cut to 10 + 10 at the second (three new subjects), so the
    first cut's events would be the step's; the last two cuts are 10 + 10 both."""
    for site in ("01", "02", "03"):
        got = trends.trial_trends(cut_dirs, Viewer("site", site=site), CFG)
        assert got.information_fraction.isna().all()  # the trial's, not one site's
        for k, (cutoff, row) in enumerate(zip(CUTOFFS, got.itertuples(), strict=True)):
            truth = _truth(cutoff, site=site)
            assert row.randomized == truth["randomized"]
            if site == "03":  # one arm, three subjects: its deaths are an arm's
                assert pd.isna(row.deaths) and pd.isna(row.dfs_events) and row.suppressed_code
            elif k == 0:  # the step to the second cut: 1 + 2 subjects at 01, 2 + 2 at 02
                assert pd.isna(row.deaths) and row.suppressed_code == trends.STEP_BELOW, site
            else:
                assert (row.deaths, row.dfs_events) == (truth["deaths"], truth["dfs_events"])
                assert pd.isna(row.suppressed_code)


def test_no_arm_reaches_a_blinded_role(cut_dirs):
    words = _arm_words()
    for viewer in BLINDED + [Viewer("site", site="01"), Viewer("site", site="04")]:
        for lang in ("en", "zh"):
            with i18n.using(lang):
                site_df = trends.site_trends(cut_dirs, viewer, CFG)
                trial_df = trends.trial_trends(cut_dirs, viewer, CFG)
                tables = [trends.site_table(site_df, CFG), trends.trial_table(trial_df, CFG)]
                figs = [
                    trend_figures.trial(trial_df, CFG),
                    trend_figures.sites(site_df, trends.site_order(site_df), mark="rule" if viewer.site else "funnel"),
                ]
            text = " ".join(
                [site_df.to_json(force_ascii=False), trial_df.to_json(force_ascii=False)]
                + [t.to_json(force_ascii=False) for t in tables]
                + [f.to_json() for f in figs]
            )
            for word in words:
                assert word not in text, (viewer, lang, word)
            assert not any("arm" in c.lower() for c in list(site_df.columns) + list(trial_df.columns))
    # the closed session's table names the arms: the words above are the right ones to look for
    closed = trends.trial_table(trends.trial_trends(cut_dirs, DSMB, CFG), CFG).to_json(force_ascii=False)
    assert all(a.label in closed for a in CFG.arms)


# ------------------------------------------------------------------ tables and figures


def test_site_table_and_figure_show_what_the_rows_say(cut_dirs):
    df = trends.site_trends(cut_dirs, Viewer("pi"), CFG)
    table = trends.site_table(df, CFG)
    assert list(table.columns[2:]) == [label for label, _f in cut_dirs]
    row = table[(table.iloc[:, 0] == "01") & (table.iloc[:, 1] == CFG.safety_signals[1].label)]
    last = df[(df.cut == cut_dirs[-1][0]) & (df.siteid == "01") & (df.signal == "death_90d")].iloc[0]
    assert row.iloc[0, -1].startswith(f"{last.events}/{last.n} (") and "above the funnel limits" in row.iloc[0, -1]
    # what the trend's own rules withhold, in words
    cells = " ".join(str(v) for v in table.iloc[:, 2:].to_numpy().ravel())
    assert trends.STEP_BELOW in cells and trends.MERGED_ELSEWHERE in cells

    order = trends.site_order(df)
    assert order[-1] == blinding.MERGED and order[:2] == ["01", "02"]
    fig = trend_figures.sites(df, order)
    panels = [a.text for a in fig.layout.annotations]
    assert panels[: len(order)] == [df[df.siteid == s].site_label.iloc[0] for s in order]
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    assert len(lines) == len(order) * len(CFG.safety_signals)
    marked = sum(len(t.x) for t in fig.data if t.mode == "markers")
    assert marked == int(df.flag.isin(trends.OUTSIDE).sum()) > 0


def test_the_panels_are_the_flagged_sites_then_the_most_events(cut_dirs):
    df = trends.site_trends(cut_dirs, Viewer("pi"), CFG)
    shown = df[df.suppressed_code.isna()]
    outside = sorted(set(shown.siteid[shown.flag.isin(trends.OUTSIDE)]))
    assert outside == ["01"]  # the plan's site far above the others
    panels, flagged = trends.panel_sites(df, limit=1)
    assert panels == flagged == ["01"]
    # then by events at each site's latest point shown, summed over the signals
    latest = shown.sort_values("build_id").groupby(["siteid", "signal"]).events.last().groupby(level=0).sum()
    rest = sorted((s for s in latest.index if s != "01"), key=lambda s: (-int(latest[s]), s))
    panels, flagged = trends.panel_sites(df, limit=2)
    assert flagged == ["01"] and set(panels) == {"01", rest[0]}
    every, _flagged = trends.panel_sites(df, limit=trends.PANELS)
    assert every == trends.site_order(df)  # a site with no point shown too, with a panel of gaps


def test_trial_figure_has_the_information_fraction_and_the_looks(cut_dirs):
    df = trends.trial_trends(cut_dirs, Viewer("pi"), CFG)
    fig = trend_figures.trial(df, CFG)
    names = [t.name for t in fig.data]
    assert names == ["randomized", "deaths", "DFS events", "information fraction"]
    assert list(fig.data[3].y) == pytest.approx(list(df.information_fraction))
    looks = [s.y0 for s in fig.layout.shapes]
    assert looks == list(CFG.design.interim_fractions) + [1.0]
    closed = trend_figures.trial(trends.trial_trends(cut_dirs, DSMB, CFG), CFG)
    assert len(closed.data) == 4 + len(CFG.arms)
    site_fig = trend_figures.trial(trends.trial_trends(cut_dirs, Viewer("site", site="01"), CFG), CFG)
    assert [t.name for t in site_fig.data] == ["randomized", "deaths", "DFS events"]


def test_a_cut_label_with_markup_is_shown_as_typed(cut_dirs):
    named = [("<b>DSMB</b> look 1", cut_dirs[0][1])] + cut_dirs[1:]
    fig = trend_figures.trial(trends.trial_trends(named, Viewer("pi"), CFG), CFG)
    assert "<b>" not in json.dumps(list(fig.data[0].text))
    assert "&lt;b&gt;DSMB&lt;/b&gt; look 1" in fig.data[0].text[0]


# ------------------------------------------------------------------ the page


def _page(wh: Path, viewer: Viewer, lang: str | None = None):
    clear_caches()
    with serving(wh):
        at = open_page(viewer, "trends.py", lang=lang)
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize(
    "viewer",
    [Viewer("pi"), Viewer("site", site="01"), Viewer("site", site="03"), DSMB],
    ids=lambda v: v.role + (v.site or ""),
)
def test_the_page_renders_for_each_role(wh, cut_dirs, viewer):
    at = _page(wh, viewer)
    text = page_text(at)
    assert "Trends across cuts" in text
    for cutoff in CUTOFFS:
        assert cutoff.isoformat() in text
    assert len(at.get("plotly_chart")) == 2
    if not viewer.closed:
        for word in _arm_words():
            assert word not in text, (viewer, word)
    else:
        assert all(a.label in text for a in CFG.arms)
    if viewer.site == "03":
        assert "withheld" in text
    if viewer.closed:  # the closed files of every cut were read: all of them on the record
        from dashboard.access import audit

        entry = [e for e in audit.read(lenient=True) if e.get("action") == "closed view: trends"][-1]
        assert entry["detail"]["cuts"] == [folder.name for _label, folder in cut_dirs]
        assert entry["data_cut"]["build_id"] == cut_dirs[-1][1].name


def test_the_page_draws_at_most_the_panel_limit_and_says_which(wh, cut_dirs, monkeypatch):
    """With the limit at 2 the page draws two panels (the flagged site, then the most events), says
    which, and the table still holds every site."""
    monkeypatch.setattr(trends, "PANELS", 2)
    at = _page(wh, Viewer("pi"))
    text = page_text(at)
    import json

    [_trial_chart, sites_chart] = at.get("plotly_chart")
    spec = json.loads(sites_chart.proto.spec)
    df = trends.site_trends(cut_dirs, Viewer("pi"), CFG)
    panels, flagged = trends.panel_sites(df, limit=2)
    assert flagged == ["01"] and len(panels) == 2
    titles = [a["text"] for a in spec["layout"]["annotations"]]
    assert titles[:2] == [df[df.siteid == s].site_label.iloc[0] for s in panels]
    assert len({t["xaxis"] for t in spec["data"]}) == 2  # two panels drawn
    total = len(trends.site_order(df))
    assert total > 2 and f"Panels for 2 of the {total} sites" in text and "any cut (01)" in text
    table = at.dataframe[-1].value  # every site's row, the merged sites as one
    assert len(set(table.iloc[:, 0])) == total


def test_the_page_in_chinese(wh, cut_dirs):
    at = _page(wh, Viewer("pi"), lang="zh")
    with i18n.using("zh"):
        title = i18n._("Trends across cuts")
    assert at.title[0].value == title
    text = page_text(at)
    for word in _arm_words():
        assert word not in text


# ------------------------------------------------------------------ the step rule
# A second trial, three cuts: site 01 has 5 + 5 subjects at A, one more de-escalation subject by B
# (positive margin, dead 40 days after surgery: the adversary's case), and two more of each arm by
# C; site 02 has 5 + 5 at A and 3 + 3 more by B, nobody new by C. Every window of the operated
# signals (30 and 90 days) is complete at each cut-off for every subject operated by it.
STEP_CUTS = [dt.date(2026, 6, 30), dt.date(2026, 12, 31), dt.date(2027, 6, 30)]


def _step_subjects() -> list[dict]:
    out = []

    def add(subjid, site, arm, rand, positive=False, death_days=None):
        surgery = rand + dt.timedelta(days=10)
        death = surgery + dt.timedelta(days=death_days) if death_days else None
        out.append(dict(subjid=subjid, site=site, arm=arm, rand=rand, surgery=surgery, positive=positive, death=death))

    for site, first in (("01", dt.date(2026, 1, 5)), ("02", dt.date(2026, 1, 7))):
        for i in range(10):
            add(f"{site}-{i + 1:03d}", site, DE if i % 2 == 0 else STD, first + dt.timedelta(days=8 * i), i in (0, 3))
    add("01-011", "01", DE, dt.date(2026, 8, 1), positive=True, death_days=40)
    for j in range(6):
        add(
            f"02-{11 + j:03d}", "02", DE if j % 2 == 0 else STD, dt.date(2026, 7, 15) + dt.timedelta(days=7 * j), j == 1
        )
    for j, (arm, day) in enumerate(((DE, "2027-01-20"), (STD, "2027-01-25"), (DE, "2027-02-05"), (STD, "2027-02-10"))):
        add(f"01-{12 + j:03d}", "01", arm, dt.date.fromisoformat(day), positive=j == 0)
    return out


STEP_SUBJECTS = _step_subjects()


def _step_package(cutoff: dt.date) -> Package:
    pkg = Package(cutoff=cutoff)
    for s in STEP_SUBJECTS:
        if s["rand"] > cutoff:
            continue
        pkg.add_subject(
            s["subjid"], s["site"], arm=s["arm"], randdat=s["rand"].isoformat(), surgery=s["surgery"].isoformat()
        )
        sid = dict(SUBJID=s["subjid"], SITEID=s["site"])
        pathdat = s["surgery"] + dt.timedelta(days=14)
        pkg.add("PATH", **sid, PATHDAT=pathdat.isoformat(), MARGIN="POSITIVE" if s["positive"] else "NEGATIVE")
        if s["death"] and s["death"] <= cutoff:
            pkg.add("DD", **sid, DTHDAT=s["death"].isoformat(), DTHCAUS="DISEASE")
            pkg.add("DS", **sid, DSDECOD="DEATH", DSSTDAT=s["death"].isoformat())
    return pkg


@pytest.fixture(scope="module")
def step_cuts(tmp_path_factory) -> list[tuple[str, Path]]:
    tmp = tmp_path_factory.mktemp("trend-steps")
    for k, cutoff in enumerate(STEP_CUTS):
        if k:
            time.sleep(1.05)
        build(_step_package(cutoff).write(tmp / f"pkg-{cutoff}"), tmp / "wh")
    return [(c.cutoff, c.build_dir) for c in cuts.cuts(tmp / "wh")]


def _arm_balance(folder: Path) -> dict:
    """Each site's allocation as the arm-balance page shows it (views/enrollment.py)."""
    from dashboard.views import enrollment

    con = _con(folder, Viewer("pi"))
    try:
        return enrollment.allocation(con, Viewer("pi"), CFG)["by_site"]
    finally:
        con.close()


def _single(folder: Path, signal: str, site: str) -> tuple[int, int]:
    con = _con(folder, Viewer("pi"))
    try:
        row = safety.signal_by_site(con, Viewer("pi"), signal, CFG).set_index("siteid").loc[site]
    finally:
        con.close()
    return int(row.events), int(row.n)


def _points(df: pd.DataFrame, site: str, signal: str) -> dict[str, tuple[int, int] | str]:
    rows = df[(df.siteid == site) & (df.signal == signal)]
    return {
        r.cutoff: (r.suppressed_code if isinstance(r.suppressed_code, str) else (int(r.events), int(r.n)))
        for r in rows.itertuples()
    }


def test_the_step_cuts_are_what_the_plan_says(step_cuts):
    balance = [_arm_balance(folder) for _c, folder in step_cuts]
    assert [b["01"] for b in balance] == [{DE: 5, STD: 5}, {DE: 6, STD: 5}, {DE: 8, STD: 7}]
    assert [b["02"] for b in balance] == [{DE: 5, STD: 5}, {DE: 8, STD: 8}, {DE: 8, STD: 8}]
    # each single cut shows both sites' positive margins: 01 2/10, 3/11 (the new subject's), 4/15
    assert [_single(f, "positive_margin", "01") for _c, f in step_cuts] == [(2, 10), (3, 11), (4, 15)]


def test_a_step_of_one_subject_of_one_arm_withholds_the_earlier_point(step_cuts):
    """Site 01 gains one de-escalation subject between A and B: A's point beside B's would give that
    subject's margin and death, of a known arm. The cut in view (B) is its own safety page: A is
    withheld; site 02, which gained 3 + 3, keeps both points."""
    a, b = step_cuts[0], step_cuts[1]
    got = trends.site_trends([a, b], Viewer("pi"), CFG)
    for signal in ("positive_margin", "death_90d", "clavien_3a_plus_30d"):
        pts = _points(got, "01", signal)
        assert pts[a[0]] == trends.STEP_BELOW, signal
        assert pts[b[0]] == _single(b[1], signal, "01"), signal
        pts = _points(got, "02", signal)
        assert pts == {a[0]: _single(a[1], signal, "02"), b[0]: _single(b[1], signal, "02")}, signal
    assert _points(got, "01", "death_90d")[b[0]] == (1, 11)
    hidden = got[got.suppressed_code == trends.STEP_BELOW]
    assert (
        hidden.events.isna().all() and hidden.n.isna().all() and hidden.rate.isna().all() and hidden.flag.isna().all()
    )
    assert set(hidden.suppressed) == {trends.STEP_BELOW}  # the words, in English here
    with i18n.using("zh"):
        zh = trends.site_trends([a, b], Viewer("pi"), CFG)
        words = i18n._(trends.STEP_BELOW)
    assert set(zh[zh.suppressed_code == trends.STEP_BELOW].suppressed) == {words}


def test_a_withheld_point_is_skipped_and_the_step_judged_from_the_next_shown(step_cuts):
    """Over A, B and C: site 01 gains 2 + 2 from B to C (four subjects: below the cell), so B is
    withheld; A is then judged against C, 3 + 2 subjects later (five, both arms): shown. Site 02
    gains nobody from B to C and 3 + 3 from A to B: every point shown."""
    got = trends.site_trends(step_cuts, Viewer("pi"), CFG)
    (a, fa), (b, _fb), (c, fc) = step_cuts
    pts = _points(got, "01", "positive_margin")
    assert pts == {a: _single(fa, "positive_margin", "01"), b: trends.STEP_BELOW, c: (4, 15)}
    assert all(isinstance(v, tuple) for v in _points(got, "02", "positive_margin").values())


def test_no_two_neighbouring_points_shown_differ_by_a_step_below_the_cell_rule(step_cuts, cut_dirs):
    """The property, on both trials, for every blinded role's site rows: between two points of a
    site shown (oldest first), the site's allocation (the arm-balance page) gains nobody, or both
    arms and at least the minimum cell; the signal's denominator moves by nobody or at least the
    minimum cell."""
    min_cell = CFG.blinding.min_cell_size
    checked = 0
    for dirs in (step_cuts, cut_dirs):
        balance = {folder.name: _arm_balance(folder) for _c, folder in dirs}
        got = trends.site_trends(dirs, Viewer("pi"), CFG)
        shown = got[got.suppressed_code.isna() & (got.siteid != blinding.MERGED)].sort_values("build_id")
        for (site, _signal), rows in shown.groupby(["siteid", "signal"]):
            points = list(rows.itertuples())
            for p, q in zip(points, points[1:], strict=False):
                gains = [balance[q.build_id][site][arm] - balance[p.build_id][site][arm] for arm in (DE, STD)]
                assert not any(gains) or blinding.check_counts(gains, min_cell).ok, (site, p.cut, q.cut, gains)
                moved = abs(int(q.n) - int(p.n))
                assert moved == 0 or moved >= min_cell, (site, p.cut, q.cut, moved)
                checked += 1
    assert checked >= 10


def test_a_site_investigators_events_obey_the_step_rule(step_cuts):
    a, b = step_cuts[0], step_cuts[1]
    one = trends.trial_trends([a, b], Viewer("site", site="01"), CFG)
    assert list(one.randomized) == [10, 11]  # allocation: every role reads it
    assert pd.isna(one.deaths.iloc[0]) and one.suppressed_code.iloc[0] == trends.STEP_BELOW
    assert (one.deaths.iloc[1], one.dfs_events.iloc[1]) == (1, 1)
    two = trends.trial_trends([a, b], Viewer("site", site="02"), CFG)
    assert list(two.randomized) == [10, 16] and two.deaths.notna().all() and two.suppressed_code.isna().all()
    rows = trends.site_trends([a, b], Viewer("site", site="01"), CFG)
    assert set(rows[rows.cutoff == a[0]].suppressed_code) == {trends.STEP_BELOW}
    assert rows[rows.cutoff == b[0]].suppressed_code.isna().all()
    # the whole trial's rows are pooled over every site: kept
    pi = trends.trial_trends([a, b], Viewer("pi"), CFG)
    assert pi.deaths.notna().all() and list(pi.randomized) == [20, 27]


def test_the_closed_session_sees_every_cut_as_it_is(step_cuts):
    got = trends.site_trends(step_cuts, DSMB, CFG)
    assert not got.suppressed_code.isin(trends.TREND_RULES).any()
    assert [_points(got, "01", "positive_margin")[c] for c, _f in step_cuts] == [(2, 10), (3, 11), (4, 15)]
