"""The house style every figure shares: fonts, colours, the layout and the escaping of labels.
No Streamlit. plotly.graph_objects only (px is
two orders of magnitude slower to build), and data aggregated before it is drawn."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from dashboard.outputs import escape

FONT = "Noto Sans CJK SC, Noto Sans, Source Han Sans SC, PingFang SC, Microsoft YaHei, sans-serif"
POOLED = "#1f5f8b"
PLANNED = "#9a9a9a"
DESIGN = "#d08c1b"
FLAG = "#c0392b"
OK = "#2e7d32"

# The house template, set once as plotly's default: naming it in every update_layout validated
# and copied the whole template each time (11 ms a figure, 9% of the server's CPU under load);
# the default is applied when the figure is serialized, in about 1 ms.
pio.templates.default = "plotly_white"


def _layout(fig: go.Figure, title: str | None = None, height: int = 380) -> go.Figure:
    """The house layout, and every label escaped (`escaped`): each figure passes here once, last."""
    fig.update_layout(
        title=title,
        height=height,
        margin=dict(l=48, r=16, t=48 if title else 16, b=40),
        font=dict(family=FONT, size=13),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
    )
    return escaped(fig)


_TRACE_TEXT = ("name", "text", "hovertext", "x", "y", "labels", "ids")


def _escaped_values(values):
    """A trace's strings or array escaped for plotly; numbers, dates and typed arrays unchanged."""
    if values is None:
        return None
    if isinstance(values, str):
        return escape.plotly(values)
    if isinstance(values, np.ndarray) and values.dtype.kind not in "OUS":
        return values
    try:
        seq = list(values)
    except TypeError:
        return values
    if not any(isinstance(v, str) for v in seq):
        return values
    return escape.plotly_values(seq)


def escaped(fig: go.Figure) -> go.Figure:
    """Every piece of text plotly renders with its HTML subset, escaped once (escape.plotly): trace
    names, text and hover text, category values (tick labels), legend group titles, the title, axis
    titles and tick texts, annotations. Markup in the data is then shown as typed: an `<a href>`
    in an adverse-event term is no link, a `<b>` in a site name no bold."""
    for trace in fig.data:
        for attr in _TRACE_TEXT:
            if attr in trace and trace[attr] is not None:
                new = _escaped_values(trace[attr])
                if new is not trace[attr]:
                    trace[attr] = new
        if "legendgrouptitle" in trace and trace.legendgrouptitle.text:
            trace.legendgrouptitle.text = escape.plotly(trace.legendgrouptitle.text)
    layout = fig.layout
    if layout.title.text:
        layout.title.text = escape.plotly(layout.title.text)
    if layout.legend.title.text:
        layout.legend.title.text = escape.plotly(layout.legend.title.text)
    for name in list(layout):
        if name.startswith(("xaxis", "yaxis")):
            axis = layout[name]
            if axis.title.text:
                axis.title.text = escape.plotly(axis.title.text)
            if axis.ticktext is not None:
                axis.ticktext = escape.plotly_values(list(axis.ticktext))
    for note in layout.annotations:
        if note.text:
            note.text = escape.plotly(note.text)
    return fig


def _alpha(hex_color: str, a: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{a})"
