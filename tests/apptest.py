"""Rendering the app's pages headless with Streamlit's AppTest, for the page and blinding tests."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.access.roles import Viewer

ROOT = Path(__file__).resolve().parent.parent
MAIN = str(ROOT / "app" / "main.py")


@contextmanager
def serving(warehouse_dir: Path):
    """The app reads this warehouse while the block runs (NEO_MARGIN_WAREHOUSE)."""
    old = os.environ.get("NEO_MARGIN_WAREHOUSE")
    os.environ["NEO_MARGIN_WAREHOUSE"] = str(warehouse_dir)
    try:
        yield warehouse_dir
    finally:
        if old is None:
            os.environ.pop("NEO_MARGIN_WAREHOUSE", None)
        else:
            os.environ["NEO_MARGIN_WAREHOUSE"] = old


def clear_caches() -> None:
    """Caches persist across AppTest instances in one process: tests start from none."""
    st.cache_data.clear()
    st.cache_resource.clear()


def open_page(viewer: Viewer, page_file: str, timeout: float = 90) -> AppTest:
    """Sign `viewer` in (session state), then open pages/<page_file> through the navigation."""
    at = AppTest.from_file(MAIN, default_timeout=timeout)
    at.session_state["viewer"] = viewer
    at.run()
    at.switch_page(f"../pages/{page_file}")
    at.run()
    return at


def page_text(at: AppTest) -> str:
    """Everything a person can read on the page: text elements, metrics, tables, chart data."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "text", "error", "warning", "info"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    parts += [e.value.to_csv() for e in at.dataframe]
    parts += [t.value.to_csv() if hasattr(t.value, "to_csv") else str(t.value) for t in at.table]
    parts += [str(e.proto) for e in at.get("plotly_chart")]
    return "\n".join(parts)
