"""The message catalogues: extracted from the code with Babel, kept as `.po` files (the translators'
text, in git), compiled to `.mo` (what gettext reads; made by scripts/setup.sh, not in git).

    python -m dashboard i18n extract     # the code's messages into every .po (new ones untranslated)
    python -m dashboard i18n compile     # .po -> .mo
    python -m dashboard i18n check       # messages of the code missing from a catalogue, or untranslated

No Streamlit here.
"""

from __future__ import annotations

import gettext as _gettext
import io
import re
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir, extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from dashboard.i18n import DEFAULT, DOMAINS, GETTEXT_LOCALE, LANGUAGES, LOCALE_DIR

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}
"""The functions whose first argument is a message (ngettext: singular and plural)."""
TRANSLATED = [lang for lang in LANGUAGES if lang != DEFAULT]


class CatalogueError(Exception):
    pass


def po_path(lang: str, domain: str) -> Path:
    return LOCALE_DIR / GETTEXT_LOCALE[lang] / "LC_MESSAGES" / f"{domain}.po"


def mo_path(lang: str, domain: str) -> Path:
    return po_path(lang, domain).with_suffix(".mo")


def extract(domain: str) -> Catalog:
    """The messages of a domain's code, with where each is used."""
    template = Catalog(project="neo-margin", domain=domain, charset="utf-8")
    for rel in DOMAINS[domain]:
        path = ROOT / rel
        if path.is_file():
            found = ((rel, lineno, msg, comments, ctx) for lineno, msg, comments, ctx in _file(path))
        else:
            found = (
                (f"{rel}/{name}", lineno, msg, comments, ctx)
                for name, lineno, msg, comments, ctx in extract_from_dir(
                    path,
                    method_map=[("**.py", "python"), ("**.sql", "dashboard.i18n.catalogue:extract_sql")],
                    keywords=KEYWORDS,
                    comment_tags=("i18n:",),
                )
            )
        for where, lineno, msg, comments, ctx in found:
            template.add(msg, locations=[(where, lineno)], auto_comments=comments, context=ctx)
    return template


SQL_MESSAGE = re.compile(r"'((?:[^']|'')*)'")


def extract_sql(fileobj, keywords, comment_tags, options):
    """Babel extraction of the build's messages written in SQL (queries/validate, findings, ...):
    every string literal with a space and an English word in it; its {placeholders} are filled by
    the Python that formats it (`_(template).format(...)`)."""
    from dashboard.i18n.unwrapped import is_english

    for lineno, line in enumerate(fileobj.read().decode("utf-8").splitlines(), start=1):
        if "i18n: verbatim" in line:
            continue
        code = line.split("--", 1)[0]
        for m in SQL_MESSAGE.finditer(code):
            text = m.group(1).replace("''", "'")
            if " " in text and is_english(text):
                yield lineno, None, text, []


def _file(path: Path):
    return extract_from_file("python", str(path), keywords=KEYWORDS, comment_tags=("i18n:",))


def read(lang: str, domain: str) -> Catalog:
    path = po_path(lang, domain)
    if not path.exists():
        return Catalog(locale=GETTEXT_LOCALE[lang], domain=domain, charset="utf-8")
    with path.open("rb") as f:
        return read_po(f, locale=GETTEXT_LOCALE[lang], domain=domain)


def write(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    catalog.project, catalog.version, catalog.fuzzy = "neo-margin", "1", False
    catalog.copyright_holder = "the Neo-Margin monitoring team"
    catalog.msgid_bugs_address = ""
    catalog.last_translator = "the Neo-Margin monitoring team"
    catalog.language_team = "Neo-Margin (zh_CN)"
    buf = io.BytesIO()
    write_po(buf, catalog, width=100, omit_header=False, sort_output=False, ignore_obsolete=True)
    path.write_bytes(buf.getvalue())


def update(domain: str) -> dict[str, int]:
    """Bring each language's .po of a domain up to its code: new messages added untranslated,
    gone ones dropped, a changed English kept as a fuzzy guess (not shown until reviewed)."""
    template = extract(domain)
    counts = {}
    for lang in TRANSLATED:
        catalog = read(lang, domain)
        catalog.update(template, update_header_comment=False)
        write(catalog, po_path(lang, domain))
        counts[lang] = len(template)
    return counts


def fill(domain: str, translations: dict[str, str], lang: str = "zh") -> tuple[int, list[str]]:
    """Set the translation of messages of a domain's .po from {English: translation}; a fuzzy
    guess so set is reviewed. Returns (set, English not in the catalogue)."""
    catalog = read(lang, domain)
    done, unknown = 0, []
    for english, text in translations.items():
        entry = catalog.get(english)
        if entry is None:
            unknown.append(english)
            continue
        if isinstance(entry.id, tuple):  # a plural message: Chinese has one form
            entry.string = tuple(text) if isinstance(text, list) else (text,)
        else:
            entry.string = text
        entry.flags.discard("fuzzy")
        done += 1
    write(catalog, po_path(lang, domain))
    return done, unknown


def compile_all() -> list[Path]:
    out = []
    for lang in TRANSLATED:
        for domain in DOMAINS:
            catalog = read(lang, domain)
            path = mo_path(lang, domain)
            path.parent.mkdir(parents=True, exist_ok=True)
            buf = io.BytesIO()
            write_mo(buf, catalog, use_fuzzy=False)
            path.write_bytes(buf.getvalue())
            out.append(path)
    return out


def translations(lang: str, domain: str) -> _gettext.NullTranslations:
    """A domain's compiled catalogue; compiled from its .po first when the .mo is missing or older
    (a checkout whose setup has not run since the .po changed still shows the current text)."""
    po, mo = po_path(lang, domain), mo_path(lang, domain)
    if not po.exists():
        return _gettext.NullTranslations()
    if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
        buf = io.BytesIO()
        write_mo(buf, read(lang, domain), use_fuzzy=False)
        data = buf.getvalue()
        try:
            mo.write_bytes(data)
        except OSError:  # a read-only install: use it from memory
            pass
        return _gettext.GNUTranslations(io.BytesIO(data))
    with mo.open("rb") as f:
        return _gettext.GNUTranslations(f)


def problems(domains=None) -> list[str]:
    """Every message of the code with no Chinese (or only a fuzzy guess, or a translation whose
    {placeholders} differ from the English), by domain and where it is used."""
    import string

    out = []
    for domain in domains or DOMAINS:
        template = extract(domain)
        for lang in TRANSLATED:
            catalog = read(lang, domain)
            for msg in template:
                if not msg.id:
                    continue
                where = ", ".join(f"{f}:{n}" for f, n in msg.locations[:2])
                entry = catalog.get(msg.id, context=msg.context)
                strings = msg.id if isinstance(msg.id, tuple) else (msg.id,)
                if entry is None:
                    out.append(f"{domain}.po ({lang}): not in the catalogue: {strings[0]!r} ({where})")
                    continue
                translated = entry.string if isinstance(entry.string, tuple) else (entry.string,)
                if entry.fuzzy or not all(translated):
                    out.append(f"{domain}.po ({lang}): no {lang} translation: {strings[0]!r} ({where})")
                    continue
                fields = {f for _t, f, _s, _c in string.Formatter().parse(strings[0]) if f is not None}
                for t in translated:
                    try:
                        got = {f for _t, f, _s, _c in string.Formatter().parse(t) if f is not None}
                    except ValueError as exc:
                        out.append(f"{domain}.po ({lang}): bad braces in the translation of {strings[0]!r}: {exc}")
                        continue
                    if got != fields:
                        out.append(
                            f"{domain}.po ({lang}): placeholders {sorted(got)} differ from the English "
                            f"{sorted(fields)}: {strings[0]!r} ({where})"
                        )
    return out
