"""What changed between two data cuts ("since the last meeting"): new randomizations, new events,
new and resolved deviations and data findings, sites newly outside the funnel limits, and values
that changed in records both cuts hold.

Both cuts' files (blinded.duckdb, or closed.duckdb in a closed session) are attached read-only to
one in-memory connection as `cut_old` and `cut_new`; the set questions are queries/changes/*.sql.
The figures a single cut computes under the blinding rule (population_check, the site funnel) are
computed on each cut's own file, exactly as a page of that cut computes them.

The blinding rule applies to the difference as to a single cut: a difference is shown only where
both single cuts show the figure. A blinded role gets outcome events as trial-level pooled counts
only (a site investigator: their site's, when the site may be shown in both cuts), never by arm
or by site; a funnel cell suppressed or merged in either cut is withheld; changed values of
outcome forms are counted by form and column, without values or subjects. What was withheld is
said in `withheld` ({"part", "reason", ...}: codes, the page words them).

No Streamlit here. Everything returned is JSON-serialisable: ISO dates, codes not words.
"""

from __future__ import annotations

import json
from collections import Counter
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from dashboard.access import blinding
from dashboard.access.roles import Viewer
from dashboard.config import TrialConfig, load_crf_spec, load_trial
from dashboard.i18n import N_, _
from dashboard.store import warehouse
from dashboard.store.data import fetch
from dashboard.store.sql import render

OLD, NEW = "cut_old", "cut_new"
EVENT_KINDS = ("death", "recurrence", "sae", "grade3plus")
DEVIATION_COLUMNS = ["subjid", "siteid", "dvspid", "dvstdat", "dvcat", "dvterm", "dvsev"]

# Forms whose export spec names no key: the natural key their records are matched on (the same
# as the demo generator's, dashboard/devtools/demo/cuts.py). A record whose natural key changes is
# another record (a corrected visit date: one record gone, one new), not a changed value; a key
# that repeats within one cut matches nothing and is left out.
NATURAL_KEYS: dict[str, list[str]] = {
    "RS": ["SUBJID", "RSDAT"],
    "PR": ["SUBJID", "PRDAT", "PRTRT"],
    "ADJ": ["SUBJID", "ADJTYPE", "ADJSTDAT"],
    "FU": ["SUBJID", "VISIT", "VISDAT"],
    "RECUR": ["SUBJID", "RECDAT", "RECTYPE"],
    "DS": ["SUBJID", "DSDECOD"],
    "QS": ["SUBJID", "VISIT", "QSTESTCD"],
}
# Forms not compared: the export's own record changes with every export.
NOT_COMPARED = {"EXPORT"}


@dataclass(frozen=True)
class Col:
    """A spec column (`name`) as a table holds it (`column`), with its partial date's flag."""

    name: str
    column: str
    imputed: str | None = None
    number: bool = False  # a spec `number`: a whole value as written (60, not 60.0)


@dataclass(frozen=True)
class Comparison:
    """One form's records in one table of a warehouse file, and the columns compared."""

    form: str
    table: str
    keys: tuple[Col, ...]
    columns: tuple[Col, ...]
    values: bool = True  # False: counted by form and column only (outcome forms, blinded roles)
    presence: str | None = None  # a column null where the subject has no record of the form
    site: str = "siteid"


def _c(pairs: str) -> tuple[Col, ...]:
    """'SEX=sex BRTHDAT=birth_date/birth_date_imputed' -> Cols."""
    out = []
    for item in pairs.split():
        name, rest = item.split("=")
        column, _sep, imputed = rest.partition("/")
        out.append(Col(name, column, imputed or None))
    return tuple(out)


# The blinded file: only what it holds, mapped back to the export's forms and columns. The
# subject-level derived columns that copy a raw column are compared (a column computed from
# several, or from the cut-off, is not: it changes when the cut-off moves). Not comparable in the
# blinded file: IE (the eligibility table keeps exceptions only), EX and RS (aggregated per
# subject), BLDAT, and the outcome forms it does not hold (RECUR, ADJ: dashboard/blinded_tables.toml
# says why). PR, PATH and FU are held with their blinded columns only: their records are matched on
# the natural key less its closed columns (PR: SUBJID and PRDAT, without PRTRT), so that two
# operations of one subject on one day with different procedures match nothing and are left out.
BLINDED_COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        "SITES",
        "crf_sites",
        _c("SITEID=siteid"),
        _c("SITENAME=sitename CITY=city COUNTRY=country ACTDAT=actdat TARGETN=targetn STATUS=status"),
    ),
    Comparison(
        "SCREENING",
        "crf_screening",
        _c("SCRNID=scrnid"),
        _c("SITEID=siteid SCRNDAT=scrndat AGE=age SEX=sex SCRNOUT=scrnout SFREAS=sfreas SUBJID=subjid"),
    ),
    Comparison(
        "DM",
        "subjects",
        _c("SUBJID=subjid"),
        _c("SITEID=siteid BRTHDAT=birth_date/birth_date_imputed SEX=sex RFICDAT=consent_date"),
    ),
    Comparison(
        "DX",
        "subjects",
        _c("SUBJID=subjid"),
        _c(
            "DXDAT=diagnosis_date PRIMSITE=primary_site HISTOL=histology P16=p16 CT=clinical_t CN=clinical_n "
            "CM=clinical_m STAGE=stage_recorded RECUR=recurrent_tumour PRIORTX=prior_treatment"
        ),
        presence="diagnosis_date",
    ),
    Comparison(
        "BL",
        "subjects",
        _c("SUBJID=subjid"),
        _c("ECOG=ecog CARDIAC6M=cardiac_history PREGNANT=pregnant OTHMAL5Y=other_malignancy SMOKING=smoking"),
        presence="ecog",
    ),
    Comparison(
        "RAND",
        "subjects",
        _c("SUBJID=subjid"),
        _c("RANDDAT=randomization_date STRATRESP=stratum_response STRATSITE=stratum_site"),
        presence="randomization_date",
    ),
    Comparison(
        "DV", "crf_dv", _c("SUBJID=subjid DVSPID=dvspid"), _c("SITEID=siteid DVSTDAT=dvstdat DVCAT=dvcat DVSEV=dvsev")
    ),
    # outcome forms and free text: counts by form and column only
    Comparison("DV", "crf_dv", _c("SUBJID=subjid DVSPID=dvspid"), _c("DVTERM=dvterm"), values=False),
    Comparison(
        "AE",
        "adverse_events",
        _c("SUBJID=subjid AESPID=aespid"),
        _c(
            "AETERM=aeterm AEDECOD=aedecod AESOC=aesoc AESTDAT=onset_date/onset_imputed AEENDAT=resolution_date "
            "AETOXGR=grade AESER=serious AEREL=attributed_to AEIMMUNE=immune_related AECLAV=clavien_dindo "
            "AEOUT=outcome"
        ),
        values=False,
    ),
    Comparison("PR", "crf_pr", _c("SUBJID=subjid PRDAT=prdat"), _c("SITEID=siteid"), values=False),
    Comparison("PATH", "crf_path", _c("SUBJID=subjid"), _c("SITEID=siteid PATHDAT=pathdat"), values=False),
    Comparison(
        "FU", "crf_fu", _c("SUBJID=subjid VISIT=visit VISDAT=visdat"), _c("SITEID=siteid SSSTAT=ssstat"), values=False
    ),
    Comparison("DD", "crf_dd", _c("SUBJID=subjid"), _c("SITEID=siteid DTHDAT=dthdat DTHCAUS=dthcaus"), values=False),
    Comparison("DS", "crf_ds", _c("SUBJID=subjid DSDECOD=dsdecod"), _c("SITEID=siteid DSSTDAT=dsstdat"), values=False),
    Comparison(
        "QS",
        "crf_qs",
        _c("SUBJID=subjid VISIT=visit QSTESTCD=qstestcd"),
        _c("SITEID=siteid QSDAT=qsdat QSCAT=qscat"),
        values=False,
    ),
)


# A blinded difference's notice: the forms (and the columns) only the closed session compares.
CLOSED_ONLY = "closed session only"


def closed_only_forms(spec=None) -> list[str]:
    """The forms whose changed values the closed session compares and a blinded role's difference
    does not (the blinded file does not hold them), in the spec's order."""
    blinded_forms = {c.form for c in BLINDED_COMPARISONS}
    return list(dict.fromkeys(c.form for c in closed_comparisons(spec) if c.form not in blinded_forms))


def closed_comparisons(spec=None) -> tuple[Comparison, ...]:
    """The closed file: every form's own table (crf_<form>), every spec column, with values."""
    spec = spec or load_crf_spec()
    out = []
    for name, form in spec.forms.items():
        if name in NOT_COMPARED:
            continue
        key_names = form.key or NATURAL_KEYS.get(name)
        if not key_names:
            continue
        partial = {c.name for c in form.columns if c.type.startswith("partial_date")}
        numbers = {c.name for c in form.columns if c.type == "number"}

        def col(n: str, partial: set[str] = partial, numbers: set[str] = numbers) -> Col:
            return Col(n, n.lower(), f"{n.lower()}_imputed" if n in partial else None, n in numbers)

        keys = tuple(col(k) for k in key_names)
        columns = tuple(col(c.name) for c in form.columns if c.name not in key_names)
        if columns:
            out.append(Comparison(name, f"crf_{name.lower()}", keys, columns))
    return tuple(out)


# ---------------------------------------------------------------------------------------- cuts
def _cut(build_dir: Path, con: duckdb.DuckDBPyConnection) -> dict:
    """A cut's build and cut-off: the manifest's, else the file's build_info."""
    try:
        m = json.loads((build_dir / warehouse.MANIFEST).read_text(encoding="utf-8"))
        if m.get("build_id") and m.get("cutoff"):
            return {"build_id": m["build_id"], "cutoff": str(m["cutoff"])[:10]}
    except (OSError, ValueError):
        pass
    row = fetch(con, "views/data_cut").iloc[0]
    return {"build_id": row.build_id, "cutoff": pd.Timestamp(row.cutoff_date).date().isoformat()}


def _file(build_dir: Path, closed: bool) -> Path:
    return Path(build_dir) / (warehouse.CLOSED if closed else warehouse.BLINDED)


def _attach(old_path: Path, new_path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    for alias, path in ((OLD, old_path), (NEW, new_path)):
        con.execute(f"attach {_literal(str(path))} as {alias} (read_only)")
    return con


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _run(con: duckdb.DuckDBPyConnection, sql: str, **params) -> pd.DataFrame:
    from dashboard.store.sql import PARAMETER

    wanted = set(PARAMETER.findall(sql))
    cur = con.cursor()
    try:
        return cur.execute(sql, {k: params[k] for k in wanted}).df()
    finally:
        cur.close()


def key_text(key: dict) -> str:
    """A changed record's key as a person reads it: "SUBJID=01-002, AESPID=1"."""
    return ", ".join(f"{k}={v}" for k, v in key.items())


def _text(v):
    """A value as JSON holds it: None for missing, ISO for a date, plain Python numbers."""
    if v is None:
        return None
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat() if v == v.normalize() else v.isoformat()
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if hasattr(v, "item"):
        return v.item()
    return v


def _records(df: pd.DataFrame, columns: list[str]) -> list[dict]:
    return [{c: _text(v) for c, v in zip(columns, row, strict=True)} for row in df[columns].itertuples(index=False)]


# ------------------------------------------------------------------------------- the difference
def changes(old_dir: Path, new_dir: Path, viewer: Viewer, cfg: TrialConfig | None = None) -> dict:
    """The difference between the cut in `old_dir` and the one in `new_dir` (build folders), as
    `viewer` may see it. See the module's docstring for the blinding of a difference."""
    cfg = cfg or load_trial()
    viewer.require_trial_data()
    viewer = viewer.validated(cfg)
    policy = viewer.policy(cfg)
    closed, listings, site = policy.closed, policy.subject_listings, viewer.site_filter
    old_path, new_path = _file(Path(old_dir), closed), _file(Path(new_dir), closed)
    withheld: list[dict] = []
    with (
        closing(duckdb.connect(str(old_path), read_only=True)) as c_old,
        closing(duckdb.connect(str(new_path), read_only=True)) as c_new,
        closing(_attach(old_path, new_path)) as con,
    ):
        out = {"from": _cut(Path(old_dir), c_old), "to": _cut(Path(new_dir), c_new)}
        out["randomized"] = _randomized(con, site, listings, None if closed else (c_old, c_new, cfg), withheld)
        out["events"] = _events(con, c_old, c_new, viewer, cfg, closed, withheld)
        out["deviations"] = _deviations(con, site, listings)
        out["findings"] = _findings(con, site, listings)
        out["funnel"] = _funnel(c_old, c_new, viewer, cfg, withheld)
        changed, counts = _changed(con, c_old, c_new, viewer, cfg, closed, listings, withheld)
        out["changed"], out["changed_counts"] = changed, counts
    out["withheld"] = withheld
    return out


def _site_allocation(c) -> dict[str, list[int] | None]:
    """Each site's allocation by arm as the cut's file shows it; None where the cell rule withholds it."""
    from dashboard.access import blinding

    alloc = blinding.allocation_table(c, "site")
    arms = [col for col in alloc.columns if col.startswith("n_") and col != "n_total"]
    return {
        str(r["group_value"]): (None if blinding._withheld(r) else [int(r[a]) for a in arms])
        for _, r in alloc.iterrows()
    }


def _randomized(con, site: str | None, listings: bool, blinded=None, withheld: list | None = None) -> dict:
    """New randomizations by site. For a blinded role (`blinded`: both cuts' connections and the
    config) a site's count is given only where both cuts show its allocation (else the withheld
    cell would follow from the shown one and the count: the adversarial review of issue 16), and
    its new subjects are listed only where the change of its allocation itself keeps the cell rule
    (else the list would say which subjects joined which arm); the rest is one "other sites" count."""
    from dashboard.access import blinding

    df = fetch(con, "changes/randomized", site=site)
    by_site = {str(k): int(v) for k, v in df.groupby("siteid").size().items()}
    unlisted: set[str] = set()
    if blinded is not None:
        c_old, c_new, cfg = blinded
        old, new = _site_allocation(c_old), _site_allocation(c_new)
        other = 0
        # every site a cut withholds is named, new subjects or not: an absent site must not read as
        # "nobody new there" where its allocation is withheld
        hidden = {
            x
            for x in set(old) | set(new)
            if x != blinding.MERGED_ROW and (old.get(x, 0) is None or new.get(x, 0) is None)
        }
        for s in sorted(hidden if site is None else hidden & {site}):
            withheld.append({"part": "randomized", "reason": blinding.WITHHELD, "site": s})
        for s in sorted(by_site):
            before, after = old.get(s, [0] * len(cfg.arms)), new.get(s)
            if s in hidden or before is None or after is None:
                other += by_site.pop(s)
                unlisted.add(s)
                continue
            step = [a - b for a, b in zip(after, before, strict=True)]
            if not blinding.check_counts(step, cfg.blinding.min_cell_size).ok:
                unlisted.add(s)
        if other:
            by_site[blinding.MERGED] = other
        if listings and unlisted:
            withheld.append({"part": "randomized", "reason": STEP_RULE})
    out = {"total": len(df), "by_site": by_site}
    if listings:
        out["subjects"] = sorted(df[~df.siteid.astype(str).isin(unlisted)].subjid.tolist())
    return out


def _population_ok(c_old, c_new, site: str | None, cfg: TrialConfig) -> tuple[bool, list[dict]]:
    """May this population's pooled outcomes be shown in both cuts? (and why not, per cut)"""
    reasons = []
    for which, con in (("from", c_old), ("to", c_new)):
        check = blinding.population_check(con, site, cfg)
        if not check.ok:
            reasons.append({"cut": which, "reason": check.reason})
    return not reasons, reasons


def _events(con, c_old, c_new, viewer: Viewer, cfg: TrialConfig, closed: bool, withheld: list) -> dict:
    site = viewer.site_filter
    df = fetch(con, "changes/new_events", site=site)
    if closed:
        arms = dict(fetch(con, "changes/arms").itertuples(index=False, name=None))
        out = {}
        for kind in EVENT_KINDS:
            rows = df[df.kind == kind]
            by_arm = Counter(arms.get(s) for s in rows.subjid)
            out[kind] = {
                "pooled": len(rows),
                "by_arm": {a.code: int(by_arm.get(a.code, 0)) for a in cfg.arms},
                "subjects": sorted(set(rows.subjid)),
            }
        return out
    ok, reasons = _population_ok(c_old, c_new, site, cfg)
    withheld.append({"part": "events", "reason": "by arm: closed session only"})
    if not site:
        withheld.append({"part": "events", "reason": "by site: trial-level pooled counts only"})
    if not ok:
        withheld += [{"part": "events", **({"site": site} if site else {}), **r} for r in reasons]
        return {kind: {"pooled": None} for kind in EVENT_KINDS}
    return {kind: {"pooled": int((df.kind == kind).sum())} for kind in EVENT_KINDS}


def _deviations(con, site: str | None, listings: bool) -> dict:
    new = _run(con, render("changes/deviations", here=NEW, there=OLD), site=site)
    resolved = _run(con, render("changes/deviations", here=OLD, there=NEW), site=site)
    if not listings:
        return {"new": len(new), "resolved": len(resolved)}
    return {"new": _records(new, DEVIATION_COLUMNS), "resolved": _records(resolved, DEVIATION_COLUMNS)}


def _findings(con, site: str | None, listings: bool) -> dict:
    out = {}
    for part, here, there in (("new", NEW, OLD), ("resolved", OLD, NEW)):
        df = _run(con, render("changes/findings", here=here, there=there), site=site)
        rows = []
        for r in df.itertuples(index=False):
            row = {
                "kind": _text(r.kind),
                "subjid": _text(r.subjid),
                "form": _text(r.form),
                "column": _text(r.column_name),
            }
            if not listings:
                row.pop("subjid")
            rows += [row] * int(r.n)
        out[part] = rows
    return out


def _funnel(c_old, c_new, viewer: Viewer, cfg: TrialConfig, withheld: list) -> dict:
    """Sites whose flag left the funnel limits (above or below) between the cuts, per configured
    signal, and sites back inside; a site suppressed or merged in either cut is withheld. A site
    investigator's pages show no funnel (one site has no spread to place it in): none here."""
    from dashboard.views import safety

    out = {"newly_outside": [], "back_inside": []}
    if viewer.site_filter:
        withheld.append({"part": "funnel", "reason": "no funnel for one site"})
        return out
    cuts = [(con, safety.subjects(con, viewer)) for con in (c_old, c_new)]
    hidden: dict[str, str] = {}  # site -> why it is withheld (the first reason met)
    for signal in cfg.safety_signals:
        flags, unsafe = [], set()
        for con, subjects in cuts:
            fun = safety.site_funnel(con, subjects, signal, cfg)
            cut_flags = {}
            for r in fun.itertuples():
                sid = str(r.siteid)
                if sid == blinding.MERGED:
                    members = [] if pd.isna(getattr(r, "merged_groups", None)) else str(r.merged_groups).split(", ")
                    for member in members:
                        unsafe.add(member)
                        hidden.setdefault(member, "merged with other sites")
                elif isinstance(r.suppressed_code, str):
                    unsafe.add(sid)
                    hidden.setdefault(sid, r.suppressed_code)
                else:
                    cut_flags[sid] = getattr(r, "flag", "within")
            flags.append(cut_flags)
        old, new = flags
        for sid in sorted((set(old) & set(new)) - unsafe):  # shown in both cuts
            row = {"siteid": sid, "signal": signal.name, "old": old[sid], "new": new[sid]}
            if old[sid] == "within" and new[sid] != "within":
                out["newly_outside"].append(row)
            elif old[sid] != "within" and new[sid] == "within":
                out["back_inside"].append(row)
    withheld += [{"part": "funnel", "site": s, "reason": r} for s, r in sorted(hidden.items())]
    return out


def _changed(con, c_old, c_new, viewer: Viewer, cfg: TrialConfig, closed: bool, listings: bool, withheld: list):
    site = viewer.site_filter
    comparisons = closed_comparisons() if closed else BLINDED_COMPARISONS
    tables = {
        alias: {
            r[0]
            for r in con.execute(f"select table_name from duckdb_tables() where database_name = '{alias}'").fetchall()
        }
        for alias in (OLD, NEW)
    }
    values, counts = [], Counter()
    absent = set()  # forms a cut's file does not hold (a cut built before the allow-list held them)
    for comp in comparisons:
        if comp.table not in tables[OLD] or comp.table not in tables[NEW]:
            absent.add(comp.form)
            continue
        sql = render(
            "changes/changed_values",
            table=comp.table,
            keys=list(comp.keys),
            columns=list(comp.columns),
            presence=comp.presence,
            site=comp.site,
            subjid=next((k.column for k in comp.keys if k.name == "SUBJID"), None)
            or next((c.column for c in comp.columns if c.name == "SUBJID"), None),
        )
        df = _run(con, sql, site=site)
        if comp.values and listings:
            for r in df.itertuples(index=False):
                key = {k.name: _text(getattr(r, f"key_{i}")) for i, k in enumerate(comp.keys)}
                values.append(
                    {
                        "form": comp.form,
                        "subjid": _text(r.subjid),
                        "key": key,
                        "column": r.column_name,
                        "old": _text(r.old_value),
                        "new": _text(r.new_value),
                    }
                )
        else:
            for column, n in df.groupby("column_name").size().items():
                counts[(comp.form, column, comp.values)] += int(n)
    outcome_counts = {k: n for k, n in counts.items() if not k[2]}
    if not closed:
        # checked whether or not anything changed: a notice only when there is something to hide
        # would itself say that something changed
        ok, reasons = _population_ok(c_old, c_new, site, cfg)
        withheld.append({"part": "changed", "reason": "outcome forms: counts by form and column only"})
        spec_order = list(load_crf_spec().forms)
        forms = sorted(set(closed_only_forms()) | absent, key=spec_order.index)
        withheld.append({"part": "changed", "reason": CLOSED_ONLY, "forms": forms})
        if not ok:
            withheld += [{"part": "changed", **({"site": site} if site else {}), **r} for r in reasons]
            outcome_counts = {}
    order = {f: i for i, f in enumerate(load_crf_spec().forms)}
    values.sort(key=lambda v: (order.get(v["form"], 99), v["subjid"] or "", key_text(v["key"]), v["column"]))
    listed = [
        {"form": f, "column": c, "n": n}
        for (f, c, _v), n in sorted(
            {**{k: n for k, n in counts.items() if k[2]}, **outcome_counts}.items(),
            key=lambda kv: (order.get(kv[0][0], 99), kv[0][1]),
        )
    ]
    return values, listed


# ---------------------------------------------------------------------------- words for people
# The codes of a difference as a page or a report says them, translated where shown.
EVENT_WORDS = {
    "death": N_("Deaths"),
    "recurrence": N_("First recurrences"),
    "sae": N_("Newly serious adverse events"),
    "grade3plus": N_("Adverse events newly grade 3 or worse"),
}
STEP_RULE = "subjects of a site whose allocation changed by less than the cell rule are not listed"
_REASON_WORDS = {
    STEP_RULE: N_(
        "the new subjects of a site whose allocation changed by fewer than the minimum cell, or in one "
        "arm only, are counted, not listed (with the allocation counts they would tell each one's arm)"
    ),
    "by arm: closed session only": N_("events by arm are for the DSMB closed session only"),
    "by site: trial-level pooled counts only": N_("events are counted for the whole trial, not by site"),
    "outcome forms: counts by form and column only": N_(
        "changed values of outcome forms are counted by form and column, without values or subjects"
    ),
    "no funnel for one site": N_("a single site's view has no funnel plot"),
    "merged with other sites": N_("merged with other sites"),
}
_PART_WORDS = {
    "randomized": N_("New randomizations"),
    "events": N_("New events"),
    "funnel": N_("Funnel"),
    "changed": N_("Changed values"),
}
_CUT_WORDS = {"from": N_("in the earlier cut"), "to": N_("in the later cut")}


def withheld_text(entry: dict) -> str:
    """One entry of `withheld` as a sentence in the reader's language (plain text: the caller
    escapes it for Markdown or HTML, since it names a site)."""
    from dashboard.views.text import suppression

    reason = entry.get("reason")
    part = _(_PART_WORDS[entry["part"]]) if entry.get("part") in _PART_WORDS else str(entry.get("part"))
    if reason == CLOSED_ONLY:
        return _(
            "{part}: changed values of {forms}, and of the columns the blinded file does not hold, "
            "are compared in the closed session only"
        ).format(part=part, forms=", ".join(entry.get("forms") or []))
    words = _(_REASON_WORDS[reason]) if reason in _REASON_WORDS else suppression(reason)
    if entry.get("site") and entry.get("cut") in _CUT_WORDS:
        return _("{part}: site {site}: {reason} ({cut})").format(
            part=part, site=entry["site"], reason=words, cut=_(_CUT_WORDS[entry["cut"]])
        )
    if entry.get("site"):
        return _("{part}: site {site}: {reason}").format(part=part, site=entry["site"], reason=words)
    if entry.get("cut") in _CUT_WORDS:
        return _("{part}: {reason} ({cut})").format(part=part, reason=words, cut=_(_CUT_WORDS[entry["cut"]]))
    return _("{part}: {reason}").format(part=part, reason=words)
