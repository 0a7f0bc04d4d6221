"""Local accounts: a users file with argon2id password hashes, one role each; the throttle that
slows a password guesser; the demo accounts; the mapping of single-sign-on claims to roles.

The users file is JSON, written whole to a new file and renamed over the old under a lock, so a
crash never leaves half a file.

Failed sign-ins do not lock an account (whoever knows a name could then lock its owner out); they
slow the next attempt on that name. The throttle's state is a file of its own beside the users
file (`<users file>.throttle`), keyed by a hash of the name typed, written the same way for a name
that exists and one that does not: nothing in the answer, its timing or the files tells them
apart. It survives restarts and is shared by every server process and the command line.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from dashboard.access.roles import AccessDenied, Viewer
from dashboard.config import TrialConfig, load_trial
from dashboard.i18n import N_, _

USERS_ENV = "NEO_MARGIN_USERS"
DEFAULT_USERS = "data/users.json"
NAME = re.compile(r"^[\w.@-]{2,64}$")  # \w is Unicode: 张医生 is a valid user name
MIN_PASSWORD = 10
_log = logging.getLogger(__name__)
_hasher = PasswordHasher()  # argon2id with the library's vetted defaults
# A hash to verify against when the user does not exist: same cost, so timing tells nothing.
_DUMMY_HASH = _hasher.hash("not a password of anyone")

# The answer to every failed sign-in, whatever failed (the name, the password, a disabled account).
WRONG = N_("wrong user name or password")  # translated where shown (app/auth.py); English on the record

# The throttle: the first `max_failed_logins` (trial.toml [access]) failures on a name cost
# nothing; after that every attempt on the name waits THROTTLE_BASE_SECONDS * 2^(n - free) from the
# last failure, at most THROTTLE_CAP_SECONDS, then is checked like any other: the right password
# gets in after the wait. The cap is what keeps the owner in: an attacker fails as often as they
# like, and the owner waits at most the cap. (An attacker with P parallel sessions gets about P
# guesses per cap; the session throttle in app/auth.py and argon2's cost bound that further.)
THROTTLE_BASE_SECONDS = 1.0
THROTTLE_CAP_SECONDS = 30.0
THROTTLE_FORGET_SECONDS = 24 * 3600  # a name with no failure for a day starts afresh
THROTTLE_MAX_NAMES = 10_000  # the oldest names are forgotten beyond this many

# Demo accounts: one per role, passwords published in the README. They exist only when the
# operator started the server in demo mode (scripts/start.sh sets NEO_MARGIN_DEMO=1) AND the
# warehouse serves the very build start.sh made from the package it had just generated
# (NEO_MARGIN_DEMO_BUILD names it) AND that build is the demo trial (build_info.is_demo). The
# export's SOURCE alone decides nothing: whoever writes an export writes its SOURCE. Outside demo
# mode a demo name is an unknown name like any other. See demo_warehouse().
DEMO_ENV = "NEO_MARGIN_DEMO"
DEMO_BUILD_ENV = "NEO_MARGIN_DEMO_BUILD"
DEMO_ACCOUNTS = {
    "demo-pi": ("pi", None),
    "demo-steering": ("steering", None),
    "demo-site": ("site", "01"),
    "demo-data-manager": ("data_manager", None),
    "demo-dsmb": ("dsmb", None),
    "demo-admin": ("admin", None),
}
DEMO_PASSWORD = "neo-margin-demo"


class AccountError(Exception):
    """A user-management request that cannot be done (unknown user, weak password, ...)."""


class SignInRefused(Exception):
    """Wrong name or password (also: a disabled account, or a demo account anywhere but on the demo
    build in demo mode, answered alike), or an account whose role no longer validates."""


def demo_mode() -> bool:
    """Did the operator start this process in demo mode? (Its environment: nothing a browser or an
    export can set.)"""
    return os.environ.get(DEMO_ENV) == "1"


def demo_warehouse(manifest: dict | None) -> bool:
    """Do the demo accounts open this warehouse? Only in demo mode, and only on the build the demo
    was started with: its build id is the one the operator pinned in NEO_MARGIN_DEMO_BUILD when
    starting the server (scripts/start.sh: the build of the package it generated a moment before),
    and the build says it is the demo trial. A later build, of anything, into the same warehouse
    has another id: the demo accounts stop opening it at once, whatever its SOURCE says."""
    pinned = os.environ.get(DEMO_BUILD_ENV, "").strip()
    return (
        demo_mode()
        and bool(pinned)
        and manifest is not None
        and manifest.get("is_demo") is True
        and manifest.get("build_id") == pinned
    )


def demo_server_env(warehouse_dir: str | Path) -> dict[str, str]:
    """The environment a server needs to run the demo accounts on `warehouse_dir`'s current build
    (which the caller has just built from a generated demo package)."""
    from dashboard.store import warehouse

    return {DEMO_ENV: "1", DEMO_BUILD_ENV: str(warehouse.manifest(warehouse_dir)["build_id"])}


def users_path() -> Path:
    return Path(os.environ.get(USERS_ENV, DEFAULT_USERS))


@dataclass
class User:
    username: str
    role: str
    site: str | None
    password_hash: str
    created: str
    failed: int = 0
    locked_until: str | None = None
    last_sign_in: str | None = None
    disabled: bool = False
    extra: dict = field(default_factory=dict)
    language: str | None = None  # the language the dashboard opens in for this user (zh, en); None: the browser's


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(path.suffix + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _read(path: Path) -> dict[str, User]:
    if not path.exists():
        return {}
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {name: User(**u) for name, u in raw.get("users", {}).items()}


def _write(path: Path, users: dict[str, User]) -> None:
    tmp = path.with_suffix(path.suffix + f".tmp{os.getpid()}")
    tmp.write_text(
        json.dumps({"users": {n: asdict(u) for n, u in sorted(users.items())}}, ensure_ascii=False, indent=1),
        encoding="utf-8",
    )
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def throttle_path(path: Path) -> Path:
    return path.with_name(path.name + ".throttle")


def throttle_delay(failures: int, free: int) -> float:
    """Seconds an attempt waits after `failures` failures on its name, of which `free` cost nothing."""
    if failures < free:
        return 0.0
    return min(THROTTLE_BASE_SECONDS * 2.0 ** min(failures - free, 64), THROTTLE_CAP_SECONDS)


def _throttle_key(username: str) -> str:
    # a hash, so the file does not list what people typed (a password in the name box, say)
    return hashlib.sha256(b"neo-margin sign-in throttle\0" + username.encode("utf-8", "surrogatepass")).hexdigest()


def _read_throttle(path: Path) -> dict[str, dict]:
    try:
        raw = json.loads(throttle_path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {}  # unreadable state forgets the delays; it never refuses anyone
    return {k: v for k, v in raw.items() if isinstance(v, dict)} if isinstance(raw, dict) else {}


def _write_throttle(path: Path, state: dict[str, dict], now: float) -> None:
    state = {k: v for k, v in state.items() if now - float(v.get("last", 0)) < THROTTLE_FORGET_SECONDS}
    if len(state) > THROTTLE_MAX_NAMES:
        keep = sorted(state, key=lambda k: float(state[k].get("last", 0)))[-THROTTLE_MAX_NAMES:]
        state = {k: state[k] for k in keep}
    target = throttle_path(path)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(state, sort_keys=True), encoding="utf-8")
    os.chmod(tmp, 0o600)
    os.replace(tmp, target)


def throttle_wait(username: str, cfg: TrialConfig | None = None, path: Path | None = None) -> float:
    """Seconds the next sign-in attempt on `username` will wait (0 when it will not)."""
    cfg = cfg or load_trial()
    path = path or users_path()
    with _locked(path):
        entry = _read_throttle(path).get(_throttle_key(username))
    return _wait(entry, cfg.access.max_failed_logins, time.time())


def _wait(entry: dict | None, free: int, now: float) -> float:
    if not entry:
        return 0.0
    due = float(entry.get("last", 0)) + throttle_delay(int(entry.get("failed", 0)), free)
    return min(max(due - now, 0.0), THROTTLE_CAP_SECONDS)


def _check_role(role: str, site: str | None, cfg: TrialConfig) -> None:
    if role not in cfg.roles:
        raise AccountError(_("unknown role {role}; roles: {roles}").format(role=repr(role), roles=", ".join(cfg.roles)))
    if cfg.roles[role].site_restricted and not site:
        raise AccountError(_("role {role} needs --site").format(role=role))
    if not cfg.roles[role].site_restricted and site:
        raise AccountError(_("role {role} is not tied to a site").format(role=role))


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(_("a password needs at least {MIN_PASSWORD} characters").format(MIN_PASSWORD=MIN_PASSWORD))


def add_user(
    username: str,
    role: str,
    password: str,
    site: str | None = None,
    path: Path | None = None,
    cfg: TrialConfig | None = None,
) -> User:
    cfg = cfg or load_trial()
    path = path or users_path()
    if not NAME.match(username) or username in DEMO_ACCOUNTS:
        raise AccountError(_("{username} is not an allowed user name").format(username=repr(username)))
    _check_role(role, site, cfg)
    _check_password(password)
    with _locked(path):
        users = _read(path)
        if username in users:
            raise AccountError(_("user {username} exists").format(username=username))
        users[username] = User(username, role, site, _hasher.hash(password), _now().isoformat(timespec="seconds"))
        _write(path, users)
        return users[username]


def set_language(username: str, language: str | None, path: Path | None = None) -> None:
    """The user's own language (zh or en), the dashboard's first choice at their sign-in; None
    clears it (the browser's language decides)."""
    from dashboard import i18n

    code = i18n.normalize(language) if language else None
    if language and code is None:
        raise AccountError(
            _("unknown language {language}: choose one of {languages}").format(
                language=repr(language), languages=", ".join(i18n.LANGUAGES)
            )
        )
    path = path or users_path()
    with _locked(path):
        users = _read(path)
        if username not in users:
            raise AccountError(_("no user {username}").format(username=username))
        users[username].language = code
        _write(path, users)


def language_of(username: str | None, path: Path | None = None) -> str | None:
    """A local account's language, or None (no account of that name, or none set)."""
    if not username:
        return None
    try:
        user = _read(path or users_path()).get(username)
    except (OSError, ValueError):
        return None
    return user.language if user else None


def language_from_claims(claims: dict, cfg: TrialConfig | None = None) -> str | None:
    """The language an identity provider gives the user (trial.toml oidc_locale_claim, OIDC's
    standard `locale`, a BCP 47 tag such as "zh-CN"), when it is one we offer."""
    from dashboard import i18n

    claim = (cfg or load_trial()).access.oidc_locale_claim
    value = claims.get(claim) if claim else None
    return i18n.normalize(value) if isinstance(value, str) else None


def remove_user(username: str, path: Path | None = None) -> None:
    path = path or users_path()
    with _locked(path):
        users = _read(path)
        if username not in users:
            raise AccountError(_("no user {username}").format(username=username))
        del users[username]
        _write(path, users)


def set_password(username: str, password: str, path: Path | None = None) -> None:
    """A new password; also forgets the name's failed sign-ins (no delay for the next one)."""
    path = path or users_path()
    _check_password(password)
    with _locked(path):
        users = _read(path)
        if username not in users:
            raise AccountError(_("no user {username}").format(username=username))
        u = users[username]
        u.password_hash, u.failed, u.locked_until = _hasher.hash(password), 0, None
        _write(path, users)
        state = _read_throttle(path)
        if state.pop(_throttle_key(username), None) is not None:
            _write_throttle(path, state, time.time())


def list_users(path: Path | None = None) -> list[dict]:
    """Users without their hashes."""
    return [
        {k: v for k, v in asdict(u).items() if k not in ("password_hash", "extra")}
        for u in _read(path or users_path()).values()
    ]


def sign_in(
    username: str,
    password: str,
    *,
    demo_data: bool,
    path: Path | None = None,
    cfg: TrialConfig | None = None,
    manifest: dict | None = None,
    min_delay: float = 0.0,
) -> Viewer:
    """The Viewer for a correct name and password, or SignInRefused with a reason to show.

    Every attempt first waits out the name's throttle (see THROTTLE_*: nothing for the first
    `max_failed_logins` failures, then a doubling delay up to a cap), or `min_delay` seconds if
    that is longer (the caller's own throttle, e.g. per browser session); then the password is
    checked, against a dummy hash of the same cost when the name does not exist or is disabled.
    A failure is counted on the name whether it exists or not and answered with the same words.
    The owner is never locked out: after the wait the right password gets in.

    Demo accounts work only when the caller says the warehouse is the demo (`demo_data`) and
    `manifest`, the warehouse's current build, passes demo_warehouse() (demo mode, the pinned
    build). Anywhere else a demo name gets the answer of an unknown one (the reason is logged).
    """
    cfg = cfg or load_trial()
    path = path or users_path()
    key = _throttle_key(username)
    with _locked(path):
        wait = _wait(_read_throttle(path).get(key), cfg.access.max_failed_logins, time.time())
    wait = max(wait, min(float(min_delay), THROTTLE_CAP_SECONDS))
    if wait > 0:
        time.sleep(wait)  # outside the lock: one name's delay holds up nobody else's sign-in
    with _locked(path):
        users = _read(path)
        demo = username in DEMO_ACCOUNTS and demo_mode()
        user = None if demo else users.get(username)
        ok = False
        try:
            if user is None or user.disabled:
                _hasher.verify(_DUMMY_HASH, password)  # the same cost as a real check
            else:
                ok = _hasher.verify(user.password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if demo:
            ok = hmac.compare_digest(password.encode("utf-8", "surrogatepass"), DEMO_PASSWORD.encode())
        state = _read_throttle(path)
        now = time.time()
        if demo and ok and not (demo_data and demo_warehouse(manifest)):
            # the answer of any failure, so a demo name says nothing here either; the reason goes to
            # the operator's log (the server's or the command's stderr), not to whoever typed it
            _log.warning(
                "demo account %s refused: the warehouse is not the demo build this process was started with "
                "(%s=%s, %s=%s, build %s, is_demo %s)",
                username,
                DEMO_ENV,
                os.environ.get(DEMO_ENV),
                DEMO_BUILD_ENV,
                os.environ.get(DEMO_BUILD_ENV),
                (manifest or {}).get("build_id"),
                (manifest or {}).get("is_demo"),
            )
            ok = False
        if not ok:
            entry = state.get(key) or {"failed": 0}
            state[key] = {"failed": int(entry.get("failed", 0)) + 1, "last": now}
            _write_throttle(path, state, now)
            raise SignInRefused(WRONG)
        if state.pop(key, None) is not None:
            _write_throttle(path, state, now)
        if demo:
            role, site = DEMO_ACCOUNTS[username]
            return Viewer(role, site, username)
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        user.failed, user.locked_until = 0, None
        user.last_sign_in = _now().isoformat(timespec="seconds")
        _write(path, users)
        try:
            return Viewer(user.role, user.site, user.username).validated(cfg)
        except AccessDenied as exc:
            raise SignInRefused(str(exc)) from exc


def fingerprint(viewer: Viewer, path: Path | None = None) -> str:
    """What a sign-in session remembers of its account, to end the session when the account changes:
    for a local account a hash of its password hash, role, site and state (a new password, another
    role, a removal or a disabling all change it); a demo account is "demo"; anything else "".
    The hash is of a hash: nothing here helps to guess the password."""
    if viewer.user in DEMO_ACCOUNTS and demo_mode():
        return "demo"
    user = _read(path or users_path()).get(viewer.user or "")
    if user is None:
        return ""
    raw = json.dumps([user.password_hash, user.role, user.site, user.disabled], ensure_ascii=False)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def still_valid(viewer: Viewer, remembered: str, manifest: dict | None, path: Path | None = None) -> bool:
    """May a session opened for this viewer go on? Its account must be as it was at sign-in (the
    same fingerprint, not removed or disabled), and a demo account still on the demo build."""
    if remembered == "demo":
        return viewer.user in DEMO_ACCOUNTS and demo_mode() and demo_warehouse(manifest)
    return bool(remembered) and hmac.compare_digest(fingerprint(viewer, path), remembered)


def viewer_from_claims(claims: dict, cfg: TrialConfig | None = None) -> Viewer | None:
    """Map an identity provider's claims (st.user) to a Viewer, or None when no role maps.

    The roles claim may be a list or a space/comma-separated string. Groups that map to more than
    one distinct role are refused rather than guessed: a person in both the DSMB and the steering
    committee group must be given one role by the identity provider.
    """
    cfg = cfg or load_trial()
    a = cfg.access
    raw = claims.get(a.oidc_roles_claim) or []
    groups = re.split(r"[,\s]+", raw) if isinstance(raw, str) else list(raw)
    roles = {a.oidc_role_map[g] for g in groups if g in a.oidc_role_map}
    if len(roles) != 1:
        return None
    role = roles.pop()
    site = claims.get(a.oidc_site_claim) if cfg.roles[role].site_restricted else None
    user = claims.get("email") or claims.get("preferred_username") or claims.get("sub")
    try:
        return Viewer(role, str(site) if site else None, user).validated(cfg)
    except AccessDenied:
        return None
