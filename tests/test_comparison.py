"""dashboard.stats.comparison against published R output and hand calculations.

Published references (R survival package output printed in public sources):

* ``coxph(Surv(time, status) ~ sex, data = lung)``: coef -0.5310, exp(coef) 0.5880, se(coef)
  0.1672, z -3.176, Pr(>|z|) 0.00149, n = 228, 165 events; "lower .95 0.4237, upper .95 0.816".
  Sources: the Cross Validated question "Get standard error of exponentiated coefficient in cox
  regression" (mirrored at https://imathworks.com/cv/solved-get-standard-error-of-exponentiated-
  coefficient-in-cox-regression) prints the coefficient line and n/events; the tutorial
  "Building a Cox proportional hazards model with the lung dataset" (``l.coxph <- coxph(...)``;
  copy in the Nemotron-CC-Math web corpus) prints the same line with the interval
  0.4237 to 0.816, Wald test 10.09, p = 0.001491.
* ``coxph(SurvObj ~ strata(age) + sex, data = lung)``: coefficient -0.64471, vcov 0.0449369.
  Source: Stack Overflow question 45884583 "Parameter estimates and variance for stratified
  variables in Cox regression (strata / survival package)", mirrored at techqa.club.
* ``coxph(Surv(time, status) ~ x, data = aml)``: xNonmaintained coef 0.9155, exp(coef) 2.4981,
  se(coef) 0.5119, z 1.788, p 0.0737, n = 23, 18 events (several R course notes print it, e.g.
  the "Survival" sections of the Rmarkdown courses "01_regression" and "04_advanced_factors").
  The aml data (Miller 1997) are R's ``survival::aml``: Rdatasets' leukemia.csv (curran/data,
  Rdatasets/csv/survival/leukemia.csv).
* ``summary(survfit(Surv(t, d) ~ drug, data = example7a))`` where example7a is the aml data
  (drug = 1 Maintained, 11 patients; drug = 0 Nonmaintained, 12): the survival and std.err
  columns below. Source: A. Vickers' statistics course, week 7
  (github.com/emilyvertosick/Statistics-Course, docs/07-week7.md), which also reports the Cox
  HR for drug as 0.40 (95% CI 0.15, 1.09), p = 0.074.

R's ``std.err`` in ``summary.survfit`` is "the standard error of the survival value"
(summary.survfit help page), i.e. Greenwood's S(t) sqrt(sum d / (n (n - d))).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from lifelines.datasets import load_lung
from scipy.stats import norm

from dashboard.stats.comparison import cox_hazard_ratio, noninferiority_z, survival_difference

Z975 = float(norm.ppf(0.975))

# R's survival::aml (weeks); x = Maintained / Nonmaintained.
AML = pd.DataFrame(
    {
        "time": [9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161, 5, 5, 8, 8, 12, 16, 23, 27, 30, 33, 43, 45],
        "status": [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1],
        "x": ["Maintained"] * 11 + ["Nonmaintained"] * 12,
    }
)
MAINTAINED = AML[AML.x == "Maintained"]
NONMAINTAINED = AML[AML.x == "Nonmaintained"]

# summary(survfit(...)) rows: (time, survival, std.err) as printed (docs/07-week7.md).
PUBLISHED_MAINTAINED = [
    (9, "0.909", "0.0867"),
    (13, "0.818", "0.1163"),
    (18, "0.716", "0.1397"),
    (23, "0.614", "0.1526"),
    (31, "0.491", "0.1642"),
    (34, "0.368", "0.1627"),
    (48, "0.184", "0.1535"),
]
PUBLISHED_NONMAINTAINED = [
    (5, "0.8333", "0.1076"),
    (8, "0.6667", "0.1361"),
    (12, "0.5833", "0.1423"),
    (23, "0.4861", "0.1481"),
    (27, "0.3889", "0.1470"),
    (30, "0.2917", "0.1387"),
    (33, "0.1944", "0.1219"),
    (43, "0.0972", "0.0919"),
]


def _aml_difference(at, alpha=0.05):
    return survival_difference(
        MAINTAINED.time, MAINTAINED.status, NONMAINTAINED.time, NONMAINTAINED.status, at, alpha=alpha
    )


def _printed(text: str):
    """The printed value and half a unit in its last printed digit (R rounds, not truncates)."""
    decimals = len(text.split(".")[1]) if "." in text else 0
    return pytest.approx(float(text), abs=0.5 * 10**-decimals + 1e-12)


# --------------------------------------------------------------------- survival difference


def test_greenwood_by_hand_on_a_tiny_example():
    # Arm A: deaths at 2 (7 at risk), 3 (6 at risk; the subject censored at 3 is still at risk)
    # and 5 (4 at risk); censored at 3, 6, 9. At t = 7:
    s_a = Fraction(6, 7) * Fraction(5, 6) * Fraction(3, 4)  # 15/28
    g_a = Fraction(1, 7 * 6) + Fraction(1, 6 * 5) + Fraction(1, 4 * 3)
    # Arm B: deaths at 1 (6 at risk), two at 4 (4 at risk) and one at 7 (2 at risk): the death
    # at exactly t = 7 counts (R's summary(..., times = 7) is right-continuous).
    s_b = Fraction(5, 6) * Fraction(2, 4) * Fraction(1, 2)  # 5/24
    g_b = Fraction(1, 6 * 5) + Fraction(2, 4 * 2) + Fraction(1, 2 * 1)
    se_a = float(s_a) * math.sqrt(g_a)
    se_b = float(s_b) * math.sqrt(g_b)
    se = math.sqrt(se_a**2 + se_b**2)

    res = survival_difference(
        [2, 3, 3, 5, 6, 8, 9], [1, 1, 0, 1, 0, 1, 0], [1, 2, 4, 4, 7, 10], [1, 0, 1, 1, 1, 0], at=7
    )
    assert res["estimable"] is True and res["reason"] is None
    assert res["survival_a"] == pytest.approx(float(s_a), abs=1e-12)
    assert res["survival_b"] == pytest.approx(float(s_b), abs=1e-12)
    assert res["se_a"] == pytest.approx(se_a, rel=1e-12)
    assert res["se_b"] == pytest.approx(se_b, rel=1e-12)
    assert res["difference"] == pytest.approx(float(s_a - s_b), abs=1e-12)
    assert res["se"] == pytest.approx(se, rel=1e-12)
    assert res["lower"] == pytest.approx(float(s_a - s_b) - Z975 * se, rel=1e-12)
    assert res["upper"] == pytest.approx(float(s_a - s_b) + Z975 * se, rel=1e-12)
    assert res["lower_one_sided"] == res["lower"] and res["one_sided_alpha"] == 0.025
    assert (res["at_risk_a"], res["at_risk_b"]) == (2, 2)  # observed time >= 7


@pytest.mark.parametrize(("at", "survival", "std_err"), PUBLISHED_MAINTAINED)
def test_arm_a_survival_and_std_err_match_r_for_aml_maintained(at, survival, std_err):
    res = _aml_difference(at)
    assert res["survival_a"] == _printed(survival)
    assert res["se_a"] == _printed(std_err)


@pytest.mark.parametrize(("at", "survival", "std_err"), PUBLISHED_NONMAINTAINED)
def test_arm_b_survival_and_std_err_match_r_for_aml_nonmaintained(at, survival, std_err):
    res = _aml_difference(at)
    assert res["survival_b"] == _printed(survival)
    assert res["se_b"] == _printed(std_err)


def test_difference_at_30_weeks_follows_from_the_published_r_columns():
    # At 30 weeks R prints Maintained 0.614 (std.err 0.1526, its value since week 23) and
    # Nonmaintained 0.2917 (std.err 0.1387): difference 0.3223, se sqrt(0.1526^2 + 0.1387^2).
    res = _aml_difference(30)
    published_se = math.hypot(0.1526, 0.1387)
    assert res["difference"] == pytest.approx(0.614 - 0.2917, abs=5e-4 + 5e-5)
    assert res["se"] == pytest.approx(published_se, abs=1e-4)
    assert res["lower"] == pytest.approx(0.614 - 0.2917 - Z975 * published_se, abs=1e-3)
    assert res["upper"] == pytest.approx(0.614 - 0.2917 + Z975 * published_se, abs=1e-3)
    assert (res["at_risk_a"], res["at_risk_b"]) == (5, 4)  # R: n.risk 5 at week 31, 4 at week 30


def test_beyond_the_longest_follow_up_of_either_arm_is_not_estimable():
    # Nonmaintained is followed to week 45; at week 48 only Maintained is estimable (0.184).
    res = _aml_difference(48)
    assert res["estimable"] is False
    assert res["difference"] is None and res["se"] is None
    assert res["lower"] is None and res["upper"] is None and res["lower_one_sided"] is None
    assert res["survival_b"] is None and res["se_b"] is None and res["at_risk_b"] == 0
    assert res["survival_a"] == pytest.approx(0.184, abs=5e-4)
    assert "arm B" in res["reason"] and "follow-up" in res["reason"]
    # ... and likewise with the arms swapped
    swapped = survival_difference(NONMAINTAINED.time, NONMAINTAINED.status, MAINTAINED.time, MAINTAINED.status, 48)
    assert swapped["estimable"] is False and swapped["survival_a"] is None
    assert "arm A" in swapped["reason"]


def test_survival_zero_has_no_greenwood_error():
    # Nonmaintained's last subject dies at week 45: R prints survival 0, std.err NaN.
    res = _aml_difference(45)
    assert res["survival_b"] == 0.0 and res["se_b"] is None
    assert res["estimable"] is False and res["difference"] is None
    assert "survival is 0" in res["reason"]


def test_swapping_the_arms_negates_the_difference():
    ab, ba = (
        _aml_difference(23),
        survival_difference(NONMAINTAINED.time, NONMAINTAINED.status, MAINTAINED.time, MAINTAINED.status, 23),
    )
    assert ba["difference"] == pytest.approx(-ab["difference"], abs=1e-15)
    assert ba["se"] == pytest.approx(ab["se"], rel=1e-15)
    assert ba["lower"] == pytest.approx(-ab["upper"], abs=1e-12)


def test_alpha_sets_the_width():
    wide, narrow = _aml_difference(30, alpha=0.05), _aml_difference(30, alpha=0.10)
    assert narrow["se"] == wide["se"]
    assert narrow["lower"] == pytest.approx(narrow["difference"] - norm.ppf(0.95) * narrow["se"])
    assert narrow["lower"] > wide["lower"] and narrow["one_sided_alpha"] == 0.05


def test_no_events_before_the_landmark_gives_zero_error():
    res = survival_difference([10, 20, 30], [0, 1, 1], [15, 25], [1, 0], at=5)
    assert (res["survival_a"], res["survival_b"]) == (1.0, 1.0)
    assert (res["se_a"], res["se_b"], res["se"]) == (0.0, 0.0, 0.0)
    assert res["estimable"] is True and res["lower"] == res["upper"] == 0.0
    assert noninferiority_z(res["difference"], res["se"], 0.12) == math.inf


def test_boolean_events_and_arrays_are_accepted():
    as_int = _aml_difference(30)
    as_bool = survival_difference(
        MAINTAINED.time.to_numpy(float),
        MAINTAINED.status.to_numpy(bool),
        list(NONMAINTAINED.time),
        NONMAINTAINED.status.astype(bool),
        30,
    )
    assert as_bool["difference"] == as_int["difference"] and as_bool["se"] == as_int["se"]


def test_an_empty_arm_is_not_estimable_rather_than_an_error():
    res = survival_difference([], [], NONMAINTAINED.time, NONMAINTAINED.status, 30)
    assert res["estimable"] is False and res["difference"] is None
    assert res["survival_b"] == pytest.approx(0.2917, abs=5e-5)
    assert "arm A has no subjects" in res["reason"]


@pytest.mark.parametrize("at", [-1, float("nan"), float("inf")])
def test_invalid_landmarks_are_refused(at):
    with pytest.raises(ValueError, match="at must be"):
        _aml_difference(at)


def test_invalid_alpha_and_data_are_refused():
    with pytest.raises(ValueError, match="alpha"):
        _aml_difference(30, alpha=1.5)
    with pytest.raises(ValueError, match="missing"):
        survival_difference([1, np.nan], [1, 0], [1, 2], [1, 1], 1)
    with pytest.raises(ValueError, match="0 \\(censored\\) or 1"):
        survival_difference([1, 2], [1, 2], [1, 2], [1, 1], 1)


# --------------------------------------------------------------------- non-inferiority z


def test_noninferiority_z_by_hand():
    assert noninferiority_z(-0.05, 0.035, 0.12) == pytest.approx(2.0)
    assert noninferiority_z(-0.12, 0.05, 0.12) == 0.0
    assert noninferiority_z(-0.20, 0.04, 0.12) == pytest.approx(-2.0)


def test_noninferiority_z_agrees_with_the_one_sided_bound():
    """z > z_{1 - alpha/2} exactly when the one-sided lower bound clears -margin."""
    res = _aml_difference(30)  # difference 0.322, se 0.206
    for margin in (0.05, 0.08, 0.0827, 0.085, 0.12, 0.3):
        z = noninferiority_z(res["difference"], res["se"], margin)
        assert (z > Z975) == (res["lower_one_sided"] > -margin)


def test_noninferiority_z_passes_through_not_estimable_and_checks_its_inputs():
    assert noninferiority_z(None, None, 0.12) is None
    assert noninferiority_z(0.1, None, 0.12) is None
    assert noninferiority_z(-0.2, 0.0, 0.12) == -math.inf
    assert math.isnan(noninferiority_z(-0.12, 0.0, 0.12))
    with pytest.raises(ValueError, match="probability scale"):
        noninferiority_z(-0.05, 0.03, 12)
    with pytest.raises(ValueError, match="probability scale"):
        noninferiority_z(-0.05, 0.03, 0)
    with pytest.raises(ValueError, match="se must be"):
        noninferiority_z(-0.05, -0.03, 0.12)


# --------------------------------------------------------------------- Cox hazard ratio


@pytest.fixture(scope="module")
def lung():
    return load_lung()  # status already 0/1; sex 1 = male, 2 = female


def test_lung_sex_matches_r(lung):
    res = cox_hazard_ratio(lung, "time", "status", "sex", experimental=2)
    assert res["log_hr"] == pytest.approx(-0.5310, abs=5e-5)
    assert res["hazard_ratio"] == pytest.approx(0.5880, abs=5e-5)
    assert res["se"] == pytest.approx(0.1672, abs=5e-5)
    assert res["z"] == pytest.approx(-3.176, abs=5e-4)
    assert res["p"] == pytest.approx(0.00149, abs=5e-6)
    assert res["lower"] == pytest.approx(0.4237, abs=5e-5)
    assert res["upper"] == pytest.approx(0.816, abs=5e-4)
    assert res["z"] ** 2 == pytest.approx(10.09, abs=5e-3)  # R's Wald test
    assert (res["n"], res["events"], res["dropped"]) == (228, 165, 0)
    assert (res["experimental"], res["reference"], res["stratified_by"]) == (2, 1, [])
    assert res["events_experimental"] + res["events_reference"] == 165
    assert res["reason"] is None


def test_lung_stratified_by_age_matches_r(lung):
    # coxph(SurvObj ~ strata(age) + sex, data = lung): coefficient -0.64471, variance 0.0449369.
    res = cox_hazard_ratio(lung, "time", "status", "sex", 2, strata=["age"])
    assert res["log_hr"] == pytest.approx(-0.64471, abs=5e-6)
    assert res["se"] ** 2 == pytest.approx(0.0449369, abs=5e-8)
    assert res["stratified_by"] == ["age"] and res["dropped"] == 0


def test_aml_with_tied_deaths_matches_r_efron():
    # Deaths tie at weeks 5, 8 and 23; R's default (Efron) gives 0.9155 (se 0.5119).
    res = cox_hazard_ratio(AML, "time", "status", "x", "Nonmaintained")
    assert res["log_hr"] == pytest.approx(0.9155, abs=5e-5)
    assert res["hazard_ratio"] == pytest.approx(2.4981, abs=5e-5)
    assert res["se"] == pytest.approx(0.5119, abs=5e-5)
    assert res["z"] == pytest.approx(1.788, abs=5e-4)
    assert res["p"] == pytest.approx(0.0737, abs=5e-5)
    assert (res["n"], res["events"]) == (23, 18)
    # With Maintained as the experimental arm: HR 0.40 (0.15, 1.09), p = 0.074 (Vickers, week 7).
    inverse = cox_hazard_ratio(AML, "time", "status", "x", "Maintained")
    assert inverse["hazard_ratio"] == pytest.approx(0.40, abs=5e-3)
    assert (inverse["lower"], inverse["upper"]) == (pytest.approx(0.15, abs=5e-3), pytest.approx(1.09, abs=5e-3))
    assert inverse["p"] == pytest.approx(0.074, abs=5e-4)
    assert inverse["log_hr"] == pytest.approx(-res["log_hr"], abs=1e-9)


def test_missing_strata_are_dropped_and_counted(lung):
    assert lung["ph.ecog"].isna().sum() == 1
    res = cox_hazard_ratio(lung, "time", "status", "sex", 2, strata=["ph.ecog"])
    assert (res["dropped"], res["n"], res["events"]) == (1, 227, 164)
    complete = cox_hazard_ratio(lung.dropna(subset=["ph.ecog"]), "time", "status", "sex", 2, strata=["ph.ecog"])
    assert complete["log_hr"] == pytest.approx(res["log_hr"], abs=1e-10) and complete["dropped"] == 0
    unstratified = cox_hazard_ratio(lung.dropna(subset=["ph.ecog"]), "time", "status", "sex", 2)
    assert abs(res["log_hr"] - unstratified["log_hr"]) > 1e-3


def test_one_stratum_is_the_unstratified_fit(lung):
    data = lung.assign(site="only")
    res = cox_hazard_ratio(data, "time", "status", "sex", 2, strata=["site"])
    plain = cox_hazard_ratio(lung, "time", "status", "sex", 2)
    for key in ("log_hr", "se", "lower", "upper", "p"):
        assert res[key] == pytest.approx(plain[key], rel=1e-8)


def _confounded_trial() -> pd.DataFrame:
    """Two strata with identical event times in both arms (within-stratum HR exactly 1); the
    high-hazard stratum is 3:1 experimental, the low-hazard one 1:3."""
    rows = []
    for stratum, times, exp_copies, ref_copies in (("high", range(1, 11), 3, 1), ("low", range(11, 21), 1, 3)):
        for t in times:
            rows += [(t, 1, "E", stratum)] * exp_copies + [(t, 1, "R", stratum)] * ref_copies
    return pd.DataFrame(rows, columns=["days", "dead", "arm", "risk"])


def test_stratifying_removes_confounding_in_the_expected_direction():
    trial = _confounded_trial()
    crude = cox_hazard_ratio(trial, "days", "dead", "arm", "E")
    stratified = cox_hazard_ratio(trial, "days", "dead", "arm", "E", strata=["risk"])
    # Experimental subjects sit in the high-hazard stratum, so the crude HR exceeds 1; within
    # each stratum the risk sets keep a constant arm ratio, so Efron's score is 0 at beta = 0.
    assert crude["hazard_ratio"] > 1.5
    assert stratified["log_hr"] == pytest.approx(0.0, abs=1e-9)
    assert stratified["p"] == pytest.approx(1.0, abs=1e-9)


def test_two_strata_columns_equal_their_combination():
    trial = _confounded_trial()
    trial["site"] = np.where(trial.index % 3 == 0, "S1", "S2")
    trial["days"] = trial["days"].astype(float)
    trial.loc[trial.index % 2 == 0, "days"] += 0.5  # break the exact balance
    two = cox_hazard_ratio(trial, "days", "dead", "arm", "E", strata=["risk", "site"])
    combined = cox_hazard_ratio(
        trial.assign(both=trial.risk + "/" + trial.site), "days", "dead", "arm", "E", strata=["both"]
    )
    assert two["log_hr"] == pytest.approx(combined["log_hr"], rel=1e-10)
    assert two["stratified_by"] == ["risk", "site"]


def _degenerate(df, **kwargs):
    res = cox_hazard_ratio(df, "t", "e", "arm", "E", **kwargs)
    for key in ("hazard_ratio", "lower", "upper", "log_hr", "se", "z", "p"):
        assert res[key] is None
    return res


def test_no_events_in_an_arm_is_not_estimable():
    df = pd.DataFrame({"t": [1, 2, 3, 4, 5, 6, 7, 8], "e": [1, 1, 1, 0, 0, 0, 0, 0], "arm": ["R"] * 4 + ["E"] * 4})
    res = _degenerate(df)
    assert "no events in arm 'E'" in res["reason"]
    assert (res["events"], res["events_experimental"], res["events_reference"]) == (3, 0, 3)


def test_no_events_at_all_is_not_estimable():
    df = pd.DataFrame({"t": [1, 2, 3, 4], "e": [0, 0, 0, 0], "arm": ["R", "E", "R", "E"]})
    assert _degenerate(df)["reason"] == "no events"


def test_a_single_arm_is_not_estimable():
    df = pd.DataFrame({"t": [1, 2, 3], "e": [1, 0, 1], "arm": ["E", "E", "E"]})
    res = _degenerate(df)
    assert "only one arm" in res["reason"] and res["reference"] is None


def test_deaths_never_sharing_a_risk_set_are_not_estimable():
    # Reference deaths at 1 and 2 while everyone is at risk; experimental deaths at 5 and 6, after
    # the last reference subject left at 3: the partial likelihood keeps rising as HR -> 0.
    df = pd.DataFrame({"t": [1, 2, 3, 4, 5, 6], "e": [1, 1, 0, 0, 1, 1], "arm": ["R", "R", "R", "E", "E", "E"]})
    assert "monotone likelihood" in _degenerate(df)["reason"]
    # Each stratum holding a single arm leaves nothing to compare.
    df = pd.DataFrame({"t": [1, 2, 3, 4], "e": [1, 1, 1, 1], "arm": ["R", "R", "E", "E"], "s": ["a", "a", "b", "b"]})
    assert "within a stratum" in _degenerate(df, strata=["s"])["reason"]


def test_all_strata_missing_is_not_estimable():
    df = pd.DataFrame({"t": [1, 2], "e": [1, 1], "arm": ["R", "E"], "s": [None, np.nan]})
    res = _degenerate(df, strata=["s"])
    assert res["dropped"] == 2 and res["n"] == 0


def test_empty_data_is_not_estimable():
    df = pd.DataFrame({"t": [], "e": [], "arm": []})
    assert _degenerate(df)["reason"] == "no subjects"


def test_boolean_events_and_string_strata_work(lung):
    data = lung.assign(dead=lung.status.astype(bool), ecog=lung["ph.ecog"].map({0: "0", 1: "1", 2: "2", 3: "3"}))
    as_bool = cox_hazard_ratio(data, "time", "dead", "sex", 2, strata=["ecog"])
    as_float = cox_hazard_ratio(lung, "time", "status", "sex", 2, strata=["ph.ecog"])
    assert as_bool["log_hr"] == pytest.approx(as_float["log_hr"], rel=1e-10)
    assert as_bool["dropped"] == 1


def test_bad_inputs_are_refused(lung):
    with pytest.raises(KeyError, match="nope"):
        cox_hazard_ratio(lung, "time", "status", "sex", 2, strata=["nope"])
    with pytest.raises(ValueError, match="not one of"):
        cox_hazard_ratio(lung, "time", "status", "sex", 3)
    three = pd.DataFrame({"t": [1, 2, 3], "e": [1, 1, 1], "arm": ["A", "B", "C"]})
    with pytest.raises(ValueError, match="a hazard ratio needs two"):
        cox_hazard_ratio(three, "t", "e", "arm", "A")
    no_arm = pd.DataFrame({"t": [1, 2, 3], "e": [1, 1, 1], "arm": ["A", None, "B"]})
    with pytest.raises(ValueError, match="no arm"):
        cox_hazard_ratio(no_arm, "t", "e", "arm", "A")
    no_time = pd.DataFrame({"t": [1, np.nan, 3], "e": [1, 1, 1], "arm": ["A", "B", "B"]})
    with pytest.raises(ValueError, match="missing"):
        cox_hazard_ratio(no_time, "t", "e", "arm", "A")
    with pytest.raises(ValueError, match="alpha"):
        cox_hazard_ratio(lung, "time", "status", "sex", 2, alpha=0)
