"""The open and closed reports (dashboard.outputs.report) on the demo trial: a table of contents,
numbers at risk under every Kaplan-Meier figure, the hazard-ratio forest plot and the baseline by
arm in the closed report only, nothing by arm in the open report, no None/NaT/nan/midnight times
and labels rather than codes; the closed PDF CONFIDENTIAL and numbered "page N of M" on every page."""

from __future__ import annotations

import html
import re
import shutil
from html.parser import HTMLParser

import pytest

from dashboard.access.roles import Viewer
from dashboard.config import load_trial
from dashboard.devtools.demo import write_demo_package
from dashboard.ingest.build import build
from dashboard.outputs import report
from dashboard.store import warehouse
from pdftext import pdf_pages

ANCHOR = {"seq": 7, "hash": "ab" * 32}
RAW_VALUES = re.compile(r"\b(None|NaT|nan|NaN)\b|00:00:00")


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("report")
    write_demo_package(tmp / "pkg")
    build(tmp / "pkg", tmp / "wh")
    out = {}
    for kind, viewer in (("open", Viewer("steering", user="steering.t")), ("closed", Viewer("dsmb", user="dsmb.t"))):
        con = warehouse.connect(tmp / "wh", closed=viewer.closed)
        try:
            out[kind] = report.build_html(con, viewer, load_trial(), audit_anchor=ANCHOR)
        finally:
            con.close()
    return out


class _Text(HTMLParser):
    """The text a reader sees: no script or style; each table as its rows of cells."""

    def __init__(self):
        super().__init__()
        self.chunks: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.chunks.append(data)


def _visible(text: str) -> str:
    p = _Text()
    p.feed(text)
    return " ".join(p.chunks)


def _blocks(text: str) -> list[str]:
    """The report's figures and tables in order, each as its kind: 'km', 'forest-hr', 'figure',
    'at-risk', 'baseline by-arm', 'table'."""
    out = []
    for m in re.finditer(r'<div class="figure ([^"]*)">|<table[^>]*class="([^"]*)"', text):
        if m.group(1) is not None:
            out.append(m.group(1).strip() or "figure")
        else:
            classes = m.group(2).replace("dataframe", "").strip()
            out.append(classes or "table")
    return out


@pytest.mark.parametrize("kind", ["open", "closed"])
def test_the_report_has_a_table_of_contents_of_its_sections(reports, kind):
    text = reports[kind]
    toc = re.search(r'<div class="toc">.*?</div>', text, re.S)
    assert toc, "no table of contents"
    entries = [html.unescape(e) for e in re.findall(r"<li>(.*?)</li>", toc.group(0))]
    sections = [html.unescape(h) for h in re.findall(r"<h2>(.*?)</h2>", text)]
    assert entries == sections and len(sections) >= 7
    assert text.index('<div class="toc">') < text.index("<h2>")
    assert any(s.startswith("CLOSED:") for s in sections) is (kind == "closed")


@pytest.mark.parametrize("kind", ["open", "closed"])
def test_every_kaplan_meier_figure_has_its_numbers_at_risk_right_under_it(reports, kind):
    blocks = _blocks(reports[kind])
    km = [i for i, b in enumerate(blocks) if b == "km"]
    assert len(km) == (2 if kind == "open" else 2 + 4)  # pooled OS, DFS; closed: OS, DFS x ITT, PP
    for i in km:
        assert blocks[i + 1] == "at-risk", blocks[i : i + 2]
    # the at-risk table of the pooled OS curve: its first count is every subject with an OS time
    first = re.search(r"<table[^>]*at-risk[^>]*>.*?</table>", reports[kind], re.S).group(0)
    assert "Numbers at risk" in first and "<td>pooled</td>" in first


def test_the_closed_report_has_the_hazard_ratio_forest_plot(reports):
    text = reports["closed"]
    assert _blocks(text).count("forest-hr") == 1
    start = text.index('<div class="figure forest-hr">')
    forest = text[start : text.index('<div class="figure', start + 1)]
    assert '"type":"log"' in forest.replace(" ", "")  # a hazard ratio on a log axis
    assert "Hazard ratio of death" in forest
    assert "forest-hr" not in reports["open"]


def test_baseline_by_arm_is_in_the_closed_report_only(reports):
    cfg = load_trial()
    closed, opened = reports["closed"], reports["open"]
    assert _blocks(closed).count("baseline by-arm") == 1
    table = re.search(r"<table[^>]*baseline by-arm[^>]*>.*?</table>", closed, re.S).group(0)
    for arm in cfg.arms:
        assert f"<th>{html.escape(arm.label)}</th>" in table
    assert "Age at consent" in table and "Primary site" in table and "Oral cavity" in table
    # the open report: a pooled baseline, and nothing by arm anywhere
    assert _blocks(opened).count("baseline") == 1 and "by-arm" not in opened
    for arm in cfg.arms:
        assert arm.label not in opened and arm.code not in _visible(opened), arm.code
    assert "CONFIDENTIAL" not in opened and "CLOSED:" not in opened


@pytest.mark.parametrize("kind", ["open", "closed"])
def test_no_raw_missing_values_or_midnight_times_in_the_report(reports, kind):
    text = _visible(reports[kind])
    assert not RAW_VALUES.findall(text), sorted({m.group(0) for m in RAW_VALUES.finditer(text)})
    assert " to — " not in text and "— to" not in text  # an interval without ends reads as one dash


@pytest.mark.parametrize("kind", ["open", "closed"])
def test_codes_read_as_labels(reports, kind):
    text = _visible(reports[kind])
    for code in (
        "CR|ORAL CAVITY",
        "PR|OTHER",
        "response_imaging",
        "siteid",
        "sitename",
        "worst_grade",
        "per_month",
        "days_since_last",
        "STRATRESP",
        "MAJOR",
        "BASELINE",
    ):
        assert code not in text, code
    assert "Complete response · Oral cavity" in text and "Response imaging" in text
    if kind == "closed":
        for code in ("any_ae", "grade3plus", "clavien_3a_plus_30d", "z_boundary", "GT HALF", "DE-ESCALATION"):
            assert code not in text, code
        assert "Boundary (z)" in text and "More than half" in text


needs_pdf_tools = pytest.mark.skipif(
    report.chromium() is None or not shutil.which("pdftotext"),
    reason="needs Debian's chromium and poppler-utils (.ci/run installs both)",
)


@needs_pdf_tools
def test_every_page_of_the_closed_pdf_is_confidential_and_numbered(reports, tmp_path):
    src = tmp_path / "closed.html"
    src.write_text(reports["closed"], encoding="utf-8")
    pages = pdf_pages(report.html_to_pdf(src, tmp_path / "closed.pdf"))
    assert len(pages) > 3
    for n, text in enumerate(pages, start=1):
        assert "CONFIDENTIAL - DSMB CLOSED SESSION" in text, n
        assert f"page {n} of {len(pages)}" in text, n
    whole = "\n".join(pages)
    assert "Numbers at risk" in whole and "Contents" in whole
    assert not RAW_VALUES.findall(whole)


@needs_pdf_tools
def test_every_page_of_the_open_pdf_is_numbered_and_not_confidential(reports, tmp_path):
    src = tmp_path / "open.html"
    src.write_text(reports["open"], encoding="utf-8")
    pages = pdf_pages(report.html_to_pdf(src, tmp_path / "open.pdf"))
    for n, text in enumerate(pages, start=1):
        assert f"page {n} of {len(pages)}" in text, n
        assert "open monitoring report" in text, n  # the title in every page's header
    assert "CONFIDENTIAL" not in "\n".join(pages)


@needs_pdf_tools
def test_a_pdf_that_cannot_be_printed_says_why(tmp_path):
    """Chromium given a page it cannot finish in time: a PdfFailed, not a hang or a bare crash."""
    src = tmp_path / "slow.html"
    src.write_text("<html><head><title>t</title></head><body>x</body></html>", encoding="utf-8")
    with pytest.raises(report.PdfFailed):
        report.html_to_pdf(src, tmp_path / "out.pdf", timeout=0.01)


def test_the_closed_report_names_the_arms_not_a_and_b(reports):
    """The difference's reason said "arm A" / "arm B" (the statistics' letters): the report words
    it as the page does, with the arms' labels."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", reports["closed"]))
    assert "arm A" not in text and "arm B" not in text
    assert "OS difference is not estimable yet" in text
