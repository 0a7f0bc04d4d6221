"""dashboard.stats.survival against published R output on the `lung` data and against hand-computed
examples (tie of an event and a censoring, landmarks, R's median rule, reverse KM, design curve)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.datasets import load_lung

from dashboard.stats.survival import (
    expected_events,
    exponential_survival,
    kaplan_meier,
    months_to_days,
    reverse_km_median_follow_up,
)

DPM = 30.4375  # export spec section 5: a month is 30.4375 days (trial.toml days_per_month)

Z = 1.959963984540054  # qnorm(0.975)


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    """R's survival::lung as lifelines ships it: status is already 0 = censored, 1 = dead
    (R codes 1 = censored, 2 = dead)."""
    d = load_lung()
    assert set(d["status"].unique()) == {0, 1}
    return d


def printed(digits: int) -> float:
    """Tolerance for a value R printed with `digits` decimals: half a unit of the last digit."""
    return 0.5 * 10.0**-digits + 1e-12


# --------------------------------------------------------------------------------------------
# 1. Published R output on lung
# --------------------------------------------------------------------------------------------


def test_lung_median_log_ci_matches_r_print(lung):
    """R, survfit(Surv(time, status) ~ 1, data = lung) (default conf.type = "log") prints
    n 228, events 165, median 310, 0.95LCL 285, 0.95UCL 363.

    Source: E. C. Zabor, "Survival Analysis in R", section "Estimating median survival time",
    https://www.emilyzabor.com/survival-analysis-in-r.html
    (GitHub zabore/zabore.github.io, docs/survival-analysis-in-r.html).
    """
    r = kaplan_meier(lung["time"], lung["status"], conf_type="log")
    assert (r["n"], r["events"]) == (228, 165)
    assert (r["median"], r["median_lower"], r["median_upper"]) == (310, 285, 363)
    assert r["conf_type"] == "log"


def test_lung_one_year_landmark_log_ci_matches_r_summary(lung):
    """R, summary(survfit(Surv(time, status) ~ 1, data = lung), times = 365.25) prints
    time 365, n.risk 65, n.event 121, survival 0.409, std.err 0.0358,
    lower 95% CI 0.345, upper 95% CI 0.486.

    12 months x 30.4375 = 365.25 days, the same time R was asked about.
    Source: same page as above, section "Estimating x-year survival",
    https://www.emilyzabor.com/survival-analysis-in-r.html
    """
    r = kaplan_meier(lung["time"], lung["status"], conf_type="log", landmarks={"1 year": months_to_days(12, DPM)})
    lm = r["landmarks"]["1 year"]
    assert lm["time"] == 365.25
    assert lm["at_risk"] == 65
    assert lm["survival"] == pytest.approx(0.409, abs=printed(3))
    assert lm["lower"] == pytest.approx(0.345, abs=printed(3))
    assert lm["upper"] == pytest.approx(0.486, abs=printed(3))
    # n.event 121 = events up to the landmark; 121 deaths by day 365 in the data.
    assert int(((lung["time"] <= 365.25) & (lung["status"] == 1)).sum()) == 121


def test_lung_first_curve_points_log_ci_match_r_str(lung):
    """R, str(survfit(Surv(time, status) ~ 1, data = lung)) shows (3 significant digits)
    time 5 11 12 13 15, surv 0.996 0.982 0.978 0.969 0.965,
    lower 0.987 0.966 0.959 0.947 0.941, upper 1 1 0.997 0.992 0.989.

    Source: https://www.emilyzabor.com/survival-analysis-in-r.html, section
    "Creating survival objects and curves".
    """
    curve = kaplan_meier(lung["time"], lung["status"], conf_type="log")["curve"]
    assert list(curve.columns) == ["time", "survival", "lower", "upper"]
    assert curve.iloc[0].tolist() == [0.0, 1.0, 1.0, 1.0]
    rows = curve.set_index("time").loc[[5.0, 11.0, 12.0, 13.0, 15.0]]
    np.testing.assert_allclose(rows["survival"], [0.996, 0.982, 0.978, 0.969, 0.965], atol=printed(3))
    np.testing.assert_allclose(rows["lower"], [0.987, 0.966, 0.959, 0.947, 0.941], atol=printed(3))
    np.testing.assert_allclose(rows["upper"], [1, 1, 0.997, 0.992, 0.989], atol=printed(3))


def test_lung_men_curve_log_ci_matches_r_summary(lung):
    """R, summary(survfit(Surv(time, status) ~ sex, data = lung)), stratum sex=1, prints e.g.
        time n.risk n.event survival std.err lower 95% CI upper 95% CI
          11    138       3   0.9783  0.0124       0.9542        1.000
         163    100       3   0.7029  0.0389       0.6306        0.783
         180     89       1   0.6445  0.0408       0.5693        0.730

    Source: J. Kim, "Non- and semi-parametric survival analysis" (2025-09-20),
    https://drkim.quarto.pub/non_semi_parametric_survival_analysis
    The landmarks are at exactly those days, so at_risk is R's n.risk.
    """
    men = lung[lung["sex"] == 1]
    expected = {11: (138, 0.9783, 0.9542, 1.000), 163: (100, 0.7029, 0.6306, 0.783), 180: (89, 0.6445, 0.5693, 0.730)}
    r = kaplan_meier(men["time"], men["status"], conf_type="log", landmarks={str(day): float(day) for day in expected})
    for day, (n_risk, surv, lower, upper) in expected.items():
        lm = r["landmarks"][str(day)]
        assert lm["time"] == day
        assert lm["at_risk"] == n_risk
        assert lm["survival"] == pytest.approx(surv, abs=printed(4))
        assert lm["lower"] == pytest.approx(lower, abs=printed(4))
        assert lm["upper"] == pytest.approx(upper, abs=printed(3))


def test_lung_median_by_sex_log_log_ci_matches_r_print(lung):
    """R, survfit(Surv(time, status == 2) ~ sex, data = lung, conf.type = "log-log") prints
        n events median 0.95LCL 0.95UCL
    sex=1 138    112    270     210     306
    sex=2  90     53    426     345     524

    Source: Shane Pederson, "An introduction to survival analysis" (blog post of 2019-02-07,
    a Jekyll post stored in the public GitHub index; its live URL could not be recovered).
    No published log-log output was found for the pooled (~ 1) lung fit, so the pooled log-log
    median CI is not compared with a reference number.
    """
    for sex, expected in {1: (138, 112, 270, 210, 306), 2: (90, 53, 426, 345, 524)}.items():
        part = lung[lung["sex"] == sex]
        r = kaplan_meier(part["time"], part["status"], conf_type="log-log")
        assert (r["n"], r["events"], r["median"], r["median_lower"], r["median_upper"]) == expected


def test_lung_log_log_band_is_lifelines_exponential_greenwood(lung):
    """Consistency, not a published value: R's log-log band is lifelines' default
    ("exponential Greenwood") band, so the two must agree on every time point."""
    r = kaplan_meier(lung["time"], lung["status"], conf_type="log-log")
    kmf = KaplanMeierFitter().fit(lung["time"], lung["status"])
    ci = kmf.confidence_interval_
    curve = r["curve"].set_index("time")
    np.testing.assert_allclose(curve["lower"], ci.iloc[:, 0].reindex(curve.index), rtol=1e-9)
    np.testing.assert_allclose(curve["upper"], ci.iloc[:, 1].reindex(curve.index), rtol=1e-9)
    np.testing.assert_allclose(curve["survival"], kmf.survival_function_.iloc[:, 0].reindex(curve.index), rtol=1e-12)


def test_lung_landmark_beyond_follow_up_is_not_estimable(lung):
    """The longest lung follow-up is 1022 days (censored): 36 months = 1095.75 days is beyond it."""
    r = kaplan_meier(lung["time"], lung["status"], landmarks={"36 months": months_to_days(36, DPM)})
    assert r["landmarks"]["36 months"] == {
        "time": 1095.75,
        "survival": None,
        "lower": None,
        "upper": None,
        "at_risk": 0,
    }


# --------------------------------------------------------------------------------------------
# 2. Hand-computed examples
# --------------------------------------------------------------------------------------------

# Six subjects, days; 60.875 = 2 months, 91.3125 = 3 months, 182.625 = 6 months exactly.
# At 60.875 one event AND one censoring: the censored subject is still at risk for that event.
#   t        n  d  c   S(t)
#   30       6  1  0   5/6
#   60.875   5  1  1   5/6 * 4/5 = 2/3
#   91.3125  3  1  0   2/3 * 2/3 = 4/9
#   152      2  0  1   4/9
#   182.625  1  0  1   4/9      <- longest follow-up, censored
TINY_T = [30, 60.875, 60.875, 91.3125, 152, 182.625]
TINY_E = [1, 1, 0, 1, 0, 0]


def test_tiny_curve_and_tie_of_event_and_censoring():
    r = kaplan_meier(TINY_T, TINY_E)
    assert (r["n"], r["events"]) == (6, 3)
    curve = r["curve"]
    assert curve["time"].tolist() == [0, 30, 60.875, 91.3125, 152, 182.625]
    np.testing.assert_allclose(curve["survival"], [1, 5 / 6, 2 / 3, 4 / 9, 4 / 9, 4 / 9], rtol=1e-12)
    assert r["median"] == 91.3125  # first time S <= 0.5


def test_tiny_landmarks_right_continuous_at_risk_and_beyond_follow_up():
    r = kaplan_meier(
        TINY_T,
        TINY_E,
        conf_type="log",
        landmarks={k: months_to_days(m, DPM) for k, m in {"0": 0, "1.5m": 1.5, "2m": 2, "6m": 6, "6.5m": 6.5}.items()},
    )
    lm = r["landmarks"]
    assert lm["0"] == {"time": 0.0, "survival": 1.0, "lower": 1.0, "upper": 1.0, "at_risk": 6}
    # 1.5 months = 45.65625 days: after the event at 30, before the tie at 60.875.
    assert lm["1.5m"]["survival"] == pytest.approx(5 / 6)
    assert lm["1.5m"]["at_risk"] == 5
    # Exactly on the tied time: the event at 60.875 is included (right-continuous) and both
    # subjects at 60.875 count as at risk (observed time >= t).
    assert lm["2m"]["time"] == 60.875
    assert lm["2m"]["survival"] == pytest.approx(2 / 3)
    assert lm["2m"]["at_risk"] == 5
    # Greenwood: Var(log S) = 1/(6*5) + 1/(5*4) = 1/12; log CI = S exp(-+ z sqrt(1/12)), capped at 1.
    se = math.sqrt(1 / 30 + 1 / 20)
    assert lm["2m"]["lower"] == pytest.approx(2 / 3 * math.exp(-Z * se), rel=1e-9)
    assert lm["2m"]["upper"] == 1.0  # 2/3 * exp(+z se) = 1.17, capped
    # At the longest follow-up (182.625 = 6 months) the estimate exists; beyond it, it does not,
    # and the last value (4/9) is not carried forward.
    assert lm["6m"]["survival"] == pytest.approx(4 / 9)
    assert lm["6m"]["at_risk"] == 1
    assert lm["6.5m"] == {"time": 6.5 * 30.4375, "survival": None, "lower": None, "upper": None, "at_risk": 0}


def test_tiny_log_log_and_plain_limits_by_hand():
    se = math.sqrt(1 / 30 + 1 / 20)  # at 60.875, S = 2/3
    s = 2 / 3
    loglog = kaplan_meier(TINY_T, TINY_E, conf_type="log-log", landmarks={"2m": 60.875})["landmarks"]["2m"]
    assert loglog["lower"] == pytest.approx(s ** math.exp(-Z * se / math.log(s)), rel=1e-9)
    assert loglog["upper"] == pytest.approx(s ** math.exp(Z * se / math.log(s)), rel=1e-9)
    plain = kaplan_meier(TINY_T, TINY_E, conf_type="plain", landmarks={"2m": 60.875})["landmarks"]["2m"]
    assert plain["lower"] == pytest.approx(s - Z * se * s, rel=1e-9)
    assert plain["upper"] == pytest.approx(min(1.0, s + Z * se * s), rel=1e-9)


def test_median_exactly_half_averages_with_the_next_drop_not_the_next_censoring():
    """S = 0.5 exactly from 30 on; a censoring at 35 keeps it there; it drops at 40.
    R's print.survfit rule: (30 + 40) / 2 = 35 (not (30 + 35) / 2)."""
    #  t   10   20   30   35c  40   50
    #  S  5/6  4/6  3/6  3/6  1/4   0
    r = kaplan_meier([10, 20, 30, 35, 40, 50], [1, 1, 1, 0, 1, 1])
    assert r["median"] == 35.0


def test_median_curve_ending_flat_at_half_is_the_time_it_got_there():
    """S drops to exactly 0.5 at 20 and stays there (censorings at 30, 40): R's print rule has no
    later drop to average with, so the median is 20."""
    assert kaplan_meier([10, 20, 30, 40], [1, 1, 0, 0])["median"] == 20.0


def test_median_not_reached_is_none():
    r = kaplan_meier([10, 20, 30, 40], [1, 0, 0, 0])  # S = 3/4 from 10 on
    assert (r["median"], r["median_upper"]) == (None, None)
    # The log-log lower limit from 10 on is 0.75 ** exp(z sqrt(1/12) / -log 0.75) = 0.128 <= 0.5,
    # so the lower limit of the median is reached even though the median is not.
    assert 0.75 ** math.exp(Z * math.sqrt(1 / 12) / -math.log(0.75)) < 0.5
    assert r["median_lower"] == 10.0


def test_event_at_time_zero_starts_the_curve_below_one():
    curve = kaplan_meier([0, 5, 10], [1, 0, 1])["curve"]
    assert curve["time"].tolist() == [0, 5, 10]
    np.testing.assert_allclose(curve["survival"], [2 / 3, 2 / 3, 0])
    assert curve["lower"].isna().iloc[-1] and curve["upper"].isna().iloc[-1]  # S = 0: R gives NA


def test_missing_rows_raise_naming_how_many():
    with pytest.raises(ValueError, match=r"^2 row\(s\)"):
        kaplan_meier(pd.Series([1.0, 2.0, None, 4.0]), pd.Series([1, pd.NA, 0, 1], dtype="Int64"))
    with pytest.raises(ValueError, match=r"^1 row\(s\)"):
        reverse_km_median_follow_up([1, 2, np.nan], [1, 0, 1])


@pytest.mark.parametrize(
    "durations, events, message",
    [
        ([1, -2, 3], [1, 0, 1], "negative"),
        ([1, 2, 3], [1, 2, 0], "0 \\(censored\\) or 1"),
        ([1, 2], [1, 0, 1], "differ in length"),
        ([], [], "no subjects"),
    ],
)
def test_invalid_input_raises(durations, events, message):
    with pytest.raises(ValueError, match=message):
        kaplan_meier(durations, events)


def test_months_to_days_is_not_rounded():
    assert months_to_days(12, DPM) == 365.25
    assert months_to_days(36, DPM) == 1095.75
    assert months_to_days(1, DPM) == 30.4375  # round() would give 30


def test_invalid_settings_raise():
    with pytest.raises(ValueError, match="conf_type"):
        kaplan_meier([1, 2], [1, 0], conf_type="arcsin")
    with pytest.raises(ValueError, match="alpha"):
        kaplan_meier([1, 2], [1, 0], alpha=1.5)
    with pytest.raises(ValueError, match="landmark"):
        kaplan_meier([1, 2], [1, 0], landmarks={"bad": -1})


def test_accepts_bool_events_and_int_days():
    r = kaplan_meier(np.array([3, 1, 2]), [True, False, True], landmarks={"0": 0})
    assert (r["n"], r["events"]) == (3, 2)
    assert r["curve"]["time"].tolist() == [0, 1, 2, 3]


# --------------------------------------------------------------------------------------------
# 3. Reverse Kaplan-Meier median follow-up
# --------------------------------------------------------------------------------------------


def test_reverse_km_by_hand():
    """No published reverse-KM median follow-up for lung was found (searched for prodlim
    followup() / survfit(Surv(time, 1 - status)) output on lung), so this is checked by hand.

    t       5   8   12  15  20  25
    event   0   1   0   1   0   0      (reverse: censored = "event")
    Reverse KM: 5: 5/6; 12: 5/6 * 3/4 = 0.625; 20: 0.625 * 1/2 = 0.3125 -> median 20.
    Greenwood Var(log S): 1/30, + 1/12, + 1/2, then infinite at 25 (S = 0).
    Log CI lower: at 5 (and 8) 5/6 exp(-z sqrt(1/30)) = 0.583 > 0.5; at 12
    0.625 exp(-z sqrt(7/60)) = 0.320 <= 0.5 -> lower 12.
    Log CI upper: 0.3125 exp(z sqrt(37/60)) > 1, capped at 1; NA at 25 -> never <= 0.5 -> None.
    """
    t, e = [5, 8, 12, 15, 20, 25], [0, 1, 0, 1, 0, 0]
    assert 5 / 6 * math.exp(-Z * math.sqrt(1 / 30)) > 0.5
    assert 0.625 * math.exp(-Z * math.sqrt(1 / 30 + 1 / 12)) <= 0.5
    assert reverse_km_median_follow_up(t, e) == {"median": 20.0, "lower": 12.0, "upper": None}


def test_reverse_km_is_km_of_swapped_indicator_on_lung(lung):
    """Consistency with the definition (Schemper & Smith 1996), not a published value."""
    swapped = kaplan_meier(lung["time"], 1 - lung["status"], conf_type="log")
    got = reverse_km_median_follow_up(lung["time"], lung["status"])
    assert got == {"median": swapped["median"], "lower": swapped["median_lower"], "upper": swapped["median_upper"]}
    assert got["median"] is not None


def test_reverse_km_without_censoring_is_not_estimable():
    assert reverse_km_median_follow_up([1, 2, 3], [1, 1, 1]) == {"median": None, "lower": None, "upper": None}


# --------------------------------------------------------------------------------------------
# 4. Design curve and expected events
# --------------------------------------------------------------------------------------------

THREE_YEARS = 36 * 30.4375  # days


def test_exponential_survival_by_hand():
    # S(t) = 0.8 ** (t / 36 months): 1 at 0, sqrt(0.8) at 18 months, 0.8 at 36, 0.64 at 72.
    got = exponential_survival([0, 18 * 30.4375, THREE_YEARS, 72 * 30.4375], 0.8, THREE_YEARS)
    np.testing.assert_allclose(got, [1.0, math.sqrt(0.8), 0.8, 0.64], rtol=1e-12)
    assert isinstance(got, np.ndarray)
    assert float(exponential_survival(5, 0.8, 10)) == pytest.approx(math.sqrt(0.8))
    lam = -math.log(0.8) / THREE_YEARS
    assert float(exponential_survival(100.0, 0.8, THREE_YEARS)) == pytest.approx(math.exp(-lam * 100))


def test_exponential_survival_rejects_bad_parameters():
    with pytest.raises(ValueError, match=r"survival_at must be in \(0, 1\], not 0.0"):
        exponential_survival([1.0], 0.0, THREE_YEARS)
    with pytest.raises(ValueError, match="at_time must be positive and finite, not 0"):
        exponential_survival([1.0], 0.8, 0)
    with pytest.raises(ValueError, match=r"1 time\(s\) are negative"):
        exponential_survival([-1.0], 0.8, THREE_YEARS)


def test_expected_events_by_hand():
    # Potential follow-up 0, 36 and 72 months: 0 + (1 - 0.8) + (1 - 0.64) = 0.56 deaths.
    assert expected_events([0, THREE_YEARS, 72 * 30.4375], 0.8, THREE_YEARS) == pytest.approx(0.56)
    assert expected_events(pd.Series([THREE_YEARS] * 10), 0.8, THREE_YEARS) == pytest.approx(2.0)
    assert expected_events([], 0.8, THREE_YEARS) == 0.0
    with pytest.raises(ValueError, match=r"^1 follow-up"):
        expected_events([THREE_YEARS, None], 0.8, THREE_YEARS)
