"""The demo generator's random draws (one stream, so the same seed gives the same files) and
its date helpers (days as ordinals)."""

from __future__ import annotations

import datetime as dt
import math
from bisect import bisect_right
from functools import cache
from itertools import accumulate

import numpy as np


@cache
def _d(o: int) -> str:
    """ISO date of a proleptic Gregorian ordinal."""
    return dt.date.fromordinal(o).isoformat()


def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _years_before(d: dt.date, years: int) -> dt.date:
    try:
        return d.replace(year=d.year - years)
    except ValueError:  # 29 February
        return d.replace(year=d.year - years, day=28)


class _Stream:
    """Scalar random draws for the per-subject loops, fed in blocks from a numpy Generator:
    deterministic for the seed and far cheaper per call than the Generator's scalar methods."""

    def __init__(self, rng: np.random.Generator):
        self._rng = rng
        self._it = iter(())

    def u(self) -> float:
        for x in self._it:
            return x
        self._it = iter(self._rng.random(1 << 16).tolist())
        return next(self._it)

    def int(self, a: int, b: int) -> int:
        """Uniform integer in [a, b]."""
        return a + int(self.u() * (b - a + 1))

    def chance(self, p: float) -> bool:
        return self.u() < p

    def pick(self, seq):
        return seq[int(self.u() * len(seq))]

    def exp(self, mean: float) -> float:
        return -mean * math.log(1.0 - self.u())

    def normal(self, mu: float = 0.0, sd: float = 1.0) -> float:
        return mu + sd * math.sqrt(-2.0 * math.log(1.0 - self.u())) * math.cos(2.0 * math.pi * self.u())

    def poisson(self, lam: float) -> int:
        limit, k, p = math.exp(-lam), 0, self.u()
        while p > limit:
            k += 1
            p *= self.u()
        return k

    def shuffle(self, seq: list) -> list:
        for i in range(len(seq) - 1, 0, -1):
            j = int(self.u() * (i + 1))
            seq[i], seq[j] = seq[j], seq[i]
        return seq


class _W:
    """A weighted choice among items."""

    def __init__(self, items, weights):
        self.items = list(items)
        self.cum = list(accumulate(float(w) for w in weights))

    def __call__(self, s: _Stream):
        return self.items[min(bisect_right(self.cum, s.u() * self.cum[-1]), len(self.items) - 1)]
