"""The nightly refresh (dashboard/ingest/refresh.py, issue 16): a drop folder that receives a good
package, then the same one again, then a bad one, then a good one; the REDCap pull against the
local stand-in for REDCap's API (tests/redcap_stub.py) serving the demo trial's REDCap export.

Real builds into real warehouses, real locks (flock), the real pull over HTTP on 127.0.0.1. What is
checked: which cut serves after each run, what refresh.json says and why, the exit codes, that
nothing is built when nothing is new, and that the data-quality page shows the last refresh to a
blinded role without a reason that may name the arm."""

from __future__ import annotations

import csv
import datetime as dt
import fcntl
import io
import json
import os
import stat
import time
from pathlib import Path

import pytest

from dashboard.access.roles import Viewer
from dashboard.config import load_trial
from dashboard.i18n import using
from dashboard.ingest import publish
from dashboard.ingest.refresh import (
    EXIT,
    RECORD,
    RefreshSettings,
    SettingsError,
    fingerprint,
    refresh,
    settings_from,
    settings_of,
)
from dashboard.store import warehouse
from dashboard.views.quality import last_refresh
from factory import small_trial

TOKEN = "0123456789ABCDEF0123456789ABCDEF"


def _age(package: Path, seconds_ago: float) -> Path:
    """Set the times of a package (and its files) to `seconds_ago`: which one is the newest."""
    t = time.time() - seconds_ago
    for p in [package, *package.rglob("*")] if package.is_dir() else [package]:
        os.utime(p, (t, t))
    return package


def _builds(wh: Path) -> list[str]:
    return sorted(p.name for p in (wh / "builds").iterdir() if not p.name.startswith("."))


def _record(wh: Path) -> dict:
    return json.loads((wh / RECORD).read_text(encoding="utf-8"))


def _history(wh: Path) -> list[dict]:
    return warehouse.load_history(wh)


def _bad_trial():
    """A package the build refuses: a randomization date that is no date."""
    pkg = small_trial()
    pkg.forms["RAND"][0]["RANDDAT"] = "2026-13-45"
    return pkg


# ------------------------------------------------------------------------------------- fingerprint


def test_the_fingerprint_follows_names_and_bytes_not_times_and_is_the_one_the_build_keeps(tmp_path):
    a = small_trial().write(tmp_path / "a")
    b = small_trial().write(tmp_path / "b")
    _age(b, 5000)
    assert fingerprint(a) == fingerprint(b)  # the same files, other times
    (b / "AE.csv").write_bytes((b / "AE.csv").read_bytes() + b"\n")
    assert fingerprint(a) != fingerprint(b)  # one byte more
    c = small_trial().write(tmp_path / "c")
    (c / "AE.csv").rename(c / "AE2.csv")
    assert fingerprint(a) != fingerprint(c)  # a renamed file
    d = small_trial().write(tmp_path / "d")
    (d / "README.txt").write_text("read me")
    assert fingerprint(a) != fingerprint(d)  # a file more
    z = tmp_path / "export.zip"
    z.write_bytes(b"PK not really")
    assert fingerprint(z) == fingerprint(z) and fingerprint(z) != fingerprint(a)

    wh = tmp_path / "wh"
    result = refresh(RefreshSettings(source="folder", folder=str(tmp_path / "drop")), wh)  # no drop folder yet
    assert result.status == "failed"
    drop = tmp_path / "drop"
    drop.mkdir()
    _age(small_trial().write(drop / "x"), 600)
    result = refresh(RefreshSettings(source="folder", folder=str(drop)), wh)
    assert result.status == "ok"
    assert warehouse.manifest(wh)["fingerprint"] == result.fingerprint == fingerprint(a)


# ------------------------------------------------------------------------------------- drop folder


@pytest.fixture(scope="module")
def sequence(tmp_path_factory):
    """One drop folder, four nights: a good package, the same again, a bad one, a good one."""
    tmp = tmp_path_factory.mktemp("refresh")
    drop, done, wh = tmp / "drop", tmp / "done", tmp / "wh"
    drop.mkdir()
    settings = RefreshSettings(source="folder", folder=str(drop), done_folder="", settle_seconds=60)
    nights = {}
    _age(small_trial().write(drop / "export-2028-06-30"), 4000)
    nights["good"] = (refresh(settings, wh), _record(wh), _builds(wh), len(_history(wh)))
    nights["same"] = (refresh(settings, wh), _record(wh), _builds(wh), len(_history(wh)))
    _age(_bad_trial().write(drop / "export-2028-07-31"), 3000)
    nights["bad"] = (refresh(settings, wh), _record(wh), _builds(wh), len(_history(wh)))
    again = RefreshSettings(source="folder", folder=str(drop), done_folder=str(done), settle_seconds=60)
    pkg = small_trial()
    pkg.add_subject("02-003", "02", arm="DE-ESCALATION", randdat="2026-06-10", surgery="2026-06-20")
    _age(pkg.write(drop / "export-2028-08-31"), 2000)
    nights["fixed"] = (refresh(again, wh), _record(wh), _builds(wh), len(_history(wh)))
    nights["empty"] = (refresh(again, wh), _record(wh), _builds(wh), len(_history(wh)))
    return tmp, nights


def test_a_good_package_is_published_and_the_record_says_so(sequence):
    tmp, nights = sequence
    result, record, builds, _n = nights["good"]
    assert (result.status, result.exit_code) == ("ok", 0)
    assert builds == [result.build_id]
    assert record["status"] == "ok" and record["build_id"] == result.build_id
    assert record["serving_build_id"] == result.build_id and record["serving_cutoff"] == "2028-06-30"
    assert record["package"].endswith("export-2028-06-30") and record["source"] == "folder"
    assert record["last_ok"] == {"time": record["time"], "build_id": result.build_id}
    assert record["reasons"] == []
    assert stat.S_IMODE((tmp / "wh" / RECORD).stat().st_mode) == 0o600


def test_the_same_package_again_builds_nothing(sequence):
    _tmp, nights = sequence
    result, record, builds, n_history = nights["same"]
    assert (result.status, result.exit_code) == ("unchanged", 0)
    assert builds == nights["good"][2]  # no new cut
    assert n_history == nights["good"][3]  # not even a build attempt on the load history
    assert result.build_id is None and record["serving_build_id"] == nights["good"][0].build_id
    assert record["fingerprint"] == nights["good"][0].fingerprint
    assert "export-2028-06-30 is the package the current cut was built from" in record["reasons"][0]["message"]
    assert record["last_ok"] == nights["good"][1]["last_ok"]  # carried


def test_a_bad_package_is_refused_the_good_cut_keeps_serving_and_the_record_says_why(sequence):
    _tmp, nights = sequence
    result, record, builds, n_history = nights["bad"]
    good = nights["good"][0].build_id
    assert (result.status, result.exit_code) == ("refused", 2)
    assert builds == [good] and record["serving_build_id"] == good and result.serving_build_id == good
    assert record["build_id"] is None and record["package"].endswith("export-2028-07-31")
    assert n_history == nights["same"][3] + 1  # the refusal is on the load history too
    messages = [r["message"] for r in record["reasons"]]
    assert messages and all(m.startswith("ERROR: RAND.csv") for m in messages), messages
    assert any("RANDDAT" in m and "2026-13-45" in m for m in messages), messages
    # both languages, as the build's problems carry them
    assert all(r["message_zh"] and r["message_zh"] != r["message"] for r in record["reasons"])
    assert all("RAND.csv" in r["message_zh"] for r in record["reasons"])
    assert record["last_ok"] == nights["good"][1]["last_ok"]


def test_a_good_package_after_the_bad_one_is_published_and_moves_the_older_ones_out(sequence):
    tmp, nights = sequence
    result, record, builds, _n = nights["fixed"]
    assert (result.status, result.exit_code) == ("ok", 0)
    assert builds == sorted([nights["good"][0].build_id, result.build_id])
    assert warehouse.current_build(tmp / "wh").name == result.build_id
    assert sorted(record["superseded"]) == ["export-2028-06-30", "export-2028-07-31"]
    assert sorted(p.name for p in (tmp / "done").iterdir()) == [
        "export-2028-06-30",
        "export-2028-07-31",
        "export-2028-08-31",
    ]
    assert list((tmp / "drop").iterdir()) == []
    # the next night: an empty drop folder is nothing new, and the cut keeps serving
    empty, record, builds_after, _n = nights["empty"]
    assert (empty.status, empty.exit_code) == ("unchanged", 0) and builds_after == builds
    assert record["serving_build_id"] == result.build_id
    assert record["reasons"][0]["message"].startswith("no package in the drop folder")


def test_a_package_still_being_copied_is_left_for_the_next_run(tmp_path):
    drop, wh = tmp_path / "drop", tmp_path / "wh"
    drop.mkdir()
    small_trial().write(drop / "old")
    _age(drop / "old", 4000)
    refresh(RefreshSettings(source="folder", folder=str(drop), settle_seconds=600), wh)
    first = _builds(wh)
    small_trial().add_subject("02-003", "02").write(drop / "arriving")  # written just now
    (drop / "also.zip.part").write_bytes(b"half a zip")  # a download under way is no package
    result = refresh(RefreshSettings(source="folder", folder=str(drop), settle_seconds=600), wh)
    assert (result.status, result.exit_code) == ("unchanged", 0)
    assert _builds(wh) == first
    assert (
        "arriving changed" in result.reasons[0]["message"] and "next refresh takes it" in result.reasons[0]["message"]
    )
    _age(drop / "arriving", 900)
    result = refresh(RefreshSettings(source="folder", folder=str(drop), settle_seconds=600), wh)
    assert result.status == "ok" and result.package.endswith("arriving") and len(_builds(wh)) == 2


def test_two_refreshes_never_overlap_and_a_running_build_is_waited_for(tmp_path):
    drop, wh = tmp_path / "drop", tmp_path / "wh"
    drop.mkdir()
    _age(small_trial().write(drop / "p"), 600)
    settings = RefreshSettings(source="folder", folder=str(drop))
    wh.mkdir(mode=0o700)
    with open(wh / ".refresh.lock", "w") as held:  # another refresh holds the warehouse
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = refresh(settings, wh)
    assert (result.status, result.exit_code) == ("busy", EXIT["busy"]) and EXIT["busy"] == 75
    assert not (wh / RECORD).exists() and not (wh / "builds").exists()
    with publish.locked(wh):  # a build (the CLI's) is running
        result = refresh(settings, wh)
    assert result.status == "busy" and "another build is running" in result.reasons[0]["message"]
    assert not (wh / RECORD).exists() and not (wh / "builds").exists()
    result = refresh(settings, wh)  # both let go
    assert result.status == "ok" and _builds(wh) == [result.build_id]


def test_no_source_or_no_drop_folder_is_a_failure_on_the_record(tmp_path):
    wh = tmp_path / "wh"
    result = refresh(RefreshSettings(), wh)
    assert (result.status, result.exit_code) == ("failed", 1)
    assert 'set [refresh] source to "folder" or "redcap"' in _record(wh)["reasons"][0]["message"]
    result = refresh(RefreshSettings(source="folder", folder=str(tmp_path / "nowhere")), wh)
    assert result.exit_code == 1 and "does not exist" in result.reasons[0]["message"]
    assert _record(wh)["status"] == "failed" and _record(wh)["serving_build_id"] is None


def test_the_settings_come_from_trial_toml_refresh_section():
    cfg = load_trial()
    s = settings_of(cfg)
    assert s.source == cfg.refresh.source and s.pattern == cfg.refresh.pattern
    assert settings_from({"source": "folder", "folder": "/srv/drop", "settle_seconds": 30}) == RefreshSettings(
        source="folder", folder="/srv/drop", settle_seconds=30
    )
    with pytest.raises(SettingsError, match="unknown settings folders"):
        settings_from({"folders": "/srv/drop"})
    with pytest.raises(SettingsError, match="source"):
        settings_from({"source": "ftp"})
    with pytest.raises(SettingsError, match="settle_seconds"):
        settings_from({"settle_seconds": -1})


# ------------------------------------------------------------------------------------- REDCap


@pytest.fixture(scope="module")
def redcap_export(tmp_path_factory):
    """The demo trial as its REDCap project's API would answer: records and the data dictionary
    (the API's column names: field_name, form_name, ...), with the mapping that reads them."""
    from dashboard.devtools.demo import write_demo_package
    from dashboard.devtools.demo.edc import write_redcap_export
    from redcap_stub import METADATA_COLUMNS

    tmp = tmp_path_factory.mktemp("redcap")
    write_demo_package(tmp / "pkg", subjects=60, sites=4)
    src = write_redcap_export(tmp / "pkg", tmp / "export")
    rows = list(csv.reader(io.StringIO((src / "dictionary.csv").read_text(encoding="utf-8"))))
    assert len(rows[0]) == len(METADATA_COLUMNS)  # the import format's 18 columns, in the API's order
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([METADATA_COLUMNS, *rows[1:]])
    token = tmp / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    return {
        "records": (src / "records.csv").read_bytes(),
        "dictionary": out.getvalue().encode("utf-8"),
        "mapping": src / "mapping.toml",
        "token": token,
    }


def _answers(records: bytes, dictionary: bytes) -> dict:
    return {
        "record": (200, "text/csv; charset=utf-8", records),
        "metadata": (200, "text/csv; charset=utf-8", dictionary),
    }


def test_the_redcap_pull_is_built_then_the_same_export_again_builds_nothing(tmp_path, redcap_export):
    from redcap_stub import RedcapStub

    wh = tmp_path / "wh"
    with RedcapStub(TOKEN, answers=_answers(redcap_export["records"], redcap_export["dictionary"])) as stub:
        settings = RefreshSettings(
            source="redcap",
            redcap_url=stub.url,
            token_file=str(redcap_export["token"]),
            mapping=str(redcap_export["mapping"]),
        )
        first = refresh(settings, wh)
        assert (first.status, first.exit_code) == ("ok", 0), first.reasons
        manifest = warehouse.manifest(wh)
        assert manifest["build_id"] == first.build_id and manifest["provenance"]["kind"] == "redcap"
        pulls = sorted((wh / "pulls").iterdir())
        assert len(pulls) == 1 and (pulls[0] / "records.csv").read_bytes() == redcap_export["records"]
        assert manifest["provenance"]["source"] == str(pulls[0])
        n_requests = len(stub.requests)
        second = refresh(settings, wh)
        assert len(stub.requests) == 2 * n_requests  # pulled again
    assert (second.status, second.exit_code) == ("unchanged", 0), second.reasons
    assert _builds(wh) == [first.build_id] and sorted((wh / "pulls").iterdir()) == pulls  # the new pull removed
    assert "same records, data dictionary and mapping" in second.reasons[0]["message"]
    assert stat.S_IMODE((wh / "pulls").stat().st_mode) == 0o700


def test_a_failed_pull_and_a_refused_conversion_keep_the_cut_serving(tmp_path, redcap_export):
    from redcap_stub import RedcapStub

    wh = tmp_path / "wh"
    _age(small_trial().write(tmp_path / "drop" / "p"), 600)
    good = refresh(RefreshSettings(source="folder", folder=str(tmp_path / "drop")), wh)
    assert good.status == "ok"
    with RedcapStub("F" * 32) as stub:  # the server knows another token
        settings = RefreshSettings(
            source="redcap",
            redcap_url=stub.url,
            token_file=str(redcap_export["token"]),
            mapping=str(redcap_export["mapping"]),
        )
        failed = refresh(settings, wh)
    assert (failed.status, failed.exit_code) == ("failed", 1)
    message = failed.reasons[0]["message"]
    assert message.startswith("the REDCap pull failed: content=version: REDCap answered HTTP 403"), message
    assert TOKEN not in json.dumps(_record(wh)) and TOKEN.lower() not in json.dumps(_record(wh)).lower()
    assert _record(wh)["serving_build_id"] == good.build_id == warehouse.current_build(wh).name

    # a record of a data access group the mapping does not list: the conversion refuses the export
    text = redcap_export["records"].decode("utf-8").splitlines()
    header = next(csv.reader([text[0]]))
    row = next(csv.reader([text[1]]))
    row[header.index("redcap_data_access_group")] = "site_nowhere"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(row)
    records = "\n".join([text[0], out.getvalue().rstrip("\n"), *text[2:]]) + "\n"
    with RedcapStub(TOKEN, answers=_answers(records.encode("utf-8"), redcap_export["dictionary"])) as stub:
        settings = RefreshSettings(
            source="redcap",
            redcap_url=stub.url,
            token_file=str(redcap_export["token"]),
            mapping=str(redcap_export["mapping"]),
        )
        refused = refresh(settings, wh)
    assert (refused.status, refused.exit_code) == ("refused", 2), refused.reasons
    assert any("site_nowhere" in r["message"] for r in refused.reasons), refused.reasons
    assert _builds(wh) == [good.build_id] and warehouse.current_build(wh).name == good.build_id
    assert not (wh / "converted").exists() or list((wh / "converted").iterdir()) == []


# ------------------------------------------------------------------------------------- the page


@pytest.fixture(scope="module")
def refused_by_name(tmp_path_factory):
    """A cut serving, then a refused package whose name (in every error) names the arm."""
    tmp = tmp_path_factory.mktemp("named")
    drop, wh = tmp / "drop", tmp / "wh"
    drop.mkdir()
    _age(small_trial().write(drop / "export-1"), 4000)
    good = refresh(RefreshSettings(source="folder", folder=str(drop)), wh)
    bad = drop / "DE-ESCALATION arm export.zip"
    bad.write_bytes(b"not a zip archive at all")
    _age(bad, 600)
    refused = refresh(RefreshSettings(source="folder", folder=str(drop)), wh)
    return wh, good, refused


def test_the_view_withholds_a_reason_that_may_name_the_arm(refused_by_name):
    wh, good, refused = refused_by_name
    assert refused.status == "refused"
    assert any("DE-ESCALATION arm export.zip" in r["message"] for r in refused.reasons)  # on the record, whole
    view = last_refresh(wh)
    assert view["status"] == "refused" and view["status_text"] == "the export package was refused"
    assert view["serving_build_id"] == good.build_id and view["serving_cutoff"] == "2028-06-30"
    assert view["withheld"] == len(refused.reasons) >= 1
    assert view["reasons"] == ["[withheld from blinded views: may name the arm]"] * len(refused.reasons)
    assert view["package"] == "[withheld from blinded views: may name the arm]"
    assert "DE-ESCALAT" not in json.dumps(view, ensure_ascii=False).upper()
    assert view["last_ok_build_id"] == good.build_id and view["stale"] is False
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=40)
    assert last_refresh(wh, now=later)["stale"] is True


def test_the_view_gives_the_reasons_in_the_readers_language(sequence):
    tmp, nights = sequence
    wh = tmp / "wh-bad-view"
    # the bad night's record, in a warehouse of its own
    wh.mkdir()
    (wh / RECORD).write_text(json.dumps(nights["bad"][1], ensure_ascii=False), encoding="utf-8")
    with using("en"):
        en = last_refresh(wh)
    with using("zh"):
        zh = last_refresh(wh)
    assert en["reasons"] == [r["message"] for r in nights["bad"][1]["reasons"]]
    assert zh["reasons"] == [r["message_zh"] for r in nights["bad"][1]["reasons"]]
    assert en["withheld"] == 0 and en["serving_build_id"] is None  # no cut serves in this folder
    assert last_refresh(tmp / "nowhere") is None  # no refresh ran there


@pytest.mark.parametrize("viewer", [Viewer("pi"), Viewer("site", site="01")], ids=["pi", "site"])
def test_the_data_quality_page_shows_the_last_refresh_to_a_blinded_role(refused_by_name, viewer):
    from apptest import clear_caches, open_page, page_text, serving

    wh, good, _refused = refused_by_name
    clear_caches()
    with serving(wh):
        at = open_page(viewer, "data_quality.py")
    assert not at.exception, at.exception
    assert "The last refresh" in [s.value for s in at.subheader]
    errors = [e.value for e in at.error]
    assert any("the export package was refused" in e for e in errors), errors
    text = page_text(at, charts=False)
    assert good.build_id in text
    assert "[withheld from blinded views: may name the arm]" in text
    assert "DE-ESCALAT" not in text.upper()


def test_a_build_that_breaks_for_a_reason_not_the_packages_is_a_failure_naming_only_its_kind(tmp_path):
    drop, wh = tmp_path / "drop", tmp_path / "wh"
    drop.mkdir()
    _age(small_trial().write(drop / "p"), 600)
    wh.mkdir(mode=0o700)
    (wh / "builds").write_text("a file where the builds folder belongs")
    said = []
    result = refresh(RefreshSettings(source="folder", folder=str(drop)), wh, progress=said.append)
    assert (result.status, result.exit_code) == ("failed", 1)
    assert _record(wh)["reasons"] == [
        {"message": "the refresh failed: FileExistsError", "message_zh": result.reasons[0]["message_zh"]}
    ]
    assert "FileExistsError" in result.reasons[0]["message_zh"]
    assert said[-2:] == [
        "  the refresh failed: FileExistsError",
        "refresh: failed; no cut is serving yet",
    ]
    assert _history(wh)[-1]["status"] == "failed"  # the build's own entry on the load history
