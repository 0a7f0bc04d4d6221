"""The trial facts people read carry their Chinese (trial.toml, dashboard/crf_spec.toml; issue 15).

Every arm, stratum, eligibility criterion, safety signal, role and CRF form has its Chinese
beside the English; [labels.columns_zh] names exactly the columns [labels.columns] names; and
[labels.codes_zh] names every code of [labels.codes] and every text code of crf_spec.toml a page
may show, except the codes listed in NO_LABEL with the reason. `dashboard.i18n.fact` reads the
Chinese in Chinese and the English in English. The terms follow docs/glossary.md.
"""

import re

import pytest

from dashboard import i18n
from dashboard.config import load_crf_spec, load_trial

CFG = load_trial()
SPEC = load_crf_spec()
CJK = re.compile(r"[\u4e00-\u9fff]")

NO_LABEL = {
    "1.0": "EXPORT.SPECVER: a version number",
    **{c.code: "IETESTCD/SFREAS: a criterion code; its text is [[eligibility]] text_zh" for c in CFG.eligibility},
    **{a.code: "RAND.ARM: an arm code; the arm's name is [[arms]] label_zh (labels.arm)" for a in CFG.arms},
    **{
        s: "DX.STAGE / AE.AECLAV: a roman stage or Clavien-Dindo grade, the same in Chinese (III期, IIIa级)"
        for s in ("I", "II", "III", "IIIA", "IIIB", "IV", "IVA", "IVB", "IVC", "V")
    },
    **{
        t: "DX.CT/CN/CM: a TNM category, written the same in Chinese staging"
        for t in (
            *("T0", "T1", "T2", "T3", "T4", "T4A", "T4B", "TX"),
            *("N0", "N1", "N2", "N2A", "N2B", "N2C", "N3", "N3A", "N3B", "NX"),
            *("M0", "M1"),
        )
    },
    **{q: "QS.QSCAT: a questionnaire's own name (EORTC, MDADI)" for q in ("QLQ-C30", "QLQ-H&N35", "MDADI")},
}
"""Text codes of crf_spec.toml that stay as they are in Chinese, and why."""


def _spec_codes() -> set[str]:
    return {code for form in SPEC.forms.values() for col in form.columns if col.codes for code in col.codes}


def _chinese(en: str, zh: str | None, what: str) -> None:
    assert zh, f"{what}: no Chinese"
    assert CJK.search(zh), f"{what}: {zh!r} has no Chinese characters"
    assert zh != en, f"{what}: the Chinese is the English"
    assert zh == zh.strip() and "  " not in zh, f"{what}: stray spaces in {zh!r}"


def _facts():
    t = CFG.trial
    yield "trial.title", t.title, t.title_zh
    yield "trial.sponsor", t.sponsor, t.sponsor_zh
    for a in CFG.arms:
        yield f"arm {a.code}", a.label, a.label_zh
    for s in CFG.randomization.strata:
        yield f"stratum {s.field}", s.label, s.label_zh
    for c in CFG.eligibility:
        yield f"criterion {c.code}", c.text, c.text_zh
    for sig in CFG.safety_signals:
        yield f"signal {sig.name}", sig.label, sig.label_zh
    for name, r in CFG.roles.items():
        yield f"role {name}", r.label, r.label_zh
    for name, f in SPEC.forms.items():
        yield f"form {name}", f.label, f.label_zh


FACTS = list(_facts())


@pytest.mark.parametrize("what,en,zh", FACTS, ids=[f[0] for f in FACTS])
def test_every_fact_has_its_chinese(what, en, zh):
    assert en, f"{what}: no English"
    _chinese(en, zh, what)


def test_the_facts_are_all_there():
    """The list above walks every fact: 2 arms, 2 strata, 19 criteria, 5 signals, 6 roles, 20 forms."""
    kinds = [f[0].split()[0] for f in FACTS]
    assert {k: kinds.count(k) for k in ("arm", "stratum", "criterion", "signal", "role", "form")} == {
        "arm": 2,
        "stratum": 2,
        "criterion": 19,
        "signal": 5,
        "role": 6,
        "form": 20,
    }


def test_the_trial_words_are_the_glossary_terms():
    """The arm names, the DSMB and the sponsor as the contract and docs/glossary.md fix them."""
    by_code = {a.code: a.label_zh for a in CFG.arms}
    assert by_code == {"DE-ESCALATION": "降阶梯手术", "STANDARD": "标准手术"}
    assert CFG.trial.sponsor_zh == "上海交通大学"
    assert CFG.roles["dsmb"].label_zh.startswith("数据安全监查委员会")
    assert CFG.roles["pi"].label_zh == "主要研究者"
    assert SPEC.forms["AE"].label == "Adverse events" and SPEC.forms["AE"].label_zh == "不良事件"
    assert SPEC.forms["DV"].label_zh == "方案偏离"
    assert "美国癌症联合委员会（AJCC）第8版TNM分期" in next(c.text_zh for c in CFG.eligibility if c.code == "I03")


def test_no_criterion_or_signal_names_an_arm():
    """The deviations page shows every criterion to blinded roles, and the leak tests
    (tests/test_blinding_pages.py) look there for the arms' Chinese names: I08 says 手术降阶梯,
    not 降阶梯手术."""
    arm_names = [a.label_zh for a in CFG.arms]
    texts = [c.text_zh for c in CFG.eligibility] + [s.label_zh for s in CFG.safety_signals]
    texts += [s.label_zh for s in CFG.randomization.strata]
    assert not [(t, n) for t in texts for n in arm_names if n in t]


def test_chinese_text_uses_chinese_punctuation():
    """Commas, colons, semicolons and brackets inside Chinese text are full-width (docs/glossary.md)."""
    texts = [zh for _w, _en, zh in FACTS] + list(CFG.labels.columns_zh.values()) + list(CFG.labels.codes_zh.values())
    for zh in texts:
        assert not re.search(r"[\u4e00-\u9fff][,;:()]|[,;:()][\u4e00-\u9fff]", zh), zh
        assert " " not in re.sub(r"[A-Za-z'\-.0-9]+ [A-Za-z'\-.0-9]+", "", zh), f"a space beside Chinese: {zh!r}"


def test_columns_zh_names_exactly_the_columns():
    cols, zh = CFG.labels.columns, CFG.labels.columns_zh
    assert set(zh) == set(cols), (sorted(set(cols) - set(zh)), sorted(set(zh) - set(cols)))
    for key in cols:
        _chinese(cols[key], zh[key], f"labels.columns_zh.{key}")
    # the same column name as the English's lower-case key: labels.column looks it up lower-cased
    assert all(k == k.lower() for k in zh)


def test_codes_zh_names_every_code_a_page_may_show():
    codes, zh = CFG.labels.codes, CFG.labels.codes_zh
    spec_codes = _spec_codes()
    needed = (set(codes) | spec_codes) - set(NO_LABEL)
    missing = sorted(needed - set(zh))
    assert not missing, f"codes without Chinese: {missing}"
    for code in needed:
        _chinese(codes.get(code, code), zh[code], f"labels.codes_zh[{code!r}]")
    # the exceptions are real codes of the spec (a stale entry would hide nothing), and none of
    # them is given a Chinese after all
    assert set(NO_LABEL) <= spec_codes, sorted(set(NO_LABEL) - spec_codes)
    assert not set(NO_LABEL) & set(zh)


def test_codes_zh_adds_only_codes_that_exist():
    """Beyond [labels.codes] and the spec's code lists, only FU.VISIT's UNSCHEDULED (a pattern)."""
    extra = set(CFG.labels.codes_zh) - set(CFG.labels.codes) - _spec_codes()
    assert extra == {"UNSCHEDULED"}
    assert re.fullmatch(next(c.pattern for c in SPEC.forms["FU"].columns if c.name == "VISIT"), "UNSCHEDULED")


def test_fact_reads_the_language():
    arm = CFG.arms[0]
    with i18n.using("zh"):
        assert i18n.fact(arm, "label") == "降阶梯手术"
        assert i18n.fact(CFG.eligibility[0], "text") == CFG.eligibility[0].text_zh
        assert i18n.fact(SPEC.forms["AE"], "label") == "不良事件"
        assert i18n.fact(CFG.roles["site"], "label") == "中心研究者"
        assert i18n.fact_map(CFG.labels.codes, CFG.labels.codes_zh)["SCREEN FAILURE"] == "筛选失败"
        assert i18n.fact_map(CFG.labels.columns, CFG.labels.columns_zh)["subjid"] == "受试者编号"
    with i18n.using("en"):
        assert i18n.fact(arm, "label") == "De-escalation surgery"
        assert i18n.fact(CFG.eligibility[0], "text") == "Age 18 to 75 years inclusive at consent"
        assert i18n.fact(SPEC.forms["AE"], "label") == "Adverse events"
        assert i18n.fact_map(CFG.labels.codes, CFG.labels.codes_zh)["SCREEN FAILURE"] == "Screen failure"
