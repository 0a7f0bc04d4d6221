"""Server-side sign-in sessions that survive a reload, a typed URL and a discarded phone tab.

A Streamlit session belongs to one websocket: a reload opens a new one, and everything in
st.session_state is gone. So a sign-in also opens a session here, on the server, and the browser
gets a cookie that names it:

- The cookie (COOKIE) holds a random 256-bit token and nothing else. It is HttpOnly (no script of
  the page can read it), SameSite=Strict (no other site's page sends it), Path=/, Secure behind
  HTTPS, and without Max-Age: the browser forgets it when it closes, and the server decides
  before that (the idle timeout of trial.toml, counted here, on the server).
- The server keeps only the token's SHA-256, in this process's memory: not on disk, where a
  shell account could read it, and a restart of the server signs everybody out.
- A cookie can only be set by an HTTP response, and a sign-in happens on the websocket. So the
  sign-in makes a one-time ticket (random, valid TICKET_SECONDS, redeemed once); the signed-in
  page posts it to the server's route (app/serve.py), whose answer sets the cookie.
- A new websocket session (a reload) reads the cookie (st.context.cookies) and resumes the
  session if it is open and has not idled out. The audit log has one sign-in per session,
  however often the page is reloaded; a resumed session is the same session.
- The session ends on sign-out, on idle expiry (found by a request or by the idle timer of any
  tab), or when its account is changed (app/auth.py checks the account on every resume): every
  tab and every reload of it is then signed out.

No Streamlit here: app/auth.py drives it, app/serve.py's route redeems the tickets.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field

from dashboard.access.roles import Viewer

COOKIE = "neo_margin_session"
TICKET_HEADER = "X-Neo-Margin-Ticket"
ROUTE = "/api/session"
TICKET_SECONDS = 60.0
MAX_SESSIONS = 5000  # open sessions a server holds at most; the oldest idle ones go first
MAX_PER_USER = 20  # open sessions of one account at most (its oldest go first): one account
# signing in over and over cannot push everybody else's sessions out


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass
class Session:
    sid: str  # the SHA-256 of the cookie's token: what the server keeps, and the audit names
    viewer: Viewer
    how: str  # password, oidc
    started: float
    last_activity: float
    account: str = ""  # a fingerprint of the account at sign-in (accounts.fingerprint)
    extra: dict = field(default_factory=dict)


class Store:
    """The open sessions of this server process, and the tickets not yet redeemed. Thread-safe:
    script threads and the server's event loop both call it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}
        self._tickets: dict[str, tuple[str, float]] = {}  # ticket digest -> (token, expires)

    def open(self, viewer: Viewer, how: str, account: str = "", now: float | None = None) -> tuple[Session, str]:
        """A new session for a viewer just signed in, and the one-time ticket that sets its cookie."""
        now = time.time() if now is None else now
        token = secrets.token_urlsafe(32)
        ticket = secrets.token_urlsafe(32)
        session = Session(_digest(token), viewer, how, now, now, account)
        with self._lock:
            self._forget_tickets(now)
            own = sorted(
                (x for x in self._sessions.values() if x.viewer.user == viewer.user), key=lambda x: x.last_activity
            )
            for old in own[: max(0, len(own) - MAX_PER_USER + 1)]:
                del self._sessions[old.sid]
            if len(self._sessions) >= MAX_SESSIONS:
                for sid, _s in sorted(self._sessions.items(), key=lambda kv: kv[1].last_activity)[
                    : len(self._sessions) - MAX_SESSIONS + 1
                ]:
                    del self._sessions[sid]
            self._sessions[session.sid] = session
            self._tickets[_digest(ticket)] = (token, now + TICKET_SECONDS)
        return session, ticket

    def redeem(self, ticket: str, now: float | None = None) -> str | None:
        """The cookie's token for a ticket: once, within TICKET_SECONDS, for a session still open."""
        now = time.time() if now is None else now
        with self._lock:
            entry = self._tickets.pop(_digest(ticket or ""), None)
            self._forget_tickets(now)
            if entry is None or entry[1] < now:
                return None
            token = entry[0]
            return token if _digest(token) in self._sessions else None

    def _forget_tickets(self, now: float) -> None:
        for key in [k for k, (_t, expires) in self._tickets.items() if expires < now]:
            del self._tickets[key]

    def find(self, token: str | None) -> Session | None:
        """The open session a cookie names (no idle check: the caller applies its clock)."""
        if not token:
            return None
        with self._lock:
            return self._sessions.get(_digest(token))

    def get(self, sid: str | None) -> Session | None:
        with self._lock:
            return self._sessions.get(sid) if sid else None

    def touch(self, sid: str, now: float | None = None) -> None:
        """Activity: a run of the app that the user caused (a click, a reload, a typed URL)."""
        now = time.time() if now is None else now
        with self._lock:
            session = self._sessions.get(sid)
            if session is not None:
                session.last_activity = max(session.last_activity, now)

    def close(self, sid: str | None) -> Session | None:
        """End a session; the session the first time, None after (one audit entry per ending)."""
        with self._lock:
            return self._sessions.pop(sid, None) if sid else None

    def close_idle(self, idle_seconds: float, now: float) -> list[Session]:
        """End every session idle longer than idle_seconds at `now` (a sweep; none is resumed)."""
        with self._lock:
            gone = [s for s in self._sessions.values() if now - s.last_activity > idle_seconds]
            for s in gone:
                del self._sessions[s.sid]
        return gone

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)


STORE = Store()
"""The server's sessions: one store per process (the Streamlit server is one process)."""


def cookie_attributes(secure: bool) -> dict:
    """The cookie's attributes, as starlette's Response.set_cookie takes them."""
    return {"httponly": True, "samesite": "strict", "path": "/", "secure": secure}
