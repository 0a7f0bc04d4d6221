"""Sites, their activation and accrual, the screening log and the EDC entry stamps of the demo trial."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

from dashboard.devtools.demo.clinical import _Subject
from dashboard.devtools.demo.randomness import _W, _age, _d
from dashboard.devtools.demo.vocabulary import _CITIES, _DRUGS, _HOSPITALS, _SUFFIXES


class SitesMixin:
    """Part of the demo generator (dashboard.devtools.demo.Demo)."""

    # -------------------------------------------------------------- spec helpers
    def codes(self, form: str, column: str) -> list[str]:
        for c in self.spec.forms[form].columns:
            if c.name == column:
                return list(c.codes or [])
        raise KeyError(f"{form}.{column} is not in the CRF spec")

    def _need(self, form: str, column: str, *values: str) -> None:
        missing = [v for v in values if v not in self.codes(form, column)]
        if missing:
            raise ValueError(f"crf_spec.toml: {form}.{column} lacks codes {missing} the demo writes")

    # -------------------------------------------------------------- 1. sites and accrual
    def make_sites(self) -> None:
        n, s, rng = self.n_sites, self.s, self.rng
        width = max(2, len(str(n)))
        self.siteids = [f"{k + 1:0{width}d}" for k in range(n)]
        names = list(_HOSPITALS[:n])
        if n > len(names):
            generated = [(c + suf, c) for suf in _SUFFIXES for c in _CITIES]
            s.shuffle(generated)
            names += generated[: n - len(names)]
            k = 0
            while len(names) < n:
                c = _CITIES[k % len(_CITIES)]
                names.append((f"{c}{_SUFFIXES[k % len(_SUFFIXES)]}（第{k // len(_CITIES) + 2}院区）", c))
                k += 1
        self.site_names = names
        n_pending = 0 if n < 4 else 1 if n < 8 else max(2, round(n * 0.05))
        self.pending = set(range(n - n_pending, n))
        active = [k for k in range(n) if k not in self.pending]
        total = self.cutoff - self.start
        span = min(365.0, 0.4 * total) * (1.0 if n > 1 else 0.0)
        first = self.start + s.int(7, 20)
        offsets = np.sort(rng.uniform(0.0, span, len(active)))
        offsets[0] = 0.0
        self.actdat = {k: first + int(offsets[j]) for j, k in enumerate(active)}
        rates = rng.gamma(2.5, 1.0, len(active))
        rates[0] = max(rates[0], float(rates.max()))  # the lead site enrolls most
        self.closed: dict[int, int] = {}
        if len(active) >= 8:
            k = active[1 + int(s.u() * (len(active) - 1))]
            a = self.actdat[k]
            self.closed[k] = a + int((self.cutoff - a) * (0.5 + 0.25 * s.u()))
            rates[active.index(k)] *= 0.4
        self.active = active
        self.rate = dict(zip(active, rates, strict=True))
        # enrolment windows: from 3 weeks after activation to the cut-off (or the closure)
        self.window = {k: (self.actdat[k] + 21, self.closed.get(k, self.cutoff)) for k in active}
        # the site's entry lag (median days) and how often it reports deviations
        self.lag = {k: float(np.exp(rng.normal(math.log(6.0), 0.6))) for k in range(n)}
        self.dv_rate = {k: float(rng.gamma(1.5, 1 / 1.5)) for k in range(n)}
        self.drug_pref = {k: rng.dirichlet(np.array([d[2] for d in _DRUGS]) * 12.0) for k in range(n)}

    def accrue(self) -> None:
        """Place exactly N randomizations over the active sites (rate x open time), each after
        its site's activation and on or before the cut-off."""
        rng = self.rng
        act = self.active
        exposure = np.array([self.rate[k] * max(1, self.window[k][1] - self.window[k][0]) for k in act])
        counts = rng.multinomial(self.N, exposure / exposure.sum())
        site_of = np.repeat(np.array(act), counts)
        lo = np.array([self.window[k][0] for k in site_of])
        hi = np.array([self.window[k][1] for k in site_of])
        u = rng.random(self.N) ** 0.8  # accrual picks up once a site is running
        R = lo + np.floor((hi - lo + 1) * u).astype(np.int64)
        R = np.minimum(R, hi)
        tie = rng.random(self.N)
        order = np.lexsort((tie, R, site_of))
        self.subjects = [_Subject(j, int(site_of[o]), int(R[o])) for j, o in enumerate(order)]
        width = max(3, len(str(int(counts.max()) if len(counts) else 1)))
        num: dict[int, int] = {}
        for p in self.subjects:
            num[p.site] = num.get(p.site, 0) + 1
            p.num = num[p.site]
            p.subjid = f"{self.siteids[p.site]}-{p.num:0{width}d}"

    # -------------------------------------------------------------- 7. screening log and sites
    def screening(self) -> list[tuple]:
        s, rng = self.s, self.rng
        entries = []  # (site, date, age, sex, outcome, reason, subjid)
        for p in self.subjects:
            entries.append(
                (
                    p.site,
                    p.scrn,
                    _age(p.birth, dt.date.fromordinal(p.scrn)),
                    "M" if p.male else "F",
                    "ENROLLED",
                    "",
                    p.subjid,
                )
            )
        act = self.active
        exposure = np.array([self.rate[k] * max(1, self.window[k][1] - self.window[k][0]) for k in act])
        n_fail = round(self.N * 0.24)
        fails = rng.multinomial(n_fail, exposure / exposure.sum()) if n_fail else np.zeros(len(act), int)
        reason = _W(
            ["I07", "I03", "I04", "E02", "OTHER", "I01", "I02", "I09", "E03", "E06", "I10"],
            [55, 12, 7, 6, 10, 3, 2, 2, 1, 1, 1],
        )
        for k, n in zip(act, fails, strict=True):
            lo, hi = self.window[k][0] - 14, self.window[k][1]
            for _ in range(int(n)):
                why = reason(s)
                age = (
                    s.int(self.max_age + 1, self.max_age + 7)
                    if why == "I01"
                    else int(min(self.max_age, max(30, round(s.normal(58, 10)))))
                )
                entries.append((k, s.int(lo, hi), age, "M" if s.chance(0.78) else "F", "SCREEN FAILURE", why, ""))
        open_sites = [k for k in act if k not in self.closed]
        n_pend = max(1, round(self.N * 0.012)) if open_sites else 0
        for _ in range(n_pend):
            k = s.pick(open_sites)
            lo = max(self.actdat[k], self.cutoff - 20)
            entries.append(
                (
                    k,
                    s.int(lo, self.cutoff),
                    int(min(self.max_age, max(30, round(s.normal(58, 10))))),
                    "M" if s.chance(0.78) else "F",
                    "PENDING",
                    "",
                    "",
                )
            )
        entries.sort(key=lambda e: (e[0], e[1], e[6] or "~"))
        counts: dict[int, int] = {}
        for e in entries:
            counts[e[0]] = counts.get(e[0], 0) + 1
        width = max(4, len(str(max(counts.values(), default=1))))
        rows, seq = [], {}
        for site, date, age, sex, outcome, why, subjid in entries:
            seq[site] = seq.get(site, 0) + 1
            sid = self.siteids[site]
            rows.append((f"S{sid}-{seq[site]:0{width}d}", sid, _d(date), str(age), sex, outcome, why, subjid))
        self.n_fail, self.n_pend = int(sum(fails)), n_pend
        return rows

    def sites_rows(self) -> list[tuple]:
        target_total = max(self.trial.trial.target_enrollment, self.N)
        total_rate = sum(self.rate.values())
        rows = []
        for k, sid in enumerate(self.siteids):
            name, city = self.site_names[k]
            if k in self.pending:
                rows.append((sid, name, city, "CHN", "", str(5 * self.s.int(2, 4)), "PENDING"))
                continue
            share = self.rate[k] / total_rate
            target = max(5, int(round(share * target_total * 1.1 / 5.0)) * 5)
            status = "CLOSED" if k in self.closed else "ACTIVE"
            rows.append((sid, name, city, "CHN", _d(self.actdat[k]), str(target), status))
        return rows

    # -------------------------------------------------------------- 6. rows
    def lag_days(self, site: int) -> int:
        """Days from a row's date to its entry in the EDC: gamma(2) around the site's own lag."""
        s = self.s
        return int(self.lag[site] * 0.5 * (-math.log(1.0 - s.u()) - math.log(1.0 - s.u())))

    def stamp(self, day: int) -> str:
        sec = self.s.int(8 * 3600, 21 * 3600 + 3599)
        return f"{_d(day)}T{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}"

    def entry(self, o: int, site: int) -> str:
        """The EDC entry stamp of a row dated `o`: a site-dependent lag, before the export day."""
        return self.stamp(max(o, min(o + self.lag_days(site), self.export_day - 1)))
