"""Sign-in for the Streamlit app: local accounts (dashboard.access.accounts), or single sign-on through
Streamlit's st.login when trial.toml names an OIDC provider; a server-side session that a reload
resumes (dashboard.access.sessions: an HttpOnly, SameSite=Strict cookie names it); idle expiry,
counted on the server, checked on every request and by a timer that clears the screen on time;
sign-out. Every sign-in, failed sign-in, sign-out and expiry goes to the audit log, once per
session: a reload, a typed URL or a second tab resumes the session and writes nothing."""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path

import streamlit as st

from dashboard.access import accounts, audit, sessions
from dashboard.access.roles import Viewer
from dashboard.config import TrialConfig
from dashboard.i18n import _
from dashboard.outputs.escape import markdown

# The session's own throttle, on top of the account name's (dashboard.access.accounts): after this
# many failures in one browser session, each attempt waits accounts.throttle_delay(failures, 3).
FAILURES_BEFORE_DELAY = 3
# How often the idle timer looks at the clock of a signed-in session (seconds; a quarter of the
# timeout when that is shorter). Its runs are not activity: they never move the session's clock.
IDLE_CHECK_SECONDS = 10.0

# The idle check's clock, and the one seam a browser test has into it. When the server process
# was started with NEO_MARGIN_TEST_CLOCK_FILE naming a file, the idle check adds the number of
# seconds written in that file to the real clock: a test ages every session by exactly the time it
# chooses, instead of sleeping through a timeout and racing the machine. Why this cannot weaken a
# deployment:
#  - it is read from the server's own environment when this module is first imported; nothing a
#    browser sends can set it (tests/browser/conftest.py sets it for its server process only);
#  - it is obeyed only on a warehouse whose build says it is the synthetic demo (build_info.is_demo):
#    on a real export it is ignored, with a warning in the server log, and the real clock rules.
#    (An export's writer can forge that mark, which is why the demo accounts need far more, see
#    accounts.demo_warehouse; here a forged mark gains nothing, by the next point;)
#  - the offset only ever ages a session: sessions are stamped with the real clock, a negative,
#    unreadable or non-finite offset counts as 0, so it can end a session sooner, never later.
TEST_CLOCK_ENV = "NEO_MARGIN_TEST_CLOCK_FILE"
_TEST_CLOCK_FILE = os.environ.get(TEST_CLOCK_ENV) or None
_log = logging.getLogger(__name__)
_warned: list[bool] = []


def _test_clock_offset(manifest: dict) -> float:
    """Seconds the test clock is ahead of the real one: 0 unless the seam above is on."""
    if _TEST_CLOCK_FILE is None:
        return 0.0
    if not manifest.get("is_demo"):
        if not _warned:
            _warned.append(True)
            _log.warning(
                "%s is set but the warehouse is not the demo trial: ignored, the real clock is used", TEST_CLOCK_ENV
            )
        return 0.0
    try:
        offset = float(Path(_TEST_CLOCK_FILE).read_text(encoding="utf-8").strip() or 0)
    except (OSError, ValueError):
        return 0.0
    return offset if math.isfinite(offset) and offset > 0 else 0.0


def data_cut(manifest: dict) -> dict:
    return {"build_id": manifest.get("build_id"), "cutoff": manifest.get("cutoff")}


def _record(action: str, viewer: Viewer | None, manifest: dict, detail=None, user: str | None = None) -> None:
    on_record(
        action,
        user=user or (viewer.user if viewer else None),
        role=viewer.role if viewer else None,
        site=viewer.site if viewer else None,
        detail=detail,
        data_cut=data_cut(manifest),
    )


def on_record(action: str, **entry) -> dict:
    """audit.append, or, when the log cannot be written (its key missing or unsafe), a refusal on
    screen and the end of the page: nothing that must be on the record happens off it."""
    try:
        return audit.append(action, **entry)
    except audit.AuditError as exc:
        logging.getLogger(__name__).error("audit log not writable: %s", exc)
        st.error(
            _(
                "The audit log cannot be written, so this cannot be done off the record. "
                "The system administrator has been told: {reason}"
            ).format(reason=markdown(str(exc)))
        )
        st.stop()


def _start(viewer: Viewer, manifest: dict, how: str) -> None:
    """A new sign-in: its server-side session, on the record, and the ticket that sets the cookie
    on the next run (set_cookie)."""
    session, ticket = sessions.STORE.open(viewer, how, accounts.fingerprint(viewer))
    _resume(session)
    st.session_state["_cookie_ticket"] = ticket
    _record("sign-in", viewer, manifest, detail={"method": how, "session": session.sid[:16]})


def _resume(session: sessions.Session) -> None:
    st.session_state["viewer"] = session.viewer
    st.session_state["sid"] = session.sid
    st.session_state["last_activity"] = time.time()
    sessions.STORE.touch(session.sid)


def _end_here(notice: str | None) -> None:
    """This browser session forgets its sign-in (the server's session is already closed)."""
    st.session_state.clear()
    st.session_state["_clear_cookie"] = True
    if notice:
        st.session_state["notice"] = notice


_COOKIE_SCRIPT = """<script>
fetch({route}, {{method: {method}, headers: {headers}, credentials: "same-origin", cache: "no-store"}});
</script>"""


def set_cookie() -> None:
    """Right after a sign-in, on the first run of the signed-in page: the browser posts the
    one-time ticket to the server's route (app/serve.py), whose answer sets the HttpOnly cookie.
    The ticket is the only value here, and it is ours (never data). Draws nothing visible."""
    ticket = st.session_state.pop("_cookie_ticket", None)
    if ticket:
        _script("POST", {sessions.TICKET_HEADER: ticket})


def clear_cookie() -> None:
    """On the sign-in page after a sign-out or an expiry: the browser drops the dead cookie."""
    if st.session_state.pop("_clear_cookie", False):
        _script("DELETE", {})


def _script(method: str, headers: dict) -> None:
    import json

    st.html(
        _COOKIE_SCRIPT.format(route=json.dumps(sessions.ROUTE), method=json.dumps(method), headers=json.dumps(headers)),
        unsafe_allow_javascript=True,
    )


def _expired(cfg: TrialConfig, manifest: dict, how: str) -> bool:
    """Has this session been idle past the timeout? If so: on the record, signed out, a notice for
    the sign-in page. `how` says which check found it (the next request, or the idle timer)."""
    if "sid" not in st.session_state:
        # a viewer put in the session state by code, not by a sign-in (AppTest, the benchmark):
        # it gets a server session of its own, with no cookie and nothing on the record
        session, _ticket = sessions.STORE.open(st.session_state["viewer"], "preset")
        st.session_state["sid"] = session.sid
    session = sessions.STORE.get(st.session_state["sid"])
    if session is None:  # ended in another tab of the session (a sign-out, an expiry found there)
        _end_here("Signed out.")
        return True
    if not _idle_past_timeout(cfg, manifest, session, how):
        return False
    _end_here(f"Signed out after {cfg.access.idle_timeout_minutes:g} minutes without activity.")
    return True


def _idle_past_timeout(cfg: TrialConfig, manifest: dict, session: sessions.Session, how: str) -> bool:
    """Has the server's session idled past the timeout? If so it is closed and, by whichever
    check found it first (one entry however many tabs look), on the record."""
    offset = _test_clock_offset(manifest)
    idle = time.time() + offset - session.last_activity
    if idle <= cfg.access.idle_timeout_minutes * 60:
        return False
    if sessions.STORE.close(session.sid) is not None:
        detail = {"idle_minutes": round(idle / 60, 1), "found_by": how, "session": session.sid[:16]}
        if offset:
            detail["test_clock_offset_seconds"] = offset  # the record says the clock was moved
        _record("session expired", session.viewer, manifest, detail=detail)
    if session.how == "oidc" and getattr(st.user, "is_logged_in", False):
        # else the next run maps st.user again and signs the idle user straight back in
        st.logout()
    return True


def signed_in(cfg: TrialConfig, manifest: dict) -> Viewer | None:
    """The signed-in viewer of this session, after the idle check; None when nobody is. A full run
    of the app is the user's doing (a click, a typed URL), so it counts as activity."""
    viewer: Viewer | None = st.session_state.get("viewer")
    if viewer is not None:
        if _expired(cfg, manifest, "request"):
            return None
        if _account_changed(sessions.STORE.get(st.session_state["sid"]), manifest):
            _end_here(ACCOUNT_CHANGED)
            return None
        st.session_state["last_activity"] = time.time()
        sessions.STORE.touch(st.session_state["sid"])
        return viewer
    resumed = _resumed(cfg, manifest)
    if resumed is not None:
        return resumed
    if cfg.access.oidc_provider and getattr(st.user, "is_logged_in", False):
        mapped = accounts.viewer_from_claims(dict(st.user), cfg)
        if mapped is None:
            st.error(_("Your account has no role in this trial monitor (or more than one). Ask the administrator."))
            _record(
                "failed sign-in",
                None,
                manifest,
                detail={"method": "oidc", "reason": "no role"},
                user=st.user.get("email"),
            )
            st.stop()
        _start(mapped, manifest, "oidc")
        return mapped
    return None


def _resumed(cfg: TrialConfig, manifest: dict) -> Viewer | None:
    """A new browser session (a reload, a typed URL, a tab the phone had discarded) whose cookie
    names an open server-side session: that session goes on, if it has not idled out and its
    account is as it was. Not a sign-in, so not on the record again."""
    session = sessions.STORE.find(st.context.cookies.get(sessions.COOKIE))
    if session is None:
        return None
    if _idle_past_timeout(cfg, manifest, session, "resume"):
        st.session_state["notice"] = f"Signed out after {cfg.access.idle_timeout_minutes:g} minutes without activity."
        st.session_state["_clear_cookie"] = True
        return None
    if _account_changed(session, manifest):
        st.session_state["notice"] = ACCOUNT_CHANGED
        st.session_state["_clear_cookie"] = True
        return None
    _resume(session)
    return session.viewer


ACCOUNT_CHANGED = "Your account has changed since you signed in: please sign in again."


def _account_changed(session: sessions.Session, manifest: dict) -> bool:
    """Is the session's account no longer as it was at sign-in (removed, disabled, a new password,
    another role or site; an SSO sign-out; a demo account off its build)? Then the session is
    closed and, once, on the record. Checked on every run, not only on a resume: an account
    removed while its page is open loses the next click, not the next reload."""
    if session.how == "preset":
        return False
    if session.how == "oidc":  # still signed in with the provider, as the same person in the same role
        still = getattr(st.user, "is_logged_in", False) and accounts.viewer_from_claims(dict(st.user)) == session.viewer
    else:
        still = accounts.still_valid(session.viewer, session.account, manifest)
    if still:
        return False
    if sessions.STORE.close(session.sid) is not None:
        _record(
            "session ended",
            session.viewer,
            manifest,
            detail={"reason": "account changed", "session": session.sid[:16]},
        )
    return True


def _idle_timer(cfg: TrialConfig, manifest: dict) -> None:
    # a timer run of the fragment below: it looks at the idle clock and never moves it
    if st.session_state.get("viewer") is not None and _expired(cfg, manifest, "timer"):
        st.rerun(scope="app")  # the whole screen: the app's run now shows the sign-in page


def idle_watch(cfg: TrialConfig, manifest: dict) -> None:
    """Clear the screen on time: a fragment rerun by the browser every few seconds while a signed-in
    page is open; once the session has been idle past the timeout it signs the session out and
    reruns the whole app, so the page's content is replaced by the sign-in page without a click.
    Call it once per run of a signed-in page (app/main.py); it draws nothing."""
    every = min(IDLE_CHECK_SECONDS, cfg.access.idle_timeout_minutes * 60 / 4)
    st.fragment(_idle_timer, run_every=every)(cfg, manifest)


def login_page(cfg: TrialConfig, manifest: dict) -> None:
    st.title(_("{name} ({registry_id}) trial monitor").format(name=cfg.trial.name, registry_id=cfg.trial.registry_id))
    clear_cookie()
    notice = st.session_state.pop("notice", None)
    if notice:
        st.info(notice)
    if cfg.access.oidc_provider:
        if st.button(_("Sign in with your hospital account"), type="primary"):
            st.login(cfg.access.oidc_provider)
        st.caption(_("or with a local account:"))
    with st.form("sign-in"):
        username = st.text_input(_("User name"), autocomplete="username")
        password = st.text_input(_("Password"), type="password", autocomplete="current-password")
        submitted = st.form_submit_button(_("Sign in"), type="primary")
    demo = accounts.demo_warehouse(manifest)
    if demo:  # only a server started in demo mode on its demo build says so
        st.caption(_("Synthetic demo trial: the demo accounts in the README work here, and only here."))
    if not submitted:
        st.stop()
    failures = st.session_state.get("failures", 0)
    try:
        viewer = accounts.sign_in(
            username.strip(),
            password,
            demo_data=demo,
            cfg=cfg,
            manifest=manifest,
            # this session's own throttle; the name's is applied by sign_in, the longer one wins
            min_delay=accounts.throttle_delay(failures, FAILURES_BEFORE_DELAY),
        )
    except accounts.SignInRefused as exc:
        st.session_state["failures"] = failures + 1
        _record(
            "failed sign-in",
            None,
            manifest,
            detail={"method": "password", "reason": str(exc)},
            user=username.strip()[:64],
        )
        st.error(_("Sign-in refused: {reason}.").format(reason=markdown(_(str(exc)))))
        st.stop()
    st.session_state.pop("failures", None)
    _start(viewer, manifest, "password")
    st.rerun()


def sign_out(cfg: TrialConfig, manifest: dict) -> None:
    viewer = st.session_state.get("viewer")
    session = sessions.STORE.close(st.session_state.get("sid"))
    _record("sign-out", viewer, manifest, detail={"session": session.sid[:16]} if session else None)
    _end_here(None)
    if cfg.access.oidc_provider and getattr(st.user, "is_logged_in", False):
        st.logout()
    st.rerun()


def record_view(viewer: Viewer, page: str, manifest: dict, detail=None) -> None:
    """A closed-session page view or an export: on the record."""
    _record(page, viewer, manifest, detail=detail)
