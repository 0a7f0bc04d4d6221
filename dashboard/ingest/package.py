"""Opening a CRF export package: a folder, a .zip of one, or an .xlsx workbook.

Whatever the wrapper, the result is one UTF-8 CSV file per form in a staging folder (or the
original file when it already is UTF-8), with the encoding that was detected for each.

Hostile input is refused with a message naming the file, never a traceback: an archive that is
damaged, holds a password-protected member, or would expand beyond MAX_ARCHIVE_BYTES or
MAX_ARCHIVE_MEMBERS; a workbook with XML entity declarations (openpyxl parses through defusedxml,
checked at run time); a file whose encoding is ambiguous (see `decode`); an .xlsx number in a text
column that does not follow the column's pattern.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import re
import shutil
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from dashboard.i18n import N_
from dashboard.ingest.problems import Enumeration, Msg, Problem, msg

UTF8_BOM = codecs.BOM_UTF8
# Encodings tried in order when none is given: the spec names UTF-8 (BOM or not) and the
# GB18030 family (GBK and GB2312 are subsets of it) used by Chinese-language EDC installations.
DETECT_ORDER = ("utf-8", "gb18030")
# charset-normalizer's names for the GB18030 family: a file that decodes as GB18030 is taken as
# GB18030 only when the second opinion names one of them among its candidates.
GB_FAMILY = {"gb18030", "gbk", "gb2312", "hz"}
CANDIDATES_SHOWN = 5
# Chinese text in GB18030 is almost all GB2312 characters (both bytes >= 0xA1); Latin-1 read as
# GB18030 pairs a high byte with an ASCII letter, giving none (measured: demo files 100 %, Latin-1
# names 0 %, Big5 hospital names 35 %). Below this share a GB18030 reading is not believed.
GB2312_SHARE = 0.8
# Caps on what a .zip (or the .xlsx zip) may expand to: our own limits, not the trial's. The
# 35,600-subject benchmark package (100 times the trial) is 64 MB of CSV in 21 files.
MAX_ARCHIVE_BYTES = 1 << 30  # 1 GiB uncompressed in all
MAX_ARCHIVE_MEMBERS = 1000


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
    quoting: object | None = None  # problems.Quoting: which values a message may quote


def fingerprint(package: str | Path) -> str:
    """The source fingerprint of a package as it was read: SHA-256 over its files' names, lengths and bytes
    (a folder: every file below it, by relative name, in sorted order; a .zip or .xlsx: its bytes).
    The same export gives the same fingerprint, so a refresh can tell that nothing new arrived."""
    path = Path(package)
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        name = f.relative_to(path).as_posix() if path.is_dir() else f.name
        h.update(name.encode("utf-8") + b"\0" + str(f.stat().st_size).encode() + b"\0")  # name, length, bytes
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        h.update(b"\0")
    return h.hexdigest()


def open_package(
    source: str | Path, staging: Path, encoding: str | None = None, spec=None, quoting=None
) -> OpenedPackage:
    """Find every `<FORM>.csv` of the package and make it readable as UTF-8 in `staging`.
    `spec` (the CRF spec) lets an .xlsx's number cells be checked against their text columns;
    `quoting` (problems.Quoting) decides which values a message may quote."""
    source = Path(source)
    staging.mkdir(parents=True, exist_ok=True)
    if not source.exists():
        return _failed(source, "package", msg(N_("{path}: no such file or folder"), path=str(source)))
    if source.is_dir():
        pkg = OpenedPackage(source, "folder", quoting=quoting)
        _collect_folder(pkg, source, staging, encoding)
    elif source.suffix.lower() == ".zip":
        pkg = OpenedPackage(source, "zip", quoting=quoting)
        _collect_zip(pkg, source, staging, encoding)
    elif source.suffix.lower() in (".xlsx", ".xlsm"):
        pkg = OpenedPackage(source, "xlsx", quoting=quoting)
        if _archive_fits(pkg, source):
            _collect_xlsx(pkg, source, staging, spec, quoting)
    else:
        return _failed(
            source, "package", msg(N_("{name}: not a folder, .zip or .xlsx export package"), name=source.name)
        )
    return pkg


def _failed(source: Path, wrapper: str, message: Msg) -> OpenedPackage:
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
                N_("two files for form {form}: {first} and {second} (file names are case-insensitive)"),
                params={"form": form, "first": pkg.files[form].original, "second": original},
            )
        )
        return
    text, used, problem = decode(raw, original, encoding)
    if problem:
        if problem.line and problem.line > 1 and pkg.quoting is not None:
            problem = replace(problem, subjid=_line_subject(raw, problem.line, form, pkg.quoting))
        pkg.problems.append(problem)
        return
    if existing is not None and used in ("utf-8", "utf-8-sig"):
        path = existing  # DuckDB reads UTF-8 with or without a BOM as it is
    else:
        path = staging / f"{form}.csv"
        path.write_text(text, encoding="utf-8", newline="")
    pkg.files[form] = FormFile(form, original, path, used)


def decode(raw: bytes, name: str, encoding: str | None = None) -> tuple[str, str, Problem | None]:
    """Decode a file's bytes strictly: the given encoding, or UTF-8 (BOM or not), or GB18030 when
    a second opinion agrees.

    Strict decoding keeps mojibake out: a file that is not valid in the encoding chosen is
    refused with the line and column where it broke, never read with replacement characters.
    A file that is UTF-8 but for a few stray bytes is refused as broken UTF-8. Strict GB18030
    accepts almost any bytes (Latin-1 "Hôpital" decodes as "H魀ital"), so a file that is not
    UTF-8 is read as GB18030 only when charset-normalizer also names the GB18030 family among its
    candidates; otherwise the file is ambiguous and refused, naming the candidates, unless
    `--encoding` says what it is. A file that starts with the UTF-8 byte-order mark is UTF-8.
    """
    if raw.startswith(UTF8_BOM):  # the byte-order mark declares UTF-8, whatever --encoding says
        candidates = ("utf-8-sig",)
    elif encoding:
        candidates = (encoding,)
    else:
        candidates = DETECT_ORDER
    first_error: tuple[str, UnicodeDecodeError] | None = None
    for enc in candidates:
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError as exc:
            first_error = first_error or (enc, exc)
            if enc == "utf-8" and not encoding and _mostly_utf8(raw):
                break
            continue
        except LookupError:
            return "", enc, Problem("error", name, None, None, N_("unknown encoding {enc}"), params={"enc": repr(enc)})
        if enc == "gb18030" and not encoding:
            opinion = second_opinion(raw)
            common = gb2312_share(text)
            if not GB_FAMILY & set(opinion) or common < GB2312_SHARE:
                offset = next(i for i, b in enumerate(raw) if b > 127)
                line, column = _locate(raw, offset, "latin-1")
                shown = Enumeration([Msg(N_("GB18030 (decodes without error)")), *opinion[:CANDIDATES_SHOWN]])
                return (
                    "",
                    enc,
                    Problem(
                        "error",
                        name,
                        line,
                        column,
                        N_(
                            "encoding is ambiguous: not UTF-8; candidates: {candidates} (charset-normalizer's "
                            "reading); read as GB18030, {common:.0%} of its non-ASCII characters are common "
                            "simplified Chinese (GB2312); the first non-ASCII byte is at byte offset {offset}. "
                            "Name the encoding "
                            "with --encoding (e.g. --encoding latin-1, or --encoding gb18030 if it is Chinese)"
                        ),
                        params={"candidates": shown, "common": common, "offset": offset},
                    ),
                )
        return text, enc, None
    assert first_error is not None
    enc, exc = first_error
    line, column = _locate(raw, exc.start, enc)
    tried = enc if len(candidates) == 1 or enc != "utf-8" else Msg(N_("UTF-8 (and it is not GB18030 either)"))
    if enc == "utf-8" and _mostly_utf8(raw):
        tried = Msg(N_("UTF-8: the file is UTF-8 with an invalid byte"))
    hint = ""
    if not encoding and not raw.startswith(UTF8_BOM):
        opinion = second_opinion(raw)
        if opinion:
            hint = msg(
                N_("; charset-normalizer's candidates: {candidates}"),
                candidates=Enumeration(opinion[:CANDIDATES_SHOWN]),
            )
    return (
        "",
        enc,
        Problem(
            "error",
            name,
            line,
            column,
            N_(
                "cannot be decoded as {tried} (byte offset {offset}){hint}; "
                "fix the file or name its encoding with --encoding"
            ),
            params={"tried": tried, "offset": exc.start, "hint": hint},
        ),
    )


def gb2312_share(text: str) -> float:
    """The share of the non-ASCII characters of `text` that GB2312 (common simplified Chinese) has."""
    from collections import Counter

    counts = Counter(c for c in text if ord(c) > 127)
    total = sum(counts.values())
    if not total:
        return 1.0
    common = 0
    for c, n in counts.items():
        try:
            c.encode("gb2312")
        except UnicodeEncodeError:
            continue
        common += n
    return common / total


def second_opinion(raw: bytes) -> list[str]:
    """charset-normalizer's candidate encodings for these bytes, most likely first, each with the
    encodings it could equally be (Python codec names). It reads only the lines that hold
    non-ASCII bytes (at most SAMPLE_BYTES of them): in a large file that is ASCII but for a few
    names, the ASCII would otherwise fit every encoding and drown the evidence."""
    from charset_normalizer import from_bytes

    out: list[str] = []
    for match in from_bytes(_non_ascii_lines(raw)):
        for enc in [match.encoding, *match.could_be_from_charset]:
            if enc not in out:
                out.append(enc)
    return out


SAMPLE_BYTES = 256 * 1024


def _non_ascii_lines(raw: bytes, limit: int = SAMPLE_BYTES) -> bytes:
    import numpy as np

    data = np.frombuffer(raw, dtype=np.uint8)
    high = np.flatnonzero(data > 127)
    if not len(high):
        return raw[:limit]
    newlines = np.flatnonzero(data == 10)
    which = np.unique(np.searchsorted(newlines, high))  # the line (0-based) of each non-ASCII byte
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(raw)]))
    out, size = [], 0
    for k in which:
        piece = raw[int(starts[k]) : int(ends[k])]
        out.append(piece)
        size += len(piece) + 1
        if size >= limit:
            break
    return b"\n".join(out)


def _mostly_utf8(raw: bytes) -> bool:
    """True when the non-ASCII text is valid UTF-8 far more often than not."""
    text = raw.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = sum(1 for ch in text if ord(ch) > 127) - bad
    return good > bad


def _line_subject(raw: bytes, line: int, form: str, quoting) -> str | None:
    """The subject (SUBJID, or SCRNID on the screening log) of the record on `line` of a file that
    could not be decoded: identifiers are ASCII, so the bytes are read as Latin-1 for this."""
    lines = raw.split(b"\n", line)
    if len(lines) < line:
        return None
    header = [h.strip().upper() for h in next(csv.reader([lines[0].decode("latin-1").lstrip("\xef\xbb\xbf")]), [])]
    name = "SCRNID" if form == "SCREENING" else "SUBJID"
    if name not in header:
        return None
    fields = next(csv.reader([lines[line - 1].decode("latin-1")]), [])
    k = header.index(name)
    return quoting.subject(form, name, fields[k]) if k < len(fields) and fields[k].isascii() else None


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


def _archive_fits(pkg: OpenedPackage, archive: Path) -> bool:
    """A readable zip within the caps (members, uncompressed bytes) and without encrypted members;
    else an error naming the archive (or the member) and False. The sizes are those the archive
    declares: Python's zipfile stops reading a member at its declared size and checks its CRC,
    so a member that lies about its size fails to read rather than expanding further."""
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        pkg.problems.append(
            Problem(
                "error", archive.name, None, None, N_("not a readable zip archive: {reason}"), params={"reason": exc}
            )
        )
        return False
    if len(members) > MAX_ARCHIVE_MEMBERS:
        pkg.problems.append(
            Problem(
                "error",
                archive.name,
                None,
                None,
                N_("the archive holds {n:,} members, more than the cap of {cap:,}"),
                params={"n": len(members), "cap": MAX_ARCHIVE_MEMBERS},
            )
        )
        return False
    total = sum(m.file_size for m in members)
    if total > MAX_ARCHIVE_BYTES:
        pkg.problems.append(
            Problem(
                "error",
                archive.name,
                None,
                None,
                N_("the archive would expand to {total:,} bytes, more than the cap of {cap:,} bytes"),
                params={"total": total, "cap": MAX_ARCHIVE_BYTES},
            )
        )
        return False
    encrypted = [m.filename for m in members if m.flag_bits & 0x1]
    for name in encrypted:
        pkg.problems.append(
            Problem(
                "error",
                f"{archive.name}:{name}",
                None,
                None,
                N_("the member is encrypted (password-protected): export the package without a password"),
            )
        )
    return not encrypted


def _collect_zip(pkg: OpenedPackage, archive: Path, staging: Path, encoding: str | None) -> None:
    if not _archive_fits(pkg, archive):
        return
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        pkg.problems.append(
            Problem("error", archive.name, None, None, N_("not a readable zip: {reason}"), params={"reason": exc})
        )
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
                    N_("the zip must hold the forms at its root or in one top-level folder; it has {n} folders"),
                    params={"n": len(tops)},
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
            except Exception as exc:  # noqa: BLE001  zipfile raises BadZipFile, zlib.error, RuntimeError, NotImplementedError, ...
                pkg.problems.append(
                    Problem(
                        "error",
                        name,
                        None,
                        None,
                        N_("cannot be read from {archive}: {error}: {reason}"),
                        params={"archive": archive.name, "error": type(exc).__name__, "reason": exc},
                    )
                )
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


def _xml_refusal(exc: BaseException) -> Msg | None:
    """defusedxml's reason when it refused the XML somewhere in the exception's chain."""
    seen = exc
    while seen is not None:
        if type(seen).__module__.startswith("defusedxml"):
            return msg(
                N_(
                    "its XML declares entities or a DTD ({error}), which a workbook never needs: "
                    "refused as a possible XML bomb or external-entity attack"
                ),
                error=type(seen).__name__,
            )
        seen = seen.__cause__ or seen.__context__
    return None


def _number_in_text_column(cell, text: str, col) -> str | None:  # an N_() message
    """Why a number cell in a text column is refused, or None when its text is the column's.

    A text column of the spec holds text (`SITEID` 01 is text): a number loses its leading zeros
    (1 for 01). A number is accepted only when its text follows the column's pattern or is one of
    its codes, or when the cell's number format pads it with zeros ("00": Excel shows 01)."""
    fmt = cell.number_format or ""
    if fmt and set(fmt) == {"0"}:
        return None
    if col.pattern and re.fullmatch(col.pattern, text):
        return None
    if col.codes and text in col.codes:
        return None
    if col.pattern or col.codes:
        return N_("a number in a text column, and as text it does not follow the column's pattern or codes")
    return N_("stored as a number in a text column (leading zeros are lost): store it as text")


def _collect_xlsx(pkg: OpenedPackage, workbook: Path, staging: Path, spec=None, quoting=None) -> None:
    import openpyxl  # only needed for this wrapper
    import openpyxl.xml

    if not openpyxl.xml.DEFUSEDXML:
        pkg.problems.append(
            Problem("error", workbook.name, None, None, N_("defusedxml is not installed: .xlsx workbooks are not read"))
        )
        return
    try:
        wb = openpyxl.load_workbook(workbook, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001  openpyxl raises many kinds for a damaged file
        reason = _xml_refusal(exc) or msg(
            N_("not a readable .xlsx workbook: {error}: {reason}"),
            error=type(exc).__name__,
            reason=(str(exc).splitlines() or [""])[0],
        )
        pkg.problems.append(Problem("error", workbook.name, None, None, reason))
        return
    try:
        for ws in wb.worksheets:
            form = ws.title.strip().upper()
            original = f"{workbook.name}[{ws.title}]"
            if form in pkg.files:
                pkg.problems.append(
                    Problem("error", original, None, None, N_("two sheets for form {form}"), params={"form": form})
                )
                continue
            try:
                text = _sheet_csv(pkg, ws, form, original, spec, quoting)
            except Exception as exc:  # noqa: BLE001  a damaged or hostile sheet part
                reason = _xml_refusal(exc) or msg(N_("the sheet cannot be read: {error}"), error=type(exc).__name__)
                pkg.problems.append(Problem("error", original, None, None, reason))
                continue
            path = staging / f"{form}.csv"
            path.write_text(text, encoding="utf-8", newline="")
            pkg.files[form] = FormFile(form, original, path, "xlsx")
    finally:
        wb.close()


def _sheet_csv(pkg: OpenedPackage, ws, form: str, original: str, spec, quoting) -> str:
    """The sheet as CSV text (a blank line for an empty row keeps line = sheet row); number cells
    in text columns of the spec checked (`_number_in_text_column`)."""
    columns = {c.name: c for c in spec.forms[form].columns} if spec is not None and form in spec.forms else {}
    text_types = ("text", "yn")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    width = None
    header: list[str] = []
    for line, row in enumerate(ws.iter_rows(), start=1):
        cells = [_cell_text(c) for c in row]
        while cells and cells[-1] == "":
            cells.pop()
        if not cells:
            buf.write("\n")  # an empty sheet row: a blank line keeps line = sheet row
            continue
        if width is None:
            width = len(cells)  # the header row sets the width
            header = [h.strip().upper() for h in cells]
        elif columns:
            for k, cell in enumerate(row[: len(header)]):
                col = columns.get(header[k])
                value = getattr(cell, "value", None)
                if col is None or col.type not in text_types or isinstance(value, bool):
                    continue
                if not isinstance(value, (int, float)):
                    continue
                why = _number_in_text_column(cell, cells[k], col)
                if why:
                    pkg.problems.append(
                        Problem(
                            "error",
                            original,
                            line,
                            col.name,
                            _shown(quoting, form, col.name, cells[k], why),
                            _row_subject(quoting, form, header, cells),
                        )
                    )
        cells += [""] * (width - len(cells))
        writer.writerow(cells)
    return buf.getvalue()


def _shown(quoting, form: str, column: str, value: str, why: str) -> Msg:
    """`why` (an N_() message), after the value when it may be quoted."""
    if quoting is not None and quoting.may_quote(form, column, value):
        return msg(N_("{value}: {problem}"), value=repr(value), problem=Msg(why))
    return Msg(why)


def _row_subject(quoting, form: str, header: list[str], cells: list[str]) -> str | None:
    name = "SCRNID" if form == "SCREENING" else "SUBJID"
    if name not in header or quoting is None:
        return None
    k = header.index(name)
    return quoting.subject(form, name, cells[k]) if k < len(cells) else None


def clear_staging(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)
