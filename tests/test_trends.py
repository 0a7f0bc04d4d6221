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
                # but for a merged row whose sites change between the cuts: withheld from the trend
                changed = (rows.suppressed_code == trends.MERGE_CHANGED).to_numpy()
                assert all(single.siteid[changed] == blinding.MERGED) and single.suppressed[changed].isna().all()
                codes = rows.suppressed_code.where(~changed, None)
                assert list(codes.fillna("")) == list(single.suppressed_code.fillna(""))
                shown = single.suppressed.isna() & ~changed
                assert list(rows.events[shown.values].astype(int)) == list(single.events[shown].astype(int))
                assert list(rows.n[shown.values].astype(int)) == list(single.n[shown].astype(int))
                assert list(rows.flag[shown.values]) == list(single.flag[shown])
                assert rows.rate[shown.values].tolist() == pytest.approx(single.rate[shown].tolist())
                # a withheld cell has no figure and no flag, whatever the other cuts show
                hidden = rows[rows.suppressed_code.notna()]
                assert hidden.events.isna().all() and hidden.n.isna().all() and hidden.rate.isna().all()
                assert hidden.flag.isna().all() and hidden.flagged.isna().all()
        finally:
            con.close()


def test_a_merged_row_is_shown_only_where_it_hides_the_same_sites_at_every_cut(cut_dirs):
    """At the first cut the merged row holds 03, 04 and 05; at the later two 03 and 04, and 05 is
    shown alone: side by side, one merged row less the other would be nearly a site's figure that
    no cut shows. Over all three cuts the merged row is withheld; over the last two it is shown,
    with that cut's own figures."""
    every = trends.site_trends(cut_dirs, Viewer("pi"), CFG)
    merged = every[every.siteid == blinding.MERGED]
    changed = merged[merged.suppressed_code == trends.MERGE_CHANGED]
    assert len(changed) and changed.events.isna().all() and changed.flag.isna().all()
    # only the signals whose hidden sites changed (the recurrence signal has no merged row at the first cut)
    assert set(changed.signal) == {s.name for s in CFG.safety_signals} - {"local_recurrence_12m"}
    assert every[(every.siteid == blinding.MERGED) & (every.signal == "local_recurrence_12m")].suppressed.isna().all()
    later = trends.site_trends(cut_dirs[1:], Viewer("pi"), CFG)
    merged = later[later.siteid == blinding.MERGED]
    assert len(merged) and merged.suppressed.isna().all() and set(merged.merged_groups) == {"03, 04"}
    for label, folder in cut_dirs[1:]:
        con = _con(folder, Viewer("pi"))
        try:
            for s in CFG.safety_signals:
                single = safety.signal_by_site(con, Viewer("pi"), s.name, CFG)
                single = single[single.siteid == blinding.MERGED]
                rows = merged[(merged.cut == label) & (merged.signal == s.name)]
                assert rows.events.tolist() == single.events.tolist(), (label, s.name)
                assert rows.n.tolist() == single.n.tolist(), (label, s.name)
        finally:
            con.close()


def test_the_trends_hold_a_site_above_the_funnel_and_a_site_that_is_suppressed_then_shown(cut_dirs):
    got = trends.site_trends(cut_dirs, Viewer("pi"), CFG)
    last = got[got.cut == cut_dirs[-1][0]]
    deaths = last[last.signal == "death_90d"].set_index("siteid")
    assert deaths.at["01", "flag"] == "above"  # the plan's site 01: far above the others
    assert deaths.at["01", "flagged"] is True and deaths.at["01", "flag_rule"] == "threshold and any event"
    # site 05: 2 subjects at the first cut (merged with the small sites), 8 of both arms at the last
    first = got[(got.cut == cut_dirs[0][0]) & (got.signal == "clavien_3a_plus_30d")]
    assert "05" not in set(first.siteid)
    assert "05" in (first.merged_groups.dropna().iloc[0] if first.merged_groups.notna().any() else "")
    assert "05" in set(last.siteid) and last[last.siteid == "05"].suppressed.isna().all()


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
            assert rows.suppressed.isna().all()
            for sig in single["signals"]:
                r = rows.loc[sig["name"]]
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
    for site in ("01", "03"):
        got = trends.trial_trends(cut_dirs, Viewer("site", site=site), CFG)
        assert got.information_fraction.isna().all()  # the trial's, not one site's
        for cutoff, row in zip(CUTOFFS, got.itertuples(), strict=True):
            truth = _truth(cutoff, site=site)
            assert row.randomized == truth["randomized"]
            if site == "03":  # one arm, three subjects: its deaths are an arm's
                assert pd.isna(row.deaths) and pd.isna(row.dfs_events) and row.suppressed_code
            else:
                assert (row.deaths, row.dfs_events) == (truth["deaths"], truth["dfs_events"])


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
    # the merged row, whose sites change between the cuts
    assert any(trends.MERGE_CHANGED in str(v) for v in table.iloc[:, 2:].to_numpy().ravel())

    order = trends.site_order(df)
    assert order[-1] == blinding.MERGED and order[:2] == ["01", "02"]
    fig = trend_figures.sites(df, order)
    panels = [a.text for a in fig.layout.annotations]
    assert panels[: len(order)] == [df[df.siteid == s].site_label.iloc[0] for s in order]
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    assert len(lines) == len(order) * len(CFG.safety_signals)
    marked = sum(len(t.x) for t in fig.data if t.mode == "markers")
    assert marked == int(df.flag.isin(trends.OUTSIDE).sum()) > 0


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


def test_the_page_in_chinese(wh, cut_dirs):
    at = _page(wh, Viewer("pi"), lang="zh")
    with i18n.using("zh"):
        title = i18n._("Trends across cuts")
    assert at.title[0].value == title
    text = page_text(at)
    for word in _arm_words():
        assert word not in text
