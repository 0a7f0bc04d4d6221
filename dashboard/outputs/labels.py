"""What a person reads instead of a code: column names, CRF code values, strata, arm names and
colours, dates and missing values. Every page, report and chart takes its words from here, and
these take theirs from trial.toml ([labels], [[arms]], [[randomization.strata]]), so the trial
office changes a label in one place. No Streamlit here.

Missing values read as an em dash, dates as YYYY-MM-DD (never a midnight time), and a code that
trial.toml does not name is shown in sentence case; a column name it does not name is shown with
its underscores as spaces (tests/test_labels.py keeps the names pages show on the list).

In the reader's language (dashboard.i18n): in Chinese the labels are trial.toml's
[labels.columns_zh] and [labels.codes_zh] and the arms' and strata's label_zh; a code neither
names reads as the code itself (sentence case is an English convention), dates stay ISO."""

from __future__ import annotations

import datetime as dt
import math
import re

import pandas as pd

from dashboard.config import TrialConfig, load_trial
from dashboard.i18n import DEFAULT, _, fact, fact_map, language

MISSING = "—"
"""What an absent value reads as, everywhere (never "None", "NaT" or "nan")."""
STRATUM_SEPARATOR = "|"
"""How the build writes a stratum: its factors' codes joined by this (e.g. "CR|ORAL CAVITY")."""


def _cfg(cfg: TrialConfig | None) -> TrialConfig:
    return cfg or load_trial()


def is_missing(value) -> bool:
    if value is None or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        return bool(pd.isna(value)) if not isinstance(value, (list, tuple, dict, set)) else False
    except (TypeError, ValueError):
        return False


_ROMAN = re.compile(r"^[IVX]+[A-C]?$")  # stages and Clavien-Dindo grades: III, IVA, IIIB


def _kept(word: str) -> bool:
    """A word of a code that keeps its capitals: with a digit (T4A, QLQ-C30), a roman numeral
    (IVA), or an abbreviation of three letters or fewer standing alone (SCC, CRT)."""
    return any(ch.isdigit() for ch in word) or bool(_ROMAN.match(word))


def _sentence(text: str) -> str:
    """'SCREEN FAILURE' -> 'Screen failure', 'LOST TO FOLLOW-UP' -> 'Lost to follow-up'; a code of
    one word that is an abbreviation, a stage or has digits (SCC, IVA, T4A, ANTI-PD-1) is kept as
    it is; text that is not all capitals is kept as it is."""
    if not text.isupper() or not any(ch.isalpha() for ch in text):
        return text
    if " " not in text and (len(text) <= 3 or _kept(text) or any(_kept(w) for w in text.split("-"))):
        return text
    parts = re.split(r"(\s+|-)", text)
    out = "".join(p if _kept(p) else p.lower() for p in parts)
    return out[:1].upper() + out[1:]


def code(value, cfg: TrialConfig | None = None) -> str:
    """A CRF code value as a person reads it (trial.toml [labels.codes], else sentence case; in
    Chinese [labels.codes_zh], else the catalogue's, else the code as recorded)."""
    if is_missing(value):
        return MISSING
    text = str(value)
    labels = _cfg(cfg).labels
    codes = fact_map(labels.codes, labels.codes_zh)
    if text in codes:
        return codes[text]
    if language() == DEFAULT:
        return _sentence(text)
    return _(text)  # a value our code writes (the blinding rule's "other (merged)") is in the catalogue


def column(name: str, cfg: TrialConfig | None = None) -> str:
    """A column's name as a person reads it (trial.toml [labels.columns], case-insensitive; in
    Chinese [labels.columns_zh]); a name trial.toml does not have is the catalogue's (a table's
    own column, marked N_() where the table is made), else the name with its underscores as spaces."""
    labels = _cfg(cfg).labels
    columns = fact_map(labels.columns, labels.columns_zh)
    key = str(name).lower()
    if key in columns:
        return columns[key]
    translated = _(str(name))  # a name our code gives a table (N_("days since the last randomization"))
    if translated != str(name):
        return translated
    text = str(name).replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text.islower() else text


def is_labelled(name: str, cfg: TrialConfig | None = None) -> bool:
    return str(name).lower() in _cfg(cfg).labels.columns


def stratum(value, cfg: TrialConfig | None = None) -> str:
    """A stratum code ("CR|ORAL CAVITY") as its factors' labels ("Complete response · Oral cavity")."""
    if is_missing(value):
        return MISSING
    return " · ".join(code(part, cfg) for part in str(value).split(STRATUM_SEPARATOR))


def arm(key_or_code: str, cfg: TrialConfig | None = None) -> str:
    """An arm's label (in the reader's language) from its key, its code or a label."""
    for a in _cfg(cfg).arms:
        if key_or_code in (a.key, a.code, a.label, a.label_zh):
            return fact(a, "label")
    return code(key_or_code, cfg)


def arm_labels(cfg: TrialConfig | None = None) -> dict[str, str]:
    """Each arm's code -> its label in the reader's language, in trial.toml's order."""
    return {a.code: fact(a, "label") for a in _cfg(cfg).arms}


def arm_colors(cfg: TrialConfig | None = None) -> dict[str, str]:
    """Each arm's colour (trial.toml), under its key, its code and its labels (English and
    Chinese): one pair of colours on every page, report and PDF, in either language."""
    out: dict[str, str] = {}
    for a in _cfg(cfg).arms:
        out[a.key] = out[a.code] = out[a.label] = a.color
        if a.label_zh:
            out[a.label_zh] = a.color
    return out


def date(value) -> str:
    """A date as YYYY-MM-DD; a datetime whose time is midnight as its date; missing as the dash."""
    if is_missing(value):
        return MISSING
    if isinstance(value, str):
        return value[:10] if len(value) >= 19 and value[10:19] in (" 00:00:00", "T00:00:00") else value
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        if (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0):
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def text(value) -> str:
    """Any value as text on a page: missing as the dash, dates as dates, whole floats without '.0'."""
    if is_missing(value):
        return MISSING
    if isinstance(value, (dt.date, pd.Timestamp)):
        return date(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def frame(
    df: pd.DataFrame,
    cfg: TrialConfig | None = None,
    codes: list[str] | tuple[str, ...] = (),
    strata: list[str] | tuple[str, ...] = (),
) -> pd.DataFrame:
    """A table for people: the values of the `codes` columns and `strata` columns labelled, date
    columns as dates (no time), and the column names labelled. Numbers stay numbers (their missing
    cells are the table's own blank); text cells that are missing read as the dash."""
    cfg = _cfg(cfg)
    out = df.copy()
    for col in out.columns:
        series = out[col]
        if col in codes:
            out[col] = series.map(lambda v: code(v, cfg))
        elif col in strata:
            out[col] = series.map(lambda v: stratum(v, cfg))
        elif pd.api.types.is_datetime64_any_dtype(series):
            out[col] = series.map(date)
        elif series.dtype == object:
            out[col] = series.map(lambda v: text(v) if is_missing(v) or isinstance(v, (dt.date, float)) else v)
    out.columns = [column(c, cfg) for c in out.columns]
    return out
