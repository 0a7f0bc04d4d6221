"""The build's messages and the command line in Chinese and English (issue 15).

Real builds of real packages (tests/factory.py, the bad kinds of tests/test_bad_packages.py): a
refused package names the file, line, column and subject in Chinese (文件、第N行、列、受试者) and
in English exactly as before; the warehouse's problems, findings, load history and eligibility
keep the Chinese beside the English (message_zh, first_errors_zh, detail_zh), withheld in the
blinded copy exactly where the English is; the command line speaks --lang, NEO_MARGIN_LANG and
LANG, and refuses an unknown language.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from dashboard import i18n
from dashboard.access.blinding import FREE_TEXT_MARK
from dashboard.access.freetext import matcher
from dashboard.config import ConfigError, load_crf_spec, load_trial
from dashboard.i18n import catalogue
from dashboard.ingest import blinded
from dashboard.ingest.build import build
from dashboard.ingest.problems import WITHHELD, PackageRefused, Problem
from dashboard.store import warehouse
from factory import small_trial
from test_bad_packages import BAD, ae_row

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u4e00-\u9fff]")
NUMBERS = re.compile(r"\d+(?:[-:.,]\d+)*")


def _refused(folder: Path, wh: Path) -> PackageRefused:
    with pytest.raises(PackageRefused) as info:
        build(folder, wh)
    return info.value


def _errors(problems, file: str, line: int, column: str) -> list[Problem]:
    return [p for p in problems if p.severity == "error" and p.file == file and p.line == line and p.column == column]


# ---------------------------------------------------------------- a refusal in both languages
def test_a_refused_package_names_file_line_column_and_subject_in_chinese(tmp_path):
    pkg = small_trial()
    pkg.forms["DX"][2]["DXDAT"] = "2026-02-30"  # DX.csv line 4, subject 02-001
    pkg.forms["DX"][0]["PRIMSITE"] = "TONGUE"  # line 2, 01-001
    refused = _refused(pkg.write(tmp_path / "package"), tmp_path / "wh")
    [date] = _errors(refused.problems, "DX.csv", 4, "DXDAT")
    assert date.line_text("zh") == "错误：文件DX.csv，第4行，列DXDAT，受试者02-001：'2026-02-30'：不是日期YYYY-MM-DD"
    assert date.message_zh == "'2026-02-30'：不是日期YYYY-MM-DD"
    # the English is what it always was (tests/test_bad_packages.py holds the rest of it)
    assert (
        date.line_text("en")
        == "ERROR: DX.csv, line 4, column DXDAT, subject 02-001: '2026-02-30': not a date YYYY-MM-DD"
    )
    assert date.message == "'2026-02-30': not a date YYYY-MM-DD"
    [code] = _errors(refused.problems, "DX.csv", 2, "PRIMSITE")
    codes = ", ".join(next(c for c in load_crf_spec().forms["DX"].columns if c.name == "PRIMSITE").codes)
    assert code.message == f"'TONGUE': not one of: {codes}"
    assert code.message_zh == f"'TONGUE'：不是以下代码之一：{codes.replace(', ', '、')}"
    # str() follows the language of the moment
    assert str(date).startswith("ERROR: DX.csv, line 4")
    with i18n.using("zh"):
        assert str(date).startswith("错误：文件DX.csv，第4行，列DXDAT，受试者02-001：")
        assert str(refused).startswith("导出包被拒绝：2个错误\n")
    assert str(refused).startswith("package refused: 2 error(s)\n")
    # the load history keeps both: the English record and the Chinese beside it
    entry = warehouse.load_history(tmp_path / "wh")[-1]
    assert entry["status"] == "refused"
    assert date.line_text("en") in entry["first_errors"]
    assert date.line_text("zh") in entry["first_errors_zh"]


def test_a_withheld_subject_is_withheld_in_chinese_too(tmp_path):
    pkg = small_trial()
    pkg.forms["AE"].append(ae_row(subjid="STANDARD"))  # an arm code in the subject column
    refused = _refused(pkg.write(tmp_path / "package"), tmp_path / "wh")
    hidden = [p for p in refused.problems if p.subjid == WITHHELD]
    assert hidden, "\n".join(map(str, refused.problems))
    for p in hidden:
        assert "STANDARD" not in p.line_text("en") and "STANDARD" not in p.line_text("zh")
        assert ", subject (value withheld)" in p.line_text("en")
        assert "，受试者（数值不予显示）" in p.line_text("zh")


@pytest.mark.parametrize("kind", list(BAD), ids=[k.replace(" ", "-") for k in BAD])
def test_every_bad_package_is_refused_in_chinese_with_the_same_facts(kind, tmp_path):
    """Each kind of bad package of tests/test_bad_packages.py: every problem has a Chinese message
    with no placeholder left, the same numbers (lines, dates, counts, byte offsets) as the
    English, and the frame in Chinese."""
    bad = BAD[kind]
    pkg = small_trial()
    if bad.change:
        bad.change(pkg)
    folder = pkg.write(tmp_path / "package", columns=bad.columns)
    if bad.after_write:
        bad.after_write(folder)
    refused = _refused(folder, tmp_path / "wh")
    for p in refused.problems:
        en, zh = p.message, p.message_zh
        assert CJK.search(zh), (en, zh)
        assert not re.search(r"\{\w*\}", zh), zh
        assert sorted(NUMBERS.findall(en)) == sorted(NUMBERS.findall(zh)), (en, zh)
        frame = p.line_text("zh")
        assert frame.startswith(("错误：文件", "警告：文件")), frame
        if p.line is not None:
            assert f"，第{p.line}行" in frame
        if p.column:
            assert f"，列{p.column}" in frame
        if p.subjid:
            assert "，受试者" in frame


# ---------------------------------------------------------------- the warehouse's Chinese columns
def _closed_and_blinded(wh: Path, sql: str):
    out = []
    for closed in (True, False):
        con = warehouse.connect(wh, closed=closed)
        try:
            out.append(con.execute(sql).fetchall())
        finally:
            con.close()
    return out


@pytest.fixture(scope="module")
def with_warnings(tmp_path_factory) -> Path:
    """small_trial() with an extra AE column (a warning and a finding), a partial onset date (a
    finding), a subject too old for I01 (an eligibility exception), and the factory's cut-off in
    the future (a warning); before it, a refused attempt whose error names a column that names
    the arm (a line of the load history the blinded copy withholds)."""
    root = tmp_path_factory.mktemp("i18n-ingest")
    wh = root / "wh"
    pkg = small_trial()
    pkg.forms["AE"] += [ae_row(CONTROL_ARM="1"), ae_row(aespid="2", AESTDAT="2026-03", CONTROL_ARM="")]
    pkg.forms["DM"][0]["BRTHDAT"] = "1940-05-01"
    bad = pkg.write(root / "bad")
    with open(bad / "AE.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    with open(bad / "AE.csv", "w", encoding="utf-8", newline="") as fh:
        # a column twice: refused, naming the column
        csv.writer(fh).writerows([rows[0] + ["CONTROL ARM", "CONTROL ARM"]] + [r + ["", ""] for r in rows[1:]])
    with pytest.raises(PackageRefused) as refused:
        build(bad, wh)
    assert any(p.column == "CONTROL ARM" for p in refused.value.problems)
    build(pkg.write(root / "good"), wh)
    return wh


def test_problems_and_findings_hold_the_chinese_beside_the_english(with_warnings):
    closed, _ = _closed_and_blinded(with_warnings, "select severity, column_name, message, message_zh from problems")
    assert {(s, c) for s, c, _m, _z in closed} >= {("warning", "CONTROL_ARM"), ("warning", "CUTOFFDAT")}
    for _s, _c, en, zh in closed:
        assert en and zh and CJK.search(zh) and not CJK.search(en), (en, zh)
    by_column = {c: (en, zh) for _s, c, en, zh in closed}
    assert by_column["CONTROL_ARM"] == ("column not in spec: kept as text", "列不在导出规范中：作为文本保留")
    assert by_column["CUTOFFDAT"] == ("cut-off 2028-06-30 is in the future", "数据截止日期2028-06-30在将来")

    closed, _ = _closed_and_blinded(with_warnings, "select kind, subjid, message, message_zh from findings")
    kinds = {k for k, _s, _m, _z in closed}
    assert {"partial date imputed", "column not in the spec: closed only"} <= kinds
    for kind, _s, en, zh in closed:
        assert CJK.search(zh) and not CJK.search(en), (kind, en, zh)
        assert CJK.search(_zh(kind)), kind  # the kind is a catalogue message too
    imputed = [(en, zh) for k, s, en, zh in closed if k == "partial date imputed" and s == "01-001"]
    assert ("partial date: day imputed as the first of the period", "部分日期：日按该期间的第一天填补") in imputed

    closed, blind = _closed_and_blinded(
        with_warnings, "select code, subjid, detail, detail_zh from eligibility where code = 'I01'"
    )
    assert ("I01", "01-001", "age at consent 85", "签署知情同意时年龄85岁") in closed
    assert closed == blind  # eligibility is read by blinded roles as it is


def _zh(text: str) -> str:
    with i18n.using("zh"):
        return i18n._(text)


def test_the_blinded_copy_withholds_the_chinese_exactly_where_it_withholds_the_english(with_warnings):
    checked = 0
    for table, en, zh in (
        ("problems", "message", "message_zh"),
        ("findings", "message", "message_zh"),
        ("load_history", "first_errors", "first_errors_zh"),
    ):
        closed, blind = _closed_and_blinded(with_warnings, f"select {en}, {zh} from {table}")
        assert len(closed) == len(blind)
        withheld = [(e, z) for e, z in blind if FREE_TEXT_MARK in (e, z)]
        assert all(e == z == FREE_TEXT_MARK for e, z in withheld), (table, withheld)
        shown = {(e, z) for e, z in blind if (e, z) not in withheld}
        assert shown <= set(closed), table  # what is not withheld is the closed text itself
        checked += len(withheld)
        if table in ("findings", "load_history"):
            # the unlisted column CONTROL_ARM names the arm: its finding, and the refused
            # attempt's errors naming the column CONTROL ARM, are withheld in both languages
            assert withheld, (table, blind)
            assert any("CONTROL" in (e or "") and "CONTROL" in (z or "") for e, z in closed), table
    assert checked >= 2


def test_a_message_is_withheld_in_both_languages_when_either_names_the_arm():
    """The blinded copy's rule on a record table by hand: English clean but Chinese naming the
    arm, and the other way round, and a message neither names."""
    cfg = load_trial()
    con = duckdb.connect()
    try:
        con.execute("create table problems (severity varchar, line bigint, message varchar, message_zh varchar)")
        con.execute(
            "insert into problems values ('warning', 2, 'the site says so', '对照组如此'), "
            "('warning', 3, 'randomized to the control arm', '如此'), ('warning', 4, 'fine', '无妨')"
        )
        blinded.scrub_records(con, cfg, tables=("problems",))
        got = con.execute("select line, message, message_zh from problems_blinded order by line").fetchall()
    finally:
        con.close()
    assert got == [(2, FREE_TEXT_MARK, FREE_TEXT_MARK), (3, FREE_TEXT_MARK, FREE_TEXT_MARK), (4, "fine", "无妨")]


def test_no_chinese_message_of_the_build_names_an_arm():
    """So the Chinese of a message is never withheld for its own words: every translation of the
    ingest catalogue passes the trial's free-text matcher (as every English message does)."""
    names_arm = matcher(load_trial())
    entries = [e for e in catalogue.read("zh", "ingest") if e.id]
    assert len(entries) > 300
    assert [e.id for e in entries if names_arm(e.string) or names_arm(e.id)] == []
    assert [p for p in catalogue.problems(["ingest"])] == []


# ---------------------------------------------------------------- configuration errors
def test_a_configuration_error_names_the_key_in_chinese(tmp_path):
    text = (ROOT / "trial.toml").read_text(encoding="utf-8")
    bad = tmp_path / "trial.toml"
    bad.write_text(text.replace("ratio = [1, 1]", "ratio = [1, 1, 1]", 1), encoding="utf-8")
    with i18n.using("zh"), pytest.raises(ConfigError) as zh:
        load_trial(str(bad))
    assert str(zh.value).startswith(f"{bad}：配置无效\n") and "randomization.ratio需要为每个组给出一个数" in str(
        zh.value
    )
    with pytest.raises(ConfigError) as en:
        load_trial(str(bad))
    assert str(en.value).startswith(f"{bad}: invalid configuration\n")
    assert "randomization.ratio needs one number per arm" in str(en.value)


# ---------------------------------------------------------------- the command line
def _cli(*args, env=None, timeout=300):
    base = {k: v for k, v in os.environ.items() if k not in ("NEO_MARGIN_LANG", "LC_ALL", "LC_MESSAGES", "LANG")}
    return subprocess.run(
        [sys.executable, "-m", "dashboard", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**base, "LANG": "C.UTF-8", **(env or {})},
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def bad_package(tmp_path_factory) -> Path:
    pkg = small_trial()
    pkg.forms["DX"][2]["DXDAT"] = "2026-02-30"
    return pkg.write(tmp_path_factory.mktemp("cli") / "package")


ZH_REFUSAL = "错误：文件DX.csv，第4行，列DXDAT，受试者02-001：'2026-02-30'：不是日期YYYY-MM-DD"
EN_REFUSAL = "ERROR: DX.csv, line 4, column DXDAT, SUBJID 02-001: '2026-02-30': not a date YYYY-MM-DD"


@pytest.mark.parametrize(
    "how",
    [
        ("--lang", "zh", "build"),
        ("build", "--lang", "zh"),  # after the command too
        ({"LANG": "zh_CN.UTF-8"},),
        ({"NEO_MARGIN_LANG": "zh", "LANG": "en_GB.UTF-8"},),
    ],
    ids=["--lang", "--lang-after", "LANG", "NEO_MARGIN_LANG"],
)
def test_the_cli_refuses_in_chinese(how, bad_package, tmp_path):
    env = how[0] if isinstance(how[0], dict) else None
    if env:
        args = ["build", bad_package, "--warehouse", tmp_path / "wh"]
    elif how[0] == "build":
        args = ["build", bad_package, "--warehouse", tmp_path / "wh", *how[1:]]
    else:
        args = [*how[:2], "build", bad_package, "--warehouse", tmp_path / "wh"]
    run = _cli(*args, env=env)
    assert run.returncode == 2, run.stderr
    lines = run.stderr.splitlines()
    assert ZH_REFUSAL in lines, run.stderr
    assert f"拒绝：{bad_package}中有1个错误；{tmp_path / 'wh'}中的数据仓库未改变" in lines
    assert "[1/9] 打开导出包……" in lines
    assert "Traceback" not in run.stderr and "ERROR" not in run.stderr


def test_the_cli_refuses_in_english_as_before(bad_package, tmp_path):
    run = _cli("build", bad_package, "--warehouse", tmp_path / "wh")
    assert run.returncode == 2
    lines = run.stderr.splitlines()
    assert EN_REFUSAL in lines, run.stderr
    assert f"REFUSED: 1 error(s) in {bad_package}; the warehouse in {tmp_path / 'wh'} was not changed" in lines
    assert not CJK.search(run.stderr)


def test_an_unknown_language_is_refused(bad_package, tmp_path):
    run = _cli("--lang", "xx", "build", bad_package, "--warehouse", tmp_path / "wh")
    assert run.returncode == 2
    assert run.stderr.strip() == "unknown language 'xx': choose one of zh, en"
    assert not (tmp_path / "wh").exists()
    zh = _cli("--lang", "fr", "users", "list", env={"LANG": "zh_CN.UTF-8"})
    assert zh.returncode == 2 and zh.stderr.strip() == "未知语言 'fr'：请选择 zh, en 之一"
    env = _cli("users", "list", env={"NEO_MARGIN_LANG": "klingon"})
    assert env.returncode == 2 and "unknown language 'klingon'" in env.stderr


def test_the_cli_help_and_a_published_build_in_chinese(tmp_path):
    help_zh = _cli("--lang", "zh", "build", "--help")
    assert help_zh.returncode == 0
    assert "数据仓库文件夹" in help_zh.stdout and "CSV编码" in help_zh.stdout
    assert "the warehouse folder" in _cli("build", "--help").stdout
    top = _cli("--lang", "zh", "--help").stdout
    assert "校验导出包并将其发布为数据仓库" in top and "命令行：" in top

    pkg = small_trial()
    pkg.forms["AE"].append(ae_row(AESTDAT="2026-03"))  # a partial date: one finding
    run = _cli("--lang", "zh", "build", pkg.write(tmp_path / "package"), "--warehouse", tmp_path / "wh")
    assert run.returncode == 0, run.stderr
    assert re.search(r"^已在[\d.]+秒内发布构建\S+：\d+个表单共\d+行，1个警告，1个数据问题$", run.stderr, re.M), (
        run.stderr
    )
    assert "警告：文件EXPORT.csv，第2行，列CUTOFFDAT，无受试者编号：数据截止日期2028-06-30在将来" in run.stderr
    assert "  数据问题：部分日期已填补：1" in run.stderr
    assert run.stdout.splitlines() == [
        "数据问题（部分日期已填补）：文件AE.csv，第2行，列AESTDAT，受试者01-001：部分日期：日按该期间的第一天填补"
    ]
    # findings.csv is the record: English, as the warehouse's `message`
    listing = warehouse.current_build(tmp_path / "wh") / "findings.csv"
    rows = list(csv.DictReader(io.StringIO(listing.read_text(encoding="utf-8-sig"))))
    assert [(r["kind"], r["message"]) for r in rows] == [
        ("partial date imputed", "partial date: day imputed as the first of the period")
    ]
    assert list(rows[0]) == ["kind", "file", "line", "column", "subjid", "message"]


def test_a_configuration_error_from_the_cli_in_chinese(bad_package, tmp_path):
    text = (ROOT / "trial.toml").read_text(encoding="utf-8")
    bad = tmp_path / "trial.toml"
    bad.write_text(text.replace("ratio = [1, 1]", "ratio = [1, 1, 1]", 1), encoding="utf-8")
    run = _cli("--lang", "zh", "build", bad_package, "--warehouse", tmp_path / "wh", env={"NEO_MARGIN_CONFIG": bad})
    assert run.returncode == 3, run.stderr
    assert run.stderr.startswith(f"配置错误：{bad}：配置无效\n")
    assert "randomization.ratio需要为每个组给出一个数" in run.stderr
    shutil.rmtree(tmp_path / "wh", ignore_errors=True)
