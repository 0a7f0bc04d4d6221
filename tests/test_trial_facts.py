"""Trial facts come from trial.toml: a safety signal added there, or a window changed there, is
computed without a code change. Expected values are worked out by hand from the frames below."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard.config import SafetySignal, load_trial
from dashboard.views import safety

# Five randomized subjects as views/safety_subjects.sql gives them (only the columns used here).
SUBJECTS = pd.DataFrame(
    {
        "subjid": ["A", "B", "C", "D", "E"],
        "siteid": ["01", "01", "02", "02", "02"],
        "operated": [True, True, True, True, False],
        "with_pathology": [True, True, True, False, False],
        "positive_margin": [False, True, False, False, False],
        "any_ae": [True, True, False, True, False],
        "grade3plus": [False, True, False, True, False],
        "serious": [False, True, False, True, False],
        "immune_grade3plus": [False, False, False, True, False],
        "immune_grade3plus_neoadjuvant": [False, False, False, True, False],
        "first_clavien_3a_plus_day": [None, 12, None, 40, None],
        "death_day_after_surgery": [None, 25, None, 60, None],
        "local_recurrence_day": [None, None, 200, None, None],
        "days_since_surgery": [300, 300, 20, 300, None],
        "days_since_randomization": [320, 320, 40, 320, 10],
    }
)
SOC = pd.DataFrame(
    {"subjid": ["A", "B", "B", "D"], "soc": ["Skin", "Skin", "Cardiac", "Cardiac"], "worst_grade": [1, 3, 2, 4]}
)


def _with(cfg, *signals: SafetySignal):
    return cfg.model_copy(update={"safety_signals": [*cfg.safety_signals, *signals]})


def test_a_new_flag_signal_is_computed_without_code():
    cfg = _with(
        load_trial(),
        SafetySignal(
            name="serious_any", label="Serious adverse event", source="serious", population="randomized", threshold=0.5
        ),
    )
    out = {s["name"]: s for s in safety.signals(SUBJECTS, cfg)}
    # serious: B and D of the five randomized -> 2/5 = 0.4, under the 0.5 threshold
    assert (out["serious_any"]["events"], out["serious_any"]["n"]) == (2, 5)
    assert out["serious_any"]["observed"] == pytest.approx(0.4)
    assert out["serious_any"]["flagged"] is False


def test_a_new_windowed_signal_uses_its_own_window_and_denominator():
    cfg = _with(
        load_trial(),
        SafetySignal(
            name="death_30d_new",
            label="Death within 30 days of surgery",
            source="death_day_after_surgery",
            population="operated",
            window_from="surgery",
            window_days=30,
            threshold=0.2,
        ),
    )
    out = {s["name"]: s for s in safety.signals(SUBJECTS, cfg)}
    s = out["death_30d_new"]
    # operated: A B C D. B died on day 25 (in the window). D died on day 60 (outside). C is 20
    # days from surgery, alive: the window is not complete, so C is out of the denominator.
    # Denominator A, B, D = 3; events B = 1.
    assert (s["events"], s["n"]) == (1, 3)
    assert s["observed"] == pytest.approx(1 / 3)
    assert s["flagged"] is True and s["flag_reason"] == "above the threshold"


def test_a_signal_on_a_column_that_does_not_exist_is_named():
    cfg = _with(load_trial(), SafetySignal(name="typo", label="x", source="no_such_column", population="randomized"))
    with pytest.raises(KeyError, match=r"safety signal typo: source 'no_such_column'"):
        safety.signals(SUBJECTS, cfg)


def test_the_complication_and_early_death_windows_come_from_the_config():
    cfg = load_trial()
    counts = safety.safety_counts(SUBJECTS, SOC, cfg)
    # default windows: Clavien IIIA+ within 30 days: B (day 12); deaths within 30: B; within 90: B, D
    assert counts["clavien_3a_plus_30d"] == 1
    assert (counts["death_30d"], counts["death_90d"]) == (1, 2)
    wider = cfg.model_copy(
        update={
            "safety": cfg.safety.model_copy(update={"complication_window_days": 45, "early_death_days": [14, 60, 365]})
        }
    )
    counts = safety.safety_counts(SUBJECTS, SOC, wider)
    assert "clavien_3a_plus_30d" not in counts
    assert counts["clavien_3a_plus_45d"] == 2  # B (12) and D (40)
    assert (counts["death_14d"], counts["death_60d"], counts["death_365d"]) == (0, 2, 2)
    assert counts["by_soc"] == {"Skin": 2, "Cardiac": 2}
    assert (counts["subjects"], counts["operated"], counts["serious"]) == (5, 4, 2)
