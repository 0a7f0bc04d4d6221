"""`pull redcap` (dashboard/ingest/edc/pull.py) against a real local HTTP server that answers like
REDCap's API (tests/redcap_stub.py: its header says which public descriptions of REDCap's formats it
follows; no real REDCap server was reachable from this machine)."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from dashboard.ingest.edc.pull import TOKEN_ENV, PullFailed, pull_redcap
from redcap_stub import LOGIN_PAGE, RedcapStub

TOKEN = "8E66DB6844D58E990075AFB51658A002"  # a made-up 32-hex token
SUPER_TOKEN = "0123456789ABCDEF" * 4  # 64 hex: a super token's length
OTHER_TOKEN = "C0FFEE00C0FFEE00C0FFEE00C0FFEE00"
BEIJING = timezone(timedelta(hours=8))


def clock():
    return datetime(2028, 7, 1, 8, 0, 5, tzinfo=BEIJING)


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / "secrets" / "redcap.token"
    path.parent.mkdir(mode=0o700)
    path.write_text(TOKEN + "\n")  # a trailing newline, as an editor leaves it
    path.chmod(0o600)
    return path


def all_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def nothing_saved(out: Path) -> bool:
    """out is absent or empty: no dated folder, no temporary one."""
    return not out.exists() or list(out.iterdir()) == []


def contents_sent(stub: RedcapStub) -> list[str]:
    return [r["content"] for r in stub.requests]


# ------------------------------------------------------------------------------------ a good pull


def test_classic_project_pull_saves_the_raw_answers_in_a_dated_private_folder(tmp_path, token_file):
    out = tmp_path / "pulls"
    with RedcapStub(TOKEN) as stub:
        folder = pull_redcap(stub.url + "?ignored=1", token_file, out, clock=clock)

    # 08:00:05 in Beijing is 00:00:05 UTC
    assert folder == out / "20280701T000005Z"
    assert sorted(p.name for p in out.iterdir()) == ["20280701T000005Z"]  # no temporary folder left
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "dags.csv",
        "dictionary.csv",
        "export.json",
        "project.json",
        "records.csv",
        "repeating_instruments.csv",
    ]
    # the raw answers, byte for byte
    assert (folder / "records.csv").read_bytes() == stub.bodies["record"]
    assert (folder / "dictionary.csv").read_bytes() == stub.bodies["metadata"]
    assert (folder / "dags.csv").read_bytes() == stub.bodies["dag"]
    assert (folder / "repeating_instruments.csv").read_bytes() == stub.bodies["repeatingFormsEvents"]
    assert (folder / "project.json").read_bytes() == stub.bodies["project"]
    records = (folder / "records.csv").read_text().splitlines()
    assert records[0].split(",")[:4] == [
        "record_id",
        "redcap_repeat_instrument",
        "redcap_repeat_instance",
        "redcap_data_access_group",
    ]
    assert records[1].startswith("101-001,,,site_beijing,2028-03-02,1,2")
    assert (
        (folder / "dictionary.csv")
        .read_text()
        .splitlines()[0]
        .startswith("field_name,form_name,section_header,field_type,field_label,select_choices_or_calculations")
    )

    # modes: folder 0700, files 0600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for p in folder.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p.name

    export = json.loads((folder / "export.json").read_text())
    assert export["export_time"] == "2028-07-01T08:00:05+08:00"
    assert export["source"] == "REDCap 14.5.1 project 123 Neo-Margin trial"
    assert export["url"] == stub.url  # without the query
    assert export["files"] == {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in names if name != "export.json"
    }
    assert set(export["absent"]) == {"events.csv", "form_event_mapping.csv"}
    assert "You cannot export events for classic projects" in export["absent"]["events.csv"]
    assert "HTTP 400" in export["absent"]["form_event_mapping.csv"]
    assert export["parameters"]["record"]["rawOrLabel"] == "raw"

    # the token is in no saved byte, in any case
    saved = all_bytes(out)
    assert TOKEN.encode() not in saved and TOKEN.lower().encode() not in saved


def test_each_request_is_one_form_encoded_post_per_content_type_with_the_documented_fields(tmp_path, token_file):
    with RedcapStub(TOKEN) as stub:
        pull_redcap(stub.url, token_file, tmp_path / "pulls", clock=clock)
    assert contents_sent(stub) == [
        "version",
        "project",
        "metadata",
        "record",
        "event",
        "formEventMapping",
        "dag",
        "repeatingFormsEvents",
    ]
    for headers, fields in zip(stub.headers, stub.requests, strict=True):
        assert headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert fields["token"] == TOKEN  # stripped of the file's newline
        assert fields["returnFormat"] == "json"
    record = next(r for r in stub.requests if r["content"] == "record")
    assert {k: v for k, v in record.items() if k != "token"} == {
        "content": "record",
        "format": "csv",
        "type": "flat",
        "rawOrLabel": "raw",
        "rawOrLabelHeaders": "raw",
        "exportCheckboxLabel": "false",
        "exportSurveyFields": "false",
        "exportDataAccessGroups": "true",
        "returnFormat": "json",
    }
    by_content = {r["content"]: r for r in stub.requests}
    assert by_content["project"]["format"] == "json"
    for content in ("metadata", "event", "formEventMapping", "dag", "repeatingFormsEvents"):
        assert by_content[content]["format"] == "csv"


def test_longitudinal_project_saves_events_and_the_form_event_mapping(tmp_path, token_file):
    with RedcapStub(TOKEN, longitudinal=True) as stub:
        folder = pull_redcap(stub.url, token_file, tmp_path / "pulls", clock=clock)
    assert (folder / "events.csv").read_text().splitlines() == [
        "event_name,arm_num,unique_event_name,custom_event_label,event_id",
        "Baseline,1,baseline_arm_1,,41",
        "Week 6,1,week_6_arm_1,,42",
    ]
    assert (folder / "form_event_mapping.csv").read_text().splitlines()[0] == "arm_num,unique_event_name,form"
    assert (folder / "records.csv").read_text().splitlines()[0].startswith("record_id,redcap_event_name,")
    export = json.loads((folder / "export.json").read_text())
    assert export["absent"] == {}
    assert {"events.csv", "form_event_mapping.csv"} <= set(export["files"])


def test_a_project_without_groups_or_repeating_instruments_leaves_those_files_out(tmp_path, token_file):
    with RedcapStub(TOKEN, dags=False, repeating=False) as stub:
        folder = pull_redcap(stub.url, token_file, tmp_path / "pulls", clock=clock)
    assert not (folder / "dags.csv").exists() and not (folder / "repeating_instruments.csv").exists()
    assert (folder / "records.csv").read_text().splitlines()[0] == (
        "record_id,enr_date,sex,enrolment_complete,ae_term,ae_grade,adverse_event_complete"
    )
    absent = json.loads((folder / "export.json").read_text())["absent"]
    assert set(absent) == {"events.csv", "form_event_mapping.csv", "dags.csv", "repeating_instruments.csv"}


def test_the_token_may_come_from_the_environment_and_may_be_a_64_character_super_token(tmp_path, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, f"  {SUPER_TOKEN}\n")
    with RedcapStub(SUPER_TOKEN) as stub:
        folder = pull_redcap(stub.url, None, tmp_path / "pulls", clock=clock)
    assert (folder / "records.csv").is_file()
    assert {r["token"] for r in stub.requests} == {SUPER_TOKEN}
    assert SUPER_TOKEN.encode() not in all_bytes(tmp_path / "pulls")


def test_default_clock_names_the_folder_in_utc_and_keeps_the_offset(tmp_path, token_file):
    before = datetime.now(UTC).replace(microsecond=0)
    with RedcapStub(TOKEN) as stub:
        folder = pull_redcap(stub.url, token_file, tmp_path / "pulls")
    after = datetime.now(UTC)
    named = datetime.strptime(folder.name, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert before <= named <= after
    export_time = datetime.fromisoformat(json.loads((folder / "export.json").read_text())["export_time"])
    assert export_time.utcoffset() is not None and export_time == named


# ------------------------------------------------------------------------------------ the token


def test_a_token_file_readable_by_others_is_refused_before_anything_is_sent(tmp_path, token_file):
    token_file.chmod(0o644)
    with RedcapStub(TOKEN) as stub:
        with pytest.raises(PullFailed, match="chmod 600") as e:
            pull_redcap(stub.url, token_file, tmp_path / "pulls", clock=clock)
    assert stub.requests == []
    assert TOKEN not in str(e.value)
    assert not (tmp_path / "pulls").exists()
    token_file.chmod(0o640)  # group-readable too
    with pytest.raises(PullFailed, match="chmod 600"):
        pull_redcap("https://redcap.example.org/api/", token_file, tmp_path / "pulls", clock=clock)


@pytest.mark.parametrize(
    "bad",
    [TOKEN[:-1], TOKEN + "A", TOKEN[:-1] + "G", f'"{TOKEN}"', "token=" + TOKEN, TOKEN + " " + TOKEN, ""],
    ids=["31", "33", "not-hex", "quoted", "key=value", "two", "empty"],
)
def test_a_token_that_is_not_32_or_64_hex_characters_is_refused_without_quoting_it(tmp_path, bad):
    path = tmp_path / "redcap.token"
    path.write_text(bad)
    path.chmod(0o600)
    with RedcapStub(TOKEN) as stub:
        with pytest.raises(PullFailed, match="32 hexadecimal characters") as e:
            pull_redcap(stub.url, path, tmp_path / "pulls", clock=clock)
    assert stub.requests == []
    if bad:
        assert bad not in str(e.value) and TOKEN[:16] not in str(e.value)


def test_no_token_file_and_no_environment_variable_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with pytest.raises(PullFailed, match=TOKEN_ENV):
        pull_redcap("https://redcap.example.org/api/", None, tmp_path / "pulls", clock=clock)
    monkeypatch.setenv(TOKEN_ENV, TOKEN[:20])
    with pytest.raises(PullFailed, match="32 hexadecimal") as e:
        pull_redcap("https://redcap.example.org/api/", None, tmp_path / "pulls", clock=clock)
    assert TOKEN[:20] not in str(e.value)


def test_a_wrong_token_fails_with_the_status_and_content_type_and_without_any_token(tmp_path):
    path = tmp_path / "redcap.token"
    path.write_text(OTHER_TOKEN)
    path.chmod(0o600)
    # a careless server that quotes the token it was sent in its error message
    with RedcapStub(TOKEN, echo_token=True) as stub:
        with pytest.raises(PullFailed) as e:
            pull_redcap(stub.url, path, tmp_path / "pulls", clock=clock)
    message = str(e.value)
    assert "content=version" in message and "HTTP 403" in message
    assert "You do not have permissions to use the API" in message
    assert OTHER_TOKEN not in message and OTHER_TOKEN.lower() not in message and TOKEN not in message
    assert "[token]" in message  # the server's quote of it was scrubbed
    assert OTHER_TOKEN not in repr(e.value) and OTHER_TOKEN not in repr(e.value.__cause__)
    assert e.value.__cause__ is None and e.value.__context__ is None  # no chained error carries the request
    assert nothing_saved(tmp_path / "pulls")


def test_an_answer_that_contains_the_token_is_not_saved(tmp_path, token_file):
    leaky = json.dumps({"project_id": 123, "project_title": "x", "project_notes": f"api token {TOKEN}"}).encode()
    with RedcapStub(TOKEN, answers={"project": (200, "application/json", leaky)}) as stub:
        with pytest.raises(PullFailed, match="content=project: HTTP 200, but the answer contains the API token") as e:
            pull_redcap(stub.url, token_file, tmp_path / "pulls", clock=clock)
    assert TOKEN not in str(e.value)
    assert nothing_saved(tmp_path / "pulls")


# ------------------------------------------------------------------------------------ the URL


@pytest.mark.parametrize(
    "url", ["http://redcap.example.org/api/", "http://10.0.0.5/redcap/api/", "HTTP://redcap.example.org/api/"]
)
def test_plain_http_to_another_host_is_refused_with_the_reason(tmp_path, token_file, url):
    with pytest.raises(PullFailed, match="clear text") as e:
        pull_redcap(url, token_file, tmp_path / "pulls", clock=clock)
    assert "https://" in str(e.value)


@pytest.mark.parametrize("url", ["ftp://redcap.example.org/api/", "file:///etc/passwd", "redcap.example.org/api/"])
def test_other_schemes_are_refused(tmp_path, token_file, url):
    with pytest.raises(PullFailed, match="https://"):
        pull_redcap(url, token_file, tmp_path / "pulls", clock=clock)


def test_plain_http_to_localhost_is_allowed_and_the_query_is_not_saved(tmp_path, token_file):
    with RedcapStub(TOKEN) as stub:
        port = stub.url.split(":")[2].split("/")[0]
        folder = pull_redcap(f"http://localhost:{port}/redcap/api/?x=1#f", token_file, tmp_path / "p", clock=clock)
    export = json.loads((folder / "export.json").read_text())
    assert export["url"] == f"http://localhost:{port}/redcap/api/"


def test_a_url_with_a_user_name_or_password_is_refused(tmp_path, token_file):
    with pytest.raises(PullFailed, match="user name or password") as e:
        pull_redcap("https://me:secret@redcap.example.org/api/", token_file, tmp_path / "pulls", clock=clock)
    assert "secret" not in str(e.value)


# ------------------------------------------------------------------------------------ bad answers


def test_an_html_login_page_instead_of_csv_is_a_failure(tmp_path, token_file):
    with RedcapStub(TOKEN, answers={"record": (200, "text/html; charset=utf-8", LOGIN_PAGE)}) as stub:
        with pytest.raises(PullFailed) as e:
            pull_redcap(stub.url, token_file, tmp_path / "pulls", clock=clock)
    message = str(e.value)
    assert "content=record" in message and "HTTP 200" in message and "HTML page" in message
    assert nothing_saved(tmp_path / "pulls")


def test_a_redirect_is_not_followed(tmp_path, token_file):
    with RedcapStub(TOKEN, answers={"version": (302, "text/html", b"")}) as stub:
        with pytest.raises(PullFailed, match="content=version: HTTP 302, redirected to https://login.example.org/sso"):
            pull_redcap(stub.url, token_file, tmp_path / "pulls", clock=clock)
    assert contents_sent(stub) == ["version"]  # and the login portal was never sent the token


@pytest.mark.parametrize(
    "body, match",
    [
        (b"", "the records export is empty"),
        (b"\n", "the records export is empty"),
        (b"record_id,redcap_repeat_instrument,redcap_repeat_instance,enr_date\n", "the records export has a header"),
    ],
    ids=["empty", "blank-line", "header-only"],
)
def test_an_empty_records_export_is_a_failure(tmp_path, token_file, body, match):
    with RedcapStub(TOKEN, answers={"record": (200, "text/csv", body)}) as stub:
        with pytest.raises(PullFailed, match=f"content=record: HTTP 200, but {match}"):
            pull_redcap(stub.url, token_file, tmp_path / "pulls", clock=clock)


def test_a_json_error_with_status_200_is_a_failure(tmp_path, token_file):
    body = json.dumps({"error": "The filter logic contains a syntax error"}).encode()
    with RedcapStub(TOKEN, answers={"metadata": (200, "application/json", body)}) as stub:
        with pytest.raises(PullFailed, match="content=metadata: HTTP 200, but REDCap answered an error: The filter"):
            pull_redcap(stub.url, token_file, tmp_path / "pulls", clock=clock)


def test_another_400_on_an_optional_content_is_still_a_failure(tmp_path, token_file):
    body = json.dumps({"error": "Your REDCap database is being upgraded"}).encode()
    with RedcapStub(TOKEN, answers={"dag": (400, "application/json", body)}) as stub:
        with pytest.raises(PullFailed, match="content=dag: REDCap answered HTTP 400: Your REDCap database"):
            pull_redcap(stub.url, token_file, tmp_path / "pulls", clock=clock)


def test_a_records_export_that_does_not_start_with_the_record_id_is_a_failure(tmp_path, token_file):
    body = b"enr_date,record_id\n2028-03-02,101-001\n"
    with RedcapStub(TOKEN, dags=False, answers={"record": (200, "text/csv", body)}) as stub:
        with pytest.raises(PullFailed, match="starts with the column 'enr_date', not the record ID field 'record_id'"):
            pull_redcap(stub.url, token_file, tmp_path / "pulls", clock=clock)


def test_a_user_inside_a_data_access_group_is_refused(tmp_path, token_file):
    with RedcapStub(TOKEN, user_in_dag=True) as stub:
        with pytest.raises(PullFailed, match="the token's user is in a data access group"):
            pull_redcap(stub.url, token_file, tmp_path / "pulls", clock=clock)
    assert nothing_saved(tmp_path / "pulls")


def test_a_timeout_is_a_failure_naming_the_content_type(tmp_path, token_file):
    with RedcapStub(TOKEN, delay={"record": 3.0}) as stub:
        with pytest.raises(PullFailed, match=r"content=record: no answer from .* within 0.5 s \(timed out\)"):
            pull_redcap(stub.url, token_file, tmp_path / "pulls", clock=clock, timeout=0.5)


def test_an_unreachable_server_is_a_failure(tmp_path, token_file):
    with RedcapStub(TOKEN) as stub:
        url = stub.url
    with pytest.raises(PullFailed, match="content=version: cannot reach http://127.0.0.1"):
        pull_redcap(url, token_file, tmp_path / "pulls", clock=clock, timeout=5)


# ------------------------------------------------------------------------------------ atomicity


def test_a_server_failing_on_the_third_request_leaves_no_folder(tmp_path, token_file):
    out = tmp_path / "pulls"
    with RedcapStub(TOKEN, fail_on=3) as stub:
        with pytest.raises(PullFailed) as e:
            pull_redcap(stub.url, token_file, out, clock=clock)
    assert len(stub.requests) == 3
    # project.json was already written into the temporary folder when metadata failed
    assert "content=metadata" in str(e.value) and "HTTP 500" in str(e.value)
    assert TOKEN not in str(e.value)
    assert nothing_saved(out)


def test_a_second_pull_in_the_same_second_does_not_touch_the_first(tmp_path, token_file):
    out = tmp_path / "pulls"
    with RedcapStub(TOKEN) as stub:
        first = pull_redcap(stub.url, token_file, out, clock=clock)
        before = all_bytes(first)
        with pytest.raises(PullFailed, match="already exists"):
            pull_redcap(stub.url, token_file, out, clock=clock)
    assert all_bytes(first) == before
    assert [p.name for p in out.iterdir()] == [first.name]


def test_out_created_private(tmp_path, token_file):
    out = tmp_path / "new" / "pulls"
    old = os.umask(0o022)
    try:
        with RedcapStub(TOKEN) as stub:
            pull_redcap(stub.url, token_file, out, clock=clock)
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    "stub_options",
    [
        {"fail_on": 4},
        {"answers": {"record": (200, "text/html", LOGIN_PAGE)}},
        {"answers": {"event": (502, "text/plain", b"Bad gateway")}},
        {"echo_token": True, "answers": {"dag": (400, "application/json", b'{"error": "no"}')}},
        {"delay": {"metadata": 3.0}},
    ],
    ids=["http-500", "html", "502", "400", "timeout"],
)
def test_no_failure_shows_the_token_in_its_message_or_traceback(tmp_path, token_file, stub_options):
    import traceback

    with RedcapStub(TOKEN, **stub_options) as stub:
        with pytest.raises(PullFailed) as e:
            pull_redcap(stub.url, token_file, tmp_path / "pulls", clock=clock, timeout=1.0)
    text = "".join(traceback.format_exception(e.value))
    assert "content=" in str(e.value)
    assert TOKEN not in text and TOKEN.lower() not in text
    assert nothing_saved(tmp_path / "pulls")
