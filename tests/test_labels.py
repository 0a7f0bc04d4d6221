"""dashboard/outputs/labels.py: the words people read instead of codes come from trial.toml."""

import datetime as dt

import pandas as pd

from dashboard.config import load_trial
from dashboard.outputs import labels


def test_codes_named_in_the_issue_read_as_labels():
    cfg = load_trial()
    assert labels.code("SCREEN FAILURE", cfg) == "Screen failure"
    assert labels.code("GT HALF", cfg) == "More than half"
    assert labels.stratum("CR|ORAL CAVITY", cfg) == "Complete response · Oral cavity"
    for name in ("any_ae", "grade3plus", "clavien_3a_plus_30d", "response_imaging", "subjid", "dvstdat", "z_boundary"):
        assert labels.is_labelled(name, cfg), name
        assert "_" not in labels.column(name, cfg)


def test_an_unnamed_code_is_sentence_case_and_chinese_is_kept():
    assert labels.code("LOST TO FOLLOW-UP") == "Lost to follow-up"
    assert labels.code("复旦大学附属肿瘤医院") == "复旦大学附属肿瘤医院"
    assert labels.code("01") == "01"
    # stages, grades, abbreviations and codes with digits keep their capitals
    for kept in ("IVA", "IIIB", "HPV", "T4A", "QLQ-C30", "ANTI-PD-1", "CRT"):
        assert labels.code(kept) == kept, kept
    assert labels.code("DE-ESCALATION SURGERY") == "De-escalation surgery"
    assert labels.code("NOT DONE") == "Not done"


def test_missing_and_dates_never_read_as_python():
    for missing in (None, float("nan"), pd.NaT, pd.NA):
        assert labels.text(missing) == labels.MISSING
        assert labels.code(missing) == labels.MISSING
    assert labels.date(pd.Timestamp("2026-03-04 00:00:00")) == "2026-03-04"
    assert labels.date("2026-03-04 00:00:00") == "2026-03-04"
    assert labels.date(dt.datetime(2026, 3, 4, 9, 30)) == "2026-03-04 09:30"
    assert labels.text(12.0) == "12"


def test_arm_colours_are_one_pair_from_trial_toml():
    cfg = load_trial()
    colors = labels.arm_colors(cfg)
    for a in cfg.arms:
        assert colors[a.key] == colors[a.code] == colors[a.label] == a.color
    assert len({a.color for a in cfg.arms}) == len(cfg.arms)


def test_frame_labels_columns_values_and_dates():
    df = pd.DataFrame(
        {
            "subjid": ["S1", None],
            "stratum": ["PR|OTHER", "CR|ORAL CAVITY"],
            "dvstdat": pd.to_datetime(["2026-01-02", None]),
            "n": [3, 4],
        }
    )
    out = labels.frame(df, strata=["stratum"])
    assert list(out.columns) == ["Subject", "Stratum", "Deviation date", "Subjects"]
    assert out["Subject"].tolist() == ["S1", labels.MISSING]
    assert out["Stratum"].tolist() == ["Partial response · Other", "Complete response · Oral cavity"]
    assert out["Deviation date"].tolist() == ["2026-01-02", labels.MISSING]
    assert "None" not in out.to_string() and "NaT" not in out.to_string()
