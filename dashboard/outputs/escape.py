"""Escaping a value from the data for each place it is shown, so that markup in the data is shown
as text and never rendered: a site name written as a Markdown image is not fetched, an `<a href>`
in an adverse-event term is not a link, a cell starting with `=` is not a spreadsheet formula.

Plain functions, no Streamlit (the pages, the figures and the reports call them):
 - `markdown`: Streamlit's Markdown (st.markdown, st.caption, st.write of a string, st.info /
   warning / error / success, metric labels and values, widget labels and options, help text).
   Streamlit renders GitHub-flavoured Markdown plus its own directives (`:red[...]`,
   `:material/icon:`, emoji shortcodes, `$math$`); every ASCII punctuation character may be
   backslash-escaped in CommonMark, so all of them are, and line breaks become spaces (a value is
   inline text: it must not start a heading, a list or a table).
 - `html`: HTML text and attribute values (the reports).
 - `plotly`: plotly's labels (trace names, text, hover text, category tick labels, legend entries,
   titles, annotations). Plotly renders a subset of HTML there (`<a href>`, `<b>`, `<br>`,
   `<span style>`, ...) and converts entities only in the text between tags, so `&`, `<`, `>`
   become entities and the text shows as typed; `$` becomes an entity too, so that a value can
   never be taken for LaTeX.
 - `csv_cell` / `csv_frame`: a listing exported to CSV, after OWASP's CSV-injection advice: a
   text cell starting with = + - @ tab or carriage return (or their full-width forms, which some
   spreadsheets also take for a formula) gets a leading apostrophe.
"""

from __future__ import annotations

import html as _html
import math
import re
import string

import pandas as pd

_MD_PUNCT = frozenset(string.punctuation)  # CommonMark: any ASCII punctuation may be escaped
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\u2028\u2029\x0b\x0c\x85]")
# A markdown line starting with four spaces or a tab is a code block; with escaped punctuation
# nothing else can start a block, and a value is written inline, so tabs become spaces as well.

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
"""A cell starting with one of these is taken for a formula by a spreadsheet (OWASP CSV injection:
= + - @ tab CR; and their full-width forms, ＝ ＋ － ＠)."""


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    return str(value)


WORD_JOINER = "\u2060"
# GitHub-flavoured Markdown turns a URL or an e-mail address in plain text into a link, after
# parsing, so a backslash does not stop it (checked in Chromium on Streamlit 1.67): an invisible
# word joiner between "http"/"https"/"www" and what follows, and before "@", breaks the pattern
# (remark-gfm: `https?://`, `www.`, `name@domain`).
_AUTOLINK = re.compile(r"(?i)(https?|www|mailto|xmpp)(?=[:.])|(?=@)")


def markdown(value) -> str:
    """`value` as Markdown that renders as exactly its text, on one line, with no link."""
    text = _LINE_BREAKS.sub(" ", _text(value)).replace("\t", " ")
    text = _AUTOLINK.sub(lambda m: (m.group(1) or "") + WORD_JOINER, text)
    return "".join("\\" + c if c in _MD_PUNCT else c for c in text)


def html(value) -> str:
    """`value` as HTML text or a quoted attribute value."""
    return _html.escape(_text(value), quote=True)


_PLOTLY = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "$": "&#36;"}
_PLOTLY_RE = re.compile("[&<>$]")


def plotly(value) -> str:
    """`value` as a plotly label: shown as typed, never as plotly's HTML subset or LaTeX."""
    return _PLOTLY_RE.sub(lambda m: _PLOTLY[m.group(0)], _text(value))


def plotly_values(values):
    """A list of labels or category values for plotly: the strings escaped, everything else
    (numbers, dates, missing values) unchanged."""
    return [plotly(v) if isinstance(v, str) else v for v in values]


def csv_cell(value):
    """A cell of an exported listing: a text cell that a spreadsheet would run as a formula gets a
    leading apostrophe; anything else is returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` with every text cell and every column name passed through `csv_cell`."""
    out = frame.copy()
    out.columns = [csv_cell(c) if isinstance(c, str) else c for c in out.columns]
    for i in range(out.shape[1]):
        values = out.iloc[:, i]
        if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
            out.isetitem(i, values.map(csv_cell, na_action="ignore").astype(object))
    return out


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The listing as CSV bytes (UTF-8 with a byte-order mark, which spreadsheets need to read
    Chinese text), formula-escaped, quoted by the csv module where a cell needs it."""
    return csv_frame(frame).to_csv(index=False).encode("utf-8-sig")
