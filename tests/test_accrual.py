"""dashboard.stats.accrual: the Poisson-gamma projection against a seeded Monte Carlo of the two-stage
model and against cases worked by hand; the planned and cumulative curves."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from dashboard.stats import accrual
from dashboard.stats.accrual import cumulative_accrual

START = date(2026, 1, 1)
DPM = 30.4375  # export spec section 5: a month is 30.4375 days (trial.toml days_per_month)


def project_completion(*args, **kw):
    return accrual.project_completion(*args, days_per_month=kw.pop("days_per_month", DPM), **kw)


def planned_accrual(start, target, planned_months, days_per_month=DPM):
    return accrual.planned_accrual(start, target, planned_months, days_per_month)


def _dates(n: int, every: int = 3, first: date = START) -> list[date]:
    return [first + timedelta(days=every * i) for i in range(n)]


# --------------------------------------------------------------------------- Monte Carlo


@pytest.mark.parametrize(
    ("n", "exposure", "target", "prior_weight"),
    [
        (120, 500, 356, 3.0),  # Neo-Margin-like: a = 35.6 + 120, b = 91.3125 + 500, R = 236
        (8, 60, 11, 0.0),  # few data, no prior: a = 8, b = 60, R = 3 (a skewed, heavy tail)
    ],
)
def test_betaprime_quantiles_agree_with_a_monte_carlo_of_the_two_stage_model(n, exposure, target, prior_weight):
    cutoff = START + timedelta(days=exposure)
    out = project_completion(
        _dates(n, every=max(1, exposure // max(n, 1))),
        START,
        cutoff,
        target,
        planned_months=30,
        prior_weight_months=prior_weight,
        level=0.90,
    )
    a, b, remaining = out["posterior_shape"], out["posterior_rate_days"], out["remaining"]
    a0 = target / (30 * DPM) * prior_weight * DPM
    assert a == pytest.approx(a0 + n)
    assert b == pytest.approx(prior_weight * DPM + exposure)
    assert remaining == target - n

    # Two stages, as the model is stated: lambda ~ Gamma(a, rate b), then the time to R more
    # randomizations ~ Gamma(R, rate lambda). 200,000 seeded draws.
    rng = np.random.default_rng(20260101)
    draws = 200_000
    lam = rng.gamma(shape=a, scale=1.0 / b, size=draws)
    waits = rng.gamma(shape=remaining, scale=1.0 / lam)

    marginal = stats.betaprime(remaining, a, scale=b)  # used only for the sampling error
    for q, key in [(0.05, "lower_days"), (0.5, "median_days"), (0.95, "upper_days")]:
        x_q = out[key]
        # standard error of a sample quantile: sqrt(q(1-q)/N) / density at the quantile
        se = math.sqrt(q * (1 - q) / draws) / marginal.pdf(x_q)
        assert np.quantile(waits, q) == pytest.approx(x_q, abs=4 * se), key
    assert waits.mean() == pytest.approx(out["mean_days"], abs=4 * waits.std() / math.sqrt(draws))

    # the dates are the cut-off plus the waiting time rounded up to whole days
    assert out["completion_date"] == cutoff + timedelta(days=math.ceil(out["median_days"]))
    assert out["lower"] == cutoff + timedelta(days=math.ceil(out["lower_days"]))
    assert out["upper"] == cutoff + timedelta(days=math.ceil(out["upper_days"]))
    assert out["lower"] <= out["completion_date"] <= out["upper"]


# --------------------------------------------------------------------------- worked by hand


def test_hand_computed_mean_with_no_prior_weight():
    # 100 randomized in T = 300 days, target 200, prior weight 0: posterior Gamma(a = 100, b = 300).
    # R = 100 to go; T_R | lambda ~ Gamma(100, lambda), so E[T_R] = E[R / lambda] = R * b / (a - 1)
    # = 100 * 300 / 99 = 303.03 days, which is b times the mean of BetaPrime(R, a), R / (a - 1).
    cutoff = START + timedelta(days=300)
    out = project_completion(_dates(100), START, cutoff, 200, planned_months=30, prior_weight_months=0)
    assert out["randomized"] == 100 and out["remaining"] == 100
    assert (out["posterior_shape"], out["posterior_rate_days"]) == (100, 300)
    assert out["mean_days"] == pytest.approx(100 * 300 / 99, rel=1e-12)
    assert 300 * stats.betaprime(100, 100).mean() == pytest.approx(100 * 300 / 99, rel=1e-12)
    assert out["rate_per_month"] == pytest.approx(100 / 300 * DPM, rel=1e-12)
    assert out["observed_monthly"] == pytest.approx(100 / 300 * DPM, rel=1e-12)
    assert out["expected_monthly"] == pytest.approx(200 / 30)
    # BetaPrime(100, 100) is right-skewed: the median lies below the mean, by under 2%
    assert 0.98 * out["mean_days"] < out["median_days"] < out["mean_days"]


def test_one_remaining_has_a_closed_form():
    # R = 1: P(T_1 > t) = E[exp(-lambda t)] = (b / (b + t))**a (a Lomax law), so the q-quantile is
    # b * ((1 - q)**(-1/a) - 1). Here a = 99 (99 randomized, no prior weight), b = 300 days.
    cutoff = START + timedelta(days=300)
    out = project_completion(_dates(99), START, cutoff, 100, planned_months=30, prior_weight_months=0, level=0.80)
    a, b = 99, 300

    def quantile(q):
        return b * ((1 - q) ** (-1 / a) - 1)

    assert out["median_days"] == pytest.approx(quantile(0.5), rel=1e-9)  # 2.1079 days
    assert out["lower_days"] == pytest.approx(quantile(0.1), rel=1e-9)
    assert out["upper_days"] == pytest.approx(quantile(0.9), rel=1e-9)
    assert out["completion_date"] == cutoff + timedelta(days=3)
    assert out["level"] == 0.80


def test_a_heavy_prior_reproduces_the_plan():
    # With no data and a prior worth 10,000 months the rate is the planned 356 / 30 months, so the
    # 356 patients take about 30 months = 913.1 days from the first site activation.
    out = project_completion([], START, START, 356, planned_months=30, prior_weight_months=10_000)
    assert out["rate_per_month"] == pytest.approx(356 / 30, rel=1e-12)
    assert out["median_days"] == pytest.approx(30 * DPM, rel=0.01)
    assert out["mean_days"] == pytest.approx(30 * DPM, rel=0.01)
    assert out["observed_monthly"] is None


def test_model_text_states_the_model_and_its_numbers():
    cutoff = START + timedelta(days=300)
    out = project_completion(_dates(100), START, cutoff, 356, planned_months=30)
    text = out["model"]
    assert "Poisson process" in text and "Gamma(" in text and "BetaPrime(256" in text
    assert "90% prediction interval" in text and cutoff.isoformat() in text
    assert set(out) >= {
        "model",
        "completion_date",
        "lower",
        "upper",
        "level",
        "rate_per_month",
        "randomized",
        "remaining",
        "expected_monthly",
    }
    assert all(isinstance(out[k], date) for k in ("completion_date", "lower", "upper"))


# --------------------------------------------------------------------------- target reached


def test_target_reached_returns_the_date_of_the_target_th_randomization():
    dates = [
        date(2027, 3, 9),
        date(2026, 5, 1),
        date(2026, 7, 4),
        date(2026, 2, 2),
        date(2027, 1, 20),
        date(2026, 9, 30),
        date(2026, 11, 11),
    ]
    out = project_completion(dates, START, date(2027, 6, 30), 5, planned_months=30)
    fifth = sorted(dates)[4]
    assert fifth == date(2026, 11, 11)
    assert out["completion_date"] == out["lower"] == out["upper"] == fifth
    assert out["randomized"] == 7 and out["remaining"] == 0
    assert out["median_days"] is None

    exactly = project_completion(dates[:5], START, date(2027, 6, 30), 5, planned_months=30)
    assert exactly["completion_date"] == max(dates[:5]) and exactly["remaining"] == 0


def test_dates_after_the_cutoff_are_not_counted():
    cutoff = START + timedelta(days=300)
    dates = _dates(50) + [cutoff + timedelta(days=1), cutoff + timedelta(days=40), None]
    out = project_completion(dates, START, cutoff, 356, planned_months=30)
    assert out["randomized"] == 50
    assert out["ignored_after_cutoff"] == 2


def test_improper_posterior_and_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="prior"):
        project_completion([], START, START + timedelta(days=90), 356, 30, prior_weight_months=0)
    with pytest.raises(ValueError, match="cutoff 2025-12-31 is before start 2026-01-01"):
        project_completion(_dates(5), START, START - timedelta(days=1), 356, 30)
    with pytest.raises(ValueError, match="target must be a positive integer, got 0"):
        project_completion(_dates(5), START, START + timedelta(days=90), 0, 30)
    with pytest.raises(ValueError, match="level must be strictly between 0 and 1"):
        project_completion(_dates(5), START, START + timedelta(days=90), 356, 30, level=1.0)


# --------------------------------------------------------------------------- curves


def test_planned_line_endpoints():
    plan = planned_accrual(START, 356, 30)
    assert len(plan) == 31
    assert list(plan.columns) == ["date", "planned"]
    assert plan["date"].iloc[0] == pd.Timestamp(START) and plan["planned"].iloc[0] == 0.0
    # 30 months x 30.4375 = 913.125 days -> 913 days after 2026-01-01
    assert plan["date"].iloc[-1] == pd.Timestamp(START + timedelta(days=913)) == pd.Timestamp("2028-07-02")
    assert plan["planned"].iloc[-1] == 356.0
    assert plan["planned"].iloc[10] == pytest.approx(356 / 3)
    assert plan["date"].is_monotonic_increasing and plan["planned"].is_monotonic_increasing


def test_planned_line_with_a_fractional_duration_ends_at_the_target():
    plan = planned_accrual(START, 356, 30.5)
    assert len(plan) == 32
    assert plan["date"].iloc[-1] == pd.Timestamp(START + timedelta(days=round(30.5 * DPM)))
    assert plan["planned"].iloc[-1] == 356.0
    assert plan["planned"].iloc[-2] == pytest.approx(356 * 30 / 30.5)


def test_cumulative_accrual_counts_per_date():
    dates = [date(2026, 3, 1), date(2026, 2, 1), date(2026, 3, 1), None, pd.Timestamp("2026-04-15")]
    cum = cumulative_accrual(dates)
    assert cum["date"].tolist() == [pd.Timestamp("2026-02-01"), pd.Timestamp("2026-03-01"), pd.Timestamp("2026-04-15")]
    assert cum["randomized"].tolist() == [1, 3, 4]
    empty = cumulative_accrual([])
    assert list(empty.columns) == ["date", "randomized"] and empty.empty
