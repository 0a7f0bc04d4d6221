"""`pull redcap`: fetch a REDCap project's exports through its API into a dated SOURCE folder.

    pull_redcap(url, token_file, out, *, clock=None, timeout=60.0) -> Path

saves the raw answers of one POST per content type in out/<UTC YYYYMMDDTHHMMSSZ>/, the folder that
`convert redcap` reads (the lead's contract, /tmp/lead/convert_api.md):

    file                        request (all form-encoded POSTs with token=..., returnFormat=json)
    records.csv                 content=record, format=csv, type=flat, rawOrLabel=raw, rawOrLabelHeaders=raw,
                                exportCheckboxLabel=false, exportSurveyFields=false, exportDataAccessGroups=true
    dictionary.csv              content=metadata, format=csv (the API's column names: field_name, form_name, ...)
    events.csv                  content=event, format=csv              absent for a classic project
    form_event_mapping.csv      content=formEventMapping, format=csv   absent for a classic project
    dags.csv                    content=dag, format=csv                absent when the project has no groups
    repeating_instruments.csv   content=repeatingFormsEvents, format=csv   absent when nothing repeats
    project.json                content=project, format=json
    export.json                 written here: {"export_time", "source", "url", "files": {name: sha256},
                                "absent": {name: why}, "parameters": {content: the fields sent but the token}}

What REDCap's API does, and where it was read (public material, read with the search tool; none of
it is copied or run here):
- The record export's fields and their values (`type=flat`, `rawOrLabel=raw`, `rawOrLabelHeaders=raw`,
  `exportCheckboxLabel=false`, `exportSurveyFields=false`, `exportDataAccessGroups=true`, all as the
  strings true/false): REDCapR's `redcap_read_oneshot` post body (OuhscBbmc/REDCapR
  R/redcap-read-oneshot.R) and REDCap's "Export Records" API help page (as reproduced in
  hebrewseniorlife/data_science_workshops redcap_doc.md). That page also says `returnFormat` sets the
  format of error messages (so every request here asks for JSON errors, `{"error": "..."}`), and that
  `exportDataAccessGroups` is honoured only when the token's user is in no data access group: a user
  in a group sees that group's records only and gets no `redcap_data_access_group` column. A pull
  that finds groups in dags.csv but no such column in records.csv is therefore refused (a one-site
  export would pass for the whole trial).
- `content=version` and `content=metadata` with `format=csv`: REDCapR's redcap_version and
  redcap_metadata_read (R/redcap-version.R, R/redcap-metadata-read.R); the version answers plain
  text. `content=project` answers one JSON object (project_id, project_title, is_longitudinal,
  has_repeating_instruments_or_events, ...), as REDCap-ETL's test fixtures show and redcapAPI's
  exportRepeatingInstrumentsEvents reads it.
- A classic (non-longitudinal) project answers content=event with HTTP 400 "You cannot export events
  for classic projects" and content=formEventMapping with "You cannot export form/event mappings for
  classic projects": REDCap's own API code (`RestUtility::sendResponse(400, ...)`), redcapAPI's
  redcapError (which treats exactly these messages as "no data", not as errors) and PyCap's test
  callbacks (redcap-tools/PyCap tests, `{"error": ...}` with status 400). redcapAPI's
  exportRepeatingInstrumentsEvents asks the project information first and skips the request when
  has_repeating_instruments_or_events is 0; here the request is made anyway and an empty answer, or
  a 400 while the project says nothing repeats, means "none". So version and project are asked
  first, then the rest.
- A wrong or revoked token is HTTP 403 ("You do not have permissions to use the API"). Tokens are 32
  hexadecimal characters (REDCapR's sanitize_token), 64 for a super token.

NO REAL REDCap SERVER WAS REACHABLE FROM THIS MACHINE. The tests run against tests/redcap_stub.py, a
local HTTP server that follows REDCap's documented formats as read above (the bodies follow REDCapR's
inst/test-data/projects files). What REDCap answers for content=dag in a project without groups is not
documented in what was read; the stub answers an empty body, and this module takes an empty answer, a
header without rows, or a 400 that says the content is not valid (a REDCap too old for that method) as
"none" for the informational files only. A real server's first pull should be looked at by hand.

The token: read from the token file (whitespace stripped; refused when group or others have any
access: `chmod 600`), or from the environment variable NEO_MARGIN_REDCAP_TOKEN when token_file is
None (a service's secret); it must be 32 or 64 hexadecimal characters. It is never logged, printed,
put in an exception message (the server's words are scrubbed of it before they are quoted), written
to export.json or any saved file (an answer that contains it is refused), and it travels only over
https, or plain http to localhost / 127.0.0.1 / ::1. Redirects are not followed (a REDCap API does not
redirect; a login portal or a wrong URL does), so the token is never posted anywhere but the URL given.

Any other HTTP error, a timeout, an unreachable host, an HTML page where CSV or JSON was asked for,
an empty records export, a records export without the record ID column the dictionary names first,
raises PullFailed naming the content type and the HTTP status. The answers are written as they
arrive to a temporary folder (0700, files 0600) inside out, renamed to the dated folder when all are
in and export.json is written; a failed pull removes it and leaves nothing behind.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import re
import shutil
import stat
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.client import HTTPException
from pathlib import Path

from dashboard.i18n import N_, _

TOKEN_ENV = "NEO_MARGIN_REDCAP_TOKEN"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_TOKEN_RE = re.compile(r"[0-9A-Fa-f]{32}|[0-9A-Fa-f]{64}")
_VERSION_RE = re.compile(r"\d+\.\d+\.\d+")
_ERROR_QUOTE = 300  # characters of the server's error text quoted in a message

_log = logging.getLogger(__name__)
_TIMED_OUT = N_("{what}: no answer from {url} within {seconds:g} s (timed out)")


class PullFailed(Exception):
    """The pull could not be made or its answers are not a usable export; the message names the content
    type and the HTTP status where there was one, never the token. Nothing was saved."""


class _Token:
    """The API token, kept out of reprs and tracebacks' locals."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<REDCap API token, hidden>"

    __str__ = __repr__


@dataclass(frozen=True)
class _Content:
    content: str
    file: str
    params: dict[str, str]
    kind: str  # "csv" | "json" | "version"
    optional: bool = False


_CONTENTS = (
    _Content("version", "", {"content": "version", "format": "csv", "returnFormat": "json"}, "version"),
    _Content("project", "project.json", {"content": "project", "format": "json", "returnFormat": "json"}, "json"),
    _Content("metadata", "dictionary.csv", {"content": "metadata", "format": "csv", "returnFormat": "json"}, "csv"),
    _Content(
        "record",
        "records.csv",
        {
            "content": "record",
            "format": "csv",
            "type": "flat",
            "rawOrLabel": "raw",
            "rawOrLabelHeaders": "raw",
            "exportCheckboxLabel": "false",
            "exportSurveyFields": "false",
            "exportDataAccessGroups": "true",
            "returnFormat": "json",
        },
        "csv",
    ),
    _Content("event", "events.csv", {"content": "event", "format": "csv", "returnFormat": "json"}, "csv", True),
    _Content(
        "formEventMapping",
        "form_event_mapping.csv",
        {"content": "formEventMapping", "format": "csv", "returnFormat": "json"},
        "csv",
        True,
    ),
    _Content("dag", "dags.csv", {"content": "dag", "format": "csv", "returnFormat": "json"}, "csv", True),
    _Content(
        "repeatingFormsEvents",
        "repeating_instruments.csv",
        {"content": "repeatingFormsEvents", "format": "csv", "returnFormat": "json"},
        "csv",
        True,
    ),
)


def pull_redcap(
    url: str,
    token_file: Path | None,
    out: Path,
    *,
    clock: Callable[[], datetime] | None = None,
    timeout: float = 60.0,
) -> Path:
    """Fetch the project's exports from the REDCap API at `url` into out/<UTC time>/ and return that
    folder. `clock` returns the (timezone-aware) time of the pull; by default now, with the machine's
    offset. Raises PullFailed."""
    safe_url = check_url(url)
    url = urllib.parse.urlunsplit(urllib.parse.urlsplit(url.strip())._replace(fragment=""))
    token = read_token(token_file)
    now = clock() if clock is not None else datetime.now(UTC).astimezone()
    if now.tzinfo is None or now.utcoffset() is None:
        raise PullFailed(_("the clock gave a time without a timezone offset"))
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True, mode=0o700)
        final = out / stamp
        if final.exists():
            raise PullFailed(
                _("{folder} already exists (two pulls in the same second?); nothing was saved").format(folder=final)
            )
        tmp = Path(tempfile.mkdtemp(prefix=f".pull-{stamp}-", dir=out))  # mode 0700
    except OSError as e:
        raise PullFailed(_("cannot write in {folder}: {reason}").format(folder=out, reason=e.strerror or e)) from None
    try:
        answers, absent = _fetch_all(url, safe_url, token, timeout, tmp)
        _write(tmp / "export.json", _export_json(now, safe_url, answers, absent, token))
        _fsync_dir(tmp)
        if final.exists():
            raise PullFailed(
                _("{folder} already exists (two pulls in the same second?); nothing was saved").format(folder=final)
            )
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(out)
    _log.info("REDCap pull saved in %s (%s)", final, ", ".join(sorted(answers)))
    return final


# ---------------------------------------------------------------------------------------- checks


def check_url(url: str) -> str:
    """The API URL without query or fragment (what may be shown and saved); refuses anything but https
    (plain http only to this machine) and a URL with a user name or password in it."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        host = parts.hostname
        port = parts.port
    except ValueError as e:
        raise PullFailed(_("the REDCap API URL is not a URL ({reason})").format(reason=e)) from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not host:
        raise PullFailed(
            _("the REDCap API URL must start with https:// and name a host (e.g. https://redcap.example.org/api/)")
        )
    if scheme == "http" and host.lower() not in LOCAL_HOSTS:
        raise PullFailed(
            _(
                "refused: http://{host} would send the API token and the records in clear text; "
                "use https:// (plain http:// is accepted only for localhost, 127.0.0.1 or ::1)"
            ).format(host=host)
        )
    if parts.username is not None or parts.password is not None:
        raise PullFailed(
            _("refused: the REDCap API URL carries a user name or password; the API is authenticated by the token only")
        )
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return urllib.parse.urlunsplit((scheme, netloc, parts.path or "/", "", ""))


def read_token(token_file: Path | None) -> _Token:
    """The token from the file (whitespace stripped), or from NEO_MARGIN_REDCAP_TOKEN when token_file is
    None; refuses a file others can read and anything that is not 32 or 64 hexadecimal characters."""
    if token_file is None:
        raw = os.environ.get(TOKEN_ENV)
        if not raw or not raw.strip():
            raise PullFailed(
                _("no REDCap API token: give a token file, or set the environment variable {variable}").format(
                    variable=TOKEN_ENV
                )
            )
        where = _("the environment variable {variable}").format(variable=TOKEN_ENV)
    else:
        token_file = Path(token_file)
        where = str(token_file)
        try:
            st = token_file.stat()
        except OSError as e:
            raise PullFailed(
                _("cannot read the token file {file}: {reason}").format(file=token_file, reason=e.strerror or e)
            ) from None
        if not stat.S_ISREG(st.st_mode):
            raise PullFailed(_("the token file {file} is not a regular file").format(file=token_file))
        if st.st_mode & 0o077:
            raise PullFailed(
                _(
                    "refused: the token file {file} can be read by group or others (mode {mode:04o}); "
                    "run: chmod 600 {file}"
                ).format(file=token_file, mode=stat.S_IMODE(st.st_mode))
            )
        try:
            raw = token_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise PullFailed(
                _("cannot read the token file {file}: {reason}").format(
                    file=token_file, reason=getattr(e, "strerror", None) or e
                )
            ) from None
    value = raw.strip()
    if not _TOKEN_RE.fullmatch(value):
        raise PullFailed(
            _(
                "refused: {where} does not hold a REDCap API token (32 hexadecimal characters, 64 for a "
                "super token); it holds {n} character(s) after stripping white space"
            ).format(where=where, n=len(value))
        )
    return _Token(value)


# ---------------------------------------------------------------------------------------- HTTP


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D401 - urllib's hook
        return None  # urllib then raises HTTPError with the 3xx status


def _opener(url: str) -> urllib.request.OpenerDirector:
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    handlers: list = [_NoRedirect()]
    if host in LOCAL_HOSTS:
        handlers.append(urllib.request.ProxyHandler({}))  # this machine: never through a proxy
    return urllib.request.build_opener(*handlers)


@dataclass
class _Answer:
    status: int
    content_type: str
    body: bytes
    location: str = ""


def _post(opener, url: str, safe_url: str, token: _Token, spec: _Content, timeout: float) -> _Answer:
    data = urllib.parse.urlencode({"token": token.reveal(), **spec.params}).encode("ascii")
    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "text/csv, application/json, text/plain",
            "User-Agent": "neo-margin-monitor pull",
        },
    )
    del data
    what = f"content={spec.content}"
    try:
        with opener.open(request, timeout=timeout) as response:
            return _Answer(response.status, response.headers.get_content_type(), response.read())
    except urllib.error.HTTPError as e:
        try:
            body = e.read(64 * 1024) or b""
        except (OSError, HTTPException):
            body = b""
        location = _strip_url(e.headers.get("Location", "")) if e.headers else ""
        content_type = e.headers.get_content_type() if e.headers else ""
        e.close()
        return _Answer(e.code, content_type, body, location)
    except TimeoutError:
        raise PullFailed(_(_TIMED_OUT).format(what=what, url=safe_url, seconds=timeout)) from None
    except urllib.error.URLError as e:
        if isinstance(e.reason, TimeoutError):
            raise PullFailed(_(_TIMED_OUT).format(what=what, url=safe_url, seconds=timeout)) from None
        raise PullFailed(
            _("{what}: cannot reach {url}: {reason}").format(
                what=what, url=safe_url, reason=_scrub(str(e.reason), token)
            )
        ) from None
    except (OSError, HTTPException) as e:
        raise PullFailed(
            _("{what}: the connection to {url} failed: {reason}").format(
                what=what, url=safe_url, reason=_scrub(str(e) or type(e).__name__, token)
            )
        ) from None


def _fetch_all(url: str, safe_url: str, token: _Token, timeout: float, folder: Path):
    """Ask each content type in turn, writing each usable answer into `folder` as it comes."""
    opener = _opener(url)
    answers: dict[str, bytes] = {}
    absent: dict[str, str] = {}
    project: dict = {}
    for spec in _CONTENTS:
        answer = _post(opener, url, safe_url, token, spec, timeout)
        _log.info("REDCap content=%s: HTTP %s, %d bytes", spec.content, answer.status, len(answer.body))
        body = _check(spec, answer, token, project)
        if body is None:
            absent[spec.file] = absent_reason(spec, answer, token)
            continue
        if spec.content == "version":
            answers["version"] = body
        else:
            answers[spec.file] = body
            _write(folder / spec.file, body)
        if spec.content == "project":
            project.update(json.loads(body))
    _check_records(answers)
    return answers, absent


# ---------------------------------------------------------------------------------------- answers


def _check(spec: _Content, answer: _Answer, token: _Token, project: dict) -> bytes | None:
    """The answer's body when it is usable, None when an optional file is rightly absent; PullFailed
    otherwise."""
    what = f"content={spec.content}"
    if answer.status != 200:
        if spec.optional and _means_none(spec, answer, project):
            return None
        message = _server_error(answer.body, token)
        if 300 <= answer.status < 400:
            where = _(" to {location}").format(location=answer.location) if answer.location else ""
            raise PullFailed(
                _(
                    "{what}: HTTP {status}, redirected{where}; a REDCap API does not redirect "
                    "(a login portal, or not the API URL, which usually ends in /api/)"
                ).format(what=what, status=answer.status, where=where)
            )
        hint = ""
        if answer.status in (401, 403):
            hint = _(" (a wrong or revoked token, or the token's user has no API export right in this project)")
        raise PullFailed(
            _("{what}: REDCap answered HTTP {status}{hint}: {message}").format(
                what=what, status=answer.status, hint=hint, message=message or _("(no message)")
            )
        )

    body = answer.body
    if token.reveal().encode("ascii") in body or token.reveal().lower().encode("ascii") in body.lower():
        raise PullFailed(
            _("{what}: HTTP 200, but the answer contains the API token itself; nothing was saved").format(what=what)
        )
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:512].lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<head" in head or b"<body" in head:
        raise PullFailed(
            _(
                "{what}: HTTP 200, but the answer is an HTML page, not {kind} "
                "(a login or proxy page? the API URL usually ends in /api/)"
            ).format(what=what, kind=spec.kind.upper())
        )
    error = _json_error(body)
    if error is not None:
        raise PullFailed(
            _("{what}: HTTP 200, but REDCap answered an error: {error}").format(what=what, error=_scrub(error, token))
        )

    if spec.kind == "version":
        text = _text(spec, body).strip()
        if not _VERSION_RE.fullmatch(text):
            raise PullFailed(_("{what}: HTTP 200, but the answer is not a REDCap version number").format(what=what))
        return text.encode("ascii")
    if spec.kind == "json":
        try:
            value = json.loads(_text(spec, body))
        except ValueError:
            raise PullFailed(_("{what}: HTTP 200, but the answer is not JSON").format(what=what)) from None
        if not isinstance(value, dict) or "project_id" not in value:
            raise PullFailed(
                _("{what}: HTTP 200, but the answer is not REDCap's project information (no project_id)").format(
                    what=what
                )
            )
        return body

    rows = _csv_rows(spec, body)
    if spec.content == "record":
        if not rows or not rows[0] or not any(cell.strip() for cell in rows[0]):
            raise PullFailed(_("{what}: HTTP 200, but the records export is empty").format(what=what))
        if len(rows) < 2:
            raise PullFailed(
                _("{what}: HTTP 200, but the records export has a header and no records").format(what=what)
            )
    elif spec.content == "metadata":
        header = rows[0] if rows else []
        if "field_name" not in header or "form_name" not in header:
            raise PullFailed(
                _(
                    "{what}: HTTP 200, but the answer is not REDCap's data dictionary "
                    "(no field_name, form_name columns)"
                ).format(what=what)
            )
        if len(rows) < 2:
            raise PullFailed(_("{what}: HTTP 200, but the data dictionary has no fields").format(what=what))
    elif spec.optional and len(rows) < 2:
        return None  # empty, or a header without rows: the project has none
    return body


def _means_none(spec: _Content, answer: _Answer, project: dict) -> bool:
    """A 400 that says the project simply has none of this (classic project, nothing repeats)."""
    if answer.status != 400:
        return False
    message = (_server_error(answer.body, None) or "").lower()
    if spec.content in ("event", "formEventMapping"):
        return "classic project" in message or str(project.get("is_longitudinal", "")) in ("0", "False", "false")
    if spec.content == "repeatingFormsEvents" and str(project.get("has_repeating_instruments_or_events", "")) in (
        "0",
        "False",
        "false",
    ):
        return True
    # a REDCap version older than the method
    return 'parameter "content" is not valid' in message or "content is not valid" in message


def absent_reason(spec: _Content, answer: _Answer, token: _Token) -> str:
    if answer.status == 200:
        return f"content={spec.content}: HTTP 200 with no rows (the project has none)"
    message = _server_error(answer.body, token) or "(no message)"
    return f"content={spec.content}: HTTP {answer.status}: {message}"


def _check_records(answers: dict[str, bytes]) -> None:
    """The records export starts with the record ID field (the dictionary's first field); groups in
    the project but no group column in the records mean the token's user is in a group and sees that
    group's records only."""
    by_content = {spec.content: spec for spec in _CONTENTS}
    header = _csv_rows(by_content["record"], answers["records.csv"])[0]
    record_id = _csv_rows(by_content["metadata"], answers["dictionary.csv"])[1][0]
    if header[0] != record_id:
        raise PullFailed(
            _(
                "content=record: HTTP 200, but the records export starts with the column {column}, "
                "not the record ID field {field} that the data dictionary names first"
            ).format(column=repr(header[0][:60]), field=repr(record_id[:60]))
        )
    if "dags.csv" in answers and "redcap_data_access_group" not in header:
        raise PullFailed(
            _(
                "content=record: HTTP 200, but the project has data access groups and the records export has no "
                "redcap_data_access_group column: the token's user is in a data access group and sees only that "
                "group's records; pull with the token of a user who is in no group"
            )
        )


def _text(spec: _Content, body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PullFailed(
            _("content={content}: HTTP 200, but the answer is not UTF-8 text").format(content=spec.content)
        ) from None


def _csv_rows(spec: _Content, body: bytes) -> list[list[str]]:
    text = _text(spec, body)
    if not text.strip():
        return []
    if text.lstrip().startswith("<"):
        raise PullFailed(
            _("content={content}: HTTP 200, but the answer is XML or HTML, not CSV").format(content=spec.content)
        )
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as e:
        raise PullFailed(
            _("content={content}: HTTP 200, but the answer is not CSV ({reason})").format(
                content=spec.content, reason=e
            )
        ) from None
    return [row for row in rows if row]


def _json_error(body: bytes) -> str | None:
    text = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text.startswith(b"{"):
        return None
    try:
        value = json.loads(text.decode("utf-8", errors="replace"))
    except ValueError:
        return None
    if isinstance(value, dict) and set(value) == {"error"}:
        return str(value["error"])
    return None


def _server_error(body: bytes, token: _Token | None) -> str:
    """The server's error text, short and without the token: {"error": ...}, <error>...</error>, or text."""
    text = body.decode("utf-8", errors="replace").strip()
    message = _json_error(body)
    if message is None:
        found = re.search(r"<error>(.*?)</error>", text, re.S | re.I)
        if found:
            message = found.group(1)
        elif re.match(r"\s*<", text):
            message = "(an HTML or XML page)"
        else:
            message = text
    message = " ".join(message.split())
    if token is not None:
        message = _scrub(message, token)
    return message[:_ERROR_QUOTE]


def _scrub(text: str, token: _Token) -> str:
    return re.sub(re.escape(token.reveal()), "[token]", text, flags=re.I)


def _strip_url(url: str) -> str:
    try:
        parts = urllib.parse.urlsplit(url)
        netloc = parts.hostname or ""
        if parts.port is not None:
            netloc += f":{parts.port}"
        return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except ValueError:
        return ""


# ---------------------------------------------------------------------------------------- saving


def _export_json(now: datetime, safe_url: str, answers: dict[str, bytes], absent: dict[str, str], token: _Token):
    project = json.loads(answers["project.json"])
    version = answers.pop("version").decode("ascii")
    title = " ".join(str(project.get("project_title", "")).split())
    export = {
        "export_time": now.isoformat(timespec="seconds"),
        "source": f"REDCap {version} project {project.get('project_id')} {title}".rstrip(),
        "url": safe_url,
        "files": {name: hashlib.sha256(body).hexdigest() for name, body in sorted(answers.items())},
        "absent": dict(sorted(absent.items())),
        "parameters": {spec.content: dict(spec.params) for spec in _CONTENTS},
    }
    data = (json.dumps(export, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    if token.reveal().lower().encode("ascii") in data.lower():
        raise PullFailed(_("export.json would contain the API token; nothing was saved"))
    return data


def _write(path: Path, body: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb", closefd=False) as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
