"""Group sequential monitoring: Lan-DeMets alpha spending, one-sided efficacy Z boundaries by
numerical integration, crossing probabilities under a drift, and B-value conditional power."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import optimize
from scipy.stats import norm

from dashboard.i18n import _

__all__ = [
    "SPENDING_KINDS",
    "spending",
    "boundaries",
    "crossing_probabilities",
    "conditional_power",
    "drift_current_trend",
    "drift_from_design",
]

SPENDING_KINDS = ("obrien-fleming", "pocock")
"""Lan-DeMets (1983) spending functions: gsDesign's ``sfLDOF`` and ``sfLDPocock``."""

# Grid size of the Armitage-McPherson-Rowe recursion: Jennison & Turnbull (2000, section 19.2)
# use r = 16 and gsDesign's default is r = 18; r = 32 puts the integration error far below the
# 1e-6 tolerance of the boundary search (Simpson's rule on 12r - 3 points per look).
_GRID_R = 32
_BOUND_XTOL = 1e-10


# ---------------------------------------------------------------------------------------------
# Spending functions


def _check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not 0.0 < alpha < 1.0:
        raise ValueError(_("alpha must be strictly between 0 and 1, got {alpha}").format(alpha=repr(alpha)))
    return alpha


def _check_kind(kind: str) -> str:
    if kind not in SPENDING_KINDS:
        raise ValueError(
            _("unknown spending function {kind}; choose one of {kinds}").format(
                kind=repr(kind), kinds=", ".join(SPENDING_KINDS)
            )
        )
    return kind


def spending(t, alpha: float, kind: str = "obrien-fleming") -> np.ndarray:
    """Cumulative type I error spent by information fraction ``t`` (Lan & DeMets 1983).

    Parameters
    ----------
    t : float or array_like
        Information fraction(s), ``t >= 0``. Values above 1 spend the whole ``alpha`` (the spending
        function is taken as constant after the planned information, as in gsDesign).
    alpha : float
        Total one-sided type I error, strictly between 0 and 1.
    kind : {"obrien-fleming", "pocock"}, default "obrien-fleming"
        ``"obrien-fleming"``: the O'Brien-Fleming-type function of gsDesign's ``sfLDOF``,
        ``alpha*(t) = 2 - 2 * Phi(Phi^-1(1 - alpha / 2) / sqrt(t))``. ``"pocock"``: the
        Pocock-type function of ``sfLDPocock``, ``alpha*(t) = alpha * ln(1 + (e - 1) * t)``.

    Returns
    -------
    numpy.ndarray
        ``alpha*(t)``, same shape as ``t`` (0-d for a scalar); 0 at ``t = 0`` and ``alpha`` at
        ``t >= 1``.

    Raises
    ------
    ValueError
        If ``alpha`` is not in (0, 1), ``kind`` is unknown, or a fraction is negative or NaN.

    Notes
    -----
    With one-sided ``alpha``, ``Phi^-1(1 - alpha / 2)`` (2.2414 for 0.025) is the constant of the
    O'Brien-Fleming-type function, so that ``alpha*(1) = alpha`` exactly; it is not the two-sided
    1.96 sometimes written for the two-sided version of the same function.
    """
    alpha = _check_alpha(alpha)
    _check_kind(kind)
    t = np.asarray(t, dtype=float)
    if np.any(np.isnan(t)) or np.any(t < 0.0):
        raise ValueError(_("information fractions must be >= 0"))
    tc = np.minimum(t, 1.0)
    if kind == "obrien-fleming":
        z = norm.isf(alpha / 2.0)
        with np.errstate(divide="ignore"):
            out = 2.0 * norm.sf(z / np.sqrt(tc))
        out = np.where(tc > 0.0, out, 0.0)
    else:
        out = alpha * np.log1p((math.e - 1.0) * tc)
    return np.where(t >= 1.0, alpha, out)


# ---------------------------------------------------------------------------------------------
# Numerical integration (Jennison & Turnbull 2000, chapter 19; gsDesign's gsProbability)


def _check_fractions(fractions) -> np.ndarray:
    t = np.asarray(fractions, dtype=float).reshape(-1)
    if t.size == 0:
        raise ValueError(_("need at least one information fraction"))
    if not np.all(np.isfinite(t)) or np.any(t <= 0.0):
        raise ValueError(_("information fractions must be finite and > 0"))
    if np.any(np.diff(t) <= 0.0):
        raise ValueError(_("information fractions must be strictly increasing"))
    return t


def _grid(mean: float, upper: float, r: int = _GRID_R) -> tuple[np.ndarray, np.ndarray]:
    """Points and Simpson weights on the Z scale for one look with continuation region Z < upper.

    The points are those of Jennison & Turnbull (2000, section 19.2.1): dense within 3 standard
    deviations of ``mean``, spreading logarithmically out to ``3 + 4 ln r``; the lower tail beyond
    that carries less than 1e-12 probability and is dropped. Odd-numbered points are the
    midpoints that make the weights those of Simpson's rule.
    """
    i = np.arange(1, 6 * r)
    x = np.empty(i.size)
    lo = i < r
    mid = (i >= r) & (i <= 5 * r)
    hi = i > 5 * r
    x[lo] = -3.0 - 4.0 * np.log(r / i[lo])
    x[mid] = -3.0 + 3.0 * (i[mid] - r) / (2.0 * r)
    x[hi] = 3.0 + 4.0 * np.log(r / (6.0 * r - i[hi]))
    x = x + mean
    if upper <= x[0]:
        # The continuation region lies in the far lower tail: treat it as empty.
        return np.array([]), np.array([])
    if upper < x[-1]:
        x = np.append(x[x < upper], upper)
    z = np.empty(2 * x.size - 1)
    z[0::2] = x
    z[1::2] = (x[:-1] + x[1:]) / 2.0
    w = np.zeros(z.size)
    d = np.diff(x)
    w[0:-1:2] += d / 6.0
    w[2::2] += d / 6.0
    w[1::2] = 4.0 * d / 6.0
    return z, w


class _Recursion:
    """Sub-density of Z_k on the continuation region, look by look, under drift ``theta``.

    With information ``I_k = t_k`` (only ratios matter), ``Z_k = B(t_k) / sqrt(t_k)`` and
    ``E[Z_k] = theta * sqrt(t_k)``. ``h`` holds ``h_k(z) dz`` as values times Simpson weights on
    the grid of the current look, so that ``sum(h * g(z))`` integrates ``g`` against the
    probability of having continued to look k with ``Z_k = z``.
    """

    def __init__(self, theta: float):
        self.theta = float(theta)
        self.t_prev: float | None = None
        self.z: np.ndarray | None = None
        self.hw: np.ndarray | None = None

    def upper_prob(self, t: float, b: float) -> float:
        """P(continued to the previous look, Z at fraction ``t`` >= ``b``)."""
        if b == math.inf:
            return 0.0
        if self.t_prev is None:
            return float(norm.sf(b - self.theta * math.sqrt(t)))
        if self.z.size == 0:
            return 0.0
        dt = t - self.t_prev
        arg = (b * math.sqrt(t) - self.z * math.sqrt(self.t_prev) - self.theta * dt) / math.sqrt(dt)
        return float(np.dot(self.hw, norm.sf(arg)))

    def advance(self, t: float, b: float) -> None:
        """Move to the look at fraction ``t`` with continuation region ``Z < b``."""
        mean = self.theta * math.sqrt(t)
        z, w = _grid(mean, b)
        if self.t_prev is None:
            h = norm.pdf(z - mean)
        elif self.z.size == 0 or z.size == 0:
            h = np.zeros(z.size)
        else:
            dt = t - self.t_prev
            s = math.sqrt(t / dt)
            arg = (z[:, None] * math.sqrt(t) - self.z[None, :] * math.sqrt(self.t_prev) - self.theta * dt) / math.sqrt(
                dt
            )
            h = s * (norm.pdf(arg) @ self.hw)
        self.t_prev, self.z, self.hw = t, z, h * w


def _solve_bound(rec: _Recursion, t: float, target: float) -> float:
    """Upper bound at fraction ``t`` whose exit probability (given the past) is ``target``."""
    if target <= 0.0:
        return math.inf
    if rec.t_prev is None:
        return float(norm.isf(target))
    available = rec.upper_prob(t, -40.0)
    if target >= available:
        raise ValueError(_("the alpha to spend at a look exceeds the probability of reaching it"))

    def f(b: float) -> float:
        return rec.upper_prob(t, b) - target

    lo, hi = float(norm.isf(min(target, 0.5))) - 1.0, 40.0
    while f(lo) < 0.0:
        lo -= 2.0
    return float(optimize.brentq(f, lo, hi, xtol=_BOUND_XTOL, rtol=4 * np.finfo(float).eps))


# ---------------------------------------------------------------------------------------------
# Boundaries and crossing probabilities


def boundaries(
    fractions: Sequence[float], alpha: float = 0.025, kind: str = "obrien-fleming", *, spend_all_at_last: bool = False
) -> list[dict]:
    """One-sided upper (efficacy) Z boundaries from a Lan-DeMets spending function.

    For looks at information fractions ``t_1 < ... < t_K`` the boundary ``c_k`` solves
    ``P(Z_1 < c_1, ..., Z_{k-1} < c_{k-1}, Z_k >= c_k | H0) = alpha*(t_k) - alpha*(t_{k-1})``
    for the canonical joint distribution (``Z_k = B(t_k) / sqrt(t_k)`` for a Brownian motion
    ``B``, so ``corr(Z_i, Z_j) = sqrt(t_i / t_j)``), computed exactly by the
    Armitage-McPherson-Rowe recursion with Simpson's rule on the grid of Jennison & Turnbull
    (2000, chapter 19), the method of gsDesign's ``gsProbability``. There is no lower (futility)
    boundary: the boundaries are those of gsDesign ``test.type = 1``.

    Parameters
    ----------
    fractions : sequence of float
        Information fractions of the looks done or planned, strictly increasing and > 0. The last
        may be below 1 (the final analysis has not been reached, or is planned early) or equal
        to 1; values above 1 spend the whole alpha.
    alpha : float, default 0.025
        Total one-sided type I error.
    kind : {"obrien-fleming", "pocock"}, default "obrien-fleming"
        The spending function; see :func:`spending`.
    spend_all_at_last : bool, default False
        If True, the last look spends all of the remaining alpha whatever its fraction (a final
        analysis that happens with less information than planned). If False the last look
        spends ``alpha*(t_K)``, which is below ``alpha`` when ``t_K < 1``.

    Returns
    -------
    list of dict
        One dict per look, in order, with keys ``"fraction"`` (``t_k``), ``"z_boundary"``
        (``c_k``; ``inf`` when nothing is spent at the look), ``"cumulative_alpha"``
        (``alpha*(t_k)``, the probability under H0 of crossing at or before look k) and
        ``"nominal_p"`` (the one-sided nominal p-value ``1 - Phi(c_k)`` that crosses).

    Raises
    ------
    ValueError
        If ``alpha`` or ``kind`` is invalid, or the fractions are empty, not > 0, not finite or
        not strictly increasing.

    Notes
    -----
    For the non-inferiority test of this trial, Z is oriented so that large values favour
    non-inferiority (see :func:`drift_from_design`); crossing ``c_k`` at an interim look means
    non-inferiority can be declared there. Boundaries depend only on the fractions of the looks
    so far and later ones do not change earlier ones, so recompute them at each look with the
    observed fractions (observed events / planned final events).
    """
    t = _check_fractions(fractions)
    alpha = _check_alpha(alpha)
    cum = spending(t, alpha, kind)
    if spend_all_at_last:
        cum[-1] = alpha
    rec = _Recursion(0.0)
    out = []
    prev = 0.0
    for k, tk in enumerate(t):
        target = float(cum[k] - prev)
        b = _solve_bound(rec, float(tk), target)
        rec.advance(float(tk), b)
        prev = float(cum[k])
        out.append(
            {
                "fraction": float(tk),
                "z_boundary": b,
                "cumulative_alpha": float(cum[k]),
                "nominal_p": float(norm.sf(b)),
            }
        )
    return out


def crossing_probabilities(fractions: Sequence[float], bounds: Sequence[float], drift: float) -> np.ndarray:
    """Cumulative probability of crossing the upper boundaries under a drift.

    Parameters
    ----------
    fractions : sequence of float
        Information fractions of the looks, strictly increasing and > 0.
    bounds : sequence of float
        Upper Z boundaries, one per look (``inf`` for a look that cannot stop), e.g. the
        ``"z_boundary"`` values of :func:`boundaries`.
    drift : float
        ``theta``, the expected Z at information fraction 1: ``E[Z_k] = theta * sqrt(t_k)``.
        0 gives the type I error spent; :func:`drift_from_design` gives the design alternative.

    Returns
    -------
    numpy.ndarray
        Element k is ``P(Z_j >= c_j for some j <= k)``; the last element is the power (or, at
        ``drift = 0``, the total type I error).

    Raises
    ------
    ValueError
        If the fractions are invalid or ``bounds`` does not have one value per look.
    """
    t = _check_fractions(fractions)
    b = np.asarray(bounds, dtype=float).reshape(-1)
    if b.size != t.size:
        raise ValueError(
            _("need one boundary per look: {fractions} fractions, {bounds} bounds").format(
                fractions=t.size, bounds=b.size
            )
        )
    if np.any(np.isnan(b)):
        raise ValueError(_("boundaries must not be NaN"))
    rec = _Recursion(float(drift))
    probs = np.empty(t.size)
    for k, tk in enumerate(t):
        probs[k] = rec.upper_prob(float(tk), float(b[k]))
        rec.advance(float(tk), float(b[k]))
    return np.cumsum(probs)


# ---------------------------------------------------------------------------------------------
# Conditional power (Lan & Wittes 1988)


def conditional_power(z: float, t: float, theta: float, final_z: float) -> float:
    """Conditional power from the B-value (Lan & Wittes 1988).

    With ``B(t) = Z(t) * sqrt(t)`` a Brownian motion with drift ``theta``, the B-value at the
    end is ``B(1) = B(t) + (B(1) - B(t))`` with an independent increment of mean
    ``theta * (1 - t)`` and variance ``1 - t``, so
    ``CP = 1 - Phi((final_z - B(t) - theta * (1 - t)) / sqrt(1 - t))``.

    Parameters
    ----------
    z : float
        Interim Z statistic (large values favour non-inferiority).
    t : float
        Information fraction of the interim look, ``0 < t < 1``.
    theta : float
        Drift: the expected Z at ``t = 1`` assumed for the rest of the trial; see the Notes.
    final_z : float
        Boundary at the final analysis, e.g. the last ``"z_boundary"`` of :func:`boundaries`
        (not 1.96: the spending has raised it).

    Returns
    -------
    float
        Probability that the final Z reaches ``final_z`` given ``Z(t) = z``.

    Raises
    ------
    ValueError
        If ``t`` is not strictly between 0 and 1 or an input is not finite.

    Notes
    -----
    The formula counts only the final analysis; ignoring the remaining interim boundaries
    understates the probability of an eventual success by at most the (tiny, for
    O'Brien-Fleming spending) chance of stopping at an interim look and then missing at the end.

    Which drift the page should show:

    * ``drift_from_design(...)`` (the hazard ratio the trial was powered for) as the headline:
      it is fixed in advance, does not move with the noise of the interim estimate, and answers
      "if the design assumption holds from now on, how likely is success?".
    * ``drift_current_trend(z, t)`` next to it, labelled as such: it answers "if the observed
      trend continues". Early in the trial (``t`` below about 0.3) it is dominated by noise and
      swings between near 0 and near 1, so it should not drive a futility decision alone.
    * ``theta = 0`` (no difference from the margin) is a useful floor for a DSMB but is not the
      drift of either hypothesis of interest.
    """
    z, t, theta, final_z = (float(v) for v in (z, t, theta, final_z))
    if not all(math.isfinite(v) for v in (z, t, theta, final_z)):
        raise ValueError(_("z, t, theta and final_z must be finite"))
    if not 0.0 < t < 1.0:
        raise ValueError(_("the information fraction must be strictly between 0 and 1, got {t}").format(t=repr(t)))
    b = z * math.sqrt(t)
    return float(norm.sf((final_z - b - theta * (1.0 - t)) / math.sqrt(1.0 - t)))


def drift_current_trend(z: float, t: float) -> float:
    """Drift of the current trend: the B-value's slope extrapolated to ``t = 1``.

    Parameters
    ----------
    z : float
        Interim Z statistic.
    t : float
        Information fraction of the interim look, ``0 < t <= 1``.

    Returns
    -------
    float
        ``theta_hat = B(t) / t = z / sqrt(t)``.

    Raises
    ------
    ValueError
        If ``t`` is not in (0, 1] or ``z`` is not finite.
    """
    z, t = float(z), float(t)
    if not math.isfinite(z):
        raise ValueError(_("z must be finite"))
    if not 0.0 < t <= 1.0:
        raise ValueError(_("the information fraction must be in (0, 1], got {t}").format(t=repr(t)))
    return z / math.sqrt(t)


def drift_from_design(log_hr_margin: float, log_hr_assumed: float, events_final: float) -> float:
    """Drift of the design for a non-inferiority log-rank/Cox test with 1:1 allocation.

    The Z statistic is ``(log_hr_margin - log(HR_hat)) / SE`` with Schoenfeld's
    ``SE = 2 / sqrt(events)`` for 1:1 allocation, so large Z favours non-inferiority and
    ``E[Z] = (log_hr_margin - log_hr_assumed) * sqrt(events / 4)`` at the final analysis.

    Parameters
    ----------
    log_hr_margin : float
        Log of the non-inferiority hazard ratio margin (experimental vs control; e.g.
        ``log(1.8)``).
    log_hr_assumed : float
        Log of the hazard ratio assumed under the alternative (0 for "truly equal").
    events_final : float
        Planned number of events at the final analysis (both arms), > 0.

    Returns
    -------
    float
        ``theta = (log_hr_margin - log_hr_assumed) * sqrt(events_final / 4)``.

    Raises
    ------
    ValueError
        If ``events_final`` is not > 0 or an input is not finite.
    """
    m, a, d = float(log_hr_margin), float(log_hr_assumed), float(events_final)
    if not all(math.isfinite(v) for v in (m, a, d)):
        raise ValueError(_("inputs must be finite"))
    if d <= 0.0:
        raise ValueError(_("events_final must be > 0, got {events_final}").format(events_final=repr(events_final)))
    return (m - a) * math.sqrt(d / 4.0)


# ---------------------------------------------------------------------------------------------
# Monitoring: the looks held, the looks to come, repeated confidence intervals, conditional
# power against the whole remaining design (issue 12)


def monitoring_looks(held: Sequence[float], planned: Sequence[float], final: bool = False) -> list[dict]:
    """The looks of a trial being monitored: those held (their actual information fractions, in
    order) and the planned ones still to come (planned fractions above the last held one, the
    final at 1 always among them), each marked ``held``.

    When the last held look is the final analysis (``final``, or its fraction is 1 or more, an
    over-running trial), no look is to come. A planned final at fraction 1 is kept whenever the
    last held look is below 1 and not final.
    """
    h = [float(x) for x in held]
    if any(b <= a for a, b in zip(h, h[1:], strict=False)) or any(x <= 0 for x in h):
        raise ValueError(_("looks held must be > 0 and strictly increasing, got {h}").format(h=h))
    last = h[-1] if h else 0.0
    out = [{"fraction": x, "held": True} for x in h]
    if final or last >= 1.0:
        return out
    to_come = sorted({float(p) for p in planned if last < float(p) < 1.0} | {1.0})
    return out + [{"fraction": x, "held": False} for x in to_come]


def monitoring_boundaries(
    held: Sequence[float],
    planned: Sequence[float],
    alpha: float = 0.025,
    kind: str = "obrien-fleming",
    *,
    final: bool = False,
) -> list[dict]:
    """Boundaries of the looks held and of those to come, from the alpha actually spent.

    Each held look spends ``alpha*(t_k) - alpha*(t_{k-1})`` at its actual fraction, so the alpha
    spent at earlier looks is what they really spent; the looks to come are the planned ones
    (:func:`monitoring_looks`), and the final look spends whatever remains, whatever its fraction
    (an early final analysis, or one past the planned information: Lan-DeMets with the last look
    spending all, as gsDesign's ``sfupper`` with ``timing`` capped at 1 and rpact's
    ``getDesignGroupSequential(informationRates = ...)`` with the last rate the final). Returns
    :func:`boundaries`' dicts with ``held`` added.
    """
    looks = monitoring_looks(held, planned, final)
    # over-running: a final past 1 spends all the alpha (spending caps at 1) while the looks'
    # correlations come from the actual information, sqrt(t_i / t_j), as in gsDesign
    bounds = boundaries([lk["fraction"] for lk in looks], alpha, kind, spend_all_at_last=True)
    for b, lk in zip(bounds, looks, strict=True):
        b["held"] = lk["held"]
        b["fraction"] = lk["fraction"]
    return bounds


def repeated_ci_upper(log_hr: float, se: float, z_boundary: float) -> float:
    """The one-sided repeated confidence bound for the log hazard ratio at a look (Jennison &
    Turnbull 1989; 2000, chapter 9): ``log_hr + c_k * se`` with ``c_k`` the look's boundary.
    Non-inferiority holds at this look exactly when it is below the log margin, i.e. when the
    boundary is crossed; the nominal bound uses 1.96 (or the final critical value) instead, and
    does not keep the error rate over repeated looks."""
    if not all(math.isfinite(v) for v in (log_hr, se)) or se <= 0:
        raise ValueError(_("log_hr must be finite and se > 0"))
    return float(log_hr + z_boundary * se) if math.isfinite(z_boundary) else math.inf


def conditional_power_design(z: float, t: float, theta: float, looks_to_come: Sequence[dict]) -> float:
    """Conditional power against the rest of the planned design: the probability, given
    ``Z(t) = z``, of crossing the boundary at any look still to come (``looks_to_come``: dicts
    with ``fraction`` and ``z_boundary``, as :func:`monitoring_boundaries` gives them), under
    drift ``theta`` (expected Z at fraction 1).

    From the B-value ``b = z sqrt(t)``, the increments after ``t`` are a Brownian motion: at a look
    at ``t_j`` the test crosses when ``B(t_j) >= c_j sqrt(t_j)``, i.e. when the increment
    ``W(s_j) = B(t_j) - b``, ``s_j = t_j - t``, reaches ``c_j sqrt(t_j) - b``. Rescaled to the
    canonical form on ``u_j = s_j / s_K`` this is :func:`crossing_probabilities` with boundaries
    ``(c_j sqrt(t_j) - b) / sqrt(s_j)`` and drift ``theta sqrt(s_K)``. With one look to come it is
    :func:`conditional_power`.
    """
    z, t, theta = float(z), float(t), float(theta)
    if not all(math.isfinite(v) for v in (z, t, theta)):
        raise ValueError(_("z, t and theta must be finite"))
    future = [lk for lk in looks_to_come if float(lk["fraction"]) > t]
    if not future:
        return float("nan")
    b = z * math.sqrt(t)
    s = np.array([float(lk["fraction"]) - t for lk in future])
    c = np.array([float(lk["z_boundary"]) for lk in future])
    tj = np.array([float(lk["fraction"]) for lk in future])
    u = s / s[-1]
    bounds = (c * np.sqrt(tj) - b) / np.sqrt(s)
    return float(crossing_probabilities(u, bounds, theta * math.sqrt(s[-1]))[-1])


def design_check(
    fractions: Sequence[float],
    alpha: float,
    power: float,
    log_hr_margin: float,
    log_hr_assumed: float,
    events_final: float,
    kind: str = "obrien-fleming",
) -> dict:
    """The design as configured, checked against itself: its power with its looks (the boundaries
    of ``fractions``, final at 1, drift from the design), and the final events that give the
    stated power with those looks (the drift grows with sqrt(events))."""
    t = list(fractions)
    bounds = [b["z_boundary"] for b in boundaries(t, alpha, kind, spend_all_at_last=True)]

    def power_at(events: float) -> float:
        return float(crossing_probabilities(t, bounds, drift_from_design(log_hr_margin, log_hr_assumed, events))[-1])

    achieved = power_at(events_final)
    needed = optimize.brentq(lambda d: power_at(d) - power, 1.0, 1e6, xtol=1e-6)
    return {
        "power": achieved,
        "events_for_power": float(needed),
        "events": float(events_final),
        "final_boundary": float(bounds[-1]),
    }
