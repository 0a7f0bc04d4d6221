"""dashboard/access/sessions.py: the server-side sessions a reload resumes."""

from dashboard.access import sessions
from dashboard.access.roles import Viewer

PI = Viewer("pi", None, "pi.user")


def test_a_ticket_sets_the_cookie_once_and_only_in_time():
    store = sessions.Store()
    session, ticket = store.open(PI, "password", now=1000.0)
    token = store.redeem(ticket, now=1001.0)
    assert token and store.find(token) is session
    assert store.redeem(ticket, now=1002.0) is None  # single use
    _s, late = store.open(PI, "password", now=1000.0)
    assert store.redeem(late, now=1000.0 + sessions.TICKET_SECONDS + 1) is None  # too late
    assert store.redeem("", now=1000.0) is None and store.redeem("guess", now=1000.0) is None


def test_the_server_keeps_the_tokens_digest_not_the_token():
    store = sessions.Store()
    session, ticket = store.open(PI, "password")
    token = store.redeem(ticket)
    assert session.sid != token and len(session.sid) == 64
    assert token not in repr(store.__dict__["_sessions"])


def test_a_closed_session_is_closed_once_and_its_ticket_sets_nothing():
    store = sessions.Store()
    session, ticket = store.open(PI, "password")
    assert store.close(session.sid) is session
    assert store.close(session.sid) is None  # a second tab finding the same expiry writes nothing
    assert store.redeem(ticket) is None


def test_activity_moves_the_idle_clock_forward_only_and_idle_ones_are_swept():
    store = sessions.Store()
    s, _t = store.open(PI, "password", now=100.0)
    store.touch(s.sid, now=50.0)
    assert s.last_activity == 100.0
    store.touch(s.sid, now=200.0)
    assert store.close_idle(60, now=250.0) == [] and len(store) == 1
    assert store.close_idle(60, now=300.0) == [s] and len(store) == 0


def test_the_store_holds_a_bounded_number_of_sessions(monkeypatch):
    monkeypatch.setattr(sessions, "MAX_SESSIONS", 3)
    store = sessions.Store()
    opened = [store.open(PI, "password", now=float(i))[0] for i in range(5)]
    assert len(store) == 3
    assert store.get(opened[0].sid) is None and store.get(opened[4].sid) is opened[4]


def test_the_cookie_is_http_only_and_same_site_strict():
    attrs = sessions.cookie_attributes(secure=True)
    assert attrs["httponly"] is True and attrs["samesite"] == "strict" and attrs["secure"] is True


def test_one_account_cannot_push_the_others_out(monkeypatch):
    monkeypatch.setattr(sessions, "MAX_PER_USER", 2)
    store = sessions.Store()
    other, _t = store.open(Viewer("dsmb", None, "dsmb.chair"), "password", now=0.0)
    mine = [store.open(PI, "password", now=float(i))[0] for i in range(1, 6)]
    assert store.get(other.sid) is other
    assert [store.get(s.sid) is not None for s in mine] == [False, False, False, True, True]
