"""What the build reports about a package: errors refuse it, warnings and findings do not.

Every problem names the file, the line (the header is line 1), the column and the subject
(SUBJID, or SCRNID on the screening log) wherever the row is known, so that a data manager can
raise a query from it. A message quotes a cell's value only when a blinded role may read that
column and the value does not name the arm (`Quoting`): the load history and the problems are
read by every role, across sites.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

WITHHELD = "(value withheld)"


@dataclass(frozen=True)
class Problem:
    severity: str  # error | warning
    file: str  # the file (or sheet) as named in the package
    line: int | None  # line number in the file; the header is line 1
    column: str | None
    message: str
    subjid: str | None = None  # the row's SUBJID (SCRNID on the screening log), when a row is known

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f", line {self.line}"
        if self.column:
            where += f", column {self.column}"
        if self.subjid:
            where += f", subject {self.subjid}"
        return f"{self.severity.upper()}: {where}: {self.message}"

    def as_dict(self) -> dict:
        return asdict(self)


class PackageRefused(Exception):
    """The package breaks the export spec (or could not be read or written safely); the previous
    warehouse stays in service."""

    def __init__(self, problems: list[Problem], history_entry: dict | None = None):
        self.problems = problems
        self.history_entry = history_entry
        errors = [p for p in problems if p.severity == "error"]
        shown = "\n".join(str(p) for p in errors[:50])
        more = f"\n... and {len(errors) - 50} more errors" if len(errors) > 50 else ""
        super().__init__(f"package refused: {len(errors)} error(s)\n{shown}{more}")


def refusal(file: str, message: str, line: int | None = None, column: str | None = None) -> PackageRefused:
    """A refusal with one error that is not about a cell (a damaged archive, a full disk, ...)."""
    return PackageRefused([Problem("error", file, line, column, message)])


class Quoting:
    """May a message quote this cell's value? Only when the column is visible to blinded roles
    (`Column.visibility == "blinded"`; a column not in the spec is closed) and the value does not
    name the arm: neither an arm code, key or label, nor a protocol-surgery value, nor free text
    the trial's matcher flags. Anything else is written as WITHHELD."""

    def __init__(self, cfg, spec):
        b = cfg.blinding
        fields = [b.arm_field, *b.arm_revealing_fields, *getattr(b, "withheld_fields", [])]
        self._hidden = {f.upper() for f in fields}
        self._visibility: dict[tuple[str, str], str] = {}
        for form_name, form in spec.forms.items():
            for col in form.columns:
                self._visibility[(form_name, col.name)] = self._column_visibility(col)
        for name in spec.optional_everywhere:
            for form_name in spec.forms:
                self._visibility.setdefault((form_name, name), "blinded")
        words = [*cfg.arm_codes, *cfg.blinding.protocol_surgery_values]
        words += [a.label for a in cfg.arms] + [a.key for a in cfg.arms]
        self._arm_words = [_fold(w) for w in words if w and w.strip()]
        self._matcher = _free_text_matcher(cfg)

    def _column_visibility(self, col) -> str:
        # crf_spec.toml's visibility; the arm and the fields named in [blinding] are closed anyway
        return "closed" if col.name.upper() in self._hidden else col.visibility

    def visible(self, form: str, column: str | None) -> bool:
        if not column:
            return False
        return self._visibility.get((form.upper(), column.upper())) == "blinded"

    def names_arm(self, value: str) -> bool:
        folded = _fold(value)
        if any(w in folded for w in self._arm_words):
            return True
        return bool(self._matcher and self._matcher(value))

    def may_quote(self, form: str, column: str | None, value) -> bool:
        if value is None:
            return False
        return self.visible(form, column) and not self.names_arm(str(value))

    def quote(self, form: str, column: str | None, value) -> str:
        """repr() of the value when it may be quoted, else WITHHELD."""
        return repr(str(value)) if self.may_quote(form, column, value) else WITHHELD

    def subject(self, form: str, column: str, value) -> str | None:
        """A SUBJID/SCRNID for a Problem's subject field: the value, or WITHHELD when it may not
        be shown (an arm swapped into the identifier column)."""
        if value is None or str(value).strip() == "":
            return None
        return str(value).strip() if self.may_quote(form, column, value) else WITHHELD


def _fold(text: str) -> str:
    import unicodedata

    folded = unicodedata.normalize("NFKC", str(text)).casefold()
    return re.sub(r"[\W_]+", "", folded)


def _free_text_matcher(cfg):
    """The trial's free-text matcher (dashboard/access/freetext.py), the build's one."""
    from dashboard.access import freetext

    return freetext.matcher(cfg)
