"""Proportions for the monitoring pages: exact and Wilson intervals, funnel-plot limits and flags, risk differences."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from dashboard.i18n import _

__all__ = ["proportion_ci", "funnel_limits", "funnel_flags", "risk_difference_ci"]

_METHODS = ("exact", "wilson")


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(_("alpha must be strictly between 0 and 1, got {alpha}").format(alpha=repr(alpha)))


def _check_counts(events, n, what: str = "") -> tuple[int, int]:
    for name, value in (("events", events), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(
                _("{what}{name} must be an integer, got {value}").format(what=what, name=name, value=repr(value))
            )
    events, n = int(events), int(n)
    if n < 0 or events < 0 or events > n:
        raise ValueError(
            _("{what}need 0 <= events <= n, got events={events}, n={n}").format(what=what, events=events, n=n)
        )
    return events, n


def _z(alpha: float) -> float:
    return float(stats.norm.ppf(1.0 - alpha / 2.0))


def _wilson(events: int, n: int, alpha: float) -> tuple[float, float]:
    """Wilson score limits for events/n (n > 0), clipped to [0, 1] against rounding."""
    z = _z(alpha)
    z2 = z * z
    centre = (events + z2 / 2.0) / (n + z2)
    half = z * math.sqrt(events * (n - events) / n + z2 / 4.0) / (n + z2)
    lower = 0.0 if events == 0 else max(0.0, centre - half)
    upper = 1.0 if events == n else min(1.0, centre + half)
    return lower, upper


def _clopper_pearson(events: int, n: int, alpha: float) -> tuple[float, float]:
    """Clopper-Pearson limits from beta quantiles (n > 0)."""
    lower = 0.0 if events == 0 else float(stats.beta.ppf(alpha / 2.0, events, n - events + 1))
    upper = 1.0 if events == n else float(stats.beta.ppf(1.0 - alpha / 2.0, events + 1, n - events))
    return lower, upper


def proportion_ci(
    events: int, n: int, alpha: float = 0.05, method: str = "exact"
) -> tuple[float | None, float | None, float | None]:
    """Observed proportion with a two-sided confidence interval.

    Parameters
    ----------
    events : int
        Number of events (successes), ``0 <= events <= n``.
    n : int
        Number of trials (the denominator).
    alpha : float, default 0.05
        One minus the confidence level; the interval is two-sided with ``alpha / 2`` in each tail.
    method : {"exact", "wilson"}, default "exact"
        ``"exact"``: Clopper-Pearson, the interval of R's ``binom.test``, from the beta quantiles
        ``Beta(alpha/2; events, n - events + 1)`` and ``Beta(1 - alpha/2; events + 1, n - events)``
        (the lower limit is 0 when ``events == 0``, the upper 1 when ``events == n``).
        ``"wilson"``: the Wilson score interval without continuity correction (method 3 of
        Newcombe 1998, Stat Med 17:857-872), with ``z = Phi^-1(1 - alpha/2)``.

    Returns
    -------
    tuple of (float or None, float or None, float or None)
        ``(observed, lower, upper)`` where ``observed = events / n``; ``(None, None, None)``
        when ``n == 0``.

    Raises
    ------
    TypeError
        If ``events`` or ``n`` is not an integer.
    ValueError
        If the counts are inconsistent, ``alpha`` is not in (0, 1) or ``method`` is unknown.
    """
    _check_alpha(alpha)
    if method not in _METHODS:
        raise ValueError(
            _("method must be one of {methods}, got {method}").format(methods=_METHODS, method=repr(method))
        )
    events, n = _check_counts(events, n)
    if n == 0:
        return None, None, None
    lower, upper = (_clopper_pearson if method == "exact" else _wilson)(events, n, alpha)
    return events / n, lower, upper


def _level_label(level: float) -> str:
    """Column suffix for a control-limit level: 0.95 -> "95", 0.998 -> "998"."""
    return f"{level * 100:.10g}".replace(".", "")


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(
            _("a control-limit level must be strictly between 0 and 1, got {level}").format(level=repr(level))
        )


def _as_counts(values, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(_("{name} must be one-dimensional").format(name=name))
    if np.any(~np.isfinite(arr)) or np.any(arr < 0) or np.any(arr != np.floor(arr)):
        raise ValueError(_("{name} must hold non-negative whole numbers").format(name=name))
    return arr


def _limit_counts(prob: float, n: np.ndarray, p0: float) -> np.ndarray:
    """Spiegelhalter's interpolated binomial quantile ``r_p - a`` on the count scale.

    ``r_p`` is the smallest r with ``F(r) >= prob`` for ``R ~ Binomial(n, p0)`` and
    ``a = (F(r_p) - prob) / (F(r_p) - F(r_p - 1))``; NaN where ``n == 0``.
    """
    out = np.full(n.shape, np.nan)
    ok = n > 0
    size = n[ok]
    rp = stats.binom.ppf(prob, size, p0)
    # guard the discrete quantile against rounding in the CDF: smallest r with F(r) >= prob
    too_high = (rp > 0) & (stats.binom.cdf(rp - 1, size, p0) >= prob)
    rp = np.where(too_high, rp - 1, rp)
    too_low = (rp < size) & (stats.binom.cdf(rp, size, p0) < prob)
    rp = np.where(too_low, rp + 1, rp)
    cdf = stats.binom.cdf(rp, size, p0)
    pmf = stats.binom.pmf(rp, size, p0)
    out[ok] = rp - (cdf - prob) / pmf
    return out


def funnel_limits(p0: float, n, levels: Sequence[float] = (0.95, 0.998)) -> pd.DataFrame:
    """Exact binomial funnel-plot control limits for a proportion around a target.

    For each denominator ``n`` and each level ``L`` the limits are the ``(1 - L) / 2`` and
    ``(1 + L) / 2`` quantiles of ``R ~ Binomial(n, p0)`` with the interpolation of
    Spiegelhalter (2005, "Funnel plots for comparing institutional performance", Stat Med
    24:1185-1202, appendix A.1.1): with ``r_p`` the smallest ``r`` such that
    ``P(R <= r) >= p`` and ``a = (P(R <= r_p) - p) / (P(R <= r_p) - P(R <= r_p - 1))``, the
    limit is ``(r_p - a) / n``. This is the exact ``p``-quantile of R once the mass of each
    count ``r`` is spread evenly over ``(r - 1, r]``, so the limits move smoothly with ``n``
    instead of in steps. Lower limits are clipped at 0 (the interpolation can fall below 0
    when ``r_p = 0``). Because of the discreteness the chance that an in-control unit falls
    outside a limit is close to, not exactly, ``(1 - L) / 2`` (Manktelow & Seaton 2012,
    PLoS ONE 7:e45723).

    Parameters
    ----------
    p0 : float
        Target proportion, strictly between 0 and 1.
    n : array_like of int
        Denominators (non-negative whole numbers) at which to compute the limits.
    levels : sequence of float, default (0.95, 0.998)
        Two-sided coverage of each pair of limits, each strictly between 0 and 1.

    Returns
    -------
    pandas.DataFrame
        Column ``n`` then, for each level in order, ``lower_<L>`` and ``upper_<L>`` where
        ``<L>`` is the level in percent without the decimal point (0.95 -> ``95``,
        0.998 -> ``998``). Limits are proportions; NaN where ``n == 0``.

    Raises
    ------
    ValueError
        If ``p0`` or a level is not strictly between 0 and 1, or ``n`` holds a negative or
        fractional value.
    """
    if not 0.0 < p0 < 1.0:
        raise ValueError(_("p0 must be strictly between 0 and 1, got {p0}").format(p0=repr(p0)))
    sizes = _as_counts(n, "n")
    out = {"n": sizes.astype(np.int64)}
    with np.errstate(invalid="ignore", divide="ignore"):
        for level in levels:
            _check_level(level)
            label = _level_label(level)
            lower = _limit_counts((1.0 - level) / 2.0, sizes, p0) / sizes
            upper = _limit_counts((1.0 + level) / 2.0, sizes, p0) / sizes
            out[f"lower_{label}"] = np.clip(lower, 0.0, 1.0)
            out[f"upper_{label}"] = np.clip(upper, 0.0, 1.0)
    return pd.DataFrame(out)


def funnel_flags(events, n, p0: float, level: float = 0.998) -> np.ndarray:
    """Place each unit (site) against the funnel-plot limits of :func:`funnel_limits`.

    Parameters
    ----------
    events : array_like of int
        Events per unit.
    n : array_like of int
        Denominator per unit, same length as ``events``, with ``events <= n``.
    p0 : float
        Target proportion, strictly between 0 and 1.
    level : float, default 0.998
        Two-sided level of the limits used.

    Returns
    -------
    numpy.ndarray of str
        ``"above"`` where ``events / n`` is strictly above the upper limit, ``"below"`` where it
        is strictly below the lower limit, ``"within"`` otherwise. A unit with ``n == 0`` has no
        proportion and is ``"within"`` (never flagged). The comparison is made on the count
        scale (``events`` against ``n`` times the limit) so it is free of division rounding.

    Notes
    -----
    The flags are the position of the point against the plotted limits, nothing more. With
    the interpolated limits an in-control unit is flagged above with probability
    ``P(R >= r_p)``, a little more than ``(1 - level) / 2``, and below with a little less;
    at very small ``n`` the excess is large (``n = 1``, ``p0 = 0.1``: one event lies above the
    99.8% upper limit 0.99 although ``P(R >= 1) = 0.1``). Read flags of units with few
    patients with that in mind.

    Raises
    ------
    ValueError
        On mismatched lengths, negative or fractional counts, ``events > n``, or ``p0`` or
        ``level`` outside (0, 1).
    """
    if not 0.0 < p0 < 1.0:
        raise ValueError(_("p0 must be strictly between 0 and 1, got {p0}").format(p0=repr(p0)))
    _check_level(level)
    ev = _as_counts(events, "events")
    sizes = _as_counts(n, "n")
    if ev.shape != sizes.shape:
        raise ValueError(_("events and n differ in length ({events} and {n})").format(events=ev.size, n=sizes.size))
    if np.any(ev > sizes):
        raise ValueError(_("events must not exceed n"))
    # the limits as funnel_limits plots them: the interpolation can fall below 0 events (a rare
    # event) or above n, and a site with no events must not lie "above" a limit drawn at 0
    lower = np.clip(_limit_counts((1.0 - level) / 2.0, sizes, p0), 0.0, sizes)
    upper = np.clip(_limit_counts((1.0 + level) / 2.0, sizes, p0), 0.0, sizes)
    flags = np.full(ev.shape, "within", dtype="<U6")
    has = sizes > 0
    flags[has & (ev > upper)] = "above"
    flags[has & (ev < lower)] = "below"
    return flags


def risk_difference_ci(
    x1: int, n1: int, x2: int, n2: int, alpha: float = 0.05
) -> tuple[float | None, float | None, float | None]:
    """Difference of two independent proportions with Newcombe's hybrid score interval.

    Method 10 of Newcombe (1998, "Interval estimation for the difference between independent
    proportions: comparison of eleven methods", Stat Med 17:873-890): with ``p_i = x_i / n_i``
    and ``(l_i, u_i)`` the Wilson score interval of each proportion at the same ``alpha``,

    ``lower = (p1 - p2) - sqrt((p1 - l1)**2 + (u2 - p2)**2)``,
    ``upper = (p1 - p2) + sqrt((u1 - p1)**2 + (p2 - l2)**2)``.

    Parameters
    ----------
    x1, n1 : int
        Events and denominator of the first group (``p1``).
    x2, n2 : int
        Events and denominator of the second group (``p2``).
    alpha : float, default 0.05
        One minus the confidence level (two-sided).

    Returns
    -------
    tuple of (float or None, float or None, float or None)
        ``(p1 - p2, lower, upper)``; ``(None, None, None)`` when either denominator is 0.

    Raises
    ------
    TypeError
        If a count is not an integer.
    ValueError
        If the counts are inconsistent or ``alpha`` is not in (0, 1).
    """
    _check_alpha(alpha)
    x1, n1 = _check_counts(x1, n1, _("group 1: "))
    x2, n2 = _check_counts(x2, n2, _("group 2: "))
    if n1 == 0 or n2 == 0:
        return None, None, None
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = _wilson(x1, n1, alpha)
    l2, u2 = _wilson(x2, n2, alpha)
    diff = p1 - p2
    lower = diff - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = diff + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return diff, max(-1.0, lower), min(1.0, upper)
