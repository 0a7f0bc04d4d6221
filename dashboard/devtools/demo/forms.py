"""The rows of every CRF form of the demo trial, from the subjects' timelines."""

from __future__ import annotations

from dashboard.devtools.demo.clinical import _ghs, _mdadi, _Subject, _swallow
from dashboard.devtools.demo.randomness import _W, _d
from dashboard.devtools.demo.vocabulary import (
    _AE_GENERAL,
    _AE_IMMUNE,
    _AE_RT,
    _AE_SURGICAL,
    _CHEMO_ONLY,
    _CLAVIEN,
    _CLAVIEN_GRADE,
    _DV_RANDOM,
    _FATAL_SURGICAL,
)


class FormsMixin:
    """Part of the demo generator (dashboard.devtools.demo.Demo)."""

    def rows(self) -> dict[str, list]:
        s, C, dpm, sch = self.s, self.cutoff, self.dpm, self.sch
        T = {f: [] for f in self.spec.forms}
        dm, ie, dx, bl, ex, rs, rnd = T["DM"], T["IE"], T["DX"], T["BL"], T["EX"], T["RS"], T["RAND"]
        pr, path, adj, ae, fu = T["PR"], T["PATH"], T["ADJ"], T["AE"], T["FU"]
        recur, dd, ds, dv, qs = T["RECUR"], T["DD"], T["DS"], T["DV"], T["QS"]
        P = self.planted
        P["never_operated"] = []
        P["death_90d"] = []
        P["dates_after_cutoff"] = []
        ie_default = {c: ("Y" if c.startswith("I") else "N") for c in self.criteria}
        fu_due = [
            (
                m,
                round(m * dpm),
                sch.followup_window_days if m <= sch.followup_window_switch_month else sch.followup_window_days_late,
            )
            for m in self.fu_months
        ]
        last_visit = f"M{fu_due[-1][0]}" if fu_due else None
        rt_types = [t for t in ("RT", "CRT") if t in sch.adjuvant_rt_types] or ["RT"]
        fatal_w = _W(_FATAL_SURGICAL, [4, 3, 1])
        immune_w = _W(_AE_IMMUNE, [a[6] for a in _AE_IMMUNE])
        surg_w = {
            flap: _W([a for a in _AE_SURGICAL if flap or not a[7]], [a[6] for a in _AE_SURGICAL if flap or not a[7]])
            for flap in (True, False)
        }
        clav_w = {a[0]: _W(_CLAVIEN, a[3]) for a in _AE_SURGICAL}
        dv_w = _W(_DV_RANDOM, [d[4] for d in _DV_RANDOM])
        grade_w: dict[tuple, _W] = {}
        has_baseline_qol = any(v == "BASELINE" for v, _ in self.qol)
        last_entry_day = self.export_day - 1

        def grade(weights):
            w = grade_w.get(weights)
            if w is None:
                w = grade_w[weights] = _W([1, 2, 3, 4], weights)
            return w(s)

        for p in self.subjects:
            sid, site, R = p.subjid, self.siteids[p.site], p.R
            de = self.experimental.get(p.arm, False)
            # ---- forms filled before randomization
            brth = p.birth.isoformat()[:7] if p.birth_partial else p.birth.isoformat()
            dm.append((sid, site, brth, "M" if p.male else "F", _d(p.consent), self.entry(p.consent, p.site)))
            answers = dict(ie_default)
            answers.update(p.ie_over)
            for code in self.criteria:
                ie.append((sid, site, code, answers[code]))
            dx.append((sid, site, _d(p.dx), p.prim, "SCC", p.p16, p.ct, p.cn, "M0", p.stage, "N", "N"))
            bl.append((sid, site, _d(p.bl), str(p.ecog), "N", "" if p.male else "N", "N", p.smoking))
            for k, d in enumerate(p.cycle_dates, start=1):
                chemo = "Y" if (p.chemo and (k <= 3 or s.chance(0.5))) else "N"
                ex.append((sid, site, str(k), _d(d), p.drug, p.xclass, chemo))
            if p.interim:
                rs.append((sid, site, _d(p.interim[0]), p.interim[1]))
            rs.append((sid, site, _d(p.rs_last), p.resp))
            sec = s.int(9 * 3600, 17 * 3600)
            rnd.append(
                (
                    sid,
                    site,
                    _d(R),
                    p.randno,
                    p.arm,
                    p.stratresp,
                    p.stratsite,
                    f"{_d(R)}T{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}",
                )
            )

            # ---- how long the subject is observed
            death = p.t_death if p.t_death <= C else None
            stops = [t for t in (p.pre_withdraw, p.t_withdraw, p.t_phys) if t is not None and t <= C]
            stop = min(stops) if stops else None
            if death is not None and stop is not None and stop < death:
                death = None
            if death is not None:
                stop = None
            end = min([C] + [t for t in (death, stop) if t is not None])
            S, operated = p.S, p.operated
            visits: list[tuple[int, str, int, int]] = []  # (date, visit, due date, window)
            ds_row = None
            if operated:
                for m, due, win in fu_due:
                    date = S + due + max(-(win - 2), min(win - 2, int(round(s.normal(0, win / 3.0)))))
                    if date > end or (death is not None and date >= death):
                        break
                    if p.t_ltfu is not None and date >= p.t_ltfu:
                        break
                    if not p.oow and s.chance(0.05):
                        continue  # missed visit
                    visits.append((date, f"M{m}", S + due, win))
                if p.oow:
                    self._out_of_window(p, visits, S, end)
                if p.t_ltfu is not None and p.t_ltfu <= end:
                    contact = visits[-1][0] if visits else S
                    end, death, stop = contact, None, None
                    ds_row = ("LOST TO FOLLOW-UP", contact)
                elif visits and visits[-1][1] == last_visit and death is None and stop is None:
                    end = visits[-1][0]
                    ds_row = ("COMPLETED", end)
            elif R < C - sch.never_operated_after_days:
                P["never_operated"].append(sid)
            if death is not None:
                ds_row = ("DEATH", death)
            elif stop is not None:
                ds_row = ("WITHDREW CONSENT" if stop in (p.pre_withdraw, p.t_withdraw) else "PHYSICIAN DECISION", stop)

            # ---- neoadjuvant adverse events (from the first dose, before randomization)
            aes: list[tuple] = []
            first, last = p.cycle_dates[0], p.cycle_dates[-1]
            for _ in range(s.poisson(0.6)):
                a = immune_w(s)
                on = first + s.int(7, max(8, last - first + 21))
                aes.append(self._ae(a, on, grade(a[3]), "IMMUNOTHERAPY", "Y", None, end))
            for a in _AE_GENERAL:
                if (a[0] in _CHEMO_ONLY and not p.chemo) or not s.chance(a[6] * 0.015):
                    continue
                on = first + s.int(1, max(2, last - first + 14))
                aes.append(
                    self._ae(a, on, grade(a[3]), "IMMUNOTHERAPY" if a[0] == "乏力" else "UNKNOWN", "N", None, end)
                )

            # ---- surgery, complications, pathology, adjuvant therapy
            if operated:
                self._surgery_fields(p)
                pr.append(
                    (
                        sid,
                        site,
                        _d(S),
                        self.surgery_of[p.arm],
                        p.prim_resected,
                        p.mand,
                        p.flap,
                        p.gloss,
                        p.neck,
                        self.entry(S, p.site),
                    )
                )
                n_comp = 0 if s.chance(0.70 if de else 0.64) else (1 if s.chance(0.78) else 2)
                for _ in range(n_comp):
                    a = surg_w[p.flap == "Y"](s)
                    on = S + s.int(1, 21)
                    clav = clav_w[a[0]](s)
                    aes.append(self._ae(a, on, _CLAVIEN_GRADE[clav], "SURGERY", "N", clav, end))
                    if clav == "IIIB" and on <= end:
                        when = min(on + s.int(0, 2), end)
                        pr.append(
                            (
                                sid,
                                site,
                                _d(when),
                                self.reoperation,
                                "",
                                "",
                                "Y" if a[7] else "",
                                "",
                                "",
                                self.entry(when, p.site),
                            )
                        )
                if p.treat_death is not None and death == p.treat_death:
                    a = fatal_w(s)
                    on = max(S + 1, death - s.int(0, 5))
                    aes.append((a[0], a[1], a[2], on, death, 5, "Y", "SURGERY", "N", "V", "FATAL"))
                pdate = S + s.int(7, 18)
                high_risk = False
                if pdate <= end:
                    row = self._pathology(p, pdate)
                    path.append(row)
                    high_risk = row[4] == "POSITIVE" or row[5] == "Y"  # margin, extranodal extension
                self._adjuvant(p, adj, aes, high_risk, end, rt_types)

            # ---- follow-up, recurrences, death, end of study
            for date, name, *_ in visits:
                if date <= end:
                    fu.append((sid, site, name, _d(date), "ALIVE", self.entry(date, p.site)))
            for t, typ in ((p.t_rec1, p.rec1), (p.t_rec2, p.rec2)):
                if t is not None and typ and R < t <= end and (death is None or t < death):
                    recur.append((sid, site, _d(t), typ))
                    if s.chance(0.5):
                        fu.append((sid, site, "UNSCHEDULED", _d(t), "ALIVE", self.entry(t, p.site)))
            if death is not None:
                dd.append((sid, site, _d(death), p.death_cause))
                if s.chance(0.4):
                    fu.append((sid, site, "UNSCHEDULED", _d(death), "DEAD", self.entry(death, p.site)))
                if operated and 0 <= death - S <= self.early_death_max:
                    P["death_90d"].append(sid)
            if ds_row is not None:
                ds.append((sid, site, ds_row[0], _d(ds_row[1])))

            # ---- quality of life: baseline, then at the scheduled visits that took place
            qdates = []
            if has_baseline_qol:
                qdates.append(("BASELINE", 0, p.bl))
            if operated:
                vdate = {name: date for date, name, *_ in visits}
                for v, m in self.qol:
                    date = vdate.get(v)
                    if m and date is not None and date <= end and (death is None or date < death):
                        qdates.append((v, m, date))
            if qdates:
                gh_b, sw_b, md_b = s.normal(0, 11), s.normal(0, 10), s.normal(0, 9)
                for v, m, date in qdates:
                    if s.chance(0.10):  # the whole visit's forms missing
                        continue
                    for cat, code, val in (
                        ("QLQ-C30", "GHS", _ghs(m, de) + gh_b),
                        ("QLQ-H&N35", "SWALLOW", _swallow(m, de) + sw_b),
                        ("MDADI", "MDADI", _mdadi(m, de) + md_b),
                    ):
                        if cat not in self.qscat or s.chance(0.055):
                            continue
                        x = val + s.normal(0, 9)
                        if code == "MDADI":
                            x = min(100.0, max(20.0, round(x * 19 / 20) * 20 / 19))
                        else:
                            x = min(100.0, max(0.0, round(x * 12 / 100) * 100 / 12))
                        qs.append((sid, site, v, _d(date), cat, code, f"{x:.1f}"))

            # ---- adverse events in onset order; some not yet entered at the export
            if p.ae_late:
                a = _AE_GENERAL[0]
                aes.append((a[0], a[1], a[2], C + s.int(1, 2), None, 1, "N", "UNKNOWN", "N", None, "NOT RECOVERED"))
            aes.sort(key=lambda a: a[3])
            k = 0
            for term, decod, soc, on, en, gr, ser, rel, imm, clav, out in aes:
                after_cutoff = on > C
                if after_cutoff:
                    if not p.ae_late:
                        continue
                    P["dates_after_cutoff"].append(["AE", sid, "AESTDAT"])
                elif on > end:
                    continue
                lag = self.lag_days(p.site)
                if on + lag > last_entry_day and gr < 5 and not after_cutoff:
                    continue  # entered after the export
                k += 1
                txt = _d(on)
                if not after_cutoff and gr < 5:
                    r = s.u()
                    if r < 0.015:
                        txt = txt[:4]
                    elif r < 0.095:
                        txt = txt[:7]
                ae.append(
                    (
                        sid,
                        site,
                        str(k),
                        term,
                        decod,
                        soc,
                        txt,
                        "" if en is None else _d(en),
                        str(gr),
                        ser,
                        rel,
                        imm,
                        clav or "",
                        out,
                        self.stamp(min(on + lag, last_entry_day)),
                    )
                )

            # ---- deviations reported by the site
            self._deviations(p, dv, dv_w, end, death, visits)
        return T

    def _ae(self, a, on, gr, rel, imm, clav, end) -> tuple:
        """An AE tuple: (term, decod, soc, onset, end, grade, serious, rel, immune, clavien, outcome)."""
        s = self.s
        lo, hi = a[4]
        chronic = s.chance(a[5])
        stop = None if chronic else on + s.int(lo, hi)
        if stop is not None and stop > end:
            stop = None
        if stop is not None:
            out = "RECOVERED"
        else:
            out = "NOT RECOVERED" if chronic else "RECOVERING"
        if s.chance(0.02):
            out, stop = "UNKNOWN", None
        if clav is not None:
            ser = "Y" if clav in ("IIIB", "IVA", "IVB") or (clav == "IIIA" and s.chance(0.5)) else "N"
        else:
            ser = "Y" if gr >= 3 and s.chance(0.85) or (gr < 3 and s.chance(0.02)) else "N"
        return (a[0], a[1], a[2], on, stop, gr, ser, rel, imm, clav, out)

    def _surgery_fields(self, p: _Subject) -> None:
        s = self.s
        de = self.experimental.get(p.arm, False)
        oral = p.prim == "ORAL CAVITY"
        if de:
            omit = s.chance(0.35 if p.resp == "CR" else 0.04)
            p.prim_resected = "N" if omit else "Y"
            p.flap = "N" if omit else ("Y" if s.chance(0.42) else "N")
            p.mand = ("Y" if s.chance(0.85) else "N") if oral else ""
            p.gloss = (_W(["LT HALF", "HEMI", "GT HALF"], [60, 30, 10])(s) if p.tongue else "NONE") if oral else ""
            if omit and oral:
                p.gloss = "NONE"
        else:
            p.prim_resected = "Y"
            p.flap = "Y" if s.chance(0.76) else "N"
            p.mand = ("N" if s.chance(0.45) else "Y") if oral else ""
            p.gloss = (_W(["LT HALF", "HEMI", "GT HALF"], [20, 45, 35])(s) if p.tongue else "NONE") if oral else ""
        p.neck = "Y" if s.chance(0.95) else "N"

    def _pathology(self, p: _Subject, pdate: int) -> tuple:
        s = self.s
        de = self.experimental.get(p.arm, False)
        sid, site = p.subjid, self.siteids[p.site]
        if p.prim_resected == "N":
            pcr = ""
            margin = "NEGATIVE"
        else:
            pcr = "Y" if s.chance(0.55 if p.resp == "CR" else 0.12) else "N"
            if pcr == "Y":
                margin = "NEGATIVE" if s.chance(0.97) else "CLOSE"
            else:
                pos, close = (0.14, 0.17) if de else (0.085, 0.13)
                r = s.u()
                margin = "POSITIVE" if r < pos else "CLOSE" if r < pos + close else "NEGATIVE"
        if p.neck == "N":
            ene, pn = "", ""
        elif pcr == "Y":
            ene, pn = "N", "0"
        else:
            n = 0 if s.chance(0.55) else 1 + min(7, int(s.exp(1.6)))
            ene = "Y" if n > 0 and s.chance(0.3) else "N"
            pn = str(n)
        return (sid, site, _d(pdate), pcr, margin, ene, pn, self.entry(pdate, p.site))

    def _adjuvant(self, p, adj, aes, risky, end, rt_types) -> None:
        """Adjuvant (chemo)radiotherapy 3-6 weeks after surgery for most, chemoradiotherapy for a
        positive margin or extranodal extension; adjuvant immunotherapy for some."""
        s = self.s
        sid, site, S = p.subjid, self.siteids[p.site], p.S
        if p.rt_late or risky or s.chance(0.8 if p.stage == "IVA" else 0.65):
            typ = "CRT" if (risky and s.chance(0.85)) or s.chance(0.25) else "RT"
            if typ not in rt_types:
                typ = rt_types[0]
        else:
            typ = None
        if typ is not None:
            start = S + (s.int(self.rt_max + 7, self.rt_max + 33) if p.rt_late else s.int(21, self.rt_max))
            if start <= end:
                stop = start + s.int(40, 50)
                dose = 66 if (risky or typ == "CRT" and s.chance(0.5)) else s.pick([60, 60, 60, 62, 64])
                adj.append((sid, site, typ, _d(start), _d(stop) if stop <= end else "", str(dose)))
                for a in _AE_RT:
                    if s.chance(a[6]):
                        on = start + s.int(10, 35)
                        if on <= end:
                            gr = _W([1, 2, 3, 4], a[3])(s)
                            aes.append(self._ae(a, on, gr, "RADIOTHERAPY", "N", None, end))
                if s.chance(0.3):
                    istart = start if s.chance(0.5) else stop + s.int(7, 21)
                    istop = istart + s.int(180, 365)
                    if istart <= end:
                        adj.append((sid, site, "IMMUNOTHERAPY", _d(istart), _d(istop) if istop <= end else "", ""))
        elif s.chance(0.1):
            istart = S + s.int(21, 42)
            if istart <= end:
                istop = istart + s.int(180, 365)
                adj.append((sid, site, "IMMUNOTHERAPY", _d(istart), _d(istop) if istop <= end else "", ""))

    def _deviations(self, p, dv, dv_w, end, death, visits) -> None:
        s = self.s
        sid, site, R = p.subjid, self.siteids[p.site], p.R
        P = self.planted
        items: list[tuple] = []
        if sid in P["I04"]:
            items.append((R, "ELIGIBILITY", "入组时ECOG评分为2分，不符合入选标准4", "MAJOR"))
        if sid in P["I12"][:1]:
            items.append((p.consent, "INFORMED CONSENT", "随机化后才签署知情同意书", "MAJOR"))
        if sid in P["randomization_to_surgery"][:2]:
            items.append((p.S, "TREATMENT", "随机化后超过28天才手术", "MINOR"))
        if sid in P["surgery_to_adjuvant_rt"][:1]:
            items.append(
                (p.S + 43, "TREATMENT", "Adjuvant radiotherapy started more than 6 weeks after surgery", "MINOR")
            )
        if p.oow and visits and s.chance(0.5):
            for date, name, due, win in visits:
                if abs(date - due) > win:
                    items.append((date, "VISIT WINDOW", f"{name}随访超出访视窗", "MINOR"))
        last = end if death is None else min(end, death)
        for _ in range(s.poisson(0.22 * self.dv_rate[p.site])):
            cat, sev, term, anchor, _w = dv_w(s)
            if anchor == "consent":
                date = p.consent
            elif anchor == "baseline":
                date = p.bl
            else:
                if last <= R:
                    continue
                date = R + s.int(1, last - R)
            items.append((date, cat, term, sev))
        items = [it for it in items if it[0] <= self.cutoff]
        items.sort(key=lambda it: it[0])
        for k, (date, cat, term, sev) in enumerate(items, start=1):
            dv.append((sid, site, str(k), _d(date), cat, term, sev, self.entry(date, p.site)))
