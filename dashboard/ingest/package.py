"""Opening a CRF export package: a folder, a .zip of one, or an .xlsx workbook.

Whatever the wrapper, the result is one UTF-8 CSV file per form in a staging folder (or the
original file when it already is UTF-8), with the encoding that was detected for each.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from dashboard.ingest.problems import Problem

UTF8_BOM = codecs.BOM_UTF8
# Encodings tried in order when none is given: the spec names UTF-8 (BOM or not) and the
# GB18030 family (GBK and GB2312 are subsets of it) used by Chinese-language EDC installations.
DETECT_ORDER = ("utf-8", "gb18030")


@dataclass
class FormFile:
    form: str  # the form name, upper case (AE, DM, ...)
    original: str  # the name as it stood in the package, for messages
    path: Path  # a UTF-8 CSV file DuckDB can read
    encoding: str  # what the original was written in


@dataclass
class OpenedPackage:
    source: Path
    wrapper: str  # folder, zip or xlsx
    files: dict[str, FormFile] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def open_package(source: str | Path, staging: Path, encoding: str | None = None) -> OpenedPackage:
    """Find every `<FORM>.csv` of the package and make it readable as UTF-8 in `staging`."""
    source = Path(source)
    staging.mkdir(parents=True, exist_ok=True)
    if not source.exists():
        return _failed(source, "package", f"{source}: no such file or folder")
    if source.is_dir():
        pkg = OpenedPackage(source, "folder")
        _collect_folder(pkg, source, staging, encoding)
    elif source.suffix.lower() == ".zip":
        pkg = OpenedPackage(source, "zip")
        _collect_zip(pkg, source, staging, encoding)
    elif source.suffix.lower() in (".xlsx", ".xlsm"):
        pkg = OpenedPackage(source, "xlsx")
        _collect_xlsx(pkg, source, staging)
    else:
        return _failed(source, "package", f"{source.name}: not a folder, .zip or .xlsx export package")
    return pkg


def _failed(source: Path, wrapper: str, message: str) -> OpenedPackage:
    pkg = OpenedPackage(source, wrapper)
    pkg.problems.append(Problem("error", source.name, None, None, message))
    return pkg


def _form_name(filename: str) -> str | None:
    stem, dot, ext = filename.rpartition(".")
    if not dot or ext.lower() != "csv" or not stem:
        return None
    return stem.upper()


def _add(
    pkg: OpenedPackage,
    form: str,
    original: str,
    raw: bytes,
    staging: Path,
    encoding: str | None,
    existing: Path | None = None,
) -> None:
    if form in pkg.files:
        pkg.problems.append(
            Problem(
                "error",
                original,
                None,
                None,
                f"two files for form {form}: {pkg.files[form].original} "
                f"and {original} (file names are case-insensitive)",
            )
        )
        return
    text, used, problem = decode(raw, original, encoding)
    if problem:
        pkg.problems.append(problem)
        return
    if existing is not None and used in ("utf-8", "utf-8-sig"):
        path = existing  # DuckDB reads UTF-8 with or without a BOM as it is
    else:
        path = staging / f"{form}.csv"
        path.write_text(text, encoding="utf-8", newline="")
    pkg.files[form] = FormFile(form, original, path, used)


def decode(raw: bytes, name: str, encoding: str | None = None) -> tuple[str, str, Problem | None]:
    """Decode a file's bytes strictly: the given encoding, or UTF-8 then GB18030.

    Strict decoding keeps mojibake out: a file that is not valid in the encoding chosen is
    refused with the line and column where it broke, never read with replacement characters.
    A file that is UTF-8 but for a few stray bytes is refused as broken UTF-8 rather than read
    as GB18030, which would accept almost any bytes and store nonsense.
    """
    if raw.startswith(UTF8_BOM) and encoding in (None, "utf-8", "utf-8-sig"):
        candidates = ("utf-8-sig",)
    elif encoding:
        candidates = (encoding,)
    else:
        candidates = DETECT_ORDER
    first_error: tuple[str, UnicodeDecodeError] | None = None
    for enc in candidates:
        try:
            return raw.decode(enc), enc, None
        except UnicodeDecodeError as exc:
            first_error = first_error or (enc, exc)
            if enc == "utf-8" and not encoding and _mostly_utf8(raw):
                break
        except LookupError:
            return "", enc, Problem("error", name, None, None, f"unknown encoding {enc!r}")
    assert first_error is not None
    enc, exc = first_error
    line, column = _locate(raw, exc.start, enc)
    tried = enc if len(candidates) == 1 or enc != "utf-8" else "UTF-8 (and it is not GB18030 either)"
    if enc == "utf-8" and _mostly_utf8(raw):
        tried = "UTF-8: the file is UTF-8 with an invalid byte"
    return (
        "",
        enc,
        Problem(
            "error",
            name,
            line,
            column,
            f"cannot be decoded as {tried} (byte offset {exc.start}); "
            "fix the file or name its encoding with --encoding",
        ),
    )


def _mostly_utf8(raw: bytes) -> bool:
    """True when the non-ASCII text is valid UTF-8 far more often than not."""
    text = raw.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = sum(1 for ch in text if ord(ch) > 127) - bad
    return good > bad


def _locate(raw: bytes, offset: int, encoding: str) -> tuple[int, str | None]:
    """Line (header = 1) and column name of a byte offset in a CSV file."""
    line = raw[:offset].count(b"\n") + 1
    start = raw.rfind(b"\n", 0, offset) + 1
    end = raw.find(b"\n", offset)
    end = len(raw) if end < 0 else end
    before = raw[start:offset].decode(encoding, errors="replace")
    field_index = next(csv.reader([before + "x"]), [""]).__len__() - 1
    header_end = raw.find(b"\n")
    header = next(
        csv.reader(
            [raw[: header_end if header_end >= 0 else len(raw)].decode(encoding, errors="replace").lstrip("\ufeff")]
        ),
        [],
    )
    column = header[field_index].strip().upper() if 0 <= field_index < len(header) else None
    return line, column


def _collect_folder(pkg: OpenedPackage, folder: Path, staging: Path, encoding: str | None) -> None:
    for path in sorted(folder.iterdir()):
        form = _form_name(path.name) if path.is_file() else None
        if form is None:
            pkg.ignored.append(path.name)
            continue
        _add(pkg, form, path.name, path.read_bytes(), staging, encoding, existing=path)


def _collect_zip(pkg: OpenedPackage, archive: Path, staging: Path, encoding: str | None) -> None:
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        pkg.problems.append(Problem("error", archive.name, None, None, f"not a readable zip: {exc}"))
        return
    with zf:
        members = [m for m in zf.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX/")]
        tops = {m.filename.split("/")[0] for m in members if "/" in m.filename}
        at_root = [m for m in members if "/" not in m.filename]
        if at_root:
            chosen, prefix = at_root, ""
        elif len(tops) == 1:
            prefix = tops.pop() + "/"
            chosen = [m for m in members if m.filename.startswith(prefix) and "/" not in m.filename[len(prefix) :]]
        else:
            pkg.problems.append(
                Problem(
                    "error",
                    archive.name,
                    None,
                    None,
                    f"the zip must hold the forms at its root or in one top-level folder; it has {len(tops)} folders",
                )
            )
            return
        for m in chosen:
            name = m.filename[len(prefix) :]
            form = _form_name(name)
            if form is None:
                pkg.ignored.append(name)
                continue
            try:
                raw = zf.read(m)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                pkg.problems.append(Problem("error", name, None, None, f"cannot be read from the zip: {exc}"))
                continue
            _add(pkg, form, name, raw, staging, encoding)


def _cell_text(cell) -> str:
    """An Excel cell as the text the CSV export would hold."""
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        text = str(value)
        # A number format of zeros ("00") keeps the leading zeros of an identifier like 01.
        fmt = cell.number_format or ""
        if fmt and set(fmt) == {"0"} and len(text) < len(fmt):
            text = text.zfill(len(fmt))
        return text
    return str(value)


def _collect_xlsx(pkg: OpenedPackage, workbook: Path, staging: Path) -> None:
    import openpyxl  # only needed for this wrapper

    try:
        wb = openpyxl.load_workbook(workbook, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        pkg.problems.append(Problem("error", workbook.name, None, None, f"not a readable .xlsx workbook: {exc}"))
        return
    try:
        for ws in wb.worksheets:
            form = ws.title.strip().upper()
            original = f"{workbook.name}[{ws.title}]"
            if form in pkg.files:
                pkg.problems.append(Problem("error", original, None, None, f"two sheets for form {form}"))
                continue
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            width = None
            for row in ws.iter_rows():
                cells = [_cell_text(c) for c in row]
                while cells and cells[-1] == "":
                    cells.pop()
                if not cells:
                    buf.write("\n")  # an empty sheet row: a blank line keeps line = sheet row
                    continue
                if width is None:
                    width = len(cells)  # the header row sets the width
                cells += [""] * (width - len(cells))
                writer.writerow(cells)
            path = staging / f"{form}.csv"
            path.write_text(buf.getvalue(), encoding="utf-8", newline="")
            pkg.files[form] = FormFile(form, original, path, "xlsx")
    finally:
        wb.close()


def clear_staging(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)
