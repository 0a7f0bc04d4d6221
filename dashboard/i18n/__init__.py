"""The languages a person reads the dashboard in: English and Chinese (simplified).

Every string a person sees is written in English in the code, wrapped in `_()` (or marked with
`N_()` where it is defined before a language is known and translated where it is shown), and
looked up in the gettext catalogues of dashboard/i18n/locale (one domain per concern: DOMAINS).
The catalogues are Babel's `.po` files, extracted from the code (`python -m dashboard i18n
extract`) and compiled to `.mo` at setup (`i18n compile`, run by scripts/setup.sh).

The language is per person, not per process: a Streamlit session (one script thread) and a CLI run
set it with `set_language` (a context variable, so two sessions never see each other's), and
`using(lang)` sets it for a block. Trial facts (arm labels, eligibility criteria, code labels,
signal and form names) are in trial.toml / crf_spec.toml in both languages: `fact(obj, "label")`
reads `label_zh` in Chinese. Numbers, percentages and dates are formatted by Babel's CLDR data for
the language (`number`, `percent`, `long_date`); listings and exports keep ISO dates.

No Streamlit here.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import gettext as _gettext
import math
from contextlib import contextmanager
from functools import cache
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent / "locale"

LANGUAGES = {"zh": "中文", "en": "English"}
"""The languages offered, as the switch shows them (each in its own language)."""
DEFAULT = "en"
"""The source language, and the language when nothing says otherwise."""
GETTEXT_LOCALE = {"zh": "zh_CN", "en": "en"}
"""The catalogue folder of each language (locale/<this>/LC_MESSAGES/<domain>.po)."""
BABEL_LOCALE = {"zh": "zh_Hans_CN", "en": "en_GB"}
"""The CLDR locale whose number and date formats a language uses (en_GB: 30 September 2028)."""

DOMAINS = {
    "app": ["app"],
    "pages": [
        "pages/accrual.py",
        "pages/balance.py",
        "pages/deviations.py",
        "pages/data_quality.py",
        "pages/admin_audit.py",
        "pages/admin_users.py",
        "pages/reports.py",
    ],
    "outcomes": [
        "pages/survival.py",
        "pages/safety.py",
        "pages/closed_interim.py",
        "pages/closed_safety.py",
        "pages/closed_surgery.py",
        "pages/closed_survival.py",
        "pages/changes.py",
        "pages/trends.py",
    ],
    "access": ["dashboard/access"],
    "views": ["dashboard/views", "dashboard/stats", "dashboard/store"],
    "outputs": ["dashboard/outputs"],
    "ingest": [
        "dashboard/ingest",
        "dashboard/cli.py",
        "dashboard/config.py",
        "dashboard/__init__.py",
        "dashboard/__main__.py",
        "queries/validate",
        "queries/findings",
        "queries/ingest",
        "queries/eligibility",
    ],
}
"""Each catalogue and the code its messages are extracted from (paths from the project root).
A message is looked up in all of them, so a string of one concern may be shown by another."""

_language: contextvars.ContextVar[str] = contextvars.ContextVar("neo_margin_language", default=DEFAULT)


class UnknownLanguage(ValueError):
    pass


def normalize(lang: str | None) -> str | None:
    """'zh', 'zh-CN', 'zh_Hans', 'zh-TW' -> 'zh'; 'en-US' -> 'en'; anything else -> None."""
    if not lang:
        return None
    base = str(lang).strip().replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else None


def set_language(lang: str | None) -> str:
    """The language of this session or command from now on; an unknown one is refused."""
    code = normalize(lang) if lang else DEFAULT
    if code is None:
        raise UnknownLanguage(f"unknown language {lang!r}: choose one of {', '.join(LANGUAGES)}")
    _language.set(code)
    return code


def language() -> str:
    return _language.get()


@contextmanager
def using(lang: str | None):
    """Run a block in a language (a report written in Chinese, a test in both)."""
    token = _language.set(normalize(lang) or DEFAULT)
    try:
        yield
    finally:
        _language.reset(token)


def negotiate(accept_language: str | None) -> str:
    """The first language of a browser's Accept-Language (or st.context.locale) that we offer,
    by its q weights; the default when none is."""
    if not accept_language:
        return DEFAULT
    ranked = []
    for i, part in enumerate(str(accept_language).split(",")):
        tag, _sep, params = part.strip().partition(";")
        q = 1.0
        for p in params.split(";"):
            k, _s, v = p.strip().partition("=")
            if k == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        code = normalize(tag)
        if code and q > 0:
            ranked.append((-q, i, code))
    return min(ranked)[2] if ranked else DEFAULT


@cache
def _catalogue(lang: str) -> _gettext.NullTranslations:
    """All domains of a language chained into one lookup (the compiled .mo files)."""
    if lang == DEFAULT:
        return _gettext.NullTranslations()
    from dashboard.i18n import catalogue

    chain: _gettext.NullTranslations | None = None
    for domain in DOMAINS:
        t = catalogue.translations(lang, domain)
        if chain is None:
            chain = t
        else:
            chain.add_fallback(t)
    return chain or _gettext.NullTranslations()


def reload() -> None:
    """Forget the loaded catalogues (after `i18n compile` in a running process, or in tests)."""
    _catalogue.cache_clear()


def _(message: str) -> str:
    """A message in the current language (the English itself when it has no translation)."""
    if not message:
        return message
    lang = _language.get()
    if lang == DEFAULT:
        return message
    return _catalogue(lang).gettext(message)


gettext = _


def ngettext(singular: str, plural: str, n: int) -> str:
    lang = _language.get()
    if lang == DEFAULT:
        return singular if n == 1 else plural
    return _catalogue(lang).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks a message for the catalogue where it is defined (a module constant); `_()` translates
    it where it is shown, in the language of whoever looks."""
    return message


def fact(obj, field: str = "label") -> str:
    """A trial fact in the current language: `obj.<field>_zh` in Chinese when trial.toml or
    crf_spec.toml gives one, else `obj.<field>` (tests/test_i18n.py requires the Chinese of every
    fact a page shows)."""
    lang = _language.get()
    value = getattr(obj, field) if not isinstance(obj, dict) else obj.get(field)
    if lang != DEFAULT:
        key = f"{field}_{lang}"
        local = obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)
        if local:
            return local
    return value


def fact_map(mapping: dict, local: dict | None) -> dict:
    """A label table ([labels.codes]) merged with its Chinese twin ([labels.codes_zh]) in Chinese."""
    if _language.get() != DEFAULT and local:
        return {**mapping, **local}
    return mapping


# -- numbers, percentages and dates, by the language's CLDR conventions -------------------------


def _babel_locale():
    from babel import Locale

    return Locale.parse(BABEL_LOCALE[_language.get()])


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x)) or str(x) in ("NaT", "nan", "<NA>")


def number(x, digits: int | None = None) -> str:
    """1234.5 -> '1,234.5' (both languages group by thousands); digits: fixed decimals."""
    from babel.numbers import format_decimal

    if _missing(x):
        return "—"
    if digits is None:
        return format_decimal(x, locale=_babel_locale())
    fmt = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(x, format=fmt, locale=_babel_locale(), decimal_quantization=True)


def percent(x, digits: int = 1) -> str:
    """0.123 -> '12.3%' (a fraction in, the language's percent sign out)."""
    from babel.numbers import format_percent

    if _missing(x):
        return "—"
    fmt = "#,##0" + ("." + "0" * digits if digits else "") + "%"
    return format_percent(x, format=fmt, locale=_babel_locale(), decimal_quantization=True)


def _as_date(value) -> dt.date | None:
    if _missing(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime().date()
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def long_date(value) -> str:
    """A date as a reader of the language expects it in prose: '30 September 2028',
    '2028年9月30日'. Listings and exports keep ISO dates (labels.text)."""
    from babel.dates import format_date

    d = _as_date(value)
    if d is None:
        return "—" if _missing(value) else str(value)
    return format_date(d, format="long", locale=_babel_locale())


def month(value) -> str:
    """A month in prose: 'September 2028', '2028年9月'."""
    from babel.dates import format_skeleton

    d = _as_date(value)
    if d is None:
        return "—" if _missing(value) else str(value)
    return format_skeleton("yMMMM", d, locale=_babel_locale())


def html_lang() -> str:
    """The document language of a report: 'en' or 'zh-Hans'."""
    return "zh-Hans" if _language.get() == "zh" else "en"
