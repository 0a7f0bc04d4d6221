"""A small local stand-in for REDCap's API, for tests/test_edc_pull.py (a real HTTP server on 127.0.0.1,
port 0, in a thread). No real REDCap server was reachable from the machine these tests were written on;
the stub follows REDCap's documented formats:

- one POST per export, form-encoded, routed by the `content` field; `token` checked first (a wrong one
  is HTTP 403 {"error": "You do not have permissions to use the API"});
- errors as {"error": "..."} when returnFormat=json (REDCap's "Export Records" API help page: returnFormat
  sets the format of error messages); a classic project answers content=event and formEventMapping
  with HTTP 400 "You cannot export events for classic projects" / "You cannot export form/event
  mappings for classic projects" (REDCap's API code, redcapAPI R/redcapError.R, PyCap's test callbacks);
- records as flat CSV: the record ID first, then redcap_event_name (longitudinal projects),
  redcap_repeat_instrument, redcap_repeat_instance (projects with repeating instruments), then
  redcap_data_access_group, only when exportDataAccessGroups=true, the project has groups and the
  token's user is in none (the API help page), then the fields (REDCapR
  inst/test-data/projects/longitudinal-with-repeating-instrument/data.csv);
- metadata with the API's 18 column names (REDCapR inst/test-data/projects/simple/metadata.csv);
- events as event_name, arm_num, unique_event_name, custom_event_label, event_id (REDCapR
  inst/test-data/projects/longitudinal/event.csv, PyCap's callbacks add event_id); form-event mapping
  as arm_num, unique_event_name, form; groups as data_access_group_name, unique_group_name,
  data_access_group_id; repeating instruments as (event_name,) form_name, custom_form_label;
- project information as one JSON object (project_id, project_title, is_longitudinal,
  has_repeating_instruments_or_events, ...), the version as plain text.
Assumed, not documented in what was read: a project without groups or repeating instruments answers
content=dag / repeatingFormsEvents with an empty body.

Every request's form fields are kept in `stub.requests` (a list of dicts, in order).
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

METADATA_COLUMNS = [
    "field_name",
    "form_name",
    "section_header",
    "field_type",
    "field_label",
    "select_choices_or_calculations",
    "field_note",
    "text_validation_type_or_show_slider_number",
    "text_validation_min",
    "text_validation_max",
    "identifier",
    "branching_logic",
    "required_field",
    "custom_alignment",
    "question_number",
    "matrix_group_name",
    "matrix_ranking",
    "field_annotation",
]

# field_name, form_name, field_type, field_label, choices, validation
FIELDS = [
    ("record_id", "enrolment", "text", "Record ID", "", ""),
    ("enr_date", "enrolment", "text", "Date of enrolment", "", "date_ymd"),
    ("sex", "enrolment", "radio", "Sex", "1, Female | 2, Male", ""),
    ("enrolment_complete", "enrolment", "yesno", "Complete?", "", ""),  # REDCap adds <form>_complete
    ("ae_term", "adverse_event", "text", "Adverse event", "", ""),
    ("ae_grade", "adverse_event", "dropdown", "CTCAE grade", "1, 1 | 2, 2 | 3, 3 | 4, 4 | 5, 5", ""),
]

LOGIN_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>REDCap</title></head>"
    b"<body><form method='post'>Username <input name='username'></form></body></html>\n"
)


def _csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


class RedcapStub:
    """REDCap's API for one project. Options:
    longitudinal    events and the form-event mapping exist (else 400 for those, as a classic project)
    dags            the project has data access groups
    user_in_dag     the token's user is in a group: no redcap_data_access_group column, one site's rows
    repeating       the adverse event instrument repeats
    fail_on         the n-th request (1-based) answers HTTP 500
    answers         {content: (status, content type, body)} to override one content type's answer
    delay           {content: seconds} before answering
    echo_token      error bodies quote the token the request sent (a careless server)
    """

    def __init__(
        self,
        token: str,
        *,
        longitudinal: bool = False,
        dags: bool = True,
        user_in_dag: bool = False,
        repeating: bool = True,
        version: str = "14.5.1",
        project_id: int = 123,
        title: str = "Neo-Margin  trial",
        fail_on: int | None = None,
        answers: dict[str, tuple[int, str, bytes]] | None = None,
        delay: dict[str, float] | None = None,
        echo_token: bool = False,
    ):
        self.token = token
        self.longitudinal = longitudinal
        self.dags = dags
        self.user_in_dag = user_in_dag
        self.repeating = repeating
        self.version = version
        self.project_id = project_id
        self.title = title
        self.fail_on = fail_on
        self.answers = answers or {}
        self.delay = delay or {}
        self.echo_token = echo_token
        self.requests: list[dict[str, str]] = []
        self.headers: list[dict[str, str]] = []
        self.bodies: dict[str, bytes] = {}  # what was answered with 200, by content
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ server
    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/redcap/api/"

    def __enter__(self) -> RedcapStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("ascii", errors="replace")
                status, ctype, body = stub._answer(dict(self.headers), raw)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                if status in (301, 302, 303, 307, 308):
                    self.send_header("Location", "https://login.example.org/sso?next=/redcap/api/")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # keep the test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    # ------------------------------------------------------------------ API
    def _answer(self, headers: dict[str, str], raw: str) -> tuple[int, str, bytes]:
        fields = {k: v[-1] for k, v in urllib.parse.parse_qs(raw, keep_blank_values=True).items()}
        with self._lock:
            self.requests.append(fields)
            self.headers.append(headers)
            n = len(self.requests)
        content = fields.get("content", "")
        time.sleep(self.delay.get(content, 0))
        if self.fail_on == n:
            return 500, "text/html; charset=utf-8", b"<html><body>Internal Server Error</body></html>"
        if not headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            return self._error(400, "The request is not form-encoded", fields)
        if fields.get("token") != self.token:
            return self._error(403, "You do not have permissions to use the API", fields)
        if content in self.answers:
            return self.answers[content]
        handler = getattr(self, f"_content_{content}", None)
        if handler is None:
            return self._error(400, 'The value of the parameter "content" is not valid', fields)
        result = handler(fields)
        if result[0] == 200:
            self.bodies[content] = result[2]
        return result

    def _error(self, status: int, message: str, fields: dict[str, str]) -> tuple[int, str, bytes]:
        if self.echo_token:
            message = f"{message} (token {fields.get('token', '')})"
        if fields.get("returnFormat") == "json":
            return status, "application/json; charset=utf-8", json.dumps({"error": message}).encode()
        return status, "text/xml; charset=utf-8", f"<?xml version='1.0'?><hash><error>{message}</error></hash>".encode()

    def _sites(self) -> list[tuple[str, str, str]]:
        return [("Site Beijing", "site_beijing", "101"), ("Site Shanghai", "site_shanghai", "102")]

    def _content_version(self, fields):
        return 200, "text/html; charset=utf-8", self.version.encode()  # REDCap sends the version as text

    def _content_project(self, fields):
        info = {
            "project_id": self.project_id,
            "project_title": self.title,
            "creation_time": "2028-01-10 09:00:00",
            "in_production": 1,
            "project_language": "English",
            "purpose": 2,
            "is_longitudinal": int(self.longitudinal),
            "has_repeating_instruments_or_events": int(self.repeating),
            "surveys_enabled": 0,
            "record_autonumbering_enabled": 0,
            "randomization_enabled": 1,
        }
        return 200, "application/json; charset=utf-8", json.dumps(info).encode()

    def _content_metadata(self, fields):
        rows = [METADATA_COLUMNS]
        for name, form, ftype, label, choices, validation in FIELDS:
            row = dict.fromkeys(METADATA_COLUMNS, "")
            row.update(field_name=name, form_name=form, field_type=ftype, field_label=label)
            row.update(select_choices_or_calculations=choices, text_validation_type_or_show_slider_number=validation)
            rows.append([row[c] for c in METADATA_COLUMNS])
        rows.append(["adverse_event_complete", "adverse_event", "", "yesno", "Complete?"] + [""] * 13)
        return 200, "text/csv; charset=utf-8", _csv(rows)

    def _content_record(self, fields):
        with_dag = fields.get("exportDataAccessGroups") == "true" and self.dags and not self.user_in_dag
        header = ["record_id"]
        if self.longitudinal:
            header.append("redcap_event_name")
        if self.repeating:
            header += ["redcap_repeat_instrument", "redcap_repeat_instance"]
        if with_dag:
            header.append("redcap_data_access_group")
        header += ["enr_date", "sex", "enrolment_complete", "ae_term", "ae_grade", "adverse_event_complete"]
        records = [
            ("101-001", "site_beijing", "2028-03-02", "1", [("Nausea", "1"), ("Neutropenia", "3")]),
            ("102-001", "site_shanghai", "2028-03-09", "2", [("Fatigue", "2")]),
        ]
        if self.user_in_dag:
            records = records[:1]
        rows = [header]
        for rid, dag, enr, sex, aes in records:
            base = {"record_id": rid, "redcap_event_name": "baseline_arm_1", "redcap_data_access_group": dag}
            rows.append([{**base, "enr_date": enr, "sex": sex, "enrolment_complete": "2"}.get(c, "") for c in header])
            for i, (term, grade) in enumerate(aes, 1):
                ae = {"ae_term": term, "ae_grade": grade, "adverse_event_complete": "2"}
                if self.repeating:
                    ae.update(redcap_repeat_instrument="adverse_event", redcap_repeat_instance=str(i))
                rows.append([{**base, **ae}.get(c, "") for c in header])
        return 200, "text/csv; charset=utf-8", _csv(rows)

    def _content_event(self, fields):
        if not self.longitudinal:
            return self._error(400, "You cannot export events for classic projects", fields)
        rows = [
            ["event_name", "arm_num", "unique_event_name", "custom_event_label", "event_id"],
            ["Baseline", "1", "baseline_arm_1", "", "41"],
            ["Week 6", "1", "week_6_arm_1", "", "42"],
        ]
        return 200, "text/csv; charset=utf-8", _csv(rows)

    def _content_formEventMapping(self, fields):  # noqa: N802 - REDCap's content name
        if not self.longitudinal:
            return self._error(400, "You cannot export form/event mappings for classic projects", fields)
        rows = [
            ["arm_num", "unique_event_name", "form"],
            ["1", "baseline_arm_1", "enrolment"],
            ["1", "baseline_arm_1", "adverse_event"],
            ["1", "week_6_arm_1", "adverse_event"],
        ]
        return 200, "text/csv; charset=utf-8", _csv(rows)

    def _content_dag(self, fields):
        if not self.dags:
            return 200, "text/csv; charset=utf-8", b""
        rows = [["data_access_group_name", "unique_group_name", "data_access_group_id"], *map(list, self._sites())]
        return 200, "text/csv; charset=utf-8", _csv(rows)

    def _content_repeatingFormsEvents(self, fields):  # noqa: N802 - REDCap's content name
        if not self.repeating:
            return 200, "text/csv; charset=utf-8", b""
        if self.longitudinal:
            rows = [["event_name", "form_name", "custom_form_label"], ["baseline_arm_1", "adverse_event", "[ae_term]"]]
        else:
            rows = [["form_name", "custom_form_label"], ["adverse_event", "[ae_term]"]]
        return 200, "text/csv; charset=utf-8", _csv(rows)
