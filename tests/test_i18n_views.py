"""Issue 15, the views, stats and store in Chinese and English: the results of dashboard/views that
carry text (flow boxes, baseline labels, signal rows and reasons, notes, the closed tables, the
look's conclusion, stats refusals, build messages) are Chinese under i18n.using("zh") and the same
English as before under "en"; the data do not change with the language (the same numbers, rows,
codes and flags); the blinded views make the same suppression decisions in both languages, and
keep the blinding rule's own words beside the translated reason.

Warehouses: the synthetic demo package (dashboard.devtools.demo) with an extra file the spec does
not know (a build warning) and, after it, a refused build of the same package without DM.csv (a
load-history entry with errors); and the small blinding trial of tests/test_blinding_pages.py
(site 03: three subjects, all de-escalation; site 04: six standard-surgery subjects)."""

from __future__ import annotations

import datetime as dt
import re
import shutil

import duckdb
import pandas as pd
import pytest

from dashboard import i18n
from dashboard.access.roles import Viewer
from dashboard.config import load_trial
from dashboard.devtools.demo import write_demo_package
from dashboard.ingest.build import build
from dashboard.ingest.problems import PackageRefused
from dashboard.stats import accrual, comparison, groupseq
from dashboard.store import warehouse
from dashboard.store.data import fetch
from dashboard.views import closed, deviations, enrollment, monitoring, outcomes, quality, safety, text
from test_blinding_pages import _trial

CFG = load_trial()
CJK = re.compile(r"[\u4e00-\u9fff]")
PI, DSMB, DM = Viewer("pi"), Viewer("dsmb"), Viewer("data_manager")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("i18n-views")
    write_demo_package(tmp / "pkg")
    (tmp / "pkg" / "NOTES.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    build(tmp / "pkg", tmp / "wh")
    shutil.copytree(tmp / "pkg", tmp / "bad")
    (tmp / "bad" / "DM.csv").unlink()
    with pytest.raises(PackageRefused):
        build(tmp / "bad", tmp / "wh")
    return tmp / "wh"


@pytest.fixture(scope="module")
def con(demo):
    c = warehouse.connect(demo)
    yield c
    c.close()


@pytest.fixture(scope="module")
def closed_con(demo):
    c = warehouse.connect(demo, closed=True)
    yield c
    c.close()


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("i18n-views-blinding")
    build(_trial().write(tmp / "pkg"), tmp / "wh")
    c = warehouse.connect(tmp / "wh")
    yield c
    c.close()


def both(fn, *args, **kw):
    """fn's result in English and in Chinese."""
    with i18n.using("en"):
        en = fn(*args, **kw)
    with i18n.using("zh"):
        zh = fn(*args, **kw)
    return en, zh


def _same_frame(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """The same values, rows and order, whatever the headers' language."""
    assert a.shape == b.shape
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.set_axis(a.columns, axis=1).reset_index(drop=True))


# ------------------------------------------------------------------ accrual and balance


def test_flow_boxes_in_both_languages_with_the_same_counts(con):
    en, zh = both(enrollment.flow, con, PI, CFG)
    assert en["edges"] == zh["edges"] and set(en["boxes"]) == set(zh["boxes"])
    assert {k: v for k, v in en.items() if k != "boxes"} == {k: v for k, v in zh.items() if k != "boxes"}
    days = CFG.schedule.never_operated_after_days  # the awaiting-surgery box says the same days
    assert en["boxes"]["screened"]["label"] == "Screened" and zh["boxes"]["screened"]["label"] == "已筛选"
    assert zh["boxes"]["randomized"]["label"] == "已随机"
    assert (en["boxes"]["in_follow_up"]["label"], zh["boxes"]["in_follow_up"]["label"]) == ("In follow-up", "随访中")
    assert (en["boxes"]["not_operated"]["label"], zh["boxes"]["not_operated"]["label"]) == ("Not operated", "未手术")
    assert en["boxes"]["awaiting_surgery"]["label"] == f"Awaiting surgery (randomized {days} days ago or less)"
    assert zh["boxes"]["awaiting_surgery"]["label"] == f"等待手术（随机化不超过{days}天）"
    assert zh["boxes"]["not_randomized"]["parts"] == [("筛选失败", 72), ("筛选中", 4)]
    for key, box in en["boxes"].items():
        assert box["n"] == zh["boxes"][key]["n"]
        assert [n for _l, n in box.get("parts", [])] == [n for _l, n in zh["boxes"][key].get("parts", [])]
        assert CJK.search(zh["boxes"][key]["label"]), key
    off_en = dict(en["boxes"]["off_study"]["parts"])
    off_zh = dict(zh["boxes"]["off_study"]["parts"])
    assert off_en["Lost to follow-up"] == off_zh["失访"] and off_en["Died"] == off_zh["死亡"]


def test_baseline_labels_translated_counts_unchanged(con):
    en, zh = both(enrollment.baseline, con, PI, CFG)
    assert en["n"] == zh["n"] == 300 and en["age"] == zh["age"]
    assert (en["sex"]["label"], zh["sex"]["label"]) == ("Sex", "性别")
    assert zh["stage_computed"]["label"] == "分期（AJCC第8版，重新计算）"
    for key in ("sex", "ecog", "primary_site", "p16", "stage_computed", "response_at_randomization", "smoking"):
        assert en[key]["counts"] == zh[key]["counts"], key  # the codes are the data's, in both


def test_accrual_projection_in_words_of_the_language(con):
    en, zh = both(enrollment.accrual, con, PI, CFG)
    for k in ("completion_date", "lower", "upper", "rate_per_month", "randomized", "remaining"):
        assert en["projection"][k] == zh["projection"][k]
    assert en["projection"]["model"].startswith("Randomizations are modelled as a Poisson process")
    assert "2028-06-30 cut-off" in en["projection"]["model"]
    assert zh["projection"]["model"].startswith("随机化按每日速率恒定的泊松过程建模。")
    assert "2028年6月30日数据截止日期之后" in zh["projection"]["model"]


def test_target_reached_in_chinese_says_which_randomization():
    dates = [dt.date(2027, 1, d) for d in (2, 3, 5)]
    args = (dates, dt.date(2027, 1, 1), dt.date(2027, 2, 1), 3, 12)
    en, zh = both(accrual.project_completion, *args, days_per_month=30.4375)
    assert en["completion_date"] == zh["completion_date"] == dt.date(2027, 1, 5)
    assert en["model"] == (
        "Target reached: the 3rd randomization was on 2027-01-05 (3 randomized by the 2027-02-01 cut-off); "
        "nothing to project."
    )
    assert (
        zh["model"]
        == "已达到目标：第3例随机化于2027年1月5日完成（截至2027年2月1日数据截止日期共3例已随机）；无需预测。"
    )


# ------------------------------------------------------------------ outcomes and safety


def test_pooled_survival_same_numbers_median_in_words(con):
    en, zh = both(outcomes.pooled, con, PI, CFG)
    for e in outcomes.ENDPOINTS:
        a, b = en[e]["pooled"], zh[e]["pooled"]
        assert {k: v for k, v in a.items() if k not in ("curve", "at_risk_table")} == {
            k: v for k, v in b.items() if k not in ("curve", "at_risk_table")
        }
        pd.testing.assert_frame_equal(a["curve"], b["curve"])
        pd.testing.assert_frame_equal(a["at_risk_table"], b["at_risk_table"])
    km = en["dfs"]["pooled"]  # the demo's DFS falls to 50% at 26.2 months with one subject at risk
    value, note = outcomes.median_text(km, CFG)
    with i18n.using("zh"):
        value_zh, note_zh = outcomes.median_text(km, CFG)
    assert value == "not reliably estimated" and "26.2 months with 1 subject(s) at risk" in note
    assert value_zh == "无法可靠估计"
    assert note_zh.startswith("曲线在26.2个月时降至50%，此时风险人数为1例（少于5例")
    with i18n.using("zh"):
        assert [i18n._(outcomes.ENDPOINTS[e][3]) for e in ("os", "dfs")] == ["总生存期", "无病生存期"]
        assert outcomes.conf_text(CFG).endswith("风险人数少于5例处曲线截止")
    assert outcomes.conf_text(CFG) == outcomes.CONF_TEXT  # the English the pages quoted before


def test_safety_signals_labels_and_reasons_translated_flags_kept(con):
    en, zh = both(safety.pooled, con, PI, CFG)
    assert en["pooled"] == zh["pooled"]
    _same_frame(en["soc_by_grade"], zh["soc_by_grade"])
    codes = ("name", "events", "n", "observed", "lower", "upper", "threshold", "flagged", "flag_rule")
    for a, b, s in zip(en["signals"], zh["signals"], CFG.safety_signals, strict=True):
        assert {k: a[k] for k in codes} == {k: b[k] for k in codes}
        assert (a["label"], b["label"]) == (s.label, s.label_zh)
    by_name = {s["name"]: s for s in zh["signals"]}
    # the demo: one death within 90 days (any event flags, threshold 3%), immune-related events flag
    assert by_name["death_90d"]["flag_rule"] == "any event"
    assert by_name["death_90d"]["flag_reason"] == "任一事件即为信号（按此规则标记，而非因超出3.0%阈值）"
    assert {s["name"]: s for s in en["signals"]}["death_90d"]["flag_reason"] == (
        "any event is a signal (flagged by that rule, not by the 3.0% threshold)"
    )
    assert by_name["immune_grade3plus_neoadjuvant"]["flag_reason"] == "任一事件即为信号（无阈值）"
    rows_en = safety.signal_rows(en["signals"])
    with i18n.using("zh"):
        rows_zh = safety.signal_rows(zh["signals"])
    assert list(rows_en[0]) == [
        "signal",
        "subjects with event",
        "denominator",
        "observed (95% exact CI)",
        "threshold (assumed)",
        "flag",
    ]
    assert list(rows_zh[0]) == ["信号", "发生事件的受试者", "分母", "观察值（95%精确CI）", "阈值（假定）", "标记"]
    death = next(r for r in rows_zh if r["信号"] == "术后90天内死亡")
    assert (death["发生事件的受试者"], death["分母"], death["标记"]) == (1, 243, "被标记：任一事件")
    assert death["观察值（95%精确CI）"] == "0.4%（0.0%～2.3%）"
    immune = next(r for r in rows_zh if r["阈值（假定）"] == "无：任一事件即标记")
    assert immune["标记"] == "被标记：任一事件"
    note_en, note_zh = both(safety.immune_note, en["pooled"])
    assert note_en.startswith("Immune-related grade 3+: 26 subject(s) with such an event at any time; 25 of them")
    assert note_zh == (
        "免疫相关3级及以上：26例受试者在任何时间发生此类事件；其中25例发生在新辅助治疗期间，"
        "即免疫相关信号所计数的事件（1例仅在其后发生）。"
    )
    soc_en, soc_zh = both(safety.soc_table, en["soc_by_grade"])
    assert list(soc_en.columns) == [
        "System organ class",
        "Grade 1",
        "Grade 2",
        "Grade 3",
        "Grade 4",
        "Grade 5",
        "Total",
    ]
    assert list(soc_zh.columns) == ["系统器官分类", "1级", "2级", "3级", "4级", "5级", "合计"]
    _same_frame(soc_en, soc_zh)


def test_funnel_flags_are_codes_in_both_languages(con):
    for signal in CFG.safety_signals:
        en, zh = both(safety.signal_by_site, con, PI, signal.name, CFG)
        assert list(en.columns) == list(zh.columns)
        same = [c for c in en.columns if c not in ("suppressed", "site_label")]
        pd.testing.assert_frame_equal(en[same], zh[same])
        assert set(en["flag"].dropna()) <= {"within", "above", "below"}


# ------------------------------------------------------------------ blinding: the same decisions


def test_blinded_suppression_same_in_both_languages(small):
    for site in ("01", "02", "03", "04"):
        viewer = Viewer("site", site=site)
        for fn in (outcomes.pooled, safety.pooled):
            en, zh = both(fn, small, viewer, CFG)
            assert ("suppressed" in en) == ("suppressed" in zh), (site, fn)
            if "suppressed" in en:
                assert en["suppressed_code"] == zh["suppressed_code"] == en["suppressed"]
                # the build withholds the allocation of sites 03 and 04 (one arm, too small)
                assert (en["suppressed"], zh["suppressed"]) == ("withheld by the cell rule", "按单元格规则不予显示")
                # the summary keeps the rule's own words in every language
                with i18n.using("zh"):
                    assert outcomes.summary_part(zh) == {"suppressed": "withheld by the cell rule"}
                    assert safety.summary_part(zh) == {"suppressed": "withheld by the cell rule"}
        assert ("suppressed" in both(outcomes.pooled, small, viewer, CFG)[0]) == (site in ("03", "04"))


def test_blinded_site_tables_same_rows_and_decisions_in_both_languages(small):
    for en, zh in [both(deviations.by_site, small, PI, CFG), both(safety.signal_by_site, small, PI, "death_90d", CFG)]:
        assert list(en.siteid) == list(zh.siteid)  # the merged row's siteid stays the code pages compare
        assert "other sites (merged)" in set(en.siteid)
        assert list(en.suppressed.isna()) == list(zh.suppressed.isna())
        assert list(en.suppressed_code.fillna("")) == list(zh.suppressed_code.fillna(""))
        merged = en.siteid == "other sites (merged)"
        assert list(en.site_label[merged]) == ["other sites (merged)"]
        assert list(zh.site_label[merged]) == ["其他中心（合并）"]
        numbers = [c for c in en.columns if c not in ("suppressed", "site_label")]
        pd.testing.assert_frame_equal(en[numbers], zh[numbers])


def test_every_reason_of_the_rule_in_chinese():
    with i18n.using("zh"):
        assert text.suppression("fewer than 5 subjects") == "受试者少于5例"
        assert text.suppression("all subjects in one arm") == "所有受试者均在同一组"
        assert text.suppression("withheld by the cell rule") == "按单元格规则不予显示"
        assert text.suppression("fewer than 5 subjects (merged)") == "受试者少于5例（合并后）"
        assert text.suppression(None) is None
    with i18n.using("en"):
        for reason in ("fewer than 5 subjects", "all subjects in one arm", "all subjects in one arm (merged)"):
            assert text.suppression(reason) == reason


# ------------------------------------------------------------------ build messages


def test_build_messages_in_the_readers_language(con, demo):
    en, zh = both(quality.build_report, con, DM, demo)
    for key in ("findings", "forms"):
        pd.testing.assert_frame_equal(en[key], zh[key])
    assert list(en["warnings"].columns) == list(zh["warnings"].columns)
    assert "message_zh" not in en["warnings"] and "message_zh" not in zh["warnings"]
    notes = en["warnings"].file == "NOTES.csv"
    assert list(en["warnings"].message[notes]) == ["not a form of the export spec: ignored"]
    raw = fetch(con, "views/build_warnings")
    assert list(zh["warnings"].message[notes]) == list(raw.message_zh[notes])
    assert all(CJK.search(m) for m in zh["warnings"].message[notes])
    # the load history: the refused build first, its errors as the build wrote them in each language
    assert list(en["history"].columns) == list(zh["history"].columns)
    assert "first_errors_zh" not in zh["history"]
    assert list(en["history"].status) == list(zh["history"].status) == ["refused", "published"]
    record = warehouse.load_history(demo)[-1]
    assert en["history"].first_errors[0] == record["first_errors"]
    assert zh["history"].first_errors[0] == record["first_errors_zh"]
    assert "DM.csv" in zh["history"].first_errors[0][0] and CJK.search(zh["history"].first_errors[0][0])


def test_eligibility_details_in_the_readers_language(con):
    en, zh = both(deviations.listings, con, PI)
    for key in en:
        assert list(en[key].columns) == list(zh[key].columns), key
        assert "detail_zh" not in zh[key]
    e, z = en["eligibility"], zh["eligibility"]
    pd.testing.assert_frame_equal(e.drop(columns="detail"), z.drop(columns="detail"))
    consent = e.code == "I12"
    assert consent.any()
    assert all(d.startswith("consent ") for d in e.detail[consent])
    assert all(d.startswith("知情同意") for d in z.detail[consent])
    d_en, d_zh = both(deviations.deviations, con, PI, CFG)
    assert d_en == d_zh


def test_a_build_made_before_message_zh_shows_the_english():
    """A warehouse whose tables have no message_zh / detail_zh (built before issue 15): the same
    queries run, and Chinese readers get the English."""
    c = duckdb.connect()
    c.execute(
        "create table problems as select 'warning' as severity, 'X.csv' as file, 1 as line, "
        "null::varchar as column_name, null::varchar as subjid, 'old message' as message"
    )
    with i18n.using("zh"):
        got = text.localized(fetch(c, "views/build_warnings"), "message")
    assert list(got.columns) == ["severity", "file", "line", "column_name", "subjid", "message"]
    assert list(got.message) == ["old message"]
    # a row whose Chinese is missing keeps its English
    mixed = pd.DataFrame({"message": ["a", "b"], "message_zh": ["甲", None]})
    with i18n.using("zh"):
        assert list(text.localized(mixed, "message").message) == ["甲", "b"]
    with i18n.using("en"):
        assert list(text.localized(mixed, "message").message) == ["a", "b"]


# ------------------------------------------------------------------ the closed session


def test_closed_tables_headers_and_words_translated_numbers_kept(closed_con):
    labels_zh = {a.code: a.label_zh for a in CFG.arms}
    exp = next(a for a in CFG.arms if a.experimental)
    lr_en, lr_zh = both(closed.logrank, closed_con, DSMB, CFG)
    rows_en, rows_zh = closed.logrank_rows(lr_en, CFG), None
    with i18n.using("zh"):
        rows_zh = closed.logrank_rows(lr_zh, CFG)
    assert list(rows_en[0])[:3] == ["set", "endpoint", "log-rank"]
    assert list(rows_zh[0]) == [
        "分析集",
        "终点",
        "log-rank检验",
        f"{exp.label_zh}：观察/期望",
        f"{next(a for a in CFG.arms if not a.experimental).label_zh}：观察/期望",
        "卡方（自由度1）",
        "p",
        "备注",
    ]
    assert (rows_zh[0]["分析集"], rows_zh[0]["终点"], rows_zh[0]["log-rank检验"]) == (
        "意向性治疗集（ITT）",
        "总生存期",
        "分层",
    )
    assert (rows_en[0]["set"], rows_en[0]["endpoint"]) == ("Intention to treat", "Overall survival")
    for a, b in zip(rows_en, rows_zh, strict=True):
        assert [a["p"], a["chi-square (1 df)"]] == [b["p"], b["卡方（自由度1）"]]

    saf_en, saf_zh = both(closed.safety_by_arm, closed_con, DSMB, CFG)
    assert saf_en["by_arm"] == saf_zh["by_arm"] and saf_en["n"] == saf_zh["n"]
    pd.testing.assert_frame_equal(saf_en["soc_differences"], saf_zh["soc_differences"])  # grade codes too
    assert set(saf_zh["soc_differences"].grade) <= {"any grade", "grade 3+"}
    assert list(saf_zh["signal_differences"].signal) == [s.label_zh for s in CFG.safety_signals]
    with i18n.using("zh"):
        counts = closed.count_table(saf_zh, CFG)
        signals = closed.signal_table(saf_zh, CFG)
    assert list(counts.columns) == ["指标", "分母", *labels_zh.values()]
    assert counts.iloc[0]["指标"] == "受试者" and counts.iloc[1]["分母"] == "受试者"
    _same_frame(closed.count_table(saf_en, CFG).iloc[:, 2:], counts.iloc[:, 2:])
    assert list(signals.columns) == ["信号", "被标记", *labels_zh.values(), "差值（95% CI）", "阈值（假定）"]
    flagged = dict(zip(signals["信号"], signals["被标记"], strict=True))
    assert flagged["新辅助治疗期间3级及以上免疫相关不良事件"] == "降阶梯手术（任一事件）；标准手术（任一事件）"
    assert flagged["手术切缘阳性"] == "降阶梯手术（超出阈值）"


def test_look_conclusion_code_and_its_words(closed_con):
    en, zh = both(closed.interim, closed_con, DSMB, CFG)
    assert en["look"]["conclusion"] == zh["look"]["conclusion"] == monitoring.NOT_ESTIMABLE
    assert en["look"]["conclusion_text"] == "not estimable at this look"
    assert zh["look"]["conclusion_text"] == "本次期中分析无法估计"
    assert en["actual"] == zh["actual"] and en["z_statistic"] == zh["z_statistic"]
    b_en = closed.boundary_table(en["actual"], CFG)
    with i18n.using("zh"):
        b_zh = closed.boundary_table(zh["actual"], CFG)
    assert list(b_en.iloc[:, -1]) == ["held (this look or before)", "to come", "to come", "to come"]
    assert list(b_zh.iloc[:, -1]) == ["已进行（本次或之前）", "待进行", "待进行", "待进行"]
    assert list(b_zh.columns)[0] == "信息分数"
    _same_frame(b_en.iloc[:, :-1], b_zh.iloc[:, :-1])


def test_difference_messages_whole_sentences_with_the_arms_names(closed_con):
    ni_en, ni_zh = both(closed.noninferiority, closed_con, DSMB, CFG)
    assert ni_en["itt"]["n"] == ni_zh["itt"]["n"] and ni_en["itt"]["hazard_ratio"]["hazard_ratio"] == pytest.approx(
        ni_zh["itt"]["hazard_ratio"]["hazard_ratio"]
    )
    assert ni_en["itt"]["difference"]["reasons"] == ni_zh["itt"]["difference"]["reasons"]
    en = closed.difference_message(ni_en["itt"], CFG)
    with i18n.using("zh"):
        zh = closed.difference_message(ni_zh["itt"], CFG)
        empty = closed.difference_message({"n": 0, "difference": {"difference": None}}, CFG)
        beyond = closed.difference_message(
            {
                "n": 40,
                "difference": {
                    "difference": None,
                    "reasons": [{"arm": "a", "why": "beyond", "max_time": 800.0}, {"arm": "b", "why": "zero"}],
                },
                "longest_follow_up_days": {"DE-ESCALATION": 800.0, "STANDARD": 1200.0},
            },
            CFG,
        )
    assert en == (
        "The 36-month OS difference is not estimable yet: no subject has been followed for 36 months yet "
        "(longest follow-up: De-escalation surgery 26.2 months; Standard surgery 24.6 months)."
    )
    assert zh == "36个月OS差值暂不可估计：尚无受试者随访满36个月（最长随访：降阶梯手术26.2个月；标准手术24.6个月）。"
    assert empty == "36个月OS差值不可估计：本分析集无受试者。"
    assert beyond == (
        "36个月OS差值暂不可估计：降阶梯手术：超出最长随访时间（800天）；"
        "标准手术：生存率为0，其Greenwood标准误无定义（R：NaN）"
        "（最长随访：降阶梯手术26.3个月；标准手术39.4个月）。"
    )


def test_marker_and_exclusion_tables_in_chinese(closed_con):
    en, zh = both(closed.surgical_quality, closed_con, DSMB, CFG)
    pd.testing.assert_frame_equal(en["by_site"], zh["by_site"])
    for table_en, table_zh in zip(en["markers"].values(), zh["markers"].values(), strict=True):
        pd.testing.assert_frame_equal(table_en, table_zh)  # codes: the page labels them
        with i18n.using("zh"):
            shown = closed.marker_table(table_zh, CFG)
        assert list(shown.columns) == ["记录值", *(a.label_zh for a in CFG.arms)]
        assert list(shown.iloc[:, 1:].sum()) == list(table_en.sum())
    assert list(zh["markers"]) != list(en["markers"])  # the markers' names are trial.toml's labels
    sets = closed.analysis_sets(closed_con, DSMB, CFG)
    assert len(sets["excluded"])  # the demo has per-protocol exclusions
    with i18n.using("zh"):
        shown = closed.exclusions_table(sets["excluded"], CFG)
    assert set(shown.iloc[:, list(sets["excluded"].columns).index("arm")]) <= {a.label_zh for a in CFG.arms} | {"—"}


# ------------------------------------------------------------------ stats: refusals and errors


def test_stats_reasons_in_chinese_codes_the_same():
    en, zh = both(comparison.survival_difference, [], [], [100.0, 200.0], [1, 0], 365.0)
    assert (
        en["reasons"]
        == zh["reasons"]
        == [
            {"arm": "a", "why": "no subjects", "max_time": None},
            {"arm": "b", "why": "beyond", "max_time": 200.0},
        ]
    )
    assert (en["reason"], zh["reason"]) == (
        "arm A has no subjects; arm B: beyond the longest follow-up (200 days)",
        "A组无受试者；B组：超出最长随访时间（200天）",
    )
    df = pd.DataFrame({"t": [10.0, 20.0, 30.0, 40.0], "e": [0, 0, 0, 0], "arm": ["X", "X", "Y", "Y"]})
    cox_en, cox_zh = both(comparison.cox_hazard_ratio, df, "t", "e", "arm", "X")
    assert (cox_en["reason"], cox_zh["reason"]) == ("no events", "无事件")
    lr_en, lr_zh = both(comparison.logrank_test, df, "t", "e", "arm", "X")
    assert lr_en["by_arm"] == lr_zh["by_arm"] and (lr_en["reason"], lr_zh["reason"]) == ("no events", "无事件")
    with i18n.using("zh"), pytest.raises(ValueError, match="信息分数必须严格递增"):
        groupseq.boundaries([0.5, 0.4])
    with i18n.using("en"), pytest.raises(ValueError, match="information fractions must be strictly increasing"):
        groupseq.boundaries([0.5, 0.4])
    with i18n.using("zh"), pytest.raises(warehouse.NoWarehouse, match="此处尚未构建数据仓库"):
        warehouse.current_build("/nonexistent-warehouse")
