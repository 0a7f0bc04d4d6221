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
operation, a deviation term that names the arm, ...). Everything else keeps to the protocol, so
the returned dict lists every subject a correct build must flag for each planted kind; see
`write_demo_package`.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np

from dashboard.config import CrfSpec, TrialConfig, load_crf_spec, load_trial
from dashboard.devtools.demo.clinical import ajcc8_stage  # noqa: F401  (public: the tests stage with it)
from dashboard.devtools.demo.forms import FormsMixin
from dashboard.devtools.demo.planted import PlantedMixin
from dashboard.devtools.demo.randomness import _d, _Stream
from dashboard.devtools.demo.sites import SitesMixin
from dashboard.devtools.demo.subjects import SubjectsMixin
from dashboard.devtools.demo.vocabulary import _CLAVIEN, _DRUGS, _DV_RANDOM, _LAYOUT, _MONTH_VISIT
from dashboard.ingest.validate import DEMO_SOURCE_PREFIX as SOURCE_PREFIX  # the build recognises demo data by it

# The generator as EXPORT.csv SOURCE names it, unchanged since the first demo package so that a
# package made before the code moved to devtools/ compares equal to one made after.
GENERATOR = "dashboard.demo_data"


class Demo(SitesMixin, SubjectsMixin, PlantedMixin, FormsMixin):
    """The generator: its state, and the steps of its parts (sites, subjects, planted, forms)."""

    def __init__(self, trial: TrialConfig, spec: CrfSpec, subjects: int, sites: int, cutoff: dt.date, seed: int):
        self.trial, self.spec = trial, spec
        self.N, self.n_sites = subjects, sites
        self.cutoff = cutoff.toordinal()
        self.start = trial.trial.start.toordinal()
        self.rng = np.random.default_rng(seed)
        self.s = _Stream(np.random.default_rng([seed, 1]))
        self.dpm = trial.trial.days_per_month
        sch = trial.schedule
        self.sch = sch
        # the windows and limits the planted deviations break come from trial.toml
        self.surgery_max = sch.randomization_to_surgery_max_days
        self.imaging_max = sch.response_imaging_max_days_after_last_cycle
        self.rt_max = sch.surgery_to_adjuvant_rt_max_days
        self.early_death_max = max(trial.safety.early_death_days)
        self.max_age = next(int(c.params["max_age"]) for c in trial.eligibility if c.check == "age_range")
        self.fu_months = list(sch.followup_months)
        self.qol = [
            (v, 0 if v == "BASELINE" else int(_MONTH_VISIT.match(v).group(1)))
            for v in sch.qol_visits
            if v == "BASELINE" or _MONTH_VISIT.match(v)
        ]
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
        self._need("DS", "DSDECOD", "WITHDREW CONSENT", "LOST TO FOLLOW-UP", "PHYSICIAN DECISION", "DEATH", "COMPLETED")
        self._need("PATH", "MARGIN", "NEGATIVE", "CLOSE", "POSITIVE")
        self._need("ADJ", "ADJTYPE", "RT", "CRT", "IMMUNOTHERAPY")
        self._need("DV", "DVCAT", *sorted({c for c, *_ in _DV_RANDOM}), "ELIGIBILITY")
        self.rectypes = self.codes("RECUR", "RECTYPE")
        self.qscat = self.codes("QS", "QSCAT")


def write_demo_package(
    out: str | Path,
    *,
    subjects: int = 300,
    sites: int = 12,
    cutoff: dt.date = dt.date(2028, 6, 30),
    seed: int = 20260101,
    encoding: str = "utf-8",
) -> dict:
    """Write a synthetic export package (one CSV per form of the CRF spec) into the folder `out`.

    `subjects` is the number of randomized subjects; more are screened. Everything is dated on
    or before `cutoff`, except the planted AE after it. Returns what was written:
    `randomized`, `screened`, `screen_failures`, `screening_pending`, `sites`, `pending_sites`,
    `cutoff`, `exported`, `rows` (per form) and `planted`, a dict of finding -> SUBJIDs:

    - `I01` aged one year over the maximum (trial.toml I01) at consent, IE says met; `I03`
      recomputed stage not III-IVA (IE says met);
      `STAGE_MISMATCH` recorded STAGE differs from the recomputed one (includes `I03`);
      `I04` ECOG 2 (IE says not met, the site reported a deviation); `I06` seven cycles;
      `I07` last response before randomization SD; `I12` consent after randomization;
      `IE_NOT_MET` a criterion answered not met in IE.csv; `IE_DISAGREE` [SUBJID, IETESTCD]
      pairs where IE.csv contradicts the data; `STRATUM_MISMATCH` STRATSITE not matching PRIMSITE;
    - `response_imaging_late`, `randomization_to_surgery`, `surgery_to_adjuvant_rt`: outside the
      trial.toml [schedule] windows; `followup_out_of_window`;
    - `ae_after_cutoff` and `dates_after_cutoff` ([form, SUBJID, column]);
    - `free_text_arm`: a deviation term in which the site names the arm (降级组);
    - not planted but listed for checks: `never_operated`, `death_90d`.
    """
    if isinstance(cutoff, dt.datetime):
        cutoff = cutoff.date()
    elif isinstance(cutoff, str):
        cutoff = dt.date.fromisoformat(cutoff)
    g, tables, exported = simulate(subjects=subjects, sites=sites, cutoff=cutoff, seed=seed)
    rows_written = write_tables(out, tables, g.spec, encoding=encoding)
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


def simulate(*, subjects: int, sites: int, cutoff: dt.date, seed: int) -> tuple[Demo, dict[str, list], str]:
    """The demo trial simulated to `cutoff`: the generator (its subjects and their timelines), the
    rows of every form (tuples in the demo's column order, vocabulary._LAYOUT) and the export
    time. `write_demo_package` writes these rows; dashboard/devtools/demo/cuts.py cuts them at
    earlier dates."""
    if subjects < 1 or sites < 1:
        raise ValueError("subjects and sites must be at least 1")
    trial, spec = load_trial(), load_crf_spec()
    if cutoff.toordinal() - trial.trial.start.toordinal() < 90:
        raise ValueError(f"cut-off {cutoff} is less than 90 days after the trial start {trial.trial.start}")
    g = Demo(trial, spec, subjects, sites, cutoff, seed)
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
    tables["EXPORT"] = [
        (
            exported,
            cutoff.isoformat(),
            f"{SOURCE_PREFIX} ({GENERATOR}, seed {seed}, {subjects} randomized, {sites} sites)",
            spec.version,
        )
    ]
    return g, tables, exported


def write_tables(out: str | Path, tables: dict[str, list], spec: CrfSpec, *, encoding: str = "utf-8") -> dict[str, int]:
    """Write one CSV per form of the spec into the folder `out` from `tables` (form -> row tuples
    in the demo's column order, vocabulary._LAYOUT); returns the rows written per form."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows_written = {}
    for form_name, form in spec.forms.items():
        layout = _LAYOUT.get(form_name, [])
        header = form.column_names + (["ENTDTC"] if "ENTDTC" in layout and "ENTDTC" in spec.optional_everywhere else [])
        unknown = [c for c in layout if c not in header and c != "ENTDTC"]
        if unknown:
            raise ValueError(f"crf_spec.toml: {form_name} has no column {unknown[0]} the demo writes")
        rows = tables.get(form_name, [])
        if header != layout:  # the spec's order differs, or it has columns the demo leaves empty
            pos = {c: k for k, c in enumerate(layout)}
            idx = [pos.get(c) for c in header]
            rows = [tuple("" if k is None else r[k] for k in idx) for r in rows]
        with open(out / f"{form_name}.csv", "w", encoding=encoding, newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(rows)
        rows_written[form_name] = len(rows)
    return rows_written
