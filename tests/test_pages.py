"""Every page renders for every role that may open it (Streamlit AppTest on the demo trial), shows
the same figures as the summary (a rendering check: both come from the same code), the figures
counted independently from the demo package's CSV files, and on a tiny hand-made package the
Kaplan-Meier and safety figures worked out by hand; and a role is refused a page it may not open."""

from __future__ import annotations

import csv
import datetime as dt
import math
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from apptest import MAIN, clear_caches, open_page, page_text, serving
from dashboard import i18n
from dashboard.access.roles import Viewer, pages_for
from dashboard.config import load_trial
from dashboard.devtools.demo import write_demo_package
from dashboard.ingest.build import build
from dashboard.outputs.escape import markdown
from dashboard.outputs.report import chromium as report_chromium
from dashboard.outputs.summary import summary
from factory import Package, d

ROLES = [Viewer("pi"), Viewer("steering"), Viewer("site", "01"), Viewer("data_manager"), Viewer("dsmb")]


@pytest.fixture(scope="module")
def demo_warehouse(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pages")
    write_demo_package(tmp / "pkg")
    build(tmp / "pkg", tmp / "wh")
    with serving(tmp / "wh") as wh:
        yield wh


def _rows(folder: Path, form: str) -> list[dict]:
    with open(folder / f"{form}.csv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _day(text: str) -> dt.date:
    """A (partial) date as the build imputes it: to the first day of its month or year."""
    return dt.date.fromisoformat(text if len(text) == 10 else text + "-01" if len(text) == 7 else text + "-01-01")


@pytest.fixture(scope="module")
def demo_counts(demo_warehouse):
    """The demo's figures counted from its CSV files, independently of the build: randomized and
    screened subjects, deaths on or after randomization by the cut-off, subjects with an AE (and a
    serious one) by the cut-off, subjects operated by the cut-off."""
    folder = Path(demo_warehouse).parent / "pkg"
    cutoff = _day(_rows(folder, "EXPORT")[0]["CUTOFFDAT"])
    rand = {r["SUBJID"]: _day(r["RANDDAT"]) for r in _rows(folder, "RAND")}
    deaths = {r["SUBJID"]: _day(r["DTHDAT"]) for r in _rows(folder, "DD") if r["SUBJID"] in rand}
    ae = [r for r in _rows(folder, "AE") if r["SUBJID"] in rand and _day(r["AESTDAT"]) <= cutoff]
    recur = {}
    for r in _rows(folder, "RECUR"):
        if r["SUBJID"] in rand and _day(r["RECDAT"]) <= cutoff:
            recur[r["SUBJID"]] = min(recur.get(r["SUBJID"], _day(r["RECDAT"])), _day(r["RECDAT"]))
    dead = {s for s, day in deaths.items() if rand[s] <= day <= cutoff}
    os_excluded = {s for s, day in deaths.items() if day < rand[s]}
    dfs_excluded = os_excluded | {s for s, day in recur.items() if day < rand[s]}
    return {
        "randomized": len(rand),
        "screened": len(_rows(folder, "SCREENING")),
        "os_n": len(rand) - len(os_excluded),
        "os_events": len(dead - os_excluded),
        "dfs_events": len((dead | set(recur)) - dfs_excluded),
        "any_ae": len({r["SUBJID"] for r in ae}),
        "serious": len({r["SUBJID"] for r in ae if r["AESER"] == "Y"}),
        "operated": len({r["SUBJID"] for r in _rows(folder, "PR") if _day(r["PRDAT"]) <= cutoff}),
    }


@pytest.fixture(autouse=True)
def fresh_caches():
    clear_caches()


CASES = [(v, p) for v in ROLES for p in pages_for(v)]


@pytest.mark.parametrize("viewer,page", CASES, ids=[f"{v.role}-{p.key}" for v, p in CASES])
def test_every_page_renders_for_every_role(demo_warehouse, viewer, page):
    at = open_page(viewer, page.file)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title and at.title[0].value.startswith(page.title.split(" (")[0])
    text = page_text(at)
    # the data's values reach Markdown escaped (dashboard.outputs.escape.markdown)
    assert "data cut-off **30 June 2028**" in text  # a prose date; Markdown as shown
    assert "Synthetic demo trial" in text


def test_accrual_page_matches_the_summary(demo_warehouse, demo_counts):
    s = summary(demo_warehouse, Viewer("pi"))
    at = open_page(Viewer("pi"), "accrual.py")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Randomized"] == f"{s['enrollment']['randomized']} / 356"
    assert metrics["Screened"] == str(s["enrollment"]["screened"])
    # the month (the full day did not fit the metric at 1440 px; it is in the help)
    assert metrics["Projected completion"] == i18n.month(s["enrollment"]["projection"]["completion_date"])
    # independently: counted in the CSV files (the projection by hand: tests/test_accrual.py)
    assert metrics["Randomized"] == f"{demo_counts['randomized']} / {load_trial().trial.target_enrollment}"
    assert metrics["Screened"] == str(demo_counts["screened"])


def test_survival_page_matches_the_summary(demo_warehouse, demo_counts):
    s = summary(demo_warehouse, Viewer("steering"))["survival"]["os"]["pooled"]
    at = open_page(Viewer("steering"), "survival.py")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Subjects"] == str(s["n"]) and metrics["Events"] == str(s["events"])
    # independently: deaths counted in DD.csv (the estimates by hand: test_tiny_package_survival_page)
    assert (metrics["Subjects"], metrics["Events"]) == (str(demo_counts["os_n"]), str(demo_counts["os_events"]))
    table = at.dataframe[1].value
    lm12 = s["landmarks"]["12"]
    row = table[table["months"] == "12"].iloc[0]
    assert row["at risk"] == lm12["at_risk"]
    assert f"{lm12['survival']:.1%}" in row["survival (95% CI)"]


def test_safety_page_matches_the_summary(demo_warehouse, demo_counts):
    s = summary(demo_warehouse, Viewer("pi"))["safety"]["pooled"]
    at = open_page(Viewer("pi"), "safety.py")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Any adverse event"] == str(s["any_ae"])
    assert metrics["Serious"] == str(s["serious"])
    assert metrics["Operated"] == str(s["operated"])
    # independently: subjects counted in AE.csv and PR.csv
    assert (metrics["Any adverse event"], metrics["Serious"], metrics["Operated"]) == (
        str(demo_counts["any_ae"]),
        str(demo_counts["serious"]),
        str(demo_counts["operated"]),
    )


def test_survival_endpoint_switch(demo_warehouse, demo_counts):
    s = summary(demo_warehouse, Viewer("pi"))["survival"]["dfs"]["pooled"]
    at = open_page(Viewer("pi"), "survival.py")
    at.session_state["endpoint"] = "dfs"
    at.run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Events"] == str(s["events"])
    # independently: subjects with a recurrence or a death (DD.csv, RECUR.csv) by the cut-off
    assert metrics["Events"] == str(demo_counts["dfs_events"])


def test_site_user_sees_only_their_site(demo_warehouse):
    at = open_page(Viewer("site", "01"), "accrual.py")
    sites = at.dataframe[0].value
    assert set(sites["siteid"]) == {"01"}
    at = open_page(Viewer("site", "01"), "deviations.py")
    listed = [str(s) for frame in at.dataframe if "subjid" in frame.value for s in frame.value["subjid"]]
    assert listed  # the demo's site 01 has listed subjects
    assert all(s.startswith("01-") for s in listed)


def test_a_page_refuses_a_role_that_may_not_open_it(demo_warehouse):
    # through the navigation: the page is not in the admin's list at all
    at = AppTest.from_file(MAIN, default_timeout=60)
    at.session_state["viewer"] = Viewer("admin")
    at.run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("../pages/survival.py")
    assert "Median" not in page_text(at)
    # and the page itself checks the role again, whoever runs it
    for viewer in (Viewer("admin"), None):
        at = AppTest.from_file(str(Path(MAIN).parent.parent / "pages" / "survival.py"), default_timeout=60)
        if viewer:
            at.session_state["viewer"] = viewer
        at.run()
        text = page_text(at)
        assert "not available to your role" in text
        assert not at.metric


def test_subject_listings_only_for_roles_that_see_them(demo_warehouse):
    at = open_page(Viewer("pi"), "deviations.py")
    assert any(t.label == "Eligibility" for t in at.tabs)


# ------------------------------------------------------------------ a tiny package, by hand
# Eight subjects randomized 2026-03-01 (four per arm, so pooled figures may be shown), operated
# 14 days later; cut-off 2028-06-30 (852 days on). Days from randomization:
#   T1 dies 100   T2 censored 150   T3 dies 300   T4 dies 500 (local recurrence on day 200)
#   T5 censored 600   T6 dies 700   T7 censored 800   T8 censored 850
# Kaplan-Meier (n at risk, deaths):
#   100: 8, 1 -> 7/8;  300: 6, 1 -> 7/8 x 5/6 = 35/48;  500: 5, 1 -> 35/48 x 4/5 = 7/12;
#   700: 3, 1 -> 7/12 x 2/3 = 7/18.
#   12 months (365.25 days): 35/48 = 72.9 %, at risk 5 (T4..T8);
#   24 months (730.5 days): 7/18 = 38.9 %, at risk 2 (T7, T8); 36 months: after day 850, none.
#   Greenwood, sum of d / (n (n - d)): 1/56 + 1/30 by 12 months, + 1/20 + 1/6 by 24 months.
#   Median: 700 days (the first time S <= 1/2) = 23.0 months.
# Reverse Kaplan-Meier (censoring as the event): 150: 7 at risk -> 6/7; 600: 4 -> 9/14;
#   800: 2 -> 9/28 <= 1/2: median follow-up 800 days = 26.3 months.
# Safety: T1 Clavien IIIA grade 3 serious 10 days after surgery, dies 86 days after surgery;
#   T3 Clavien II grade 2; T4 immune-related grade 4 serious before randomization (neoadjuvant);
#   T6 Clavien IIIB grade 3 serious 31 days after surgery; margins positive for T2 and T5.
TINY_DEATHS = {"T1": 100, "T3": 300, "T4": 500, "T6": 700}
TINY_CENSORED = {"T2": 150, "T5": 600, "T7": 800, "T8": 850}
TINY_RAND = d("2026-03-01")
TINY_SURGERY = TINY_RAND + dt.timedelta(days=14)


def _tiny() -> Package:
    pkg = Package()
    for i, subjid in enumerate(["T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8"]):
        pkg.add_subject(
            subjid,
            "01",
            arm="DE-ESCALATION" if i % 2 == 0 else "STANDARD",
            randdat=TINY_RAND.isoformat(),
            surgery=TINY_SURGERY.isoformat(),
        )
        pkg.add(
            "PATH",
            SUBJID=subjid,
            SITEID="01",
            PATHDAT=(TINY_SURGERY + dt.timedelta(days=10)).isoformat(),
            MARGIN="POSITIVE" if subjid in ("T2", "T5") else "NEGATIVE",
        )
    for subjid, days in TINY_DEATHS.items():
        when = (TINY_RAND + dt.timedelta(days=days)).isoformat()
        pkg.add("DD", SUBJID=subjid, SITEID="01", DTHDAT=when, DTHCAUS="DISEASE")
        pkg.add("DS", SUBJID=subjid, SITEID="01", DSDECOD="DEATH", DSSTDAT=when)
    for subjid, days in TINY_CENSORED.items():
        when = (TINY_RAND + dt.timedelta(days=days)).isoformat()
        # a scheduled visit: a disease assessment, so DFS is censored there too (docs/warehouse.md)
        pkg.add("FU", SUBJID=subjid, SITEID="01", VISIT="M6", VISDAT=when, SSSTAT="ALIVE")
        if subjid in ("T2", "T5"):
            pkg.add("DS", SUBJID=subjid, SITEID="01", DSDECOD="WITHDREW CONSENT", DSSTDAT=when)
    pkg.add("RECUR", SUBJID="T4", SITEID="01", RECDAT=(TINY_RAND + dt.timedelta(days=200)).isoformat(), RECTYPE="LOCAL")

    def ae(subjid, spid, onset, grade, serious, clavien="", immune="N"):
        pkg.add(
            "AE",
            SUBJID=subjid,
            SITEID="01",
            AESPID=spid,
            AETERM="不良事件",
            AESOC="Infections and infestations",
            AESTDAT=onset.isoformat(),
            AETOXGR=str(grade),
            AESER=serious,
            AECLAV=clavien,
            AEIMMUNE=immune,
        )

    ae("T1", "1", TINY_SURGERY + dt.timedelta(days=10), 3, "Y", "IIIA")
    ae("T3", "1", TINY_SURGERY + dt.timedelta(days=5), 2, "N", "II")
    ae("T4", "1", TINY_RAND - dt.timedelta(days=30), 4, "Y", immune="Y")
    ae("T6", "1", TINY_SURGERY + dt.timedelta(days=31), 3, "Y", "IIIB")
    pkg.add("SCREENING", SCRNID="S9001", SITEID="01", SCRNDAT="2026-02-01", SCRNOUT="SCREEN FAILURE", SFREAS="I04")
    pkg.add("SCREENING", SCRNID="S9002", SITEID="01", SCRNDAT="2026-02-02", SCRNOUT="SCREEN FAILURE", SFREAS="I07")
    return pkg


@pytest.fixture(scope="module")
def tiny_warehouse(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tiny")
    build(_tiny().write(tmp / "pkg"), tmp / "wh")
    return tmp / "wh"


Z975 = 1.959963984540054  # qnorm(0.975)


def _loglog(s: float, greenwood: float) -> tuple[float, float]:
    """R's conf.type = "log-log" limits: S ** exp(-+ z sqrt(var log S) / log S)."""
    return tuple(s ** math.exp(sign * Z975 * math.sqrt(greenwood) / math.log(s)) for sign in (-1, 1))


def test_tiny_package_survival_page(tiny_warehouse):
    with serving(tiny_warehouse):
        clear_caches()
        at = open_page(Viewer("steering"), "survival.py")
        assert not at.exception, [e.value for e in at.exception]
        metrics = {m.label: m.value for m in at.metric}
        landmarks = next(t.value for t in at.dataframe if "survival (95% CI)" in t.value.columns)
        at_risk = next(t.value for t in at.dataframe if "0 mo" in t.value.columns)
    assert metrics["Subjects"] == "8" and metrics["Events"] == "4" and metrics["Deaths so far"] == "4"
    # the curve falls to 50% at 700 days (700 / 30.4375 = 22.998 months) with 3 of 8 at risk: fewer
    # than the minimum cell (5), so no median is claimed (views.outcomes.median_reliable)
    assert metrics["Median"] == "not reliably estimated"
    assert "50% at 23.0 months" in next(m.help for m in at.metric if m.label == "Median")
    assert metrics["Median follow-up"] == "26.3 months"  # 800 / 30.4375 = 26.28
    rows = {r["months"]: (r["survival (95% CI)"], r["at risk"]) for _i, r in landmarks.iterrows()}
    lo12, hi12 = _loglog(35 / 48, 1 / 56 + 1 / 30)
    lo24, hi24 = _loglog(7 / 18, 1 / 56 + 1 / 30 + 1 / 20 + 1 / 6)
    assert rows == {
        "12": (f"{35 / 48:.1%} ({lo12:.1%} to {hi12:.1%})", 5),
        "24": (f"{7 / 18:.1%} ({lo24:.1%} to {hi24:.1%})", 2),
        "36": ("not estimable", 0),
    }
    assert rows["12"][0].startswith("72.9% (") and rows["24"][0].startswith("38.9% (")
    # numbers at risk every 6 months to 24 (850 days = 27.9 months): days >= 0, 182.6, 365.25,
    # 547.9, 730.5 -> 8, 6 (T3..T8), 5, 4 (T5..T8), 2
    assert at_risk.iloc[0].tolist() == [8, 6, 5, 4, 2]
    assert list(at_risk.columns) == ["0 mo", "6 mo", "12 mo", "18 mo", "24 mo"]
    # deaths expected by the design: 8 x (1 - S(852 days)), S(t) = 0.8 ** (t / 36 months)
    design = load_trial().design
    expected = 8 * (1 - design.expected_survival ** (852 / (design.landmark_months * 30.4375)))
    assert metrics["Expected by now (design)"] == f"{expected:.1f}"


def test_tiny_package_dfs_on_the_page(tiny_warehouse):
    """Disease-free: T4's local recurrence on day 200 comes before its death: 4 events, and by
    12 months 100 (8 at risk), 200 (6: T2 censored at 150), 300 (5): 7/8 x 5/6 x 4/5 = 7/12."""
    with serving(tiny_warehouse):
        clear_caches()
        at = open_page(Viewer("steering"), "survival.py")
        at.session_state["endpoint"] = "dfs"
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        metrics = {m.label: m.value for m in at.metric}
        landmarks = next(t.value for t in at.dataframe if "survival (95% CI)" in t.value.columns)
    assert metrics["Events"] == "4"
    assert landmarks.set_index("months").loc["12", "survival (95% CI)"].startswith(f"{7 / 12:.1%} (")


def test_tiny_package_safety_page(tiny_warehouse):
    from scipy.stats import beta

    def exact(x, n):  # Clopper-Pearson (R's binom.test), by its definition
        return (0.0 if x == 0 else beta.ppf(0.025, x, n - x + 1), 1.0 if x == n else beta.ppf(0.975, x + 1, n - x))

    with serving(tiny_warehouse):
        clear_caches()
        at = open_page(Viewer("pi"), "safety.py")
        assert not at.exception, [e.value for e in at.exception]
        metrics = {m.label: m.value for m in at.metric}
        table = next(t.value for t in at.table if "observed (95% exact CI)" in t.value.columns)  # a static table
        errors = [e.value for e in at.error]
    window = load_trial().safety.complication_window_days
    assert metrics == {
        "Randomized (safety population)": "8",
        "Any adverse event": "4",  # T1, T3, T4, T6
        "Grade 3 or worse": "3",
        "Serious": "3",  # T1, T4, T6
        "Immune-related grade 3+": "1",  # T4
        "Operated": "8",
        f"Clavien-Dindo IIIA+ within {window} days": "1",  # T1 (T6 on day 31)
        "Deaths within 30 / 90 days": "0 / 1",  # T1, 86 days after surgery
        "Positive margins": "2 of 8",
    }
    # the signals, subjects with the event / denominator, every window complete by the cut-off
    by_hand = {
        "clavien_3a_plus_30d": (1, 8),
        "death_90d": (1, 8),
        "positive_margin": (2, 8),
        "local_recurrence_12m": (1, 8),
        "immune_grade3plus_neoadjuvant": (1, 8),
    }
    labels = {s.name: s.label for s in load_trial().safety_signals}
    assert set(by_hand) == set(labels)
    got = {
        r["signal"]: (r["subjects with event"], r["denominator"], r["observed (95% exact CI)"])
        for _i, r in table.iterrows()
    }
    for name, (x, n) in by_hand.items():
        lo, hi = exact(x, n)
        assert got[labels[name]] == (x, n, f"{x / n:.1%} ({lo:.1%} to {hi:.1%})"), name
    threshold = {s.name: s.threshold for s in load_trial().safety_signals}
    assert threshold["clavien_3a_plus_30d"] > 1 / 8 and threshold["death_90d"] < 1 / 8
    assert threshold["positive_margin"] < 2 / 8 and threshold["local_recurrence_12m"] < 1 / 8
    # flagged (trial.toml thresholds): deaths (12.5 % > 3 %, and any event), margins (25 % > 10 %),
    # local recurrence (12.5 % > 10 %), immune-related (any event); not complications (12.5 % < 20 %)
    # the labels reach Markdown escaped (a trial.toml label is shown as typed, too)
    assert sorted(e.split(":")[0] for e in errors) == sorted(
        markdown(labels[k])
        for k in ("death_90d", "positive_margin", "local_recurrence_12m", "immune_grade3plus_neoadjuvant")
    )
    assert f"{markdown(labels['positive_margin'])}: 25.0% (2/8) — above the threshold." in errors


def test_tiny_package_accrual_page(tiny_warehouse):
    with serving(tiny_warehouse):
        clear_caches()
        at = open_page(Viewer("pi"), "accrual.py")
        assert not at.exception, [e.value for e in at.exception]
        metrics = {m.label: m.value for m in at.metric}
    assert metrics["Randomized"] == "8 / 356"
    assert metrics["Screened"] == "10" and metrics["Screen failures"] == "2"


def _delivered(at: AppTest) -> bytes:
    """The bytes app.ui.deliver put into the page (the component iframe's srcdoc)."""
    import base64
    import re

    frames = at.get("iframe")
    assert len(frames) == 1, frames
    b64 = re.search(r'const b64 = "([A-Za-z0-9+/=]*)"', frames[0].proto.srcdoc).group(1)
    return base64.b64decode(b64)


def test_the_closed_report_goes_into_the_page_not_the_media_store(demo_warehouse):
    """The DSMB's closed report: on the audit log first, then in the page message itself (the
    component iframe), with no download button (whose bytes Streamlit's media file manager serves
    at a /media/ URL without a session; the real server is checked in
    tests/browser/test_hostile_render.py); the report prints that audit entry as its anchor."""
    from dashboard.access import audit

    at = open_page(Viewer("dsmb", user="dsmb.apptest"), "reports.py")
    assert not at.get("download_button") and not at.get("iframe")  # nothing before it is asked for
    at.button(key="make-closed").click().run()
    assert not at.exception, [e.value for e in at.exception]
    report = _delivered(at).decode("utf-8")
    assert report.count('<div class="banner">CONFIDENTIAL - DSMB CLOSED SESSION</div>') == 2
    entry = [e for e in audit.read() if e["action"] == "export: closed report (html)"][-1]
    assert entry["user"] == "dsmb.apptest" and entry["role"] == "dsmb" and entry["data_cut"]["build_id"]
    assert f"Audit log at seq {entry['seq']}, hash {entry['hash']} when this report was made." in report
    assert not at.get("download_button")
    at.run()  # the next rerun (any click): the bytes are no longer in the page
    assert not at.get("iframe")


def test_a_listing_export_is_escaped_audited_and_in_the_page(demo_warehouse):
    from dashboard.access import audit

    at = open_page(Viewer("data_manager", user="dm.apptest"), "deviations.py")
    at.button(key="csv-deviations-reported").click().run()
    assert not at.exception, [e.value for e in at.exception]
    data = _delivered(at)
    rows = list(csv.reader(data.decode("utf-8-sig").splitlines()))
    entry = [e for e in audit.read() if e["action"] == "export: listing (csv)"][-1]
    assert entry["user"] == "dm.apptest" and entry["detail"]["listing"] == "deviation listing: reported"
    assert entry["detail"]["rows"] == len(rows) - 1 > 0
    assert entry["detail"]["bytes"] == len(data)
    assert not [c for r in rows for c in r if c[:1] in ("=", "+", "-", "@", "\t", "\r")]


@pytest.mark.skipif(report_chromium() is None, reason="no Chromium to print the PDF with")
def test_the_closed_report_as_pdf_goes_into_the_page(demo_warehouse):
    from dashboard.access import audit

    at = open_page(Viewer("dsmb", user="dsmb.pdf"), "reports.py", timeout=240)
    at.button(key="makepdf-closed").click().run(timeout=240)
    assert not at.exception, [e.value for e in at.exception]
    assert _delivered(at).startswith(b"%PDF-")
    entry = [e for e in audit.read() if e["action"] == "export: closed report (pdf)"][-1]
    assert entry["user"] == "dsmb.pdf"


def test_a_blinded_role_gets_the_open_report_only(demo_warehouse):
    from dashboard.access import audit

    at = open_page(Viewer("steering", user="steering.apptest"), "reports.py")
    assert "make-closed" not in [b.key for b in at.button]
    at.button(key="make-open").click().run()
    report = _delivered(at).decode("utf-8")
    assert "open monitoring report" in report and "CONFIDENTIAL" not in report and "Audit log at seq" not in report
    entry = [e for e in audit.read() if e["action"] == "export: open report (html)"][-1]
    assert entry["user"] == "steering.apptest"
