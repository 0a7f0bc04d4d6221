"""Tiny hand-made export packages for data unit tests: a few subjects whose answers are known.

`Package` starts as a valid package of its subjects; a test changes rows, then writes it.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from dashboard.config import load_crf_spec, load_trial

CUTOFF = dt.date(2028, 6, 30)


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


@dataclass
class Package:
    cutoff: dt.date = CUTOFF
    forms: dict[str, list[dict]] = field(default_factory=dict)

    def __post_init__(self):
        for name in load_crf_spec().forms:
            self.forms.setdefault(name, [])
        self.forms["EXPORT"] = [
            {
                # a quarter after the cut-off: rows dated after the cut-off (left out, a finding)
                # are real, rows dated after the export are not (refused)
                "EXPORTDTC": f"{self.cutoff + dt.timedelta(days=92)}T09:00:00",
                "CUTOFFDAT": self.cutoff.isoformat(),
                "SOURCE": "test factory",
                "SPECVER": "1.0",
            }
        ]
        self.forms["SITES"] = [
            {
                "SITEID": "01",
                "SITENAME": "上海交通大学医学院附属第九人民医院",
                "CITY": "上海",
                "COUNTRY": "CHN",
                "ACTDAT": "2026-01-15",
                "TARGETN": "60",
                "STATUS": "ACTIVE",
            },
            {
                "SITEID": "02",
                "SITENAME": "中山大学附属肿瘤医院",
                "CITY": "广州",
                "COUNTRY": "CHN",
                "ACTDAT": "2026-03-01",
                "TARGETN": "40",
                "STATUS": "ACTIVE",
            },
        ]

    def add_subject(
        self,
        subjid: str,
        siteid: str = "01",
        *,
        arm: str = "STANDARD",
        randdat: str = "2026-06-01",
        brthdat: str = "1960-05-10",
        consent: str | None = None,
        primsite: str = "ORAL CAVITY",
        p16: str = "",
        ct: str = "T3",
        cn: str = "N1",
        cm: str = "M0",
        stage: str = "III",
        ecog: int = 1,
        response: str = "PR",
        cycles: int = 3,
        surgery: str | None = "2026-06-15",
        randomize: bool = True,
        sex: str = "M",
    ) -> Package:
        rand = d(randdat)
        consent = consent or (rand - dt.timedelta(days=60)).isoformat()
        n = len(self.forms["SCREENING"]) + 1
        self.forms["SCREENING"].append(
            {"SCRNID": f"S{n:04d}", "SITEID": siteid, "SCRNDAT": consent, "SCRNOUT": "ENROLLED", "SUBJID": subjid}
        )
        self.forms["DM"].append(
            {"SUBJID": subjid, "SITEID": siteid, "BRTHDAT": brthdat, "SEX": sex, "RFICDAT": consent}
        )
        trial = load_trial()
        for c in trial.eligibility:
            self.forms["IE"].append(
                {
                    "SUBJID": subjid,
                    "SITEID": siteid,
                    "IETESTCD": c.code,
                    "IEORRES": "Y" if c.kind == "inclusion" else "N",
                }
            )
        self.forms["DX"].append(
            {
                "SUBJID": subjid,
                "SITEID": siteid,
                "DXDAT": (rand - dt.timedelta(days=120)).isoformat(),
                "PRIMSITE": primsite,
                "HISTOL": "SCC",
                "P16": p16,
                "CT": ct,
                "CN": cn,
                "CM": cm,
                "STAGE": stage,
                "RECUR": "N",
                "PRIORTX": "N",
            }
        )
        self.forms["BL"].append(
            {
                "SUBJID": subjid,
                "SITEID": siteid,
                "BLDAT": (rand - dt.timedelta(days=100)).isoformat(),
                "ECOG": str(ecog),
                "CARDIAC6M": "N",
                "PREGNANT": "",
                "OTHMAL5Y": "N",
                "SMOKING": "FORMER",
            }
        )
        first = rand - dt.timedelta(days=21 * (cycles - 1) + 21)  # last dose 21 days before randomization
        for k in range(cycles):
            self.forms["EX"].append(
                {
                    "SUBJID": subjid,
                    "SITEID": siteid,
                    "EXCYCLE": str(k + 1),
                    "EXSTDAT": (first + dt.timedelta(days=21 * k)).isoformat(),
                    "EXTRT": "TORIPALIMAB",
                    "EXCLASS": "ANTI-PD-1",
                    "EXCHEMO": "Y",
                }
            )
        self.forms["RS"].append(
            {
                "SUBJID": subjid,
                "SITEID": siteid,
                "RSDAT": (rand - dt.timedelta(days=5)).isoformat(),
                "RSORRES": response,
            }
        )
        if randomize:
            self.forms["RAND"].append(
                {
                    "SUBJID": subjid,
                    "SITEID": siteid,
                    "RANDDAT": randdat,
                    "RANDNO": f"R{len(self.forms['RAND']) + 1:04d}",
                    "ARM": arm,
                    "STRATRESP": response if response in ("CR", "PR") else "PR",
                    "STRATSITE": "ORAL CAVITY" if primsite == "ORAL CAVITY" else "OTHER",
                }
            )
            if surgery:
                self.forms["PR"].append(
                    {
                        "SUBJID": subjid,
                        "SITEID": siteid,
                        "PRDAT": surgery,
                        "PRTRT": "DE-ESCALATION SURGERY" if arm == "DE-ESCALATION" else "STANDARD SURGERY",
                        "PRPRIM": "Y",
                        "MANDPRES": "Y" if arm == "DE-ESCALATION" else "N",
                        "FLAP": "N" if arm == "DE-ESCALATION" else "Y",
                        "GLOSSEXT": "LT HALF" if arm == "DE-ESCALATION" else "HEMI",
                        "NECKDIS": "Y",
                    }
                )
        return self

    def add(self, form: str, **row) -> Package:
        self.forms[form].append({k: str(v) for k, v in row.items()})
        return self

    def rows(self, form: str, **match) -> list[dict]:
        return [r for r in self.forms[form] if all(r.get(k) == v for k, v in match.items())]

    def write(self, folder: Path, encoding: str = "utf-8", columns: dict[str, list[str]] | None = None) -> Path:
        """Write one CSV per form with the spec's columns (or `columns[form]`)."""
        spec = load_crf_spec()
        folder.mkdir(parents=True, exist_ok=True)
        for name, form in spec.forms.items():
            header = (columns or {}).get(name) or form.column_names
            extra = sorted({k for r in self.forms[name] for k in r} - set(header) - set(form.column_names))
            with open(folder / f"{name}.csv", "w", encoding=encoding, newline="") as fh:
                w = csv.writer(fh, lineterminator="\n")
                w.writerow(header + extra)
                for r in self.forms[name]:
                    w.writerow([r.get(c, "") for c in header + extra])
        return folder


def small_trial() -> Package:
    """Four randomized subjects on two sites, one per arm and site, all eligible."""
    pkg = Package()
    pkg.add_subject("01-001", "01", arm="DE-ESCALATION", randdat="2026-03-01", surgery="2026-03-15")
    pkg.add_subject("01-002", "01", arm="STANDARD", randdat="2026-04-01", surgery="2026-04-20")
    pkg.add_subject(
        "02-001",
        "02",
        arm="DE-ESCALATION",
        randdat="2026-05-01",
        surgery="2026-05-10",
        primsite="OROPHARYNX",
        p16="POSITIVE",
        ct="T4",
        cn="N1",
        stage="III",
        response="CR",
    )
    pkg.add_subject(
        "02-002",
        "02",
        arm="STANDARD",
        randdat="2026-06-01",
        surgery="2026-06-12",
        primsite="LARYNX",
        ct="T4A",
        cn="N0",
        stage="IVA",
    )
    pkg.add("SCREENING", SCRNID="S9001", SITEID="01", SCRNDAT="2026-02-01", SCRNOUT="SCREEN FAILURE", SFREAS="I07")
    return pkg


def lung_package() -> Package:
    """R's `lung` data (NCCTG advanced lung cancer; lifelines' copy) as an export package.

    Every subject is randomized on 2026-01-10; a death is a DD row at randomization + time, a
    censored subject's last contact an FU row at randomization + time, and nothing else carries a
    later date, so the warehouse's survival times equal the data set's `time`. Institutions are
    the sites. Used to check the pooled Kaplan-Meier end to end against R's published output.
    """
    from lifelines.datasets import load_lung

    lung = load_lung()
    rand = d("2026-01-10")
    pkg = Package(cutoff=d("2029-01-01"))
    sites = sorted({int(i) for i in lung.inst.dropna()})
    pkg.forms["SITES"] = [
        {
            "SITEID": f"{s:02d}",
            "SITENAME": f"NCCTG institution {s}",
            "COUNTRY": "USA",
            "ACTDAT": "2025-12-01",
            "STATUS": "ACTIVE",
        }
        for s in sites + [99]
    ]
    for i, row in enumerate(lung.itertuples()):
        site = f"{int(row.inst):02d}" if row.inst == row.inst else "99"
        subjid = f"L{i + 1:03d}"
        pkg.add_subject(
            subjid,
            site,
            arm="STANDARD" if i % 2 else "DE-ESCALATION",
            randdat=rand.isoformat(),
            brthdat=f"{2025 - int(row.age)}-06-01",
            surgery=None,
            sex="M" if row.sex == 1 else "F",
        )
        when = (rand + dt.timedelta(days=int(row.time))).isoformat()
        if row.status == 1:
            pkg.add("DD", SUBJID=subjid, SITEID=site, DTHDAT=when, DTHCAUS="DISEASE")
        else:
            pkg.add("FU", SUBJID=subjid, SITEID=site, VISIT="UNSCHEDULED", VISDAT=when, SSSTAT="ALIVE")
    return pkg
