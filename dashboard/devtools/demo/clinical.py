"""The demo trial's clinical model: AJCC 8th staging, quality-of-life curves by arm, and the
attributes of one subject."""

from __future__ import annotations


def ajcc8_stage(primsite: str, p16: str | None, ct: str, cn: str, cm: str) -> str | None:
    """AJCC 8th clinical stage by the rules of export spec section 5; None when not assessable
    (TX/NX) or when the spec gives no rule (PRIMSITE `OTHER`)."""
    t = (ct or "").upper()
    n = (cn or "").upper()
    n = "N2" if n.startswith("N2") else "N3" if n.startswith("N3") else n
    m = (cm or "").upper()
    if not (t and n and m):
        return None
    if primsite == "OROPHARYNX" and p16 == "POSITIVE":
        if m == "M1":
            return "IV"
        if t.startswith("T4") or n == "N3":
            return "III"
        if t == "TX" or n == "NX":
            return None
        return "II" if (t == "T3" or n == "N2") else "I"
    if primsite == "NASOPHARYNX":
        if m == "M1":
            return "IVB"
        if t.startswith("T4") or n == "N3":
            return "IVA"
        if t == "TX" or n == "NX":
            return None
        if t == "T3" or n == "N2":
            return "III"
        return "II" if (t == "T2" or n == "N1") else "I"
    if primsite not in ("ORAL CAVITY", "LARYNX", "HYPOPHARYNX", "OROPHARYNX"):
        return None
    if m == "M1":
        return "IVC"
    if t == "T4B" or n == "N3":
        return "IVB"
    if t in ("T4A", "T4") or n == "N2":
        return "IVA"
    if t == "TX" or n == "NX":
        return None
    if t == "T3" or n == "N1":
        return "III"
    return "II" if t == "T2" else "I"


# Quality-of-life means by month after surgery (0 = baseline); the de-escalation arm recovers
# swallowing faster. Linear between the knots, flat after the last.
def _interp(knots: list[tuple[int, float]], month: int) -> float:
    if month <= knots[0][0]:
        return knots[0][1]
    for (m0, v0), (m1, v1) in zip(knots, knots[1:], strict=False):
        if month <= m1:
            return v0 + (v1 - v0) * (month - m0) / (m1 - m0)
    return knots[-1][1]


def _ghs(month: int, de: bool) -> float:
    return _interp(
        [(0, 62), (3, 60 if de else 55), (6, 66 if de else 63), (12, 70 if de else 68), (24, 71 if de else 70)], month
    )


def _swallow(month: int, de: bool) -> float:
    return _interp(
        [(0, 22), (3, 35 if de else 45), (6, 27 if de else 35), (12, 22 if de else 28), (24, 20 if de else 25)], month
    )


def _mdadi(month: int, de: bool) -> float:
    return _interp(
        [(0, 72), (3, 66 if de else 58), (6, 70 if de else 63), (12, 73 if de else 68), (24, 74 if de else 70)], month
    )


class _Subject:
    __slots__ = (
        "i",
        "site",
        "subjid",
        "num",
        "R",
        "consent",
        "scrn",
        "birth",
        "birth_partial",
        "age",
        "male",
        "prim",
        "p16",
        "ct",
        "cn",
        "stage",
        "resp",
        "interim",
        "ncyc",
        "cycle_dates",
        "drug",
        "xclass",
        "chemo",
        "rs_last",
        "dx",
        "bl",
        "ecog",
        "smoking",
        "arm",
        "randno",
        "stratresp",
        "stratsite",
        "surg_gap",
        "S",
        "operated",
        "protected",
        "rt_late",
        "img_late",
        "pre_withdraw",
        "t_rec1",
        "rec1",
        "t_rec2",
        "rec2",
        "t_death",
        "death_cause",
        "t_withdraw",
        "t_ltfu",
        "t_phys",
        "treat_death",
        "ie_over",
        "oow",
        "ae_late",
        "prim_resected",
        "flap",
        "mand",
        "gloss",
        "neck",
        "tongue",
    )

    def __init__(self, i: int, site: int, R: int):
        self.i, self.site, self.R = i, site, R
        self.protected = False
        self.rt_late = False
        self.img_late = False
        self.pre_withdraw = None
        self.treat_death = None
        self.ie_over: dict[str, str] = {}
        self.oow = False
        self.ae_late = False
        self.interim = None
        self.consent = None
        self.stratsite = None
