"""Local accounts: a users file with argon2id password hashes, one role each, failed-login
counting and lockout; the demo accounts; the mapping of single-sign-on claims to roles.

The users file is JSON, written whole to a new file and renamed over the old under a lock, so a
crash never leaves half a file. Lockout state lives in the file too: it survives restarts and is
shared by every server process.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from dashboard.access.roles import AccessDenied, Viewer
from dashboard.config import TrialConfig, load_trial

USERS_ENV = "NEO_MARGIN_USERS"
DEFAULT_USERS = "data/users.json"
NAME = re.compile(r"^[\w.@-]{2,64}$")  # \w is Unicode: 张医生 is a valid user name
MIN_PASSWORD = 10
_hasher = PasswordHasher()  # argon2id with the library's vetted defaults
# A hash to verify against when the user does not exist: same cost, so timing tells nothing.
_DUMMY_HASH = _hasher.hash("not a password of anyone")

# Demo accounts: one per role, passwords published in the README. They open only a warehouse
# that holds the generated demo trial (build_info.is_demo), never a real export.
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
    """Wrong name or password, a locked account, or a demo account on real data."""


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


def _check_role(role: str, site: str | None, cfg: TrialConfig) -> None:
    if role not in cfg.roles:
        raise AccountError(f"unknown role {role!r}; roles: {', '.join(cfg.roles)}")
    if cfg.roles[role].site_restricted and not site:
        raise AccountError(f"role {role} needs --site")
    if not cfg.roles[role].site_restricted and site:
        raise AccountError(f"role {role} is not tied to a site")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")


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
        raise AccountError(f"{username!r} is not an allowed user name")
    _check_role(role, site, cfg)
    _check_password(password)
    with _locked(path):
        users = _read(path)
        if username in users:
            raise AccountError(f"user {username} exists")
        users[username] = User(username, role, site, _hasher.hash(password), _now().isoformat(timespec="seconds"))
        _write(path, users)
        return users[username]


def remove_user(username: str, path: Path | None = None) -> None:
    path = path or users_path()
    with _locked(path):
        users = _read(path)
        if username not in users:
            raise AccountError(f"no user {username}")
        del users[username]
        _write(path, users)


def set_password(username: str, password: str, path: Path | None = None) -> None:
    """A new password; also lifts a lockout."""
    path = path or users_path()
    _check_password(password)
    with _locked(path):
        users = _read(path)
        if username not in users:
            raise AccountError(f"no user {username}")
        u = users[username]
        u.password_hash, u.failed, u.locked_until = _hasher.hash(password), 0, None
        _write(path, users)


def list_users(path: Path | None = None) -> list[dict]:
    """Users without their hashes."""
    return [
        {k: v for k, v in asdict(u).items() if k not in ("password_hash", "extra")}
        for u in _read(path or users_path()).values()
    ]


def sign_in(
    username: str, password: str, *, demo_data: bool, path: Path | None = None, cfg: TrialConfig | None = None
) -> Viewer:
    """The Viewer for a correct name and password, or SignInRefused with a reason to show.

    Failed attempts are counted per account; after `max_failed_logins` the account is locked for
    `lockout_minutes`, even for the right password. The message never says whether the name exists.
    """
    cfg = cfg or load_trial()
    path = path or users_path()
    if username in DEMO_ACCOUNTS:
        if password != DEMO_PASSWORD:
            raise SignInRefused("wrong user name or password")
        if not demo_data:
            raise SignInRefused("demo accounts open only the synthetic demo trial, not this warehouse")
        role, site = DEMO_ACCOUNTS[username]
        return Viewer(role, site, username)
    with _locked(path):
        users = _read(path)
        user = users.get(username)
        if user is None or user.disabled:
            try:
                _hasher.verify(_DUMMY_HASH, password)
            except VerificationError:
                pass
            raise SignInRefused("wrong user name or password")
        now = _now()
        if user.locked_until and dt.datetime.fromisoformat(user.locked_until) > now:
            raise SignInRefused(
                f"account locked after {cfg.access.max_failed_logins} failed sign-ins; "
                f"try again after {user.locked_until[11:16]} UTC or ask the administrator"
            )
        try:
            _hasher.verify(user.password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            user.failed += 1
            locked = user.failed >= cfg.access.max_failed_logins
            if locked:
                user.locked_until = (now + dt.timedelta(minutes=cfg.access.lockout_minutes)).isoformat(
                    timespec="seconds"
                )
                user.failed = 0
            _write(path, users)
            raise SignInRefused(
                "account locked after too many failed sign-ins" if locked else "wrong user name or password"
            ) from None
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        user.failed, user.locked_until, user.last_sign_in = 0, None, now.isoformat(timespec="seconds")
        _write(path, users)
        try:
            return Viewer(user.role, user.site, user.username).validated(cfg)
        except AccessDenied as exc:
            raise SignInRefused(str(exc)) from exc


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
