"""The two languages (issue 15): every string a person reads is in the catalogues and has its
Chinese; the language is per person (a session, a command, a user's own) and never leaks from one
session to another; numbers and dates follow the language (CLDR data through Babel).

The catalogue checks are the gate: `python -m dashboard i18n check` lists the same problems."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from apptest import clear_caches, open_page, page_text, serving
from dashboard import i18n
from dashboard.access import accounts
from dashboard.access.roles import Viewer
from dashboard.devtools.demo import write_demo_package
from dashboard.i18n import catalogue, unwrapped
from dashboard.ingest.build import build

ROOT = Path(__file__).resolve().parent.parent


# -- the catalogues -------------------------------------------------------------------------------


def test_no_english_is_shown_without_the_catalogue():
    """Text given to a call that shows it (st.*, the report's headings, a figure's title=, a raised
    message, the CLI's print) must be wrapped in _() so that extraction puts it in a catalogue."""
    found = unwrapped.find()
    assert not found, "\n".join(str(u) for u in found[:60])


def test_every_message_has_its_chinese():
    """Every message extracted from the code is in its domain's zh_CN catalogue, translated (not
    fuzzy), with the same {placeholders} as the English."""
    missing = catalogue.problems()
    assert not missing, f"{len(missing)} problems:\n" + "\n".join(missing[:60])


def test_every_file_shown_to_people_has_a_catalogue():
    orphans = [p for p in unwrapped.files() if unwrapped.domain_of(p.relative_to(ROOT).as_posix()) is None]
    assert not orphans


def test_the_checker_sees_unwrapped_text_and_accepts_wrapped(tmp_path):
    """The static check itself, on code written to be caught and code written to pass."""
    src = tmp_path / "page.py"
    src.write_text(
        "import streamlit as st\n"
        "from dashboard.i18n import _\n"
        "st.title('Accrual and sites')\n"  # caught: shown unwrapped
        "st.metric(label=f'Randomized at {x}', value=3)\n"  # caught: label=, f-string
        "st.title(_(f'Site {x} flagged'))\n"  # caught: f-string inside _()
        "raise ValueError('no such site here')\n"  # caught: a message for people
        "st.title(_('Accrual and sites'))\n"  # wrapped
        "st.markdown('---')\n"  # no English
        "st.caption('DSMB')\n"  # an abbreviation only
        "st.html('<div class=\"x-y\">z</div>')  # i18n: verbatim\n",
        encoding="utf-8",
    )
    found = unwrapped.find([src], root=tmp_path)
    assert [(u.line, u.why) for u in found] == [
        (3, "shown by title()"),
        (4, "label= of metric()"),
        (5, "f-string inside _()"),
        (6, "message of ValueError"),
    ]


def test_the_compiled_catalogue_is_what_gettext_reads():
    catalogue.compile_all()
    i18n.reload()
    with i18n.using("zh"):
        assert i18n._("Sign out") == "退出登录"
        assert i18n._("Audit log") == "审计日志"
        assert i18n._("a message no catalogue holds") == "a message no catalogue holds"
    with i18n.using("en"):
        assert i18n._("Sign out") == "Sign out"


def test_a_changed_po_is_used_without_a_new_compile(tmp_path, monkeypatch):
    """A .po newer than its .mo (a checkout whose setup has not run since) is compiled on load."""
    mo, po = catalogue.mo_path("zh", "app"), catalogue.po_path("zh", "app")
    catalogue.compile_all()
    stale = po.stat().st_mtime - 60  # the .mo a minute older than its .po
    os.utime(mo, (stale, stale))
    i18n.reload()
    with i18n.using("zh"):
        assert i18n._("Sign in") == "登录"
    assert mo.stat().st_mtime > po.stat().st_mtime  # compiled again on load


# -- the language of a person ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "header, expected",
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("fr-FR,fr;q=0.9,zh;q=0.5", "zh"),  # the first language we offer, by weight
        ("zh-TW", "zh"),
        ("de-DE", "en"),
        ("", "en"),
        (None, "en"),
        ("en;q=0.2, zh;q=0.7", "zh"),
        ("zh;q=0", "en"),  # q=0: not acceptable
    ],
)
def test_the_browsers_language_is_the_first_guess(header, expected):
    assert i18n.negotiate(header) == expected


def test_two_sessions_keep_their_own_language():
    """The language is a context variable of each script thread: a Chinese session and an English
    one running at once each read their own."""
    seen = {}
    barrier = threading.Barrier(2)

    def session(lang):
        i18n.set_language(lang)
        barrier.wait()
        seen[lang] = i18n._("Sign out")

    threads = [threading.Thread(target=session, args=(lang,)) for lang in ("zh", "en")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"zh": "退出登录", "en": "Sign out"}
    assert i18n.language() == "en"  # this thread was never set


def test_an_unknown_language_is_refused():
    with pytest.raises(i18n.UnknownLanguage, match="choose one of zh, en"):
        i18n.set_language("fr")


def test_a_users_own_language_is_kept_with_the_account(tmp_path):
    users = tmp_path / "users.json"
    accounts.add_user("li.wei", "site", "a long enough password", site="01", path=users)
    assert accounts.language_of("li.wei", path=users) is None
    accounts.set_language("li.wei", "zh-CN", path=users)
    assert accounts.language_of("li.wei", path=users) == "zh"
    with pytest.raises(accounts.AccountError, match="unknown language"):
        accounts.set_language("li.wei", "klingon", path=users)
    accounts.set_language("li.wei", None, path=users)
    assert accounts.language_of("li.wei", path=users) is None
    assert accounts.language_of("nobody", path=users) is None


def test_a_single_sign_on_gives_the_users_language():
    """OIDC's standard `locale` claim (BCP 47), read by the claim trial.toml names."""
    assert accounts.language_from_claims({"locale": "zh-CN", "groups": ["neo-margin-pi"]}) == "zh"
    assert accounts.language_from_claims({"locale": "en-GB"}) == "en"
    assert accounts.language_from_claims({"locale": "fr-FR"}) is None
    assert accounts.language_from_claims({"locale": ["zh"]}) is None  # not a tag
    assert accounts.language_from_claims({}) is None


def _cli(*args, env=None, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "dashboard", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_the_command_line_speaks_the_language_asked_for(tmp_path):
    env = {"NEO_MARGIN_USERS": str(tmp_path / "users.json"), "NEO_MARGIN_LANG": ""}
    zh = _cli("--lang", "zh", "users", "remove", "nobody", env=env)
    assert zh.returncode == 2 and "没有用户 nobody" in zh.stderr
    by_locale = _cli("users", "remove", "nobody", env={**env, "LANG": "zh_CN.UTF-8", "LC_ALL": ""})
    assert "没有用户 nobody" in by_locale.stderr
    en = _cli("users", "remove", "nobody", env={**env, "LANG": "C.UTF-8", "LC_ALL": ""})
    assert "no user nobody" in en.stderr
    bad = _cli("--lang", "xx", "users", "list", env=env)
    assert bad.returncode == 2 and "unknown language 'xx'" in bad.stderr


def test_the_cli_sets_a_users_language(tmp_path):
    env = {"NEO_MARGIN_USERS": str(tmp_path / "users.json")}
    add = _cli(
        "users",
        "add",
        "wang.fang",
        "--role",
        "pi",
        "--password-stdin",
        "--language",
        "zh",
        env=env,
        stdin="a long enough password\n",
    )
    assert add.returncode == 0, add.stderr
    assert accounts.language_of("wang.fang", path=tmp_path / "users.json") == "zh"
    change = _cli("users", "language", "wang.fang", "--language", "en", env=env)
    assert change.returncode == 0, change.stderr
    assert accounts.language_of("wang.fang", path=tmp_path / "users.json") == "en"


# -- numbers and dates -----------------------------------------------------------------------------


def test_dates_in_prose_follow_the_language():
    day = dt.date(2028, 9, 30)
    with i18n.using("zh"):
        assert i18n.long_date(day) == "2028年9月30日"
        assert i18n.long_date("2028-09-30") == "2028年9月30日"
        assert i18n.month(day) == "2028年9月"
    with i18n.using("en"):
        assert i18n.long_date(day) == "30 September 2028"
        assert i18n.month(day) == "September 2028"
    assert i18n.long_date(None) == "—"


def test_numbers_and_percentages_follow_the_language():
    """CLDR: both languages group thousands with a comma and use a full stop for decimals; the
    percent sign follows the number."""
    for lang in ("zh", "en"):
        with i18n.using(lang):
            assert i18n.number(35600) == "35,600"
            assert i18n.number(0.12345, 2) == "0.12"
            assert i18n.percent(0.1234) == "12.3%"
            assert i18n.percent(0.5, 0) == "50%"
            assert i18n.number(float("nan")) == "—"


def test_a_trial_fact_reads_its_chinese():
    from dashboard.config import load_trial

    cfg = load_trial()
    arm = cfg.arms[0]
    with i18n.using("zh"):
        assert i18n.fact(arm, "label") == (arm.label_zh or arm.label)
    with i18n.using("en"):
        assert i18n.fact(arm, "label") == arm.label


# -- the pages ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_warehouse(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("i18n")
    write_demo_package(tmp / "pkg")
    build(tmp / "pkg", tmp / "wh")
    with serving(tmp / "wh") as wh:
        yield wh


def test_the_page_frame_is_chinese_for_a_chinese_reader(demo_warehouse):
    """The data-cut stamp every page carries, the navigation and the sidebar, in Chinese; the
    cut-off date in prose as a Chinese reader writes it."""
    clear_caches()
    at = open_page(Viewer("pi", user="li.wei"), "accrual.py", lang="zh")
    assert not at.exception
    text = page_text(at)
    assert "数据截止日期" in text and "2028年6月30日" in text
    assert "全部中心" in text
    assert any(b.label == "退出登录" for b in at.sidebar.button)
    switch = at.sidebar.selectbox[0]
    assert switch.value == "zh"
    switch.set_value("en").run()
    assert "data cut-off" in page_text(at) and "30 June 2028" in page_text(at)


def test_a_closed_page_is_marked_confidential_in_chinese(demo_warehouse):
    clear_caches()
    at = open_page(Viewer("dsmb", user="dsmb.chair"), "closed_survival.py", lang="zh")
    assert not at.exception
    assert "机密 - DSMB 闭门会议" in page_text(at)


# -- the arms in Chinese (the adversarial review of issue 15) ---------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "随机分入A组，手术推迟一周",  # ARM A in Chinese
        "常规手术后访视超窗",  # CONVENTIONAL SURGERY
        "干预臂患者术后出血",  # INTERVENTION ARM
        "去强化治疗后复查",  # DE-INTENSIF
        "试验组合并症加重",  # 合并症 after an arm's name is everyday Chinese, not 组合
        "实验组合并用药",
        "标准组成员术后出血",  # 成员, not 组成
        "患者随机分配至降阶梯手术",
    ],
)
def test_chinese_ways_of_naming_an_arm_are_caught(text):
    """A verbatim a site writes in Chinese that names the arm is withheld like its English."""
    from dashboard.access import freetext
    from dashboard.config import load_trial

    assert freetext.matcher(load_trial()).which(text), text


@pytest.mark.parametrize("text", ["研究组织伦理委员会批准", "术后第3天出院", "合并用药：无"])
def test_chinese_text_that_names_no_arm_is_kept(text):
    from dashboard.access import freetext
    from dashboard.config import load_trial

    assert not freetext.matcher(load_trial()).which(text)


def test_an_arm_whose_chinese_name_no_term_catches_is_a_configuration_error():
    """The configured terms must catch each arm's own name in both languages: else a cell that
    names it would reach blinded roles. And a build message never quotes an arm's Chinese name."""
    from dashboard.access import freetext
    from dashboard.config import load_crf_spec, load_trial
    from dashboard.ingest.problems import Quoting

    cfg = load_trial()
    assert freetext.uncaught_arm_names(cfg) == []
    renamed = cfg.model_copy(
        update={"arms": [cfg.arms[0], cfg.arms[1].model_copy(update={"label_zh": "围手术期常规处理"})]}
    )
    assert freetext.uncaught_arm_names(renamed) == [
        "free_text_terms: no term catches the arm's name '围手术期常规处理': a cell naming it would reach blinded roles"
    ]
    assert Quoting(renamed, load_crf_spec()).names_arm("围手术期常规处理")


def test_a_hand_edited_language_in_the_users_file_is_not_a_crash(demo_warehouse):
    """users.json is the service user's file, but an operator may edit it: "zh_CN" still means
    Chinese, "fr" means the browser's (English here), and no page breaks."""
    import json

    path = accounts.users_path()
    for name in ("hand.zh", "hand.fr"):
        if accounts.language_of(name) is None:
            accounts.add_user(name, "pi", "a long enough password")
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["users"]["hand.zh"]["language"] = "zh_CN"
    raw["users"]["hand.fr"]["language"] = "fr"
    path.write_text(json.dumps(raw), encoding="utf-8")
    for name, expected in (("hand.zh", "退出登录"), ("hand.fr", "Sign out")):
        clear_caches()
        at = open_page(Viewer("pi", user=name), "accrual.py")
        assert not at.exception, name
        assert any(b.label == expected for b in at.sidebar.button), name
