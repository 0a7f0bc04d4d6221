"""Accrual against plan: cumulative and planned curves, and a Poisson-gamma projection of the completion date."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date, timedelta

import numpy as np
import pandas as pd
from scipy import stats

from dashboard.i18n import _, language, long_date

__all__ = ["project_completion", "planned_accrual", "cumulative_accrual", "planned_by", "recent"]


def _as_dates(values: Iterable) -> list[date]:
    """Dates from date, datetime, Timestamp, datetime64 or ISO strings; missing values dropped."""
    series = pd.to_datetime(pd.Series(list(values), dtype=object), errors="raise")
    return [ts.date() for ts in series.dropna()]


def _ordinal(k: int) -> str:
    """356 -> "356th" in English; the number itself in Chinese (the sentence says 第…例)."""
    if language() != "en":
        return str(k)
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def _prose_date(d: date) -> str:
    """A date in the model's words: ISO in English (as the model has always quoted it), the
    language's long form otherwise (2028年9月30日)."""
    return d.isoformat() if language() == "en" else long_date(d)


def _as_date(value, name: str) -> date:
    ts = pd.Timestamp(value)
    if pd.isna(ts):
        raise ValueError(_("{name} is missing").format(name=name))
    return ts.date()


def project_completion(
    randomization_dates: Sequence[date],
    start: date,
    cutoff: date,
    target: int,
    planned_months: float,
    *,
    days_per_month: float,
    prior_weight_months: float = 3.0,
    level: float = 0.90,
) -> dict:
    """Project the date the randomization target is reached, with a prediction interval.

    Model: randomizations form a Poisson process with a constant rate ``lambda`` per day. The
    prior on ``lambda`` is a gamma distribution centred on the planned rate,
    ``target / (planned_months * days_per_month)`` per day, and worth ``prior_weight_months``
    of observation: with ``d0 = prior_weight_months * days_per_month`` prior days, shape
    ``a0 = planned rate * d0`` and rate ``b0 = d0``. After ``n`` randomizations in the
    ``T = (cutoff - start)`` days since the first site activation the posterior is
    ``Gamma(a = a0 + n, b = b0 + T)``. Given ``lambda`` the waiting time from the cut-off to the
    remaining ``R = target - n`` randomizations is ``Gamma(R, lambda)`` (memorylessness), so
    marginally it is ``b * BetaPrime(R, a)`` days, whose mean is ``b * R / (a - 1)`` for
    ``a > 1``. The projected date is the cut-off plus the median of that distribution, and the
    interval its ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles (``scipy.stats.betaprime``);
    days are rounded up to whole days after the cut-off. This is the Poisson-gamma accrual
    model (cf. Gajewski, Simon & Carlson 2008, Stat Med 27:2328-2340, who write it with
    exponential waiting times and an inverse-gamma prior on their mean; Carter 2004). The
    interval reflects the Poisson noise and the uncertainty in a constant rate; it does not
    foresee sites opening or closing, which a constant rate ignores.

    Parameters
    ----------
    randomization_dates : sequence of date
        Date of each randomization (date, datetime, Timestamp, datetime64 or ISO string);
        missing values are dropped and dates after ``cutoff`` are not counted (their number is
        returned as ``ignored_after_cutoff``). Dates before ``start`` are counted.
    start : date
        First site activation, the origin of the exposure time ``T``.
    cutoff : date
        Data cut-off, the date from which the remaining time is projected.
    target : int
        Number of patients to randomize (356 for Neo-Margin).
    planned_months : float
        Planned accrual duration from the first site activation, in months.
    prior_weight_months : float, default 3.0
        How many months of observation the planned rate is worth. 0 gives the posterior
        ``Gamma(n, T)`` driven by the data alone (improper when ``n == 0``).
    days_per_month : float
        Days in a month (the export spec's convention).
    level : float, default 0.90
        Coverage of the central prediction interval.

    Returns
    -------
    dict
        ``model``: the model in words with its numbers, for the page to quote, in the reader's
        language (i18n.language(); dates ISO in English, 2028年6月30日 in Chinese);
        ``completion_date``: projected date (median), a ``datetime.date``;
        ``lower``, ``upper``: the prediction interval, ``datetime.date``;
        ``level``: as given;
        ``rate_per_month``: posterior mean rate per month ``a / b * days_per_month``
        (None if ``b == 0``);
        ``randomized``: ``n``; ``remaining``: ``max(target - n, 0)``;
        ``expected_monthly``: the planned rate, ``target / planned_months`` per month;
        ``observed_monthly``: ``n / T * days_per_month`` (None if ``T <= 0``);
        ``median_days``, ``lower_days``, ``upper_days``, ``mean_days``: the waiting-time
        distribution in days after the cut-off, unrounded (``mean_days`` None when ``a <= 1``);
        ``posterior_shape``, ``posterior_rate_days``: ``a`` and ``b``;
        ``ignored_after_cutoff``: number of dates after the cut-off.
        When ``n >= target`` the dates are the date of the ``target``-th randomization
        (``lower == upper ==`` it) and the ``*_days`` entries are None.

    Raises
    ------
    ValueError
        If ``target < 1``, ``planned_months <= 0``, ``prior_weight_months < 0``,
        ``days_per_month <= 0``, ``level`` not in (0, 1), ``cutoff`` before ``start``, or the
        target is not reached and the posterior is improper (no randomizations and no prior
        weight, or zero exposure and no prior weight).
    """
    if isinstance(target, bool) or int(target) != target or target < 1:
        raise ValueError(_("target must be a positive integer, got {value}").format(value=repr(target)))
    target = int(target)
    if not planned_months > 0:
        raise ValueError(_("planned_months must be positive, got {value}").format(value=repr(planned_months)))
    if prior_weight_months < 0:
        raise ValueError(_("prior_weight_months must be >= 0, got {value}").format(value=repr(prior_weight_months)))
    if not days_per_month > 0:
        raise ValueError(_("days_per_month must be positive, got {value}").format(value=repr(days_per_month)))
    if not 0.0 < level < 1.0:
        raise ValueError(_("level must be strictly between 0 and 1, got {value}").format(value=repr(level)))
    start = _as_date(start, "start")
    cutoff = _as_date(cutoff, "cutoff")
    if cutoff < start:
        raise ValueError(_("cutoff {cutoff} is before start {start}").format(cutoff=cutoff, start=start))

    all_dates = sorted(_as_dates(randomization_dates))
    dates = [d for d in all_dates if d <= cutoff]
    ignored = len(all_dates) - len(dates)
    n = len(dates)
    exposure = (cutoff - start).days
    planned_rate = target / (planned_months * days_per_month)  # per day
    prior_days = prior_weight_months * days_per_month
    a0, b0 = planned_rate * prior_days, prior_days
    a, b = a0 + n, b0 + exposure
    remaining = max(target - n, 0)

    out = {
        "level": level,
        "rate_per_month": a / b * days_per_month if b > 0 else None,
        "randomized": n,
        "remaining": remaining,
        "expected_monthly": target / planned_months,
        "observed_monthly": n / exposure * days_per_month if exposure > 0 else None,
        "posterior_shape": a,
        "posterior_rate_days": b,
        "ignored_after_cutoff": ignored,
    }

    if remaining == 0:
        reached = dates[target - 1]
        out.update(
            model=_(
                "Target reached: the {ordinal} randomization was on {reached} "
                "({n} randomized by the {cutoff} cut-off); nothing to project."
            ).format(ordinal=_ordinal(target), reached=_prose_date(reached), n=n, cutoff=_prose_date(cutoff)),
            completion_date=reached,
            lower=reached,
            upper=reached,
            median_days=None,
            lower_days=None,
            upper_days=None,
            mean_days=None,
        )
        return out

    if a <= 0 or b <= 0:
        raise ValueError(
            _(
                "the accrual rate cannot be estimated: no randomizations (or no exposure time) "
                "and prior_weight_months = 0; give the prior some weight"
            )
        )

    waiting = stats.betaprime(remaining, a, scale=b)
    tail = (1.0 - level) / 2.0
    median_days = float(waiting.ppf(0.5))
    lower_days = float(waiting.ppf(tail))
    upper_days = float(waiting.ppf(1.0 - tail))
    mean_days = b * remaining / (a - 1.0) if a > 1 else None

    def on(days: float) -> date:
        return cutoff + timedelta(days=math.ceil(days))

    rate_month = a / b * days_per_month
    out.update(
        model=_(
            "Randomizations are modelled as a Poisson process with a constant rate per day. "
            "Prior: Gamma(shape {a0}, rate {b0} days), centred on the planned "
            "{target} patients in {months} months ({planned_rate}/month) "
            "and worth {prior_months} months of observation. "
            "Posterior after {n} randomized in {exposure} days since the first site activation: "
            "Gamma({a}, {b}), mean {rate}/month. "
            "Given the rate, the time to the remaining {remaining} randomizations is Gamma({remaining}, rate); "
            "over the posterior it is {b} x BetaPrime({remaining}, {a}) days after the "
            "{cutoff} cut-off. Shown: its median and central {level} prediction interval "
            "(Poisson-gamma accrual model, cf. Gajewski, Simon & Carlson 2008). "
            "A constant rate does not foresee sites opening or closing."
        ).format(
            a0=f"{a0:.2f}",
            b0=f"{b0:.1f}",
            target=target,
            months=f"{planned_months:g}",
            planned_rate=f"{target / planned_months:.1f}",
            prior_months=f"{prior_weight_months:g}",
            n=n,
            exposure=exposure,
            a=f"{a:.2f}",
            b=f"{b:.1f}",
            rate=f"{rate_month:.1f}",
            remaining=remaining,
            cutoff=_prose_date(cutoff),
            level=f"{level:.0%}",
        ),
        completion_date=on(median_days),
        lower=on(lower_days),
        upper=on(upper_days),
        median_days=median_days,
        lower_days=lower_days,
        upper_days=upper_days,
        mean_days=mean_days,
    )
    return out


def planned_accrual(start: date, target: int, planned_months: float, days_per_month: float) -> pd.DataFrame:
    """The planned accrual line: 0 at the first site activation to the target at the planned end.

    Parameters
    ----------
    start : date
        First site activation.
    target : int
        Number of patients to randomize.
    planned_months : float
        Planned accrual duration in months.
    days_per_month : float
        Days in a month.

    Returns
    -------
    pandas.DataFrame
        Columns ``date`` (datetime64, ``start + round(k * days_per_month)`` days) and
        ``planned`` (float, ``target * k / planned_months``) for months ``k = 0, 1, ...`` up to
        ``planned_months``; a non-whole ``planned_months`` adds a last row at the planned end,
        so the last row is always ``(start + round(planned_months * days_per_month) days, target)``.

    Raises
    ------
    ValueError
        If ``target < 1``, ``planned_months <= 0`` or ``days_per_month <= 0``.
    """
    if isinstance(target, bool) or int(target) != target or target < 1:
        raise ValueError(_("target must be a positive integer, got {value}").format(value=repr(target)))
    if not planned_months > 0:
        raise ValueError(_("planned_months must be positive, got {value}").format(value=repr(planned_months)))
    if not days_per_month > 0:
        raise ValueError(_("days_per_month must be positive, got {value}").format(value=repr(days_per_month)))
    start = _as_date(start, "start")
    months = [float(k) for k in range(int(math.floor(planned_months)) + 1)]
    if months[-1] < planned_months:
        months.append(float(planned_months))
    dates = [start + timedelta(days=round(k * days_per_month)) for k in months]
    planned = [target * k / planned_months for k in months]
    planned[-1] = float(target)
    return pd.DataFrame({"date": pd.to_datetime(dates), "planned": np.asarray(planned, dtype=float)})


def cumulative_accrual(randomization_dates: Iterable[date]) -> pd.DataFrame:
    """Cumulative number randomized at the end of each date on which someone was randomized.

    Parameters
    ----------
    randomization_dates : iterable of date
        Date of each randomization (date, datetime, Timestamp, datetime64 or ISO string), in
        any order; missing values are dropped.

    Returns
    -------
    pandas.DataFrame
        Columns ``date`` (datetime64, one row per distinct date, ascending) and
        ``randomized`` (int, cumulative count up to and including that date); empty with these
        columns when there are no dates.
    """
    dates = _as_dates(randomization_dates)
    if not dates:
        return pd.DataFrame({"date": pd.Series([], dtype="datetime64[ns]"), "randomized": pd.Series([], dtype="int64")})
    counts = pd.Series(pd.to_datetime(dates)).value_counts().sort_index()
    return pd.DataFrame(
        {"date": counts.index.values.astype("datetime64[ns]"), "randomized": counts.cumsum().to_numpy(dtype=np.int64)}
    )


def planned_by(day: date, start: date, target: int, planned_months: float, days_per_month: float) -> float:
    """Patients the plan expects randomized by the end of `day`: the planned line (`planned_accrual`,
    linear from 0 at `start` to `target` after `planned_months`), 0 before the start and the target
    after the planned end."""
    day, start = _as_date(day, "day"), _as_date(start, "start")
    months = (day - start).days / days_per_month
    return float(target) * min(max(months / planned_months, 0.0), 1.0)


def recent(randomization_dates: Iterable[date], cutoff: date, days: int = 30) -> int:
    """Randomizations in the `days` days that end on the cut-off (cutoff - days, cutoff]."""
    cutoff = _as_date(cutoff, "cutoff")
    first = cutoff - timedelta(days=days)
    return sum(1 for d in _as_dates(randomization_dates) if first < d <= cutoff)
