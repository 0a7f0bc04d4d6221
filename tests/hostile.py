"""A hostile export package for the rendering tests: the demo trial (or any package) with markup
in its site IDs, site names, AE and deviation terms, pointing at an origin the test controls, and
spreadsheet formulas in deviation terms (issue 11, classes 6 and 9)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

FORMULA = '=HYPERLINK("{origin}/csv-formula","click me")'


def markup(origin: str, tag: str) -> str:
    return (
        f'![{tag}]({origin}/{tag}-md.png) <a href="{origin}/{tag}-a">{tag} link</a> '
        f'<img src="{origin}/{tag}-img.png" onerror="fetch(\'{origin}/{tag}-onerror\')"> <b>{tag} bold</b>'
    )


def _rewrite(folder: Path, form: str, change) -> None:
    path = folder / f"{form}.csv"
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        rows, columns = list(reader), reader.fieldnames
    for i, row in enumerate(rows):
        change(i, row)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, columns)
        writer.writeheader()
        writer.writerows(rows)


def hostile_package(demo: Path, out: Path, origin: str) -> dict:
    """The demo package with markup in its site IDs, site names, AE and deviation terms."""
    shutil.copytree(demo, out)
    siteid = f"![siteid]({origin}/siteid-md.png)"
    for form in sorted(p.stem for p in out.glob("*.csv")):
        _rewrite(out, form, lambda i, row: row.update(SITEID=siteid) if row.get("SITEID") == "02" else None)
    _rewrite(out, "SITES", lambda i, row: row.update(SITENAME=markup(origin, "sitename")))

    def ae(i, row):
        if i % 3 == 0:
            row["AESOC"] = markup(origin, "aesoc")
        if i % 2 == 0:
            row["AETERM"] = markup(origin, "aeterm")

    _rewrite(out, "AE", ae)
    _rewrite(
        out,
        "DV",
        lambda i, row: row.update(DVTERM=markup(origin, "dvterm") if i % 2 else FORMULA.format(origin=origin)),
    )
    return {"siteid": siteid}
