"""The pooled Kaplan-Meier of the survival page, end to end (package -> build -> warehouse ->
outcomes), against R's published output for the `lung` data.

Reference: R survival, `survfit(Surv(time, status) ~ 1, data = lung)`: n = 228, events = 165,
median 310, 0.95 LCL 285, UCL 363 (conf.type "log", R's default); and
`summary(fit, times = 365.25)`: n.risk 65, survival 0.409, 95% CI 0.345 to 0.486.
Published in E. C. Zabor, "Survival analysis in R" (https://www.emilyzabor.com/survival-analysis-in-r.html).
"""

from __future__ import annotations

import math

import pytest

from dashboard.access.roles import Viewer
from dashboard.config import load_trial
from dashboard.ingest.build import build
from dashboard.store import warehouse
from dashboard.views import outcomes
from factory import lung_package


@pytest.fixture(scope="module")
def lung_times(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lung")
    build(lung_package().write(tmp / "pkg"), tmp / "wh")
    con = warehouse.connect(tmp / "wh")
    yield outcomes.survival_times(con, Viewer("steering"))
    con.close()


def test_the_warehouse_keeps_the_data_sets_times(lung_times):
    assert len(lung_times) == 228
    assert int(lung_times.os_event.sum()) == 165
    assert int(lung_times.os_days.max()) == 1022


def test_median_and_its_log_interval_match_r(lung_times):
    km = outcomes.km_summary(lung_times, "os", load_trial(), conf_type="log")
    assert (km["n"], km["events"]) == (228, 165)
    assert km["median_days"] == 310
    assert (km["median_lower"], km["median_upper"]) == (285, 363)


def test_one_year_landmark_matches_r(lung_times):
    km = outcomes.km_summary(lung_times, "os", load_trial(), conf_type="log")
    one_year = km["landmarks"]["12"]  # 12 x 30.4375 = 365.25 days, R's times = 365.25
    assert one_year["at_risk"] == 65
    assert one_year["survival"] == pytest.approx(0.409, abs=5e-4)
    assert one_year["lower"] == pytest.approx(0.345, abs=5e-4)
    assert one_year["upper"] == pytest.approx(0.486, abs=5e-4)


def test_landmarks_beyond_follow_up_are_not_estimable(lung_times):
    km = outcomes.km_summary(lung_times, "os", load_trial())
    assert km["landmarks"]["36"]["survival"] is None  # 1095.75 days > 1022
    assert km["landmarks"]["36"]["at_risk"] == 0


def test_the_page_band_is_log_log(lung_times):
    """The page shows the log-log band; its median interval differs from R's log one."""
    km = outcomes.km_summary(lung_times, "os", load_trial())
    assert km["median_days"] == 310
    assert outcomes.CONF_TYPE == "log-log"
    assert km["median_lower"] is not None and km["median_upper"] is not None


def test_the_page_band_at_one_year_follows_from_rs_published_estimate_and_std_err(lung_times):
    """The page's one-year limits, from R's published numbers rather than from lifelines (which
    the code calls): summary(fit, times = 365.25) prints survival 0.409 and std.err 0.0358
    (Greenwood, on the survival scale; same source as above). On the log(-log) scale
    se = std.err / S, limits S ** exp(-+ z se / log S). With every value in the rounding box of
    the printed ones (S 0.4085..0.4095, std.err 0.03575..0.03585) the lower limit lies in
    0.3379..0.3392 and the upper in 0.4775..0.4787 (worked out at the box's corners)."""
    z = 1.959963984540054
    corners = []
    for surv in (0.4085, 0.4095):
        for std_err in (0.03575, 0.03585):
            se, log_s = std_err / surv, math.log(surv)
            corners.append((surv ** math.exp(-z * se / log_s), surv ** math.exp(z * se / log_s)))
    lower = (min(c[0] for c in corners), max(c[0] for c in corners))
    upper = (min(c[1] for c in corners), max(c[1] for c in corners))
    assert lower == pytest.approx((0.33793, 0.33911), abs=1e-5) and upper == pytest.approx((0.47751, 0.47868), abs=1e-5)
    one_year = outcomes.km_summary(lung_times, "os", load_trial())["landmarks"]["12"]
    assert lower[0] <= one_year["lower"] <= lower[1]
    assert upper[0] <= one_year["upper"] <= upper[1]
