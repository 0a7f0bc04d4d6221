"""The views' words for people, in the reader's language, made from the codes the data keep.

A view's result is cached per language (app/ui.py cached()), so a view may hand a page text in the
language of whoever looks; what logic compares (a flag "above", a suppressed row, a grade "grade
3+", the merged row's siteid) stays a code, and the text shown is made beside it here.

No Streamlit here.
"""

from __future__ import annotations

import re

import pandas as pd

from dashboard.i18n import _, language

# The blinding rule's reasons (dashboard/access/blinding.py), as the build and the rule write them:
# codes in the data, translated only where shown.
_FEWER = re.compile(r"^fewer than (\d+) subjects$")
_MERGED_SUFFIX = " (merged)"


def suppression(reason: str | None) -> str | None:
    """A reason the blinding rule gives ("fewer than 5 subjects", "all subjects in one arm",
    "withheld by the cell rule", each possibly "... (merged)") in the reader's language."""
    if reason is None or (not isinstance(reason, str) and pd.isna(reason)):
        return None
    text = str(reason)
    if text.endswith(_MERGED_SUFFIX):
        return _("{reason} (merged)").format(reason=suppression(text[: -len(_MERGED_SUFFIX)]))
    m = _FEWER.match(text)
    if m:
        return _("fewer than {n} subjects").format(n=int(m.group(1)))
    if text == "all subjects in one arm":
        return _("all subjects in one arm")
    if text == "withheld by the cell rule":
        return _("withheld by the cell rule")
    if text == "withheld with a suppressed group":  # complementary suppression
        return _("withheld with a suppressed group, so that the total does not reveal it")
    return _(text)


def site(siteid) -> str:
    """A site as a page names it: its ID, or the blinding rule's merged row in words."""
    from dashboard.access.blinding import MERGED

    if siteid == MERGED:
        return _("other sites (merged)")
    return siteid


def suppressed_columns(df: pd.DataFrame, key: str = "siteid") -> pd.DataFrame:
    """A suppress_by_group frame with its reasons as people read them: `suppressed` in the reader's
    language (pages show it; they only test it for null), `suppressed_code` the rule's own words
    (the same in every language), and `site_label` the site as a page names it (`siteid` stays the
    code pages compare with blinding.MERGED)."""
    out = df.copy()
    if "suppressed" in out:
        out["suppressed_code"] = out["suppressed"]
        out["suppressed"] = [suppression(r) for r in out["suppressed"]]
    if key in out:
        out["site_label"] = [site(s) for s in out[key]]
    return out


def _given(value) -> bool:
    if value is None:
        return False
    if isinstance(value, (list, tuple)):
        return len(value) > 0
    try:
        return not bool(pd.isna(value)) and value != ""
    except (TypeError, ValueError):
        return True


def localized(df: pd.DataFrame, column: str) -> pd.DataFrame:
    """A build message column in the reader's language: in Chinese `<column>_zh` where the build
    wrote it (a build made before issue 15 has no such column; a row without it keeps the English),
    else the English. The `_zh` twin is dropped either way, so both languages give the same columns."""
    twin = f"{column}_zh"
    if twin not in df.columns:
        return df
    out = df.copy()
    if language() == "zh" and column in out.columns:
        out[column] = [zh if _given(zh) else en for en, zh in zip(out[column], out[twin], strict=True)]
    return out.drop(columns=[twin])
