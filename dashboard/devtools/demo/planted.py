"""The findings planted on purpose in the demo trial, each listed with the subjects a correct
build must flag."""

from __future__ import annotations

from dashboard.devtools.demo.clinical import _Subject


class PlantedMixin:
    """Part of the demo generator (dashboard.devtools.demo.Demo)."""

    # -------------------------------------------------------------- 3. planted findings
    def plant(self) -> None:
        s, P = self.s, self.planted
        subs = self.subjects
        used: set[int] = set()

        def take(k: int, ok) -> list[_Subject]:
            pool = [p for p in subs if p.i not in used and ok(p)]
            chosen = []
            while pool and len(chosen) < k:
                p = pool.pop(int(s.u() * len(pool)))
                chosen.append(p)
                used.add(p.i)
            return chosen

        C = self.cutoff
        nonhpv = lambda p: not (p.prim == "OROPHARYNX" and p.p16 == "POSITIVE")  # noqa: E731
        for key in (
            "I01",
            "STAGE_MISMATCH",
            "I03",
            "I04",
            "I06",
            "I07",
            "I12",
            "IE_NOT_MET",
            "STRATUM_MISMATCH",
            "response_imaging_late",
            "randomization_to_surgery",
            "surgery_to_adjuvant_rt",
            "followup_out_of_window",
            "ae_after_cutoff",
        ):
            P[key] = []
        P["IE_DISAGREE"] = []

        def disagree(p, code):
            p.ie_over[code] = "Y" if code.startswith("I") else "N"
            P["IE_DISAGREE"].append([p.subjid, code])

        for p in take(1, lambda p: p.R <= C - 30):
            p.age = self.max_age + 1
            p.ie_over["I01"] = "Y"
            P["I01"].append(p.subjid)
            P["IE_DISAGREE"].append([p.subjid, "I01"])
        # recorded stage differs from the recomputed one: three make the subject ineligible
        for p in take(1, nonhpv):  # T4B is IVB, recorded IVA
            p.ct, p.stage = "T4B", "IVA"
            P["STAGE_MISMATCH"].append(p.subjid)
            P["I03"].append(p.subjid)
            disagree(p, "I03")
        for p in take(1, nonhpv):  # T2 N0 is II, recorded III
            p.ct, p.cn, p.stage = "T2", "N0", "III"
            P["STAGE_MISMATCH"].append(p.subjid)
            P["I03"].append(p.subjid)
            disagree(p, "I03")
        for p in take(1, lambda p: p.prim == "OROPHARYNX") or take(1, lambda p: True):
            # p16-positive oropharynx staged with the p16-negative rules: T3 N1 is II, not III
            p.prim, p.p16, p.ct, p.cn, p.stage = "OROPHARYNX", "POSITIVE", "T3", "N1", "III"
            p.tongue = False
            P["STAGE_MISMATCH"].append(p.subjid)
            P["I03"].append(p.subjid)
            disagree(p, "I03")
        for p in take(1, nonhpv):  # T4A N0 is IVA, recorded III: still eligible
            p.ct, p.cn, p.stage = "T4A", "N0", "III"
            P["STAGE_MISMATCH"].append(p.subjid)
        for p in take(1, lambda p: True):  # ECOG 2: the site said so and reported it
            p.ecog = 2
            p.ie_over["I04"] = "N"
            P["I04"].append(p.subjid)
        for p in take(1, lambda p: p.R <= C - 30):
            p.ncyc = 7
            P["I06"].append(p.subjid)
            disagree(p, "I06")
        for p in take(1, lambda p: p.R <= C - 30):
            p.resp = "SD"
            P["I07"].append(p.subjid)
            disagree(p, "I07")
        for p in take(2, lambda p: p.R <= C - 40):
            p.consent = p.R + s.int(1, 6)
            P["I12"].append(p.subjid)
            disagree(p, "I12")
        for p in take(1, lambda p: True):
            p.ie_over["I11"] = "N"
            P["IE_NOT_MET"].append(p.subjid)
        for p in take(1, lambda p: p.R <= C - 30):
            p.stratsite = "WRONG"  # resolved at randomization
            P["STRATUM_MISMATCH"].append(p.subjid)
        for p in take(2, lambda p: True):
            p.img_late = True
            P["response_imaging_late"].append(p.subjid)
        for p in take(3, lambda p: p.R <= C - 130):
            p.surg_gap = s.int(self.surgery_max + 3, self.surgery_max + 18)
            p.protected = True
            P["randomization_to_surgery"].append(p.subjid)
        for p in take(3, lambda p: p.R <= C - 170):
            p.rt_late = True
            p.protected = True
            P["surgery_to_adjuvant_rt"].append(p.subjid)
        for p in take(4, lambda p: p.R <= C - 200):
            p.oow = True
            p.protected = True
            P["followup_out_of_window"].append(p.subjid)
        for p in take(1, lambda p: p.R <= C - 60):
            p.ae_late = True
            p.protected = True
            P["ae_after_cutoff"].append(p.subjid)
        if P["I04"]:
            P["IE_NOT_MET"].insert(0, P["I04"][0])

    def _out_of_window(self, p: _Subject, visits: list, S: int, end: int) -> None:
        """Move one of the planted subject's first visits outside its window."""
        s = self.s
        if not visits:
            self.planted["followup_out_of_window"].remove(p.subjid)
            return
        k = min(len(visits) - 1, s.int(0, 1))
        date, name, due, win = visits[k]
        nxt = visits[k + 1][0] if k + 1 < len(visits) else end + 1
        prev = visits[k - 1][0] if k > 0 else S
        late = due + win + s.int(3, 15)
        early = due - win - s.int(3, 10)
        if late < nxt:
            visits[k] = (late, name, due, win)
        elif early > prev:
            visits[k] = (early, name, due, win)
        else:
            self.planted["followup_out_of_window"].remove(p.subjid)
