"""dashboard.stats.rates against published values: R binom.test / Hmisc binconf output, Newcombe's
1998 tables, and funnel limits recomputed from an exact binomial CDF written out here."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from dashboard.stats.rates import funnel_flags, funnel_limits, proportion_ci, risk_difference_ci

# --------------------------------------------------------------------------- Clopper-Pearson

# (events, n, alpha, lower, upper, tolerance): outputs of R printed in public sources.
PUBLISHED_EXACT = [
    # R-help thread "[R] binom.test" (question by Ethan Johnsons, answers by Chuck Cleland and
    # Ted Harding): binom.test(x=12, n=50, p=12/50, conf.level=0.90) prints
    # "90 percent confidence interval: 0.1447182 0.3596557".
    (12, 50, 0.10, 0.1447182, 0.3596557, 5e-8),
    # same thread, Hmisc::binconf(12, 50, method="all"): "Exact 0.24 0.130610 0.381691".
    (12, 50, 0.05, 0.130610, 0.381691, 5e-7),
    # Blog post "r binom test confidence interval" (13 Nov 2020): binom.test(9, 24, 1/6) prints
    # "95 percent confidence interval: 0.1879929 0.5940636" ...
    (9, 24, 0.05, 0.1879929, 0.5940636, 5e-8),
    # ... and binom.test(1, 1497, 0.0033, conf.level = 0.9) "3.426347e-05 3.164954e-03".
    (1, 1497, 0.10, 3.426347e-05, 3.164954e-03, 5e-10),  # 7 significant digits
    # Newcombe RG. Two-sided confidence intervals for the single proportion: comparison of seven
    # methods. Stat Med 1998;17:857-872, Table I, method 5 ("exact", Clopper-Pearson), 4 d.p.
    (81, 263, 0.05, 0.2527, 0.3676, 5e-5),
    (15, 148, 0.05, 0.0578, 0.1617, 5e-5),
    (0, 20, 0.05, 0.0, 0.1684, 5e-5),
    (1, 29, 0.05, 0.0009, 0.1776, 5e-5),
]


@pytest.mark.parametrize(("events", "n", "alpha", "lower", "upper", "tol"), PUBLISHED_EXACT)
def test_exact_interval_matches_published_r_output(events, n, alpha, lower, upper, tol):
    observed, lo, hi = proportion_ci(events, n, alpha=alpha, method="exact")
    assert observed == events / n
    assert lo == pytest.approx(lower, abs=tol)
    assert hi == pytest.approx(upper, abs=tol)


def test_exact_interval_edges_are_zero_and_one():
    assert proportion_ci(0, 20) == (0.0, 0.0, pytest.approx(1 - 0.025 ** (1 / 20)))
    assert proportion_ci(20, 20) == (1.0, pytest.approx(0.025 ** (1 / 20)), 1.0)


# --------------------------------------------------------------------------- Wilson

PUBLISHED_WILSON = [
    # R-help thread "[R] binom.test" (above), Hmisc::binconf(12, 50): "Wilson 0.24 0.142974 0.374127".
    (12, 50, 0.142974, 0.374127, 5e-7),
    # Newcombe 1998, Stat Med 17:857-872, Table I, method 3 (score interval, no continuity correction).
    (81, 263, 0.2553, 0.3662, 5e-5),
    (15, 148, 0.0624, 0.1605, 5e-5),
    (0, 20, 0.0, 0.1611, 5e-5),
    (1, 29, 0.0061, 0.1718, 5e-5),
]


@pytest.mark.parametrize(("events", "n", "lower", "upper", "tol"), PUBLISHED_WILSON)
def test_wilson_interval_matches_published_values(events, n, lower, upper, tol):
    observed, lo, hi = proportion_ci(events, n, method="wilson")
    assert observed == events / n
    assert lo == pytest.approx(lower, abs=tol)
    assert hi == pytest.approx(upper, abs=tol)


def test_empty_denominator_gives_nothing():
    assert proportion_ci(0, 0) == (None, None, None)
    assert proportion_ci(0, 0, method="wilson") == (None, None, None)
    assert risk_difference_ci(0, 0, 3, 10) == (None, None, None)
    assert risk_difference_ci(3, 10, 0, 0) == (None, None, None)


@pytest.mark.parametrize("args", [(5, 4), (-1, 4), (1, -1)])
def test_inconsistent_counts_are_refused(args):
    with pytest.raises(ValueError, match=f"need 0 <= events <= n, got events={args[0]}, n={args[1]}"):
        proportion_ci(*args)


def test_bad_arguments_are_refused():
    with pytest.raises(TypeError, match="events must be an integer, got 1.5"):
        proportion_ci(1.5, 4)
    with pytest.raises(ValueError, match="method must be one of .*got 'wald'"):
        proportion_ci(1, 4, method="wald")
    with pytest.raises(ValueError, match="alpha must be strictly between 0 and 1, got 1.0"):
        proportion_ci(1, 4, alpha=1.0)
    with pytest.raises(ValueError, match="group 1: need 0 <= events <= n"):
        risk_difference_ci(5, 4, 1, 4)


# --------------------------------------------------------------------------- Newcombe method 10

# Newcombe RG. Interval estimation for the difference between independent proportions:
# comparison of eleven methods. Stat Med 1998;17:873-890, Table II, method 10 (score interval
# combining the two Wilson intervals, no continuity correction), 95%, 4 d.p.:
# (x1, n1, x2, n2) -> (lower, upper). The table was read from public transcriptions that agree
# with each other (several test suites citing Table II; rows (a), (b), (g) are also quoted as
# SAS PROC FREQ output from WUSS 2016 paper 127, p. 9), not from the journal page itself.
NEWCOMBE_TABLE_II = [
    ((56, 70, 48, 80), (0.0524, 0.3339)),  # (a)
    ((9, 10, 3, 10), (0.1705, 0.8090)),  # (b)
    ((6, 7, 2, 7), (0.0582, 0.8062)),  # (c)
    ((5, 56, 0, 29), (-0.0381, 0.1926)),  # (d)
    ((0, 10, 0, 20), (-0.1611, 0.2775)),  # (e)
    ((0, 10, 0, 10), (-0.2775, 0.2775)),  # (f)
    ((10, 10, 0, 20), (0.6791, 1.0000)),  # (g)
    ((10, 10, 0, 10), (0.6075, 1.0000)),  # (h)
]


@pytest.mark.parametrize(("counts", "limits"), NEWCOMBE_TABLE_II)
def test_risk_difference_matches_newcombe_table_ii(counts, limits):
    x1, n1, x2, n2 = counts
    diff, lower, upper = risk_difference_ci(x1, n1, x2, n2)
    assert diff == pytest.approx(x1 / n1 - x2 / n2, abs=1e-12)
    assert lower == pytest.approx(limits[0], abs=5e-5)
    assert upper == pytest.approx(limits[1], abs=5e-5)


def test_risk_difference_is_antisymmetric_and_inside_minus_one_one():
    d, lo, hi = risk_difference_ci(56, 70, 48, 80)
    d2, lo2, hi2 = risk_difference_ci(48, 80, 56, 70)
    assert (d2, lo2, hi2) == pytest.approx((-d, -hi, -lo), abs=1e-12)
    for counts in [(1, 1, 0, 1), (0, 3, 3, 3), (7, 7, 7, 7)]:
        d, lo, hi = risk_difference_ci(*counts)
        assert -1.0 <= lo <= d <= hi <= 1.0


# --------------------------------------------------------------------------- funnel limits
#
# Reference: Spiegelhalter (2005) appendix A.1.1. For R ~ Binomial(n, p0) and a tail probability
# p, r_p is the smallest r with P(R <= r) >= p, a = (P(R <= r_p) - p) / P(R = r_p), and the limit
# is (r_p - a) / n. The reference below computes the binomial CDF exactly with rational
# arithmetic (math.comb and Fraction), independent of scipy.


def _exact_limit(prob: float, n: int, p0: float) -> float:
    q = Fraction(p0)
    target = Fraction(prob)
    cdf = Fraction(0)
    for r in range(n + 1):
        pmf = math.comb(n, r) * q**r * (1 - q) ** (n - r)
        cdf += pmf
        if cdf >= target:
            a = (cdf - target) / pmf
            return max(0.0, float((r - a) / n))
    raise AssertionError("CDF never reached the tail probability")


def test_funnel_limits_worked_example_by_hand():
    # n = 10, p0 = 0.5: P(R <= r) * 1024 = 1, 11, 56, 176, 386, 638, 848, 968, 1013, 1023, 1024.
    # Upper 95% (p = 0.975): F(7) = 968/1024 < 0.975 <= F(8) = 1013/1024, so r_p = 8 and
    #   a = (1013/1024 - 0.975) / (45/1024) = (1013 - 998.4) / 45 = 14.6 / 45; limit (8 - a) / 10.
    # Lower 95% (p = 0.025): F(1) = 11/1024 < 0.025 <= F(2) = 56/1024, so r_p = 2 and
    #   a = (56 - 25.6) / 45 = 30.4 / 45; limit (2 - a) / 10.
    row = funnel_limits(0.5, [10], levels=(0.95,)).iloc[0]
    assert list(row.index) == ["n", "lower_95", "upper_95"]
    assert row["upper_95"] == pytest.approx((8 - 14.6 / 45) / 10, abs=1e-12)
    assert row["lower_95"] == pytest.approx((2 - 30.4 / 45) / 10, abs=1e-12)


@pytest.mark.parametrize("p0", [0.05, 0.2, 0.5, 0.83])
def test_funnel_limits_match_exact_binomial_computation(p0):
    sizes = [1, 2, 5, 13, 40, 99, 200, 356]
    table = funnel_limits(p0, np.array(sizes))
    assert list(table.columns) == ["n", "lower_95", "upper_95", "lower_998", "upper_998"]
    assert table["n"].tolist() == sizes
    for row in table.itertuples():
        n = int(row.n)
        assert row.lower_95 == pytest.approx(_exact_limit(0.025, n, p0), abs=1e-9)
        assert row.upper_95 == pytest.approx(_exact_limit(0.975, n, p0), abs=1e-9)
        assert row.lower_998 == pytest.approx(_exact_limit(0.001, n, p0), abs=1e-9)
        assert row.upper_998 == pytest.approx(_exact_limit(0.999, n, p0), abs=1e-9)
        assert 0.0 <= row.lower_998 <= row.lower_95 <= p0 <= row.upper_95 <= row.upper_998 <= 1.0


def test_funnel_limits_approach_the_normal_limits_for_large_n():
    n, p0 = 100_000, 0.3
    row = funnel_limits(p0, [n]).iloc[0]
    se = math.sqrt(p0 * (1 - p0) / n)
    z998 = 3.090232306167813  # Phi^-1(0.999)
    # the exact limits differ from the normal ones by skewness and the half-count offset only
    assert row["upper_998"] == pytest.approx(p0 + z998 * se, abs=2 / n)
    assert row["lower_998"] == pytest.approx(p0 - z998 * se, abs=2 / n)


def test_funnel_limit_names_follow_the_levels_and_zero_n_is_nan():
    table = funnel_limits(0.1, [0, 30], levels=(0.9, 0.99, 0.999))
    assert list(table.columns) == ["n", "lower_90", "upper_90", "lower_99", "upper_99", "lower_999", "upper_999"]
    assert table.iloc[0, 1:].isna().all()
    assert table.iloc[1, 1:].notna().all()


def test_funnel_limits_refuse_bad_input():
    with pytest.raises(ValueError, match="p0 must be strictly between 0 and 1, got 0.0"):
        funnel_limits(0.0, [10])
    with pytest.raises(ValueError, match="n must hold non-negative whole numbers"):
        funnel_limits(0.2, [10.5])
    with pytest.raises(ValueError, match="n must hold non-negative whole numbers"):
        funnel_limits(0.2, [-1])
    with pytest.raises(ValueError, match="level must be strictly between 0 and 1, got 1.0"):
        funnel_limits(0.2, [10], levels=(1.0,))


# --------------------------------------------------------------------------- funnel flags


def test_funnel_flags_around_the_exact_limits():
    p0, n = 0.2, 100
    lower = _exact_limit(0.001, n, p0) * n  # 99.8% limits on the count scale
    upper = _exact_limit(0.999, n, p0) * n
    just_above = math.floor(upper) + 1
    just_below = math.ceil(lower) - 1
    events = [just_above, math.floor(upper), 20, math.ceil(lower), just_below, 0]
    sizes = [n, n, n, n, n, 0]
    flags = funnel_flags(events, sizes, p0)
    assert flags.tolist() == ["above", "within", "within", "within", "below", "within"]


def test_funnel_flags_agree_with_the_plotted_limits():
    rng = np.random.default_rng(7)
    sizes = rng.integers(1, 120, size=300)
    events = rng.binomial(sizes, 0.35)
    events[:10] = sizes[:10]  # some certainly above
    events[10:20] = 0  # some below where n is large enough
    for level, label in [(0.95, "95"), (0.998, "998")]:
        limits = funnel_limits(0.15, sizes, levels=(level,))
        prop = events / sizes
        expected = np.where(
            prop > limits[f"upper_{label}"], "above", np.where(prop < limits[f"lower_{label}"], "below", "within")
        )
        assert funnel_flags(events, sizes, 0.15, level=level).tolist() == expected.tolist()


def test_funnel_flags_refuse_inconsistent_input():
    with pytest.raises(ValueError, match=r"events and n differ in length \(2 and 1\)"):
        funnel_flags([1, 2], [3], 0.2)
    with pytest.raises(ValueError, match="events must not exceed n"):
        funnel_flags([4], [3], 0.2)
