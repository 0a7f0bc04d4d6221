"""Escaping a value from the data for each place it is shown (dashboard/outputs/escape.py), and the
figures and reports made from hostile values: no live markup in them (issue 11, class 9), and the
CSV cells of a listing export defused (class 6). The rendering itself in a real browser is
tests/browser/test_hostile_render.py."""

from __future__ import annotations

import csv
import html.parser
import io
import json
import string

import numpy as np
import pandas as pd
import pytest

from dashboard.access import audit
from dashboard.access.roles import Viewer
from dashboard.config import load_trial
from dashboard.devtools.demo import write_demo_package
from dashboard.ingest.build import build
from dashboard.outputs import escape, figures, report
from dashboard.store import warehouse
from hostile import hostile_package, markup

ORIGIN = "http://127.0.0.1:9"  # nothing listens there; the tests look for the text, not for requests
HOSTILE = [
    markup(ORIGIN, "x"),
    "![img](http://evil.example/x.png)",
    "<a href='http://evil.example/'>link</a>",
    '<img src=x onerror="alert(1)">',
    ":red[red] :material/home: $x^2$ **bold** `code` ~~s~~ <br> &lt; &amp;",
    "line one\nline two\r\n# heading\n- item\n| a | b |",
    "http://evil.example/path www.evil.example mail@evil.example",
    "上海 ＜b＞ full-width",
]


# --- Markdown -----------------------------------------------------------------------------------


def _unescaped(md: str) -> str:
    """What CommonMark shows for text made only of characters and backslash escapes."""
    out, i = [], 0
    while i < len(md):
        if md[i] == "\\" and i + 1 < len(md) and md[i + 1] in string.punctuation:
            out.append(md[i + 1])
            i += 2
        else:
            out.append(md[i])
            i += 1
    return "".join(out)


@pytest.mark.parametrize("value", HOSTILE)
def test_markdown_escapes_every_punctuation_character_and_keeps_the_text(value):
    md = escape.markdown(value)
    # every ASCII punctuation character is escaped: no emphasis, link, image, directive, math,
    # entity or HTML can start; nothing else is added but the word joiners that break autolinks
    i = 0
    while i < len(md):
        if md[i] == "\\":
            assert md[i + 1] in string.punctuation, (md, i)
            i += 2
            continue
        assert md[i] not in string.punctuation, (md, i)
        i += 1
    assert "\n" not in md and "\r" not in md and "\t" not in md  # inline: no block can start
    shown = _unescaped(md).replace(escape.WORD_JOINER, "")
    expected = value.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    assert shown == expected


def test_markdown_breaks_every_autolink_pattern():
    md = escape.markdown("see http://a.example, HTTPS://b.example, www.c.example and d@e.example")
    for pattern in ("http\\:", "HTTPS\\:", "www\\.", "d\\@"):
        assert pattern not in md, (pattern, md)
    for pattern in ("http" + escape.WORD_JOINER, "HTTPS" + escape.WORD_JOINER, "www" + escape.WORD_JOINER):
        assert pattern in md
    assert "d" + escape.WORD_JOINER + "\\@e" in md


def test_markdown_of_missing_values_and_numbers():
    assert escape.markdown(None) == "" and escape.markdown(float("nan")) == ""
    assert escape.markdown(12) == "12" and escape.markdown(-1.5) == "\\-1\\.5"


# --- HTML and plotly ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", HOSTILE)
def test_html_and_plotly_escapes(value):
    h = escape.html(value)
    assert "<" not in h and ">" not in h and '"' not in h and "'" not in h
    assert html.unescape(h) == value
    p = escape.plotly(value)
    assert "<" not in p and ">" not in p and "$" not in p
    # plotly converts entities in the text between tags: what it shows is the value as typed
    back = p.replace("&lt;", "<").replace("&gt;", ">").replace("&#36;", "$").replace("&amp;", "&")
    assert back == value


def test_plotly_values_escape_strings_only():
    stamp = pd.Timestamp("2028-06-30")
    assert escape.plotly_values(["<b>", 1, None, stamp, 2.5]) == ["&lt;b&gt;", 1, None, stamp, 2.5]


# --- CSV ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cell", ["=1+1", '=HYPERLINK("http://evil/","x")', "+41", "-2+3", "@SUM(A1)", "\tx", "\rx", "＝1", "＠x", "－1"]
)
def test_a_cell_a_spreadsheet_would_run_gets_an_apostrophe(cell):
    assert escape.csv_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["01", "a=b", " =1", "'=1", "", "上海", 5, -3.5, None])
def test_other_cells_are_unchanged(cell):
    assert escape.csv_cell(cell) == cell


def test_csv_bytes_defuses_cells_and_headers_and_keeps_numbers():
    frame = pd.DataFrame(
        {"SUBJID": ["01-001", "01-002", None], "DVTERM": ['=HYPERLINK("http://e/","x")', "@x", "ok"], "n": [-1, 2, 3]}
    )
    frame["=bad header"] = ["+1", "a\nb", "c,d"]
    data = escape.csv_bytes(frame)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["SUBJID", "DVTERM", "n", "'=bad header"]
    assert rows[1] == ["01-001", '\'=HYPERLINK("http://e/","x")', "-1", "'+1"]
    assert rows[2] == ["01-002", "'@x", "2", "a\nb"]
    assert rows[3] == ["", "ok", "3", "c,d"]
    assert frame.loc[0, "DVTERM"].startswith("=")  # the caller's frame is not changed


def test_csv_frame_with_duplicate_column_names():
    frame = pd.DataFrame([["=a", "=b"]], columns=["x", "x"])
    assert escape.csv_frame(frame).values.tolist() == [["'=a", "'=b"]]


# --- figures ------------------------------------------------------------------------------------


def _strings(node):
    """Every string of a figure's JSON."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from _strings(v)
    elif isinstance(node, list | tuple):
        for v in node:
            yield from _strings(v)


def _assert_no_markup(fig, *expected_texts):
    spec = json.loads(fig.to_json())
    texts = list(_strings(spec["data"])) + list(_strings(spec["layout"].get("annotations", [])))
    texts += [spec["layout"].get("title", {}).get("text") or ""]
    texts += [v.get("title", {}).get("text") or "" for k, v in spec["layout"].items() if k[1:5] == "axis"]
    bad = [t for t in texts if "<" in t or ">" in t or "$" in t]
    assert bad == [], bad
    for text in expected_texts:
        assert escape.plotly(text) in texts or any(escape.plotly(text) in t for t in texts), text


def test_every_figure_shows_hostile_labels_as_text():
    a, b, c = HOSTILE[0], HOSTILE[2], HOSTILE[4]
    _assert_no_markup(figures.bars([a, b], [1, 2], title=c), a, b, c)
    _assert_no_markup(figures.bars([a, b], [1, 2], horizontal=False), a, b)
    frame = pd.DataFrame({"site": [a, b], "x": [1, 2], "y": [3, 4]})
    _assert_no_markup(figures.grouped_bars(frame, "site", ["x", "y"], [b, c], title=a), a, b, c)
    _assert_no_markup(figures.lines(frame.assign(m=[1, 2]), "m", ["x", "y"], [a, b]), a, b)
    curve = pd.DataFrame({"time": [0.0, 30.0], "survival": [1.0, 0.9], "lower": [1.0, 0.8], "upper": [1.0, 0.95]})
    _assert_no_markup(figures.kaplan_meier({a: curve, b: curve}, 30.4, curve, design_label=c, title=a), a, b, c)
    signal = {"label": a, "observed": 0.1, "lower": 0.05, "upper": 0.2, "threshold": 0.15, "flagged": True}
    _assert_no_markup(figures.signals([signal, {**signal, "label": b}]), a, b)
    sites = pd.DataFrame({"n": [10, 20], "rate": [0.1, 0.2], "siteid": [a, b], "flag": ["above", "within"]})
    limits = pd.DataFrame({"n": [1, 2], "lower_95": [0, 0], "upper_95": [0.5, 0.4]})
    _assert_no_markup(figures.funnel(sites, 0.15, limits, title=c), a, b, c)
    rows = [{"label": a, "estimate": 0.01, "lower": -0.05, "upper": 0.07}, {"label": b, "estimate": None}]
    _assert_no_markup(figures.forest(rows, -0.1, c, favours=(a, b), percent=True), a, b, c)
    dots = pd.DataFrame(
        {"label": [a, b], "p_exp": [0.1, 0.2], "p_ref": [0.1, 0.3], "difference": [0, -0.1], "lower": [-0.1, -0.2]}
    ).assign(upper=[0.1, 0.0])
    _assert_no_markup(figures.dot_chart(dots, a, b), a, b)


def test_a_figure_built_on_a_page_passes_the_same_escaping():
    """pages/safety.py builds its stacked bars itself and passes them through figures._layout."""
    fig = figures.go.Figure([figures.go.Bar(y=np.array([HOSTILE[0]], dtype=object), x=[1], name=HOSTILE[2])])
    _assert_no_markup(figures._layout(fig, HOSTILE[3]), HOSTILE[0], HOSTILE[2], HOSTILE[3])


def test_numbers_and_dates_are_left_alone():
    cumulative = pd.DataFrame({"date": pd.to_datetime(["2026-01-01", "2026-02-01"]), "randomized": [1, 2]})
    fig = figures.accrual(cumulative, None, 10)
    assert fig.data[0].y.tolist() == [1, 2]
    assert pd.to_datetime(pd.Series(fig.data[0].x)).tolist() == cumulative["date"].tolist()


# --- reports ------------------------------------------------------------------------------------


class _Tags(html.parser.HTMLParser):
    """The elements of a report outside its scripts (plotly.js's own code names tags as strings)."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _in_figure_json(label: str) -> str:
    """`label` as plotly.io.to_html writes it inside a figure's JSON."""
    return json.dumps(label)[1:-1].replace("<", "\\u003c").replace(">", "\\u003e").replace("/", "\\u002f")


@pytest.fixture(scope="module")
def hostile_warehouse(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    write_demo_package(tmp / "demo", subjects=120, sites=6)
    hostile_package(tmp / "demo", tmp / "pkg", ORIGIN)
    build(tmp / "pkg", tmp / "wh")
    return tmp / "wh"


@pytest.mark.parametrize("role", ["steering", "dsmb"])
def test_a_report_from_hostile_data_holds_no_live_markup(hostile_warehouse, role):
    viewer = Viewer(role, user=f"{role}.tester")
    audit.append("export: test", user=viewer.user, role=role)
    con = warehouse.connect(hostile_warehouse, closed=viewer.closed)
    try:
        text = report.build_html(con, viewer, load_trial())
    finally:
        con.close()
    parser = _Tags()
    parser.feed(text)
    names = {t for t, _ in parser.tags}
    assert "a" not in names and "img" not in names and "iframe" not in names, names
    assert not [(t, a) for t, a in parser.tags for k, v in a.items() if k.startswith("on") or ORIGIN in (v or "")]
    # the data's markup is in the report as text: in tables (HTML-escaped), in figures (plotly)
    assert f'&lt;a href="{ORIGIN}/sitename-a"&gt;sitename link&lt;/a&gt;' in text  # a table cell (pandas)
    assert f'<a href="{ORIGIN}' not in text and f'<img src="{ORIGIN}' not in text
    # a figure's JSON in the page (plotly writes < > / as \\u escapes there): the labels are
    # plotly-escaped, never the raw tags plotly would draw as a link
    assert _in_figure_json(f'<a href="{ORIGIN}/aesoc-a">') not in text
    if viewer.closed:  # the closed report's adverse-event dot chart is labelled by system organ class
        assert _in_figure_json(escape.plotly(f'<a href="{ORIGIN}/aesoc-a">aesoc link</a>')) in text
    if viewer.closed:
        last = audit.anchor()
        assert f"Audit log at seq {last['seq']}, hash {last['hash']} when this report was made." in text
    else:
        assert "Audit log at seq" not in text


def test_the_anchor_text():
    assert report.anchor_text(None) == "Audit log at seq 0 (empty) when this report was made."
    assert report.anchor_text({"seq": 7, "hash": "ab"}) == "Audit log at seq 7, hash ab when this report was made."
    assert "unavailable" in report.anchor_text({"unavailable": "PermissionError: denied"})
