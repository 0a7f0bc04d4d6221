"""The Reports page's PDF buttons in a real browser: the DSMB chair makes the open and the closed
report as PDF; the browser saves each (app.ui.deliver: an iframe that clicks a blob: link), the PDF
opens (pdftotext) and reads as that report, every page of the closed one CONFIDENTIAL and numbered
"page N of M", and the page shows no exception (issue 13's blocker: the PDF button crashed)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from conftest import HANG_MS, assert_healthy, open_page, screenshot, sign_in, wait_for_audit, wait_idle
from pdftext import pdf_pages


@pytest.fixture
def pdftotext():
    if shutil.which("pdftotext") is None or shutil.which("pdfinfo") is None:
        pytest.skip("poppler-utils is not installed (apt-get install poppler-utils; .ci/run does it)")


def _make_pdf(page, kind: str) -> Path:
    with page.expect_download(timeout=HANG_MS) as info:
        page.get_by_role("button", name=f"Make the {kind} report as PDF", exact=True).click()
    download = info.value
    wait_idle(page)
    assert re.fullmatch(rf"neo-margin-{kind}-report-\d{{4}}-\d\d-\d\d\.pdf", download.suggested_filename)
    path = Path(download.path())
    assert path.read_bytes().startswith(b"%PDF-")
    return path


def test_the_dsmb_chair_makes_both_reports_as_pdf(server, page, pdftotext):
    sign_in(page, server["url"], "dsmb.chair")
    open_page(page, "Reports", "Reports")

    opened = pdf_pages(_make_pdf(page, "open"))
    assert_healthy(page)
    assert page.locator(".st-key-delivered-open iframe").count() == 1
    text = "\n".join(opened)
    assert "open monitoring report" in text
    assert "CONFIDENTIAL" not in text
    assert "CLOSED:" not in text
    for n, page_text in enumerate(opened, start=1):
        assert f"page {n} of {len(opened)}" in page_text, n

    closed = pdf_pages(_make_pdf(page, "closed"))
    assert_healthy(page)
    assert page.locator(".st-key-delivered-closed iframe").count() == 1
    text = "\n".join(closed)
    assert "closed monitoring report" in text
    assert "CLOSED: survival by arm" in text
    assert len(closed) > 1
    for n, page_text in enumerate(closed, start=1):
        assert "CONFIDENTIAL" in page_text, n
        assert f"page {n} of {len(closed)}" in page_text, n
    for bad in ("None", "NaT", "nan", "00:00:00"):
        assert not re.search(rf"\b{bad}\b", text), bad
    log = wait_for_audit(server, lambda e: e["action"] == "export: closed report (pdf)" and e["user"] == "dsmb.chair")
    entry = [e for e in log if e["action"] == "export: closed report (pdf)"][-1]
    assert f"seq {entry['seq']}" in text
    screenshot(page, "dsmb-reports-pdf")
