"""The bundled demo trial: a synthetic Neo-Margin export package, written to the CRF export spec.

`write_demo_package(out)` writes one CSV per form of crf_spec.toml into the folder `out`: sites,
a screening log, and for every randomized subject a coherent timeline (diagnosis, neoadjuvant
anti-PD-1 cycles, response, consent, randomization in permuted blocks within strata, surgery,
pathology, adjuvant radiotherapy, follow-up visits, quality of life, adverse events, recurrences,
deaths, withdrawals and site-reported deviations), censored at the cut-off.

Every trial fact (arms, strata, block size, criteria, visit schedule and windows) comes from
trial.toml and every form, column and code from crf_spec.toml, through dashboard.config. The
output depends only on the arguments: the same seed gives byte-identical files.

A handful of findings are planted on purpose (an over-age subject, stage mismatches, a late
operation, a deviation term that names the arm, ...). Everything else keeps to the protocol, so the returned dict lists every
subject a correct build must flag for each planted kind; see `write_demo_package`.
"""
from __future__ import annotations

import csv
import datetime as dt
import math
import re
from bisect import bisect_right
from functools import lru_cache
from itertools import accumulate
from pathlib import Path

import numpy as np

from dashboard.config import CrfSpec, TrialConfig, load_crf_spec, load_trial

from dashboard.ingest.build import DEMO_SOURCE_PREFIX as SOURCE_PREFIX  # the build recognises demo data by it
# The generator as EXPORT.csv SOURCE names it, unchanged since the first demo package so that a
# package made before the code moved to devtools/ compares equal to one made after.
GENERATOR = "dashboard.demo_data"

# ------------------------------------------------------------------ sites
# Real head-and-neck centres (name, city); the lead site first. Two names carry a comma and
# quotes on purpose, to exercise RFC 4180 quoting in the readers.
_HOSPITALS = [
    ("上海交通大学医学院附属第九人民医院", "上海"),
    ("中山大学附属肿瘤医院", "广州"),
    ("四川大学华西口腔医院", "成都"),
    ("北京大学口腔医院", "北京"),
    ("复旦大学附属肿瘤医院", "上海"),
    ("中国医学科学院肿瘤医院", "北京"),
    ("武汉大学口腔医院", "武汉"),
    ("南京大学医学院附属口腔医院, 南京市口腔医院", "南京"),
    ("中南大学湘雅医院", "长沙"),
    ('浙江大学医学院附属第一医院 ("浙大一院")', "杭州"),
    ("山东大学齐鲁医院", "济南"),
    ("空军军医大学第三附属医院", "西安"),
    ("天津医科大学肿瘤医院", "天津"),
    ("哈尔滨医科大学附属肿瘤医院", "哈尔滨"),
    ("郑州大学第一附属医院", "郑州"),
    ("福建医科大学附属协和医院", "福州"),
    ("重庆医科大学附属口腔医院", "重庆"),
    ("吉林大学口腔医院", "长春"),
    ("广西医科大学附属肿瘤医院", "南宁"),
    ("昆明医科大学第一附属医院", "昆明"),
]
_CITIES = [
    "苏州", "无锡", "宁波", "温州", "合肥", "南昌", "厦门", "青岛", "大连", "沈阳", "石家庄", "太原",
    "兰州", "贵阳", "海口", "乌鲁木齐", "呼和浩特", "银川", "西宁", "徐州", "常州", "洛阳", "烟台",
    "潍坊", "佛山", "东莞", "深圳", "珠海", "汕头", "桂林", "柳州", "绵阳", "宜昌", "襄阳", "株洲",
    "赣州", "泉州", "扬州", "南通", "嘉兴", "绍兴", "台州", "金华", "唐山", "保定", "邯郸", "包头",
    "鞍山", "大庆", "淄博", "济宁", "临沂", "芜湖", "蚌埠", "遵义", "曲靖", "南充", "泸州", "十堰",
    "岳阳", "常德", "九江",
]
_SUFFIXES = ["市第一人民医院", "市第二人民医院", "市人民医院", "市中心医院", "市肿瘤医院",
             "市口腔医院", "市中医医院", "市第三人民医院"]

# ------------------------------------------------------------------ neoadjuvant drugs
# (EXTRT, EXCLASS, weight)
_DRUGS = [
    ("TORIPALIMAB", "ANTI-PD-1", 0.27),
    ("CAMRELIZUMAB", "ANTI-PD-1", 0.22),
    ("TISLELIZUMAB", "ANTI-PD-1", 0.16),
    ("PEMBROLIZUMAB", "ANTI-PD-1", 0.14),
    ("SINTILIMAB", "ANTI-PD-1", 0.08),
    ("CADONILIMAB", "BISPECIFIC-PD-1", 0.10),
    ("IVONESCIMAB", "BISPECIFIC-PD-1", 0.03),
]

# ------------------------------------------------------------------ adverse events
# (AETERM, AEDECOD, AESOC, grade weights 1..4, (min, max) days to resolution, P(chronic), weight)
_AE_IMMUNE = [
    ("甲状腺功能减退", "Hypothyroidism", "Endocrine disorders", (30, 62, 8, 0), (60, 240), 0.6, 16),
    ("免疫性甲状腺炎", "Autoimmune thyroiditis", "Endocrine disorders", (40, 52, 8, 0), (30, 120), 0.3, 7),
    ("甲状腺功能亢进", "Hyperthyroidism", "Endocrine disorders", (60, 36, 4, 0), (20, 90), 0.1, 5),
    ("皮疹", "Rash", "Skin and subcutaneous tissue disorders", (55, 33, 11, 1), (7, 40), 0.0, 14),
    ("瘙痒", "Pruritus", "Skin and subcutaneous tissue disorders", (70, 27, 3, 0), (7, 30), 0.0, 10),
    ("免疫相关性肺炎", "Pneumonitis", "Respiratory, thoracic and mediastinal disorders",
     (20, 45, 28, 7), (21, 80), 0.1, 4),
    ("丙氨酸氨基转移酶升高", "Alanine aminotransferase increased", "Investigations",
     (60, 25, 12, 3), (7, 40), 0.0, 9),
    ("免疫相关性肝炎", "Immune-mediated hepatitis", "Hepatobiliary disorders", (10, 40, 40, 10), (20, 60), 0.0, 2),
    ("免疫相关性结肠炎", "Colitis", "Gastrointestinal disorders", (25, 45, 27, 3), (10, 45), 0.0, 3),
    ("肾上腺皮质功能减退", "Adrenal insufficiency", "Endocrine disorders", (15, 60, 25, 0), (60, 200), 0.7, 2),
    ("免疫性心肌炎", "Immune-mediated myocarditis", "Cardiac disorders", (0, 20, 50, 30), (20, 60), 0.1, 0.5),
]
_AE_GENERAL = [   # during neoadjuvant therapy, not immune-related; (..., needs chemotherapy)
    ("乏力", "Fatigue", "General disorders and administration site conditions", (70, 27, 3, 0), (5, 30), 0.0, 12),
    ("恶心", "Nausea", "Gastrointestinal disorders", (70, 27, 3, 0), (2, 10), 0.0, 8),
    ("中性粒细胞计数降低", "Neutrophil count decreased", "Investigations", (30, 40, 25, 5), (5, 14), 0.0, 9),
    ("贫血", "Anaemia", "Blood and lymphatic system disorders", (50, 40, 10, 0), (20, 60), 0.0, 6),
    ("脱发", "Alopecia", "Skin and subcutaneous tissue disorders", (70, 30, 0, 0), (60, 150), 0.0, 4),
]
_CHEMO_ONLY = {"中性粒细胞计数降低", "贫血", "脱发"}
# surgical complications: (AETERM, AEDECOD, AESOC, Clavien-Dindo weights I..IVB, days to resolution,
# P(chronic), weight, only after a flap)
_AE_SURGICAL = [
    ("伤口感染", "Wound infection", "Infections and infestations", (25, 55, 15, 5, 0, 0), (7, 30), 0.0, 20, False),
    ("皮瓣坏死", "Flap necrosis", "Injury, poisoning and procedural complications",
     (5, 15, 15, 60, 5, 0), (14, 45), 0.0, 6, True),
    ("咽瘘", "Pharyngeal fistula", "Gastrointestinal disorders", (5, 45, 25, 25, 0, 0), (14, 60), 0.0, 5, False),
    ("术后出血", "Post procedural haemorrhage", "Injury, poisoning and procedural complications",
     (10, 20, 10, 55, 5, 0), (2, 10), 0.0, 5, False),
    ("肺部感染", "Pneumonia", "Infections and infestations", (0, 65, 10, 0, 18, 7), (7, 28), 0.0, 9, False),
    ("切口裂开", "Wound dehiscence", "Injury, poisoning and procedural complications",
     (30, 40, 20, 10, 0, 0), (7, 30), 0.0, 6, False),
    ("颈部血肿", "Post procedural haematoma", "Injury, poisoning and procedural complications",
     (40, 25, 10, 25, 0, 0), (3, 14), 0.0, 4, False),
    ("乳糜漏", "Lymphorrhoea", "Vascular disorders", (20, 60, 10, 10, 0, 0), (7, 30), 0.0, 4, False),
    ("吞咽困难", "Dysphagia", "Gastrointestinal disorders", (50, 50, 0, 0, 0, 0), (14, 90), 0.2, 12, False),
    ("术后谵妄", "Delirium", "Psychiatric disorders", (55, 45, 0, 0, 0, 0), (2, 7), 0.0, 5, False),
    ("下肢深静脉血栓", "Deep vein thrombosis", "Vascular disorders", (0, 85, 15, 0, 0, 0), (30, 90), 0.0, 2, False),
]
_CLAVIEN = ["I", "II", "IIIA", "IIIB", "IVA", "IVB"]
_CLAVIEN_GRADE = {"I": 1, "II": 2, "IIIA": 3, "IIIB": 3, "IVA": 4, "IVB": 4, "V": 5}
_FATAL_SURGICAL = [("术后大出血", "Post procedural haemorrhage", "Injury, poisoning and procedural complications"),
                   ("重症肺部感染", "Pneumonia", "Infections and infestations"),
                   ("术后急性心肌梗死", "Acute myocardial infarction", "Cardiac disorders")]
_AE_RT = [   # (..., P(chronic), probability per irradiated subject)
    ("放射性口腔黏膜炎", "Mucosal inflammation", "General disorders and administration site conditions",
     (25, 45, 28, 2), (20, 50), 0.0, 0.55),
    ("放射性皮炎", "Radiation skin injury", "Injury, poisoning and procedural complications",
     (45, 42, 13, 0), (14, 40), 0.0, 0.40),
    ("口干", "Dry mouth", "Gastrointestinal disorders", (60, 38, 2, 0), (60, 300), 0.5, 0.30),
]

# ------------------------------------------------------------------ deviations
# (DVCAT, DVSEV, DVTERM, anchor) anchor: "consent", "post" (after randomization), "baseline"
_DV_RANDOM = [
    ("PROCEDURE", "MINOR", "未按方案完成术前增强MRI", "baseline", 5),
    ("PROCEDURE", "MINOR", "生活质量问卷漏填", "post", 6),
    ("PROCEDURE", "MINOR", "Biomarker blood sample not collected", "post", 5),
    ("PROCEDURE", "MAJOR", "术后病理切缘未按方案评估", "post", 1),
    ("VISIT WINDOW", "MINOR", "实验室检查超出访视窗", "post", 6),
    ("VISIT WINDOW", "MINOR", "Imaging at follow-up outside window", "post", 3),
    ("INFORMED CONSENT", "MAJOR", "知情同意书版本错误，已重新签署", "consent", 2),
    ("INFORMED CONSENT", "MINOR", "Consent form re-signed, version 2.1", "consent", 2),
    ("INFORMED CONSENT", "MINOR", "知情同意书未填写签署时间", "consent", 2),
    ("TREATMENT", "MINOR", "辅助放疗剂量调整未记录原因", "post", 2),
    ("TREATMENT", "MINOR", "Concomitant medication not recorded", "post", 2),
    ("OTHER", "MINOR", "标本运输延迟", "post", 3),
    ("OTHER", "MINOR", "Source document missing investigator signature", "post", 2),
]

_MONTH_VISIT = re.compile(r"^M([0-9]+)$")

# The cells of the generator's row tuples, per form. The files are written in the spec's column
# order (plus ENTDTC where stamped), whatever the order here.
_LAYOUT = {
    "EXPORT": ["EXPORTDTC", "CUTOFFDAT", "SOURCE", "SPECVER"],
    "SITES": ["SITEID", "SITENAME", "CITY", "COUNTRY", "ACTDAT", "TARGETN", "STATUS"],
    "SCREENING": ["SCRNID", "SITEID", "SCRNDAT", "AGE", "SEX", "SCRNOUT", "SFREAS", "SUBJID"],
    "DM": ["SUBJID", "SITEID", "BRTHDAT", "SEX", "RFICDAT", "ENTDTC"],
    "IE": ["SUBJID", "SITEID", "IETESTCD", "IEORRES"],
    "DX": ["SUBJID", "SITEID", "DXDAT", "PRIMSITE", "HISTOL", "P16", "CT", "CN", "CM", "STAGE", "RECUR",
           "PRIORTX"],
    "BL": ["SUBJID", "SITEID", "BLDAT", "ECOG", "CARDIAC6M", "PREGNANT", "OTHMAL5Y", "SMOKING"],
    "EX": ["SUBJID", "SITEID", "EXCYCLE", "EXSTDAT", "EXTRT", "EXCLASS", "EXCHEMO"],
    "RS": ["SUBJID", "SITEID", "RSDAT", "RSORRES"],
    "RAND": ["SUBJID", "SITEID", "RANDDAT", "RANDNO", "ARM", "STRATRESP", "STRATSITE", "ENTDTC"],
    "PR": ["SUBJID", "SITEID", "PRDAT", "PRTRT", "PRPRIM", "MANDPRES", "FLAP", "GLOSSEXT", "NECKDIS", "ENTDTC"],
    "PATH": ["SUBJID", "SITEID", "PATHDAT", "PCR", "MARGIN", "ENE", "PNPOS", "ENTDTC"],
    "ADJ": ["SUBJID", "SITEID", "ADJTYPE", "ADJSTDAT", "ADJENDAT", "RTDOSE"],
    "AE": ["SUBJID", "SITEID", "AESPID", "AETERM", "AEDECOD", "AESOC", "AESTDAT", "AEENDAT", "AETOXGR",
           "AESER", "AEREL", "AEIMMUNE", "AECLAV", "AEOUT", "ENTDTC"],
    "FU": ["SUBJID", "SITEID", "VISIT", "VISDAT", "SSSTAT", "ENTDTC"],
    "RECUR": ["SUBJID", "SITEID", "RECDAT", "RECTYPE"],
    "DD": ["SUBJID", "SITEID", "DTHDAT", "DTHCAUS"],
    "DS": ["SUBJID", "SITEID", "DSDECOD", "DSSTDAT"],
    "DV": ["SUBJID", "SITEID", "DVSPID", "DVSTDAT", "DVCAT", "DVTERM", "DVSEV", "ENTDTC"],
    "QS": ["SUBJID", "SITEID", "VISIT", "QSDAT", "QSCAT", "QSTESTCD", "QSSTRESN"],
}


# ------------------------------------------------------------------ public helpers
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


@lru_cache(maxsize=None)
def _d(o: int) -> str:
    """ISO date of a proleptic Gregorian ordinal."""
    return dt.date.fromordinal(o).isoformat()


def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _years_before(d: dt.date, years: int) -> dt.date:
    try:
        return d.replace(year=d.year - years)
    except ValueError:          # 29 February
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


class _Subject:
    __slots__ = (
        "i", "site", "subjid", "num", "R", "consent", "scrn", "birth", "birth_partial", "age", "male",
        "prim", "p16", "ct", "cn", "stage", "resp", "interim", "ncyc", "cycle_dates", "drug", "xclass",
        "chemo", "rs_last", "dx", "bl", "ecog", "smoking", "arm", "randno", "stratresp", "stratsite",
        "surg_gap", "S", "operated", "protected", "rt_late", "img_late", "pre_withdraw", "t_rec1",
        "rec1", "t_rec2", "rec2", "t_death", "death_cause", "t_withdraw", "t_ltfu", "t_phys",
        "treat_death", "ie_over", "oow", "ae_late", "prim_resected", "flap", "mand", "gloss",
        "neck", "tongue",
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


# ------------------------------------------------------------------ the generator
class _Demo:
    def __init__(self, trial: TrialConfig, spec: CrfSpec, subjects: int, sites: int,
                 cutoff: dt.date, seed: int):
        self.trial, self.spec = trial, spec
        self.N, self.n_sites = subjects, sites
        self.cutoff = cutoff.toordinal()
        self.start = trial.trial.start.toordinal()
        self.rng = np.random.default_rng(seed)
        self.s = _Stream(np.random.default_rng([seed, 1]))
        self.dpm = trial.trial.days_per_month
        sch = trial.schedule
        self.sch = sch
        self.fu_months = list(sch.followup_months)
        self.qol = [(v, 0 if v == "BASELINE" else int(_MONTH_VISIT.match(v).group(1)))
                    for v in sch.qol_visits if v == "BASELINE" or _MONTH_VISIT.match(v)]
        self.arms = trial.arm_codes
        self.experimental = {a.code: a.experimental for a in trial.arms}
        psv = list(trial.blinding.protocol_surgery_values)
        self.surgery_of = {}
        for k, a in enumerate(self.arms):
            match = [v for v in psv if v.upper().startswith(a.upper())]
            self.surgery_of[a] = match[0] if match else psv[min(k, len(psv) - 1)]
        self.reoperation = [c for c in self.codes("PR", "PRTRT") if c not in psv][0]
        self.criteria = [c.code for c in trial.eligibility]
        self.planted: dict[str, list] = {}
        # the codes this generator writes must exist in the spec
        self._need("DX", "PRIMSITE", "ORAL CAVITY", "OROPHARYNX", "LARYNX", "HYPOPHARYNX")
        self._need("EX", "EXCLASS", *sorted({c for _, c, _ in _DRUGS}))
        self._need("RS", "RSORRES", "CR", "PR", "SD")
        self._need("AE", "AECLAV", *_CLAVIEN, "V")
        self._need("DS", "DSDECOD", "WITHDREW CONSENT", "LOST TO FOLLOW-UP", "PHYSICIAN DECISION",
                   "DEATH", "COMPLETED")
        self._need("PATH", "MARGIN", "NEGATIVE", "CLOSE", "POSITIVE")
        self._need("ADJ", "ADJTYPE", "RT", "CRT", "IMMUNOTHERAPY")
        self._need("DV", "DVCAT", *sorted({c for c, *_ in _DV_RANDOM}), "ELIGIBILITY")
        self.rectypes = self.codes("RECUR", "RECTYPE")
        self.qscat = self.codes("QS", "QSCAT")

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
        rates[0] = max(rates[0], float(rates.max()))          # the lead site enrolls most
        self.closed: dict[int, int] = {}
        if len(active) >= 8:
            k = active[1 + int(s.u() * (len(active) - 1))]
            a = self.actdat[k]
            self.closed[k] = a + int((self.cutoff - a) * (0.5 + 0.25 * s.u()))
            rates[active.index(k)] *= 0.4
        self.active = active
        self.rate = dict(zip(active, rates))
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
        u = rng.random(self.N) ** 0.8                     # accrual picks up once a site is running
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
            p.age = int(min(75, max(30, round(s.normal(57.0, 9.5)))))
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
            p.surg_gap = s.int(7, 28) if s.chance(0.92) else s.int(3, 6)
            p.tongue = p.prim == "ORAL CAVITY" and s.chance(0.45)

    def timeline(self, p: _Subject) -> None:
        """Dates before randomization, from the (possibly planted) attributes."""
        s = self.s
        if p.consent is None:
            p.consent = p.R - (0 if s.chance(0.12) else s.int(1, 10))
        p.scrn = min(p.consent, p.R - s.int(1, 4)) if p.consent > p.R else p.consent
        anchor = min(p.consent, p.scrn)
        p.rs_last = anchor - s.int(0, 10)
        last = p.rs_last - (s.int(33, 45) if p.img_late else s.int(10, 28))
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
        p.birth_partial = (s.chance(0.05) and _age(first, c) == p.age and "I01" not in p.ie_over)

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
        for key in ("I01", "STAGE_MISMATCH", "I03", "I04", "I06", "I07", "I12", "IE_NOT_MET",
                    "STRATUM_MISMATCH", "response_imaging_late", "randomization_to_surgery",
                    "surgery_to_adjuvant_rt", "followup_out_of_window", "ae_after_cutoff"):
            P[key] = []
        P["IE_DISAGREE"] = []

        def disagree(p, code):
            p.ie_over[code] = "Y" if code.startswith("I") else "N"
            P["IE_DISAGREE"].append([p.subjid, code])

        for p in take(1, lambda p: p.R <= C - 30):
            p.age = 76
            p.ie_over["I01"] = "Y"
            P["I01"].append(p.subjid)
            P["IE_DISAGREE"].append([p.subjid, "I01"])
        # recorded stage differs from the recomputed one: three make the subject ineligible
        for p in take(1, nonhpv):                          # T4B is IVB, recorded IVA
            p.ct, p.stage = "T4B", "IVA"
            P["STAGE_MISMATCH"].append(p.subjid); P["I03"].append(p.subjid); disagree(p, "I03")
        for p in take(1, nonhpv):                          # T2 N0 is II, recorded III
            p.ct, p.cn, p.stage = "T2", "N0", "III"
            P["STAGE_MISMATCH"].append(p.subjid); P["I03"].append(p.subjid); disagree(p, "I03")
        for p in take(1, lambda p: p.prim == "OROPHARYNX") or take(1, lambda p: True):
            # p16-positive oropharynx staged with the p16-negative rules: T3 N1 is II, not III
            p.prim, p.p16, p.ct, p.cn, p.stage = "OROPHARYNX", "POSITIVE", "T3", "N1", "III"
            p.tongue = False
            P["STAGE_MISMATCH"].append(p.subjid); P["I03"].append(p.subjid); disagree(p, "I03")
        for p in take(1, nonhpv):                          # T4A N0 is IVA, recorded III: still eligible
            p.ct, p.cn, p.stage = "T4A", "N0", "III"
            P["STAGE_MISMATCH"].append(p.subjid)
        for p in take(1, lambda p: True):                  # ECOG 2: the site said so and reported it
            p.ecog = 2
            p.ie_over["I04"] = "N"
            P["I04"].append(p.subjid)
        for p in take(1, lambda p: p.R <= C - 30):
            p.ncyc = 7
            P["I06"].append(p.subjid); disagree(p, "I06")
        for p in take(1, lambda p: p.R <= C - 30):
            p.resp = "SD"
            P["I07"].append(p.subjid); disagree(p, "I07")
        for p in take(2, lambda p: p.R <= C - 40):
            p.consent = p.R + s.int(1, 6)
            P["I12"].append(p.subjid); disagree(p, "I12")
        for p in take(1, lambda p: True):
            p.ie_over["I11"] = "N"
            P["IE_NOT_MET"].append(p.subjid)
        for p in take(1, lambda p: p.R <= C - 30):
            p.stratsite = "WRONG"                          # resolved at randomization
            P["STRATUM_MISMATCH"].append(p.subjid)
        for p in take(2, lambda p: True):
            p.img_late = True
            P["response_imaging_late"].append(p.subjid)
        for p in take(3, lambda p: p.R <= C - 130):
            p.surg_gap = s.int(31, 46)
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

    # -------------------------------------------------------------- 4. randomization
    def randomize(self) -> None:
        s = self.s
        trial = self.trial
        ratio = trial.randomization.ratio
        bs = trial.randomization.block_size
        per = bs // sum(ratio) if bs % sum(ratio) == 0 else 1
        template = [a for a, r in zip(self.arms, ratio) for _ in range(r * per)]
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
        base_rec = -math.log(0.70) / 36.0                 # per month: about 70% recurrence-free at 3 years
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
                p.t_death = p.t_rec1 = p.t_rec2 = 10 ** 7
                p.t_withdraw = p.t_ltfu = p.t_phys = None
            if p.pre_withdraw is not None:
                p.t_withdraw = None
            p.operated = p.S <= C and p.pre_withdraw is None and p.t_death > p.S
        # deaths from surgery (Clavien-Dindo V), at least one when there are enough operations
        cands = [p for p in self.subjects if p.operated and not p.protected and p.S + 60 <= C
                 and p.t_death > p.S + 60]
        if cands:
            k = int(self.rng.binomial(len(cands), 0.006))
            if len(cands) >= 100:
                k = max(1, k)
            for _ in range(min(k, len(cands))):
                p = cands.pop(int(s.u() * len(cands)))
                p.treat_death = p.S + s.int(2, 45)
                p.t_death, p.death_cause = p.treat_death, "TREATMENT"
                p.t_withdraw = p.t_ltfu = p.t_phys = None

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
        fu_due = [(m, round(m * dpm), sch.followup_window_days if m <= sch.followup_window_switch_month
                   else sch.followup_window_days_late) for m in self.fu_months]
        last_visit = f"M{fu_due[-1][0]}" if fu_due else None
        rt_types = [t for t in ("RT", "CRT") if t in sch.adjuvant_rt_types] or ["RT"]
        fatal_w = _W(_FATAL_SURGICAL, [4, 3, 1])
        immune_w = _W(_AE_IMMUNE, [a[6] for a in _AE_IMMUNE])
        surg_w = {flap: _W([a for a in _AE_SURGICAL if flap or not a[7]],
                           [a[6] for a in _AE_SURGICAL if flap or not a[7]]) for flap in (True, False)}
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
            rnd.append((sid, site, _d(R), p.randno, p.arm, p.stratresp, p.stratsite,
                        f"{_d(R)}T{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}"))

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
            visits: list[tuple[int, str, int, int]] = []      # (date, visit, due date, window)
            ds_row = None
            if operated:
                for m, due, win in fu_due:
                    date = S + due + max(-(win - 2), min(win - 2, int(round(s.normal(0, win / 3.0)))))
                    if date > end or (death is not None and date >= death):
                        break
                    if p.t_ltfu is not None and date >= p.t_ltfu:
                        break
                    if not p.oow and s.chance(0.05):
                        continue                               # missed visit
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
                aes.append(self._ae(a, on, grade(a[3]), "IMMUNOTHERAPY" if a[0] == "乏力" else "UNKNOWN",
                                    "N", None, end))

            # ---- surgery, complications, pathology, adjuvant therapy
            if operated:
                self._surgery_fields(p)
                pr.append((sid, site, _d(S), self.surgery_of[p.arm], p.prim_resected, p.mand, p.flap,
                           p.gloss, p.neck, self.entry(S, p.site)))
                n_comp = 0 if s.chance(0.70 if de else 0.64) else (1 if s.chance(0.78) else 2)
                for _ in range(n_comp):
                    a = surg_w[p.flap == "Y"](s)
                    on = S + s.int(1, 21)
                    clav = clav_w[a[0]](s)
                    aes.append(self._ae(a, on, _CLAVIEN_GRADE[clav], "SURGERY", "N", clav, end))
                    if clav == "IIIB" and on <= end:
                        when = min(on + s.int(0, 2), end)
                        pr.append((sid, site, _d(when), self.reoperation, "", "", "Y" if a[7] else "", "", "",
                                   self.entry(when, p.site)))
                if p.treat_death is not None and death == p.treat_death:
                    a = fatal_w(s)
                    on = max(S + 1, death - s.int(0, 5))
                    aes.append((a[0], a[1], a[2], on, death, 5, "Y", "SURGERY", "N", "V", "FATAL"))
                pdate = S + s.int(7, 18)
                high_risk = False
                if pdate <= end:
                    row = self._pathology(p, pdate)
                    path.append(row)
                    high_risk = row[4] == "POSITIVE" or row[5] == "Y"      # margin, extranodal extension
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
                if operated and 0 <= death - S <= 90:
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
                    if s.chance(0.10):                          # the whole visit's forms missing
                        continue
                    for cat, code, val in (("QLQ-C30", "GHS", _ghs(m, de) + gh_b),
                                           ("QLQ-H&N35", "SWALLOW", _swallow(m, de) + sw_b),
                                           ("MDADI", "MDADI", _mdadi(m, de) + md_b)):
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
                    continue                                    # entered after the export
                k += 1
                txt = _d(on)
                if not after_cutoff and gr < 5:
                    r = s.u()
                    if r < 0.015:
                        txt = txt[:4]
                    elif r < 0.095:
                        txt = txt[:7]
                ae.append((sid, site, str(k), term, decod, soc, txt, "" if en is None else _d(en), str(gr), ser,
                           rel, imm, clav or "", out, self.stamp(min(on + lag, last_entry_day))))

            # ---- deviations reported by the site
            self._deviations(p, dv, dv_w, end, death, visits)
        return T

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
            start = S + (s.int(49, 75) if p.rt_late else s.int(21, 42))
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
            items.append((p.S + 43, "TREATMENT", "Adjuvant radiotherapy started more than 6 weeks after surgery",
                          "MINOR"))
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

    # -------------------------------------------------------------- 7. screening log and sites
    def screening(self) -> list[tuple]:
        s, rng = self.s, self.rng
        entries = []          # (site, date, age, sex, outcome, reason, subjid)
        for p in self.subjects:
            entries.append((p.site, p.scrn, _age(p.birth, dt.date.fromordinal(p.scrn)), "M" if p.male else "F",
                            "ENROLLED", "", p.subjid))
        act = self.active
        exposure = np.array([self.rate[k] * max(1, self.window[k][1] - self.window[k][0]) for k in act])
        n_fail = round(self.N * 0.24)
        fails = rng.multinomial(n_fail, exposure / exposure.sum()) if n_fail else np.zeros(len(act), int)
        reason = _W(["I07", "I03", "I04", "E02", "OTHER", "I01", "I02", "I09", "E03", "E06", "I10"],
                    [55, 12, 7, 6, 10, 3, 2, 2, 1, 1, 1])
        for k, n in zip(act, fails):
            lo, hi = self.window[k][0] - 14, self.window[k][1]
            for _ in range(int(n)):
                why = reason(s)
                age = s.int(76, 82) if why == "I01" else int(min(75, max(30, round(s.normal(58, 10)))))
                entries.append((k, s.int(lo, hi), age, "M" if s.chance(0.78) else "F", "SCREEN FAILURE", why, ""))
        open_sites = [k for k in act if k not in self.closed]
        n_pend = max(1, round(self.N * 0.012)) if open_sites else 0
        for _ in range(n_pend):
            k = s.pick(open_sites)
            lo = max(self.actdat[k], self.cutoff - 20)
            entries.append((k, s.int(lo, self.cutoff), int(min(75, max(30, round(s.normal(58, 10))))),
                            "M" if s.chance(0.78) else "F", "PENDING", "", ""))
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


# Quality-of-life means by month after surgery (0 = baseline); the de-escalation arm recovers
# swallowing faster. Linear between the knots, flat after the last.
def _interp(knots: list[tuple[int, float]], month: int) -> float:
    if month <= knots[0][0]:
        return knots[0][1]
    for (m0, v0), (m1, v1) in zip(knots, knots[1:]):
        if month <= m1:
            return v0 + (v1 - v0) * (month - m0) / (m1 - m0)
    return knots[-1][1]


def _ghs(month: int, de: bool) -> float:
    return _interp([(0, 62), (3, 60 if de else 55), (6, 66 if de else 63), (12, 70 if de else 68),
                    (24, 71 if de else 70)], month)


def _swallow(month: int, de: bool) -> float:
    return _interp([(0, 22), (3, 35 if de else 45), (6, 27 if de else 35), (12, 22 if de else 28),
                    (24, 20 if de else 25)], month)


def _mdadi(month: int, de: bool) -> float:
    return _interp([(0, 72), (3, 66 if de else 58), (6, 70 if de else 63), (12, 73 if de else 68),
                    (24, 74 if de else 70)], month)


# ------------------------------------------------------------------ entry point
def write_demo_package(out: str | Path, *, subjects: int = 300, sites: int = 12,
                       cutoff: dt.date = dt.date(2028, 6, 30), seed: int = 20260101,
                       encoding: str = "utf-8") -> dict:
    """Write a synthetic export package (one CSV per form of the CRF spec) into the folder `out`.

    `subjects` is the number of randomized subjects; more are screened. Everything is dated on
    or before `cutoff`, except the planted AE after it. Returns what was written:
    `randomized`, `screened`, `screen_failures`, `screening_pending`, `sites`, `pending_sites`,
    `cutoff`, `exported`, `rows` (per form) and `planted`, a dict of finding -> SUBJIDs:

    - `I01` aged 76 at consent, IE says met; `I03` recomputed stage not III-IVA (IE says met);
      `STAGE_MISMATCH` recorded STAGE differs from the recomputed one (includes `I03`);
      `I04` ECOG 2 (IE says not met, the site reported a deviation); `I06` seven cycles;
      `I07` last response before randomization SD; `I12` consent after randomization;
      `IE_NOT_MET` a criterion answered not met in IE.csv; `IE_DISAGREE` [SUBJID, IETESTCD]
      pairs where IE.csv contradicts the data; `STRATUM_MISMATCH` STRATSITE not matching PRIMSITE;
    - `response_imaging_late` (> 28 days after the last cycle), `randomization_to_surgery`
      (> 28 days), `surgery_to_adjuvant_rt` (> 42 days), `followup_out_of_window`;
    - `ae_after_cutoff` and `dates_after_cutoff` ([form, SUBJID, column]);
    - `free_text_arm`: a deviation term in which the site names the arm (降级组);
    - not planted but listed for checks: `never_operated`, `death_90d`.
    """
    if isinstance(cutoff, dt.datetime):
        cutoff = cutoff.date()
    elif isinstance(cutoff, str):
        cutoff = dt.date.fromisoformat(cutoff)
    if subjects < 1 or sites < 1:
        raise ValueError("subjects and sites must be at least 1")
    trial, spec = load_trial(), load_crf_spec()
    if cutoff.toordinal() - trial.trial.start.toordinal() < 90:
        raise ValueError(f"cut-off {cutoff} is less than 90 days after the trial start {trial.trial.start}")
    g = _Demo(trial, spec, subjects, sites, cutoff, seed)
    g.export_day = cutoff.toordinal() + 3 + g.s.int(0, 4)
    g.make_sites()
    g.accrue()
    g.baseline()
    g.plant()
    for p in g.subjects:
        g.timeline(p)
    g.randomize()
    g.outcomes()
    tables = g.rows()
    # planted: a deviation term in which the site names the arm (withheld from blinded views)
    dv = tables.get("DV", [])
    k = next((i for i, r in enumerate(dv) if r[4] == "VISIT WINDOW"), None)
    g.planted["free_text_arm"] = []
    if k is not None:
        dv[k] = dv[k][:5] + ("受试者入降级组，术后访视超出访视窗",) + dv[k][6:]
        g.planted["free_text_arm"].append(dv[k][0])
    tables["SCREENING"] = g.screening()
    tables["SITES"] = g.sites_rows()
    sec = g.s.int(3600, 5 * 3600)
    exported = f"{_d(g.export_day)}T{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}"
    tables["EXPORT"] = [(exported, cutoff.isoformat(),
                         f"{SOURCE_PREFIX} ({GENERATOR}, seed {seed}, {subjects} randomized, {sites} sites)",
                         spec.version)]

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows_written = {}
    for form_name, form in spec.forms.items():
        layout = _LAYOUT.get(form_name, [])
        header = form.column_names + (["ENTDTC"] if "ENTDTC" in layout and "ENTDTC" in spec.optional_everywhere
                                      else [])
        unknown = [c for c in layout if c not in header and c != "ENTDTC"]
        if unknown:
            raise ValueError(f"crf_spec.toml: {form_name} has no column {unknown[0]} the demo writes")
        rows = tables.get(form_name, [])
        if header != layout:       # the spec's order differs, or it has columns the demo leaves empty
            pos = {c: k for k, c in enumerate(layout)}
            idx = [pos.get(c) for c in header]
            rows = [tuple("" if k is None else r[k] for k in idx) for r in rows]
        with open(out / f"{form_name}.csv", "w", encoding=encoding, newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(rows)
        rows_written[form_name] = len(rows)

    planted = {k: v for k, v in g.planted.items()}
    return {
        "randomized": len(g.subjects),
        "screened": rows_written["SCREENING"],
        "screen_failures": g.n_fail,
        "screening_pending": g.n_pend,
        "sites": sites,
        "pending_sites": [g.siteids[k] for k in sorted(g.pending)],
        "cutoff": cutoff.isoformat(),
        "exported": exported,
        "seed": seed,
        "rows": rows_written,
        "planted": planted,
    }
