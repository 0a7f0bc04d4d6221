"""docs/blinding.md carries the allow-list column by column; it must say what the build does."""

from pathlib import Path

from dashboard.devtools.blinding_doc import BEGIN, END, tables

DOC = Path(__file__).resolve().parent.parent / "docs" / "blinding.md"


def test_the_documents_tables_are_the_allow_list():
    text = DOC.read_text(encoding="utf-8")
    shown = text[text.index(BEGIN) : text.index(END) + len(END)]
    assert shown == tables(), "regenerate: python -m dashboard.devtools.blinding_doc (paste between the markers)"
