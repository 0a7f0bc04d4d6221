"""Kaplan-Meier estimates, median follow-up and design-curve expectations for the survival pages."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from scipy.stats import norm

from dashboard.i18n import _

CONF_TYPES = ("log", "log-log", "plain")

# R's survival package decides "is this survival exactly 0.5?" with the tolerance all.equal()
# uses, sqrt(machine epsilon) (survmean() in R/print.survfit.R).
_R_TOLERANCE = math.sqrt(np.finfo(float).eps)


def _numeric(values, name: str) -> np.ndarray:
    """Return `values` as a 1-D float array, with pandas' missing markers (None, NA, NaT) as NaN."""
    if isinstance(values, (pd.Series, pd.Index)):
        series = pd.Series(values)
    else:
        array = values if isinstance(values, np.ndarray) else np.asarray(values, dtype=object)
        if array.ndim > 1:
            raise ValueError(_("{name} must be one-dimensional").format(name=name))
        series = pd.Series(array.reshape(-1))
        if series.dtype == object:
            series = series.infer_objects()
    if pd.api.types.is_datetime64_any_dtype(series) or pd.api.types.is_timedelta64_dtype(series):
        raise TypeError(_("{name} must be numbers (days), not dates or timedeltas").format(name=name))
    try:
        series = pd.to_numeric(series, errors="raise")
    except (TypeError, ValueError) as exc:
        raise ValueError(_("{name} must be numeric: {exc}").format(name=name, exc=exc)) from None
    return series.to_numpy(dtype=float, na_value=np.nan)


def _clean(durations, events) -> tuple[np.ndarray, np.ndarray]:
    """Validate durations (days) and 0/1 event indicators; return float and int arrays."""
    t = _numeric(durations, "durations")
    e = _numeric(events, "events")
    if t.shape != e.shape:
        raise ValueError(
            _("durations and events differ in length ({durations} vs {events})").format(durations=t.size, events=e.size)
        )
    missing = int(np.count_nonzero(np.isnan(t) | np.isnan(e)))
    if missing:
        raise ValueError(
            _(
                "{missing} row(s) have a missing duration or event indicator (NaN); "
                "drop or impute them before estimating"
            ).format(missing=missing)
        )
    if t.size == 0:
        raise ValueError(_("no subjects: durations is empty"))
    if not np.all(np.isfinite(t)):
        raise ValueError(_("{n} duration(s) are infinite").format(n=int(np.count_nonzero(~np.isfinite(t)))))
    if np.any(t < 0):
        raise ValueError(_("{n} duration(s) are negative").format(n=int(np.count_nonzero(t < 0))))
    if not np.all((e == 0) | (e == 1)):
        raise ValueError(_("events must be 0 (censored) or 1 (event)"))
    return t, e.astype(int)


def months_to_days(months: float, days_per_month: float) -> float:
    """Days in `months` months, not rounded (landmarks; the export spec fixes the month at
    trial.toml's days_per_month, 30.4375 days).

    Parameters
    ----------
    months : float
        Number of months.
    days_per_month : float
        Days in one month.

    Returns
    -------
    float
        ``months * days_per_month``.
    """
    return float(months) * days_per_month


def _check_conf(conf_type: str, alpha: float) -> float:
    """Validate the CI settings and return the normal quantile z_{1 - alpha/2}."""
    if conf_type not in CONF_TYPES:
        raise ValueError(
            _("conf_type must be one of {types}, not {conf_type}").format(types=CONF_TYPES, conf_type=repr(conf_type))
        )
    if not 0 < alpha < 1:
        raise ValueError(_("alpha must be in (0, 1), not {alpha}").format(alpha=repr(alpha)))
    return float(norm.ppf(1 - alpha / 2))


def _confidence_band(surv: np.ndarray, se_log: np.ndarray, conf_type: str, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise CI from the Greenwood standard error of log S, as R's survfit computes it.

    ``log``: exp(log S -+ z se), upper clipped at 1 (R's default).
    ``log-log``: exp(-exp(log(-log S) -+ z se / log S)) (R's conf.type="log-log"; lifelines'
    "exponential Greenwood").
    ``plain``: S -+ z se S, clipped to [0, 1].
    Where S = 0 (or se is infinite) the limits are NaN, as R reports NA. Where S = 1 the limits are
    1 (R gives NA there for log-log only).
    """
    lower = np.full_like(surv, np.nan)
    upper = np.full_like(surv, np.nan)
    one = surv >= 1.0
    lower[one] = upper[one] = 1.0
    ok = (surv > 0) & ~one & np.isfinite(se_log)
    s, se = surv[ok], se_log[ok]
    if conf_type == "log":
        lower[ok] = np.exp(np.log(s) - z * se)
        upper[ok] = np.minimum(np.exp(np.log(s) + z * se), 1.0)
    elif conf_type == "log-log":
        shift = z * se / np.log(s)
        lower[ok] = np.exp(-np.exp(np.log(-np.log(s)) - shift))
        upper[ok] = np.exp(-np.exp(np.log(-np.log(s)) + shift))
    else:  # plain
        lower[ok] = np.maximum(s - z * se * s, 0.0)
        upper[ok] = np.minimum(s + z * se * s, 1.0)
    return lower, upper


def _r_median(times: np.ndarray, curve: np.ndarray) -> float | None:
    """The time a curve first reaches 0.5, by the rule of R's print.survfit (survmean's minmin).

    Keep the points with curve < 0.5 + tol (NaN dropped); none -> None. If the first kept value
    equals 0.5 within tol and the curve later drops below it, return the average of that time and
    the first time it is lower (the curve is flat at exactly 0.5 over that interval); otherwise
    return the first kept time. A curve that ends flat at exactly 0.5 gives the time it got there.
    """
    keep = ~np.isnan(curve) & (curve < 0.5 + _R_TOLERANCE)
    if not keep.any():
        return None
    x, y = times[keep], curve[keep]
    if abs(y[0] - 0.5) < _R_TOLERANCE:
        below = np.flatnonzero(y < y[0])
        if below.size:
            return float((x[0] + x[below[0]]) / 2)
    return float(x[0])


def _fit(t: np.ndarray, e: np.ndarray, conf_type: str, z: float) -> pd.DataFrame:
    """The KM step function at time 0 and at every distinct observed time.

    Columns: time, survival, lower, upper (CI from Greenwood), plus at_risk, observed (events) and
    censored from lifelines' event table for internal use.
    """
    kmf = KaplanMeierFitter()
    with warnings.catch_warnings():
        # lifelines takes log(0) when every subject at risk has the event; the result (S = 0) is right.
        warnings.simplefilter("ignore", RuntimeWarning)
        kmf.fit(t, event_observed=e)
    table = kmf.event_table
    times = table.index.to_numpy(dtype=float)
    surv = kmf.survival_function_.iloc[:, 0].reindex(table.index).to_numpy(dtype=float)
    n = table["at_risk"].to_numpy(dtype=float)
    d = table["observed"].to_numpy(dtype=float)
    # Greenwood: Var(log S(t)) = sum over event times <= t of d / (n (n - d)); infinite once d = n.
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(d > 0, d / (n * (n - d)), 0.0)
    var_log = np.cumsum(term)
    lower, upper = _confidence_band(surv, np.sqrt(var_log), conf_type, z)
    curve = pd.DataFrame(
        {
            "time": times,
            "survival": surv,
            "lower": lower,
            "upper": upper,
            "at_risk": table["at_risk"].to_numpy(dtype=int),
            "observed": table["observed"].to_numpy(dtype=int),
            "censored": table["censored"].to_numpy(dtype=int),
        }
    )
    if times[0] != 0.0:  # lifelines puts 0 on the timeline; keep the curve's contract regardless
        start = pd.DataFrame(
            {
                "time": [0.0],
                "survival": [1.0],
                "lower": [1.0],
                "upper": [1.0],
                "at_risk": [t.size],
                "observed": [0],
                "censored": [0],
            }
        )
        curve = pd.concat([start, curve], ignore_index=True)
    return curve


def _none_if_nan(x: float) -> float | None:
    return None if x is None or np.isnan(x) else float(x)


def kaplan_meier(
    durations, events, *, landmarks: dict[str, float] | None = None, conf_type: str = "log-log", alpha: float = 0.05
) -> dict:
    """Kaplan-Meier estimate with R-compatible confidence limits, median and landmarks.

    The estimate comes from lifelines' ``KaplanMeierFitter``; the pointwise confidence limits are
    computed here from Greenwood's variance of log S(t) so that they match R's
    ``survfit(..., conf.type=)`` for ``"log"`` (R's default), ``"log-log"`` and ``"plain"``.

    Parameters
    ----------
    durations : array-like of float or int
        Observed time of each subject in days (event or censoring). Must be >= 0.
    events : array-like of {0, 1} or bool
        1 if the event was observed at the duration, 0 if censored there.
    landmarks : dict of str to float, optional
        ``{label: t}`` with t in days, like `durations`. A landmark of M months is at
        t = M months in days, not rounded: pass ``months_to_days(M, days_per_month)``.
    conf_type : {"log-log", "log", "plain"}, default "log-log"
        Transformation for the pointwise confidence interval; also drives the median's CI.
    alpha : float, default 0.05
        1 - confidence level.

    Returns
    -------
    dict
        ``n`` (int) and ``events`` (int);
        ``median``, ``median_lower``, ``median_upper`` (float or None when not reached): the
        smallest time with S(t) <= 0.5, and the same rule applied to the lower and upper
        confidence curves, by R's print.survfit rule (a curve flat at exactly 0.5 gives the
        average of the time it reached 0.5 and the time it next drops);
        ``landmarks``: ``{label: {"time": t, "survival", "lower", "upper", "at_risk"}}`` where
        survival includes events at t (right-continuous), ``at_risk`` counts subjects with
        observed time >= t, and survival/lower/upper are None when t is beyond the longest
        follow-up (not estimable: the last value is never carried forward);
        ``curve``: DataFrame with columns time, survival, lower, upper: one row at time 0
        (survival 1.0 unless events occur at time 0) then one per distinct event or censoring
        time; limits are NaN where survival is 0 (R: NA);
        ``conf_type``: the CI type used.

    Raises
    ------
    ValueError
        If any row has a missing duration or event (the message says how many), if durations are
        negative or infinite, if events are not 0/1, if there are no subjects, or if
        ``conf_type``, ``alpha`` or a landmark is invalid.
    TypeError
        If durations or events are dates or timedeltas rather than numbers of days.

    Notes
    -----
    Differences from R: where S(t) = 1, the log-log limits are 1 here and NA in R; R merges
    floating-point times equal within ~1e-8 (``timefix``), this does not.
    """
    z = _check_conf(conf_type, alpha)
    t, e = _clean(durations, events)
    full = _fit(t, e, conf_type, z)
    observed_times = full["time"].to_numpy()
    max_time = float(t.max())

    out_landmarks: dict[str, dict] = {}
    for label, at in (landmarks or {}).items():
        at = float(at)
        if not np.isfinite(at) or at < 0:
            raise ValueError(
                _("landmark {label} must be a non-negative time in days, not {at}").format(
                    label=repr(label), at=repr(at)
                )
            )
        at_risk = int(np.count_nonzero(t >= at))
        if at > max_time:
            out_landmarks[label] = {"time": at, "survival": None, "lower": None, "upper": None, "at_risk": at_risk}
            continue
        row = full.iloc[int(np.searchsorted(observed_times, at, side="right")) - 1]
        out_landmarks[label] = {
            "time": at,
            "survival": float(row["survival"]),
            "lower": _none_if_nan(row["lower"]),
            "upper": _none_if_nan(row["upper"]),
            "at_risk": at_risk,
        }

    # R's print.survfit looks along the fit's own times (distinct observed times); the extra
    # time-0 row at survival 1 can never be the median, so the full curve is used as is.
    times = full["time"].to_numpy()
    return {
        "n": int(t.size),
        "events": int(e.sum()),
        "median": _r_median(times, full["survival"].to_numpy()),
        "median_lower": _r_median(times, full["lower"].to_numpy()),
        "median_upper": _r_median(times, full["upper"].to_numpy()),
        "landmarks": out_landmarks,
        "curve": full[["time", "survival", "lower", "upper"]].reset_index(drop=True),
        "conf_type": conf_type,
    }


def reverse_km_median_follow_up(durations, events, alpha: float = 0.05, *, conf_type: str = "log") -> dict:
    """Median follow-up by the reverse Kaplan-Meier method (Schemper & Smith 1996).

    The event indicator is swapped (censored = "event", event = censored) and the median of that
    Kaplan-Meier curve is taken with R's rule, as ``survfit(Surv(time, 1 - status) ~ 1)`` prints
    it. At a time where a death and a censoring coincide, the death stays in the risk set.

    Parameters
    ----------
    durations : array-like of float or int
        Observed time of each subject in days.
    events : array-like of {0, 1} or bool
        1 = the event (e.g. death) was observed, 0 = censored.
    alpha : float, default 0.05
        1 - confidence level of the interval.
    conf_type : {"log", "log-log", "plain"}, default "log"
        CI transformation; "log" is what R's survfit prints by default.

    Returns
    -------
    dict
        ``{"median": x, "lower": x, "upper": x}``, each a float in days or None when the reverse
        curve (or its confidence limit) never reaches 0.5, e.g. when nobody is censored.

    Raises
    ------
    ValueError
        As for :func:`kaplan_meier`.
    """
    t, e = _clean(durations, events)
    fit = kaplan_meier(t, 1 - e, conf_type=conf_type, alpha=alpha)
    return {"median": fit["median"], "lower": fit["median_lower"], "upper": fit["median_upper"]}


def _hazard(survival_at: float, at_time: float) -> float:
    """Exponential rate lambda = -ln(survival_at) / at_time, validated."""
    if not 0 < survival_at <= 1:
        raise ValueError(_("survival_at must be in (0, 1], not {survival_at}").format(survival_at=repr(survival_at)))
    if not at_time > 0 or not np.isfinite(at_time):
        raise ValueError(_("at_time must be positive and finite, not {at_time}").format(at_time=repr(at_time)))
    return -math.log(survival_at) / at_time


def exponential_survival(t, survival_at: float, at_time: float) -> np.ndarray:
    """The design survival curve S(t) = exp(-lambda t), lambda = -ln(survival_at) / at_time.

    Parameters
    ----------
    t : float or array-like of float
        Times, in the same unit as `at_time` (days for this project). NaN passes through.
    survival_at : float
        Design survival probability at `at_time`, in (0, 1].
    at_time : float
        Time at which the design survival is `survival_at`, > 0.

    Returns
    -------
    numpy.ndarray
        S(t), same shape as `t` (0-d for a scalar).

    Raises
    ------
    ValueError
        If `survival_at` or `at_time` is out of range, or any t is negative.
    """
    lam = _hazard(survival_at, at_time)
    t = np.asarray(t, dtype=float)
    if np.any(t < 0):
        raise ValueError(_("{n} time(s) are negative").format(n=int(np.count_nonzero(t < 0))))
    return np.exp(-lam * t)


def expected_events(follow_up_times, survival_at: float, at_time: float) -> float:
    """Expected number of events by the cut-off if every subject followed the design curve.

    Sum over subjects of 1 - S(f_i), where f_i is the subject's potential follow-up (cut-off
    minus randomization date, i.e. administrative censoring only) and S the exponential design
    curve of :func:`exponential_survival`.

    Parameters
    ----------
    follow_up_times : array-like of float
        Potential follow-up of each subject, in the unit of `at_time` (days).
    survival_at : float
        Design survival probability at `at_time`, in (0, 1].
    at_time : float
        Time at which the design survival is `survival_at`, > 0.

    Returns
    -------
    float
        Expected number of events (0.0 for no subjects).

    Raises
    ------
    ValueError
        If any follow-up time is missing (the message says how many) or negative, or the design
        parameters are out of range.
    """
    f = _numeric(follow_up_times, "follow_up_times")
    missing = int(np.count_nonzero(np.isnan(f)))
    if missing:
        raise ValueError(_("{missing} follow-up time(s) are missing (NaN)").format(missing=missing))
    return float(np.sum(1.0 - exponential_survival(f, survival_at, at_time)))
