"""Free text that names the arm in a spelling outside the configured words (issue 11, class 2):
every configured term, synonym and arm value rendered in hostile spellings (full width, every
dash, zero-width and soft-hyphen characters between the letters, case mixes, Cyrillic and Greek
look-alikes, traditional Chinese, punctuation and line breaks between the words) must match;
ordinary clinical verbatims (the demo generator's vocabulary and a few more) must not; and the
DuckDB UDF answers as the matcher does. Also: text stored backwards under a right-to-left
override (shown forwards), and text spelled out letter by letter."""

from __future__ import annotations

import ast
import itertools
import re
import time
from pathlib import Path

import duckdb
import opencc
import pyarrow as pa
import pytest

from dashboard.access import freetext
from dashboard.access.blinding import FREE_TEXT_MARK
from dashboard.config import load_crf_spec, load_trial
from dashboard.devtools.demo import vocabulary

CFG = load_trial()
MATCH = freetext.matcher(CFG)

DASHES = ["-", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2015", "\u2212", "\ufe63", "\uff0d", "\u2e3a"]
INVISIBLE = [
    *["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e", "\u200e", "\u202e", "\u2066"],
    *["\U000e0041", "\u034f", "\ufe0f", "\U000e0100", "\u3164", "\uffa0", "\u115f"],
]
BETWEEN_WORDS = [
    "  ",
    "\t",
    "\n",
    "\r\n",
    "\u00a0",
    "\u3000",
    "\u2009",
    "_",
    "/",
    ".",
    ", ",
    " - ",
    "·",
    "\u2014",
    "\uff0c",
    "\u3001",
    "~",
    "*",
    "|",
]
# test data: a few look-alikes of each kind, to render terms with (the matcher itself folds by
# the Unicode confusables data, not by this list)
CYRILLIC = str.maketrans("aceopxyisjhABEHKMOPCTX", "асеорхуіѕјһАВЕНКМОРСТХ")
GREEK = str.maketrans("aoviABEHIKMNOPTXYZ", "αονιΑΒΕΗΙΚΜΝΟΡΤΧΥΖ")
TO_TRADITIONAL = [opencc.OpenCC(c) for c in ("s2t", "s2tw", "s2hk")]


def _latin(term: str) -> bool:
    return bool(re.search("[A-Za-z]", term))


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" if c == " " else c for c in text)


def _between_letters(text: str, sep: str) -> str:
    return sep.join(text)


def _alternate_case(text: str) -> str:
    return "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(text))


def _hyphenate(word: str, joint: str) -> str:
    """A word broken across two lines at its middle, as a word processor hyphenates it."""
    half = len(word) // 2
    return word[:half] + joint + word[half:] if len(word) >= 4 else word


def _words(term: str) -> list[str]:
    return [w for w in re.split(r"[\s\-]+", term) if w]


def latin_variants(term: str) -> dict[str, str]:
    """Hostile spellings of a Latin term."""
    words = _words(term)
    plain = " ".join(words)
    out = {
        "as configured": term,
        "lower": term.lower(),
        "title": term.title(),
        "alternating case": _alternate_case(plain),
        "full width": _full_width(term),
        "full width lower": _full_width(plain.lower()),
        "as one word": "".join(words).lower(),
        "camel case": "".join(w.title() for w in words),
        "accent on a letter": plain.lower().replace("e", "e\u0301", 1).replace("a", "\u00e0", 1),
        "mathematical bold": "".join(chr(0x1D41A + ord(c) - 97) if "a" <= c <= "z" else c for c in plain.lower()),
        "cyrillic look-alikes": plain.lower().translate(CYRILLIC),
        "cyrillic look-alikes, capitals": plain.upper().translate(CYRILLIC),
        "greek look-alikes": plain.lower().translate(GREEK),
        "greek look-alikes, capitals": plain.upper().translate(GREEK),
        "spelled out with hyphens": " ".join("-".join(w) for w in words).lower(),
        "spelled out with dots": " ".join(".".join(w) + "." for w in words).upper(),
        "hyphenated across lines": " ".join(_hyphenate(w, "-\n") for w in words),
        "hyphenated across lines, CRLF": " ".join(_hyphenate(w.upper(), "\u2010\r\n  ") for w in words),
        # stored backwards, shown forwards
        "right-to-left override": "\u202e" + plain[::-1] + "\u202c",
        "right-to-left isolate": "\u2067" + plain.lower()[::-1] + "\u2069",
    }
    for d in DASHES:
        out[f"dash U+{ord(d):04X}"] = d.join(words)
    for z in INVISIBLE:
        out[f"U+{ord(z):04X} between every letter"] = _between_letters(plain, z)
    for i, sep in enumerate(BETWEEN_WORDS):
        out[f"between words #{i} {sep!r}"] = sep.join(words)
    return out


def chinese_variants(term: str) -> dict[str, str]:
    """Hostile spellings of a Chinese term."""
    out = {"as configured": term, "right-to-left override": "\u202e" + term[::-1] + "\u202c"}
    for i, conv in enumerate(TO_TRADITIONAL):
        out[f"traditional #{i}"] = conv.convert(term)
    for z in INVISIBLE:
        out[f"U+{ord(z):04X} between every character"] = _between_letters(term, z)
        out[f"traditional, U+{ord(z):04X} between"] = _between_letters(TO_TRADITIONAL[0].convert(term), z)
    for sep in (" ", "\u3000", "·", "\n", "-", "\u2014", "_"):
        out[f"{sep!r} between every character"] = _between_letters(term, sep)
    return out


def _contexts(text: str) -> list[str]:
    """The term alone, in an English sentence, in a Chinese one, and glued to Chinese text."""
    return [
        text,
        f"Pt. was {text}; surgery moved by a week",
        f"({text})",
        f"受试者{text}，术后访视超出访视窗",
        f"随机入{text}后出血",
    ]


def _terms() -> list[str]:
    b = CFG.blinding
    near = [f"{c} {w}" for c in CFG.arm_codes for w in ("arm", "group")] + [
        f"{w} {c}" for c in CFG.arm_codes for w in ("arm", "group")
    ]
    synonyms = [  # the adversarial review's own examples
        "control group",
        "arm B",
        "the experimental group",
        "randomised to standard",
        "investigational arm",
        "对照",
        "实验组",
        "研究组",
        "降級",
        "標準組",
        "對照組",
        "試驗組",
        "dе-escalation",  # Cyrillic е
    ]
    return [*b.free_text_terms, *b.protocol_surgery_values, *near, *synonyms]


def hostile_corpus() -> list[tuple[str, str, str]]:
    """(term, variant, text) for every term, every spelling and every context."""
    out = []
    for term in _terms():
        variants = latin_variants(term) if _latin(term) else chinese_variants(term)
        if _latin(term) and len(_words(term)[-1]) >= 3:
            variants["plural"] = " ".join(_words(term)).lower() + "s"
        for name, text in variants.items():
            out += [(term, name, t) for t in _contexts(text)]
    for code in CFG.arm_codes:  # the arm value as a whole cell, in each spelling
        for name, text in latin_variants(code).items():
            out.append((code, name, text))
    return out


HOSTILE = hostile_corpus()


def test_the_hostile_corpus_is_large_and_every_spelling_names_the_arm():
    assert len(HOSTILE) > 10_000
    missed = [(term, name, text) for term, name, text in HOSTILE if not MATCH(text)]
    assert missed == [], f"{len(missed)} of {len(HOSTILE)} missed, e.g. {missed[:10]}"


def test_traditional_chinese_is_simplified_and_the_configured_terms_are_simplified():
    assert freetext.normalize("降級組 標準組 對照組 試驗組") == "降级组 标准组 对照组 试验组"
    s2t = TO_TRADITIONAL[0]
    chinese = [t for t in CFG.blinding.free_text_terms if not _latin(t)]
    assert chinese and all(opencc.OpenCC("t2s").convert(t) == t for t in chinese)
    assert any(s2t.convert(t) != t for t in chinese)  # the corpus really has traditional forms


# ------------------------------------------------------------------------------ must not match
def _demo_vocabulary() -> list[str]:
    """Every verbatim the demo generator writes: AE terms (Chinese verbatim, MedDRA term and
    SOC), deviation terms (those of vocabulary.py and the ones written in forms.py), hospitals,
    cities, drugs."""
    out = []
    for rows in (
        vocabulary._AE_IMMUNE,
        vocabulary._AE_GENERAL,
        vocabulary._AE_SURGICAL,
        vocabulary._FATAL_SURGICAL,
        vocabulary._AE_RT,
    ):
        out += [cell for row in rows for cell in row[:3]]
    out += [row[2] for row in vocabulary._DV_RANDOM]
    out += [cell for row in vocabulary._HOSPITALS for cell in row]
    out += [c + s for c in vocabulary._CITIES for s in vocabulary._SUFFIXES]
    out += [cell for row in vocabulary._DRUGS for cell in row[:2]]
    forms = Path(vocabulary.__file__).with_name("forms.py")
    out += [
        node.value
        for node in ast.walk(ast.parse(forms.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.search("[\u4e00-\u9fff]", node.value)
    ]
    return out


ORDINARY = [
    "standard of care analgesia",
    "Standard dose of paracetamol",
    "standard deviation of the measurement",
    "SUV standardised uptake value 4.2",
    "armpit abscess",
    "left armpit rash",
    "farm based worker",
    "Farm-based worker, exposure to pesticides",
    "alarm bell fatigue",
    "harmless rash",
    "forearm cellulitis",
    "left arm swelling",
    "Arm bleeding after cannula removal",
    "arm based IV line",
    "pain in arm as well as neck",
    "warm compress applied",
    "pharmacy dispensing error",
    "Blood pressure control poor",
    "pain controlled with oxycodone",
    "glycaemic control",
    "quality control sample haemolysed",
    "group therapy session missed",
    "study visit missed",
    "study drug interrupted",
    "randomisation visit delayed",
    "randomization performed late",
    "Patient escalated to ICU",
    "dose escalation of morphine",
    "intensification of insulin",
    "conventional radiotherapy fractionation",
    "the investigator's decision",
    "experimental evidence of infection",
    "Concomitant medication not recorded",
    "Consent form re-signed, version 2.1",
    "术后病理组织学检查",
    "研究组织样本未送检",
    "常规组织病理检查",
    "标准剂量",
    "不符合入选标准4",
    "诊断标准",
    "肿瘤分级",
    "降钙素升高",
    "组合用药",
    "试验用药品",
    "研究者签名缺失",
    "伤口感染",
    FREE_TEXT_MARK,
]


def test_ordinary_clinical_verbatims_do_not_match():
    corpus = _demo_vocabulary() + ORDINARY
    assert len(corpus) > 600
    false_positives = [(t, MATCH.which(t)) for t in corpus if MATCH(t)]
    assert false_positives == []


def test_the_demo_generators_planted_term_matches():
    """The one deviation term the demo plants on purpose (dashboard/devtools/demo/__init__.py)."""
    demo = Path(vocabulary.__file__).with_name("__init__.py").read_text(encoding="utf-8")
    planted = re.search(r'"(受试者入[^"]+)"', demo).group(1)
    assert MATCH(planted) and MATCH.which(planted) == "降级"


@pytest.mark.parametrize("seed", [20260101, 7])
def test_on_a_whole_demo_package_only_the_planted_cell_matches(tmp_path, seed):
    """Every cell a blinded role may see in a generated demo export (about 78,000): the
    matcher flags the planted deviation term and nothing else (0 false positives)."""
    import csv

    from dashboard.devtools.demo import write_demo_package
    from dashboard.ingest.guard import hidden_columns

    out = write_demo_package(tmp_path / "pkg", seed=seed)
    hidden = hidden_columns(CFG)
    cells, flagged = 0, []
    for path in sorted((tmp_path / "pkg").glob("*.csv")):
        with open(path, encoding="utf-8-sig", newline="") as f:
            for row in csv.DictReader(f):
                for col, value in row.items():
                    if col.upper() in hidden or not value:
                        continue
                    cells += 1
                    if MATCH(value):
                        flagged.append((path.name, col, row["SUBJID"]))
    assert cells > 50_000
    assert flagged == [("DV.csv", "DVTERM", s) for s in out["planted"]["free_text_arm"]]
    assert len(flagged) == 1


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("arm b", True),
        ("ARM-B", True),
        ("ArmB", True),
        ("farm b", False),  # a word boundary before 'arm'
        ("arm based", False),  # and after 'b'
        ("arm b12 deficiency", False),
        ("arm bs", False),  # no plural after one letter
        ("control arms", True),  # a plural after 'arm'
        ("de-escalation", True),  # a stem runs on
        ("de-escalated", True),
        ("standard armpit dressing", False),
        ("standard", True),  # an arm code as the whole cell
        ("Standard.", True),
        ("standard of care", False),  # but not inside a sentence
        ("s t a n d a r d", True),
        ("标准组织", False),  # 组织 is tissue
        ("标准组 织", False),
        ("标准组", True),
        ("对照", True),
        ("分入STANDARD组", True),
        (None, False),
        ("", False),
    ],
)
def test_word_boundaries(text, matches):
    assert MATCH(text) is matches


def test_normalize_is_idempotent_and_terms_are_normalised_the_same_way():
    for _term, _name, text in itertools.islice(HOSTILE, 0, None, 7):
        once = freetext.normalize(text)
        assert freetext.normalize(once) == once
    # format characters go (a soft hyphen joins), separators become one space
    assert freetext.normalize("Ｃｏｎ\u00adｔｒｏｌ\u00a0\u200bＡｒｍ—Ｂ") == "control arm b"
    assert freetext.normalize("DE\u2011ESCALATION\r\nSURGERY") == "de escalation surgery"
    assert freetext.Matcher(["Ｃｏｎｔｒｏｌ　Ａｒｍ"]).terms == ["control arm"]


def test_odd_python_strings_do_not_break_it():
    assert MATCH("\ud800对照") and MATCH("x\x00control arm") and MATCH("\U0001f600control arm")
    assert freetext.normalize("\ud800") == ""


def test_an_empty_matcher_matches_nothing():
    m = freetext.Matcher([])
    assert not m("de-escalation") and not m(None)
    assert m.which("anything") is None


def test_no_visible_code_and_not_the_mark_would_be_withheld():
    """The build's rule (a term must not blank a code blinded users see), read with the
    normalising matcher: no coded value of a visible column matches, nor the mark."""
    from dashboard.ingest.guard import hidden_columns

    assert freetext.conflicts(CFG, load_crf_spec(), hidden_columns(CFG)) == []
    # and it does find one: the arm codes themselves, when ARM is not hidden
    found = freetext.conflicts(CFG, load_crf_spec(), set())
    assert any("'STANDARD' of RAND.ARM" in f for f in found)
    broad = CFG.model_copy(
        update={
            "blinding": CFG.blinding.model_copy(update={"free_text_terms": ["SCREEN", "SCREEN FAIL", "name the arm"]})
        }
    )
    found = freetext.conflicts(broad, load_crf_spec(), hidden_columns(CFG))
    assert "free_text_terms: 'screen' matches the code 'SCREEN FAILURE' of SCREENING.SCRNOUT" in found
    # 'screen fail' ends where a word ends: it does not match SCREEN FAILURE
    assert not any("'screen fail'" in f for f in found)
    odd = CFG.model_copy(
        update={"blinding": CFG.blinding.model_copy(update={"free_text_terms": ["—\u200b", "A", "对照"]})}
    )
    assert freetext.conflicts(odd, load_crf_spec(), hidden_columns(CFG)) == [
        "free_text_terms: "
        + repr("—\u200b")
        + " is nothing once normalised (only punctuation or invisible characters)",
        "free_text_terms: 'A' is too short: it would match that word in any text",
    ]
    assert f"free_text_terms: 'name the arm' matches the mark {FREE_TEXT_MARK!r}" in found


# --------------------------------------------------------------------------------- the DuckDB UDF
def test_the_udf_answers_as_the_matcher_on_a_real_duckdb_file(tmp_path):
    texts = [t for _term, _name, t in HOSTILE[::3]] + _demo_vocabulary() + ORDINARY
    con = duckdb.connect(str(tmp_path / "udf.duckdb"))
    try:
        freetext.register(con, CFG)
        con.register("arrow_cells", pa.table({"i": list(range(len(texts))) + [-1], "v": texts + [None]}))
        con.execute("create table cells as select * from arrow_cells")
        got = dict(con.execute("select i, may_name_arm(v) from cells").fetchall())
        assert got.pop(-1) is False  # NULL is false, not NULL
        assert got == {i: MATCH(t) for i, t in enumerate(texts)}
        # in a CASE as the build writes cells, and under another name
        freetext.register(con, CFG, name="names_arm")
        marked = con.execute(
            "select count(*) from (select case when names_arm(v) then 'x' else v end as v from cells) where v = 'x'"
        ).fetchone()[0]
        assert marked == sum(MATCH(t) for t in texts)
    finally:
        con.close()


def test_the_udf_is_seen_by_cursors_and_read_only_connections_and_can_be_registered_again(tmp_path):
    path = tmp_path / "blinded.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create table t as select 'Ｃｏｎｔｒｏｌ\u2011Ａｒｍ' as v union all select 'wound infection'")
    con.close()
    ro = duckdb.connect(str(path), read_only=True)  # as the guard opens the blinded file
    try:
        freetext.register(ro, CFG)
        freetext.register(ro, CFG)  # again: replaced, not refused
        assert ro.cursor().execute("select v, may_name_arm(v) from t order by v").fetchall() == [
            ("wound infection", False),
            ("Ｃｏｎｔｒｏｌ\u2011Ａｒｍ", True),
        ]
    finally:
        ro.close()


def test_the_udf_reads_string_views_too():
    con = duckdb.connect()
    try:
        freetext.register(con, CFG)
        con.execute("set produce_arrow_string_view = true")
        rows = con.execute("select v, may_name_arm(v) from (values ('Control‐Arm'), (NULL), ('wound')) t(v)").fetchall()
        assert rows == [("Control‐Arm", True), (None, False), ("wound", False)]
    finally:
        con.close()


def test_what_the_table_leaves_unchanged_is_really_unchanged():
    """normalize() sends only some characters through its table: the others (lower-case ASCII
    letters, digits, the space, CJK ideographs) must be ones the table maps to themselves."""
    for code in [*range(0x30, 0x3A), *range(0x61, 0x7B), 0x20, *range(0x3400, 0x4DC0), *range(0x4E00, 0xA000)]:
        assert freetext._fold_char(chr(code)).casefold() == chr(code), hex(code)
    assert not freetext._CHANGING.search("abc 123 对照组 䶵")
    # the look-alike fold comes from the Unicode data, and covers the usual suspects
    protos = freetext._confusable_prototypes()
    assert len(protos) > 1000
    assert [protos[c].lower() for c in "аеорсхуіѕԁјһαονρΙ"] == list("aeopcxyisdjhaovpi")


def test_the_matcher_reads_arrow_arrays_with_nulls_and_chunks():
    arr = pa.chunked_array([["control arm", None, "伤口感染"], [None, "降級"]])
    assert MATCH.array(arr).to_pylist() == [True, False, False, False, True]
    assert MATCH.array(pa.array([], pa.string())).to_pylist() == []


def test_the_udf_is_fast_on_200000_cells(capsys):
    """200,000 cells: the demo's verbatims repeated (as a real export repeats them), and 200,000
    distinct cells (the worst case: nothing to share)."""
    vocab = _demo_vocabulary()
    repeated = [vocab[i % len(vocab)] for i in range(200_000)]
    distinct = [f"{vocab[i % len(vocab)]} 第{i}次 day {i}" for i in range(200_000)]
    timings = {}
    for name, data in (("repeated", repeated), ("distinct", distinct)):
        con = duckdb.connect()
        freetext.register(con, CFG)
        con.execute("create table t as select unnest($1) as v", [data])
        start = time.perf_counter()
        n = con.execute("select count(*) filter (where may_name_arm(v)) from t").fetchone()[0]
        timings[name] = time.perf_counter() - start
        con.close()
        assert n == sum(map(MATCH, data))
    with capsys.disabled():
        print(f"\nmay_name_arm on 200,000 cells: {timings['repeated']:.2f} s repeated, ", end="")
        print(f"{timings['distinct']:.2f} s distinct")
    assert timings["repeated"] < 3
    assert timings["distinct"] < 20


# ------------------------------------------------------------------------------- a whole build
def _build_sample() -> list[str]:
    """A spread of the hostile corpus for a real build: each kind of spelling of a few terms."""
    kinds = (
        "full width",
        "dash U+2011",
        "dash U+2212",
        "U+200B between every letter",
        "U+00AD between every letter",
        "U+FEFF between every letter",
        "cyrillic look-alikes",
        "greek look-alikes, capitals",
        "between words #3 '\\r\\n'",
        "between words #7 '_'",
        "traditional #0",
        "traditional #1",
        "'·' between every character",
        "spelled out with hyphens",
        "as one word",
    )
    terms = {"control group", "arm B", "DE-ESCALAT", "标准组", "对照", "实验组", "STANDARD ARM"}
    picked = {}
    for term, name, text in HOSTILE:
        if term in terms and name in kinds and text.startswith(("Pt.", "受试者")):
            picked.setdefault((term, name), text)
    return sorted(set(picked.values()))


def test_a_build_withholds_every_hostile_spelling_and_keeps_ordinary_text(tmp_path):
    """A package whose deviation terms and AE verbatims carry the hostile spellings: the blinded
    file holds the mark in each of those cells (and in the derived adverse_events) and the
    ordinary text unchanged, the closed file keeps every text, each withheld cell is a finding,
    and the build's guard passes the blinded file."""
    from dashboard.ingest.build import build
    from dashboard.store import warehouse
    from factory import small_trial

    hostile = _build_sample()
    ordinary = ORDINARY[:-1] + _demo_vocabulary()[:40]  # not the mark itself
    assert len(hostile) > 40
    pkg = small_trial()
    for i, text in enumerate(hostile + ordinary, start=1):
        pkg.add(
            "DV",
            SUBJID="01-001",
            SITEID="01",
            DVSPID=str(i),
            DVSTDAT="2026-03-20",
            DVCAT="PROCEDURE",
            DVTERM=text,
            DVSEV="MINOR",
        )
    for i, (a, b) in enumerate(zip(hostile, reversed(ordinary), strict=False), start=1):
        pkg.add(
            "AE",
            SUBJID="02-001",
            SITEID="02",
            AESPID=str(i),
            AETERM=a,
            AESTDAT="2026-05-12",
            AETOXGR="1",
            AESER="N",
            NOTES=b,
        )
    build(pkg.write(tmp_path / "pkg"), tmp_path / "wh")
    blinded, closed = warehouse.connect(tmp_path / "wh"), warehouse.connect(tmp_path / "wh", closed=True)
    try:
        dv = dict(blinded.execute("select dvspid::int, dvterm from crf_dv where subjid = '01-001'").fetchall())
        kept = dict(closed.execute("select dvspid::int, dvterm from crf_dv where subjid = '01-001'").fetchall())
        ae = blinded.execute(
            "select aeterm from adverse_events where subjid = '02-001' order by aespid::int"
        ).fetchall()
        notes = closed.execute("select notes from crf_ae where subjid = '02-001' order by aespid::int").fetchall()
        n_findings = blinded.execute(
            "select count(*) from findings where kind = 'free text that may name the arm'"
        ).fetchone()[0]
    finally:
        blinded.close()
        closed.close()
    texts = hostile + ordinary
    leaked = [texts[i - 1] for i, v in dv.items() if i <= len(hostile) and v != FREE_TEXT_MARK]
    assert leaked == []
    assert [dv[i] for i in range(len(hostile) + 1, len(texts) + 1)] == [t.strip() or None for t in ordinary]
    assert [kept[i] for i in range(1, len(texts) + 1)] == texts
    assert ae == [(FREE_TEXT_MARK,)] * len(hostile)  # the derived copy of the verbatim, too
    assert [n for (n,) in notes] == list(reversed(ordinary))[: len(hostile)]  # closed only (not in the spec)
    assert n_findings == 2 * len(hostile)
