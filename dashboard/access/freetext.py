"""Free text that may name the arm, matched after normalisation.

Site staff write the arm into verbatims in many spellings: "De‐Escalation" with another dash,
"ｃｏｎｔｒｏｌ ａｒｍ" in full width, "d\u200be\u200b-escalation" with zero-width characters between
the letters, "dе-escalation" with a Cyrillic е, "降級組" in traditional characters. A cell and
every term are brought to one form (`normalize`) before they are compared, and a term matches
at word boundaries (`Matcher`), so that a short term ("arm b") does not match inside unrelated
words ("farm based", "arm bleeding").

The normal form, in order:

0. A word hyphenated across a line break is joined ('de-esca-\\nlation' is 'de-escalation').
1. Unicode compatibility decomposition: NFKC's folding (full-width and mathematical letters,
   ligatures, the small and full-width hyphens, ideographic space), done as NFKD so that accents
   come apart from their letters and can go in step 2.
2. Removed: format characters (category Cf: zero-width space and joiners, word joiner, soft
   hyphen, BOM, bidi controls, tags), combining marks (Mn, Me: accents, the combining grapheme
   joiner, variation selectors) and the four Hangul filler letters (default-ignorable, drawn as
   nothing). Punctuation, symbols, separators and control characters (P*, S*, Z*, Cc: every
   dash, the minus sign, line breaks, ...) and lone surrogates (Cs) become a space.
3. Latin look-alikes folded with the Unicode confusables data (UTS #39 `confusables.txt`, as the
   `confusable-homoglyphs` package ships it; 3.3.1 carries Unicode 15.1's): a character that is
   not ASCII and whose confusable prototype is one ASCII letter becomes that letter (Cyrillic а
   е о р с х у і ѕ ԁ ј һ, Greek ο ν ρ, capitals Α Β Ε Η Κ Μ Ν Ο Ρ Τ Χ, Cherokee, Lisu, ...;
   1,200 characters). No table is written here; one rule is: UTS #39 gives I and l the one
   prototype 'l', and a capital letter with that prototype is taken as an I (Greek Ι).
4. Case folded (str.casefold), and steps 2 and 3 again for what that gives (the lower-case
   forms of capital look-alikes, the dot of a Turkish İ).
5. Traditional Chinese made simplified with OpenCC (`t2s`).
6. Runs of spaces made one; no space at either end.

Matching (`Matcher`): a term holding Latin letters begins where a word begins (not after a
letter or digit) and ends where a word ends, allowing a plural 's'/'es' after a last word of
three letters or more ('control arms'; but 'arm b' does not match 'arm bs', nor 'arm a' 'arm
as'); a term whose last word has five letters or more is a stem and may run on ('de escalat'
matches 'de escalation', 'control group' 'control groups'). A multi-word term also matches
written as one word ('controlarm', 'deescalation'; one of ten letters or more even inside a
longer word, 'theexperimentalgroup', 'randomisedtostandard'), and text spelled out letter by
letter ('c o n t r o l a r m', from 'c-o-n-t-r-o-l a-r-m') is read with those letters joined;
text under a right-to-left override is read backwards too. A
Chinese term matches anywhere, with or without a space between its characters (Chinese has no
spaces, so '对 照 组' is 对照组), except that a term ending in 组 (group) does not match where
组 begins 组织 (tissue), 组合 (combination) or 组成 (composition). Arm codes that are common
words (STANDARD) match only as the whole cell (`whole`).

Known false positives, accepted because withholding a cell costs a blinded reader one verbatim
(the closed session reads it, the finding says where) while a leak costs the blinding: 'arm a'
in "swelling of the left arm a week after surgery", antibiotic de-escalation ("抗生素降阶梯"),
对照 as "compared with" ("与基线对照"), "randomized to" any other thing. On the demo generator's
whole vocabulary and on every visible cell of a generated demo export the matcher flags only
the deviation term planted on purpose (tests/test_freetext.py).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import confusable_homoglyphs.confusables  # noqa: F401  (imported here so that a missing install fails at once)
import opencc
import pyarrow as pa
import pyarrow.compute as pc

from dashboard.i18n import _

_T2S = opencc.OpenCC("t2s")

# Latin letters and digits: a word boundary for a Latin term is anything else (a space, a Chinese
# character, the end of the text).
_LATIN = "0-9a-z\u00c0-\u024f"
_HAS_LATIN = re.compile(f"[{_LATIN}]")
_ASCII_SEPS = re.compile(r"[^0-9a-z]+")
# a run of three or more single letters: text spelled out letter by letter
_SPELLED = re.compile(f"(?<![{_LATIN}])[a-z](?: [a-z]){{2,}}(?![{_LATIN}])")
# Patterns are written for both Python's re and RE2 (which pyarrow's match_substring_regex runs
# over a whole column): no lookaround, so a boundary is a character consumed, or an end.
_BEFORE = f"(?:^|[^{_LATIN}])"
_AFTER = f"(?:$|[^{_LATIN}])"
_SPELLED_ANY = f"{_BEFORE}[a-z](?: [a-z]){{2,}}{_AFTER}"
_STEM_LENGTH = 5
# a word hyphenated across a line break ('de-esca-\nlation'): the hyphen and the break go first
_HYPHEN_BREAK = "[-\u00ad\u2010-\u2015\u2212\ufe63\uff0d][ \t]*(?:\r\n|[\n\r\v\f\x85\u2028\u2029])[ \t]*"
_HYPHEN_BREAK_RE = re.compile(_HYPHEN_BREAK)
# right-to-left embedding, override and isolate: text stored in one order, shown in the other
_RTL = "[\u202b\u202e\u2067]"
_RTL_CHARS = re.compile(_RTL)
# The Default_Ignorable_Code_Point characters (Unicode DerivedCoreProperties.txt) that are
# letters (Lo), not format characters: the Hangul fillers, drawn as nothing.
_IGNORABLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")
_GLUED_LENGTH = 10
_SHORTEST_LATIN = 3  # a configured Latin term has at least this many letters ('arm b' has 4)
# 组织 (organisation: 研究组织) is not the arm; 组合/组成 are rare in a CRF, while 合并症 (试验组合并症)
# and 成员 (标准组成员) after an arm's name are everyday clinical Chinese: they count
_NOT_AFTER_GROUP = "织"
_HAS_CJK = re.compile(r"[\u3400-\u9fff]")  # a term with a Chinese character is not a short Latin word


@lru_cache(maxsize=1)
def _confusable_prototypes() -> dict[str, str]:
    """Non-ASCII characters whose UTS #39 prototype is one ASCII letter, to that letter."""
    from confusable_homoglyphs.confusables import confusables_data

    def resolve(ch: str, depth: int = 0) -> str | None:
        glyphs = [h["c"] for h in confusables_data.get(ch, [])]
        for g in glyphs:
            if len(g) == 1 and g.isascii():
                return g
        if depth < 3:
            for g in glyphs:
                if len(g) == 1 and (r := resolve(g, depth + 1)):
                    return r
        return None

    out = {}
    for ch in confusables_data:
        if len(ch) != 1 or ch.isascii():
            continue
        proto = resolve(ch)
        if proto and proto.isalpha():
            if proto == "l" and "CAPITAL" in unicodedata.name(ch, ""):
                proto = "I"
            out[ch] = proto
    return out


def _fold_char(ch: str) -> str:
    """Steps 2 and 3 for one character (see the module's docstring)."""
    cat = unicodedata.category(ch)
    if cat in ("Cf", "Mn", "Me") or ch in _IGNORABLE_LETTERS:
        return ""
    if cat[0] in "PSZ" or cat in ("Cc", "Cs"):  # Cs: a lone surrogate, not a character
        return " "
    return _confusable_prototypes().get(ch, ch)


class _Table(dict):
    """str.translate table for steps 2 to 4, filled on first sight of each character."""

    def __missing__(self, code: int) -> str:
        value = "".join(_fold_char(c) for c in _fold_char(chr(code)).casefold())
        self[code] = value
        return value


_TABLE = _Table()
# What steps 2 to 4 leave as it is: lower-case ASCII letters, digits, the space and the CJK
# ideographs (none of which is a Latin look-alike: a test checks). Only the other characters go
# through the table, which is what makes Chinese text cheap.
_CHANGING = re.compile("[^0-9a-z \u3400-\u4dbf\u4e00-\u9fff]")


def _translate(m: re.Match) -> str:
    return _TABLE[ord(m.group())]


def normalize(text: str) -> str:
    """The form in which cells and terms are compared (see the module's docstring)."""
    if text.isascii():
        return _ASCII_SEPS.sub(" ", _HYPHEN_BREAK_RE.sub("", text).lower()).strip()
    return _normalize_many([text])[0]


def _normalize_many(texts: list[str]) -> list[str]:
    """`normalize` of each text, with one OpenCC call for all (its per-call cost dominates short
    cells): the texts go through it joined by line breaks, which step 2 has removed from them."""
    texts = [_HYPHEN_BREAK_RE.sub("", t) for t in texts]
    stage = [
        _ASCII_SEPS.sub(" ", t.lower()) if t.isascii() else _CHANGING.sub(_translate, unicodedata.normalize("NFKD", t))
        for t in texts
    ]
    chinese = [i for i, t in enumerate(stage) if not t.isascii()]
    if chinese:
        converted = _T2S.convert("\n".join(stage[i] for i in chinese)).split("\n")
        if len(converted) != len(chinese):  # OpenCC never adds or drops a line break; if it did:
            converted = [_T2S.convert(stage[i]) for i in chinese]
        for i, text in zip(chinese, converted, strict=True):
            stage[i] = text
    return [" ".join(t.split()) for t in stage]


def _joined(normal: str) -> str:
    """Runs of single letters joined into words: 'c o n t r o l a r m' is 'controlarm'."""
    return _SPELLED.sub(lambda m: m.group(0).replace(" ", ""), normal)


def _cjk_right(word: str) -> str:
    if not word.endswith("组"):
        return ""
    return f"(?:$|[^ {_NOT_AFTER_GROUP}]| $| [^{_NOT_AFTER_GROUP}])"  # not followed by 织


def _sequences(term: str) -> list[tuple[bool, tuple[str, ...], str]]:
    """The ways one normalised term is written, each as (begins at a word boundary, the regular
    expression atoms of its characters, the condition after its end). A normalised term holds
    only letters, digits and single spaces, none of them special in a regular expression."""
    if not all(ch == " " or ch.isalnum() for ch in term):
        raise ValueError(_("not a normalised term: {term}").format(term=repr(term)))
    if not _HAS_LATIN.search(term):  # Chinese (or another script without spaces)
        chars = term.replace(" ", "")
        atoms = []
        for i, ch in enumerate(chars):
            atoms += ([" ?"] if i else []) + [ch]
        return [(False, tuple(atoms), _cjk_right(chars))]
    words = term.split(" ")
    last = words[-1]
    if not _HAS_LATIN.search(last[-1]):
        right = _cjk_right(last)
    elif len(last) >= _STEM_LENGTH:
        right = ""  # a stem: may run on into the word
    elif len(last) >= 3:
        right = f"(?:e?s)?{_AFTER}"  # a plural
    else:
        right = _AFTER
    left = bool(_HAS_LATIN.match(term))
    spellings = [(left, " ".join(words), right)]
    if len(words) > 1:  # written as one word; a long one even glued to others ('theexperimentalgroup')
        compact = "".join(words)
        if len(compact) >= _GLUED_LENGTH:
            spellings.append((False, compact, "" if _HAS_LATIN.search(last[-1]) else right))
        else:
            spellings.append((left, compact, right))
    return [(lb, _mixed_atoms(w), end) for lb, w, end in spellings]


def _mixed_atoms(written: str) -> tuple[str, ...]:
    """A spelling's characters as atoms, with an optional space where Latin meets Chinese ('a组'
    is also 'a 组', which is how 'a-组' and 'A.组.' read once punctuation is a space)."""
    atoms: list[str] = []
    for i, ch in enumerate(written):
        before = written[i - 1] if i else " "
        if " " not in (before, ch) and bool(_HAS_CJK.match(before)) != bool(_HAS_CJK.match(ch)):
            atoms.append(" ?")
        atoms.append(ch)
    return tuple(atoms)


def _trie(sequences) -> str:
    """One regular expression for many, merged on common prefixes: Python's re tries the branches
    of an alternation one by one at every position, a trie one character at a time (20 times
    faster for this list)."""
    root: dict = {}
    for atoms, end in sequences:
        node = root
        for a in atoms:
            node = node.setdefault(a, {})
        node.setdefault(None, set()).add(end)

    def render(node: dict) -> str:
        alts = [a + render(node[a]) for a in sorted(k for k in node if k is not None)]
        ends = node.get(None, set())
        optional = "" in ends
        alts += sorted(e for e in ends if e)
        if optional:
            return f"(?:{'|'.join(alts)})?" if alts else ""
        return alts[0] if len(alts) == 1 else f"(?:{'|'.join(alts)})"

    return render(root)


def _pattern(terms) -> str | None:
    """One regular expression (Python re and RE2) for the terms; None when there are none."""
    seqs = [s for t in terms for s in _sequences(t)]
    parts = []
    if latin := [(a, e) for left, a, e in seqs if left]:
        parts.append(_BEFORE + _trie(latin))
    if other := [(a, e) for left, a, e in seqs if not left]:
        parts.append(_trie(other))
    return "|".join(parts) if parts else None


def _compile(terms) -> re.Pattern | None:
    pattern = _pattern(terms)
    return re.compile(pattern) if pattern else None


class Matcher:
    """Does a cell hold one of `terms`, after both are normalised (see the module's docstring)?
    `whole`: values that match only as the whole cell (an arm code that is a common word, such
    as STANDARD)."""

    def __init__(self, terms: list[str], whole: list[str] | None = None):
        self.terms = sorted({n for t in terms if (n := normalize(t))})
        self.whole = frozenset(n for t in whole or [] if (n := normalize(t)))
        self.pattern = _pattern(self.terms)
        self._re = re.compile(self.pattern) if self.pattern else None
        self._cached = lru_cache(maxsize=1 << 16)(self._match)
        self._known: dict[str, bool] = {}  # answers of array(), kept across calls

    def which(self, text: str | None) -> str | None:
        """The normalised term (or whole value) that `text` matches, for messages; None if none."""
        if not self(text):
            return None
        n = normalize(text)
        for form in [n, *self._forms(text, n)]:
            if form in self.whole:
                return form
            for t in self.terms:
                if _compile([t]).search(form):
                    return t
        return None

    def _match(self, text: str) -> bool:
        n = normalize(text)
        if n in self.whole:
            return True
        if self._re is None:
            return False
        if self._re.search(n):
            return True
        return self._second_look(text, n)

    def __call__(self, text: str | None) -> bool:
        """True when the text may name the arm; None is False."""
        if text is None:
            return False
        return self._cached(text)

    def array(self, values: pa.Array | pa.ChunkedArray) -> pa.Array:
        """The matcher over an Arrow string array (NULL is false), the same answers as calling it
        on each cell: a value seen before (in this call or an earlier one) is answered from
        memory; the others are normalised (ASCII ones by Arrow kernels, others in Python) and
        searched all at once by RE2 (pyarrow's match_substring_regex) with the same pattern."""
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        if not pa.types.is_dictionary(values.type):
            values = pc.dictionary_encode(values)
        distinct = values.dictionary.cast(pa.string()).to_pylist()
        known = [self._known.get(v) for v in distinct]
        new = [i for i, k in enumerate(known) if k is None]
        if new:
            if len(self._known) > 1 << 18:
                self._known.clear()
            texts = [distinct[i] for i in new]
            for i, text, flag in zip(new, texts, self._flags(texts), strict=True):
                known[i] = self._known[text] = flag
        out = pc.take(pa.array(known, pa.bool_()), values.indices)
        return pc.fill_null(out, False) if out.null_count else out

    def _flags(self, texts: list[str]) -> list[bool]:
        """The answers for distinct, non-null texts."""
        if self._re is None and not self.whole:
            return [False] * len(texts)
        arr = pa.array(texts, pa.string())
        if pc.all(pc.string_is_ascii(arr)).as_py():  # Arrow kernels, as normalize() does for ASCII
            joined = pc.replace_substring_regex(arr, _HYPHEN_BREAK, "")
            normal = pc.utf8_trim(pc.replace_substring_regex(pc.ascii_lower(joined), "[^0-9a-z]+", " "), " ")
        else:
            normal = pa.array(_normalize_many(texts), pa.string())
        hit = pc.is_in(normal, value_set=pa.array(sorted(self.whole), pa.string()))
        if self.pattern:
            hit = pc.or_(hit, pc.match_substring_regex(normal, self.pattern))
        maybe = pc.or_(pc.match_substring_regex(normal, _SPELLED_ANY), pc.match_substring_regex(arr, _RTL))
        maybe = pc.and_(pc.invert(hit), maybe)
        if pc.any(maybe).as_py():
            again = [
                m and self._second_look(t, n)
                for m, t, n in zip(maybe.to_pylist(), texts, normal.to_pylist(), strict=True)
            ]
            hit = pc.or_(hit, pa.array(again, pa.bool_()))
        return hit.to_pylist()

    def _forms(self, text: str, normal: str) -> list[str]:
        """Other readings of a cell: spelled-out letters joined; and, when the text holds a
        right-to-left override, embedding or isolate (which can show 'noitalacse-ed' as
        'de-escalation'), the normal form reversed."""
        forms = [_joined(normal)] if _SPELLED.search(normal) else []
        if _RTL_CHARS.search(text):
            back = normal[::-1]
            forms += [back, _joined(back)]
        return forms

    def _second_look(self, text: str, normal: str) -> bool:
        return any(f in self.whole or bool(self._re and self._re.search(f)) for f in self._forms(text, normal))


def matcher(cfg) -> Matcher:
    """The trial's matcher (cfg: dashboard.config.TrialConfig): the configured free-text terms
    and the protocol surgery's values anywhere in a cell; an arm code as the whole cell, and
    beside 'arm', 'group', 组 (group) or 臂 (arm)."""
    b = cfg.blinding
    near = []
    for code in cfg.arm_codes:
        near += [f"{code} arm", f"{code} group", f"arm {code}", f"group {code}", f"{code}组", f"{code}臂"]
    return Matcher([*b.free_text_terms, *b.protocol_surgery_values, *near], whole=list(cfg.arm_codes))


def conflicts(cfg, spec, hidden: set[str]) -> list[str]:
    """What is wrong with the configured terms, for the build to refuse: coded values of columns
    blinded users see (spec: dashboard.config.CrfSpec; `hidden`: the upper-case names of columns
    they never see) that the trial's matcher would take for a mention of the arm, and the
    withholding mark itself if it would (withholding would blank a code, or mark its own mark);
    a term that is nothing once normalised; a Latin term of fewer than three letters."""
    from dashboard.access.blinding import FREE_TEXT_MARK

    m = matcher(cfg)
    out = []
    for term in cfg.blinding.free_text_terms:
        n = normalize(term)
        if term.strip() and not n:
            out.append(
                _(
                    "free_text_terms: {term} is nothing once normalised (only punctuation or invisible characters)"
                ).format(term=repr(term))
            )
        elif _HAS_LATIN.search(n) and not _HAS_CJK.search(n) and len(n.replace(" ", "")) < _SHORTEST_LATIN:
            out.append(
                _("free_text_terms: {term} is too short: it would match that word in any text").format(term=repr(term))
            )
    if term := m.which(FREE_TEXT_MARK):
        out.append(
            _("free_text_terms: {term} matches the mark {mark}").format(term=repr(term), mark=repr(FREE_TEXT_MARK))
        )
    for form_name, form in spec.forms.items():
        for col in form.columns:
            if col.name.upper() in hidden:
                continue
            for code in col.codes or []:
                if term := m.which(code):
                    out.append(
                        _("free_text_terms: {term} matches the code {code} of {form}.{column}").format(
                            term=repr(term), code=repr(code), form=form_name, column=col.name
                        )
                    )
    return out


def uncaught_arm_names(cfg) -> list[str]:
    """Each arm's own name, in either language (`label`, `label_zh`), that no configured term
    catches: a cell naming it would reach blinded roles. The build refuses such a configuration."""
    m = matcher(cfg)
    out = []
    for arm in cfg.arms:
        for name in (arm.label, arm.label_zh):
            if name and not m.which(name):
                out.append(
                    _(
                        "free_text_terms: no term catches the arm's name {name}: a cell naming it would "
                        "reach blinded roles"
                    ).format(name=repr(name))
                )
    return out


UDF = "may_name_arm"  # the name the build's SQL calls the matcher by


def register(con, cfg, name: str = UDF) -> None:
    """Register `name(VARCHAR) -> BOOLEAN` on a DuckDB connection: a vectorised (Arrow) scalar
    UDF, true when the text may name the arm (`matcher(cfg)`), false for NULL. The connection's
    cursors see it too; registering the name again on the same connection replaces it (on a
    cursor of a connection that has it, DuckDB refuses: CatalogException)."""
    import duckdb

    try:
        con.remove_function(name)
    except duckdb.InvalidInputException:
        pass  # not registered yet
    con.create_function(
        name,
        matcher(cfg).array,
        [duckdb.sqltype("VARCHAR")],
        duckdb.sqltype("BOOLEAN"),
        type="arrow",
        null_handling="special",
        side_effects=False,
    )
