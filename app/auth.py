"""Sign-in for the Streamlit app: local accounts (dashboard.access.accounts), or single sign-on through
Streamlit's st.login when trial.toml names an OIDC provider; idle expiry; sign-out. Every sign-in,
failed sign-in, sign-out and expiry goes to the audit log."""
from __future__ import annotations

import time

import streamlit as st

from dashboard.access import accounts
from dashboard.access import audit
from dashboard.access.roles import Viewer
from dashboard.config import TrialConfig

FAILURES_BEFORE_DELAY = 3


def data_cut(manifest: dict) -> dict:
    return {"build_id": manifest.get("build_id"), "cutoff": manifest.get("cutoff")}


def _record(action: str, viewer: Viewer | None, manifest: dict, detail=None, user: str | None = None) -> None:
    audit.append(action, user=user or (viewer.user if viewer else None), role=viewer.role if viewer else None,
                 site=viewer.site if viewer else None, detail=detail, data_cut=data_cut(manifest))


def _start(viewer: Viewer, manifest: dict, how: str) -> None:
    st.session_state["viewer"] = viewer
    st.session_state["last_activity"] = time.time()
    _record("sign-in", viewer, manifest, detail={"method": how})


def signed_in(cfg: TrialConfig, manifest: dict) -> Viewer | None:
    """The signed-in viewer of this session, after the idle check; None when nobody is."""
    viewer: Viewer | None = st.session_state.get("viewer")
    now = time.time()
    if viewer is not None:
        idle = now - st.session_state.get("last_activity", now)
        if idle > cfg.access.idle_timeout_minutes * 60:
            _record("session expired", viewer, manifest, detail={"idle_minutes": round(idle / 60, 1)})
            st.session_state.clear()
            st.session_state["notice"] = (f"Signed out after {cfg.access.idle_timeout_minutes:g} minutes "
                                          "without activity.")
            return None
        st.session_state["last_activity"] = now
        return viewer
    if cfg.access.oidc_provider and getattr(st.user, "is_logged_in", False):
        mapped = accounts.viewer_from_claims(dict(st.user), cfg)
        if mapped is None:
            st.error("Your account has no role in this trial monitor (or more than one). Ask the administrator.")
            _record("failed sign-in", None, manifest, detail={"method": "oidc", "reason": "no role"},
                    user=st.user.get("email"))
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
    if failures >= FAILURES_BEFORE_DELAY:          # slow down guessing within a session
        time.sleep(min(2 ** (failures - FAILURES_BEFORE_DELAY), 8))
    try:
        viewer = accounts.sign_in(username.strip(), password, demo_data=bool(manifest.get("is_demo")), cfg=cfg)
    except accounts.SignInRefused as exc:
        st.session_state["failures"] = failures + 1
        _record("failed sign-in", None, manifest, detail={"method": "password", "reason": str(exc)},
                user=username.strip()[:64])
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
