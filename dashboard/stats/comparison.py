"""Between-arm comparisons for the closed DSMB pages: the difference in Kaplan-Meier survival at a
landmark (the absolute non-inferiority margin) and the Cox hazard ratio, optionally stratified by
the randomization strata (the hazard-ratio margin).

Arm A is the experimental arm (de-escalation) and arm B the reference (standard surgery); a
difference is A minus B, a hazard ratio is experimental over reference. Times are in days.

The Kaplan-Meier estimates come from :mod:`dashboard.stats.survival` (R-compatible landmarks, Greenwood
variance); the Cox fit is lifelines' ``CoxPHFitter``, which handles ties by Efron's method, the
default of R's ``coxph``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from lifelines.exceptions import ConvergenceError, ConvergenceWarning
from scipy.stats import chi2, norm

from dashboard.i18n import _
from dashboard.stats.survival import _check_conf, _clean, _fit, kaplan_meier

_DIFFERENCE_KEYS = ("difference", "lower", "upper", "se", "lower_one_sided")
_COX_KEYS = ("hazard_ratio", "lower", "upper", "log_hr", "se", "z", "p")


def _greenwood_var_log(t: np.ndarray, e: np.ndarray, at: float) -> float:
    """Greenwood's variance of log S(at): the sum over event times <= at of d / (n (n - d)).

    Infinite once every subject at risk at some event time <= at has the event (S(at) = 0).
    The event table is the one :func:`dashboard.stats.survival.kaplan_meier` is built from.
    """
    curve = _fit(t, e, "plain", 1.0)
    upto = curve[(curve["time"] <= at) & (curve["observed"] > 0)]
    n = upto["at_risk"].to_numpy(dtype=float)
    d = upto["observed"].to_numpy(dtype=float)
    with np.errstate(divide="ignore"):
        return float(np.sum(d / (n * (n - d))))


def _arm_at(durations, events, at: float, alpha: float) -> dict:
    """S(at), its Greenwood standard error (plain scale), the number at risk, or why not (`why`:
    "beyond" the longest follow-up, or "zero" survival; `difference_reason` says it in words)."""
    t, e = _clean(durations, events)
    landmark = kaplan_meier(t, e, landmarks={"at": at}, conf_type="plain", alpha=alpha)["landmarks"]["at"]
    out = {
        "survival": landmark["survival"],
        "se": None,
        "at_risk": landmark["at_risk"],
        "max_time": float(t.max()),
        "why": None,
    }
    s = landmark["survival"]
    if s is None:
        out["why"] = "beyond"
    elif s <= 0.0:
        out["why"] = "zero"
    else:
        out["se"] = s * math.sqrt(_greenwood_var_log(t, e, at))
    return out


def _is_empty(values) -> bool:
    return values is None or len(values) == 0


def difference_reason(reasons: list[dict] | None, names: dict[str, str] | None = None) -> str | None:
    """Why a survival difference is not estimable, in the reader's language, from its `reasons`
    (survival_difference: one per arm, ``arm`` "a" or "b", ``why`` "no subjects", "beyond" the
    longest follow-up ``max_time``, or "zero" survival); `names` the arms as the reader knows them
    ("arm A" and "arm B" when not given)."""
    if not reasons:
        return None
    names = names or {"a": _("arm A"), "b": _("arm B")}
    parts = []
    for r in reasons:
        arm = names[r["arm"]]
        if r["why"] == "no subjects":
            parts.append(_("{arm} has no subjects").format(arm=arm))
        elif r["why"] == "beyond":
            parts.append(
                _("{arm}: beyond the longest follow-up ({days} days)").format(arm=arm, days=f"{r['max_time']:g}")
            )
        else:
            parts.append(
                _("{arm}: survival is 0, so its Greenwood standard error is undefined (R: NaN)").format(arm=arm)
            )
    return _("; ").join(parts)


def survival_difference(durations_a, events_a, durations_b, events_b, at: float, alpha: float = 0.05) -> dict:
    """Difference in Kaplan-Meier survival at `at`, arm A minus arm B, with a Wald interval.

    S_A(at) and S_B(at) are the Kaplan-Meier estimates at `at` (events at `at` included, as R's
    ``summary(survfit(...), times = at)``); each has Greenwood's standard error on the survival
    scale, ``se = S(at) sqrt(sum d / (n (n - d)))`` (R's ``std.err``). The arms are independent,
    so the difference has ``se = sqrt(se_a^2 + se_b^2)`` and the two-sided (1 - alpha) interval is
    ``difference -+ z_{1 - alpha/2} se``. Its lower limit is also the one-sided (1 - alpha/2)
    lower bound, the one a DSMB compares with ``-margin`` for an absolute non-inferiority margin.

    Parameters
    ----------
    durations_a, events_a : array-like
        Arm A (experimental, de-escalation): time in days (>= 0) and 1/True for an event,
        0/False for censoring.
    durations_b, events_b : array-like
        Arm B (reference, standard surgery), likewise.
    at : float
        Landmark time in days (3 years = ``months_to_days(36, days_per_month)``), >= 0 and finite.
    alpha : float, default 0.05
        1 - confidence level of the two-sided interval; the one-sided bound is at ``alpha / 2``.

    Returns
    -------
    dict
        ``difference`` (S_A - S_B), ``lower``, ``upper``, ``se`` (of the difference),
        ``lower_one_sided`` (equal to ``lower``) and ``one_sided_alpha`` (``alpha / 2``),
        ``survival_a``, ``survival_b``, ``se_a``, ``se_b``, ``at_risk_a``, ``at_risk_b``, ``at``,
        ``alpha``, ``estimable`` (bool), ``reason`` (None, or why it is not estimable, in the
        reader's language) and ``reasons`` (the same per arm as codes: :func:`difference_reason`).
        When ``estimable`` is False the difference, its limits and its standard error are None:
        when an arm has no subjects, when `at` is beyond the longest follow-up of either arm
        (that arm's ``survival`` and ``se`` are None too; the last value is never carried
        forward), or when an arm's survival is 0 (its Greenwood standard error is undefined).

    Raises
    ------
    ValueError
        If `at` or `alpha` is invalid, or the data are (missing, negative or infinite
        durations, events not 0/1; the messages of :func:`dashboard.stats.survival.kaplan_meier`).

    Notes
    -----
    The interval is the plain Wald interval on the difference and is not truncated to [-1, 1].
    Greenwood's standard error is 0 while an arm has no events before `at`, so early in a trial
    the interval can be degenerate.
    """
    z = _check_conf("plain", alpha)
    at = float(at)
    if not math.isfinite(at) or at < 0:
        raise ValueError(_("at must be a non-negative time in days, not {at}").format(at=repr(at)))
    out: dict = {
        "at": at,
        "alpha": alpha,
        "one_sided_alpha": alpha / 2,
        **dict.fromkeys(_DIFFERENCE_KEYS),
        "survival_a": None,
        "survival_b": None,
        "se_a": None,
        "se_b": None,
        "at_risk_a": 0,
        "at_risk_b": 0,
        "estimable": False,
        "reason": None,
        "reasons": [],
    }
    reasons = []
    arms = {}
    for label, durations, events in (("a", durations_a, events_a), ("b", durations_b, events_b)):
        if _is_empty(durations) and _is_empty(events):
            reasons.append({"arm": label, "why": "no subjects", "max_time": None})
            continue
        arm = _arm_at(durations, events, at, alpha)
        arms[label] = arm
        out.update({f"survival_{label}": arm["survival"], f"se_{label}": arm["se"], f"at_risk_{label}": arm["at_risk"]})
        if arm["why"]:
            reasons.append({"arm": label, "why": arm["why"], "max_time": arm["max_time"]})
    if reasons:
        out["reasons"] = reasons
        out["reason"] = difference_reason(reasons)
        return out
    a, b = arms["a"], arms["b"]
    difference = a["survival"] - b["survival"]
    se = math.sqrt(a["se"] ** 2 + b["se"] ** 2)
    out.update(difference=difference, se=se, lower=difference - z * se, upper=difference + z * se, estimable=True)
    out["lower_one_sided"] = out["lower"]
    return out


def noninferiority_z(difference: float | None, se: float | None, margin: float) -> float | None:
    """Wald statistic for non-inferiority on the survival difference: ``(difference + margin) / se``.

    H0: S_A - S_B <= -margin. Large values favour non-inferiority; compare with
    ``z_{1 - alpha/2}`` (1.96 for a one-sided 2.5% test) or a group-sequential boundary.

    Parameters
    ----------
    difference : float or None
        S_A - S_B on the probability scale, as :func:`survival_difference` returns it.
    se : float or None
        Standard error of the difference.
    margin : float
        Non-inferiority margin on the probability scale, in (0, 1): 0.12 for 12 percentage points.

    Returns
    -------
    float or None
        The statistic; None when `difference` or `se` is None (not estimable). With ``se == 0``
        the limit: +inf or -inf by the sign of ``difference + margin`` (NaN if that is 0).

    Raises
    ------
    ValueError
        If `margin` is not in (0, 1) (e.g. 12 given for 12 percentage points) or `se` is
        negative or not finite.
    """
    margin = float(margin)
    if not 0 < margin < 1:
        raise ValueError(
            _(
                "margin must be on the probability scale, in (0, 1) (0.12 for 12 percentage points), not {margin}"
            ).format(margin=repr(margin))
        )
    if difference is None or se is None:
        return None
    if not math.isfinite(se) or se < 0:
        raise ValueError(_("se must be finite and >= 0, not {se}").format(se=repr(se)))
    numerator = float(difference) + margin
    if se == 0:
        return math.copysign(math.inf, numerator) if numerator != 0 else math.nan
    return numerator / se


def _cox_not_estimable(out: dict, reason: str) -> dict:
    out.update(dict.fromkeys(_COX_KEYS), reason=reason)
    return out


def _informative_events(t: np.ndarray, e: np.ndarray, x: np.ndarray, groups: np.ndarray) -> tuple[int, int]:
    """Events in each arm (experimental, reference) at times whose risk set, within the stratum,
    holds both arms. If either count is 0 the partial likelihood is monotone in beta and the
    maximum-likelihood hazard ratio is 0 or infinite."""
    exp_events = ref_events = 0
    for g in np.unique(groups):
        tg, eg, xg = t[groups == g], e[groups == g], x[groups == g]
        for time in np.unique(tg[eg == 1]):
            risk = tg >= time
            if xg[risk].min() == xg[risk].max():
                continue
            dying = (tg == time) & (eg == 1)
            exp_events += int(np.count_nonzero(dying & (xg == 1)))
            ref_events += int(np.count_nonzero(dying & (xg == 0)))
    return exp_events, ref_events


def _two_arms(df, duration_col, event_col, arm_col, experimental, strata, what: str):
    """The checks two-arm comparisons share: the columns exist, every row has an arm, at most two
    arms, one of them `experimental` when there are two. Returns (strata, labels, other labels)."""
    strata = list(strata or [])
    columns = [duration_col, event_col, arm_col, *strata]
    missing_cols = [c for c in dict.fromkeys(columns) if c not in df.columns]
    if missing_cols:
        raise KeyError(_("columns not in the data: {columns}").format(columns=missing_cols))
    arm = df[arm_col]
    if arm.isna().any():
        raise ValueError(_("{n} row(s) have no arm in {column}").format(n=int(arm.isna().sum()), column=repr(arm_col)))
    labels = list(pd.unique(arm))
    if len(labels) > 2:
        raise ValueError(
            _("{column} has {n} arms {arms}; {what} needs two").format(
                column=repr(arm_col), n=len(labels), arms=labels, what=what
            )
        )
    if len(labels) == 2 and experimental not in labels:
        raise ValueError(
            _("the experimental arm {arm} is not one of {arms}").format(arm=repr(experimental), arms=labels)
        )
    others = [lab.item() if isinstance(lab, np.generic) else lab for lab in labels if lab != experimental]
    return strata, labels, others


def cox_hazard_ratio(
    df: pd.DataFrame,
    duration_col: str,
    event_col: str,
    arm_col: str,
    experimental,
    strata: list[str] | None = None,
    alpha: float = 0.05,
) -> dict:
    """Cox proportional-hazards hazard ratio of the experimental arm versus the other arm.

    The model has one covariate, 1 for the experimental arm and 0 for the other; with `strata`
    each combination of the strata columns has its own baseline hazard (R's
    ``coxph(Surv(time, status) ~ arm + strata(s1, s2))``). Ties are handled by Efron's method, R's
    default. The interval and p-value are Wald's: ``exp(log_hr -+ z_{1 - alpha/2} se)`` and
    ``2 (1 - Phi(|log_hr| / se))``, as ``summary(coxph(...))`` prints them.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per subject. Other columns are ignored.
    duration_col : str
        Column of times in days (>= 0, no missing values).
    event_col : str
        Column of event indicators, 1/True for an event, 0/False for censoring (no missing values).
    arm_col : str
        Column of arm labels (no missing values); at most two distinct labels.
    experimental : object
        The label of the experimental arm in `arm_col`; the other label is the reference.
    strata : list of str, optional
        Stratification columns (the randomization strata). Rows with a missing value in any of
        them are dropped and counted in ``dropped``, as R's default ``na.action`` does.
    alpha : float, default 0.05
        1 - confidence level of the interval.

    Returns
    -------
    dict
        ``hazard_ratio``, ``lower``, ``upper``, ``log_hr``, ``se`` (of log_hr), ``z``, ``p``;
        ``events`` and ``n`` (in the rows used), ``events_experimental``, ``events_reference``,
        ``dropped`` (rows dropped for missing strata), ``stratified_by`` (the strata columns, an
        empty list if none), ``experimental``, ``reference`` (the other label, None if absent)
        and ``reason``. When the hazard ratio is not estimable the first seven are None and
        ``reason`` says why: no subjects, a single arm, no events, no events in an arm, or no
        event in a risk set holding both arms for one of the arms (the estimate would be 0 or
        infinite, where R's ``coxph`` warns that the coefficient may be infinite).

    Raises
    ------
    KeyError
        If a named column is not in `df`.
    ValueError
        If `alpha` is invalid, durations or events are missing or invalid, an arm label is
        missing, `arm_col` has more than two labels, or it has two and neither is `experimental`.
    """
    z_crit = _check_conf("plain", alpha)
    strata, labels, others = _two_arms(df, duration_col, event_col, arm_col, experimental, strata, _("a hazard ratio"))

    out: dict = {
        **dict.fromkeys(_COX_KEYS),
        "events": 0,
        "n": 0,
        "events_experimental": 0,
        "events_reference": 0,
        "dropped": 0,
        "stratified_by": strata,
        "experimental": experimental,
        "reference": others[0] if others else None,
        "reason": None,
    }

    keep = ~df[strata].isna().any(axis=1).to_numpy() if strata else np.ones(len(df), dtype=bool)
    out["dropped"] = int(np.count_nonzero(~keep))
    used = df.loc[keep]
    if len(used) == 0:
        why = _("no subjects") if len(df) == 0 else _("no subjects with all strata recorded")
        return _cox_not_estimable(out, why)
    t, e = _clean(used[duration_col], used[event_col])
    x = (used[arm_col] == experimental).to_numpy(dtype=int)
    groups = (
        used.groupby(strata, sort=False, observed=True).ngroup().to_numpy()
        if strata
        else np.zeros(len(used), dtype=int)
    )
    out.update(
        n=int(len(used)),
        events=int(e.sum()),
        events_experimental=int(e[x == 1].sum()),
        events_reference=int(e[x == 0].sum()),
    )

    if x.min() == x.max():
        present = experimental if x[0] == 1 else out["reference"]
        return _cox_not_estimable(out, _("only one arm ({arm}) among the subjects used").format(arm=repr(present)))
    if out["events"] == 0:
        return _cox_not_estimable(out, _("no events"))
    if out["events_experimental"] == 0 or out["events_reference"] == 0:
        empty = experimental if out["events_experimental"] == 0 else out["reference"]
        return _cox_not_estimable(
            out, _("no events in arm {arm}: the hazard ratio is 0 or infinite").format(arm=repr(empty))
        )
    exp_info, ref_info = _informative_events(t, e, x, groups)
    if exp_info == 0 or ref_info == 0:
        empty = experimental if exp_info == 0 else out["reference"]
        why = (
            _(
                "no event in arm {arm} at a time when both arms are at risk within a stratum "
                "(monotone likelihood: the hazard ratio is 0 or infinite)"
            )
            if strata
            else _(
                "no event in arm {arm} at a time when both arms are at risk "
                "(monotone likelihood: the hazard ratio is 0 or infinite)"
            )
        )
        return _cox_not_estimable(out, why.format(arm=repr(empty)))

    data = pd.DataFrame({"time": t, "event": e, "experimental": x})
    if strata:
        data["stratum"] = groups
    fitter = CoxPHFitter(strata=["stratum"] if strata else None, alpha=alpha)
    try:
        with warnings.catch_warnings():
            # lifelines' separation heuristics; true separation is caught above.
            warnings.simplefilter("ignore", ConvergenceWarning)
            fitter.fit(data, duration_col="time", event_col="event")
    except ConvergenceError as exc:  # pragma: no cover - guarded by the checks above
        return _cox_not_estimable(out, _("the Cox fit did not converge: {error}").format(error=exc))
    log_hr = float(fitter.params_["experimental"])
    se = float(fitter.standard_errors_["experimental"])
    if not (math.isfinite(log_hr) and math.isfinite(se) and se > 0):  # pragma: no cover
        return _cox_not_estimable(out, _("the Cox fit gave no finite estimate"))
    z = log_hr / se
    out.update(
        hazard_ratio=math.exp(log_hr),
        lower=math.exp(log_hr - z_crit * se),
        upper=math.exp(log_hr + z_crit * se),
        log_hr=log_hr,
        se=se,
        z=z,
        p=float(2 * norm.sf(abs(z))),
    )
    return out


_LOGRANK_KEYS = ("chisq", "p", "o_minus_e", "variance", "z")


def _logrank_stratum(t: np.ndarray, e: np.ndarray, x: np.ndarray) -> tuple[float, float, float, int]:
    """One stratum's log-rank pieces for the experimental arm (x == 1): observed events, expected
    events and the hypergeometric variance of O - E, summed over the distinct event times, and
    the number of those times. At a time with n at risk (n1 experimental) and d events,
    ``E = d n1 / n`` and ``V = d (n1 / n) (1 - n1 / n) (n - d) / (n - 1)`` (0 when n = 1)."""
    times = np.unique(t[e == 1])
    if len(times) == 0:
        return float(np.sum(e[x == 1])), 0.0, 0.0, 0
    order = np.sort(t)
    order1 = np.sort(t[x == 1])
    n = len(t) - np.searchsorted(order, times, side="left")
    n1 = len(order1) - np.searchsorted(order1, times, side="left")
    ev, ev1 = t[e == 1], t[(e == 1) & (x == 1)]
    d = np.searchsorted(np.sort(ev), times, side="right") - np.searchsorted(np.sort(ev), times, side="left")
    n = n.astype(float)
    share = n1 / n
    expected = float(np.sum(d * share))
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.where(n > 1, d * share * (1 - share) * (n - d) / (n - 1), 0.0)
    return float(len(ev1)), expected, float(np.sum(v)), int(len(times))


def logrank_test(
    df: pd.DataFrame,
    duration_col: str,
    event_col: str,
    arm_col: str,
    experimental,
    strata: list[str] | None = None,
) -> dict:
    """Log-rank test of the experimental arm against the other, optionally stratified, as R's
    ``survdiff(Surv(time, status) ~ arm + strata(s1, s2))`` computes it.

    Within each stratum (each combination of the strata columns; the whole data set without
    `strata`), at each distinct event time the experimental arm's expected events are
    ``d n1 / n`` and the hypergeometric variance of its observed minus expected is
    ``d (n1/n) (1 - n1/n) (n - d) / (n - 1)``. Observed, expected and variance are summed over
    the event times and then over the strata; the statistic ``(O - E)^2 / V`` is chi-square with
    1 degree of freedom. The reference arm's expected events are its stratum totals minus the
    experimental arm's, so both arms' O - E are equal and opposite.

    Parameters
    ----------
    df, duration_col, event_col, arm_col, experimental, strata
        As for :func:`cox_hazard_ratio`: one row per subject; rows with a missing stratum are
        dropped and counted in ``dropped`` (R's default ``na.action``).

    Returns
    -------
    dict
        ``chisq``, ``df`` (1), ``p`` (upper chi-square tail), ``o_minus_e`` and ``variance`` (of
        the experimental arm), ``z`` (``(O - E) / sqrt(V)``: negative when the experimental arm
        has fewer events than expected); ``by_arm``: for ``experimental`` and ``reference`` the
        ``label``, ``n``, ``observed`` and ``expected``; ``n``, ``events``, ``dropped``,
        ``strata`` (the number of strata used), ``stratified_by``, ``experimental``,
        ``reference`` and ``reason``. When the test is not estimable (no subjects, one arm, no
        events, or zero variance) the first five are None and ``reason`` says why; the counts are
        still given.

    Raises
    ------
    KeyError, ValueError
        As :func:`cox_hazard_ratio`: a missing column, invalid durations or events, a missing arm,
        more than two arms, or two arms of which none is `experimental`.
    """
    strata, labels, others = _two_arms(
        df, duration_col, event_col, arm_col, experimental, strata, _("a log-rank test of two arms")
    )
    reference = others[0] if others else None

    keep = ~df[strata].isna().any(axis=1).to_numpy() if strata else np.ones(len(df), dtype=bool)
    used = df.loc[keep]
    out: dict = {
        **dict.fromkeys(_LOGRANK_KEYS),
        "df": 1,
        "by_arm": {
            "experimental": {"label": experimental, "n": 0, "observed": 0, "expected": None},
            "reference": {"label": reference, "n": 0, "observed": 0, "expected": None},
        },
        "n": int(len(used)),
        "events": 0,
        "dropped": int(np.count_nonzero(~keep)),
        "strata": 0,
        "stratified_by": strata,
        "experimental": experimental,
        "reference": reference,
        "reason": None,
    }
    if len(used) == 0:
        out["reason"] = _("no subjects") if len(df) == 0 else _("no subjects with all strata recorded")
        return out
    t, e = _clean(used[duration_col], used[event_col])
    e = e.astype(int)
    x = (used[arm_col] == experimental).to_numpy(dtype=int)
    groups = (
        used.groupby(strata, sort=False, observed=True).ngroup().to_numpy()
        if strata
        else np.zeros(len(used), dtype=int)
    )
    exp_arm, ref_arm = out["by_arm"]["experimental"], out["by_arm"]["reference"]
    exp_arm.update(n=int(np.sum(x == 1)), observed=int(np.sum(e[x == 1])))
    ref_arm.update(n=int(np.sum(x == 0)), observed=int(np.sum(e[x == 0])))
    out["events"] = int(e.sum())
    out["strata"] = int(len(np.unique(groups)))
    if x.min() == x.max():
        present = experimental if x[0] == 1 else reference
        out["reason"] = _("only one arm ({arm}) among the subjects used").format(arm=repr(present))
        return out
    if out["events"] == 0:
        out["reason"] = _("no events")
        return out
    observed = expected = variance = 0.0
    for g in np.unique(groups):
        o_g, e_g, v_g, _times = _logrank_stratum(t[groups == g], e[groups == g], x[groups == g])
        observed += o_g
        expected += e_g
        variance += v_g
    exp_arm["expected"] = expected
    ref_arm["expected"] = out["events"] - expected
    if variance <= 0:
        out["reason"] = (
            _("the log-rank variance is 0: no event time has both arms at risk within a stratum")
            if strata
            else _("the log-rank variance is 0: no event time has both arms at risk")
        )
        return out
    o_minus_e = observed - expected
    chisq = o_minus_e**2 / variance
    out.update(
        chisq=chisq,
        p=float(chi2.sf(chisq, 1)),
        o_minus_e=o_minus_e,
        variance=variance,
        z=o_minus_e / math.sqrt(variance),
    )
    return out
