"""The (stratified) log-rank test of dashboard.stats.comparison against R's survival::survdiff.

Reference values: R 4.2.2 Patched (2022-11-10 r83330), survival 3.5.3 (`packageVersion("survival")`),
Debian bookworm's r-base-core and r-cran-survival, on R's `lung` data (lifelines' copy,
`lifelines.datasets.load_lung`, status 1 = dead, the same rows as R's `lung` whose status is 2):

    survdiff(Surv(time, status) ~ sex, data = lung)
            N Observed Expected (O-E)^2/E (O-E)^2/V
    sex=1 138      112     91.6      4.55      10.3
    sex=2  90       53     73.4      5.68      10.3
     Chisq= 10.3  on 1 degrees of freedom, p= 0.001
    $exp 91.5817390296 73.4182609704; $var[1,1] 40.3714339796; $chisq 10.3267419548856;
    pchisq(chisq, 1, lower.tail = FALSE) 0.00131116452036

    survdiff(Surv(time, status) ~ sex + strata(ph.ecog), data = lung)
    n=227, 1 observation deleted due to missingness.
            N Observed Expected (O-E)^2/E (O-E)^2/V
    sex=1 137      111     90.6      4.57      10.8
    sex=2  90       53     73.4      5.65      10.8
     Chisq= 10.8  on 1 degrees of freedom, p= 0.001
    rowSums($exp) 90.6410226637 73.3589773363 (per ph.ecog stratum 0..3, sex=1: 23.3566721735
    41.9791843579 24.3051661322 1); $var[1,1] 38.3960786002; $chisq 10.7950596334964;
    pchisq(chisq, 1, lower.tail = FALSE) 0.00101771334472

The tests do not call R (CI has no R); the digits above are R's, printed with `digits = 12`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from lifelines.datasets import load_lung
from lifelines.statistics import logrank_test as lifelines_logrank

from dashboard.stats.comparison import logrank_test


@pytest.fixture(scope="module")
def lung():
    return load_lung()


def test_unstratified_matches_r_survdiff(lung):
    r = logrank_test(lung, "time", "status", "sex", 1)
    assert r["reason"] is None and r["stratified_by"] == [] and r["strata"] == 1
    assert (r["by_arm"]["experimental"]["n"], r["by_arm"]["reference"]["n"]) == (138, 90)
    assert (r["by_arm"]["experimental"]["observed"], r["by_arm"]["reference"]["observed"]) == (112, 53)
    assert r["by_arm"]["experimental"]["expected"] == pytest.approx(91.5817390296, abs=1e-9)
    assert r["by_arm"]["reference"]["expected"] == pytest.approx(73.4182609704, abs=1e-9)
    assert r["variance"] == pytest.approx(40.3714339796, abs=1e-9)
    assert r["chisq"] == pytest.approx(10.3267419548856, abs=1e-12)
    assert r["p"] == pytest.approx(0.00131116452036, abs=1e-13)
    assert r["df"] == 1 and r["z"] == pytest.approx(math.sqrt(r["chisq"]))


def test_unstratified_agrees_with_lifelines(lung):
    a, b = lung[lung.sex == 1], lung[lung.sex == 2]
    theirs = lifelines_logrank(a.time, b.time, a.status, b.status)
    ours = logrank_test(lung, "time", "status", "sex", 1)
    assert ours["chisq"] == pytest.approx(theirs.test_statistic, rel=1e-10)
    assert ours["p"] == pytest.approx(theirs.p_value, rel=1e-10)


def test_stratified_by_ph_ecog_matches_r_survdiff(lung):
    r = logrank_test(lung, "time", "status", "sex", 1, strata=["ph.ecog"])
    assert r["dropped"] == 1 and r["n"] == 227 and r["events"] == 164  # R: 1 observation deleted
    assert r["strata"] == 4 and r["stratified_by"] == ["ph.ecog"]
    assert (r["by_arm"]["experimental"]["n"], r["by_arm"]["reference"]["n"]) == (137, 90)
    assert (r["by_arm"]["experimental"]["observed"], r["by_arm"]["reference"]["observed"]) == (111, 53)
    assert r["by_arm"]["experimental"]["expected"] == pytest.approx(90.6410226637, abs=1e-9)
    assert r["by_arm"]["reference"]["expected"] == pytest.approx(73.3589773363, abs=1e-9)
    assert r["variance"] == pytest.approx(38.3960786002, abs=1e-9)
    assert r["chisq"] == pytest.approx(10.7950596334964, abs=1e-12)
    assert r["p"] == pytest.approx(0.00101771334472, abs=1e-13)
    # printed to R's precision
    assert round(r["chisq"], 1) == 10.8 and round(r["by_arm"]["experimental"]["expected"], 1) == 90.6


def test_stratified_sums_the_strata(lung):
    """The stratified statistic is built from each stratum's own O - E and variance, not from one
    pooled table: the per-stratum expected counts are R's $exp columns."""
    used = lung.dropna(subset=["ph.ecog"])
    expected = [
        logrank_test(used[used["ph.ecog"] == g], "time", "status", "sex", 1)["by_arm"]["experimental"]["expected"]
        for g in (0, 1, 2)
    ]
    assert expected == pytest.approx([23.3566721735, 41.9791843579, 24.3051661322], abs=1e-9)
    # ph.ecog 3 has one subject (sex 1, an event): one arm, so it adds E = O = 1 and no variance
    only = logrank_test(used[used["ph.ecog"] == 3], "time", "status", "sex", 1)
    assert only["reason"].startswith("only one arm") and only["chisq"] is None


def test_two_by_two_by_hand():
    """Four subjects: A dies at 1 and 3, B dies at 2 and is censored at 4.
    t=1: n=4, n_A=2, d=1 -> E_A = 1/2, V = 1/2 * 1/2 * 3/3 = 1/4
    t=2: n=3, n_A=1, d=1 -> E_A = 1/3, V = 1/3 * 2/3 * 2/2 = 2/9
    t=3: n=2, n_A=1, d=1 -> E_A = 1/2, V = 1/2 * 1/2 * 1/1 = 1/4
    O_A = 2, E_A = 4/3, V = 13/18, chi-square = (2/3)^2 / (13/18) = 8/13 (R: 0.615384615384615)."""
    df = pd.DataFrame({"t": [1, 2, 3, 4], "e": [1, 1, 1, 0], "arm": ["A", "B", "A", "B"]})
    r = logrank_test(df, "t", "e", "arm", "A")
    assert r["by_arm"]["experimental"]["expected"] == pytest.approx(4 / 3)
    assert r["by_arm"]["reference"]["expected"] == pytest.approx(5 / 3)
    assert r["variance"] == pytest.approx(13 / 18)
    assert r["chisq"] == pytest.approx(8 / 13)
    assert r["o_minus_e"] == pytest.approx(2 / 3)


def test_tied_deaths_use_the_hypergeometric_variance():
    """Two deaths at once among four (two per arm): E_A = 2 * 2/4 = 1, V = 2 * 1/2 * 1/2 * 2/3 = 1/3."""
    df = pd.DataFrame({"t": [5, 5, 5, 5], "e": [1, 0, 1, 0], "arm": ["A", "A", "B", "B"]})
    r = logrank_test(df, "t", "e", "arm", "A")
    assert r["by_arm"]["experimental"]["expected"] == pytest.approx(1.0)
    assert r["variance"] == pytest.approx(1 / 3)
    assert r["chisq"] == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (pd.DataFrame({"t": [], "e": [], "arm": []}), "no subjects"),
        (pd.DataFrame({"t": [1.0, 2.0], "e": [1, 0], "arm": ["A", "A"]}), "only one arm ('A')"),
        (pd.DataFrame({"t": [1.0, 2.0], "e": [0, 0], "arm": ["A", "B"]}), "no events"),
        # the only event happens when the experimental arm is alone at risk
        (pd.DataFrame({"t": [1.0, 5.0], "e": [0, 1], "arm": ["B", "A"]}), "the log-rank variance is 0"),
    ],
)
def test_not_estimable_says_why(frame, reason):
    r = logrank_test(frame, "t", "e", "arm", "A")
    assert r["chisq"] is None and r["p"] is None and r["reason"].startswith(reason)


def test_a_missing_stratum_is_dropped_and_counted():
    df = pd.DataFrame({"t": [1, 2, 3, 4, 5], "e": [1, 1, 1, 0, 1], "arm": list("ABABA"), "s": [1, 1, 2, 2, np.nan]})
    r = logrank_test(df, "t", "e", "arm", "A", strata=["s"])
    assert r["dropped"] == 1 and r["n"] == 4 and r["strata"] == 2


def test_bad_input_is_refused():
    df = pd.DataFrame({"t": [1, 2], "e": [1, 0], "arm": ["A", None]})
    with pytest.raises(ValueError, match="have no arm"):
        logrank_test(df, "t", "e", "arm", "A")
    with pytest.raises(KeyError, match="columns not in the data"):
        logrank_test(df, "t", "e", "arm", "A", strata=["nope"])


# --- end to end: a package with two randomization strata, through the build and the closed view ---

DEATHS = {"01-001": 40, "01-002": 120, "01-005": 90, "01-009": 200, "01-012": 30, "01-013": 150}
ARMS = ["DE-ESCALATION"] * 4 + ["STANDARD"] * 4 + ["DE-ESCALATION"] * 3 + ["STANDARD"] * 3
RESPONSE = ["PR"] * 8 + ["CR"] * 6  # the response stratum; all oral cavity (one site stratum)


def _two_strata():
    """14 operated subjects randomized on 2026-03-01; deaths at the days in DEATHS, the others
    seen alive (an unscheduled follow-up) on day 300 + 10 i."""
    import datetime as dt

    from factory import Package

    pkg = Package()
    rand = dt.date(2026, 3, 1)
    for i, (arm, resp) in enumerate(zip(ARMS, RESPONSE, strict=True)):
        subjid = f"01-{i + 1:03d}"
        pkg.add_subject(subjid, "01", arm=arm, response=resp, randdat=rand.isoformat(), surgery="2026-03-15")
        if subjid in DEATHS:
            when = str(rand + dt.timedelta(days=DEATHS[subjid]))
            pkg.add("DD", SUBJID=subjid, SITEID="01", DTHDAT=when, DTHCAUS="DISEASE")
        else:
            when = str(rand + dt.timedelta(days=300 + 10 * i))
            pkg.add("FU", SUBJID=subjid, SITEID="01", VISIT="UNSCHEDULED", VISDAT=when, SSSTAT="ALIVE")
    return pkg


def test_the_closed_view_stratifies_by_the_randomization_strata_as_r_does(tmp_path):
    """R 4.2.2, survival 3.5.3, on the warehouse's OS times of this package (written to CSV):

    survdiff(Surv(os_days, os_event) ~ arm + strata(stratum_response, stratum_site), data = d)
                      N Observed Expected (O-E)^2/E (O-E)^2/V
    arm=DE-ESCALATION 7        3     3.28    0.0237    0.0546
    arm=STANDARD      7        3     2.72    0.0285    0.0546
    rowSums($exp) 3.27857142857 2.72142857143; $var[1,1] 1.42239795918; $chisq 0.0545571935865705;
    p 0.815315082688

    survdiff(Surv(os_days, os_event) ~ arm, data = d)
    $exp 3.13947163947 2.86052836053; $chisq 0.0130258154336725; p 0.909134190479
    """
    from dashboard.access.roles import Viewer
    from dashboard.ingest.build import build
    from dashboard.store import warehouse
    from dashboard.views import closed

    build(_two_strata().write(tmp_path / "pkg"), tmp_path / "wh")
    con = warehouse.connect(tmp_path / "wh", closed=True)
    try:
        lr = closed.logrank(con, Viewer("dsmb"))["itt"]["os"]
        times = closed.outcomes.survival_times(con, Viewer("dsmb")).set_index("subjid")
    finally:
        con.close()
    assert {s: int(times.loc[s, "os_days"]) for s in DEATHS} == DEATHS  # the times R was given
    assert int(times.loc["01-003", "os_days"]) == 320 and not times.loc["01-003", "os_event"]
    st, un = lr["stratified"], lr["unstratified"]
    assert st["strata"] == 2 and st["stratified_by"] == ["stratum_response", "stratum_site"]
    assert (st["by_arm"]["experimental"]["observed"], st["by_arm"]["reference"]["observed"]) == (3, 3)
    assert st["by_arm"]["experimental"]["expected"] == pytest.approx(3.27857142857, abs=1e-10)
    assert st["by_arm"]["reference"]["expected"] == pytest.approx(2.72142857143, abs=1e-10)
    assert st["variance"] == pytest.approx(1.42239795918, abs=1e-10)
    assert st["chisq"] == pytest.approx(0.0545571935865705, abs=1e-13)
    assert st["p"] == pytest.approx(0.815315082688, abs=1e-11)
    assert un["strata"] == 1
    assert un["by_arm"]["experimental"]["expected"] == pytest.approx(3.13947163947, abs=1e-10)
    assert un["chisq"] == pytest.approx(0.0130258154336725, abs=1e-13)
    assert un["p"] == pytest.approx(0.909134190479, abs=1e-11)


def test_lung_through_the_warehouse_matches_r_and_its_empty_per_protocol_set_is_said(tmp_path):
    """R's lung data as an export package (tests/factory.lung_package: arms alternate by row, the
    first row de-escalation; nobody is operated, so the per-protocol set is empty). R 4.2.2,
    survival 3.5.3:

    lung$arm <- ifelse((seq_len(nrow(lung)) - 1) %% 2 == 1, "STANDARD", "DE-ESCALATION")
    survdiff(Surv(time, status) ~ arm, data = lung)
                        N Observed Expected (O-E)^2/E (O-E)^2/V
    arm=DE-ESCALATION 114       82     97.2      2.39      5.97
    arm=STANDARD      114       83     67.8      3.43      5.97
    $exp 97.2394466378 67.7605533622; $var[1,1] 38.9319241279; $chisq 5.96530325763427;
    p 0.0145900910425

    Every subject is in one randomization stratum, so the stratified test is the same."""
    from dashboard.access.roles import Viewer
    from dashboard.ingest.build import build
    from dashboard.store import warehouse
    from dashboard.views import closed
    from factory import lung_package

    build(lung_package().write(tmp_path / "pkg"), tmp_path / "wh")
    con = warehouse.connect(tmp_path / "wh", closed=True)
    try:
        lr = closed.logrank(con, Viewer("dsmb"))
        surv = closed.survival_by_arm(con, Viewer("dsmb"))
        closed.summary_part(con, Viewer("dsmb"))  # the DSMB summary's part does not fail either
    finally:
        con.close()
    for kind in ("stratified", "unstratified"):
        r = lr["itt"]["os"][kind]
        assert (r["by_arm"]["experimental"]["n"], r["by_arm"]["reference"]["n"]) == (114, 114)
        assert (r["by_arm"]["experimental"]["observed"], r["by_arm"]["reference"]["observed"]) == (82, 83)
        assert r["by_arm"]["experimental"]["expected"] == pytest.approx(97.2394466378, abs=1e-9)
        assert r["by_arm"]["reference"]["expected"] == pytest.approx(67.7605533622, abs=1e-9)
        assert r["variance"] == pytest.approx(38.9319241279, abs=1e-9)
        assert r["chisq"] == pytest.approx(5.96530325763427, abs=1e-12)
        assert r["p"] == pytest.approx(0.0145900910425, abs=1e-12)
        assert lr["pp"]["os"][kind]["reason"] == "no subjects"
    labels = {"DE-ESCALATION": "De-escalation surgery", "STANDARD": "Standard surgery"}
    assert closed.empty_message(surv["pp"]["os"], labels) == (
        "No subjects to analyse in this set: De-escalation surgery: no subjects; Standard surgery: no subjects"
    )
