"""Edge cases of dashboard.stats found by mutation testing: the boundaries of each rule (a date on
the cut-off, one subject, a landmark at 0, the last look), the texts the pages quote, and the
defensive paths. Every expected value is worked out by hand in a comment or taken from a
published reference; none comes from calling the function under test again."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy import integrate
from scipy.stats import norm

from dashboard.stats import accrual, comparison
from dashboard.stats.comparison import cox_hazard_ratio, noninferiority_z, survival_difference
from dashboard.stats.groupseq import boundaries, crossing_probabilities, drift_current_trend, spending
from dashboard.stats.rates import funnel_flags, funnel_limits, proportion_ci
from dashboard.stats.survival import kaplan_meier

START = date(2026, 1, 1)
DPM = 30.4375  # export spec section 5: a month is 30.4375 days (trial.toml days_per_month)


def project(dates, cutoff, target, planned_months, **kw):
    return accrual.project_completion(dates, START, cutoff, target, planned_months, days_per_month=DPM, **kw)


def _dates(n: int, every: int = 3) -> list[date]:
    return [START + timedelta(days=every * i) for i in range(n)]


# =============================================================================== accrual


def test_a_randomization_dated_on_the_cutoff_is_counted():
    cutoff = START + timedelta(days=20)
    dates = [START, START + timedelta(days=10), cutoff]
    out = project(dates, cutoff, 10, 12)
    assert out["randomized"] == 3
    assert out["ignored_after_cutoff"] == 0
    # one day later is after the cut-off: not counted, and counted as ignored
    out = project([*dates, cutoff + timedelta(days=1)], cutoff, 10, 12)
    assert out["randomized"] == 3
    assert out["ignored_after_cutoff"] == 1


def test_the_model_text_quotes_the_planned_and_posterior_rates():
    # target 120 in 24 months, 60 randomized every 3 days from 2026-01-01 (the last on day 177),
    # cut-off on day 180 = 2026-06-30 (Jan 31 + Feb 28 + Mar 31 + Apr 30 + May 31 = 151 days to
    # June 1, + 29). Prior worth 3 months: d0 = 3 * 30.4375 = 91.3125 days,
    # a0 = 120 / (24 * 30.4375) * 91.3125 = 120 * 3 / 24 = 15, b0 = 91.3125.
    # Posterior a = 15 + 60 = 75, b = 91.3125 + 180 = 271.3125; mean rate per month
    # 75 / 271.3125 * 30.4375 = 2282.8125 / 271.3125 = 8.414 -> "8.4"; planned 120 / 24 = 5.0.
    cutoff = START + timedelta(days=180)
    assert cutoff == date(2026, 6, 30)
    out = project(_dates(60), cutoff, 120, 24, prior_weight_months=3.0)
    assert out["model"] == (
        "Randomizations are modelled as a Poisson process with a constant rate per day. "
        "Prior: Gamma(shape 15.00, rate 91.3 days), centred on the planned "
        "120 patients in 24 months (5.0/month) "
        "and worth 3 months of observation. "
        "Posterior after 60 randomized in 180 days since the first site activation: "
        "Gamma(75.00, 271.3), mean 8.4/month. "
        "Given the rate, the time to the remaining 60 randomizations is Gamma(60, rate); "
        "over the posterior it is 271.3 x BetaPrime(60, 75.00) days after the "
        "2026-06-30 cut-off. Shown: its median and central 90% prediction interval "
        "(Poisson-gamma accrual model, cf. Gajewski, Simon & Carlson 2008). "
        "A constant rate does not foresee sites opening or closing."
    )
    assert out["rate_per_month"] == pytest.approx(2282.8125 / 271.3125, rel=1e-12)
    assert out["expected_monthly"] == 5.0
    # observed: 60 / 180 * 30.4375 = 10.1458333...
    assert out["observed_monthly"] == pytest.approx(60 * 30.4375 / 180, rel=1e-12)


def test_the_default_prior_is_worth_three_months():
    # as above without prior_weight_months: a = 120 * 3 / 24 + 60 = 75, b = 3 * 30.4375 + 180
    out = project(_dates(60), START + timedelta(days=180), 120, 24)
    assert out["posterior_shape"] == pytest.approx(75.0, rel=1e-12)
    assert out["posterior_rate_days"] == 271.3125


def test_no_prior_and_one_randomization_projects_without_a_mean():
    # prior 0, n = 1 in T = 38 days: a = 1, b = 38, R = 2 - 1 = 1. The waiting time is
    # b * BetaPrime(1, 1), whose CDF is x / (1 + x): median x = 1, 5% quantile x = 0.05 / 0.95
    # = 1/19, 95% quantile x = 19; so 38, 2 and 722 days. The mean needs a > 1: None.
    cutoff = START + timedelta(days=38)
    out = project([START + timedelta(days=5)], cutoff, 2, 12, prior_weight_months=0.0, level=0.90)
    assert out["posterior_shape"] == 1.0 and out["posterior_rate_days"] == 38.0
    assert out["mean_days"] is None
    assert out["median_days"] == pytest.approx(38.0, rel=1e-9)
    assert out["lower_days"] == pytest.approx(2.0, rel=1e-9)
    assert out["upper_days"] == pytest.approx(722.0, rel=1e-9)
    assert out["completion_date"] == cutoff + timedelta(days=38)


def test_no_prior_and_two_randomizations_gives_the_mean():
    # prior 0, n = 2 in T = 30 days: a = 2, b = 30, R = 3 - 2 = 1. Mean b R / (a - 1) = 30 days.
    # Median of b * BetaPrime(1, 2) (CDF 1 - (1 + x)^-2): x = sqrt(2) - 1, 12.43 days.
    cutoff = START + timedelta(days=30)
    out = project([START, START + timedelta(days=7)], cutoff, 3, 12, prior_weight_months=0.0)
    assert out["mean_days"] == pytest.approx(30.0, rel=1e-12)
    assert out["median_days"] == pytest.approx(30.0 * (math.sqrt(2.0) - 1.0), rel=1e-9)


def test_one_day_of_exposure_gives_the_monthly_rates():
    # cut-off one day after start, prior 0, 2 randomizations: b = T = 1 day, so the posterior
    # mean and the observed rate are both 2 / 1 * 30.4375 = 60.875 a month
    out = project([START, START + timedelta(days=1)], START + timedelta(days=1), 5, 12, prior_weight_months=0.0)
    assert out["posterior_rate_days"] == 1.0
    assert out["rate_per_month"] == 60.875
    assert out["observed_monthly"] == 60.875


@pytest.mark.parametrize(
    ("k", "text"),
    [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (12, "12th"), (13, "13th")]
    + [(21, "21st"), (22, "22nd"), (23, "23rd"), (101, "101st"), (111, "111th"), (112, "112th"), (121, "121st")],
)
def test_the_target_reached_text_uses_english_ordinals(k, text):
    # k randomizations one a day from 2026-01-01: the k-th is on day k - 1; cut-off on day 200
    cutoff = START + timedelta(days=200)
    out = project(_dates(k, every=1), cutoff, k, 12)
    reached = START + timedelta(days=k - 1)
    assert out["model"] == (
        f"Target reached: the {text} randomization was on {reached.isoformat()} "
        f"({k} randomized by the 2026-07-20 cut-off); nothing to project."
    )
    assert out["completion_date"] == out["lower"] == out["upper"] == reached


def test_the_smallest_valid_target_and_a_half_month_plan_are_accepted():
    # target 1 in 0.5 months, prior 3 months, nobody yet: a0 = 1 * 3 / 0.5 = 6, planned 2/month
    out = project([], START + timedelta(days=10), 1, 0.5)
    assert out["posterior_shape"] == pytest.approx(6.0, rel=1e-12)
    assert out["posterior_rate_days"] == 91.3125 + 10
    assert out["expected_monthly"] == 2.0
    assert out["remaining"] == 1


@pytest.mark.parametrize("level", [0.0, 1.0])
def test_a_level_of_zero_or_one_is_refused(level):
    with pytest.raises(ValueError, match=f"level must be strictly between 0 and 1, got {level}"):
        project([], START + timedelta(days=10), 10, 12, level=level)


def test_project_completion_refuses_bad_plans():
    cutoff = START + timedelta(days=10)
    with pytest.raises(ValueError, match="target must be a positive integer, got 0"):
        project([], cutoff, 0, 12)
    with pytest.raises(ValueError, match="planned_months must be positive, got 0"):
        project([], cutoff, 10, 0)
    with pytest.raises(ValueError, match="days_per_month must be positive, got 0"):
        accrual.project_completion([], START, cutoff, 10, 12, days_per_month=0)


def test_planned_accrual_of_one_patient_in_half_a_month():
    # months 0 and 0.5: dates start and start + round(0.5 * 30.4375 = 15.22) = 15 days
    out = accrual.planned_accrual(START, 1, 0.5, DPM)
    assert list(out["date"]) == [pd.Timestamp("2026-01-01"), pd.Timestamp("2026-01-16")]
    assert list(out["planned"]) == [0.0, 1.0]


def test_planned_accrual_refuses_bad_plans():
    with pytest.raises(ValueError, match="target must be a positive integer, got 0"):
        accrual.planned_accrual(START, 0, 12, DPM)
    with pytest.raises(ValueError, match="planned_months must be positive, got 0"):
        accrual.planned_accrual(START, 10, 0, DPM)
    with pytest.raises(ValueError, match="days_per_month must be positive, got 0"):
        accrual.planned_accrual(START, 10, 12, 0)


# =============================================================================== rates


def test_a_site_of_one_patient_with_the_event_is_flagged_above():
    # The docstring's example: n = 1, p0 = 0.1, level 0.998, upper quantile prob 0.999.
    # F(0) = 0.9 < 0.999 <= F(1) = 1, so r_p = 1 and a = (1 - 0.999) / P(R = 1) = 0.001 / 0.1
    # = 0.01: the upper limit is 0.99 events. One event lies above it; none lies within.
    assert funnel_limits(0.1, [1], levels=[0.998])["upper_998"].iloc[0] == pytest.approx(0.99, abs=1e-12)
    assert list(funnel_flags([1, 0], [1, 1], 0.1)) == ["above", "within"]


def test_a_site_without_events_is_never_flagged_above():
    # found by mutation testing: funnel_flags compared with the unclipped interpolated upper
    # limit, which is negative when r_p = 0 (a rare event), so a site with no events was "above"
    # p0 = 0.0001, n = 5, level 0.998: F(0) = 0.9999^5 = 0.9995 >= 0.999, so r_p = 0 and the
    # interpolated upper limit is 0 - (0.9995 - 0.999) / 0.9995 = -0.0005 events, plotted as 0
    # (funnel_limits clips it). 0 / 5 = 0 is not strictly above the plotted limit 0, and a site
    # without events cannot be above any rate: it must be "within".
    assert funnel_limits(0.0001, [5], levels=[0.998])["upper_998"].iloc[0] == 0.0
    assert list(funnel_flags([0], [5], 0.0001)) == ["within"]


def test_wilson_upper_limit_is_one_when_every_trial_is_an_event():
    # Wilson at x = n: centre + half = (n + z^2/2 + z * sqrt(z^2/4)) / (n + z^2) = 1 exactly;
    # centre - half = (n + z^2/2 - z^2/2) / (n + z^2) = 5 / (5 + 1.959964^2) = 0.5655175
    z2 = norm.ppf(0.975) ** 2
    observed, lower, upper = proportion_ci(5, 5, method="wilson")
    assert observed == 1.0
    assert upper == 1.0
    assert lower == pytest.approx(5 / (5 + z2), rel=1e-12)
    assert lower == pytest.approx(0.5655175, abs=5e-8)


# =============================================================================== group sequential

# gsDesign(k = 3, test.type = 1, sfu = sfLDOF)$upper$bound, alpha 0.025, looks at 1/3, 2/3, 1
# (gsDesign2 reference for gs_power_rd(), Example 1; https://merck.github.io/gsDesign2/reference/
# gs_power_rd.html): 3.710303 2.511427 1.993048, probability0 0.0001035057 0.0060484866.
K3_T = [1 / 3, 2 / 3, 1.0]
K3_Z = [3.710303, 2.511427, 1.993048]


def _obf_spent(t: float, alpha: float = 0.025) -> float:
    """sfLDOF by hand: 2 - 2 Phi(Phi^-1(1 - alpha/2) / sqrt(t))."""
    return 2.0 * norm.sf(norm.isf(alpha / 2.0) / math.sqrt(t))


def test_spend_all_at_last_changes_only_the_last_look():
    # With the last look at t = 1 the flag changes nothing: gsDesign's bounds, and the spending
    # function's cumulative alpha 2 - 2 Phi(2.241403 / sqrt(t)) with all of alpha at the end.
    rows = boundaries(K3_T, 0.025, spend_all_at_last=True)
    assert [r["z_boundary"] for r in rows] == pytest.approx(K3_Z, abs=5e-7 + 1e-6)
    assert [r["cumulative_alpha"] for r in rows[:2]] == pytest.approx([_obf_spent(1 / 3), _obf_spent(2 / 3)], rel=1e-12)
    assert rows[-1]["cumulative_alpha"] == 0.025
    # Last look early (t = 0.9), this trial's interims 0.5 and 0.75: the first two bounds are
    # gsDesign's for timing (.5, .75, 1) (gsdmvn reference for gs_b(): 2.962588 2.359018; earlier
    # bounds do not depend on later looks), and the last look spends all of alpha = 0.025.
    rows = boundaries([0.5, 0.75, 0.9], 0.025, spend_all_at_last=True)
    assert [r["z_boundary"] for r in rows[:2]] == pytest.approx([2.962588, 2.359018], abs=5e-7 + 1e-6)
    assert [r["cumulative_alpha"] for r in rows] == pytest.approx([_obf_spent(0.5), _obf_spent(0.75), 0.025], rel=1e-12)
    assert rows[-1]["cumulative_alpha"] == 0.025


@pytest.mark.parametrize("kind", ["obrien-fleming", "pocock"])
def test_spending_beyond_full_information_is_alpha(kind):
    # the spending function is constant after t = 1 (gsDesign): alpha*(1.2) = alpha*(2.5) = alpha
    assert spending(1.2, 0.025, kind) == 0.025
    assert list(spending([1.0, 1.2, 2.5], 0.025, kind)) == [0.025, 0.025, 0.025]


def test_current_trend_at_full_information_is_z():
    # theta_hat = z / sqrt(t) = 2.1 / 1 at t = 1, which the docstring allows (0 < t <= 1)
    assert drift_current_trend(2.1, 1.0) == 2.1


def _crossing_by_quadrature(t, c, theta):
    """Cumulative crossing probabilities of 3 looks by adaptive quadrature (scipy quad/dblquad),
    independently of the grid recursion: with B(t) = Z sqrt(t) a Brownian motion with drift theta,
    P1 = P(Z1 >= c1), P2 = int_{z1 < c1} phi(z1 - theta sqrt t1) P(Z2 >= c2 | z1) dz1,
    P3 = int int_{z1 < c1, z2 < c2} f(z1) f(z2 | z1) P(Z3 >= c3 | z2) dz2 dz1 (Jennison & Turnbull
    2000, section 19.2; the canonical joint distribution)."""
    t1, t2, t3 = t
    c1, c2, c3 = c
    d2, d3 = t2 - t1, t3 - t2

    def f1(z1):
        return norm.pdf(z1 - theta * math.sqrt(t1))

    def f21(z2, z1):  # density of Z2 given Z1 = z1
        return math.sqrt(t2 / d2) * norm.pdf((z2 * math.sqrt(t2) - z1 * math.sqrt(t1) - theta * d2) / math.sqrt(d2))

    def exceed2(z1):
        return norm.sf((c2 * math.sqrt(t2) - z1 * math.sqrt(t1) - theta * d2) / math.sqrt(d2))

    def exceed3(z2):
        return norm.sf((c3 * math.sqrt(t3) - z2 * math.sqrt(t2) - theta * d3) / math.sqrt(d3))

    # the lower tails are cut 10 standard deviations below each mean (mass below 1e-23)
    lo1 = theta * math.sqrt(t1) - 10.0
    lo2 = theta * math.sqrt(t2) - 10.0
    p1 = norm.sf(c1 - theta * math.sqrt(t1))
    p2 = integrate.quad(lambda z1: f1(z1) * exceed2(z1), lo1, c1, epsabs=1e-13, epsrel=1e-11)[0]
    p3 = integrate.dblquad(
        lambda z2, z1: f1(z1) * f21(z2, z1) * exceed3(z2), lo1, c1, lo2, c2, epsabs=1e-11, epsrel=1e-10
    )[0]
    return np.cumsum([p1, p2, p3])


def test_the_quadrature_reference_reproduces_gsdesign_under_h0():
    # the reference itself against gsDesign2's probability0 (within its r = 18 grid error, ~1e-7)
    ref = _crossing_by_quadrature(K3_T, K3_Z, 0.0)
    assert ref[:2] == pytest.approx([0.0001035057, 0.0060484866], abs=2e-7)


@pytest.mark.parametrize("theta", [6.0, 8.0])
def test_crossing_probabilities_under_a_large_drift(theta):
    # Published crossing probabilities under a drift are printed to 4 decimals (gsDesign2 article
    # "Computing spending boundaries...", used in test_groupseq.py); a grid centred in the wrong
    # place moves them by about 1e-6 only, so the reference is the quadrature above, to 2e-7.
    # The bounds are gsDesign's (K3_Z), the drift large so that the mass sits far from 0.
    expected = _crossing_by_quadrature(K3_T, K3_Z, theta)
    assert crossing_probabilities(K3_T, K3_Z, theta) == pytest.approx(expected, abs=2e-7)


# =============================================================================== survival


def test_a_landmark_where_survival_is_zero_has_no_limits():
    # everyone dies by day 3: S(3) = 0, where Greenwood's variance is infinite and R reports NA
    # limits; they must be None (JSON null), not NaN
    for conf_type in ("log-log", "log", "plain"):
        lm = kaplan_meier([1, 2, 3], [1, 1, 1], landmarks={"end": 3}, conf_type=conf_type)["landmarks"]["end"]
        assert lm == {"time": 3.0, "survival": 0.0, "lower": None, "upper": None, "at_risk": 1}, conf_type


def test_a_landmark_at_survival_one_has_limits_of_one():
    # before the first event S = 1 and the limits are 1 here (R: NA for log-log; the docstring)
    lm = kaplan_meier([2, 4, 6, 8], [1, 0, 1, 0], landmarks={"early": 1}, conf_type="log-log")["landmarks"]
    assert lm["early"] == {"time": 1.0, "survival": 1.0, "lower": 1.0, "upper": 1.0, "at_risk": 4}


def test_a_landmark_beyond_follow_up_does_not_stop_the_others():
    # "late" (day 10) is beyond the longest follow-up (8); "early" (day 1) comes after it in the
    # dict and must still be estimated: S(1) = 1, 4 at risk. S(5) = 3/4 (one death of 4 at day 2).
    lm = kaplan_meier([2, 4, 6, 8], [1, 0, 1, 0], landmarks={"late": 10, "early": 1, "mid": 5})["landmarks"]
    assert list(lm) == ["late", "early", "mid"]
    assert lm["late"] == {"time": 10.0, "survival": None, "lower": None, "upper": None, "at_risk": 0}
    assert lm["early"]["survival"] == 1.0 and lm["early"]["at_risk"] == 4
    assert lm["mid"]["survival"] == pytest.approx(0.75, rel=1e-12) and lm["mid"]["at_risk"] == 2


# =============================================================================== comparison

COX_KEYS = ("hazard_ratio", "lower", "upper", "log_hr", "se", "z", "p")


def _two_arms() -> pd.DataFrame:
    # six deaths at days 1..6, arms alternating: both arms have events while both are at risk
    return pd.DataFrame(
        {"time": [1, 2, 3, 4, 5, 6], "event": [1, 1, 1, 1, 1, 1], "arm": ["A", "B", "A", "B", "A", "B"]}
    )


class _FakeFit:
    """Stands in for lifelines' CoxPHFitter to reach the defensive paths after the fit."""

    log_hr = math.inf
    se = 0.5
    error: Exception | None = None

    def __init__(self, strata=None, alpha=0.05):
        pass

    def fit(self, data, duration_col, event_col):
        if self.error is not None:
            raise self.error
        self.params_ = pd.Series({"experimental": self.log_hr})
        self.standard_errors_ = pd.Series({"experimental": self.se})
        return self


@pytest.mark.parametrize(
    ("log_hr", "se"), [(math.inf, 0.5), (math.nan, 0.5), (0.3, math.inf), (0.3, math.nan), (0.3, 0.0)]
)
def test_a_cox_fit_without_a_finite_estimate_is_not_estimable(monkeypatch, log_hr, se):
    # Real data cannot get here (separation is refused before the fit: with events of both arms
    # in mixed risk sets the partial likelihood has a finite maximum), so lifelines is replaced
    # by a fit that returns the non-finite estimate.
    fake = type("Fake", (_FakeFit,), {"log_hr": log_hr, "se": se})
    monkeypatch.setattr(comparison, "CoxPHFitter", fake)
    out = cox_hazard_ratio(_two_arms(), "time", "event", "arm", "A")
    assert out["reason"] == "the Cox fit gave no finite estimate"
    assert {k: out[k] for k in COX_KEYS} == dict.fromkeys(COX_KEYS)
    assert (out["n"], out["events"], out["events_experimental"], out["events_reference"]) == (6, 6, 3, 3)


def test_a_cox_fit_that_does_not_converge_is_not_estimable(monkeypatch):
    from lifelines.exceptions import ConvergenceError

    fake = type("Fake", (_FakeFit,), {"error": ConvergenceError("step size too small")})
    monkeypatch.setattr(comparison, "CoxPHFitter", fake)
    out = cox_hazard_ratio(_two_arms(), "time", "event", "arm", "A")
    assert out["reason"] == "the Cox fit did not converge: step size too small"
    assert {k: out[k] for k in COX_KEYS} == dict.fromkeys(COX_KEYS)


def test_the_same_data_with_the_real_fit_is_estimable():
    # control for the two tests above: with lifelines the fit is finite
    out = cox_hazard_ratio(_two_arms(), "time", "event", "arm", "A")
    assert out["reason"] is None
    assert math.isfinite(out["log_hr"]) and out["se"] > 0


def test_cox_on_an_arm_without_events():
    df = pd.DataFrame({"time": [1, 2, 3, 4], "event": [0, 1, 0, 1], "arm": ["A", "B", "A", "B"]})
    out = cox_hazard_ratio(df, "time", "event", "arm", "A")
    assert out["events_experimental"] == 0
    assert out["events_reference"] == 2
    assert out["events"] == 2 and out["n"] == 4
    assert out["reason"] == "no events in arm 'A': the hazard ratio is 0 or infinite"
    assert {k: out[k] for k in COX_KEYS} == dict.fromkeys(COX_KEYS)


def test_cox_without_subjects_reports_zero_counts():
    # nobody: every count is its default 0, the reference arm unknown
    empty = pd.DataFrame({"time": [], "event": [], "arm": []})
    out = cox_hazard_ratio(empty, "time", "event", "arm", "A")
    assert out["reason"] == "no subjects"
    assert (out["n"], out["events"], out["events_experimental"], out["events_reference"], out["dropped"]) == (0,) * 5
    assert out["reference"] is None
    assert {k: out[k] for k in COX_KEYS} == dict.fromkeys(COX_KEYS)
    # subjects, but none with the stratum recorded: dropped 2, used 0
    df = _two_arms().iloc[:2].assign(stratum=[None, None])
    out = cox_hazard_ratio(df, "time", "event", "arm", "A", strata=["stratum"])
    assert out["reason"] == "no subjects with all strata recorded"
    assert (out["n"], out["events"], out["events_experimental"], out["events_reference"], out["dropped"]) == (
        0,
        0,
        0,
        0,
        2,
    )


@pytest.mark.parametrize("empty", ["a", "b"])
def test_survival_difference_with_an_empty_arm(empty):
    # the other arm: days 10, 20, 30, a death at 10; at day 15, S = 2/3 with 2 at risk
    full = ([10, 20, 30], [1, 0, 0])
    args = (([], []), full) if empty == "a" else (full, ([], []))
    out = survival_difference(*args[0], *args[1], at=15)
    other = "b" if empty == "a" else "a"
    assert out["estimable"] is False
    assert out["reason"] == f"arm {empty.upper()} has no subjects"
    assert out[f"at_risk_{empty}"] == 0
    assert out[f"survival_{empty}"] is None and out[f"se_{empty}"] is None
    assert out[f"at_risk_{other}"] == 2
    assert out[f"survival_{other}"] == pytest.approx(2 / 3, rel=1e-12)
    assert out["difference"] is None and out["se"] is None and out["lower"] is None


def test_survival_difference_at_time_zero():
    # at day 0 nobody has died: S = 1 in both arms, Greenwood se 0, difference 0 with a
    # degenerate interval
    out = survival_difference([10, 20], [1, 0], [5, 30], [0, 1], at=0)
    assert out["estimable"] is True and out["reason"] is None
    assert (out["survival_a"], out["survival_b"]) == (1.0, 1.0)
    assert (out["at_risk_a"], out["at_risk_b"]) == (2, 2)
    assert (out["difference"], out["se"], out["lower"], out["upper"]) == (0.0, 0.0, 0.0, 0.0)


@pytest.mark.parametrize("margin", [0.0, 1.0, 12.0])
def test_a_margin_off_the_probability_scale_is_refused(margin):
    with pytest.raises(ValueError, match=r"margin must be on the probability scale, in \(0, 1\)"):
        noninferiority_z(0.0, 0.1, margin)


def test_a_margin_just_inside_the_scale_is_accepted():
    # (difference + margin) / se = (0.02 + 0.12) / 0.05 = 2.8
    assert noninferiority_z(0.02, 0.05, 0.12) == pytest.approx(2.8, rel=1e-12)
