"""Monitoring a group sequential trial at the looks actually held (issue 12): boundaries from the
alpha the held looks really spent, the final look spending what remains (also past the planned
information), repeated confidence bounds, conditional power against the whole remaining design,
and the design checked against itself.

Reference values: R 4.2, rpact 3.3.4 (`getDesignGroupSequential`, `typeOfDesign = "asOF"`,
one-sided alpha 0.025; `asUser` spending for the over-running final look;
`getPowerAndAverageSampleNumber`; `getConditionalPower` on a normal one-sample data set with
`normalApproximation = TRUE`), printed to six decimals; the calls are in the comments."""

import math

import pytest

from dashboard.stats import groupseq as g

PLANNED = [0.5, 0.75]  # trial.toml [design]: interim looks at 50 % and 75 % of the deaths


def _z(bounds):
    return [b["z_boundary"] for b in bounds]


def test_planned_looks_match_rpact():
    # getDesignGroupSequential(kMax = 3, alpha = 0.025, sided = 1, typeOfDesign = "asOF",
    #   informationRates = c(0.5, 0.75, 1))$criticalValues
    assert _z(g.monitoring_boundaries([], PLANNED)) == pytest.approx([2.962588, 2.359018, 2.014084], abs=2e-6)


def test_unplanned_fractions_spend_what_was_spent_and_keep_the_looks_to_come():
    # informationRates = c(0.3, 0.62, 0.75, 1): two looks held at 30 % and 62 %, the planned 75 %
    # and the final still to come
    bounds = g.monitoring_boundaries([0.3, 0.62], PLANNED)
    assert [b["held"] for b in bounds] == [True, True, False, False]
    assert _z(bounds) == pytest.approx([3.928573, 2.619426, 2.393902, 2.016442], abs=2e-6)
    # a first look at 24 %: O'Brien-Fleming asks for z >= 4.43 there, not 1.96
    # (informationRates = c(0.24, 0.5, 0.75, 1): 4.427950 ...)
    assert g.monitoring_boundaries([0.24], PLANNED)[0]["z_boundary"] == pytest.approx(4.427950, abs=2e-6)


def test_an_over_running_final_look_spends_all_that_remains():
    # looks at 0.5 and 0.75 of the planned deaths, the final at 1.83 (R's lung data): the first
    # two spend alpha*(0.5), alpha*(0.75), the last the rest; correlations from the actual
    # information. typeOfDesign = "asUser", userAlphaSpending = c(of(0.5), of(0.75), 0.025),
    # informationRates = c(0.5, 0.75, 1.83) / 1.83
    bounds = g.monitoring_boundaries([0.5, 0.75, 1.83], PLANNED)
    assert _z(bounds) == pytest.approx([2.962588, 2.359018, 2.088563], abs=2e-6)
    assert bounds[-1]["cumulative_alpha"] == pytest.approx(0.025)
    assert all(b["held"] for b in bounds)


def test_a_final_look_held_early_spends_all_the_alpha():
    bounds = g.monitoring_boundaries([0.5, 0.9], PLANNED, final=True)
    assert len(bounds) == 2 and bounds[-1]["cumulative_alpha"] == pytest.approx(0.025)


def test_conditional_power_against_the_remaining_design_matches_rpact():
    # getDataset(n = 50, means = 0.2, stDevs = 1); stage 1 of the design above (nMax = 100):
    # z1 = 1.414214; getConditionalPower(sr, nPlanned = c(25, 25), thetaH1 = 0.3,
    # assumedStDev = 1)$conditionalPower = NA 0.278958 0.760476; thetaH1 = 0.2 (the trend):
    # NA 0.138753 0.502186. Drift at fraction 1: theta * sqrt(nMax).
    z = 0.2 * math.sqrt(50)
    to_come = g.monitoring_boundaries([0.5], PLANNED)[1:]
    assert g.conditional_power_design(z, 0.5, 0.3 * 10, to_come) == pytest.approx(0.760476, abs=2e-6)
    assert g.conditional_power_design(z, 0.5, 0.2 * 10, to_come) == pytest.approx(0.502186, abs=2e-6)
    assert g.conditional_power_design(z, 0.5, 0.3 * 10, to_come[:1]) == pytest.approx(0.278958, abs=2e-6)


def test_with_one_look_to_come_it_is_the_b_value_formula():
    final = g.monitoring_boundaries([0.75], [0.75])[-1]
    assert g.conditional_power_design(1.1, 0.75, 2.0, [final]) == pytest.approx(
        g.conditional_power(1.1, 0.75, 2.0, final["z_boundary"]), abs=1e-9
    )


def test_the_repeated_bound_is_below_the_margin_exactly_when_the_boundary_is_crossed():
    log_margin, se = math.log(1.8), 2 / math.sqrt(30)
    c = g.monitoring_boundaries([0.3], PLANNED)[0]["z_boundary"]
    for log_hr in [-0.6, -0.3, 0.0, 0.2]:
        z = (log_margin - log_hr) / se
        upper = g.repeated_ci_upper(log_hr, se, c)
        assert (upper < log_margin) == (z >= c)
    # the nominal bound (1.96) would call it met where the boundary is not crossed
    log_hr = -0.3
    assert log_hr + 1.959964 * se < log_margin and g.repeated_ci_upper(log_hr, se, c) > log_margin


def test_the_configured_design_is_checked_against_itself():
    # 90 deaths, HR margin 1.8, true HR 1, looks at 0.5, 0.75, 1: power 0.788 (rpact:
    # getPowerAndAverageSampleNumber(design, theta = log(1.8) / 2, nMax = 90)$overallReject
    # = 0.788434), not the 0.80 the design states; 0.80 needs about 93 deaths
    check = g.design_check([0.5, 0.75, 1.0], 0.025, 0.80, math.log(1.8), 0.0, 90)
    assert check["power"] == pytest.approx(0.788434, abs=2e-6)
    assert 92 < check["events_for_power"] < 93
    assert check["final_boundary"] == pytest.approx(2.014084, abs=2e-6)


# ------------------------------------------------------------------ the conclusion at a look
def _ni(deaths, log_hr, se_hr, diff, se_diff):
    return {
        "hazard_ratio": {"events": deaths, "hazard_ratio": math.exp(log_hr), "log_hr": log_hr, "se": se_hr},
        "difference": {"difference": diff, "se": se_diff, "lower": diff - 1.959964 * se_diff},
    }


def test_nominally_met_at_an_early_look_is_not_met_at_this_look():
    """22 of 90 deaths (24 %): the nominal 95% intervals clear both margins (HR upper 1.38 < 1.8,
    difference lower -0.078 > -0.12), but the look's O'Brien-Fleming boundary (z >= 4.4) is not
    crossed: the repeated bounds do not clear the margins, and the conclusion says so."""
    from dashboard.config import load_trial
    from dashboard.views import monitoring

    cfg = load_trial()
    c = monitoring.conclusion(_ni(22, math.log(0.6), 2 / math.sqrt(22), 0.02, 0.05), [], "b1", cfg)
    assert c["information_fraction"] == pytest.approx(22 / 90)
    assert c["current_boundary"] == pytest.approx(4.3859, abs=5e-3)
    hr, diff = c["hazard_ratio"], c["difference"]
    assert hr["nominal_upper"] < 1.8 < hr["repeated_upper"] and not hr["crossed"]
    assert diff["nominal_lower"] > -0.12 > diff["repeated_lower"] and not diff["crossed"]
    assert c["primary_criterion"] == "difference" and c["conclusion"] == monitoring.NOT_MET
    # conditional power against the rest of the design, under the trend, the design and the margin
    cp = c["conditional_power"]
    assert cp["margin"] < cp["design"] < cp["trend"] <= 1 and c["futility_guide"]["binding"] is False


def test_the_final_look_after_the_looks_on_record_spends_the_rest():
    """Looks at 0.5 and 0.75 on the record; the final at 95 of 90 deaths (over-running): its
    boundary spends what remains (rpact asUser as above, for 95/90: below 2.05), and a clear
    result is met there."""
    from dashboard.config import load_trial
    from dashboard.views import monitoring

    held = [{"look": 1, "fraction": 0.5, "final": False}, {"look": 2, "fraction": 0.75, "final": False}]
    c = monitoring.conclusion(_ni(95, math.log(0.9), 2 / math.sqrt(95), 0.01, 0.03), held, "b9", load_trial())
    assert c["final"] and c["look_number"] == 3 and c["looks_held_before"] == [0.5, 0.75]
    assert 2.0 < c["current_boundary"] < 2.05
    assert c["conclusion"] == monitoring.MET and c["conditional_power"] is None


def test_the_design_as_configured_disagrees_with_itself_and_says_so():
    from dashboard.views import monitoring

    check = monitoring.design_check()
    # the 12-point margin at 80 % survival is HR 1.73, the HR margin 1.8 a 13.1-point loss
    assert check["hr_implied_by_difference_margin"] == pytest.approx(math.log(0.68) / math.log(0.80))
    assert check["difference_implied_by_hr_margin"] == pytest.approx(0.80 - 0.80**1.8)
    assert check["margins_disagree"] and check["power_short"]
