"""Each randomized subject of the demo trial: baseline, the dates before randomization, the
randomization in permuted blocks within strata, and outcomes (recurrence, death, withdrawal)."""

from __future__ import annotations

import datetime as dt
import math

from dashboard.devtools.demo.clinical import _Subject, ajcc8_stage
from dashboard.devtools.demo.randomness import _W, _age, _years_before
from dashboard.devtools.demo.vocabulary import _DRUGS


class SubjectsMixin:
    """Part of the demo generator (dashboard.devtools.demo.Demo)."""

    # -------------------------------------------------------------- 2. baseline
    def baseline(self) -> None:
        s = self.s
        prim_w = _W(["ORAL CAVITY", "OROPHARYNX", "LARYNX", "HYPOPHARYNX"], [55, 14, 17, 14])
        p16_oro = _W(["POSITIVE", "NEGATIVE", "NOT DONE"], [30, 58, 12])
        p16_other = _W(["", "NEGATIVE", "NOT DONE", "POSITIVE"], [55, 33, 9, 3])
        t_w = _W(["T1", "T2", "T3", "T4A", "T4"], [5, 20, 35, 36, 4])
        n_w = _W(["N0", "N1", "N2", "N2A", "N2B", "N2C"], [30, 25, 5, 8, 22, 10])
        cyc_w = _W([2, 3, 4, 5, 6], [32, 40, 22, 4, 2])
        smoke_m = _W(["CURRENT", "FORMER", "NEVER", ""], [36, 34, 28, 2])
        smoke_f = _W(["NEVER", "FORMER", "CURRENT", ""], [85, 8, 5, 2])
        drugs = [d[0] for d in _DRUGS]
        dclass = {d[0]: d[1] for d in _DRUGS}
        prefs = {k: _W(drugs, self.drug_pref[k]) for k in self.drug_pref}
        for p in self.subjects:
            p.male = s.chance(0.78)
            p.age = int(min(self.max_age, max(30, round(s.normal(57.0, 9.5)))))
            p.prim = prim_w(s)
            p.p16 = p16_oro(s) if p.prim == "OROPHARYNX" else p16_other(s)
            if p.prim == "OROPHARYNX" and p.p16 == "POSITIVE":
                if s.chance(0.7):
                    p.ct, p.cn = "T4", s.pick(["N0", "N1", "N1", "N2"])
                else:
                    p.ct, p.cn = s.pick(["T1", "T2", "T2", "T3", "T3"]), "N3"
            else:
                while True:
                    p.ct, p.cn = t_w(s), n_w(s)
                    st = ajcc8_stage(p.prim, p.p16, p.ct, p.cn, "M0")
                    if st in ("III", "IVA"):
                        break
            p.stage = ajcc8_stage(p.prim, p.p16, p.ct, p.cn, "M0")
            p.resp = "CR" if s.chance(0.25) else "PR"
            p.ncyc = cyc_w(s)
            p.drug = prefs[p.site](s)
            p.xclass = dclass[p.drug]
            p.chemo = s.chance(0.72)
            p.ecog = 0 if s.chance(0.6) else 1
            p.smoking = smoke_m(s) if p.male else smoke_f(s)
            p.surg_gap = s.int(7, self.surgery_max) if s.chance(0.92) else s.int(3, 6)
            p.tongue = p.prim == "ORAL CAVITY" and s.chance(0.45)

    def timeline(self, p: _Subject) -> None:
        """Dates before randomization, from the (possibly planted) attributes."""
        s = self.s
        if p.consent is None:
            p.consent = p.R - (0 if s.chance(0.12) else s.int(1, 10))
        p.scrn = min(p.consent, p.R - s.int(1, 4)) if p.consent > p.R else p.consent
        anchor = min(p.consent, p.scrn)
        p.rs_last = anchor - s.int(0, 10)
        last = p.rs_last - (
            s.int(self.imaging_max + 5, self.imaging_max + 17) if p.img_late else s.int(10, self.imaging_max)
        )
        dates = [last]
        for _ in range(p.ncyc - 1):
            dates.append(dates[-1] - 21 - (0 if s.chance(0.75) else s.int(1, 7)))
        p.cycle_dates = dates[::-1]
        if p.ncyc >= 3 and s.chance(0.4):
            # an earlier assessment after cycle 2, before cycle 3
            when = p.cycle_dates[2] - s.int(1, 5)
            p.interim = (when, "CR" if (p.resp == "CR" and s.chance(0.2)) else ("PR" if s.chance(0.7) else "SD"))
        p.dx = p.cycle_dates[0] - s.int(7, 35)
        p.bl = p.scrn + (s.int(0, min(3, p.R - p.scrn)) if p.R > p.scrn else 0)
        # birth date giving the whole-year age at consent
        c = dt.date.fromordinal(p.consent)
        anniv = _years_before(c, p.age)
        birth = anniv - dt.timedelta(days=s.int(0, 360))
        if _age(birth, c) != p.age:
            birth = anniv
        p.birth = birth
        first = birth.replace(day=1)
        p.birth_partial = s.chance(0.05) and _age(first, c) == p.age and "I01" not in p.ie_over

    # -------------------------------------------------------------- 4. randomization
    def randomize(self) -> None:
        s = self.s
        trial = self.trial
        ratio = trial.randomization.ratio
        bs = trial.randomization.block_size
        per = bs // sum(ratio) if bs % sum(ratio) == 0 else 1
        template = [a for a, r in zip(self.arms, ratio, strict=True) for _ in range(r * per)]
        strata = {st.field: st.values for st in trial.randomization.strata}
        blocks: dict[tuple, list] = {}
        order = sorted(self.subjects, key=lambda p: (p.R, p.consent, p.site, p.num))
        width = max(4, len(str(len(order))))
        for k, p in enumerate(order, start=1):
            values = strata.get("STRATRESP", ["CR", "PR"])
            p.stratresp = p.resp if p.resp in values else values[-1]
            site_values = strata.get("STRATSITE", ["ORAL CAVITY", "OTHER"])
            true_site = p.prim if p.prim in site_values else site_values[-1]
            if p.stratsite == "WRONG":
                p.stratsite = next(v for v in site_values if v != true_site)
            else:
                p.stratsite = true_site
            key = (p.stratresp, p.stratsite)
            block = blocks.get(key)
            if not block:
                block = blocks[key] = s.shuffle(list(template))
            p.arm = block.pop()
            p.randno = f"R{k:0{width}d}"

    # -------------------------------------------------------------- 5. outcomes
    def outcomes(self) -> None:
        s, C, dpm = self.s, self.cutoff, self.dpm
        base_rec = -math.log(0.70) / 36.0  # per month: about 70% recurrence-free at 3 years
        other_death = -math.log(0.965) / 36.0
        for p in self.subjects:
            de = self.experimental.get(p.arm, False)
            p.S = p.R + p.surg_gap
            if not p.protected and s.chance(0.008) and p.surg_gap >= 3:
                p.pre_withdraw = p.R + s.int(1, p.surg_gap - 1)
            h = base_rec * (1.2 if de else 1.0) * (1.3 if p.stage == "IVA" else 0.8) * (0.55 if p.resp == "CR" else 1.0)
            start = p.S if p.pre_withdraw is None else p.R + 20
            p.t_rec1 = start + 45 + int(s.exp(1.0 / h) * dpm)
            w = [40, 24, 26, 10] if de else [32, 26, 30, 12]
            types = [t for t in ("LOCAL", "REGIONAL", "DISTANT", "SECOND PRIMARY") if t in self.rectypes]
            p.rec1 = _W(types, w[: len(types)])(s)
            p.t_rec2, p.rec2 = None, None
            if s.chance(0.3) and len(types) > 1:
                p.rec2 = s.pick([t for t in types if t != p.rec1 and t != "SECOND PRIMARY"] or types)
                p.t_rec2 = p.t_rec1 + 14 + int(s.exp(5.0 * dpm))
            d_rec = p.t_rec1 + int(s.exp(14.0 / math.log(2) * dpm))
            d_oth = p.R + 1 + int(s.exp(1.0 / other_death * dpm))
            if d_rec <= d_oth:
                p.t_death, p.death_cause = d_rec, ("DISEASE" if s.chance(0.92) else "UNKNOWN")
            else:
                p.t_death = d_oth
                p.death_cause = _W(["OTHER", "UNKNOWN", "DISEASE"], [60, 28, 12])(s)
            p.t_withdraw = p.R + s.int(30, 1100) if s.chance(0.025) else None
            p.t_ltfu = p.R + s.int(150, 1100) if s.chance(0.02) else None
            p.t_phys = p.R + s.int(60, 900) if s.chance(0.004) else None
            if p.protected:
                p.t_death = p.t_rec1 = p.t_rec2 = 10**7
                p.t_withdraw = p.t_ltfu = p.t_phys = None
            if p.pre_withdraw is not None:
                p.t_withdraw = None
            p.operated = p.S <= C and p.pre_withdraw is None and p.t_death > p.S
        # deaths from surgery (Clavien-Dindo V), at least one when there are enough operations
        cands = [p for p in self.subjects if p.operated and not p.protected and p.S + 60 <= C and p.t_death > p.S + 60]
        if cands:
            k = int(self.rng.binomial(len(cands), 0.006))
            if len(cands) >= 100:
                k = max(1, k)
            for _ in range(min(k, len(cands))):
                p = cands.pop(int(s.u() * len(cands)))
                p.treat_death = p.S + s.int(2, 45)
                p.t_death, p.death_cause = p.treat_death, "TREATMENT"
                p.t_withdraw = p.t_ltfu = p.t_phys = None
