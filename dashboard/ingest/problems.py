"""What the build reports about a package: errors refuse it, warnings and findings do not.

Every problem names the file, the line (the header is line 1), the column and the subject
(SUBJID, or SCRNID on the screening log) wherever the row is known, so that a data manager can
raise a query from it. A message quotes a cell's value only when a blinded role may read that
column and the value does not name the arm (`Quoting`): the load history and the problems are
read by every role, across sites.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field

from dashboard.i18n import N_, _, language, using

WITHHELD = N_("(value withheld)")
"""What a message says in place of a value it may not quote (and a subject it may not name);
shown in the reader's language."""


def _list_separator() -> str:
    return "，" if language() == "zh" else ", "


class Enumeration(tuple):
    """Values listed in a message (codes, encodings): ', ' in English, '、' in Chinese (a list
    of phrases, a Python list, takes the comma: '，')."""


@dataclass(frozen=True)
class Msg:
    """A message in either language: its English template (the catalogue's msgid, marked with
    N_() or written in a queries/ .sql file) and the values of its {placeholders}.

    `render(lang)` looks the template up in the language's catalogue and fills it in: a value
    that is itself a Msg is rendered in the same language, a list of them is joined with the
    language's comma, the WITHHELD mark is translated, anything else is put in as it is (a
    file name, a value quoted from the export, a number). A template without parameters is
    not formatted, so text that holds braces passes as it is."""

    template: str
    params: Mapping = field(default_factory=dict)

    def render(self, lang: str | None = None) -> str:
        if lang is None:
            return self._render()
        with using(lang):
            return self._render()

    def _render(self) -> str:
        text = _(self.template)
        if not self.params:
            return text
        return text.format(**{k: _shown(v) for k, v in self.params.items()})

    def __str__(self) -> str:
        return self._render()

    def __hash__(self) -> int:
        return hash((self.template, repr(sorted(self.params.items(), key=lambda kv: kv[0]))))


def _shown(value):
    if isinstance(value, Msg):
        return value._render()
    if isinstance(value, English):
        return value.msg._render()
    if isinstance(value, Enumeration):
        return ("、" if language() == "zh" else ", ").join(str(_shown(v)) for v in value)
    if isinstance(value, (list, tuple)):
        return _list_separator().join(str(_shown(v)) for v in value)
    if isinstance(value, str) and value == WITHHELD:
        return _(WITHHELD)
    return value


def msg(template: str, **params) -> Msg:
    """Msg(template, params): `msg(N_("unknown encoding {enc}"), enc=enc)`."""
    return Msg(template, params)


def joined(items, separator: str) -> Msg:
    """Messages (or values) joined by a separator that is not words ("/", a line break): each
    rendered in the reader's language."""
    items = list(items)
    return Msg(separator.join(f"{{i{k}}}" for k in range(len(items))), {f"i{k}": v for k, v in enumerate(items)})


def indented(lines) -> Msg:
    """Messages one per line, each indented by two spaces (a list under a heading)."""
    return joined([msg("  {line}", line=x) for x in lines], "\n")


class English(str):
    """A message's English (the record: a manifest, a JSON file) that keeps its Msg, so that it
    can be shown in the reader's language (`shown`)."""

    msg: Msg

    def __new__(cls, message: Msg):
        text = super().__new__(cls, message.render("en"))
        text.msg = message
        return text


def shown(text) -> str:
    """A message in the current language: an English's Msg rendered, anything else as it is."""
    if isinstance(text, English):
        return text.msg.render()
    if isinstance(text, Msg):
        return text.render()
    return str(text)


class MessageError(Exception):
    """An exception whose message is a Msg: `str()` in the current language, `.msg` to carry it
    into a Problem (rendered in both languages there)."""

    def __init__(self, template: str | Msg, **params):
        self.msg = template if isinstance(template, Msg) and not params else Msg(str(template), params)
        super().__init__(self.msg.template)

    def __str__(self) -> str:
        return self.msg.render()


def _fields(template: str) -> set[str]:
    return {f for _t, f, _s, _c in string.Formatter().parse(template) if f}


def render_messages(templates, params) -> tuple[list, list]:
    """(English, Chinese) of each message given as its template (a catalogue msgid) and the JSON
    of its values: the findings' `message` and `message_zh`. A message one of whose values is
    missing is missing, as SQL's || made it."""
    seen: dict = {}
    en, zh = [], []
    for template, values in zip(templates, params, strict=True):
        key = (template, values)
        if key not in seen:
            if not isinstance(template, str):  # a missing message (None, NaN, NA)
                seen[key] = (None, None)
            else:
                given = json.loads(values) if isinstance(values, str) and values else {}
                if any(given.get(f) is None for f in _fields(template)):
                    seen[key] = (None, None)
                else:
                    m = Msg(template, given)
                    seen[key] = (m.render("en"), m.render("zh"))
        en.append(seen[key][0])
        zh.append(seen[key][1])
    return en, zh


SEVERITY = {"error": N_("ERROR"), "warning": N_("WARNING")}


@dataclass(frozen=True)
class Problem:
    """One error or warning of a package, in both languages.

    `template` is the message's English (a catalogue msgid with {placeholders}, or a Msg for a
    message made of messages) and `params` the values of its placeholders; `message` is the
    English (the record: the build's problems table, the load history, the manifest),
    `message_zh` the Chinese, `text()` the message and `str()` the whole line (severity, file,
    line, column, subject, message) in the current language."""

    severity: str  # error | warning
    file: str  # the file (or sheet) as named in the package
    line: int | None  # line number in the file; the header is line 1
    column: str | None
    template: str | Msg
    subjid: str | None = None  # the row's SUBJID (SCRNID on the screening log), when a row is known
    params: Mapping = field(default_factory=dict, compare=False)

    @property
    def msg(self) -> Msg:
        if isinstance(self.template, Msg):
            return Msg(self.template.template, {**self.template.params, **self.params})
        return Msg(self.template, self.params)

    def text(self, lang: str | None = None) -> str:
        """The message in `lang` (default: the current language)."""
        return self.msg.render(lang)

    @property
    def message(self) -> str:
        return self.text("en")

    @property
    def message_zh(self) -> str:
        return self.text("zh")

    def where(self, lang: str | None = None) -> str:
        """File, line, column and subject, in `lang` (default: the current language)."""
        if lang is not None:
            with using(lang):
                return self.where()
        line = _(", line {line}").format(line=self.line) if self.line is not None else ""
        column = _(", column {column}").format(column=self.column) if self.column else ""
        subject = _(", subject {subject}").format(subject=_shown(self.subjid)) if self.subjid else ""
        return _("{file}{line}{column}{subject}").format(file=self.file, line=line, column=column, subject=subject)

    def line_text(self, lang: str | None = None) -> str:
        if lang is not None:
            with using(lang):
                return self.line_text()
        return _("{severity}: {where}: {message}").format(
            severity=_(SEVERITY.get(self.severity, self.severity.upper())), where=self.where(), message=self.text()
        )

    def __str__(self) -> str:
        return self.line_text()

    def as_dict(self) -> dict:
        """The record of the problem: its message in English and in Chinese."""
        return {
            "severity": self.severity,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "subjid": self.subjid,
            "message_zh": self.message_zh,
        }


class PackageRefused(Exception):
    """The package breaks the export spec (or could not be read or written safely); the previous
    warehouse stays in service."""

    def __init__(self, problems: list[Problem], history_entry: dict | None = None):
        self.problems = problems
        self.history_entry = history_entry
        super().__init__()

    def __str__(self) -> str:
        errors = [p for p in self.problems if p.severity == "error"]
        shown = "\n".join(str(p) for p in errors[:50])
        more = "\n" + _("... and {n} more errors").format(n=len(errors) - 50) if len(errors) > 50 else ""
        return _("package refused: {n} error(s)").format(n=len(errors)) + "\n" + shown + more


def refusal(
    file: str, message: str | Msg, line: int | None = None, column: str | None = None, **params
) -> PackageRefused:
    """A refusal with one error that is not about a cell (a damaged archive, a full disk, ...)."""
    return PackageRefused([Problem("error", file, line, column, message, params=params)])


class Quoting:
    """May a message quote this cell's value? Only when the column is visible to blinded roles
    (`Column.visibility == "blinded"`; a column not in the spec is closed) and the value does not
    name the arm: neither an arm code, key or label, nor a protocol-surgery value, nor free text
    the trial's matcher flags. Anything else is written as WITHHELD."""

    def __init__(self, cfg, spec):
        b = cfg.blinding
        fields = [b.arm_field, *b.arm_revealing_fields, *getattr(b, "withheld_fields", [])]
        self._hidden = {f.upper() for f in fields}
        self._visibility: dict[tuple[str, str], str] = {}
        for form_name, form in spec.forms.items():
            for col in form.columns:
                self._visibility[(form_name, col.name)] = self._column_visibility(col)
        for name in spec.optional_everywhere:
            for form_name in spec.forms:
                self._visibility.setdefault((form_name, name), "blinded")
        words = [*cfg.arm_codes, *cfg.blinding.protocol_surgery_values]
        words += [a.label for a in cfg.arms] + [a.key for a in cfg.arms]
        words += [a.label_zh for a in cfg.arms if a.label_zh]  # the arms' names in Chinese too
        self._arm_words = [_fold(w) for w in words if w and w.strip()]
        self._matcher = _free_text_matcher(cfg)

    def _column_visibility(self, col) -> str:
        # crf_spec.toml's visibility; the arm and the fields named in [blinding] are closed anyway
        return "closed" if col.name.upper() in self._hidden else col.visibility

    def visible(self, form: str, column: str | None) -> bool:
        if not column:
            return False
        return self._visibility.get((form.upper(), column.upper())) == "blinded"

    def names_arm(self, value: str) -> bool:
        folded = _fold(value)
        if any(w in folded for w in self._arm_words):
            return True
        return bool(self._matcher and self._matcher(value))

    def may_quote(self, form: str, column: str | None, value) -> bool:
        if value is None:
            return False
        return self.visible(form, column) and not self.names_arm(str(value))

    def quote(self, form: str, column: str | None, value) -> str:
        """repr() of the value when it may be quoted, else WITHHELD."""
        return repr(str(value)) if self.may_quote(form, column, value) else WITHHELD

    def subject(self, form: str, column: str, value) -> str | None:
        """A SUBJID/SCRNID for a Problem's subject field: the value, or WITHHELD when it may not
        be shown (an arm swapped into the identifier column)."""
        if value is None or str(value).strip() == "":
            return None
        return str(value).strip() if self.may_quote(form, column, value) else WITHHELD


def _fold(text: str) -> str:
    import unicodedata

    folded = unicodedata.normalize("NFKC", str(text)).casefold()
    return re.sub(r"[\W_]+", "", folded)


def _free_text_matcher(cfg):
    """The trial's free-text matcher (dashboard/access/freetext.py), the build's one."""
    from dashboard.access import freetext

    return freetext.matcher(cfg)
