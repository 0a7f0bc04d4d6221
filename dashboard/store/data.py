"""Running a named query of queries/ against a warehouse connection, with its parameters."""

from __future__ import annotations

import duckdb
import pandas as pd

from dashboard.i18n import _
from dashboard.store.sql import PARAMETER, query


def fetch(con: duckdb.DuckDBPyConnection, name: str, **params) -> pd.DataFrame:
    """queries/<name>.sql as a data frame; only the parameters the query names are bound.

    A cursor per call: one DuckDB connection is shared by the app's sessions and a connection
    is not thread-safe, a cursor is.
    """
    text = query(name)
    wanted = set(PARAMETER.findall(text))
    missing = wanted - params.keys()
    if missing:
        raise TypeError(_("query {name} needs {missing}").format(name=name, missing=sorted(missing)))
    cur = con.cursor()
    try:
        return cur.execute(text, {k: params[k] for k in wanted}).df()
    finally:
        cur.close()


def scalar(con: duckdb.DuckDBPyConnection, name: str, **params):
    df = fetch(con, name, **params)
    return None if df.empty else df.iloc[0, 0]
