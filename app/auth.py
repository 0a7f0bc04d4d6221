"""Sign-in for the Streamlit app: local accounts (dashboard.access.accounts), or single sign-on through
Streamlit's st.login when trial.toml names an OIDC provider; idle expiry; sign-out. Every sign-in,
failed sign-in, sign-out and expiry goes to the audit log."""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path

import streamlit as st

from dashboard.access import accounts, audit
from dashboard.access.roles import Viewer
from dashboard.config import TrialConfig

FAILURES_BEFORE_DELAY = 3

# The idle check's clock, and the one seam a browser test has into it. When the server process
# was started with NEO_MARGIN_TEST_CLOCK_FILE naming a file, the idle check adds the number of
# seconds written in that file to the real clock: a test ages every session by exactly the time it
# chooses, instead of sleeping through a timeout and racing the machine. Why this cannot weaken a
# deployment:
#  - it is read from the server's own environment when this module is first imported; nothing a
#    browser sends can set it (tests/browser/conftest.py sets it for its server process only);
#  - it is obeyed only on the synthetic demo warehouse (build_info.is_demo, the same mark that
#    keeps the demo accounts out of a real trial): on a real export it is ignored, with a warning
#    in the server log, and the real clock rules;
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
    audit.append(
        action,
        user=user or (viewer.user if viewer else None),
        role=viewer.role if viewer else None,
        site=viewer.site if viewer else None,
        detail=detail,
        data_cut=data_cut(manifest),
    )


def _start(viewer: Viewer, manifest: dict, how: str) -> None:
    st.session_state["viewer"] = viewer
    st.session_state["last_activity"] = time.time()
    _record("sign-in", viewer, manifest, detail={"method": how})


def signed_in(cfg: TrialConfig, manifest: dict) -> Viewer | None:
    """The signed-in viewer of this session, after the idle check; None when nobody is."""
    viewer: Viewer | None = st.session_state.get("viewer")
    now = time.time()
    if viewer is not None:
        offset = _test_clock_offset(manifest)
        idle = now + offset - st.session_state.get("last_activity", now)
        if idle > cfg.access.idle_timeout_minutes * 60:
            detail = {"idle_minutes": round(idle / 60, 1)}
            if offset:
                detail["test_clock_offset_seconds"] = offset  # the record says the clock was moved
            _record("session expired", viewer, manifest, detail=detail)
            st.session_state.clear()
            st.session_state["notice"] = (
                f"Signed out after {cfg.access.idle_timeout_minutes:g} minutes without activity."
            )
            return None
        st.session_state["last_activity"] = now
        return viewer
    if cfg.access.oidc_provider and getattr(st.user, "is_logged_in", False):
        mapped = accounts.viewer_from_claims(dict(st.user), cfg)
        if mapped is None:
            st.error("Your account has no role in this trial monitor (or more than one). Ask the administrator.")
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


def login_page(cfg: TrialConfig, manifest: dict) -> None:
    st.title(f"{cfg.trial.name} ({cfg.trial.registry_id}) trial monitor")
    notice = st.session_state.pop("notice", None)
    if notice:
        st.info(notice)
    if cfg.access.oidc_provider:
        if st.button("Sign in with your hospital account", type="primary"):
            st.login(cfg.access.oidc_provider)
        st.caption("or with a local account:")
    with st.form("sign-in"):
        username = st.text_input("User name", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if manifest.get("is_demo"):
        st.caption("Synthetic demo trial: the demo accounts in the README work here, and only here.")
    if not submitted:
        st.stop()
    failures = st.session_state.get("failures", 0)
    if failures >= FAILURES_BEFORE_DELAY:  # slow down guessing within a session
        time.sleep(min(2 ** (failures - FAILURES_BEFORE_DELAY), 8))
    try:
        viewer = accounts.sign_in(username.strip(), password, demo_data=bool(manifest.get("is_demo")), cfg=cfg)
    except accounts.SignInRefused as exc:
        st.session_state["failures"] = failures + 1
        _record(
            "failed sign-in",
            None,
            manifest,
            detail={"method": "password", "reason": str(exc)},
            user=username.strip()[:64],
        )
        st.error(f"Sign-in refused: {exc}.")
        st.stop()
    st.session_state.pop("failures", None)
    _start(viewer, manifest, "password")
    st.rerun()


def sign_out(cfg: TrialConfig, manifest: dict) -> None:
    viewer = st.session_state.get("viewer")
    _record("sign-out", viewer, manifest)
    st.session_state.clear()
    if cfg.access.oidc_provider and getattr(st.user, "is_logged_in", False):
        st.logout()
    st.rerun()


def record_view(viewer: Viewer, page: str, manifest: dict, detail=None) -> None:
    """A closed-session page view or an export: on the record."""
    _record(page, viewer, manifest, detail=detail)
