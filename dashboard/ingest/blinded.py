"""What the blinded warehouse holds, by allow-list (dashboard/blinded_tables.toml and the
`visibility` of every column in crf_spec.toml), and the blinded variants the build computes for
it: allocation cells under the minimum-cell rule, pooled-only facts per site.

Nothing here decides by a value or a name being bad: a table or column is in the blinded file
because it is listed, and everything else stays in the closed file.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from dashboard.access.blinding import MERGED_ROW as MERGED  # noqa: E402
from dashboard.access.blinding import WITHHELD as SUPPRESSED  # noqa: E402
from dashboard.config import AllowList, CrfSpec, TrialConfig
from dashboard.i18n import _
from dashboard.store.sql import query

COMPANIONS = ("_imputed",)  # columns the build adds beside a spec column
POOLED = "pooled_by_site"
# The build's own record: it quotes the export (an extra column's name, a value in a message), so
# blinded roles read a copy in which a cell that may name the arm is withheld.
RECORDS = ("problems", "findings", "form_counts", "load_history")
# A record's message in English and beside it in Chinese (the same template and values): withheld
# together in the blinded copy.
BILINGUAL = {"message": "message_zh", "first_errors": "first_errors_zh"}


@dataclass(frozen=True)
class Copy:
    """One table of the blinded file: its name, the build table it is read from, its columns."""

    table: str
    source: str
    columns: tuple[str, ...]


def form_columns(spec: CrfSpec, form: str) -> list[str]:
    """The blinded columns of a form's crf_ table (lower case): its 'blinded' spec columns, the
    companions the build adds to them (partial dates' _imputed flag) and ENTDTC."""
    out = []
    for c in spec.forms[form].columns:
        if c.visibility == "blinded":
            out.append(c.name.lower())
            if c.type.startswith("partial_date"):
                out.append(c.name.lower() + "_imputed")
    return out + [c.lower() for c in spec.optional_everywhere]


def expected(spec: CrfSpec, allow: AllowList) -> dict[str, set[str]]:
    """Every table the blinded file may hold and its exact columns (lower case)."""
    out = {}
    for table, t in allow.tables.items():
        out[table] = set(form_columns(spec, t.form)) if t.form else {c.lower() for c in t.columns}
    return out


def plan(con: duckdb.DuckDBPyConnection, tables: list[str], spec: CrfSpec, allow: AllowList) -> list[Copy]:
    """The copies that make the blinded file: each allowed table the build made, with exactly its
    allowed columns in the build's order. A listed column the build did not make is an error (the
    derivation and the list disagree); a column the build made that is not listed stays closed."""
    from dashboard.ingest.publish import columns as table_columns

    want = expected(spec, allow)
    out = []
    for table in tables:
        if table not in allow.tables:
            continue
        source = allow.tables[table].source or table
        have = table_columns(con, source)
        keep = [c for c in have if c.lower() in want[table]]
        missing = want[table] - {c.lower() for c in keep}
        if missing:
            raise RuntimeError(
                _(
                    "dashboard/blinded_tables.toml lists {columns} for {table}, "
                    "which the build's {source} does not have"
                ).format(columns=", ".join(sorted(missing)), table=table, source=source)
            )
        out.append(Copy(table, source, tuple(keep)))
    return out


def unlisted_columns(con: duckdb.DuckDBPyConnection, tables: list[str], allow: AllowList, spec: CrfSpec):
    """(table, column) of every column the build made that the allow-list does not name as
    blinded or closed: closed by default, and worth a finding for the crf_ tables (export
    columns not in the spec)."""
    from dashboard.ingest.publish import columns as table_columns

    want = expected(spec, allow)
    out = []
    for table in tables:
        t = allow.tables.get(table)
        if t is None:
            continue
        known = want[table] | {c.lower() for c in t.closed}
        if t.form:
            known |= {c.name.lower() for c in spec.forms[t.form].columns}
            known |= {c.name.lower() + s for c in spec.forms[t.form].columns for s in COMPANIONS}
        out += [(table, c) for c in table_columns(con, table) if c.lower() not in known and not c.startswith("_")]
    return out


# ------------------------------------------------------------------ allocation under the cell rule
def _safe(counts: list[int], min_cell: int, block: tuple[int, list[int]] | None = None) -> bool:
    """May a cell's counts by arm be shown? At least `min_cell` subjects, every arm present, and,
    for a cell that is one blocking unit (`block` = (block size, ratio)), an incomplete last block
    that is not all one arm: with permuted blocks its trailing subjects' arms would follow from
    the counts and the order of randomization."""
    n = sum(counts)
    if n < min_cell or any(c == 0 for c in counts):
        return False
    if block:
        size, ratio = block
        full = n // size
        rest = [c - full * size * r // sum(ratio) for c, r in zip(counts, ratio, strict=True)]
        if n % size and sum(1 for r in rest if r > 0) < 2:
            return False
    return True


def suppress_allocation(wide: pd.DataFrame, arm_cols: list[str], cfg: TrialConfig) -> pd.DataFrame:
    """The allocation cells a blinded role may read: a cell that breaks the cell rule keeps its
    total but loses its counts by arm, and so do as many more cells (smallest first) as it takes
    for the withheld cells of a grouping, and of each site's and each stratum's blocking units,
    to be safe together, so that no withheld cell follows from a shown one by subtraction. Each
    grouping gets a merged row with the withheld cells' counts together, when those are safe."""
    b = cfg.blinding
    block = (cfg.randomization.block_size, cfg.randomization.ratio)
    df = wide.copy()
    counts = {(r.grouping, r.group_value): [int(getattr(r, c)) for c in arm_cols] for r in df.itertuples()}
    withheld: set[tuple[str, str]] = set()
    unit = cfg.randomization.blocks_within  # the blocking unit (trial.toml)
    for key, c in counts.items():
        if not _safe(c, b.min_cell_size, block if key[0] == unit else None):
            withheld.add(key)

    def total(keys) -> list[int]:
        return [sum(counts[k][i] for k in keys) for i in range(len(arm_cols))]

    def together_safe(keys) -> bool:
        # one withheld cell alone is what it is (unsafe): a total minus the shown cells would be
        # it; two or more are safe together when their sum passes the cell rule (a sum of
        # blocking units does not give away any one unit's last block)
        return len(keys) > 1 and _safe(total(keys), b.min_cell_size)

    def complete(family: list[tuple[str, str]], parent_shown: bool) -> bool:
        """Withhold more of `family` (cells that add up to a shown parent) until its withheld
        cells are safe together; True when something changed."""
        hidden = [k for k in family if k in withheld]
        if not hidden:
            return False
        if not parent_shown:
            return False
        changed = False
        while not together_safe(hidden):
            shown = sorted((k for k in family if k not in withheld), key=lambda k: (sum(counts[k]), k))
            if not shown:
                break
            withheld.add(shown[0])
            hidden.append(shown[0])
            changed = True
        return changed

    overall = ("overall", "all")
    groupings = sorted({g for g, _v in counts} - {"overall", "site_stratum"})
    changed = True
    while changed:
        changed = False
        for g in groupings:
            changed |= complete([k for k in counts if k[0] == g], overall not in withheld)
        units = [k for k in counts if k[0] == "site_stratum"]
        for site in {k[1].split("|", 1)[0] for k in units}:
            parent = ("site", site)
            family = [k for k in units if k[1].split("|", 1)[0] == site]
            if parent in withheld:  # the site's own cell is withheld: so are its blocking units
                changed |= any(k not in withheld for k in family)
                withheld.update(family)
            else:
                changed |= complete(family, True)
        for stratum in {k[1].split("|", 1)[1] for k in units}:
            parent = ("stratum", stratum)
            family = [k for k in units if k[1].split("|", 1)[1] == stratum]
            if parent in withheld:
                changed |= any(k not in withheld for k in family)
                withheld.update(family)
            else:
                changed |= complete(family, True)
    merged = []
    for g in sorted({g for g, _v in counts}):
        hidden = [k for k in counts if k[0] == g and k in withheld]
        if hidden and g != "overall":
            c = total(hidden)
            ok = together_safe(hidden)
            row = {"grouping": g, "group_value": MERGED, "n_total": sum(c), "suppressed": None if ok else SUPPRESSED}
            row.update({a: (v if ok else None) for a, v in zip(arm_cols, c, strict=True)})
            merged.append(row)
    df["suppressed"] = [
        SUPPRESSED if (g, v) in withheld else None for g, v in zip(df.grouping, df.group_value, strict=True)
    ]
    for a in arm_cols:
        df[a] = df[a].astype("Int64").where(df.suppressed.isna())
    if merged:
        df = pd.concat([df, pd.DataFrame(merged)], ignore_index=True)
        for a in arm_cols:
            df[a] = df[a].astype("Int64")
    return df


def determined_subjects(subjects: pd.DataFrame, allocation: pd.DataFrame, arm_cols: list[str], cfg: TrialConfig) -> int:
    """How many subjects' arms follow from the allocation cells shown (the test's measure): a
    shown cell that is all one arm determines its subjects; a shown blocking unit whose last,
    incomplete block is all one arm determines that block's subjects. `subjects`: subjid, siteid,
    stratum (response|site), month."""
    shown = allocation[allocation.suppressed.isna()]
    size, ratio = cfg.randomization.block_size, cfg.randomization.ratio
    hit: set[str] = set()
    keys = {
        "overall": lambda s: "all",
        "site": lambda s: s.siteid,
        "stratum": lambda s: s.stratum,
        "site_stratum": lambda s: f"{s.siteid}|{s.stratum}",
        "month": lambda s: s.month,
    }
    for row in shown.itertuples():
        if row.grouping not in keys:
            continue
        members = subjects[subjects.apply(keys[row.grouping], axis=1) == row.group_value]
        c = [int(getattr(row, a)) for a in arm_cols]
        if sum(1 for x in c if x > 0) < 2:
            hit |= set(members.subjid)
        elif row.grouping == cfg.randomization.blocks_within and len(members) % size:
            full = len(members) // size
            rest = [x - full * size * r // sum(ratio) for x, r in zip(c, ratio, strict=True)]
            if sum(1 for r in rest if r > 0) < 2:
                hit |= set(members.sort_values("randomization_date").subjid.iloc[full * size :])
    return len(hit)


def scrub_records(con: duckdb.DuckDBPyConnection, cfg: TrialConfig, tables=RECORDS) -> None:
    """<table>_blinded for each of the build's record tables: a text cell that may name the arm
    withheld (blinding.FREE_TEXT_MARK), and a message withheld in both languages wherever it is
    withheld in one (BILINGUAL)."""
    from dashboard.access import freetext
    from dashboard.access.blinding import FREE_TEXT_MARK
    from dashboard.ingest.publish import columns as table_columns
    from dashboard.store.sql import render

    freetext.register(con, cfg, freetext.UDF)
    for table in tables:
        cols = [{"name": c, "text": t == "VARCHAR"} for c, t in table_columns(con, table, with_types=True)]
        con.execute(render("blinded/scrubbed", table=table, columns=cols, match=freetext.UDF, mark=FREE_TEXT_MARK))
        names = {c["name"].lower() for c in cols}
        pairs = [[en, zh] for en, zh in BILINGUAL.items() if en in names and zh in names]
        if pairs:
            con.execute(render("ingest/withhold_together", table=f"{table}_blinded", pairs=pairs, mark=FREE_TEXT_MARK))


def blinded_variants(con: duckdb.DuckDBPyConnection, cfg: TrialConfig) -> None:
    """The build's tables that blinded roles read in place of the closed ones: allocation_blinded
    (allocation under the cell rule), pooled_by_site (pooled-only facts per site), and the build's
    record tables with any cell that may name the arm withheld (<table>_blinded)."""
    from dashboard.access.blinding import MERGED as MERGED_SITES
    from dashboard.access.blinding import suppress_by_group
    from dashboard.ingest.derive import frame_table

    scrub_records(con, cfg)
    arm_cols = [f"n_{a.key}" for a in cfg.arms]
    wide = con.execute(query("blinded/allocation_full")).df()
    frame_table(con, "allocation_blinded", suppress_allocation(wide, arm_cols, cfg))
    # pooled-only facts (crf_spec.toml visibility "pooled") per site, cell rule applied here with
    # the full allocation, since the blinded file cannot tell which sites are one arm
    per_site = con.execute(query("blinded/margin_by_site")).df()
    rows = []
    shown = suppress_by_group(per_site, "siteid", "site", [], con, cfg, merge=True, sum_columns=["n", "events"])
    for r in shown.itertuples():
        rows.append(
            {
                "measure": "positive_margin",
                "siteid": r.siteid,
                "n": None if r.suppressed is not None else int(r.n),
                "events": None if r.suppressed is not None else int(r.events),
                "merged_sites": getattr(r, "merged_groups", None) if r.siteid == MERGED_SITES else None,
            }
        )
    overall = blinded_population_ok(con, cfg)
    rows.append(
        {
            "measure": "positive_margin",
            "siteid": None,
            "n": int(per_site.n.sum()) if overall else None,
            "events": int(per_site.events.sum()) if overall else None,
            "merged_sites": None,
        }
    )
    frame_table(
        con,
        POOLED,
        pd.DataFrame(rows, columns=["measure", "siteid", "n", "events", "merged_sites"]).astype(
            {"n": "Int64", "events": "Int64", "siteid": "object", "merged_sites": "object"}
        ),
    )


def blinded_population_ok(con: duckdb.DuckDBPyConnection, cfg: TrialConfig) -> bool:
    from dashboard.access.blinding import population_check

    return population_check(con, None, cfg).ok
