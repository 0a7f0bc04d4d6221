"""The demo trial cut at several dates: one simulated trial written as the export packages a
site network would have sent at each cut-off, with changes planted between consecutive cuts and
the truth of every change between them computed here, in Python, from the generator's own rows
(never through the build's SQL), for the tests of "since the last meeting" (issue 16).

`write_demo_cuts(out, dates)` simulates the trial to the last date (exactly as
`write_demo_package` does for that cut-off) and writes `out/<cut-off>/` for every date: an
earlier cut is the trial as its export stood then, a few days after its cut-off:

- a subject is in the cut when randomized and consented by the cut-off and the DM form was
  entered before the export; until then the screening log shows the subject PENDING;
- a row is in the cut when its own date (crf_spec.toml main_date) is on or before the cut-off
  and, when it carries an EDC entry stamp (ENTDTC), it was entered before the export day; an
  end of study by loss to follow-up once the loss was declared; a fatal adverse event once the
  death happened;
- a later date of a row (AE resolution, end of adjuvant therapy) after the cut-off is empty,
  and an AE that resolved after the cut-off is RECOVERING at the cut;
- a site activated after the cut-off is PENDING, one closed after it ACTIVE.

Between each pair of consecutive cuts these changes are planted (each listed in the pair's
`planted`; the trial has them whatever the cut-offs, so each also shows in the truth):

- `death_small_site`: a subject at a site that is one arm or smaller than the minimum cell (in
  either cut) dies between the two cut-offs (skipped when no site is small);
- `value_nonoutcome`: BL.SMOKING of an existing subject recorded wrongly, corrected in the new cut;
- `value_outcome`: an adverse event's grade recorded as 2, corrected to 3 (a new grade 3+ record);
- `deviation_new`: a deviation dated before the old cut-off, reported late (entered after the old
  export), under the subject's next DVSPID; `deviation_new_naming_arm` another whose term names
  the arm (ARM_TERM: withheld from blinded views, a finding);
- `deviation_resolved`: a deviation of the old cut withdrawn by the site (absent from the new);
- `finding_resolved`: a birth date recorded as year and month (a partial date the build imputes),
  completed in the new cut;
- `funnel_outside`: Clavien-Dindo IIIB complications within 30 days of surgery, reported late, at
  one site with both arms until that site lies above the 99.8% funnel limit of the
  clavien_3a_plus_30d signal in the new cut (inside it in the old one).

The truth of each pair has the structure of dashboard.views.changes.changes() for the closed
role (docs: the contract of issue 16): `randomized`, `events` (death, recurrence, sae,
grade3plus; pooled, by arm, subjects), `deviations` (new, resolved), `findings` (new, resolved),
`funnel` (newly_outside, back_inside), `changed` (records in both cuts with a changed value).
"""

from __future__ import annotations

import datetime as dt
import math
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from dashboard.config import CrfSpec, TrialConfig, load_crf_spec, load_trial
from dashboard.devtools.demo import GENERATOR, SOURCE_PREFIX, simulate, write_tables
from dashboard.devtools.demo.clinical import ajcc8_stage
from dashboard.devtools.demo.randomness import _age, _d
from dashboard.devtools.demo.vocabulary import _AE_SURGICAL, _DV_RANDOM, _LAYOUT

# Columns that identify a record of a form without a key in crf_spec.toml, for "changed values".
# A record whose natural key changes is another record (one gone, one new); a key that repeats
# within one cut matches nothing. dashboard/views/changes.py matches records on the same keys.
NATURAL_KEYS = {
    "RS": ["SUBJID", "RSDAT"],
    "PR": ["SUBJID", "PRDAT", "PRTRT"],
    "ADJ": ["SUBJID", "ADJTYPE", "ADJSTDAT"],
    "FU": ["SUBJID", "VISIT", "VISDAT"],
    "RECUR": ["SUBJID", "RECDAT", "RECTYPE"],
    "DS": ["SUBJID", "DSDECOD"],
    "QS": ["SUBJID", "VISIT", "QSTESTCD"],
}
EVENT_KINDS = ("death", "recurrence", "sae", "grade3plus")
FUNNEL_PUSH_SIGNAL = "clavien_3a_plus_30d"
# a late deviation term in which the site names the arm (the standard one: 标准手术 is a configured term)
ARM_TERM = "随机分入标准手术组后，术后访视超出访视窗"
MIN_GAP_DAYS = 7  # consecutive cut-offs at least this far apart: each export lies before the next cut-off's
DATE_TYPES = ("date", "partial_date", "partial_date_y")
# the later dates of a row, emptied while they lie after a cut's cut-off
END_DATES = {"AE": ("AEENDAT",), "ADJ": ("ADJENDAT",)}
# the forms the funnels and the planting read (a cut's findings read them all)
STATE_FORMS = ("RAND", "PR", "PATH", "RECUR", "DD", "AE", "DV")

# finding kinds (the build's English names, queries/findings and dashboard/ingest/findings.py)
K_IMPUTED = "partial date imputed"
K_FREE_TEXT = "free text that may name the arm"
K_ROW_AFTER = "dated after the cut-off: row left out"
K_VALUE_AFTER = "date after the cut-off: value left out"
K_STAGE = "recorded stage differs from recomputed"
K_AFTER_DEATH = "record dated after death"
K_AE_BEFORE_DOSE = "adverse event before first dose"
K_DEATH_BEFORE_RAND = "death before randomization"
K_SURGERY_BEFORE_RAND = "surgery before randomization"
K_RECUR_BEFORE_RAND = "recurrence before randomization"
K_DEATH_NO_FORM = "death reported without a death form"
K_NOT_RANDOMIZED = "enrolled, not randomized"
K_ENTERED_AFTER = "entered after the export"
K_ENTERED_BEFORE = "entered before its own date"
K_BEFORE_ACTIVATION = "randomized before site activation"


def _o(text: str) -> int:
    return dt.date.fromisoformat(text[:10]).toordinal()


def _imputed(text: str | None) -> int | None:
    """The ordinal of a (partial) date as the build imputes it: the first day of its period."""
    if not text:
        return None
    if len(text) == 4:
        text += "-01-01"
    elif len(text) == 7:
        text += "-01"
    return _o(text)


def _stamp(day: int, sec: int) -> str:
    return f"{_d(day)}T{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}"


def write_demo_cuts(
    out: str | Path,
    dates: list[dt.date],
    *,
    subjects: int = 300,
    sites: int = 12,
    seed: int = 20260101,
) -> dict:
    """Write `out/<cut-off iso>/` (an export package) for every date of `dates` (increasing, each
    at least MIN_GAP_DAYS after the one before) of one simulated demo trial, with the changes of
    the module docstring planted between consecutive cuts. Returns

    - `cuts`: per cut `cutoff`, `exported`, `folder`, `rows` (per form), `randomized`,
      `findings` ([kind, subjid, form, column], one per finding, sorted), `funnel`
      ({signal: {siteid: flag}} of the sites shown, the cell rule applied), `allocation`
      ({siteid: {arm: n}});
    - `pairs`: per consecutive pair the truth of the difference (see the module docstring), with
      `from`/`to` ({cutoff, folder}) and `planted` (what was planted between the two).
    """
    dates = [dt.date.fromisoformat(d) if isinstance(d, str) else d for d in dates]
    if not dates:
        raise ValueError("at least one cut-off date")
    for a, b in zip(dates, dates[1:], strict=False):
        if (b - a).days < MIN_GAP_DAYS:
            raise ValueError(f"cut-offs must increase by at least {MIN_GAP_DAYS} days: {a} then {b}")
    trial, spec = load_trial(), load_crf_spec()
    g, tables, exported_last = simulate(subjects=subjects, sites=sites, cutoff=dates[-1], seed=seed)
    seq = _Sequence(g, tables, exported_last, dates, trial, spec, seed)
    seq.plant_all()
    out = Path(out)
    cuts, states = [], []
    for k, cutoff in enumerate(dates):
        rows = seq.cut(k)
        if not rows["RAND"]:
            raise ValueError(f"no subject is randomized by the cut-off {cutoff}: choose a later date")
        folder = out / cutoff.isoformat()
        written = write_tables(folder, _tuples(rows), spec)
        state = _State(rows, seq.cutoffs[k], seq.exported[k], trial, spec)
        states.append(state)
        cuts.append(
            {
                "cutoff": cutoff.isoformat(),
                "exported": seq.exported[k],
                "folder": str(folder),
                "rows": written,
                "randomized": len(state.arm),
                "findings": sorted([list(f) for f in state.findings.elements()], key=_sort_key),
                "funnel": {name: dict(sorted(flags.items())) for name, flags in state.funnel.items()},
                "allocation": {s: dict(sorted(c.items())) for s, c in sorted(state.allocation.items())},
            }
        )
    pairs = []
    for k in range(1, len(dates)):
        truth = _difference(states[k - 1], states[k], spec)
        truth["from"] = {"cutoff": cuts[k - 1]["cutoff"], "folder": cuts[k - 1]["folder"]}
        truth["to"] = {"cutoff": cuts[k]["cutoff"], "folder": cuts[k]["folder"]}
        truth["planted"] = seq.planted[k]
        for e in expectations(truth):  # the generator's own check: never raised
            if matches(truth, e["path"], e["match"]) != 1:
                raise RuntimeError(f"demo cuts: the planted change {e} is not in the truth exactly once")
        pairs.append(truth)
    return {"seed": seed, "subjects": subjects, "sites": sites, "cuts": cuts, "pairs": pairs}


def expectations(pair: dict) -> list[dict]:
    """What each planted change of a pair must show in the difference of the closed role: a list
    of {kind, path, match}: `path` names a list of the difference ("changed", "findings.resolved",
    "events.death.subjects", ...) and `match` an item of it (a dict: the keys it must have, values
    compared as text; a string: the item itself)."""
    out = []
    for p in pair["planted"]:
        kind = p["kind"]

        def want(path: str, match, kind=kind) -> None:
            out.append({"kind": kind, "path": path, "match": match})

        if kind == "death_small_site":
            want("events.death.subjects", p["subjid"])
        elif kind == "value_nonoutcome":
            want("changed", {k: p[k] for k in ("form", "subjid", "column", "old", "new")})
        elif kind == "value_outcome":
            want("changed", {k: p[k] for k in ("form", "subjid", "column", "old", "new")})
            want("events.grade3plus.subjects", p["subjid"])
        elif kind == "finding_resolved":
            want("changed", {k: p[k] for k in ("form", "subjid", "column", "old", "new")})
            want("findings.resolved", {"kind": K_IMPUTED, "subjid": p["subjid"], "form": "DM", "column": "BRTHDAT"})
        elif kind == "deviation_new":
            want("deviations.new", {"subjid": p["subjid"], "dvspid": p["dvspid"]})
        elif kind == "deviation_new_naming_arm":
            want("deviations.new", {"subjid": p["subjid"], "dvspid": p["dvspid"]})
            want("findings.new", {"kind": K_FREE_TEXT, "subjid": p["subjid"], "form": "DV", "column": "DVTERM"})
        elif kind == "deviation_resolved":
            want("deviations.resolved", {"subjid": p["subjid"], "dvspid": p["dvspid"]})
        elif kind == "funnel_outside":
            want("funnel.newly_outside", {"siteid": p["siteid"], "signal": p["signal"]})
            for subjid, _spid in p["records"]:
                want("events.sae.subjects", subjid)
                want("events.grade3plus.subjects", subjid)
    return out


def matches(diff: dict, path: str, match) -> int:
    """How many items of the list at `path` of `diff` match `match` (see `expectations`)."""
    items = diff
    for part in path.split("."):
        items = items[part]

    def text(v) -> str | None:
        return None if v is None else str(v)

    if isinstance(match, dict):
        return sum(
            1 for it in items if isinstance(it, dict) and all(text(it.get(k)) == text(v) for k, v in match.items())
        )
    return sum(1 for it in items if text(it) == text(match))


def _sort_key(item) -> tuple:
    return tuple("" if v is None else str(v) for v in item)


def _tuples(rows: dict[str, list[dict]]) -> dict[str, list[tuple]]:
    return {form: [tuple(r.get(c, "") for c in _LAYOUT[form]) for r in rs] for form, rs in rows.items()}


# ---------------------------------------------------------------------------------------- the cuts
class _Sequence:
    """The simulated trial's rows (the base: as the last cut shows them, planted changes included)
    and how each cut shows them."""

    def __init__(self, g, tables, exported_last: str, dates, trial: TrialConfig, spec: CrfSpec, seed: int):
        self.g, self.trial, self.spec, self.seed = g, trial, spec, seed
        self.rng = np.random.default_rng([seed, 16])
        self.dates = dates
        self.cutoffs = [d.toordinal() for d in dates]
        self.base = {f: [dict(zip(_LAYOUT[f], r, strict=True)) for r in tables.get(f, [])] for f in spec.forms}
        del self.base["EXPORT"]
        self.site_of = {r["SUBJID"]: r["SITEID"] for r in self.base["DM"]}
        self.people = {p.subjid: p for p in g.subjects}
        self.site_index = {sid: k for k, sid in enumerate(g.siteids)}
        # export days: the last one is the simulation's, the others a few days after their cut-off
        self.export_days, self.exported = [], []
        for k, c in enumerate(self.cutoffs):
            if k == len(self.cutoffs) - 1:
                self.export_days.append(g.export_day)
                self.exported.append(exported_last)
            else:
                day = c + 3 + int(self.rng.integers(0, 5))
                self.export_days.append(day)
                self.exported.append(_stamp(day, int(self.rng.integers(3600, 5 * 3600 + 1))))
        self.last = len(self.cutoffs) - 1
        self._subject_first: dict[str, int] | None = None
        self.used: set[str] = set()  # subjects a planted change already touched
        # subjects of the single-cut planted findings keep their rows as planted
        for ids in g.planted.values():
            for x in ids:
                self.used.add(x[0] if isinstance(x, list) else x)
        self.planted: dict[int, list[dict]] = {k: [] for k in range(1, len(self.cutoffs))}

    # ------------------------------------------------------------------ one cut
    def subject_first(self) -> dict[str, int]:
        """The first cut each subject is in: randomized and consented by its cut-off, the DM form
        entered before its export (every subject is in the last cut)."""
        if self._subject_first is None:
            rand = {r["SUBJID"]: _o(r["RANDDAT"]) for r in self.base["RAND"]}
            self._subject_first = {
                r["SUBJID"]: min(
                    self.last,
                    max(
                        bisect_left(self.cutoffs, _o(r["RFICDAT"])),
                        bisect_left(self.cutoffs, rand[r["SUBJID"]]),
                        bisect_right(self.export_days, _o(r["ENTDTC"])),
                    ),
                )
                for r in self.base["DM"]
            }
        return self._subject_first

    def included(self, k: int) -> set[str]:
        return {s for s, first in self.subject_first().items() if first <= k}

    def _first(self, form: str, r: dict) -> int:
        """The first cut a row is in (every row of the simulation is in the last cut)."""
        ks = [0]
        if "SUBJID" in r and form != "SCREENING":
            ks.append(self.subject_first()[r["SUBJID"]])
        main = self.spec.forms[form].main_date
        if form != "SITES" and main and r.get(main):
            ks.append(bisect_left(self.cutoffs, _imputed(r[main])))
        if r.get("ENTDTC"):
            ks.append(bisect_right(self.export_days, _o(r["ENTDTC"])))
        if form == "AE" and r["AEOUT"] == "FATAL":
            ks.append(bisect_left(self.cutoffs, _o(r["AEENDAT"])))  # entered once the death happened
        if form == "DS" and r["DSDECOD"] == "LOST TO FOLLOW-UP":
            ks.append(bisect_left(self.cutoffs, self.people[r["SUBJID"]].t_ltfu))  # once declared lost
        return min(self.last, max(ks))

    def cut(self, k: int, forms=None) -> dict[str, list[dict]]:
        """Every form's rows (or those of `forms`) as the export of cut k holds them: dicts of the
        demo's columns, the base's own where the cut shows a row unchanged."""
        c, last = self.cutoffs[k], k == self.last
        first = self.subject_first()
        out: dict[str, list[dict]] = {}
        for form in forms or self.base:
            ends = END_DATES.get(form, ())
            kept = []
            for r in self.base[form]:
                a = r.get("_a")
                if a is None:
                    a = r["_a"] = self._first(form, r)
                if a > k or k >= r.get("_until", self.last + 1):
                    continue
                old = r.get("_old")
                if old and any(k < j for j, _v in old.values()):
                    r = dict(r) | {col: v for col, (j, v) in old.items() if k < j}
                if not last:
                    if form == "SCREENING" and r["SUBJID"] and first[r["SUBJID"]] > k:
                        r = dict(r) | {"SCRNOUT": "PENDING", "SUBJID": ""}
                    elif form == "SITES":
                        if r["ACTDAT"] and _o(r["ACTDAT"]) > c:
                            r = dict(r) | {"ACTDAT": "", "STATUS": "PENDING"}
                        elif r["STATUS"] == "CLOSED" and self.g.closed[self.site_index[r["SITEID"]]] > c:
                            r = dict(r) | {"STATUS": "ACTIVE"}
                    for col in ends:
                        if r.get(col) and _o(r[col]) > c:
                            r = dict(r) | {col: ""}
                            if form == "AE" and r["AEOUT"] == "RECOVERED":
                                r["AEOUT"] = "RECOVERING"  # resolved after the cut-off
                kept.append(r)
            out[form] = kept
        if forms:
            return out
        source = (
            f"{SOURCE_PREFIX} ({GENERATOR}, seed {self.seed}, {len(out['RAND'])} randomized by the cut-off, "
            f"{self.g.n_sites} sites, cut {k + 1} of {len(self.cutoffs)})"
        )
        out["EXPORT"] = [
            {
                "EXPORTDTC": self.exported[k],
                "CUTOFFDAT": self.dates[k].isoformat(),
                "SOURCE": source,
                "SPECVER": self.spec.version,
            }
        ]
        return out

    def state(self, k: int, findings: bool = True) -> _State:
        forms = None if findings else STATE_FORMS
        return _State(self.cut(k, forms), self.cutoffs[k], self.exported[k], self.trial, self.spec, findings)

    # ------------------------------------------------------------------ the planted changes
    def pick(self, items: list):
        return items[int(self.rng.integers(0, len(items)))] if items else None

    def plant_all(self) -> None:
        for j in range(1, len(self.cutoffs)):
            self.plant_death(j)
            # the facts the other plants choose by (a death changes who is operated and alive)
            old, new = self.state(j - 1, findings=False), self.state(j, findings=False)
            self.plant_funnel(j, old, new)
            self.plant_smoking(j)
            self.plant_grade(j, old)
            self.plant_birth_date(j)
            self.plant_new_deviation(j)
            self.plant_new_deviation(j, names_arm=True)
            self.plant_resolved_deviation(j, old)

    def note(self, j: int, kind: str, **facts) -> None:
        self.planted[j].append({"kind": kind, **facts})

    def fresh(self, k: int) -> list[str]:
        """Subjects in cut k that no planted change has touched, in a stable order."""
        return sorted(s for s, first in self.subject_first().items() if first <= k and s not in self.used)

    def ends(self) -> dict[str, int]:
        """Each subject's earliest death or end of study in the base (none: not in the dict)."""
        out: dict[str, int] = {}
        for form, col in (("DD", "DTHDAT"), ("DS", "DSSTDAT")):
            for r in self.base[form]:
                d = _o(r[col])
                out[r["SUBJID"]] = min(out.get(r["SUBJID"], d), d)
        return out

    def late_stamp(self, j: int, not_before: int) -> str:
        """An entry stamp after the export of cut j-1 and before the export of cut j."""
        lo = max(self.export_days[j - 1], not_before)
        hi = self.export_days[j] - 1
        day = lo + int(self.rng.integers(0, max(1, hi - lo + 1)))
        return _stamp(min(day, hi), int(self.rng.integers(8 * 3600, 21 * 3600)))

    def allocation(self, k: int) -> dict[str, Counter]:
        first = self.subject_first()
        out: dict[str, Counter] = defaultdict(Counter)
        for r in self.base["RAND"]:
            if first[r["SUBJID"]] <= k:
                out[r["SITEID"]][r["ARM"]] += 1
        return out

    def plant_death(self, j: int) -> None:
        """A death between the two cut-offs at a site that is one arm or below the minimum cell in
        either cut: the subject's later rows end at the death."""
        small = {s for k in (j - 1, j) for s, counts in self.allocation(k).items() if not _cell_ok(counts, self.trial)}
        c_old, c_new = self.cutoffs[j - 1], self.cutoffs[j]
        ends = self.ends()
        cands = [s for s in self.fresh(j - 1) if self.site_of[s] in small and ends.get(s, 10**9) > c_new]
        subjid = self.pick(cands)
        if subjid is None:
            return
        self.used.add(subjid)
        day = c_old + 1 + int(self.rng.integers(0, c_new - c_old))
        site = self.site_of[subjid]
        for form, rows in self.base.items():
            if form == "SCREENING" or "SUBJID" not in _LAYOUT[form]:
                continue
            main = self.spec.forms[form].main_date
            kept = []
            for r in rows:
                if r["SUBJID"] == subjid:
                    if main and r.get(main) and _imputed(r[main]) > day:
                        continue
                    if form == "AE" and r["AEOUT"] == "FATAL":
                        continue  # the later death the simulation had
                    for col in END_DATES.get(form, ()):
                        if r.get(col) and _o(r[col]) > day:
                            r[col] = ""
                            if form == "AE" and r["AEOUT"] == "RECOVERED":
                                r["AEOUT"] = "NOT RECOVERED"
                kept.append(r)
            self.base[form] = kept
        self.base["DD"].append({"SUBJID": subjid, "SITEID": site, "DTHDAT": _d(day), "DTHCAUS": "DISEASE"})
        self.base["DS"].append({"SUBJID": subjid, "SITEID": site, "DSDECOD": "DEATH", "DSSTDAT": _d(day)})
        self.note(j, "death_small_site", subjid=subjid, siteid=site, date=_d(day))

    def plant_smoking(self, j: int) -> None:
        fresh = set(self.fresh(j - 1))
        r = self.pick([r for r in self.base["BL"] if r["SUBJID"] in fresh])
        if r is None:
            return
        self.used.add(r["SUBJID"])
        wrong = self.pick([v for v in ("NEVER", "FORMER", "CURRENT") if v != r["SMOKING"]])
        r.setdefault("_old", {})["SMOKING"] = (j, wrong)
        self.note(j, "value_nonoutcome", form="BL", subjid=r["SUBJID"], column="SMOKING", old=wrong, new=r["SMOKING"])

    def plant_grade(self, j: int, old: _State) -> None:
        fresh = set(self.fresh(j - 1))
        cands = [
            r
            for r in self.base["AE"]
            if (r["SUBJID"], r["AESPID"]) in old.ae
            and r["SUBJID"] in fresh
            and r["AETOXGR"] == "3"
            and not r["AECLAV"]
            and r["AEIMMUNE"] == "N"
            and r["AEOUT"] != "FATAL"
        ]
        r = self.pick(cands)
        if r is None:
            return
        self.used.add(r["SUBJID"])
        r.setdefault("_old", {})["AETOXGR"] = (j, "2")
        self.note(
            j, "value_outcome", form="AE", subjid=r["SUBJID"], aespid=r["AESPID"], column="AETOXGR", old="2", new="3"
        )

    def plant_birth_date(self, j: int) -> None:
        fresh = set(self.fresh(j - 1))
        cands = []
        for r in self.base["DM"]:
            if r["SUBJID"] not in fresh or len(r["BRTHDAT"]) != 10:
                continue
            birth, consent = dt.date.fromisoformat(r["BRTHDAT"]), dt.date.fromisoformat(r["RFICDAT"])
            if _age(birth.replace(day=1), consent) == _age(birth, consent):  # the imputed date, the same age
                cands.append(r)
        r = self.pick(cands)
        if r is None:
            return
        self.used.add(r["SUBJID"])
        r.setdefault("_old", {})["BRTHDAT"] = (j, r["BRTHDAT"][:7])
        self.note(
            j,
            "finding_resolved",
            form="DM",
            subjid=r["SUBJID"],
            column="BRTHDAT",
            old=r["BRTHDAT"][:7],
            new=r["BRTHDAT"],
        )

    def plant_new_deviation(self, j: int, names_arm: bool = False) -> None:
        """A deviation dated before the old cut-off, entered after its export; `names_arm`: its
        term names the arm (withheld from blinded views, a finding)."""
        c_old = self.cutoffs[j - 1]
        rand = {r["SUBJID"]: _o(r["RANDDAT"]) for r in self.base["RAND"]}
        ends = self.ends()
        cands = [s for s in self.fresh(j - 1) if rand[s] < c_old and ends.get(s, 10**9) > c_old]
        subjid = self.pick(cands)
        if subjid is None:
            return
        self.used.add(subjid)
        cat, sev, term, _anchor, _w = self.pick([d for d in _DV_RANDOM if d[3] == "post"])
        if names_arm:
            cat, sev, term = "VISIT WINDOW", "MINOR", ARM_TERM
        day = rand[subjid] + 1 + int(self.rng.integers(0, min(60, c_old - rand[subjid])))
        spid = 1 + max([int(r["DVSPID"]) for r in self.base["DV"] if r["SUBJID"] == subjid], default=0)
        row = {
            "SUBJID": subjid,
            "SITEID": self.site_of[subjid],
            "DVSPID": str(spid),
            "DVSTDAT": _d(day),
            "DVCAT": cat,
            "DVTERM": term,
            "DVSEV": sev,
            "ENTDTC": self.late_stamp(j, day),
        }
        self.base["DV"].append(row)
        self.note(
            j,
            "deviation_new_naming_arm" if names_arm else "deviation_new",
            subjid=subjid,
            siteid=row["SITEID"],
            dvspid=row["DVSPID"],
            dvstdat=row["DVSTDAT"],
        )

    def plant_resolved_deviation(self, j: int, old: _State) -> None:
        fresh = set(self.fresh(j - 1))
        r = self.pick([r for r in self.base["DV"] if (r["SUBJID"], r["DVSPID"]) in old.dv and r["SUBJID"] in fresh])
        if r is None:
            return
        self.used.add(r["SUBJID"])
        r["_until"] = j
        self.note(j, "deviation_resolved", subjid=r["SUBJID"], siteid=r["SITEID"], dvspid=r["DVSPID"])

    def plant_funnel(self, j: int, old: _State, new: _State) -> None:
        """Late-reported Clavien-Dindo IIIB complications at one two-arm site, as few as put the
        site above the funnel of FUNNEL_PUSH_SIGNAL in cut j (inside it in cut j-1 and before)."""
        c_old = self.cutoffs[j - 1]
        window = next(s for s in self.trial.safety_signals if s.name == FUNNEL_PUSH_SIGNAL).window_days
        ends = self.ends()
        by_site: dict[str, list[str]] = defaultdict(list)
        for s in self.fresh(j - 1):
            S = old.surgery.get(s)
            if S is not None and S + window <= c_old and s not in old.clavien_subjects and ends.get(s, 10**9) > S + 21:
                by_site[old.site[s]].append(s)  # in the denominator of both cuts, no event yet
        n, x = new.counts[FUNNEL_PUSH_SIGNAL]
        best = None
        for site in sorted(new.funnel[FUNNEL_PUSH_SIGNAL]):
            if old.funnel[FUNNEL_PUSH_SIGNAL].get(site) != "within" or new.funnel[FUNNEL_PUSH_SIGNAL][site] != "within":
                continue
            cands = by_site.get(site, [])
            limit = len(cands) if best is None else min(len(cands), len(best[1]) - 1)
            for m in range(1, limit + 1):  # one more event per subject
                if new.flags(n, x + Counter({site: m})).get(site) == "above":
                    best = (site, cands[:m])
                    break
        if best is None:
            return
        site, added = best
        rows = self._complications(j, added)
        self.base["AE"].extend(rows)
        self.used.update(added)
        self.note(
            j,
            "funnel_outside",
            siteid=site,
            signal=FUNNEL_PUSH_SIGNAL,
            records=[[r["SUBJID"], r["AESPID"]] for r in rows],
        )

    def _complications(self, j: int, subjids: list[str]) -> list[dict]:
        """One late-reported Clavien-Dindo IIIB complication per subject, within 20 days of the
        subject's first surgery, entered between the two exports."""
        wanted = set(subjids)
        surg: dict[str, int] = {}
        for r in self.base["PR"]:
            if r["SUBJID"] in wanted:
                d = _o(r["PRDAT"])
                surg[r["SUBJID"]] = min(surg.get(r["SUBJID"], d), d)
        spids = Counter()
        for r in self.base["AE"]:
            if r["SUBJID"] in wanted:
                spids[r["SUBJID"]] = max(spids[r["SUBJID"]], int(r["AESPID"]))
        out = []
        for n, s in enumerate(subjids):
            a = _AE_SURGICAL[n % len(_AE_SURGICAL)]
            onset = surg[s] + 1 + int(self.rng.integers(0, 20))
            stop = min(onset + 10, self.cutoffs[j - 1])
            out.append(
                {
                    "SUBJID": s,
                    "SITEID": self.site_of[s],
                    "AESPID": str(spids[s] + 1),
                    "AETERM": a[0],
                    "AEDECOD": a[1],
                    "AESOC": a[2],
                    "AESTDAT": _d(onset),
                    "AEENDAT": _d(stop),
                    "AETOXGR": "3",
                    "AESER": "Y",
                    "AEREL": "SURGERY",
                    "AEIMMUNE": "N",
                    "AECLAV": "IIIB",
                    "AEOUT": "RECOVERED",
                    "ENTDTC": self.late_stamp(j, onset),
                }
            )
        return out


# ---------------------------------------------------------------------------------------- one cut's facts
def _cell_ok(counts: dict[str, int], trial: TrialConfig) -> bool:
    """The cell rule (docs/blinding.md): at least min_cell_size subjects, and more than one arm."""
    return sum(counts.values()) >= trial.blinding.min_cell_size and sum(1 for n in counts.values() if n > 0) >= 2


class _State:
    """What one cut holds, computed from its rows: subjects, events, records, findings and the
    site funnels of every configured safety signal."""

    def __init__(
        self,
        rows: dict[str, list[dict]],
        cutoff: int,
        exported: str,
        trial: TrialConfig,
        spec: CrfSpec,
        findings: bool = True,
    ):
        self.rows, self.cutoff, self.exported, self.trial, self.spec = rows, cutoff, exported, trial, spec
        self.kept, left_out = _keep(rows, cutoff, spec)
        if findings:
            self.findings = left_out + _findings(self.kept, rows, exported, trial, spec)
        k = self.kept
        self.arm = {r["SUBJID"]: r["ARM"] for r in k["RAND"]}
        self.site = {r["SUBJID"]: r["SITEID"] for r in k["RAND"]}
        self.allocation: dict[str, Counter] = defaultdict(Counter)
        for s, a in self.arm.items():
            self.allocation[self.site[s]][a] += 1
        for counts in self.allocation.values():
            for a in trial.arm_codes:
                counts.setdefault(a, 0)
        self.deaths = {}
        for r in k["DD"]:
            self.deaths[r["SUBJID"]] = min(self.deaths.get(r["SUBJID"], 10**9), _o(r["DTHDAT"]))
        self.recurred = {r["SUBJID"] for r in k["RECUR"]}
        self.ae = {(r["SUBJID"], r["AESPID"]): r for r in k["AE"]}
        self.dv = {(r["SUBJID"], r["DVSPID"]): r for r in k["DV"]}
        self.surgery: dict[str, int] = {}
        for r in k["PR"]:
            d = _o(r["PRDAT"])
            self.surgery[r["SUBJID"]] = min(self.surgery.get(r["SUBJID"], d), d)
        self.funnel, self.clavien_subjects = self._funnels()

    def _funnels(self) -> tuple[dict[str, dict[str, str]], set[str]]:
        cfg, k, C = self.trial, self.kept, self.cutoff
        rand = {r["SUBJID"]: _o(r["RANDDAT"]) for r in k["RAND"]}
        pathology = {r["SUBJID"]: r["MARGIN"] for r in k["PATH"]}
        local = {}
        for r in k["RECUR"]:
            if r["RECTYPE"] == "LOCAL":
                local[r["SUBJID"]] = min(local.get(r["SUBJID"], 10**9), _o(r["RECDAT"]))
        clavien_day: dict[str, int] = {}
        immune = set()
        serious_clavien = set(cfg.safety.clavien_serious)
        for r in k["AE"]:
            s = r["SUBJID"]
            if s not in rand:
                continue
            onset, S = _imputed(r["AESTDAT"]), self.surgery.get(s)
            if r["AECLAV"] in serious_clavien and S is not None and onset - S >= 0:
                clavien_day[s] = min(clavien_day.get(s, 10**9), onset - S)
            phase = "post" if S is not None and onset >= S else "pre" if onset > rand[s] else "neoadjuvant"
            if r["AEIMMUNE"] == "Y" and int(r["AETOXGR"]) >= 3 and phase == "neoadjuvant":
                immune.add(s)
        clavien_subjects = {s for s, d in clavien_day.items() if d <= cfg.safety.complication_window_days}
        per_subject = {
            "first_clavien_3a_plus_day": clavien_day,
            "death_day_after_surgery": {
                s: d - self.surgery[s] for s, d in self.deaths.items() if s in self.surgery and s in rand
            },
            "local_recurrence_day": {s: d - rand[s] for s, d in local.items() if s in rand},
            "positive_margin": {s for s, m in pathology.items() if m == "POSITIVE"},
            "immune_grade3plus_neoadjuvant": immune,
        }
        out = {}
        self.counts: dict[str, tuple[Counter, Counter]] = {}
        for sig in cfg.safety_signals:
            n, x = Counter(), Counter()
            for s, R in rand.items():
                pop = {
                    "randomized": True,
                    "operated": s in self.surgery,
                    "with_pathology": s in pathology,
                }[sig.population]
                if sig.window_days is None:
                    event = pop and s in per_subject[sig.source]
                    counted = pop
                else:
                    day = per_subject[sig.source].get(s)
                    event = pop and day is not None and 0 <= day <= sig.window_days
                    since = C - (self.surgery[s] if sig.window_from == "surgery" else R) if pop else -1
                    counted = pop and (since >= sig.window_days or event)
                n[self.site[s]] += int(counted)
                x[self.site[s]] += int(event)
            self.counts[sig.name] = (n, x)
            out[sig.name] = self.flags(n, x)
        return out, clavien_subjects

    def flags(self, n: Counter, x: Counter) -> dict[str, str]:
        """The funnel flag of every site shown (not one arm nor smaller than the minimum cell, with a
        denominator) against exact binomial limits around the pooled rate (dashboard/views/safety.py
        site_funnel, trial.toml [safety] funnel_confidence)."""
        from dashboard.stats.rates import funnel_flags

        cfg = self.trial
        total_n, total_x = sum(n.values()), sum(x.values())
        sites = sorted(set(self.site.values()))
        safe = [s for s in sites if _cell_ok(self.allocation[s], cfg)]
        unsafe = [s for s in sites if s not in safe]
        together = Counter()
        for s in unsafe:
            together.update(self.allocation[s])
        if unsafe and safe and not _cell_ok(together, cfg):
            # complementary suppression: the smallest safe site joins the unsafe ones, else the
            # total minus the shown sites would be them (docs/blinding.md)
            safe.remove(min(safe, key=lambda s: (sum(self.allocation[s].values()), s)))
        shown = [s for s in safe if n[s] > 0]
        p0 = total_x / total_n if total_n else math.nan
        if not (shown and total_n and 0 < p0 < 1):
            return {s: "within" for s in shown}
        level = max(cfg.safety.funnel_confidence)
        f = funnel_flags(np.array([x[s] for s in shown]), np.array([n[s] for s in shown]), p0, level=level)
        return dict(zip(shown, (str(v) for v in f), strict=True))


def _keep(rows, cutoff: int, spec: CrfSpec) -> tuple[dict[str, list[dict]], Counter]:
    """The rows the build keeps of each form (crf_<form>: a row whose own date lies after the
    cut-off left out, any other date after it emptied) and those findings, as a Counter of
    (kind, subjid, form, column)."""
    F: Counter = Counter()
    kept: dict[str, list[dict]] = {}
    last = _d(cutoff)
    for form, rs in rows.items():
        if form == "EXPORT":
            continue
        sf = spec.forms[form]
        main = sf.main_date
        dates = [c.name for c in sf.columns if c.type in DATE_TYPES]
        subject_col = "SCRNID" if form == "SCREENING" else "SUBJID" if "SUBJID" in sf.column_names else None
        if not dates:
            kept[form] = rs
            continue
        out = []
        for r in rs:
            # ISO text compares as the dates do; a partial date is its period's first day
            late = [c for c in dates if r.get(c) and r[c] > last and _imputed(r[c]) > cutoff]
            if late:
                for col in late:
                    F[(K_ROW_AFTER if col == main else K_VALUE_AFTER, r.get(subject_col) or None, form, col)] += 1
                if main in late:
                    continue
                r = dict(r) | {c: "" for c in late}
            out.append(r)
        kept[form] = out
    return kept, F


def _findings(kept, rows, exported: str, trial: TrialConfig, spec: CrfSpec) -> Counter:
    """The findings the build must record of a cut's kept rows (and, for records dated after
    death, of all its rows: subject_dates reads the typed forms), but those of `_keep`."""
    from dashboard.access import blinding
    from dashboard.access.freetext import matcher

    F: Counter = Counter()
    typed = rows
    free = blinding.free_text_columns(spec)
    names_arm = matcher(trial)
    for form, rs in kept.items():
        sf = spec.forms[form]
        for col in sf.columns:
            if col.type in ("partial_date", "partial_date_y"):
                for r in rs:
                    if r.get(col.name) and len(r[col.name]) < 10:
                        F[(K_IMPUTED, r.get("SUBJID") or None, form, col.name)] += 1
            if col.name.lower() in free:
                for r in rs:
                    if r.get(col.name) and names_arm(r[col.name]):
                        F[(K_FREE_TEXT, r.get("SUBJID") if "SUBJID" in sf.column_names else None, form, col.name)] += 1
    # recorded stage differs from the recomputed one (every enrolled subject with a DX row)
    for r in kept["DX"]:
        if ajcc8_stage(r["PRIMSITE"], r["P16"] or None, r["CT"], r["CN"], r["CM"]) != r["STAGE"]:
            F[(K_STAGE, r["SUBJID"], "DX", "STAGE")] += 1
    deaths: dict[str, int] = {}
    for r in kept["DD"]:
        deaths[r["SUBJID"]] = min(deaths.get(r["SUBJID"], 10**9), _o(r["DTHDAT"]))
    # a dated record after death: the typed forms (after the cut-off too), not the death forms
    for form, rs in typed.items():
        sf = spec.forms[form]
        if form in ("EXPORT", "DD", "DS") or not sf.subject_level:
            continue
        dates = [c.name for c in sf.columns if c.type in DATE_TYPES]
        for r in rs:
            death = deaths.get(r.get("SUBJID"))
            if death is None or (form == "FU" and r["SSSTAT"] == "DEAD"):
                continue
            for col in dates:
                d = _imputed(r.get(col))
                if d is not None and d > death:
                    F[(K_AFTER_DEATH, r["SUBJID"], form, col)] += 1
    first_dose: dict[str, int] = {}
    for r in kept["EX"]:
        first_dose[r["SUBJID"]] = min(first_dose.get(r["SUBJID"], 10**9), _o(r["EXSTDAT"]))
    for r in kept["AE"]:
        if len(r["AESTDAT"]) == 10 and r["SUBJID"] in first_dose and _o(r["AESTDAT"]) < first_dose[r["SUBJID"]]:
            F[(K_AE_BEFORE_DOSE, r["SUBJID"], "AE", "AESTDAT")] += 1
    rand = {r["SUBJID"]: _o(r["RANDDAT"]) for r in kept["RAND"]}
    for form, col, kind in (
        ("DD", "DTHDAT", K_DEATH_BEFORE_RAND),
        ("PR", "PRDAT", K_SURGERY_BEFORE_RAND),
        ("RECUR", "RECDAT", K_RECUR_BEFORE_RAND),
    ):
        for r in kept[form]:
            if r["SUBJID"] in rand and _o(r[col]) < rand[r["SUBJID"]]:
                F[(kind, r["SUBJID"], form, col)] += 1
    dead = {r["SUBJID"] for r in kept["DD"]}
    for r in kept["FU"]:
        if r["SSSTAT"] == "DEAD" and r["SUBJID"] not in dead:
            F[(K_DEATH_NO_FORM, r["SUBJID"], "FU", "SSSTAT")] += 1
    for r in kept["DS"]:
        if r["DSDECOD"] == "DEATH" and r["SUBJID"] not in dead:
            F[(K_DEATH_NO_FORM, r["SUBJID"], "DS", "DSDECOD")] += 1
    for r in kept["DM"]:
        if r["SUBJID"] not in rand:
            F[(K_NOT_RANDOMIZED, r["SUBJID"], "DM", "SUBJID")] += 1
    for form, rs in kept.items():
        sf = spec.forms[form]
        if not sf.subject_level or not sf.main_date:
            continue
        for r in rs:
            entered = r.get("ENTDTC")
            if not entered:
                continue
            if entered > exported:  # ISO 8601 text compares as the times do
                F[(K_ENTERED_AFTER, r["SUBJID"], form, "ENTDTC")] += 1
            elif r.get(sf.main_date) and entered[:10] < _d(_imputed(r[sf.main_date])):
                F[(K_ENTERED_BEFORE, r["SUBJID"], form, "ENTDTC")] += 1
    actdat = {r["SITEID"]: r["ACTDAT"] for r in kept["SITES"]}
    for r in kept["RAND"]:
        act = actdat.get(r["SITEID"], "missing")
        if act != "missing" and (not act or _o(r["RANDDAT"]) < _o(act)):
            F[(K_BEFORE_ACTIVATION, r["SUBJID"], "RAND", "RANDDAT")] += 1
    return F


# ---------------------------------------------------------------------------------------- a pair's truth
def record_key(form: str, spec: CrfSpec) -> list[str] | None:
    """The columns identifying a record of `form` for "changed values": the spec's key, else the
    natural key of NATURAL_KEYS; None for forms that are not records of the trial (EXPORT)."""
    key = spec.forms[form].key
    return list(key) if key else NATURAL_KEYS.get(form)


def _difference(old: _State, new: _State, spec: CrfSpec) -> dict:
    new_subjects = sorted(set(new.arm) - set(old.arm))
    by_site = Counter(new.site[s] for s in new_subjects)

    def event(subjects: list[str], records: list | None = None) -> dict:
        """pooled: subjects (death, recurrence) or records (sae, grade3plus), by arm the same;
        subjects: each subject once; records: [SUBJID, AESPID]."""
        items = records if records is not None else subjects
        return {
            "pooled": len(items),
            "by_arm": {a: sum(1 for s in subjects if new.arm[s] == a) for a in new.trial.arm_codes},
            "subjects": sorted(set(subjects)),
            **({"records": sorted([list(r) for r in records])} if records is not None else {}),
        }

    deaths = sorted(s for s in new.deaths if s not in old.deaths and s in new.arm)
    recurrences = sorted(s for s in new.recurred if s not in old.recurred and s in new.arm)

    def newly(test) -> list[tuple]:
        return sorted(
            k for k, r in new.ae.items() if k[0] in new.arm and test(r) and not (k in old.ae and test(old.ae[k]))
        )

    sae = newly(lambda r: r["AESER"] == "Y")
    g3 = newly(lambda r: int(r["AETOXGR"]) >= 3)
    dv_cols = ["SUBJID", "SITEID", "DVSPID", "DVSTDAT", "DVCAT", "DVTERM", "DVSEV"]

    def dv_row(r: dict) -> dict:
        return {c.lower(): r[c] for c in dv_cols}

    new_f, old_f = new.findings - old.findings, old.findings - new.findings
    funnel_out, funnel_in = [], []
    for name, flags in new.funnel.items():
        before = old.funnel.get(name, {})
        for site, flag in flags.items():
            if site not in before:
                continue  # not shown in the old cut: no difference to show
            if before[site] == "within" and flag != "within":
                funnel_out.append({"siteid": site, "signal": name, "old": before[site], "new": flag})
            elif before[site] != "within" and flag == "within":
                funnel_in.append({"siteid": site, "signal": name, "old": before[site], "new": flag})
    return {
        "randomized": {"total": len(new_subjects), "by_site": dict(sorted(by_site.items())), "subjects": new_subjects},
        "events": {
            "death": event(deaths),
            "recurrence": event(recurrences),
            "sae": event([k[0] for k in sae], sae),
            "grade3plus": event([k[0] for k in g3], g3),
        },
        "deviations": {
            "new": [dv_row(new.dv[k]) for k in sorted(set(new.dv) - set(old.dv))],
            "resolved": [dv_row(old.dv[k]) for k in sorted(set(old.dv) - set(new.dv))],
        },
        "findings": {
            "new": sorted([_finding(f) for f in new_f.elements()], key=lambda f: _sort_key(f.values())),
            "resolved": sorted([_finding(f) for f in old_f.elements()], key=lambda f: _sort_key(f.values())),
        },
        "funnel": {
            "newly_outside": sorted(funnel_out, key=lambda f: (f["signal"], f["siteid"])),
            "back_inside": sorted(funnel_in, key=lambda f: (f["signal"], f["siteid"])),
        },
        "changed": _changed(old, new, spec),
    }


def _finding(f: tuple) -> dict:
    kind, subjid, form, column = f
    return {"kind": kind, "subjid": subjid, "form": form, "column": column}


def _unique(rows: list[dict], key: list[str]) -> dict[tuple, dict]:
    """The rows by key; a key that repeats within the cut identifies no record and is left out."""
    counts = Counter(tuple(r.get(c, "") for c in key) for r in rows)
    return {k: r for r in rows if counts[k := tuple(r.get(c, "") for c in key)] == 1}


def _changed(old: _State, new: _State, spec: CrfSpec) -> list[dict]:
    """Values that differ in records both cuts hold (matched on record_key), per column of the
    demo's layout but the key and the entry stamp; old and new as written (None: empty)."""
    out = []
    for form in spec.forms:
        key = record_key(form, spec)
        if not key:
            continue
        before, after = _unique(old.kept[form], key), _unique(new.kept[form], key)
        columns = [c for c in _LAYOUT[form] if c not in key and c != "ENTDTC"]
        for k in sorted(set(before) & set(after)):
            a, b = before[k], after[k]
            for c in columns:
                if (a.get(c) or "") != (b.get(c) or ""):
                    out.append(
                        {
                            "form": form,
                            "subjid": b.get("SUBJID") or None,
                            "key": dict(zip(key, k, strict=True)),
                            "column": c,
                            "old": a.get(c) or None,
                            "new": b.get(c) or None,
                        }
                    )
    return out
