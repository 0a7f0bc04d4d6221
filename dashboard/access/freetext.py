"""Free text that may name the arm, matched after normalisation.

Site staff write the arm into verbatims in many spellings. Before matching, a cell and every
term are brought to one form (`normalize`), and a term matches at word boundaries (`Matcher`).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc
import pyarrow as pa

_T2S = opencc.OpenCC("t2s")


def _is_sep(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat[0] in "PSZ" or cat == "Cc"


def normalize(text: str) -> str:
    """One form for matching: NFKD, format characters and combining marks removed, case folded,
    traditional Chinese made simplified, every run of punctuation, symbols and white space one
    space."""
    if text.isascii():
        out = re.sub(r"[^0-9a-z]+", " ", text.lower())
        return out.strip()
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cf", "Mn", "Me"))
    text = text.casefold()
    text = _T2S.convert(text)
    text = unicodedata.normalize("NFKC", text)
    return " ".join("".join(" " if _is_sep(ch) else ch for ch in text).split())


_LATIN = "0-9a-z\u00c0-\u024f"


def _term_pattern(term: str) -> str:
    words = term.split(" ")
    body = r"\ ".join(re.escape(w) for w in words)
    left = f"(?<![{_LATIN}])" if re.match(f"[{_LATIN}]", term) else ""
    if re.search(f"[{_LATIN}]$", term):
        if len(words[-1]) >= 5:
            right = ""  # a stem such as 'escalat': may run on into the word
        else:
            right = f"(?:e?s)?(?![{_LATIN}])"
    elif term.endswith("组"):
        right = "(?![织合成])"  # 组织 tissue, 组合 combination, 组成 composition
    else:
        right = ""
    return left + body + right


class Matcher:
    """Does a cell hold one of the terms, after both are normalised? A Latin term begins at the
    start of a word and ends at the end of one (a plural 's' allowed) unless its last word is
    five letters or longer, which makes it a stem; a Chinese term matches anywhere."""

    def __init__(self, terms: list[str], whole: list[str] | None = None):
        self.terms = sorted({n for t in terms if (n := normalize(t))})
        self.whole = {n for t in whole or [] if (n := normalize(t))}
        alts = set()
        for t in self.terms:
            alts.add(_term_pattern(t))
            if " " in t and re.search(f"[{_LATIN}]", t):
                compact = t.replace(" ", "")
                alts.add(_term_pattern(compact) if len(t.split(" ")[-1]) < 5 else _stem(compact))
        self._re = re.compile("|".join(sorted(alts))) if alts else None
        self._cached = lru_cache(maxsize=1 << 16)(self._match)

    def _match(self, text: str) -> bool:
        n = normalize(text)
        if n in self.whole:
            return True
        return bool(self._re and self._re.search(n))

    def __call__(self, text: str | None) -> bool:
        if text is None:
            return False
        return self._cached(text)

    def array(self, values: pa.Array | pa.ChunkedArray) -> pa.Array:
        """The matcher over an Arrow string array, each distinct value once; NULL is false."""
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        if not pa.types.is_dictionary(values.type):
            values = values.dictionary_encode()
        flags = pa.array([self._match(v) for v in values.dictionary.to_pylist()], pa.bool_())
        indices = values.indices
        out = flags.take(indices.fill_null(0))
        if indices.null_count:
            import pyarrow.compute as pc

            out = pc.and_kleene(out, pc.is_valid(indices))
            out = pc.fill_null(out, False)
        return out


def _stem(compact: str) -> str:
    return f"(?<![{_LATIN}])" + re.escape(compact)


def matcher(cfg) -> Matcher:
    """The trial's matcher: the configured terms and the protocol surgery's values anywhere in a
    cell; an arm code (a common word such as STANDARD) as the whole cell, or beside 'arm' or
    'group'."""
    b = cfg.blinding
    near = []
    for code in cfg.arm_codes:
        near += [f"{code} arm", f"{code} group", f"arm {code}", f"group {code}", f"{code}组", f"{code}臂"]
    return Matcher([*b.free_text_terms, *b.protocol_surgery_values, *near], whole=list(cfg.arm_codes))


def register(con, cfg, name: str = "may_name_arm") -> None:
    """Register `name(VARCHAR) -> BOOLEAN` on a DuckDB connection: a vectorised (Arrow) UDF
    that is true when the text may name the arm, false for NULL."""
    import duckdb

    m = matcher(cfg)
    con.create_function(
        name,
        m.array,
        [duckdb.sqltype("VARCHAR")],
        duckdb.sqltype("BOOLEAN"),
        type="arrow",
        null_handling="special",
        side_effects=False,
    )
