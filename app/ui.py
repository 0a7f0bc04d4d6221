"""What every page shares: who is looking, the warehouse connection, cached figures, the data-cut
stamp. The only Streamlit code outside the page files; the figures themselves come from the
dashboard package."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st

from dashboard.access.roles import Viewer, may_open
from dashboard.config import TrialConfig, load_trial
from dashboard.store import warehouse

WAREHOUSE_ENV = "NEO_MARGIN_WAREHOUSE"


def warehouse_dir() -> str:
    return os.environ.get(WAREHOUSE_ENV, "data/warehouse")


@st.cache_resource(show_spinner=False, max_entries=4)
def _connection(path: str) -> duckdb.DuckDBPyConnection:
    """One read-only connection per warehouse file, shared by all sessions (a cursor per query)."""
    return duckdb.connect(path, read_only=True)


def connection(viewer: Viewer) -> tuple[duckdb.DuckDBPyConnection, str]:
    """The connection a viewer may use: the blinded file, or the closed one in a closed session."""
    build = warehouse.current_build(warehouse_dir())
    path = build / (warehouse.CLOSED if viewer.closed else warehouse.BLINDED)
    return _connection(str(path)), str(path)


@st.cache_data(show_spinner=False, max_entries=256)
def _cached(module: str, name: str, path: str, role: str, site: str | None, args: tuple):
    """A figure function's result, keyed by the warehouse file, the role and the site: a cached
    result is never handed to another role or another site, and a new build is a new key."""
    fn = getattr(importlib.import_module(module), name)
    con = _connection(path)
    return fn(con, Viewer(role, site), *args)


def cached(fn, viewer: Viewer, *args):
    _con, path = connection(viewer)
    return _cached(fn.__module__, fn.__name__, path, viewer.role, viewer.site_filter, tuple(args))


@st.cache_data(show_spinner=False, max_entries=64)
def funnel_limits(p0: float, n_max: int) -> pd.DataFrame:
    """Funnel-plot limits for denominators 1..n_max: pure arithmetic on a pooled rate, cached
    because the exact binomial quantiles were 6% of the server's CPU under load."""
    from dashboard.stats.rates import funnel_limits as limits

    return limits(p0, range(1, n_max + 1))


def current_viewer() -> Viewer | None:
    return st.session_state.get("viewer")


def page(key: str) -> Viewer:
    """Top of every page: the role is checked again here (a page must not trust the navigation)."""
    viewer = current_viewer()
    if viewer is None or not may_open(viewer, key):
        st.error("This page is not available to your role.")
        st.stop()
    return viewer


def closed_page(key: str) -> Viewer:
    """Top of a closed-session page: the role is checked again here, the closed role is required
    (not only the page list), and the view goes to the audit log once per visit of the page."""
    from dashboard.access import audit

    viewer = page(key)
    if not viewer.closed:
        st.error("This page is for the DSMB closed session only.")
        st.stop()
    manifest = warehouse.manifest(warehouse_dir())
    visit = (key, manifest.get("build_id"))
    if st.session_state.get("_closed_visit") != visit:
        audit.append(
            f"closed view: {key}",
            user=viewer.user,
            role=viewer.role,
            site=viewer.site,
            data_cut={"build_id": manifest.get("build_id"), "cutoff": manifest.get("cutoff")},
        )
        st.session_state["_closed_visit"] = visit
    st.markdown(":red-background[**CONFIDENTIAL - DSMB CLOSED SESSION**] outcomes by arm")
    return viewer


def header(title: str, viewer: Viewer, cfg: TrialConfig | None = None) -> dict:
    """Title and the data-cut stamp every page carries."""
    cfg = cfg or load_trial()
    cut = cached(_data_cut, viewer)
    st.title(title)
    scope = f"site {viewer.site}" if viewer.site_filter else "all sites"
    st.caption(
        f"{cfg.trial.name} ({cfg.trial.registry_id}) · data cut-off **{cut['cutoff']}** · "
        f"exported {cut['exported']} · {scope} · role {viewer.role}"
    )
    if cut["is_demo"]:
        st.caption(":orange[Synthetic demo trial: no real patient data.]")
    return cut


def _data_cut(con, viewer):
    from dashboard.views.enrollment import data_cut

    return data_cut(con)


def chart(fig, key: str | None = None) -> None:
    st.plotly_chart(fig, width="stretch", config={"displaylogo": False, "responsive": True}, key=key)


def table(df: pd.DataFrame, **kw) -> None:
    st.dataframe(df, hide_index=True, width="stretch", **kw)


def pct(x, digits: int = 1) -> str:
    return "—" if x is None or pd.isna(x) else f"{100 * x:.{digits}f}%"


def suppressed_notice(reason: str) -> None:
    st.warning(
        f"Outcomes are not shown for this population: {reason}. Under the blinding rule a "
        "pooled figure of a group that is one arm, or smaller than the minimum cell, would "
        "reveal arm-level results."
    )


def pooled(fn, viewer: Viewer) -> dict:
    """A pooled-outcome figure function's result; the page stops with the blinding notice when
    the viewer's population may not be shown (dashboard.access.blinding.population_check)."""
    result = cached(fn, viewer)
    if "suppressed" in result:
        suppressed_notice(result["suppressed"])
        st.stop()
    return result


APP_DIR = Path(__file__).resolve().parent
PAGES_DIR = APP_DIR.parent / "pages"
