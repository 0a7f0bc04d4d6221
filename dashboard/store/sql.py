"""SQL lives in queries/, one question per file; this module finds a file by its name."""
from __future__ import annotations

from functools import lru_cache

from dashboard.config import QUERIES


@lru_cache(maxsize=None)
def query(name: str) -> str:
    """The text of queries/<name>.sql, e.g. query("derived/subjects")."""
    path = QUERIES / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"no query {name!r} (looked for {path})")
    return path.read_text(encoding="utf-8")


def names(folder: str) -> list[str]:
    """The queries of a folder, e.g. names("findings") -> ["findings/stage_mismatch", ...]."""
    return sorted(f"{folder}/{p.stem}" for p in (QUERIES / folder).glob("*.sql"))
