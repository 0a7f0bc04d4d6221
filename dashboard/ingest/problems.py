"""What the build reports about a package: errors refuse it, warnings and findings do not."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Problem:
    severity: str  # error | warning
    file: str  # the file (or sheet) as named in the package
    line: int | None  # line number in the file; the header is line 1
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f", line {self.line}"
        if self.column:
            where += f", column {self.column}"
        return f"{self.severity.upper()}: {where}: {self.message}"

    def as_dict(self) -> dict:
        return asdict(self)


class PackageRefused(Exception):
    """The package breaks the export spec; the previous warehouse stays in service."""

    def __init__(self, problems: list[Problem], history_entry: dict | None = None):
        self.problems = problems
        self.history_entry = history_entry
        errors = [p for p in problems if p.severity == "error"]
        shown = "\n".join(str(p) for p in errors[:50])
        more = f"\n... and {len(errors) - 50} more errors" if len(errors) > 50 else ""
        super().__init__(f"package refused: {len(errors)} error(s)\n{shown}{more}")
