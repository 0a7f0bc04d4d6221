"""Issue 13, the outcome pages as their readers see them: the safety, survival and DSMB closed pages
say what a number means (a median carried by one subject, two immune-related counts, a flag that
is a rule and not a crossed threshold), draw what their titles promise (thresholds, an ordered
grade scale, a labelled log axis, a message instead of an empty chart, the observed z as a
marker), and show labels, not codes. Unit tests of the view and figure functions, and the pages
rendered by AppTest on the demo trial."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from apptest import ROOT, chart_json, clear_caches, page_text, serving
from dashboard.access.roles import Viewer
from dashboard.config import load_trial
from dashboard.devtools.demo import write_demo_package
from dashboard.ingest.build import build
from dashboard.outputs import figures, labels
from dashboard.store import warehouse
from dashboard.views import closed, outcomes, safety

CFG = load_trial()
ARM_COLORS = {a.color.lower() for a in CFG.arms}
DSMB = Viewer("dsmb", None, "dsmb.chair")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("outcome-pages")
    write_demo_package(tmp / "pkg")
    build(tmp / "pkg", tmp / "wh")
    with serving(tmp / "wh") as wh:
        yield wh


def _open(viewer: Viewer, page: str, state: dict | None = None) -> AppTest:
    """A page script run with `viewer` signed in (the page checks the role itself)."""
    clear_caches()
    at = AppTest.from_file(str(ROOT / "pages" / page), default_timeout=180)
    at.session_state["viewer"] = viewer
    for k, v in (state or {}).items():
        at.session_state[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _figures(at: AppTest) -> list[dict]:
    return [json.loads(chart_json(e)) for e in at.get("plotly_chart")]


# --- 1. the median: shown only when its interval is estimable and enough subjects are at risk ---


def _km(times, events):
    df = pd.DataFrame({"os_days": times, "os_event": events, "os_excluded_reason": None})
    return outcomes.km_summary(df, "os", CFG)


def test_a_median_carried_by_a_tail_of_one_is_not_reliably_estimated():
    # 20 subjects, 5 deaths early, the rest censored before day 700 except one who dies at 800:
    # the curve drops to 0 at day 800 with one subject at risk, no lower confidence limit
    times = [30, 60, 90, 120, 150] + list(range(300, 300 + 14 * 30, 30)) + [800]
    events = [1] * 5 + [0] * 14 + [1]
    km = _km(times, events)
    assert km["median_days"] == 800 and km["median_at_risk"] == 1
    assert km["median_reliable"] is False
    value, note = outcomes.median_text(km, CFG)
    assert value == "not reliably estimated"
    assert "1 subject(s) at risk" in note and "26.3 months" in note


def test_a_median_with_enough_at_risk_is_shown_with_its_interval():
    rng = np.random.default_rng(7)
    times = rng.exponential(400, 200).round() + 1
    km = _km(times, np.ones(200, dtype=int))
    assert km["median_reliable"] is True and km["median_at_risk"] >= CFG.blinding.min_cell_size
    value, note = outcomes.median_text(km, CFG)
    assert value == f"{km['median_days'] / CFG.trial.days_per_month:.1f} months"
    assert note.startswith(f"95% CI {km['median_lower'] / CFG.trial.days_per_month:.1f} to ")


def test_the_survival_page_does_not_give_the_dfs_tail_median_as_an_estimate(demo):
    at = _open(Viewer("pi"), "survival.py", {"endpoint": "dfs"})
    metrics = {m.label: m.value for m in at.metric}
    # the demo's pooled DFS curve falls from 73% to 0 at 26.2 months with one subject at risk
    assert metrics["Median"] == "not reliably estimated"
    text = page_text(at, charts=False)
    assert "falls to 50% at 26.2 months with 1 subject(s) at risk" in text
    assert "26.2 months" not in metrics.values()


# --- 2. immune-related grade 3+: the headline (any time) and the signal (neoadjuvant) explained ---


def test_the_immune_related_counts_are_explained_on_the_safety_page(demo):
    con = warehouse.connect(demo)
    try:
        result = safety.pooled(con, Viewer("pi"))
    finally:
        con.close()
    counts = result["pooled"]
    signal = next(s for s in result["signals"] if s["name"] == "immune_grade3plus_neoadjuvant")
    assert counts["immune_grade3plus_neoadjuvant"] == signal["events"]
    total, neo = counts["immune_grade3plus"], signal["events"]
    assert (total, neo) == (26, 25)  # the two numbers the issue saw
    at = _open(Viewer("pi"), "safety.py")
    text = page_text(at, charts=False)
    assert f"{total} subject(s) with such an event at any time; {neo} of them during neoadjuvant therapy" in text
    assert f"({total - neo} only after it)" in text


# --- 3. a flag from the any-event rule is drawn and written as that rule -------------------------


def _death_signal(demo):
    con = warehouse.connect(demo)
    try:
        sig = safety.pooled(con, Viewer("pi"))["signals"]
    finally:
        con.close()
    return sig, next(s for s in sig if s["name"] == "death_90d")


def test_a_death_below_the_threshold_is_flagged_by_the_any_event_rule(demo):
    sig, death = _death_signal(demo)
    assert death["flagged"] and death["observed"] < death["threshold"]
    assert death["flag_rule"] == "any event"
    assert "not by the 3.0% threshold" in death["flag_reason"]
    fig = figures.signals(sig).to_plotly_json()
    # its marker is in the any-event trace, not in "above threshold"
    by_name = {t["name"]: list(t["y"]) for t in fig["data"] if t.get("y") is not None and t["y"][0] is not None}
    any_event = next(n for n in by_name if n.startswith("flagged: any event"))
    assert death["label"] in by_name[any_event]
    assert not any(death["label"] in ys for n, ys in by_name.items() if "above" in n)
    notes = [a["text"] for a in fig["layout"]["annotations"]]
    assert "flagged: any event, not the 3.0% threshold" in notes
    rows = safety.signal_rows(sig)
    assert next(r for r in rows if r["signal"] == death["label"])["flag"] == "flagged: any event"


# --- 6. charts: thresholds drawn, log axis, empty chart with a message, interim plot --------------


def test_the_signals_chart_draws_each_threshold_on_its_row(demo):
    sig, _ = _death_signal(demo)
    fig = figures.signals(sig).to_plotly_json()
    shapes = [s for s in fig["layout"]["shapes"] if s["type"] == "line"]
    with_threshold = [(i, s["threshold"]) for i, s in enumerate(sig) if s["threshold"] is not None]
    assert len(with_threshold) == 4
    assert sorted((round((s["y0"] + s["y1"]) / 2), s["x0"]) for s in shapes) == with_threshold
    assert any(t["name"] == "threshold (assumed)" for t in fig["data"])


def test_the_closed_signal_dot_chart_draws_the_thresholds_in_arm_colours(demo):
    con = warehouse.connect(demo, closed=True)
    try:
        saf = closed.safety_by_arm(con, DSMB)
    finally:
        con.close()
    sig = saf["signal_differences"]
    exp, ref = (a.label for a in CFG.arms)
    fig = figures.dot_chart(sig.assign(label=sig.signal), exp, ref).to_plotly_json()
    shapes = [s for s in fig["layout"]["shapes"] if s.get("xref") == "x" and s["type"] == "line"]
    assert sorted(s["x0"] for s in shapes) == sorted(t for t in sig.threshold if pd.notna(t))
    colors = {t["name"]: t["marker"]["color"] for t in fig["data"] if t.get("name") in (exp, ref)}
    assert colors == {a.label: a.color for a in CFG.arms}


def test_the_hazard_ratio_axis_is_log_with_labelled_ticks():
    rows = [{"label": "ITT", "estimate": 0.77, "lower": 0.31, "upper": 2.89}]
    axis = figures.forest(rows, 1.8, "HR", log=True).to_plotly_json()["layout"]["xaxis"]
    assert axis["type"] == "log"
    assert list(axis["tickvals"]) == [0.25, 0.5, 1, 2, 4] and list(axis["ticktext"]) == ["0.25", "0.5", "1", "2", "4"]
    assert axis["range"][0] == pytest.approx(np.log10(0.25) - 0.05) and axis["range"][1] == pytest.approx(
        np.log10(4) + 0.05
    )
    wide = [{"label": "PP", "estimate": 1.2, "lower": 0.1, "upper": 9.0}]
    axis = figures.forest(wide, 1.8, "HR", log=True).to_plotly_json()["layout"]["xaxis"]
    assert axis["tickvals"][0] == 0.0625 and axis["tickvals"][-1] == 16  # widened only as far as needed
    fig = figures.forest(rows, 1.8, "HR", log=True).to_plotly_json()
    margin = next(a for a in fig["layout"]["annotations"] if a["text"] == "margin 1.8")
    assert margin["x"] == pytest.approx(np.log10(1.8))  # on the log axis, where the line is


def test_the_difference_chart_says_why_it_is_empty(demo):
    at = _open(DSMB, "closed_survival.py")
    diff = next(f for f in _figures(at) if "OS difference" in (f["layout"].get("title") or {}).get("text", ""))
    assert not [t for t in diff["data"] if t.get("x")]
    assert [a["text"] for a in diff["layout"]["annotations"]] == ["Not estimable yet: no one followed 36 months"]
    text = page_text(at, charts=False)
    assert "Intention to treat: The 36-month OS difference is not estimable yet: no subject has been followed" in text
    assert "arm A" not in text and "arm B" not in text


def test_the_interim_plot_shows_the_observed_z_as_a_marker_and_labels_its_axis():
    planned = [{"fraction": f, "z_boundary": z} for f, z in ((0.5, 2.96), (0.75, 2.36), (1.0, 2.01))]
    actual = [
        {"fraction": 0.3, "z_boundary": 3.9, "held": True},
        {"fraction": 0.5, "z_boundary": 2.97, "held": False},
        {"fraction": 1.0, "z_boundary": 2.0, "held": False},
    ]
    fig = figures.boundaries(planned, actual, 1.26, 0.3).to_plotly_json()
    assert fig["layout"]["yaxis"]["title"]["text"] == "z-statistic for non-inferiority"
    low, high = fig["layout"]["yaxis"]["range"]
    assert low < 0 < 1.26 < 3.9 < high <= figures.Z_AXIS_CAP + 1
    recomputed = [t for t in fig["data"] if t["name"].startswith("boundary at")]
    assert recomputed and all("lines" not in t["mode"] for t in recomputed)  # markers, not a line
    observed = next(t for t in fig["data"] if t["name"] == "observed z at this look")
    assert "lines" not in observed["mode"] and list(observed["y"]) == [1.26]
    early = figures.boundaries(planned, [{"fraction": 0.05, "z_boundary": 19.5, "held": True}], 0.4, 0.05)
    assert early.to_plotly_json()["layout"]["yaxis"]["range"][1] <= figures.Z_AXIS_CAP + 1  # not stretched to 19.5


# --- 4. adverse-event grades in an ordered scale ------------------------------------------------


def _luminance(hex_color: str) -> float:
    r, g, b = (int(hex_color.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_the_soc_by_grade_chart_uses_an_ordered_scale_named_grade_1_to_5(demo):
    at = _open(Viewer("pi"), "safety.py")
    soc = next(f for f in _figures(at) if any(t.get("type") == "bar" for t in f["data"]))
    bars = [t for t in soc["data"] if t.get("type") == "bar"]
    assert [t["name"] for t in bars] == [f"Grade {g}" for g in range(1, 6)]
    colors = [t["marker"]["color"].lower() for t in bars]
    assert not set(colors) & ARM_COLORS
    lum = [_luminance(c) for c in colors]
    assert lum == sorted(lum, reverse=True) and len(set(lum)) == 5  # light to dark, grade by grade
    table = next(d.value for d in at.dataframe if "System organ class" in d.value.columns)
    assert list(table.columns) == ["System organ class"] + [f"Grade {g}" for g in range(1, 6)] + ["Total"]


# --- 5 and 7. labels, not codes; percentages beside counts; the flag column first ----------------

CODES = ("any_ae", "grade3plus", "clavien_3a_plus_30d", "z_boundary", "obrien fleming", "GT HALF", "LT HALF")
SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
PAGES = [
    (Viewer("pi"), "safety.py", None),
    (Viewer("pi"), "survival.py", None),
    (Viewer("pi"), "survival.py", {"endpoint": "dfs"}),
    (DSMB, "closed_safety.py", None),
    (DSMB, "closed_survival.py", None),
    (DSMB, "closed_survival.py", {"closed_endpoint": "dfs"}),
    (DSMB, "closed_surgery.py", None),
    (DSMB, "closed_interim.py", None),
]


def _chart_words(at: AppTest) -> str:
    """The words of a page's charts: legend names, annotations, titles and axis titles."""
    parts = []
    for fig in _figures(at):
        layout = fig["layout"]
        parts += [t.get("name") or "" for t in fig["data"]]
        parts += [a.get("text") or "" for a in layout.get("annotations", [])]
        parts += [(layout.get("title") or {}).get("text") or ""]
        parts += [(v.get("title") or {}).get("text") or "" for k, v in layout.items() if k[1:5] == "axis"]
    return "\n".join(parts)


@pytest.mark.parametrize("viewer,page,state", PAGES, ids=[f"{p}{'-dfs' if s else ''}" for _v, p, s in PAGES])
def test_labels_not_codes_and_no_missing_markers(demo, viewer, page, state):
    at = _open(viewer, page, state)
    visible = "\n".join(
        [
            str(e.value)
            for kind in ("title", "subheader", "markdown", "caption", "info", "warning", "error")
            for e in getattr(at, kind)
        ]
        + [f"{m.label} {m.value}" for m in at.metric]
        + [d.value.to_csv(index=False) for d in at.dataframe]
        + [t.value.to_csv(index=False) for t in at.table]
    )
    for code in CODES:
        assert code not in visible, (page, code)
    snake = {w for w in SNAKE.findall(visible) if w not in ("conf.type",)}
    assert not snake, (page, snake)
    for bad in ("None", "NaT", "nan", "00:00:00"):
        assert not re.search(rf"\b{bad}\b", visible), (page, bad)
    charts = _chart_words(at)
    for code in CODES:
        assert code not in charts, (page, code)
    assert not SNAKE.findall(charts), (page, SNAKE.findall(charts))


def test_safety_by_arm_gives_percentages_labels_and_the_flag_first(demo):
    at = _open(DSMB, "closed_safety.py")
    counts = next(d.value for d in at.dataframe if "Count" in d.value.columns)
    row = counts[counts["Count"] == labels.column("any_ae", CFG)].iloc[0]
    for arm in CFG.arms:
        assert re.fullmatch(r"\d+ \(\d+\.\d%\)", row[arm.label]), row[arm.label]
    death = counts[counts["Count"] == "Death within 90 days of surgery"].iloc[0]
    assert death["Of"] == "Operated"
    signals = next(t.value for t in at.table if "Signal" in t.value.columns)
    assert list(signals.columns)[:2] == ["Signal", "Flagged"]
    flagged = signals.set_index("Signal")["Flagged"]
    assert flagged["Death within 90 days of surgery"] == "Standard surgery (any event)"
    assert flagged["Positive surgical margin"] == "De-escalation surgery (above threshold)"


def test_the_closed_surgery_markers_read_as_labels(demo):
    at = _open(DSMB, "closed_surgery.py")
    values = set()
    for d in at.dataframe:
        if "Recorded" in d.value.columns:
            values |= set(d.value["Recorded"])
    assert {"Yes", "No", "More than half", "Less than half", "Hemiglossectomy", "Not recorded"} <= values
    assert labels.code("NONE", CFG) in values  # no tongue resection
    assert not values & {"Y", "N", "GT HALF", "LT HALF", "HEMI", "NONE", "None"}


def test_the_interim_tables_and_caption_read_as_labels(demo):
    at = _open(DSMB, "closed_interim.py")
    tables = [d.value for d in at.dataframe if "Boundary (z)" in d.value.columns]
    assert len(tables) == 2  # planned, and at the actual fraction
    assert not any("z_boundary" in t.columns or "held" in t.columns for t in tables)
    assert set(tables[1]["Look"]) <= {"held (this look or before)", "to come"}
    text = page_text(at, charts=False)
    assert "Lan-DeMets O'Brien-Fleming-type alpha spending" in text and "obrien fleming" not in text


def test_arm_curves_are_drawn_in_the_arms_colours_and_nothing_else_is():
    curve = pd.DataFrame({"time": [0.0, 30.0], "survival": [1.0, 0.9], "lower": [1.0, 0.8], "upper": [1.0, 0.95]})
    fig = figures.kaplan_meier({a.label: curve for a in CFG.arms}, 30.4375).to_plotly_json()
    lines = {t["name"]: t["line"]["color"] for t in fig["data"] if t.get("name")}
    assert lines == {a.label: a.color for a in CFG.arms}
    pooled = figures.kaplan_meier({"pooled": curve}, 30.4375).to_plotly_json()
    assert not {t["line"]["color"].lower() for t in pooled["data"] if t.get("name")} & ARM_COLORS
    assert not hasattr(figures, "ARM_COLORS")  # the old hard-coded pair is gone


def test_closed_pages_stay_closed_for_blinded_roles(demo):
    for page in ("closed_safety.py", "closed_survival.py", "closed_surgery.py", "closed_interim.py"):
        clear_caches()
        at = AppTest.from_file(str(Path(ROOT) / "pages" / page), default_timeout=60)
        at.session_state["viewer"] = Viewer("steering")
        at.run()
        text = page_text(at, charts=False)
        assert "not available to your role" in text and not at.dataframe and not at.get("plotly_chart")


def test_a_paragraph_long_class_name_cannot_squeeze_the_grade_chart():
    """A system organ class from the data as long as a paragraph (the hostile package's has markup
    and three URLs) had its tick label pushed the bars to a sliver: tick labels are now at most
    three lines, cut with an ellipsis, and the whole name is in the hover text."""
    import pandas as pd

    from dashboard.outputs import figures
    from dashboard.outputs.figures.common import MAX_TICK_LINES

    long = "Disorders " + " ".join(f"word{i}" for i in range(80)) + " " + "x" * 200
    table = pd.DataFrame({"soc": [long, "Cardiac disorders"], 1: [3, 1], 2: [1, 0], 3: [0, 0], 4: [0, 0], 5: [0, 0]})
    fig = figures.soc_by_grade(table)
    ticks = list(fig.layout.yaxis.ticktext)
    assert all(t.count("<br>") < MAX_TICK_LINES for t in ticks)
    assert max(len(line) for t in ticks for line in t.split("<br>")) <= 50
    assert ticks[0].endswith("…") and ticks[1] == "Cardiac disorders"
    assert fig.data[0].hovertext[0].startswith("Disorders word0") and "x" * 200 in fig.data[0].hovertext[0]
