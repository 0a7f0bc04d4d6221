"""Issue 15, what leaves the dashboard in Chinese: the open and the closed report (HTML and the
printed PDF), the figures, the labels, and the summary JSON that must not change with the language.

Real builds: the demo trial (dashboard.devtools.demo, seeded) built into a warehouse, the reports made
by dashboard.outputs.report in each language (`i18n.using`), the PDF printed by headless Chromium
and read back by poppler's pdftotext (tests/pdftext.py). The Chinese expected here is written out
(not looked up in the catalogue), so a wrong or missing translation fails.

Scanned for English left: the text a reader sees in the Chinese report (no script, no style) holds no
run of two English words outside the kept names (the glossary's eponyms and abbreviations, code a
reader types) and the data's own values (MedDRA class names, the export's source line). A run
written by dashboard/outputs fails the test; a run from another catalogue (views, stats: other
helpers' files) marks it xfail naming its source."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from dashboard import i18n
from dashboard.access.roles import Viewer
from dashboard.config import load_trial
from dashboard.devtools.demo import write_demo_package
from dashboard.ingest.build import build
from dashboard.outputs import figures, labels, report
from dashboard.outputs.summary import summary
from dashboard.store import warehouse
from pdftext import pdf_pages

ROOT = Path(__file__).resolve().parents[1]
CFG = load_trial()
ANCHOR = {"seq": 7, "hash": "ab" * 32}
VIEWERS = {"open": Viewer("steering", user="steering.t"), "closed": Viewer("dsmb", user="dsmb.t")}

# the report's sections, in order, as a Chinese reader reads them (docs/glossary.md's terms)
OPEN_SECTIONS_ZH = [
    "上次会议以来",  # issue 16: what is new since the committee's last pinned cut comes first
    "入组与研究中心",
    "按分层的随机化",
    "基线特征（已随机，两组合并）",
    "方案偏离",
    "生存分析（两组合并）",
    "安全性信号（两组合并）",
    "数据质量",
]
CLOSED_SECTIONS_ZH = OPEN_SECTIONS_ZH + [
    "闭门：按组的分配与基线特征",
    "闭门：非劣效",
    "闭门：各组对数秩检验（log-rank）",
    "闭门：各组生存分析",
    "闭门：期中监查",
    "闭门：各组安全性",
    "闭门：手术质量",
]
OPEN_SECTIONS_EN = [
    "Since the last meeting",
    "Accrual and sites",
    "Randomization by stratum",
    "Baseline characteristics (randomized, pooled)",
    "Protocol deviations",
    "Survival, pooled over both arms",
    "Safety signals, pooled over both arms",
    "Data quality",
]
CLOSED_SECTIONS_EN = OPEN_SECTIONS_EN + [
    "CLOSED: allocation and baseline by arm",
    "CLOSED: non-inferiority",
    "CLOSED: log-rank test by arm",
    "CLOSED: survival by arm",
    "CLOSED: interim monitoring",
    "CLOSED: safety by arm",
    "CLOSED: surgical quality",
]
MARK_ZH = "机密 - DSMB 闭门会议"
MARK_EN = "CONFIDENTIAL - DSMB CLOSED SESSION"

ENGLISH_RUN = re.compile(r"[A-Za-z]{3,}\s+[a-z]{3,}")
"""Two English words in a row: prose that was not translated."""
KEPT = [
    "Kaplan-Meier",
    "Clavien-Dindo",
    "O'Brien-Fleming",
    "Lan-DeMets",
    "Neo-Margin",
    "trial.toml [design]",
    "survdiff(Surv(t, e) ~ arm + strata(...))",
    'survfit conf.type = "log-log"',
    "log-rank",
    "Log-rank",
    "RECIST 1.1",
]
"""Names kept in English in Chinese text (docs/glossary.md), and code a reader types."""
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?%?")
NUMERIC_CELL = re.compile(r"^[-—\d.,%～ ()/<>]*\d[-—\d.,%～ ()/<>to]*$")
"""A table cell that is figures only (a count, a percentage, "12 (8.0%)", "4 / 4.6", an interval)."""
OTHERS = {
    "dashboard/views": sorted((ROOT / "dashboard" / "views").glob("*.py")),
    "dashboard/stats": sorted((ROOT / "dashboard" / "stats").glob("*.py")),
    "dashboard/access": sorted((ROOT / "dashboard" / "access").glob("*.py")),
    "queries": sorted((ROOT / "queries").rglob("*.sql")),
    "trial.toml": [ROOT / "trial.toml"],
    "dashboard/crf_spec.toml": [ROOT / "dashboard" / "crf_spec.toml"],
}
MINE = sorted((ROOT / "dashboard" / "outputs").rglob("*.py"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("outputs-i18n")
    write_demo_package(tmp / "pkg")
    build(tmp / "pkg", tmp / "wh")
    return tmp / "wh"


@pytest.fixture(scope="module")
def reports(demo) -> dict[tuple[str, str], str]:
    """The open and the closed report, each in Chinese and in English: {(lang, kind): html}."""
    out = {}
    for kind, viewer in VIEWERS.items():
        for lang in ("zh", "en"):
            con = warehouse.connect(demo, closed=viewer.closed)
            try:
                with i18n.using(lang):
                    out[lang, kind] = report.build_html(con, viewer, CFG, audit_anchor=ANCHOR)
            finally:
                con.close()
    return out


@pytest.fixture(scope="module")
def data_values(demo) -> list[str]:
    """English that is the data's, not ours: the MedDRA system organ classes the adverse events are
    coded to, and the export's source line (kept as the export wrote them, in either language)."""
    from dashboard.views import enrollment, safety

    con = warehouse.connect(demo, closed=True)
    try:
        viewer = VIEWERS["closed"]
        socs = safety.pooled(con, viewer, CFG)["soc_by_grade"]["soc"].astype(str).tolist()
        source = str(enrollment.data_cut(con)["source"])
    finally:
        con.close()
    return sorted(set(socs), key=len, reverse=True) + [source]


class _Text(HTMLParser):
    """The text a reader sees: no script or style."""

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
        if not self._skip and data.strip():
            self.chunks.append(data.strip())


def _chunks(text: str) -> list[str]:
    p = _Text()
    p.feed(text)
    return p.chunks


def _tags(text: str, tag: str) -> list[str]:
    return [html.unescape(re.sub(r"<[^>]+>", "", t)) for t in re.findall(rf"<{tag}>(.*?)</{tag}>", text, re.S)]


def _tables(text: str) -> list[list[list[str]]]:
    """Every table of the report as its rows of cell texts (header row first)."""
    out = []
    for table in re.findall(r"<table.*?</table>", text, re.S):
        rows = []
        for row in re.findall(r"<tr.*?</tr>", table, re.S):
            cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
            rows.append([html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells])
        out.append(rows)
    return out


def _english_left(text: str, data: list[str]) -> list[str]:
    """The stretches of Latin text (between Chinese characters) that hold an English run, once the
    kept names and the data's values are taken out."""
    for kept in KEPT + data:
        text = text.replace(kept, " ")
    out = []
    for part in re.split(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef“”]+", text):
        part = part.strip(" .:;,()*-—_[]")
        if ENGLISH_RUN.search(part):
            out.append(part)
    return out


def _source(segment: str) -> str:
    """Which code wrote an English stretch (looked up by its longest run of words): dashboard/outputs
    (this test's files), another catalogue's files, or unknown (counted as ours)."""
    runs = re.findall(r"[A-Za-z][A-Za-z'\- ]*[A-Za-z]", segment)
    probe = " ".join(max(runs, key=len).lower().split())[:60]
    for f in MINE:
        if probe in " ".join(f.read_text(encoding="utf-8").lower().split()):
            return "dashboard/outputs"
    for name, files in OTHERS.items():
        for f in files:
            if probe in " ".join(f.read_text(encoding="utf-8").lower().split()):
                return name
    return "unknown"


# --- the Chinese reports --------------------------------------------------------------------------


def test_the_closed_report_in_chinese_has_chinese_headings(reports):
    text = reports["zh", "closed"]
    assert text.startswith('<!DOCTYPE html><html lang="zh-Hans">')
    assert _tags(text, "h1") == ["Neo-Margin（NCT07320690）闭门监查报告"]
    assert _tags(text, "title")[0] == "Neo-Margin（NCT07320690）闭门监查报告"  # the head's (plotly's SVGs have theirs)
    assert _tags(text, "h2") == CLOSED_SECTIONS_ZH
    # the contents list the sections, under their Chinese title
    toc = re.search(r'<div class="toc"><p class="toc-title">(.*?)</p><ol>(.*?)</ol>', text, re.S)
    assert toc.group(1) == "目录" and _tags(toc.group(2), "li") == CLOSED_SECTIONS_ZH
    # the mark before and after, never the English one
    assert text.count(f'<div class="banner">{MARK_ZH}</div>') == 2 and MARK_EN not in text
    h3 = _tags(text, "h3")
    for heading in ("总生存期", "无病生存期", "总生存期，意向性治疗集（ITT）", "无病生存期，符合方案集（PPS）"):
        assert heading in h3, (heading, h3)
    # under every Kaplan-Meier figure its numbers at risk, captioned in Chinese
    captions = re.findall(r"<caption>(.*?)</caption>", text)
    assert captions == ["风险人数（按随机化后月数）"] * 6


def test_the_chinese_report_writes_whole_chinese_sentences(reports):
    chunks = _chunks(reports["zh", "closed"])
    whole = "\n".join(chunks)
    assert "模拟演示试验：不含真实患者数据。" in chunks
    assert "生成本报告时审计日志位于序号7，哈希值" + "ab" * 32 + "。" in chunks
    # prose dates as a Chinese reader writes them, the report's stamp ISO
    assert re.search(r"预计完成入组日期为\d{4}年\d{1,2}月\d{1,2}日（90%预测区间：\d{4}年\d{1,2}月\d{1,2}日至", whole)
    assert re.search(r"数据截止日期：2028-06-30 · ", whole)
    assert re.search(r"已随机\d+例（目标356例）；已筛选\d+例，筛选失败\d+例。", whole)
    # the look's conclusion: one sentence, the contract's terms
    assert re.search(
        r"本次期中分析的结论（第\d+次期中分析，(已|尚未)记录在案(；界值z ≥ [\d.]+)?）："
        r"本次期中分析(达到|未达到|无法估计)非劣效。主要判定标准：(总生存率差值|风险比)；",
        whole,
    ), whole[whole.find("本次期中分析的结论") - 20 :][:200]
    assert re.search(r"死亡\d+例（最终分析预期90例）：信息分数[\d.]+%。非劣效Z统计量", whole)
    assert "按随机化分层因素（新辅助治疗疗效、原发部位）分层" in whole  # the strata by their Chinese names
    for arm in CFG.arms:
        assert re.search(rf"{arm.label_zh}：受试者\d+例，事件\d+例，中位生存期", whole), arm.label_zh
    # no placeholder left unfilled, no English interval word
    assert not re.search(r"\{[a-z_]+\}", whole)
    assert not re.search(r"\d%? to -?\d", whole)


def test_the_chinese_report_tables_read_in_chinese(reports):
    tables = _tables(reports["zh", "closed"])
    headers = [t[0] for t in tables if t]
    flat = [h for row in headers for h in row]
    for header in ("中心", "中心名称", "每月随机例数", "距上次随机化天数", "分层", "特征", "类别", "全部已随机"):
        assert header in flat, header
    assert ["月数", "生存率", "95%置信区间", "风险人数"] in headers
    assert ["组别", "月数", "生存率", "95%置信区间", "风险人数"] in headers
    assert ["信号", "事件", "受试者", "观察值", "95%置信区间", "阈值", "被标记"] in headers
    assert ["标准", "标准内容", "核查方式", "不符合（据数据）", "与中心回答不一致"] in headers
    arms = [a.label_zh for a in CFG.arms]
    assert ["发生以下情况的受试者", *arms] in headers
    cells = {c for t in tables for row in t[1:] for c in row}
    # criteria, strata, codes and the checker in Chinese; intervals with the wave dash
    assert {"完全缓解 · 口腔", "数据", "研究者", "未记录", "未行舌切除", "术后30天内死亡"} <= cells
    assert next(c.text_zh for c in CFG.eligibility if c.code == "I01") in cells
    assert any(re.fullmatch(r"\d+\.\d%～\d+\.\d%", c) for c in cells)


def test_no_english_prose_left_in_the_chinese_reports(reports, data_values):
    left: dict[str, set[str]] = {}
    for kind in ("open", "closed"):
        for chunk in _chunks(reports["zh", kind]):
            for run in _english_left(chunk, data_values):
                left.setdefault(_source(run), set()).add(run)
    mine = {k: sorted(v) for k, v in left.items() if k in ("dashboard/outputs", "unknown")}
    assert not mine, f"English left by the reports themselves: {mine}"
    if left:
        pytest.xfail(
            f"English left in the Chinese report by other catalogues: { ({k: sorted(v) for k, v in left.items()}) }"
        )


def test_the_open_report_in_chinese_holds_nothing_by_arm(reports):
    text = reports["zh", "open"]
    assert text.startswith('<!DOCTYPE html><html lang="zh-Hans">')
    assert _tags(text, "h2") == OPEN_SECTIONS_ZH
    assert _tags(text, "h1") == ["Neo-Margin（NCT07320690）公开监查报告"]
    visible = " ".join(_chunks(text))
    for arm in CFG.arms:
        assert arm.label_zh not in text and arm.label not in text and arm.code not in visible
    assert "闭门" not in visible.replace("闭门报告", "") and "机密" not in text  # the note names the closed report
    assert "pdf-confidential" not in text


def test_the_english_report_is_the_english_one(reports):
    for kind, sections in (("open", OPEN_SECTIONS_EN), ("closed", CLOSED_SECTIONS_EN)):
        text = reports["en", kind]
        assert text.startswith('<!DOCTYPE html><html lang="en">')
        assert _tags(text, "h2") == sections
        assert '<p class="toc-title">Contents</p>' in text
        # no Chinese but the data's (site names) and the trial's own Chinese facts nowhere
        chunks = [c for c in _chunks(text) if CJK.search(c)]
        sites = " ".join(_chunks(text))
        assert all(c in sites for c in chunks)
        for fact in [a.label_zh for a in CFG.arms] + [c.text_zh for c in CFG.eligibility] + ["两组合并", "风险人数"]:
            assert fact not in text, fact
    closed = reports["en", "closed"]
    assert closed.count(f'<div class="banner">{MARK_EN}</div>') == 2
    assert "Numbers at risk, by months from randomization" in closed and "<td>pooled</td>" in closed


@pytest.mark.parametrize("kind", ["open", "closed"])
def test_a_translation_changes_words_never_figures(reports, kind):
    """Every table holds the same figures in both languages: the cells that are numbers only (counts,
    percentages, "12 (8.0%)", intervals "a to b" / "a～b") are the same numbers, table by table."""

    def figures_of(text):
        return [
            [NUMBER.findall(c) for row in t[1:] for c in row if NUMERIC_CELL.match(c.replace(" to ", "～"))]
            for t in _tables(text)
        ]

    zh, en = figures_of(reports["zh", kind]), figures_of(reports["en", kind])
    assert len(zh) == len(en) and zh == en
    assert sum(len(t) for t in zh) > 100


# --- figures -------------------------------------------------------------------------------------


def _km_curve() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "time": [0, 100, 200, 300],
            "survival": [1, 0.9, 0.8, 0.7],
            "lower": [1, 0.8, 0.7, 0.6],
            "upper": [1, 1, 0.9, 0.8],
        }
    )


def test_a_figure_in_chinese_has_chinese_titles_and_axes():
    arm = CFG.arms[0]
    with i18n.using("zh"):
        km = figures.kaplan_meier({arm.label_zh: _km_curve()}, CFG.trial.days_per_month, _km_curve(), title="总生存期")
        b = figures.boundaries(
            [{"fraction": 0.5, "z_boundary": 2.96}, {"fraction": 1.0, "z_boundary": 2.01}], None, 1.26, 0.1
        )
        empty = figures.forest([{"label": "意向性治疗集（ITT）", "estimate": None}], 1.8, "风险比", log=True)
        forest = figures.forest(
            [{"label": "ITT", "estimate": 0.8, "lower": 0.5, "upper": 1.3}], -0.12, "差值", percent=True
        )
        acc = figures.accrual(pd.DataFrame({"date": pd.to_datetime(["2026-01-01"]), "randomized": [10]}), None, 356)
        grades = figures.soc_by_grade(pd.DataFrame({"soc": ["Cardiac disorders"], **{g: [1] for g in (1, 2, 3, 4, 5)}}))
    assert km.layout.title.text == "总生存期"
    assert km.layout.yaxis.title.text == "生存概率" and km.layout.xaxis.title.text == "随机化后月数"
    assert [t.name for t in km.data if t.showlegend is not False] == [arm.label_zh, "设计假设"]
    assert km.data[2].line.color == arm.color  # the arm's colour found under its Chinese label
    assert b.layout.xaxis.title.text == "信息分数（死亡数 / 最终分析时预期死亡数）"
    assert b.layout.yaxis.title.text == "非劣效z统计量"
    assert "观察到的z = 1.26" in b.data[-1].text and b.data[-1].name == "本次期中分析观察到的z"
    assert empty.layout.annotations[0].text == "尚不可估计"
    assert [a.text for a in forest.layout.annotations] == ["非劣效界值-12%"] and forest.data[0].name.startswith(
        "估计值"
    )
    assert acc.layout.annotations[0].text == "目标356例" and acc.layout.yaxis.title.text == "受试者例数"
    # plotly's own fields kept as they are around the translated words
    assert grades.data[2].name == "3级" and grades.data[2].hovertemplate == "%{hovertext}<br>3级：%{x}<extra></extra>"
    # and the same figure in English is English
    with i18n.using("en"):
        km_en = figures.kaplan_meier({arm.label: _km_curve()}, CFG.trial.days_per_month)
        grades_en = figures.soc_by_grade(pd.DataFrame({"soc": ["X"], **{g: [1] for g in (1, 2, 3, 4, 5)}}))
    assert km_en.layout.yaxis.title.text == "survival probability"
    assert grades_en.data[0].hovertemplate == "%{hovertext}<br>Grade 1: %{x}<extra></extra>"


def test_figures_in_the_chinese_report_are_drawn_in_chinese(reports):
    text = reports["zh", "closed"]
    for words in (
        "生存概率",
        "随机化后月数",
        "发生该事件的受试者比例（95%精确置信区间）",
        "受试者比例",
        "差值（95%置信区间）",
    ):
        assert json.dumps(words)[1:-1] in text or words in text, words
    for english in ("survival probability", "months from randomization", "proportion of subjects", "design assumption"):
        assert english not in text, english


def test_the_figure_font_is_a_cjk_font_debian_provides():
    """Chinese is never tofu: the figures' (and the PDF bands') first font is Noto Sans CJK SC, which
    Debian's fonts-noto-cjk installs, and fontconfig finds it on this machine."""
    assert figures.FONT.split(",")[0] == "Noto Sans CJK SC"
    assert report.CSS.index("Noto Sans CJK SC") < report.CSS.index("sans-serif")
    if shutil.which("fc-match"):
        found = subprocess.run(["fc-match", "Noto Sans CJK SC"], capture_output=True, text=True).stdout
        assert "Noto Sans CJK SC" in found, found


def test_chinese_labels_wrap_between_characters_never_before_punctuation():
    label = "新辅助治疗期间3级及以上免疫相关不良事件（全程，含术后）"
    lines = figures.wrap(label, 20)
    assert len(lines) > 1 and "".join(lines) == label
    assert all(figures.text_width(line) <= 20 for line in lines)
    assert not any(line[0] in "，。、）" for line in lines)
    # Latin words inside stay whole; English still breaks at spaces only
    assert any("Clavien-Dindo" in line for line in figures.wrap("术后30天内Clavien-Dindo IIIa级及以上并发症", 16))
    long = "I03 AJCC 8th clinical stage III-IVA (p16-positive oropharynx: stage III only), before immunotherapy"
    assert " ".join(figures.wrap(long, 28)) == long


# --- labels --------------------------------------------------------------------------------------


def test_labels_in_chinese():
    arm = CFG.arms[0]
    with i18n.using("zh"):
        assert labels.column("subjid", CFG) == CFG.labels.columns_zh["subjid"] == "受试者编号"
        assert labels.column("SiteID", CFG) == "中心"  # case-insensitive, as in English
        assert labels.column("days since the last randomization", CFG) == "距上次随机化天数"  # the catalogue's
        assert labels.code("SCREEN FAILURE", CFG) == "筛选失败"
        assert labels.code("A CODE NOBODY NAMED", CFG) == "A CODE NOBODY NAMED"  # the code itself, no sentence case
        assert labels.stratum("CR|ORAL CAVITY", CFG) == "完全缓解 · 口腔"
        assert labels.arm(arm.code, CFG) == labels.arm(arm.key, CFG) == labels.arm(arm.label, CFG) == arm.label_zh
        assert labels.arm_labels(CFG) == {a.code: a.label_zh for a in CFG.arms}
        frame = labels.frame(
            pd.DataFrame({"subjid": ["S1"], "stratum": ["PR|OTHER"], "dvstdat": pd.to_datetime(["2026-01-02"])}),
            CFG,
            strata=["stratum"],
        )
        assert labels.MISSING == "—" and labels.text(None) == "—"
    assert list(frame.columns) == [CFG.labels.columns_zh[c] for c in ("subjid", "stratum", "dvstdat")]
    assert frame.iloc[0].tolist() == ["S1", "部分缓解 · 其他", "2026-01-02"]  # dates ISO in tables
    assert labels.arm_colors(CFG)[arm.label_zh] == arm.color
    # English as before
    assert labels.code("A CODE NOBODY NAMED", CFG) == "A code nobody named"
    assert labels.arm(arm.code, CFG) == arm.label and labels.column("subjid", CFG) == "Subject"


# --- the summary JSON ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["dsmb", "steering", "pi"])
def test_the_summary_json_is_the_same_in_both_languages(demo, role):
    viewer = Viewer(role, user=f"{role}.t")
    with i18n.using("zh"):
        zh = json.dumps(summary(demo, viewer), sort_keys=True, default=str, ensure_ascii=False)
    with i18n.using("en"):
        en = json.dumps(summary(demo, viewer), sort_keys=True, default=str, ensure_ascii=False)
    assert zh == en
    data = json.loads(en)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(data["data_cut"]["cutoff"])[:10])
    # nothing of the catalogue's Chinese in it (site names are the data's)
    for words in ("两组合并", "风险人数", "已随机", "不予显示", "机密") + tuple(a.label_zh for a in CFG.arms):
        assert words not in zh, words


# --- the PDF ---------------------------------------------------------------------------------------


def test_the_pdf_bands_in_each_language():
    with i18n.using("zh"):
        header, footer = report.pdf_bands("标题", confidential=True)
    assert MARK_ZH in header and MARK_ZH in footer and "标题" in header
    assert '第<span class="pageNumber"></span>页，共<span class="totalPages"></span>页' in footer
    with i18n.using("en"):
        header, footer = report.pdf_bands("t", confidential=False)
    assert 'page <span class="pageNumber"></span> of <span class="totalPages"></span>' in footer
    assert MARK_EN not in header and "机密" not in footer


needs_pdf_tools = pytest.mark.skipif(
    report.chromium() is None or not shutil.which("pdftotext") or not shutil.which("pdftoppm"),
    reason="needs Debian's chromium and poppler-utils (.ci/run installs both)",
)


@needs_pdf_tools
def test_the_closed_pdf_in_chinese(reports, tmp_path):
    """Printed from a test running in English: the bands follow the report's <html lang>."""
    src = tmp_path / "closed-zh.html"
    src.write_text(reports["zh", "closed"], encoding="utf-8")
    assert i18n.language() == "en"
    pdf = report.html_to_pdf(src, tmp_path / "closed-zh.pdf")
    pages = pdf_pages(pdf)
    assert len(pages) > 3
    for n, text in enumerate(pages, start=1):
        assert MARK_ZH in text, n
        assert f"第{n}页，共{len(pages)}页" in text, n
        assert "Neo-Margin（NCT07320690）闭门监查报告" in text, n  # the title in every page's header
        assert "CONFIDENTIAL" not in text and "page " not in text, n
    assert "第1页" in pages[0] and "目录" in pages[0]
    whole = "\n".join(pages)
    for heading in CLOSED_SECTIONS_ZH + ["风险人数（按随机化后月数）"]:
        assert heading in whole, heading
    # the pages as images (looked at when this was written: no tofu, no cut labels)
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "3", str(pdf), str(tmp_path / "page")], check=True)
    images = sorted(tmp_path.glob("page-*.png"))
    assert len(images) == 3 and all(p.stat().st_size > 10_000 for p in images)
