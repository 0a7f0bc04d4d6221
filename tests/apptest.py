"""Rendering the app's pages headless with Streamlit's AppTest, for the page and blinding tests."""

from __future__ import annotations

import os
import re
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


def open_page(
    viewer: Viewer, page_file: str, timeout: float = 90, lang: str | None = None, cut: str | None = None
) -> AppTest:
    """Sign `viewer` in (session state), then open pages/<page_file> through the navigation, in
    `lang` (zh, en) as the language switch would set it; None: the app's own choice (English here);
    with `cut` (a build id) reopened as the sidebar's Data cut would (app/ui.py CUT_KEY)."""
    at = AppTest.from_file(MAIN, default_timeout=timeout)
    at.session_state["viewer"] = viewer
    if lang:
        at.session_state["_lang"] = lang
    if cut:
        at.session_state["_cut"] = cut
    at.run()
    at.switch_page(f"../pages/{page_file}")
    at.run()
    return at


def _decoded(node):
    """A plotly figure (JSON) with its typed arrays ({"dtype": "f8", "bdata": base64}, plotly 6)
    decoded to lists of numbers: chart data is text a test can search."""
    import base64

    import numpy as np

    if isinstance(node, dict):
        if "bdata" in node and "dtype" in node:
            values = np.frombuffer(base64.b64decode(node["bdata"]), dtype=np.dtype(node["dtype"]))
            if "shape" in node:
                values = values.reshape([int(n) for n in str(node["shape"]).split(",")])
            return values.tolist()
        return {k: _decoded(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_decoded(v) for v in node]
    return node


def chart_json(element) -> str:
    """The figure of a plotly_chart element as JSON text, typed arrays decoded (floats in repr)."""
    import json

    return json.dumps(_decoded(json.loads(element.proto.spec)), ensure_ascii=False)


_MD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def page_text(at: AppTest, charts: bool = True) -> str:
    """Everything a person can read on the page: text elements, metrics, tables, and (unless
    `charts` is false) chart data: the figures' JSON with their binary arrays decoded, so plotted
    numbers can be searched."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "text", "error", "warning", "info"):
        # as a person reads it: Markdown's backslash escapes (values from the data are escaped
        # before they are shown, dashboard/outputs/escape.py) are not part of what is read
        parts += [_MD_ESCAPE.sub(r"\1", str(e.value)) for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    parts += [e.value.to_csv() for e in at.dataframe]
    parts += [t.value.to_csv() if hasattr(t.value, "to_csv") else str(t.value) for t in at.table]
    if charts:
        parts += [chart_json(e) for e in at.get("plotly_chart")]
    return "\n".join(parts)


def files_holding(segment: str, page: str, sources: dict[str, list[Path]]) -> list[str]:
    """Which files hold an English segment left on a page (its longest word run, before a
    placeholder's value): the page itself (pages/<page>), or the named groups of `sources` whose
    files contain it. Tests of the Chinese pages name where a leftover came from with it."""
    runs = re.findall(r"[A-Za-z][A-Za-z'\- ]*[A-Za-z]", segment)
    probe = max(runs, key=len)[:60].strip().lower()
    probe_words = probe.split()
    found = []
    if probe in (ROOT / "pages" / page).read_text(encoding="utf-8").lower():
        found.append(f"pages/{page}")
    for name, files in sources.items():
        for f in files:
            text = " ".join(f.read_text(encoding="utf-8").lower().split())
            if probe in text or (len(probe_words) > 3 and " ".join(probe_words[:4]) in text):
                found.append(name)
                break
    return found
