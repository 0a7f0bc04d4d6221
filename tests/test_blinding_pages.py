"""The blinding rule on every page: with arms whose outcomes differ clearly, no blinded role sees
an arm next to an outcome, an arm-level estimate, or a pooled figure of a one-arm or small site.

The package: sites 01 and 02 with 10 subjects per arm each; in the de-escalation arm 7 of 10 die
within about two months and 7 of 10 have a serious grade 3 complication (Clavien IIIB) and a
positive margin, in the standard arm 1 and 3 of 10. Site 03 has 3 subjects, all de-escalation,
who all die (too small and one arm); site 04 has 6, all standard, 1 dies and 2 have the
complication (large enough, but one arm): any pooled outcome of site 03 or 04 is an arm-level
figure. Survivors are seen 2 years on.

The figures a page could leak are not written here: they are computed in the test from the
closed warehouse of the build (closed.duckdb, which holds the arm), by arm, for the whole trial
and for each site, in the formats the pages print ("73.9%", "0.739", "73.9", "Events 17",
"(17/23)", ...). A value that equals a pooled figure a role may see (or a configured constant)
is not an arm-level leak and is left out; every remaining one must be absent from every page of
every blinded role and from their summary JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass, field
from fractions import Fraction

import duckdb
import pandas as pd
import pytest
from scipy.stats import beta, norm

from apptest import clear_caches, open_page, page_text, serving
from dashboard import i18n
from dashboard.access.roles import Viewer, pages_for
from dashboard.config import load_trial
from dashboard.ingest.build import build
from dashboard.outputs.summary import summary
from dashboard.store import warehouse
from factory import Package

CFG = load_trial()
ARMS = [a.code for a in CFG.arms]
ARM_WORDS = [
    "DE-ESCALATION",
    "De-escalation surgery",
    "STANDARD SURGERY",
    "Standard surgery",
    *(a.label_zh for a in CFG.arms if a.label_zh),  # the arms' names in Chinese (降阶梯手术, 标准手术)
]  # I08 names "de-escalation surgery" as a criterion: not an arm
LANGS = ["en", "zh"]
"""Every page is checked in both languages: a translation must not add what the English withholds."""
BLINDED = [
    Viewer("pi"),
    Viewer("steering"),
    Viewer("data_manager"),
    Viewer("site", "01"),
    Viewer("site", "03"),
    Viewer("site", "04"),
]
OUTCOME_PAGES = ["deviations", "survival", "safety", "data_quality", "changes", "trends"]
Z = norm.ppf(0.975)


def _trial() -> Package:
    pkg = Package()
    pkg.forms["SITES"].append(
        {
            "SITEID": "03",
            "SITENAME": "四川大学华西口腔医院",
            "CITY": "成都",
            "COUNTRY": "CHN",
            "ACTDAT": "2026-01-20",
            "STATUS": "ACTIVE",
        }
    )
    pkg.forms["SITES"].append(
        {
            "SITEID": "04",
            "SITENAME": "浙江大学医学院附属第一医院",
            "CITY": "杭州",
            "COUNTRY": "CHN",
            "ACTDAT": "2026-01-25",
            "STATUS": "ACTIVE",
        }
    )
    n = 0
    # site -> arm -> (subjects, of whom die, of whom have the complication and a positive margin)
    plan = {
        "01": {"DE-ESCALATION": (10, 7, 7), "STANDARD": (10, 1, 3)},
        "02": {"DE-ESCALATION": (10, 7, 7), "STANDARD": (10, 1, 3)},
        "03": {"DE-ESCALATION": (3, 3, 3)},
        "04": {"STANDARD": (6, 1, 2)},
    }
    for site, arms in plan.items():
        for arm, (size, deaths, complications) in arms.items():
            for k in range(size):
                n += 1
                subjid = f"{site}-{n:03d}"
                rand = dt.date(2026, 3, 1) + dt.timedelta(days=n)
                surgery = rand + dt.timedelta(days=10)
                pkg.add_subject(subjid, site, arm=arm, randdat=rand.isoformat(), surgery=surgery.isoformat())
                dies = k < deaths
                sick = k < complications
                if sick:
                    pkg.add(
                        "AE",
                        SUBJID=subjid,
                        SITEID=site,
                        AESPID="1",
                        AETERM="咽瘘",
                        AEDECOD="Pharyngeal fistula",
                        AESOC="Respiratory, thoracic and mediastinal disorders",
                        AESTDAT=(surgery + dt.timedelta(days=5)).isoformat(),
                        AETOXGR="3",
                        AESER="Y",
                        AECLAV="IIIB",
                        AEREL="SURGERY",
                    )
                if dies:
                    death = rand + dt.timedelta(days=60 + k)
                    pkg.add("DD", SUBJID=subjid, SITEID=site, DTHDAT=death.isoformat(), DTHCAUS="DISEASE")
                    pkg.add("DS", SUBJID=subjid, SITEID=site, DSDECOD="DEATH", DSSTDAT=death.isoformat())
                else:
                    pkg.add(
                        "FU",
                        SUBJID=subjid,
                        SITEID=site,
                        VISIT="M24",
                        VISDAT=(surgery + dt.timedelta(days=730)).isoformat(),
                        SSSTAT="ALIVE",
                    )
                pkg.add(
                    "PATH",
                    SUBJID=subjid,
                    SITEID=site,
                    PATHDAT=(surgery + dt.timedelta(days=14)).isoformat(),
                    MARGIN="POSITIVE" if sick else "NEGATIVE",
                )
    return pkg


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("blind")
    build(_trial().write(tmp / "pkg"), tmp / "wh")
    with serving(tmp / "wh") as path:
        yield path


@pytest.fixture(autouse=True)
def fresh_caches():
    clear_caches()


# ------------------------------------------------------------------ figures from closed.duckdb
def closed_subjects(wh) -> pd.DataFrame:
    """Per randomized subject, read from the build's closed file: arm, site, survival times and
    the facts the safety figures count (from the CRF tables and trial.toml, not the views)."""
    path = warehouse.current_build(wh) / warehouse.CLOSED
    con = duckdb.connect(str(path), read_only=True)
    try:
        df = con.execute(
            """
            with surgery as (select subjid, min(prdat) as surgery_date from crf_pr group by subjid),
            ae as (
                select a.subjid,
                       true as any_ae,
                       bool_or(a.aetoxgr >= 3) as grade3plus,
                       bool_or(a.aeser = 'Y') as serious,
                       bool_or(a.aeimmune = 'Y' and a.aetoxgr >= 3) as immune_grade3plus,
                       bool_or(a.aeimmune = 'Y' and a.aetoxgr >= 3
                               and a.aestdat <= r.randdat) as immune_grade3plus_neoadjuvant,
                       min(a.aestdat - s.surgery_date)
                           filter (where list_contains($serious, a.aeclav) and a.aestdat >= s.surgery_date)
                           as first_clavien_3a_plus_day
                from crf_ae as a join crf_rand as r using (subjid) left join surgery as s using (subjid)
                group by a.subjid
            )
            select r.subjid, r.siteid, r.arm, r.randdat, s.surgery_date,
                   s.surgery_date is not null as operated,
                   p.margin is not null as with_pathology, coalesce(p.margin = 'POSITIVE', false) as positive_margin,
                   coalesce(ae.any_ae, false) as any_ae, coalesce(ae.grade3plus, false) as grade3plus,
                   coalesce(ae.serious, false) as serious, coalesce(ae.immune_grade3plus, false) as immune_grade3plus,
                   coalesce(ae.immune_grade3plus_neoadjuvant, false) as immune_grade3plus_neoadjuvant,
                   ae.first_clavien_3a_plus_day,
                   dd.dthdat - s.surgery_date as death_day_after_surgery,
                   rc.local_date - r.randdat as local_recurrence_day,
                   b.cutoff_date - s.surgery_date as days_since_surgery,
                   b.cutoff_date - r.randdat as days_since_randomization,
                   sv.os_days, sv.os_event, sv.dfs_days, sv.dfs_event
            from crf_rand as r
            cross join build_info as b
            left join surgery as s using (subjid)
            left join crf_path as p using (subjid)
            left join ae using (subjid)
            left join crf_dd as dd using (subjid)
            left join (select subjid, min(recdat) filter (where rectype = 'LOCAL') as local_date
                       from crf_recur group by subjid) as rc using (subjid)
            join survival as sv using (subjid)
            order by r.subjid
        """,
            {"serious": CFG.safety.clavien_serious},
        ).df()
    finally:
        con.close()
    return df


def km(times, events, t: float) -> dict | None:
    """Kaplan-Meier at t (events at t included) with Greenwood's variance and the log-log 95%
    interval; None beyond the longest follow-up."""
    times, events = list(times), [bool(e) for e in events]
    if t > max(times):
        return None
    s, var = 1.0, 0.0
    for u in sorted({x for x, e in zip(times, events, strict=True) if e and x <= t}):
        n = sum(1 for x in times if x >= u)
        dead = sum(1 for x, e in zip(times, events, strict=True) if e and x == u)
        s *= 1 - dead / n
        var += dead / (n * (n - dead)) if n > dead else math.inf
    if 0 < s < 1:
        lo, hi = (s ** math.exp(sign * Z * math.sqrt(var) / math.log(s)) for sign in (-1, 1))
    else:
        lo = hi = None
    return {"survival": s, "lower": lo, "upper": hi, "at_risk": sum(1 for x in times if x >= t)}


def km_median(times, events) -> float | None:
    """First time the curve is at or below one half (the average with the next drop when it is
    exactly one half, R's rule)."""
    pairs = sorted(zip(times, events, strict=True))
    s, drops = 1.0, []
    for u in sorted({x for x, e in pairs if e}):
        n = sum(1 for x, _ in pairs if x >= u)
        s *= 1 - sum(1 for x, e in pairs if e and x == u) / n
        drops.append((u, s))
    for i, (u, s) in enumerate(drops):
        if abs(s - 0.5) < 1e-12:
            return (u + drops[i + 1][0]) / 2 if i + 1 < len(drops) else u
        if s < 0.5:
            return u
    return None


def clopper_pearson(x: int, n: int) -> tuple[float, float]:
    return (
        0.0 if x == 0 else float(beta.ppf(0.025, x, n - x + 1)),
        1.0 if x == n else float(beta.ppf(0.975, x + 1, n - x)),
    )


@dataclass
class Figures:
    """What a page or the summary could print about one group of subjects."""

    estimates: set = field(default_factory=set)  # survival probabilities and rates
    limits: set = field(default_factory=set)  # their confidence limits
    texts: set = field(default_factory=set)  # formatted counts, as the pages print them
    counts: set = field(default_factory=set)  # (summary key, integer)

    @property
    def floats(self) -> set:
        return self.estimates | self.limits


def figures(df: pd.DataFrame, curve: bool = False, survival: bool = True) -> Figures:
    """The outcome figures of these subjects, by the page's labels and the summary's keys; with
    `curve`, the Kaplan-Meier curve (and band) at every observed time as well (the pooled curve
    is plotted, so each of its points is a figure a page shows); without `survival`, the safety
    figures only."""
    out = Figures()
    dpm = CFG.trial.days_per_month
    for endpoint in ("os", "dfs") if survival else ():
        t, e = df[f"{endpoint}_days"].tolist(), df[f"{endpoint}_event"].tolist()
        events = int(sum(e))
        out.texts |= {f"Events {events}", f"Deaths so far {events}"} if endpoint == "os" else {f"Events {events}"}
        out.counts.add(("events", events))
        at = [months * dpm for months in CFG.design.landmarks_months]
        for time in at + (sorted(set(t)) if curve else []):
            lm = km(t, e, time)
            if lm is not None:
                out.estimates.add(lm["survival"])
                out.limits |= {lm[k] for k in ("lower", "upper") if lm[k] is not None}
        median = km_median(t, e)
        if median is not None:
            out.texts.add(f"Median {median / dpm:.1f} months")
        last = int(math.floor(max(t) / dpm / 6)) * 6
        out.texts.add("at_risk," + ",".join(str(sum(1 for x in t if x >= m * dpm)) for m in range(0, last + 1, 6)))
    # safety counts, by the page's metric labels and the summary's keys
    window = CFG.safety.complication_window_days
    death_day = pd.to_numeric(df.death_day_after_surgery, errors="coerce")
    clav_day = pd.to_numeric(df.first_clavien_3a_plus_day, errors="coerce")
    counts = {
        "any_ae": ("Any adverse event", int(df.any_ae.sum())),
        "grade3plus": ("Grade 3 or worse", int(df.grade3plus.sum())),
        "serious": ("Serious", int(df.serious.sum())),
        "immune_grade3plus": ("Immune-related grade 3+", int(df.immune_grade3plus.sum())),
        f"clavien_3a_plus_{window}d": (
            f"Clavien-Dindo IIIA+ within {window} days",
            int(clav_day.between(0, window).sum()),
        ),
        "positive_margin": (None, int(df.positive_margin.sum())),
    }
    early = sorted(set(CFG.safety.early_death_days))
    for dd in early:
        counts[f"death_{dd}d"] = (None, int(death_day.between(0, dd).sum()))
    for key, (label, value) in counts.items():
        out.counts.add((key, value))
        if label:
            out.texts.add(f"{label} {value}")
    out.texts.add(
        "Deaths within "
        + " / ".join(map(str, early))
        + " days "
        + " / ".join(str(counts[f"death_{dd}d"][1]) for dd in early)
    )
    out.texts.add(f"Positive margins {int(df.positive_margin.sum())} of {int(df.with_pathology.sum())}")
    # the configured signals: events / denominator, rate and its exact interval
    for sig in CFG.safety_signals:
        population = {
            "randomized": pd.Series(True, index=df.index),
            "operated": df.operated.astype(bool),
            "with_pathology": df.with_pathology.astype(bool),
        }[sig.population]
        source = df[sig.source]
        if sig.window_days is None:
            event = source.fillna(False).astype(bool) & population
            denominator = population
        else:
            day = pd.to_numeric(source, errors="coerce")
            event = day.between(0, sig.window_days).fillna(False) & population
            since = pd.to_numeric(df[f"days_since_{sig.window_from}"], errors="coerce")
            denominator = population & ((since >= sig.window_days).fillna(False) | event)
        x, n = int(event.sum()), int(denominator.sum())
        out.counts.add(("events", x))
        if n:
            out.estimates.add(x / n)
            out.limits |= set(clopper_pearson(x, n))
            out.texts |= {f"({x}/{n})", f"{sig.label},{x},{n},"}  # a row of the signal table
    return out


def _formats(p: float) -> dict[str, str]:
    """A probability as the pages and the summary may print it, as regular expressions: "pct"
    (73.9%) and "full" (0.73913..., chart data) anywhere; "dec3" (0.739) and "bare" (73.9) only
    in the page's text and tables, for point estimates (in chart data and for confidence limits
    they are numbers any axis or caption may hold)."""
    out = {
        "pct": rf"(?<![\d.]){re.escape(f'{100 * p:.1f}')}%",
        "dec3": rf"(?<![\d.]){re.escape(f'{p:.3f}')}(?!\d)",
        "bare": rf"(?<![\d.]){re.escape(f'{100 * p:.1f}')}(?![\d%])",
    }
    simple = Fraction(p).limit_denominator(12)
    if round(p, 5) != p and abs(p - simple) > 1e-12:  # not 0.25 or 1/3: its full precision
        out["full"] = rf"(?<![\d.]){re.escape(f'{p:.10f}'[:7])}"
    return out


TEXT_ONLY = ("dec3", "bare")  # formats looked for outside the chart data only


def _constants() -> set[float]:
    """Configured numbers the pages show as such: thresholds, the design, the funnel levels."""
    d = CFG.design
    return (
        {s.threshold for s in CFG.safety_signals if s.threshold is not None}
        | {d.expected_survival, d.noninferiority_margin, d.alpha_one_sided, d.power, 0.0, 1.0}
        | set(CFG.safety.funnel_confidence)
    )


def _shown(df: pd.DataFrame) -> bool:
    """May a pooled figure of these subjects be shown (both arms, at least the minimum cell)?"""
    return len(df) >= CFG.blinding.min_cell_size and df.arm.nunique() >= 2


@dataclass
class Forbidden:
    patterns: dict[str, str]  # regular expression -> what it is (anywhere on the page)
    text_patterns: dict[str, str]  # the same, looked for outside the chart data only
    floats: set[float]
    counts: set[tuple[str, int]]
    legit_floats: set[float]
    legit_counts: set[tuple[str, int]]
    legit_texts: set[str]


def forbidden_for(df: pd.DataFrame, viewer: Viewer) -> Forbidden:
    """Arm-level figures of the trial and of each site, less what `viewer` may legitimately see:
    the pooled figures of the population they look at (the trial and the sites shown by site,
    or their own site) and the configured constants."""
    groups = {"trial": df, **{f"site {s}": g for s, g in df.groupby("siteid")}}
    arm_level = {
        f"{name}, {arm}": figures(g[g.arm == arm]) for name, g in groups.items() for arm in ARMS if (g.arm == arm).any()
    }
    if viewer.site:  # their own site, pooled, when it may be shown
        legit = [figures(g, curve=True) for name, g in groups.items() if name == f"site {viewer.site}" and _shown(g)]
    elif viewer.policy(CFG).trial_data:  # the trial, pooled, and the safety funnels by site
        sites = [g for name, g in groups.items() if name != "trial"]
        legit = [figures(df, curve=True)] + [figures(g, survival=False) for g in sites if _shown(g)]
        # sites that may not be shown alone are merged into one row, shown when it may be
        hidden = [g for g in sites if not _shown(g)]
        if len(hidden) > 1 and _shown(pd.concat(hidden)):
            legit.append(figures(pd.concat(hidden), survival=False))
    else:
        legit = []
    legit_floats = _constants() | {v for f in legit for v in f.floats}
    legit_texts = {t for f in legit for t in f.texts}
    legit_counts = {c for f in legit for c in f.counts}
    legit_formats = {p for v in legit_floats for p in _formats(v).values()}
    patterns, text_patterns, floats, counts = {}, {}, set(), set()
    for what, f in arm_level.items():
        for v in f.floats:
            if not any(abs(v - w) < 1e-9 for w in legit_floats):
                floats.add(v)
            for kind, pattern in _formats(v).items():
                if pattern in legit_formats or (kind in TEXT_ONLY and v not in f.estimates):
                    continue
                (text_patterns if kind in TEXT_ONLY else patterns).setdefault(pattern, f"{what}: {v:.4f} as {kind}")
        for text in f.texts - legit_texts:
            before = r"(?<![\d,])" if text[0].isalnum() else ""
            patterns.setdefault(rf"{before}{re.escape(text)}(?![\d])", f"{what}: {text!r}")
        counts |= f.counts - legit_counts
    return Forbidden(patterns, text_patterns, floats, counts, legit_floats, legit_counts, legit_texts)


@pytest.fixture(scope="module")
def closed_df(wh):
    return closed_subjects(wh)


def test_the_arms_differ_and_the_figures_are_computed_right(closed_df):
    """By hand from the package: de-escalation 23 subjects (10 + 10 + 3), 17 deaths (7 + 7 + 3)
    before 12 months, 17 with the Clavien IIIB complication and a positive margin; standard 26
    (10 + 10 + 6), 3 deaths (1 + 1 + 1), 8 complications (3 + 3 + 2). No one is censored before
    12 months, so S(12 months) is the share alive: 6/23 and 23/26; pooled 29/49."""
    df = closed_df
    by_arm = {arm: df[df.arm == arm] for arm in ARMS}
    assert {a: len(g) for a, g in by_arm.items()} == {"DE-ESCALATION": 23, "STANDARD": 26}
    assert {a: int(g.os_event.sum()) for a, g in by_arm.items()} == {"DE-ESCALATION": 17, "STANDARD": 3}
    year = 12 * CFG.trial.days_per_month
    assert km(by_arm["DE-ESCALATION"].os_days, by_arm["DE-ESCALATION"].os_event, year)["survival"] == pytest.approx(
        6 / 23
    )
    assert km(by_arm["STANDARD"].os_days, by_arm["STANDARD"].os_event, year)["survival"] == pytest.approx(23 / 26)
    assert km(df.os_days, df.os_event, year)["survival"] == pytest.approx(29 / 49)
    de = figures(by_arm["DE-ESCALATION"])
    assert {
        ("serious", 17),
        ("positive_margin", 17),
        (f"clavien_3a_plus_{CFG.safety.complication_window_days}d", 17),
    } <= de.counts
    assert "(17/23)" in de.texts and "Events 17" in de.texts
    std = figures(by_arm["STANDARD"])
    assert {("serious", 8), ("events", 3)} <= std.counts and "(8/26)" in std.texts
    # the interval of the hand example (tests/test_survival_stats: S = 2/3 at a tie) by this km()
    tie = km([30, 60.875, 60.875, 91.3125, 152, 182.625], [1, 1, 0, 1, 0, 0], 60.875)
    se = math.sqrt(1 / 30 + 1 / 20)
    assert tie["lower"] == pytest.approx((2 / 3) ** math.exp(-Z * se / math.log(2 / 3)))
    # the median by hand: de-escalation deaths 60 + k days after randomization, k = 0..6 at
    # sites 01 and 02, 0..2 at site 03: 3 deaths on each of days 60, 61, 62, then 2 a day. 11 dead
    # by day 63 (S = 12/23 > 1/2), 13 by day 64 (S = 10/23): the median is day 64
    assert km_median(by_arm["DE-ESCALATION"].os_days, by_arm["DE-ESCALATION"].os_event) == 64
    assert km_median(df.os_days, df.os_event) is None


@pytest.mark.parametrize("viewer", BLINDED + [Viewer("admin")], ids=lambda v: f"{v.role}{v.site or ''}")
def test_the_forbidden_figures_are_real(closed_df, viewer):
    """Not vacuous: the 12-month OS of each arm (6/23 = 26.1%, 23/26 = 88.5%), the complication
    rate of each (17/23 = 73.9%, 8/26 = 30.8%) and site 04's (one arm: 2/6 = 33.3%) are forbidden
    for every blinded role, with the counts behind them."""
    f = forbidden_for(closed_df, viewer)
    assert len(f.patterns) >= 20 and f.text_patterns and f.floats and f.counts
    must = [rf"(?<![\d.]){re.escape(f'{100 * p:.1f}')}%" for p in (6 / 23, 23 / 26, 17 / 23, 8 / 26, 2 / 6)]
    assert all(m in f.patterns for m in must), sorted(f.patterns.values())
    assert any(p.endswith(re.escape("Events 17") + r"(?![\d])") for p in f.patterns)
    assert {("events", 17), ("serious", 17), ("events", 3), ("serious", 8)} <= f.counts
    assert all(any(abs(v - p) < 1e-9 for v in f.floats) for p in (6 / 23, 23 / 26, 17 / 23, 8 / 26, 2 / 6))


def _leaks(page: tuple[str, str], forbidden: Forbidden) -> list[str]:
    """Forbidden figures found on a page given as (all its text, its text without chart data)."""
    everything, text = page
    found = [(pattern, what, everything) for pattern, what in forbidden.patterns.items()]
    found += [(pattern, what, text) for pattern, what in forbidden.text_patterns.items()]
    return [
        f"{what} (matched {m.group(0)!r})" for pattern, what, where in found for m in [re.search(pattern, where)] if m
    ]


def _page(viewer: Viewer, page: str, endpoint: str | None = None, lang: str | None = None) -> tuple[str, str]:
    at = open_page(viewer, f"{page}.py", timeout=60, lang=lang)
    assert not at.exception, [e.value for e in at.exception]
    if endpoint:
        at.session_state["endpoint"] = endpoint
        # AppTest matches the chosen option through the page's format_func in this thread: in the
        # page's language, or a Chinese page would not find "dfs" and stay on OS
        with i18n.using(lang):
            at.run()
        assert not at.exception, [e.value for e in at.exception]
    return page_text(at), page_text(at, charts=False)


def _text(viewer: Viewer, page: str, endpoint: str | None = None, lang: str | None = None) -> str:
    return _page(viewer, page, endpoint, lang)[0]


ALL_CASES = [(v, p.file[:-3], None) for v in BLINDED + [Viewer("admin")] for p in pages_for(v)]
ALL_CASES += [(v, "survival", "dfs") for v in (Viewer("steering"), Viewer("site", "01"))]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(
    "viewer,page,endpoint",
    ALL_CASES,
    ids=[f"{v.role}{v.site or ''}-{p}{'-' + e if e else ''}" for v, p, e in ALL_CASES],
)
def test_no_arm_level_figure_on_any_page(wh, closed_df, viewer, page, endpoint, lang):
    """Every page a blinded role has (allocation pages included), in English and in Chinese: no
    arm-level figure, and no arm named next to an outcome. (The numbers' formats are the same in
    both languages, CLDR's for zh_Hans_CN and en_GB: 73.9%, 0.739; the English word patterns,
    "Events 17", are matched in English only.)"""
    shown = _page(viewer, page, endpoint, lang=lang)
    text = shown[0]
    forbidden = forbidden_for(closed_df, viewer)
    assert forbidden.patterns and forbidden.text_patterns
    leaks = _leaks(shown, forbidden)
    assert not leaks, f"arm-level figures on {page} for {viewer}: {leaks}"
    if page in OUTCOME_PAGES:
        named = [w for w in ARM_WORDS if w in text]
        assert not named, f"{named} on {page} for {viewer}"


def test_the_forbidden_formats_are_the_ones_the_pages_print(wh, closed_df):
    """The same formats, filled with the pooled figures, are on the steering committee's pages:
    a format that went stale would leave the check above looking for text no page prints."""
    pooled = figures(closed_df)
    survival, safety = _text(Viewer("steering"), "survival"), _text(Viewer("steering"), "safety")
    on_survival = {t for t in pooled.texts if t.startswith(("Events ", "Deaths so far ", "at_risk,", "Median "))}
    assert len(on_survival) == 3 and on_survival <= set(
        re.findall(r"Events \d+|Deaths so far \d+|at_risk,[\d,]+", survival)
    )
    # "(x/n)" is printed for the flagged signals only; the rest, every one
    fractions = {t for t in pooled.texts if t.startswith("(")}
    assert fractions and any(t in safety for t in fractions)
    missing = [t for t in pooled.texts - on_survival - fractions if t not in safety]
    assert not missing and len(pooled.texts - on_survival - fractions) >= 10, missing
    year = km(closed_df.os_days, closed_df.os_event, 12 * CFG.trial.days_per_month)
    assert f"{year['survival']:.1%} ({year['lower']:.1%} to {year['upper']:.1%})" in survival
    assert "Median not reached" in survival and km_median(closed_df.os_days, closed_df.os_event) is None
    # the pooled curve's full-precision values are in the chart data, as the "full" format expects
    assert re.search(_formats(year["survival"])["full"], survival)


def test_the_chinese_pages_print_the_same_number_formats(wh, closed_df):
    """The numeric patterns the Chinese run relies on are printed by the Chinese pages: the pooled
    12-month survival as a percentage with its interval, and the (x/n) of the safety signals."""
    pooled = figures(closed_df)
    survival = _text(Viewer("steering"), "survival", lang="zh")
    safety = _text(Viewer("steering"), "safety", lang="zh")
    year = km(closed_df.os_days, closed_df.os_event, 12 * CFG.trial.days_per_month)
    assert f"{year['survival']:.1%}" in survival and f"{year['lower']:.1%}" in survival
    fractions = {t for t in pooled.texts if t.startswith("(")}
    assert any(t in safety for t in fractions)
    assert re.search(r"[\u4e00-\u9fff]", survival) and re.search(r"[\u4e00-\u9fff]", safety)


def test_pooled_figures_are_the_pooled_ones(wh):
    """By hand: 20 deaths (7 + 1 at site 01, the same at 02, 3 at 03, 1 at 04); 12-month
    survival 29/49."""
    text = _text(Viewer("steering"), "survival")
    assert "Events 20" in text and "Subjects 49" in text
    assert "59.2% (" in text  # 29/49 = 0.592
    s = summary(wh, Viewer("steering"))["survival"]["os"]["pooled"]
    assert (s["n"], s["events"]) == (49, 20)
    assert s["landmarks"]["12"]["survival"] == pytest.approx(29 / 49)


@pytest.mark.parametrize("site,reason", [("03", "withheld by the cell rule"), ("04", "withheld by the cell rule")])
def test_a_one_arm_site_sees_no_outcome(wh, site, reason):
    """Sites 03 (3 subjects) and 04 (6, all standard) are one arm: their investigator's pooled
    survival and safety would be arm-level. The reason does not say which rule: "all subjects in
    one arm" would itself tell a blinded reader something about the allocation."""
    for page in ("survival", "safety"):
        text = _text(Viewer("site", site), page)
        assert f"Outcomes are not shown for this population: {reason}." in text
        assert "Events" not in text and "Serious" not in text
    s = summary(wh, Viewer("site", site))
    assert s["survival"] == {"suppressed": reason} and s["safety"] == {"suppressed": reason}


def test_one_arm_sites_are_not_plotted_by_site(wh):
    """Sites 03 and 04 are each one arm (03 also too small): by site they are shown merged, one
    row of 9 subjects with both arms, never each on its own (their own figures are forbidden
    values of the page checks above)."""
    text = _text(Viewer("pi"), "deviations")
    # the blinded file withholds 03's and 04's allocation counts, so whether the two keep the rule
    # together is unknown: the smallest safe site, 01, joins them (complementary suppression)
    assert (
        "Merged: sites 03, 04, 01 (one arm or fewer than 5 subjects, with the smallest other site where the total "
        "would reveal them)." in text
    )
    text = _text(Viewer("pi"), "safety")
    assert "other sites (merged)" in text


def test_the_arm_balance_page_shows_allocation_only(wh):
    text = _text(Viewer("steering"), "balance")
    # allocation counts are for everyone: 10 + 10 + 3 and 10 + 10 + 6
    assert "De-escalation surgery 23" in text and "Standard surgery 26" in text


# Not figures of the data: the accrual projection's prediction-interval level (a setting)
SETTINGS = {("enrollment", "projection", "level")}


def _numbers(node, path=()):
    """(key, value) of every number in a JSON-like tree but the settings; booleans are not numbers."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _numbers(v, path + (k,))
    elif isinstance(node, list):
        for v in node:
            yield from _numbers(v, path)
    elif isinstance(node, (int, float)) and not isinstance(node, bool) and path not in SETTINGS:
        yield (path[-1] if path else None), node


def summary_leaks(s: dict, forbidden: Forbidden) -> list:
    """Arm-level numbers in a summary: a forbidden float (not also a legitimate one) anywhere, a
    forbidden count under its key; and the arm named outside the allocation counts."""
    numbers = list(_numbers(s))
    assert numbers
    leaked = [
        (k, v)
        for k, v in numbers
        if isinstance(v, float)
        and any(abs(v - f) < 1e-9 for f in forbidden.floats)
        and not any(abs(v - w) < 1e-9 for w in forbidden.legit_floats)
    ]
    leaked += [(k, v) for k, v in numbers if isinstance(v, int) and (k, v) in forbidden.counts]
    text = json.dumps({k: v for k, v in s.items() if k != "allocation"}, ensure_ascii=False)
    leaked += [w for w in ["by_arm"] + ARM_WORDS if w in text]
    return leaked


@pytest.mark.parametrize("viewer", BLINDED + [Viewer("admin")], ids=lambda v: f"{v.role}{v.site or ''}")
def test_no_arm_level_figure_in_the_summary(wh, closed_df, viewer):
    forbidden = forbidden_for(closed_df, viewer)
    assert forbidden.floats and forbidden.counts
    leaked = summary_leaks(summary(wh, viewer), forbidden)
    assert not leaked, f"arm-level values in the {viewer.role} summary: {leaked}"


def test_the_summary_keys_are_the_ones_forbidden(wh, closed_df):
    """The pooled counts, by the keys the check above looks for, are in the steering summary."""
    numbers = set(_numbers(summary(wh, Viewer("steering"))))
    pooled = figures(closed_df)
    assert pooled.counts <= numbers, pooled.counts - numbers
    floats = [v for _k, v in numbers if isinstance(v, float)]
    assert all(any(abs(v - f) < 1e-9 for f in floats) for v in pooled.floats), pooled.floats
