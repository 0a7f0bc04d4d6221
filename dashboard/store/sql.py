"""SQL lives in queries/, one question per file; this module finds a file by its name and, for the
build's generated statements, renders it as a Jinja template.

Templates are filled with identifiers and constants from crf_spec.toml, trial.toml and the build's
own file and table names, always through the `ident` and `lit` filters; a value from an export
package never enters SQL text, it is bound as a parameter ($name). This is how dbt templates SQL.
"""

from __future__ import annotations

import os
import re
from functools import cache

import duckdb
import jinja2

from dashboard.config import PROJECT_ROOT, QUERIES
from dashboard.i18n import _

# A bound parameter of a query: $name.
PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + str(name).replace('"', '""') + '"'


def lit(text) -> str:
    """A quoted SQL string literal (only for names and constants from the spec and the config)."""
    return "'" + str(text).replace("'", "''") + "'"


def rename_params(sql: str, prefix: str) -> str:
    """$name -> $<prefix>name, so several queries can share one statement (DuckDB's parameter
    names are case-insensitive, so the renaming is too)."""
    return PARAMETER.sub(lambda m: f"${prefix}{m.group(1).lower()}", sql)


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates kept between processes by Jinja's own bytecode cache, keyed by each
    template's checksum (an edited file is compiled again): it saves a build the 8 ms a template
    takes to compile, 0.2 s of a 0.8 s demo build. The folder is the project's own (.cache/,
    mode 0700, beside the code it compiles, so only who may change the code may change it), not
    a shared /tmp folder another account could take first; none where it cannot be made."""
    folder = PROJECT_ROOT / ".cache" / "sql-templates"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return None
    if folder.stat().st_uid != os.getuid() or folder.stat().st_mode & 0o077:
        return None
    return jinja2.FileSystemBytecodeCache(str(folder))


_ENV = jinja2.Environment(
    bytecode_cache=_bytecode_cache(),
    loader=jinja2.FileSystemLoader(str(QUERIES)),
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters.update(ident=ident, lit=lit, rename_params=rename_params)


@cache
def query(name: str) -> str:
    """The text of queries/<name>.sql, e.g. query("derived/subjects")."""
    path = QUERIES / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(_("no query {name} (looked for {path})").format(name=repr(name), path=path))
    return path.read_text(encoding="utf-8")


def render(template: str, /, **context) -> str:
    """queries/<name>.sql rendered as a Jinja template with `context` (identifiers, spec constants)."""
    return _ENV.get_template(f"{template}.sql").render(**context)


def names(folder: str) -> list[str]:
    """The queries of a folder, e.g. names("findings") -> ["findings/stage_mismatch", ...]."""
    return sorted(f"{folder}/{p.stem}" for p in (QUERIES / folder).glob("*.sql"))


def tables_read(sql: str) -> set[str]:
    """The tables a query reads, as DuckDB's own parser sees them (CTE names left out); its
    $parameters are read as NULL, since the parser will not take a prepared statement."""
    return {t.lower() for t in duckdb.get_table_names(PARAMETER.sub("NULL", sql))}
