"""The house style every figure shares: fonts, colours, the layout and the escaping of labels.
No Streamlit. plotly.graph_objects only (px is
two orders of magnitude slower to build), and data aggregated before it is drawn."""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from dashboard.outputs import escape

FONT = "Noto Sans CJK SC, Noto Sans, Source Han Sans SC, PingFang SC, Microsoft YaHei, sans-serif"  # i18n: verbatim
# Noto Sans CJK SC first: Debian's fonts-noto-cjk has it, it draws Latin too, and it gives Chinese
# its simplified forms (a fallback font may draw a Japanese or Traditional glyph, or tofu).
# Colours of things that are not arms. The arms have theirs (trial.toml [[arms]] color, through
# labels.arm_colors: purple #762a83 and teal #1b9e77) and no other category is drawn in them, or
# in a colour one could take for them (tests/test_ui_enrollment_figures.py keeps these apart).
POOLED = "#1f5f8b"  # both arms together: blue
PLANNED = "#9a9a9a"  # a plan or a reference line: grey
DESIGN = "#d08c1b"  # the design's expectation, a projection: orange
FLAG = "#c0392b"  # flagged: red
OK = "#56606b"  # within its threshold: slate (not green, which reads as the teal arm)
CATEGORIES = [POOLED, DESIGN, "#5a5a5a", "#b35806", "#8c6d31"]
"""Series that are neither arms nor the roles above, in this order (also plotly's default colorway
here, so a trace drawn without a colour never takes an arm's)."""

# The house template, set once as plotly's default: naming it in every update_layout validated
# and copied the whole template each time (11 ms a figure, 9% of the server's CPU under load);
# the default is applied when the figure is serialized, in about 1 ms.
pio.templates["plotly_white"].layout.colorway = CATEGORIES
pio.templates.default = "plotly_white"


def _layout(fig: go.Figure, title: str | None = None, height: int = 380) -> go.Figure:
    """The house layout, and every label escaped (`escaped`): each figure passes here once, last.

    The legend sits below the plot (never under the title, and on a phone its rows wrap below
    rather than over the traces); the title, when there is one, is left-aligned in a top margin of
    its own; axes push the margins out to fit their labels (automargin), so long tick labels keep
    their words at 390 px."""
    fig.update_layout(
        title=dict(text=title, x=0, xanchor="left", y=1, yanchor="top", yref="container", pad=dict(t=8))
        if title
        else None,
        height=height,
        margin=dict(l=8, r=16, t=44 if title else 12, b=8),
        font=dict(family=FONT, size=13),
        legend=dict(orientation="h", yref="container", yanchor="bottom", y=0, x=0, xanchor="left"),
    )
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    return escaped(fig)


def count_step(max_value: float, ticks: int = 6) -> int:
    """A whole-number tick step for a count axis up to `max_value`: 1, 2, 5, 10, 20, 25, 50, ...,
    about `ticks` ticks at most, so a count axis never shows half a subject."""
    scale = 1
    while True:
        for step in (1, 2, 2.5, 5):
            size = step * scale
            if size.is_integer() if isinstance(size, float) else True:
                if max_value / size <= ticks:
                    return int(size)
        scale *= 10


def count_axis(fig: go.Figure, axis: str, values, title: str | None = None) -> go.Figure:
    """A count axis ("x" or "y"): starts at 0, whole numbers only ("d", an integer step)."""
    numbers = [float(v) for v in values if v is not None and v == v]
    top = max(numbers, default=0.0)
    update = fig.update_xaxes if axis == "x" else fig.update_yaxes
    update(rangemode="tozero", tickformat="d", tick0=0, dtick=count_step(max(top, 1)))
    if title is not None:
        update(title=title)
    return fig


def is_counts(values) -> bool:
    """Whether every value present is a whole number (then its axis is a count axis)."""
    numbers = [float(v) for v in values if v is not None and v == v]
    return bool(numbers) and all(float(v).is_integer() for v in numbers)


_WIDE = ("W", "F")
_BREAK_ANYWHERE = re.compile(r"[\u2e80-\u2fff\u3040-\u30ff\u3100-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_NO_LINE_START = set("，。、；：？！）》」』】〕”’…%·")
_NO_LINE_END = set("（《「『【〔“‘")


def text_width(text: str) -> int:
    """The width of `text` in columns: a Chinese character (or any East Asian wide one) is two, as
    wide as two Latin letters of the same font size."""
    return sum(2 if unicodedata.east_asian_width(ch) in _WIDE else 1 for ch in str(text))


def _pieces(word: str) -> list[str]:
    """A word (no spaces) cut where a line may break: between Chinese characters (Chinese has no
    spaces), never inside a Latin word or a number, never before closing or after opening
    punctuation (，。）are kept with the character before them, （ with the one after)."""
    pieces: list[str] = []
    for ch in word:
        if not pieces:
            pieces.append(ch)
        elif ch in _NO_LINE_START or pieces[-1][-1] in _NO_LINE_END:
            pieces[-1] += ch
        elif _BREAK_ANYWHERE.match(ch) or _BREAK_ANYWHERE.match(pieces[-1][-1]):
            pieces.append(ch)
        else:
            pieces[-1] += ch
    return pieces


def wrap(text: str, width: int = 28) -> list[str]:
    """`text` in lines of about `width` columns (a Chinese character counts two), broken at spaces
    and between Chinese characters only (never mid-word)."""
    lines: list[str] = []
    for word in str(text).split():
        for i, piece in enumerate(_pieces(word)):
            sep = " " if i == 0 else ""
            if lines and text_width(lines[-1]) + len(sep) + text_width(piece) <= width:
                lines[-1] += sep + piece
            else:
                lines.append(piece)
    return lines or [""]


MAX_TICK_LINES = 3
"""A wrapped tick label has at most this many lines: a label from the data (an adverse-event
term, a site name) as long as a paragraph cannot squeeze the plot to nothing. The whole label is
in the hover text."""


def _cut(line: str, columns: int) -> str:
    """The start of `line` that fits in `columns` columns."""
    out, used = "", 0
    for ch in line:
        used += 2 if unicodedata.east_asian_width(ch) in _WIDE else 1
        if used > columns:
            break
        out += ch
    return out


def tick_lines(text: str, width: int = 28, max_lines: int | None = MAX_TICK_LINES) -> list[str]:
    """`text` wrapped at spaces (wrap), at most `max_lines` lines, none much longer than `width`:
    what is cut ends in an ellipsis."""
    lines = wrap(text, width)
    if max_lines is None:  # our own words (criteria, signals): wrapped whole, never cut
        return lines
    cut = len(lines) > max_lines
    lines = lines[:max_lines]
    for i, line in enumerate(lines):
        if text_width(line) > width + 8:
            lines[i], cut = _cut(line, width + 7), True
    if cut:
        lines[-1] = lines[-1].rstrip() + "…"
    return lines


def wrapped_ticks(fig: go.Figure, axis: str, labels, width: int = 28, max_lines: int | None = None) -> go.Figure:
    """Category tick labels wrapped at word boundaries; labels from the data pass max_lines
    (MAX_TICK_LINES) and are cut there with an ellipsis (their whole text goes in the hover).
    Called after `_layout`: the categories are the escaped labels, and each line of a tick text is
    escaped here before the lines are joined with plotly's <br> (the only markup added)."""
    labels = [str(v) for v in labels]
    update = fig.update_xaxes if axis == "x" else fig.update_yaxes
    update(
        tickmode="array",
        tickvals=[escape.plotly(v) for v in labels],
        ticktext=["<br>".join(escape.plotly(line) for line in tick_lines(v, width, max_lines)) for v in labels],
    )
    return fig


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
