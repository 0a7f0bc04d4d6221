"""The blinding rule for pooled views: a group that is all one arm, or smaller than the minimum
cell, is an arm-level figure in disguise, so its outcome is suppressed or merged.

The blinded warehouse holds no arm; it does hold allocation counts per site, stratum and month
(`allocation`), which is all this module needs to know which groups are unsafe.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from dashboard.config import TrialConfig, load_trial
from dashboard.store.data import fetch

MERGED = "other sites (merged)"
FREE_TEXT_MARK = "[withheld from blinded views: may name the arm]"


def free_text_conflicts(cfg: TrialConfig, spec, hidden: set[str]) -> list[str]:
    """Configured terms that would match a coded value blinded users see, or the mark itself:
    withholding by such a term would blank a code (or the mark), so the build refuses them.
    (The matching is dashboard/access/freetext.py's, the one the build withholds by.)"""
    from dashboard.access.freetext import conflicts

    return conflicts(cfg, spec, hidden)


def free_text_columns(spec) -> set[str]:
    """Spec columns that hold free text: text with neither codes nor a pattern, and not a key or
    an identifier (lower case, as they are named in the warehouse)."""
    ids = {"SUBJID", "SITEID", "SCRNID"}
    keys = {k for form in spec.forms.values() for k in (form.key or [])}
    return {
        c.name.lower()
        for form in spec.forms.values()
        for c in form.columns
        if c.type == "text" and not c.codes and not c.pattern and c.name not in ids | keys
    }


@dataclass(frozen=True)
class CellCheck:
    ok: bool
    reason: str | None = None


def check_counts(arm_counts: list[int], min_cell: int) -> CellCheck:
    """A pooled cell may be shown when it has at least `min_cell` subjects and more than one arm."""
    total = sum(arm_counts)
    if total < min_cell:
        return CellCheck(False, f"fewer than {min_cell} subjects")
    if sum(1 for n in arm_counts if n > 0) < 2:
        return CellCheck(False, "all subjects in one arm")
    return CellCheck(True)


def allocation_table(con: duckdb.DuckDBPyConnection, grouping: str, cfg: TrialConfig | None = None) -> pd.DataFrame:
    """Allocation counts of a grouping with one column per arm key (n_<key>) and n_total."""
    cfg = cfg or load_trial()
    return fetch(con, "views/allocation", grouping=grouping)


def _arm_columns(cfg: TrialConfig) -> list[str]:
    return [f"n_{a.key}" for a in cfg.arms]


def population_check(con: duckdb.DuckDBPyConnection, site: str | None, cfg: TrialConfig | None = None) -> CellCheck:
    """May pooled outcomes of this population (the trial, or one site) be shown at all?"""
    cfg = cfg or load_trial()
    grouping, key = ("site", site) if site else ("overall", "all")
    alloc = allocation_table(con, grouping, cfg)
    row = alloc[alloc.group_value == key]
    if len(row) and _withheld(row.iloc[0]):
        return CellCheck(False, WITHHELD)
    counts = [int(row[c].iloc[0]) for c in _arm_columns(cfg)] if len(row) else [0] * len(cfg.arms)
    return check_counts(counts, cfg.blinding.min_cell_size)


# The blinded file's allocation cells that break the cell rule carry no counts by arm (see
# dashboard/ingest/blinded.py), only this reason: a group among them is never shown.
WITHHELD = "withheld by the cell rule"
MERGED_ROW = "other (merged)"
COMPLEMENT = "withheld with a suppressed group"  # complementary suppression (suppress_by_group)


def _withheld(row) -> bool:
    return "suppressed" in row.index and isinstance(row["suppressed"], str)


def suppress_by_group(
    df: pd.DataFrame,
    key: str,
    grouping: str,
    value_columns: list[str],
    con: duckdb.DuckDBPyConnection,
    cfg: TrialConfig | None = None,
    merge: bool = True,
    sum_columns: list[str] | None = None,
) -> pd.DataFrame:
    """Blank the outcome columns of groups that break the rule, merging them into one row if asked.

    `df` has one row per group (`key` column, e.g. siteid). `value_columns` are outcome figures;
    `sum_columns` (counts: numerators and denominators) are summed into the merged row, whose
    allocation is the sum of its members'. The merged row itself is checked and suppressed when it
    still breaks the rule. A `suppressed` column says why a row's figures are blank.
    """
    cfg = cfg or load_trial()
    alloc = allocation_table(con, grouping, cfg).set_index("group_value")
    arms = _arm_columns(cfg)
    out = df.copy()
    out["suppressed"] = None
    bad = []
    for i, group in out[key].items():
        if group in alloc.index and _withheld(alloc.loc[group]):
            bad.append((i, group, None, WITHHELD))
            continue
        counts = [int(alloc.at[group, c]) if group in alloc.index else 0 for c in arms]
        check = check_counts(counts, cfg.blinding.min_cell_size)
        if not check.ok:
            bad.append((i, group, counts, check.reason))
    if not bad:
        return out
    # Complementary suppression: the pages show the total beside the groups (a trial's events and
    # denominator), so a lone suppressed group, or suppressed groups that together still break the
    # rule, would be the total minus the groups shown. The smallest group that keeps the rule joins
    # them: a group with both arms and enough subjects makes any union with it keep the rule too.
    known = [b[2] for b in bad]
    union_ok = (
        all(c is not None for c in known)
        and check_counts([sum(c[j] for c in known) for j in range(len(arms))], cfg.blinding.min_cell_size).ok
    )
    if not union_ok:
        taken = {b[0] for b in bad}
        good = [
            (i, group, [int(alloc.at[group, c]) for c in arms])
            for i, group in out[key].items()
            if i not in taken and group in alloc.index and group != MERGED
        ]
        if good:
            i, group, counts = min(good, key=lambda g: (sum(g[2]), str(g[1])))
            bad.append((i, group, counts, COMPLEMENT))
    blank = value_columns + list(sum_columns or [])
    if merge and len(bad) > 1 and sum_columns:
        members = [b[0] for b in bad]
        if any(b[2] is None for b in bad):
            # withheld cells have no counts here: the build's merged row holds all of them
            # together; it speaks for this merge only when the merge is exactly those cells
            withheld = {g for g, r in alloc.iterrows() if g != MERGED_ROW and _withheld(r)}
            known = [b for b in bad if b[2] is not None]
            exact = {b[1] for b in bad if b[2] is None} == withheld and MERGED_ROW in alloc.index
            if exact and not _withheld(alloc.loc[MERGED_ROW]):
                merged_counts = [int(alloc.at[MERGED_ROW, c]) + sum(b[2][j] for b in known) for j, c in enumerate(arms)]
            else:
                merged_counts = [0] * len(arms)
        else:
            merged_counts = [sum(b[2][j] for b in bad) for j in range(len(arms))]
        row = {key: MERGED, "suppressed": None}
        for c in sum_columns:
            row[c] = out.loc[members, c].sum()
        check = check_counts(merged_counts, cfg.blinding.min_cell_size)
        if not check.ok:
            row.update({c: None for c in blank})
            row["suppressed"] = check.reason + " (merged)"
        row["merged_groups"] = ", ".join(str(b[1]) for b in bad)
        out = out.drop(index=members)
        out = pd.concat([out, pd.DataFrame([row])], ignore_index=True)
        return out
    for i, _group, _counts, reason in bad:
        for c in blank:
            out.at[i, c] = None
        out.at[i, "suppressed"] = reason
    return out
