"""Issue 15, the monitoring and administration pages in Chinese: accrual, arm balance, protocol
deviations, data quality, reports, the audit log and the users page, rendered by AppTest on the
demo trial (dashboard/devtools/demo.py, built) in Chinese and in English, through the app's
navigation with the language set as the switch sets it (tests/apptest.open_page).

Each page in Chinese: its title, headings, metric labels and control labels are the Chinese of the
catalogue (written out here, not looked up, so a wrong or missing translation fails); it raises
nothing; its numbers are the English page's (a translation changes words, never a figure); dates in
prose are Chinese dates (2028年12月11日), tables keep ISO dates; trial facts (arm names, criterion
texts) are trial.toml's Chinese; and its text elements hold no run of English words outside the
kept names. English that comes from a view, a figure, a label (dashboard/views, dashboard/stats,
dashboard/outputs), from the app's own helpers (app/ui.py) or from a trial fact is named by its
source: the test is marked xfail naming the module while only such English is left, and fails on
English from the page itself.

The audit log is a record: a listing exported from a Chinese page is logged under its English name
and action, as from an English one (the auditor reads one vocabulary, whoever exported)."""

from __future__ import annotations

import json
import os
import re

import pytest

from apptest import ROOT, chart_json, clear_caches, files_holding, open_page, serving
from dashboard import i18n
from dashboard.access.roles import Viewer
from dashboard.config import load_trial
from dashboard.devtools.demo import write_demo_package
from dashboard.i18n import catalogue
from dashboard.ingest.build import build
from dashboard.outputs.summary import summary

CFG = load_trial()
PI = Viewer("pi", None, "pi.user")
DM = Viewer("data_manager", None, "dm.user")
SITE = Viewer("site", "01", "site.user")
DSMB = Viewer("dsmb", None, "dsmb.chair")
ADMIN = Viewer("admin", None, "admin.user")
ARMS_ZH = [a.label_zh or a.label for a in CFG.arms]

ENGLISH_RUN = re.compile(r"[A-Za-z]{3,}\s+[a-z]{3,}")
"""Two English words in a row: prose that was not translated (the brief's pattern)."""
KEPT = [
    "Kaplan-Meier",
    "O'Brien-Fleming",
    "Neo-Margin",
    "trial.toml",
    "IE.csv",
    "`audit verify --anchor N:H`",
    "`python -m dashboard users add|remove|list|passwd`",
]
"""Names kept in English in the Chinese text (docs/glossary.md), and commands a reader types."""
NUMBER = re.compile(r"[-+−]?\d(?:[\d,]*\d)?(?:\.\d+)?%?")  # 1,234.5 and 12%, not the comma after 30
ZH_DATE = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日")
EN_MONTH = re.compile(r"[A-Z][a-z]+ \d{4}")

# the Chinese each page must show, written out (/tmp/lead/i18n.md's terms, docs/glossary.md)
EXPECTED = {
    "accrual.py": {
        "viewer": PI,
        "title": "入组与研究中心",
        "en_title": "Accrual and sites",
        "headings": ["累计已随机例数与计划对比", "研究中心", "筛选"],
        "metrics": ["已随机", "与计划对比", "最近30天", "预计完成入组", "已筛选", "筛选失败", "筛选中"],
        "markdown": ["**筛选失败原因**", "**从筛选到随访**"],
    },
    "balance.py": {
        "viewer": PI,
        "title": "组间均衡",
        "en_title": "Arm balance",
        "headings": ["按分层", "按中心", "随时间变化", "基线特征（已随机，两组合并）"],
        "metrics": [*ARMS_ZH, "分层内最大组间差"],
        "markdown": [],
    },
    "deviations.py": {
        "viewer": DM,
        "title": "方案偏离",
        "en_title": "Protocol deviations",
        "headings": ["入排标准逐条核查", "时间窗", "按中心，每例已随机受试者", "中心报告的方案偏离", "受试者清单"],
        "metrics": ["违反入排标准的受试者", "中心回答与数据矛盾", "记录分期与重算不符", "中心报告的方案偏离"],
        "markdown": [],
    },
    "data_quality.py": {
        "viewer": DM,
        "title": "数据质量",
        "en_title": "Data quality",
        "headings": ["随访：应到与已收对比", "各中心数据录入延迟", "生活质量问卷完成情况", "最近一次构建", "加载历史"],
        "metrics": ["截至数据截止日期应完成的访视", "已收到", "缺失（访视窗已关闭）"],
        "markdown": ["**数据问题**（已记录，未拒收）", "**警告**", "**各表单行数**"],
    },
    "reports.py": {
        "viewer": DSMB,
        "title": "报告",
        "en_title": "Reports",
        "headings": ["公开报告（两组合并结局）", "闭门报告（DSMB）"],
        "metrics": [],
        "markdown": [],
    },
    "admin_audit.py": {
        "viewer": ADMIN,
        "title": "审计日志",
        "en_title": "Audit log",
        "headings": [],
        "metrics": [],
        "markdown": [],
    },
    "admin_users.py": {
        "viewer": ADMIN,
        "title": "用户",
        "en_title": "Users",
        "headings": [],
        "metrics": [],
        "markdown": [],
    },
}
PAGES = list(EXPECTED)

# where English left on a Chinese page may come from besides the page itself (its owner's catalogue)
SOURCES = {
    "dashboard/views": sorted((ROOT / "dashboard" / "views").glob("*.py")),
    "dashboard/stats": sorted((ROOT / "dashboard" / "stats").glob("*.py")),
    "dashboard/outputs": sorted((ROOT / "dashboard" / "outputs").rglob("*.py")),
    "dashboard/access": sorted((ROOT / "dashboard" / "access").glob("*.py")),
    "dashboard/ingest": sorted((ROOT / "dashboard" / "ingest").rglob("*.py")),
    "queries": sorted((ROOT / "queries").rglob("*.sql")),
    "app/ui.py": [ROOT / "app" / "ui.py"],
    "trial.toml": [ROOT / "trial.toml"],
    "dashboard/crf_spec.toml": [ROOT / "dashboard" / "crf_spec.toml"],
}
SHOWN_UNTRANSLATED = "app/ui.py export_csv (shows the page's N_() listing name without _())"
"""A message of this page's catalogue, translated there, on the page in English: not the page's
English but the code that showed it without looking it up (the export button of a listing)."""


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo trial built, and this module's own users file and audit log (two accounts, one
    reading Chinese; two entries, one an export), so the administration pages have rows."""
    from dashboard.access import accounts, audit

    tmp = tmp_path_factory.mktemp("i18n-pages")
    keys = ("NEO_MARGIN_AUDIT", "NEO_MARGIN_AUDIT_KEY", "NEO_MARGIN_USERS")
    old = {k: os.environ.get(k) for k in keys}
    os.environ["NEO_MARGIN_AUDIT"] = str(tmp / "log" / "audit.jsonl")
    os.environ["NEO_MARGIN_AUDIT_KEY"] = str(tmp_path_factory.mktemp("i18n-pages-key") / "audit.key")
    os.environ["NEO_MARGIN_USERS"] = str(tmp / "users.json")
    try:
        # built on this log: the build's manifest anchors the log it was made beside
        write_demo_package(tmp / "pkg")
        build(tmp / "pkg", tmp / "wh")
        accounts.add_user("li.wei", "site", "Correct-Horse-Battery-9", site="01")
        accounts.add_user("chen.dm", "data_manager", "Correct-Horse-Battery-9")
        accounts.set_language("li.wei", "zh")
        audit.append("sign-in", user="li.wei", role="site", site="01")
        audit.append(
            "export: listing (csv)",
            user="chen.dm",
            role="data_manager",
            detail={"listing": "deviation listing: reported", "rows": 10},
            data_cut={"build_id": "b1", "cutoff": "2028-06-30"},
        )
        with serving(tmp / "wh") as wh:
            yield wh
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


_RENDERED: dict = {}


@pytest.fixture
def render(demo):
    """A page in a language, rendered once per module run (renders are slow on a shared machine)."""

    def get(page: str, lang: str, viewer: Viewer | None = None):
        viewer = viewer or EXPECTED[page]["viewer"]
        key = (str(demo), page, lang, viewer)
        if key not in _RENDERED:
            clear_caches()
            at = open_page(viewer, page, timeout=180, lang=lang)
            assert not at.exception, [e.value for e in at.exception]
            _RENDERED[key] = at
        return _RENDERED[key]

    return get


def _unescaped(text: str) -> str:
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)


def _texts(at) -> list[str]:
    """The page's own text elements as a person reads them (no tables, no chart data): title,
    headings, Markdown, captions, notices, metric labels and their help, and the labels of its
    buttons, tabs, expanders and select boxes. The sidebar (navigation, switch) is the app's."""
    page = at.main
    out = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "error", "warning", "info", "success"):
        out += [str(e.value) for e in getattr(page, kind)]
    for m in page.metric:
        out.append(str(m.label))
        if m.proto.help:
            out.append(str(m.proto.help))
    for kind in ("button", "tabs", "expander", "selectbox", "multiselect"):
        out += [str(e.label) for e in getattr(page, kind)]
    return [_unescaped(t) for t in out]


def _numbers(text: str) -> list[str]:
    return [n.replace("−", "-") for n in NUMBER.findall(text)]


FACT_COLUMNS = ["text"]
"""Columns that hold a trial fact's words (a criterion's text, in its own language's numbers:
18～75周岁 where the English says 18-75 years); tests/test_i18n_facts.py holds those."""


def _table_numbers(at) -> list[list[str]]:
    frames = [d.value for d in at.dataframe] + [t.value for t in at.table if hasattr(t.value, "to_csv")]
    frames = [f.drop(columns=[c for c in FACT_COLUMNS if c in f.columns]) for f in frames]
    # per row, the numbers as a multiset: a sentence in a cell may order them differently in
    # Chinese (±30 after M24: M24后为±30天), and ± is the sign of neither
    return [
        [sorted(n.lstrip("+-") for c in row for n in _numbers(str(c))) for row in f.itertuples(index=False)]
        for f in frames
    ]


def _labels(frame) -> list[str]:
    """A dataframe's column headers as shown: its column_config's labels, else the column names."""
    config = json.loads(frame.proto.columns or "{}")
    return [config.get(str(c), {}).get("label", str(c)) for c in frame.value.columns]


def _english_left(text: str) -> list[str]:
    """The English runs of a text, after the kept names are taken out."""
    for kept in KEPT:
        text = text.replace(kept, " ")
    return ENGLISH_RUN.findall(text)


def _segments(text: str) -> list[str]:
    """The stretches of Latin text around English runs (between CJK characters): the unit looked
    up in the sources to say where a leftover came from."""
    out = []
    for part in re.split(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef“”]+", text):
        part = part.strip(" .:;,()*-—_[]")
        if _english_left(part):
            out.append(part)
    return out


_OWN = None


def _own_catalogue() -> dict[str, str]:
    global _OWN
    if _OWN is None:
        _OWN = {m.id: m.string for m in catalogue.read("zh", "pages") if m.id and isinstance(m.id, str)}
    return _OWN


def _source_of(segment: str, page: str) -> list[str]:
    """Which files hold a leftover English segment (its longest word run, before a placeholder's
    value): the modules whose catalogue owns it, the page itself, or, for a message of the page's
    catalogue that has its Chinese, the code that showed it without looking it up."""
    if _own_catalogue().get(segment):
        return [SHOWN_UNTRANSLATED]
    return files_holding(segment, page, SOURCES)


# --- every page: Chinese title, headings and labels; English in English ------------------------


@pytest.mark.parametrize("page", PAGES)
def test_the_page_reads_in_chinese(render, page):
    at = render(page, "zh")
    want = EXPECTED[page]
    assert [t.value for t in at.main.title] == [want["title"]]
    subheaders = [s.value for s in at.subheader]
    assert all(h in subheaders for h in want["headings"]), subheaders
    assert [m.label for m in at.metric] == want["metrics"]
    markdown = [m.value for m in at.markdown]
    assert all(m in markdown for m in want["markdown"]), markdown
    if at.caption and want["viewer"].role != "admin":  # the data-cut stamp: the cut-off in prose
        assert "数据截止日期 **2028年6月30日**" in " ".join(c.value for c in at.caption)
    # the English page is the English one (the switch, not a Chinese-only page)
    en = render(page, "en")
    assert [t.value for t in en.main.title] == [want["en_title"]]
    assert not re.search(r"[\u4e00-\u9fff]", " ".join(s.value for s in en.subheader))


@pytest.mark.parametrize("page", ["accrual.py", "balance.py", "deviations.py", "data_quality.py"])
def test_the_numbers_are_the_english_pages(render, page):
    """A translation changes the words, never a figure: every metric's value (a date compared as
    the date it is) and every table's cells hold the same numbers in the same order in both
    languages, and the pages draw the same charts."""
    zh, en = render(page, "zh"), render(page, "en")
    assert len(zh.metric) == len(en.metric)
    for z, e in zip(zh.metric, en.metric, strict=True):
        if EN_MONTH.fullmatch(str(e.value)):  # a month in prose: December 2028, 2028年12月
            with i18n.using("zh"):
                assert z.value == i18n.month(_english_month(e.value)), (z.label, z.value, e.value)
        else:
            assert _numbers(str(z.value)) == _numbers(str(e.value)), (z.label, z.value, e.value)
    assert _table_numbers(zh) == _table_numbers(en)
    assert len(zh.get("plotly_chart")) == len(en.get("plotly_chart"))


def _english_month(text: str):
    import datetime as dt

    return dt.datetime.strptime(text, "%B %Y").date()


@pytest.mark.parametrize("page", PAGES)
def test_no_english_left(render, page):
    at = render(page, "zh")
    left = {seg for text in _texts(at) for seg in _segments(text)}
    if not left:
        return
    by_source: dict[str, list[str]] = {}
    for seg in sorted(left):
        sources = _source_of(seg, page)
        others = [s for s in sources if not s.startswith("pages/")]
        by_source.setdefault(", ".join(others) if others else f"pages/{page} (or unknown)", []).append(seg)
    mine = {k: v for k, v in by_source.items() if k.startswith("pages/")}
    assert not mine, f"English left by the page itself on {page}: {mine}"
    pytest.xfail(f"English left on {page} by other catalogues: {by_source}")


def test_metric_labels_fit_their_columns(render):
    """Chinese labels in a row of three or four metrics are read whole: no longer on screen than
    the English label of the same metric (a CJK character counts as two Latin ones), or short
    enough for a quarter of the wide page whatever the English."""

    def width(s: str) -> int:
        return sum(2 if "\u2e80" <= ch <= "\uffef" else 1 for ch in s)

    for page in PAGES:
        zh, en = render(page, "zh"), render(page, "en")
        for z, e in zip(zh.metric, en.metric, strict=True):
            assert width(z.label) <= max(width(e.label), 30), (page, z.label, e.label)


# --- each page's own Chinese in detail -----------------------------------------------------------


def test_the_accrual_page_in_chinese(render, demo):
    at = render("accrual.py", "zh")
    s = summary(demo, PI)["enrollment"]
    metrics = {m.label: m for m in at.metric}
    assert metrics["已随机"].value == f"{s['randomized']} / {CFG.trial.target_enrollment}"
    assert re.fullmatch(r"占目标的\d+%", metrics["已随机"].proto.delta)
    assert re.fullmatch(r"(落后|超前)\d+例|符合计划", metrics["与计划对比"].value)
    assert re.fullmatch(r"截止时计划：\d+例", metrics["与计划对比"].proto.delta)
    assert "按数据截止日期（2028年6月30日）读取" in metrics["与计划对比"].proto.help
    completion = metrics["预计完成入组"]
    with i18n.using("zh"):  # in prose, not ISO: the month in the value (it fits), the day in the help
        assert completion.value == i18n.month(s["projection"]["completion_date"])
        day = i18n.long_date(s["projection"]["completion_date"])
    assert re.fullmatch(r"\d{4}年\d{1,2}月", completion.value)
    assert re.fullmatch(r"计划\d{4}年\d{1,2}月\d{1,2}日（(推迟|提前)\d+天）", completion.proto.delta)
    interval = r"90%预测区间：\d{4}年\d+月\d+日至\d{4}年\d+月\d+日"
    assert re.fullmatch(f"预计完成日期（中位数）{day}；{interval}。", completion.proto.help)
    assert re.search(r"最快中心 \*\*\d+\*\*：每月\d+\.\d例 · 最慢中心", " ".join(m.value for m in at.markdown))
    table = at.table[0].value
    assert list(table.columns) == ["中心", "已随机", "每月例数", "距上次随机（天）"]
    details = next(d for d in at.dataframe if "sitename" in d.value.columns)
    assert _labels(details)[:4] == ["中心", "医院", "城市", "状态"]
    assert str(details.value.activated.iloc[0])[:4].isdigit()  # the table keeps its dates as dates
    select = at.selectbox(key="site_detail")
    assert select.label == "中心详情" and select.options[0] == "全部中心"
    # the screen-failure reasons: the criteria's Chinese texts (trial.toml text_zh)
    bars = chart_json(at.get("plotly_chart")[-1]) if at.get("plotly_chart") else ""
    failed = [c for c in CFG.eligibility if c.code in s.get("screen_failure_reasons", {})]
    assert failed and all(c.text_zh in bars for c in failed[:3])
    assert all(c.text not in bars for c in failed)


def test_a_site_of_the_accrual_page_in_chinese(demo):
    """The site detail picked in Chinese: the options keep their texts in AppTest's own thread
    (the option texts are made in the run's language, not by a lookup when they are shown)."""
    clear_caches()
    at = open_page(PI, "accrual.py", timeout=180, lang="zh")
    at.selectbox(key="site_detail").select("01").run()
    assert not at.exception, [e.value for e in at.exception]
    labels = [m.label for m in at.metric]
    assert labels[4:8] == ["中心01已随机", "已筛选", "启动以来每月例数", "距最近一次随机化（天）"]


def test_the_balance_page_in_chinese(render):
    at = render("balance.py", "zh")
    captions = " ".join(c.value for c in at.caption)
    assert "分组例数不是结局：所有角色均可查看。下方基线特征为两组合并。" in captions
    assert re.search(r"中心内最大组间差：\d+（中心\d+）；中心不是分层因素。", captions)
    help_text = at.metric[-1].proto.help
    assert "随机化采用各分层内、跨全部中心的区组长度为" in help_text and "两组例数之差至多为" in help_text
    table = at.table[0].value
    assert list(table.columns) == ["分层", *ARMS_ZH, "差值"]
    base = " ".join(m.value for m in at.markdown)
    assert re.search(
        r"已随机 \*\*\d+\*\* 例 · 签署知情同意时年龄中位数 \*\*\d+\*\* 岁（IQR \d+～\d+，范围\d+～\d+）", base
    )
    assert all(list(d.value.columns)[1:] == ["受试者", "%"] for d in at.dataframe)
    # the arms are named in Chinese on the charts too, in the arms' colours
    bars = json.loads(chart_json(at.get("plotly_chart")[0]))
    assert [t["name"] for t in bars["data"]] == ARMS_ZH


def test_the_balance_page_of_a_site_in_chinese(render):
    at = render("balance.py", "zh", SITE)
    assert [m.label for m in at.metric] == [*ARMS_ZH, "分层内最大组间差（本中心）"]
    assert "区组在各分层内跨全部中心进行：单个中心在分层内的组间差不能说明随机化的情况" in " ".join(
        c.value for c in at.caption
    )


def test_the_deviations_page_in_chinese(render):
    at = render("deviations.py", "zh")
    crit = next(d for d in at.dataframe if "checked_by" in d.value.columns and "violated" in d.value.columns)
    assert _labels(crit) == ["标准", "类别", "内容", "核查依据", "违反例数", "中心矛盾", "无法判定", "未回答"]
    texts = {c.code: c.text_zh for c in CFG.eligibility}
    assert [texts[c] for c in crit.value.code] == list(crit.value.text)  # the criteria in trial.toml's Chinese
    assert set(crit.value.kind) == {"入选", "排除"} and set(crit.value.checked_by) <= {"数据", "研究者"}
    windows = next(d.value for d in at.dataframe if "时间窗" in d.value.columns)
    assert list(windows.columns) == ["时间窗", "规则（假设的访视计划）", "受试者"]
    rules = set(windows["规则（假设的访视计划）"])
    days = CFG.schedule.randomization_to_surgery_max_days
    assert f"随机化至手术 > {days}天，或尚未手术" in rules and "知情同意晚于随机化" in rules
    assert [t.label for t in at.tabs] == ["入排标准", "中心意见不符", "分期", "时间窗", "中心报告"]
    help_text = at.metric[-1].proto.help
    assert re.fullmatch(r"重大\d+例，轻微\d+例", help_text)
    titles = [json.loads(chart_json(c))["layout"].get("title", {}).get("text") for c in at.get("plotly_chart")]
    assert "时间窗偏离：漏斗图" in titles and "按类别" in titles and "按严重程度" in titles


def test_a_listing_exported_in_chinese_is_logged_in_english(demo):
    """The export button of a listing on the Chinese page writes the same audit record as on the
    English page: the action and the listing's name in English (records are language-neutral)."""
    from dashboard.access import audit

    clear_caches()
    at = open_page(Viewer("data_manager", user="dm.zh"), "deviations.py", timeout=180, lang="zh")
    at.button(key="csv-deviations-reported").click().run()
    assert not at.exception, [e.value for e in at.exception]
    entry = [e for e in audit.read() if e["action"] == "export: listing (csv)"][-1]
    assert entry["user"] == "dm.zh" and entry["detail"]["listing"] == "deviation listing: reported"
    assert entry["detail"]["rows"] > 0 and entry["detail"]["file"].endswith(".csv")
    button = next(b for b in at.button if b.key == "csv-deviations-reported")
    assert button.label == "导出方案偏离清单：中心报告（CSV）"  # the name in Chinese on the button only


def test_the_data_quality_page_in_chinese(render):
    at = render("data_quality.py", "zh")
    assert "各中心各访视的缺失访视数" in [c.value for c in at.caption]
    assert [e.label for e in at.main.expander] == ["逾期随访（受试者清单）"]  # the sidebar's: pinning a cut
    qol = next(d for d in at.dataframe if "完成率" in _labels(d))
    assert json.loads(qol.proto.columns)[str(qol.value.columns[-1])]["type_config"]["type"] == "progress"


def test_the_reports_page_in_chinese(render):
    at = render("reports.py", "zh")
    assert [b.label for b in at.main.button] == [
        "生成公开报告",
        "生成公开报告（PDF）",
        "生成闭门报告",
        "生成闭门报告（PDF）",
    ][: len(at.main.button)]
    assert at.main.button[0].proto.help == "HTML格式，含图表"
    captions = " ".join(c.value for c in at.caption)
    assert "闭门报告仅通过本会话的连接发送到本浏览器" in captions and "`audit verify --anchor N:H`" in captions


def test_the_audit_log_page_in_chinese(render):
    at = render("admin_audit.py", "zh")
    notices = [(k, e.value) for k in ("success", "warning", "error") for e in getattr(at, k)]
    assert notices and notices[0][0] == "success" and notices[0][1].startswith("链完整："), notices
    table = at.dataframe[0]
    assert _labels(table) == ["条目", "时间（UTC）", "用户", "角色", "中心", "操作", "详情", "数据截止"]
    # the entries are records: their actions as written, in English, on the Chinese page
    assert "export: listing (csv)" in set(table.value.action)
    site = next(r for r in CFG.roles if r == "site")
    assert (CFG.roles[site].label_zh or CFG.roles[site].label) in set(table.value.role)
    assert at.multiselect[0].label == "操作"


def test_the_users_page_in_chinese(render):
    at = render("admin_users.py", "zh")
    table = at.dataframe[0]
    labels = dict(zip(table.value.columns, _labels(table), strict=True))
    assert labels["username"] == "用户" and labels["failed"] == "登录失败次数"
    assert labels["locked_until"] == "限速至（UTC）" and labels["language"] == "语言"
    rows = table.value.set_index("username")
    assert rows.loc["li.wei", "language"] == "中文"  # the language named in itself, as the switch names it
    site = CFG.roles["site"]
    assert rows.loc["li.wei", "role"] == (site.label_zh or site.label)
    assert at.caption[0].value.startswith("用户文件：")


def _delivered(at) -> bytes:
    """The bytes app.ui.deliver put into the page (the component iframe's srcdoc)."""
    import base64

    frames = at.get("iframe")
    assert len(frames) == 1, frames
    return base64.b64decode(re.search(r'const b64 = "([A-Za-z0-9+/=]*)"', frames[0].proto.srcdoc).group(1))


def test_a_report_made_from_the_chinese_page_is_chinese_and_logged_in_english(demo):
    """The open report asked for on the Chinese page is made in the session's language (its
    <html lang>, its title), and its audit entry is the same record as from the English page."""
    from dashboard.access import audit

    clear_caches()
    at = open_page(Viewer("steering", user="steering.zh"), "reports.py", timeout=240, lang="zh")
    at.button(key="make-open").click().run(timeout=240)
    assert not at.exception, [e.value for e in at.exception]
    report = _delivered(at).decode("utf-8")
    assert '<html lang="zh-Hans">' in report and re.search(r"<h1[^>]*>[^<]*[\u4e00-\u9fff]", report)
    entry = [e for e in audit.read() if e["user"] == "steering.zh"][-1]
    assert entry["action"] == "export: open report (html)"
    assert entry["detail"] == {"delivery": "in-session download"}
