"""English a person would read that the code shows without `_()`: the half of "every string is in
the catalogue" that extraction cannot see (Babel extracts only what is wrapped).

A string literal (or the text of an f-string) with an English word in it is a person's text when it
is given to a call that shows it (st.title, st.metric, ui.header, a report's doc.h / doc.p, a
figure's title=, ...), to a keyword that labels something (title=, label=, help=, ...), raised as
an exception's message, or printed by the command line. It must be `_("...")` (or `N_("...")`
where it is a constant translated where shown); `_(f"...")` is refused too (gettext cannot look up
text that is made before the lookup: write `_("... {n} ...").format(n=n)`). A line that shows a
string that is not prose (a CSS value, a regular expression) says `# i18n: verbatim`.

    python -m dashboard i18n unwrapped     # lists them, file:line: text

No Streamlit here.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCOPE = ["app", "pages", "dashboard"]
EXCLUDED = ["dashboard/devtools", "dashboard/i18n"]
"""devtools are the developers' commands (demo data, benchmarks), in English."""

WRAPPERS = {"_", "N_", "gettext", "ngettext"}
SHOWING = {
    # Streamlit
    "title", "header", "subheader", "markdown", "caption", "write", "info", "warning", "error",
    "success", "toast", "metric", "button", "selectbox", "radio", "checkbox", "toggle", "text_input",
    "text_area", "number_input", "date_input", "multiselect", "slider", "select_slider", "expander",
    "tabs", "popover", "form_submit_button", "download_button", "link_button", "page_link", "Page",
    "set_page_config", "spinner", "status", "segmented_control", "pills", "exception",
    # ours: app.ui, the report's document
    "suppressed_notice", "export_csv", "listing", "h", "p", "notice",
    # the command line
    "print", "add_argument", "add_parser", "ArgumentParser", "exit",
}  # fmt: skip
LABELLING = {
    "title", "title_text", "label", "help", "placeholder", "caption", "xaxis_title", "yaxis_title",
    "legend_title", "legend_title_text", "annotation_text", "description", "alt", "note",
}  # fmt: skip
LOGGERS = {"log", "logger", "logging", "_log", "_logger", "LOG"}
NOT_SHOWN_ARGS = {"add_argument": 1, "add_parser": 1}
"""Calls whose first positional arguments are names, not text (an option's flag, a command)."""
ENGLISH = re.compile(r"[A-Za-z]*[a-z]{2,}")
PLACEHOLDER = re.compile(r"\{[^{}]*\}|%\{[^{}]*\}|<[^<>]*>|&\w+;|:material/\w+:|:\w+(-background)?\[")


@dataclass(frozen=True)
class Unwrapped:
    path: str
    line: int
    text: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.why}: {self.text!r}"


def _text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        parts = [_text(node.left), _text(node.right)]
        return " ".join(p for p in parts if p) or None
    return None


def is_english(text: str) -> bool:
    stripped = PLACEHOLDER.sub(" ", text)
    return bool(ENGLISH.search(stripped))


def _name(func: ast.AST) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


class _Finder(ast.NodeVisitor):
    def __init__(self, path: str, lines: list[str]):
        self.path, self.lines, self.found = path, lines, []
        self.wrapped = 0

    def _verbatim(self, node: ast.AST) -> bool:
        first, last = node.lineno, getattr(node, "end_lineno", node.lineno) or node.lineno
        return any("i18n: verbatim" in self.lines[i - 1] for i in range(first, min(last + 1, len(self.lines) + 1)))

    def _check(self, node: ast.AST, why: str) -> None:
        if self.wrapped:
            return
        if isinstance(node, ast.IfExp):
            self._check(node.body, why)
            self._check(node.orelse, why)
            return
        text = _text(node)
        if text and is_english(text) and not self._verbatim(node):
            self.found.append(Unwrapped(self.path, node.lineno, text[:90], why))

    def visit_Call(self, node: ast.Call) -> None:
        name = _name(node.func)
        owner = node.func.value if isinstance(node.func, ast.Attribute) else None
        if isinstance(owner, ast.Call) and _name(owner.func) == "getLogger" or _name(owner) in LOGGERS:
            self.generic_visit(node)  # the server's log, for its operator: English
            return
        if name in WRAPPERS:
            for a in node.args:
                if isinstance(a, ast.JoinedStr) and not self._verbatim(a):
                    self.found.append(Unwrapped(self.path, a.lineno, _text(a)[:90], "f-string inside _()"))
            self.wrapped += 1
            self.generic_visit(node)
            self.wrapped -= 1
            return
        if name in SHOWING:
            for i, a in enumerate(node.args):
                if i >= NOT_SHOWN_ARGS.get(name, 0):
                    self._check(a, f"shown by {name}()")
        for k in node.keywords:
            if k.arg in LABELLING or (name in SHOWING and k.arg in ("help", "description", "epilog")):
                self._check(k.value, f"{k.arg}= of {name}()")
        self.generic_visit(node)

    def visit_Raise(self, node: ast.Raise) -> None:
        if isinstance(node.exc, ast.Call):
            for a in node.exc.args[:1]:
                self._check(a, f"message of {_name(node.exc.func)}")
        self.generic_visit(node)


def files(root: Path = ROOT) -> list[Path]:
    out = []
    for top in SCOPE:
        for p in sorted((root / top).rglob("*.py")):
            rel = p.relative_to(root).as_posix()
            if not any(rel.startswith(x + "/") for x in EXCLUDED):
                out.append(p)
    return out


def domain_of(rel: str) -> str | None:
    """The catalogue a file's messages go to (the longest DOMAINS path that holds it)."""
    from dashboard.i18n import DOMAINS

    best = None
    for domain, paths in DOMAINS.items():
        for path in paths:
            if rel == path or rel.startswith(path.rstrip("/") + "/"):
                if best is None or len(path) > best[1]:
                    best = (domain, len(path))
    return best[0] if best else None


def find(paths: list[Path] | None = None, root: Path = ROOT, domains=None) -> list[Unwrapped]:
    found = []
    chosen = paths or files(root)
    if domains:
        chosen = [p for p in chosen if domain_of(p.relative_to(root).as_posix()) in domains]
    for p in chosen:
        source = p.read_text(encoding="utf-8")
        finder = _Finder(p.relative_to(root).as_posix(), source.splitlines())
        finder.visit(ast.parse(source))
        found.extend(finder.found)
    return found
