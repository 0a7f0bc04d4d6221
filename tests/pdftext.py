"""The text of a PDF, page by page, as poppler's pdftotext reads it (poppler-utils, installed by
.ci/run): what a reader of the printed report sees on each page."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path


def pdf_pages(path: Path) -> list[str]:
    """The text of each page of the PDF at `path` (pdfinfo for the count, pdftotext -f N -l N)."""
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    count = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    return [
        subprocess.run(
            ["pdftotext", "-layout", "-f", str(n), "-l", str(n), str(path), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for n in range(1, count + 1)
    ]
