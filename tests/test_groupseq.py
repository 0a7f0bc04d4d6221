"""dashboard.stats.groupseq against published group sequential boundaries (gsDesign, gsDesign2, lrstat,
rpact, SAS PROC SEQDESIGN, East) and published B-value conditional power, plus properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import norm

from dashboard.stats.groupseq import (
    boundaries,
    conditional_power,
    crossing_probabilities,
    drift_current_trend,
    drift_from_design,
    spending,
)


def printed(digits: int, slack: float = 1e-6) -> float:
    """Tolerance for a value printed with `digits` decimals: half a unit of the last digit, plus
    `slack` for our own numerical error (the integration and the boundary search are ~1e-7)."""
    return 0.5 * 10.0**-digits + slack


def z_bounds(fractions, alpha=0.025, kind="obrien-fleming", **kw) -> list[float]:
    return [row["z_boundary"] for row in boundaries(fractions, alpha, kind, **kw)]


def drift_for_power(fractions, bounds, power: float) -> float:
    """The drift at which the boundaries are crossed with probability `power` by the last look."""
    return brentq(lambda th: crossing_probabilities(fractions, bounds, th)[-1] - power, 0.0, 10.0, xtol=1e-12)


# --------------------------------------------------------------------------------------------
# 1. Lan-DeMets O'Brien-Fleming-type spending (gsDesign sfLDOF), one-sided alpha = 0.025,
#    K = 2, 3, 4 equally spaced looks.
#
#    Note: the values sometimes quoted for K = 2, "2.797, 1.977", are the classical (non-spending)
#    O'Brien-Fleming boundaries; with sfLDOF spending the K = 2 boundaries are 2.963, 1.969.


def test_k2_equally_spaced_lrstat_getbound():
    # lrstat reference, getBound() example (kaifenglu/lrstat, reference/getBound.md;
    # https://kaifenglu.github.io/lrstat/reference/getBound.html):
    #   getBound(k = 2, informationRates = c(0.5, 1), alpha = 0.025, typeAlphaSpending = "sfOF")
    #   #> [1] 2.962588 1.968596
    assert z_bounds([0.5, 1.0]) == pytest.approx([2.962588, 1.968596], abs=printed(6))


def test_k2_equally_spaced_east_benchmark_through_gsrr():
    # gsDesign's test against East 6.5 (keaven/gsDesign,
    # tests/testthat/test-independent-test-gsRR.R; East workbook tests/benchmarks/gsqplot.cywx):
    #   x <- gsDesign(k = 2, test.type = 1, alpha = 0.025, beta = 0.1, delta1 = 0.3, sfu = sfLDOF)
    #   gsRR(z = x$upper$bound, i = 1:2, x = x) == exp(c(0.38709581, 0.18188158))   (to 1e-6)
    # The log risk ratio at bound k is delta1 * z_k / (theta * sqrt(t_k)), theta being the drift
    # that gives 90% power with these boundaries: a joint check of boundaries() and
    # crossing_probabilities().
    t = [0.5, 1.0]
    b = z_bounds(t)
    theta = drift_for_power(t, b, 0.90)
    at_bound = [0.3 * z / (theta * math.sqrt(tk)) for z, tk in zip(b, t, strict=True)]
    assert at_bound == pytest.approx([0.38709581, 0.18188158], abs=1e-6)


def test_k3_equally_spaced_gsdesign2_reference():
    # gsDesign2 reference for gs_power_rd(), Example 1 (Merck/gsDesign2, reference/gs_power_rd.md;
    # https://merck.github.io/gsDesign2/reference/gs_power_rd.html), whose upper bounds are
    #   gsDesign(k = 3, test.type = 1, sfu = sfLDOF, sfupar = NULL)$upper$bound
    #   z: 3.710303  2.511427  1.993048
    #   probability0 (cumulative crossing under H0): 0.0001035057  0.0060484866  ...
    # (the third probability0, 0.0249830182, is lowered by that example's futility bound at
    # look 1, so only the first two are comparable.)
    t = [1 / 3, 2 / 3, 1.0]
    rows = boundaries(t)
    assert [r["z_boundary"] for r in rows] == pytest.approx([3.710303, 2.511427, 1.993048], abs=printed(6))
    # gsDesign solves its bounds to tol = 1e-6 on the Z scale (r = 18), about 2e-8 on the p scale
    assert [r["nominal_p"] for r in rows] == pytest.approx([0.0001035057, 0.0060122074, 0.0231281218], abs=5e-8)
    # probability0 comes from gsDesign2's own integration (r = 18 grid), about 1e-7 from the exact
    # alpha*(2/3) = 0.00604838913 that the bounds were solved for
    cum0 = crossing_probabilities(t, [r["z_boundary"] for r in rows], 0.0)
    assert cum0[:2] == pytest.approx([0.0001035057, 0.0060484866], abs=2e-7)
    assert cum0[2] == pytest.approx(0.025, abs=1e-9)


def test_k4_equally_spaced_sas_seqdesign_example():
    # SAS/STAT PROC SEQDESIGN Example 109.14, "Computing Sample Size for Survival Data with Uniform
    # Accrual" (https://documentation.sas.com/doc/en/statug/15.2/statug_seqdesign_examples14.htm):
    # nstages=4 method=errfuncobf, two-sided alpha 0.05 (0.025 per tail), equally spaced.
    # Boundary values as tabulated in gsDesign's vignette "gsDesignVsSEQDESIGN"
    # (keaven/gsDesign, vignettes/gsDesignVsSEQDESIGN.Rmd): z_sas <- c(4.333, 2.963, 2.359, 2.014),
    # which the vignette reproduces with gsSurv(k = 4, test.type = 1, alpha = 0.025, sfu = sfLDOF).
    assert z_bounds([0.25, 0.5, 0.75, 1.0]) == pytest.approx([4.333, 2.963, 2.359, 2.014], abs=printed(3))


# --------------------------------------------------------------------------------------------
# 2. Unequally spaced looks, other alphas, the Pocock-type function, a last look before t = 1


def test_this_trials_schedule_half_and_three_quarters():
    # Looks at 50% and 75% of the events (trial.toml interim_fractions), from the gsdmvn reference
    # for gs_b() (https://keaven.github.io/gsdmvn/reference/gs_b.html):
    #   gsDesign::gsDesign(alpha = .025, k = 3, test.type = 1, sfu = gsDesign::sfLDOF,
    #                      timing = c(.5, .75, 1))$upper$bound
    #   #> [1] 2.962588 2.359018 2.014084
    assert z_bounds([0.5, 0.75, 1.0]) == pytest.approx([2.962588, 2.359018, 2.014084], abs=printed(6))


def test_unequal_looks_and_power_gsdesign2_article():
    # gsDesign2 article "Computing spending boundaries in group sequential design", Example 1,
    # gsDesign::gsSurv(test.type = 1, alpha = 0.025, beta = 0.15, timing = c(.35, .7, 1),
    # sfu = sfLDOF, r = 32, tol = 1e-08) |> gsBoundSummary()
    # (Merck/gsDesign2, articles/story-seven-test-types.md;
    # https://merck.github.io/gsDesign2/articles/story-seven-test-types.html):
    #   Z                   3.6128  2.4406  2.0002
    #   P(Cross) if HR=1    0.0002  0.0074  0.0250
    #   P(Cross) if HR=0.7  0.0338  0.5341  0.8500   (85% power design)
    t = [0.35, 0.70, 1.0]
    b = z_bounds(t)
    assert b == pytest.approx([3.6128, 2.4406, 2.0002], abs=printed(4))
    assert crossing_probabilities(t, b, 0.0) == pytest.approx([0.0002, 0.0074, 0.0250], abs=printed(4))
    theta = drift_for_power(t, b, 0.85)
    assert crossing_probabilities(t, b, theta) == pytest.approx([0.0338, 0.5341, 0.8500], abs=printed(4))


# rpact's own unit tests (rpact-com/rpact, tests/testthat/test-f_design_group_sequential.R at
# commit 1d81a55ea2b5a4a4f4b5ff70dc25077077d8bddb), printed to 7-8 significant digits. The
# futility bounds of those designs are non-binding, so their critical values are those of the
# alpha-spending function alone.
RPACT = [
    # x7a: getDesignGroupSequential(kMax = 3, alpha = 0.13, typeOfDesign = "asOF",
    #      informationRates = c(0.4, 0.75, 1), ..., bindingFutility = FALSE)
    ("obrien-fleming", 0.13, [0.4, 0.75, 1.0], [2.1280732, 1.4368565, 1.2468994], [0.016665509, 0.080406163, 0.13]),
    # x7a (kMax = 4): informationRates = c(0.4, 0.75, 0.85, 1)
    (
        "obrien-fleming",
        0.13,
        [0.4, 0.75, 0.85, 1.0],
        [2.1280732, 1.4368565, 1.422873, 1.2970881],
        [0.016665509, 0.080406163, 0.10053322, 0.13],
    ),
    # x6a: getDesignGroupSequential(kMax = 3, alpha = 0.13, typeOfDesign = "asP",
    #      informationRates = c(0.35, 0.7, 1), ..., bindingFutility = FALSE)
    ("pocock", 0.13, [0.35, 0.7, 1.0], [1.5446617, 1.4828682, 1.4620058], [0.061214062, 0.10266465, 0.13]),
    # x6b: getDesignGroupSequential(informationRates = c(0.4, 0.7), typeOfDesign = "asP"),
    #      alpha 0.025: the last look is at t = 0.7 < 1 and spends only alpha*(0.7)
    ("pocock", 0.025, [0.4, 0.7], [2.223875, 2.3050796], [0.013078429, 0.0197432]),
]


@pytest.mark.parametrize("kind, alpha, t, expected_z, expected_spent", RPACT)
def test_rpact_unit_test_designs(kind, alpha, t, expected_z, expected_spent):
    rows = boundaries(t, alpha, kind)
    assert [r["z_boundary"] for r in rows] == pytest.approx(expected_z, abs=2e-6)
    assert [r["cumulative_alpha"] for r in rows] == pytest.approx(expected_spent, abs=2e-8)


def test_spending_values_gsdesign_gentle_introduction():
    # gsDesign article "A gentle introduction to group sequential design"
    # (keaven/gsDesign, articles/GentleIntroductionToGSD.md): with one-sided alpha = 0.1 and
    # sfLDOF, "Type I alpha-spending of 0.02" at t = 0.5 and, at the actual t = 0.4403,
    # "alpha-spending of 0.0132".
    assert spending(0.5, 0.1) == pytest.approx(0.02, abs=printed(2, 1e-3))
    assert spending(0.4403, 0.1) == pytest.approx(0.0132, abs=printed(4))


def test_spending_formulas():
    t = np.array([0.0, 0.2, 0.5, 0.8, 1.0, 1.5])
    obf = spending(t, 0.025)
    z = norm.ppf(1 - 0.025 / 2)
    assert obf[1:5] == pytest.approx(2 * (1 - norm.cdf(z / np.sqrt(t[1:5]))), rel=1e-12)
    assert obf[0] == 0.0 and obf[4] == pytest.approx(0.025, rel=1e-12) and obf[5] == 0.025
    poc = spending(t, 0.025, "pocock")
    assert poc[:5] == pytest.approx(0.025 * np.log(1 + (math.e - 1) * t[:5]), rel=1e-12)
    assert poc[5] == 0.025
    assert np.all(np.diff(obf) >= 0) and np.all(np.diff(poc) >= 0)
    assert np.ndim(spending(0.5, 0.025)) == 0


# --------------------------------------------------------------------------------------------
# 3. Power and the inflation factor


def test_power_at_sas_maximum_events():
    # SAS Example 109.14 (above): hazard ratio 0.5, 90% power, Schoenfeld events; SAS's maximum
    # number of events is 89.08 (vignette gsDesignVsSEQDESIGN: events_sas <- c(22.27, 44.54,
    # 66.81, 89.08)). With drift_from_design at those events our K = 4 boundaries must give 90%
    # power, i.e. the inflation factor over the fixed design's 4 (z_.025 + z_.1)^2 / log(0.5)^2
    # = 87.48 events is 89.08 / 87.48 = 1.0183.
    t = [0.25, 0.5, 0.75, 1.0]
    b = z_bounds(t)
    theta = drift_from_design(0.0, math.log(0.5), 89.08)
    assert crossing_probabilities(t, b, theta)[-1] == pytest.approx(0.90, abs=2e-4)
    fixed = 4 * (norm.ppf(0.975) + norm.ppf(0.9)) ** 2 / math.log(0.5) ** 2
    inflation = (drift_for_power(t, b, 0.90) / (norm.ppf(0.975) + norm.ppf(0.9))) ** 2
    assert inflation == pytest.approx(89.08 / fixed, abs=1e-4)
    # and the interim events are the fractions of the maximum
    assert np.array([22.27, 44.54, 66.81]) / 89.08 == pytest.approx(t[:3], abs=1e-4)


def test_group_sequential_power_below_fixed_design():
    # With the fixed-design drift (80% / 90% power without interim looks) the spending design
    # loses a little power, and needs slightly more information to get it back.
    for k in (2, 3, 4):
        t = list(np.arange(1, k + 1) / k)
        b = z_bounds(t)
        for power in (0.8, 0.9):
            theta_fixed = norm.ppf(0.975) + norm.ppf(power)
            achieved = crossing_probabilities(t, b, theta_fixed)[-1]
            assert power - 0.01 < achieved < power
            inflation = (drift_for_power(t, b, power) / theta_fixed) ** 2
            assert 1.0 < inflation < 1.03


# --------------------------------------------------------------------------------------------
# 4. Conditional power (Lan & Wittes 1988)
#
# gsDesign's gsBoundSummary reports, for each bound at an interim, the B-value, "CP"
# (conditional power under the current trend, theta = thetahat) and "CP H1" (under the design
# alternative). With 2 analyses the only later analysis is the final one, so these are exactly
# the B-value conditional power of Lan & Wittes (1988). Published output (keaven/gsDesign,
# tests/testthat/_snaps/independent-test-gsBoundSummary.md, 'Test gsBoundSummary with
# "Spending" in exclude', design gsDesign(k = 2, n.fix = nBinomial(p1 = .3, p2 = .15,
# scale = "RR"), delta1 = log(.15 / .3), endpoint = "Binomial"), N 168 of 336, t = 0.5):
#                 Efficacy  Futility
#   IA 1: Z         2.7500    0.4122
#         B-value   1.9445    0.2915
#         CP        0.9965    0.0240
#         CP H1     0.9890    0.4805
#   Final: Z        1.9811


GSBS_T, GSBS_FINAL = 0.5, 1.9811


@pytest.mark.parametrize("z, b_value, cp", [(2.7500, 1.9445, 0.9965), (0.4122, 0.2915, 0.0240)])
def test_conditional_power_current_trend_gsdesign(z, b_value, cp):
    assert z * math.sqrt(GSBS_T) == pytest.approx(b_value, abs=printed(4))
    theta = drift_current_trend(z, GSBS_T)
    assert conditional_power(z, GSBS_T, theta, GSBS_FINAL) == pytest.approx(cp, abs=printed(4))


def test_conditional_power_design_alternative_gsdesign():
    # One drift (the design's) must give both published "CP H1" values: solve it from the
    # futility column, where CP is most sensitive to theta, and predict the efficacy column.
    theta = brentq(lambda th: conditional_power(0.4122, GSBS_T, th, GSBS_FINAL) - 0.4805, 0, 10)
    assert conditional_power(2.7500, GSBS_T, theta, GSBS_FINAL) == pytest.approx(0.9890, abs=printed(4))
    # that drift is a little above the fixed-design drift for 90% power (z_.025 + z_.1 = 3.24)
    assert 3.24 < theta < 3.40


def test_conditional_power_identities():
    z, t, c = 1.4, 0.5, 1.959964
    # under the current trend, CP = 1 - Phi((c - z / sqrt(t)) / sqrt(1 - t))
    expected = 1 - norm.cdf((c - z / math.sqrt(t)) / math.sqrt(1 - t))
    assert conditional_power(z, t, drift_current_trend(z, t), c) == pytest.approx(expected, rel=1e-12)
    # with the B-value already at the final boundary and no drift, CP is one half
    assert conditional_power(c / math.sqrt(0.6), 0.6, 0.0, c) == pytest.approx(0.5, abs=1e-12)
    # increasing in z and in theta
    assert conditional_power(1.0, t, 2.0, c) < conditional_power(1.5, t, 2.0, c)
    assert conditional_power(1.0, t, 1.0, c) < conditional_power(1.0, t, 3.0, c)


def test_drift_helpers():
    assert drift_current_trend(1.5, 0.25) == pytest.approx(3.0)
    # non-inferiority: margin HR 1.8, truly equal hazards, 90 events -> log(1.8) * sqrt(90 / 4)
    assert drift_from_design(math.log(1.8), 0.0, 90) == pytest.approx(math.log(1.8) * 1.5 * math.sqrt(10))
    # Schoenfeld: events for 90% power at one-sided 0.025 give a drift of z_.025 + z_.1
    d = 4 * (norm.ppf(0.975) + norm.ppf(0.9)) ** 2 / math.log(1.8) ** 2
    assert drift_from_design(math.log(1.8), 0.0, d) == pytest.approx(norm.ppf(0.975) + norm.ppf(0.9))


# --------------------------------------------------------------------------------------------
# 5. Properties and input handling


@pytest.mark.parametrize("kind", ["obrien-fleming", "pocock"])
def test_spends_exactly_the_spending_function(kind):
    t = [0.21, 0.48, 0.66, 0.9, 1.0]
    rows = boundaries(t, 0.025, kind)
    cum = crossing_probabilities(t, [r["z_boundary"] for r in rows], 0.0)
    assert cum == pytest.approx([r["cumulative_alpha"] for r in rows], abs=1e-9)
    assert [r["cumulative_alpha"] for r in rows] == pytest.approx(spending(t, 0.025, kind), rel=1e-12)
    assert len(rows) == len(t)
    for r in rows:
        assert r["nominal_p"] == pytest.approx(norm.sf(r["z_boundary"]), rel=1e-12)


def test_earlier_boundaries_do_not_depend_on_later_looks():
    full = z_bounds([0.3, 0.55, 0.8, 1.0])
    assert z_bounds([0.3, 0.55]) == pytest.approx(full[:2], abs=1e-10)


def test_last_look_before_full_information():
    rows = boundaries([0.5, 0.9])
    assert rows[-1]["cumulative_alpha"] == pytest.approx(spending(0.9, 0.025))
    final = boundaries([0.5, 0.9], spend_all_at_last=True)
    assert final[-1]["cumulative_alpha"] == 0.025
    assert final[-1]["z_boundary"] < rows[-1]["z_boundary"]
    assert crossing_probabilities([0.5, 0.9], [r["z_boundary"] for r in final], 0.0)[-1] == pytest.approx(
        0.025, abs=1e-9
    )


def test_overrunning_look_spends_nothing_more():
    rows = boundaries([0.5, 1.0, 1.1])
    assert rows[1]["cumulative_alpha"] == rows[2]["cumulative_alpha"] == 0.025
    assert rows[2]["z_boundary"] == math.inf and rows[2]["nominal_p"] == 0.0


def test_crossing_probabilities_edge_cases():
    t = [0.5, 1.0]
    # a single look is a plain normal tail
    assert crossing_probabilities([1.0], [1.96], 1.0)[0] == pytest.approx(norm.sf(0.96))
    # no stopping possible at look 1
    assert crossing_probabilities(t, [math.inf, 1.96], 0.0)[-1] == pytest.approx(norm.sf(1.96))
    with pytest.raises(ValueError, match="need one boundary per look: 2 fractions, 1 bounds"):
        crossing_probabilities(t, [2.0], 0.0)


@pytest.mark.parametrize(
    "bad,message",
    [
        ([], "at least one information fraction"),
        ([0.0, 1.0], "must be finite and > 0"),
        ([0.5, 0.5], "strictly increasing"),
        ([0.7, 0.4], "strictly increasing"),
        ([float("nan")], "must be finite and > 0"),
        ([-0.1], "must be finite and > 0"),
    ],
)
def test_rejects_bad_fractions(bad, message):
    with pytest.raises(ValueError, match=message):
        boundaries(bad)


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="alpha must be strictly between 0 and 1"):
        boundaries([1.0], alpha=0.0)
    with pytest.raises(ValueError, match="unknown spending function 'haybittle-peto'"):
        boundaries([1.0], kind="haybittle-peto")
    with pytest.raises(ValueError, match="information fractions must be >= 0"):
        spending(-0.1, 0.025)
    for t in (0.0, 1.0, 1.2):
        with pytest.raises(ValueError, match=f"strictly between 0 and 1, got {t}"):
            conditional_power(1.0, t, 2.0, 1.96)
    with pytest.raises(ValueError, match=r"must be in \(0, 1\], got 0.0"):
        drift_current_trend(1.0, 0.0)
    with pytest.raises(ValueError, match="events_final must be > 0, got 0"):
        drift_from_design(0.5, 0.0, 0)
