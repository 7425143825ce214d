"""Accounts: creation, password hashing, authentication and logout invalidation."""

from __future__ import annotations

import functools
import hmac
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from models import ApiToken, Role, User, db
from models.user import new_session_token
from services.common.errors import ValidationError
from services.common.numbers import row_id
from services.live.events import SIGNED_OUT, publish

MIN_PASSWORD_LENGTH = 10


@functools.cache
def dummy_hash(method: str) -> str:
    """A hash made with `method` that no password matches, checked against when the account is
    unknown or has no password: a login then does the same hashing work either way, so its
    duration does not tell which e-mails have accounts. Made once per method, on first use."""
    return generate_password_hash(new_session_token(), method=method)


def normalise_email(raw: str) -> str:
    """A canonical, validated address (lower-cased); raises ValidationError."""
    # Imported here, not by every command and worker at start-up (its import is slow).
    from email_validator import EmailNotValidError, validate_email

    try:
        # Schools run internal domains (.local, .test): check the syntax, not public DNS.
        result = validate_email(
            (raw or "").strip(),
            check_deliverability=False,
            globally_deliverable=False,
            test_environment=True,
        )
    except EmailNotValidError as err:
        raise ValidationError(
            f"{raw!r} is not a valid e-mail address: {err}", field="email"
        ) from err
    return result.normalized.lower()


def parse_role(raw: str) -> Role:
    try:
        return Role((raw or "").strip().lower())
    except ValueError as err:
        choices = ", ".join(r.value for r in Role)
        raise ValidationError(
            f"Unknown role {raw!r}; choose one of {choices}.", field="role"
        ) from err


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def set_password(user: User, password: str, *, method: str) -> None:
    """Give `user` a new password at once (a new account, the command line); pages prepare a
    `PasswordChange` before any write lock instead (see `store_password`)."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            f"The password must have at least {MIN_PASSWORD_LENGTH} characters.", field="password"
        )
    user.password_hash = hash_password(password, method=method)
    # A new password ends every existing login of this account, and its API tokens: a password
    # is reset because it may have leaked, and whoever had it may have made tokens with it.
    user.session_token = new_session_token()
    revoke_api_tokens(user)


@dataclass(frozen=True)
class PasswordChange:
    """A new password for an account as it was read, hashed before anything was written (the
    hashing takes about half a second: on SQLite, holding the write lock that long would stop
    every other writer). `store_password` writes it only if the account's password and
    session token are still those read."""

    user_id: int
    hash_before: str | None
    token_before: str
    new_hash: str


def prepare_password(user: User, password: str, *, method: str) -> PasswordChange:
    return PasswordChange(
        user_id=user.id,
        hash_before=user.password_hash,
        token_before=user.session_token,
        new_hash=hash_password(password, method=method),
    )


def store_password(change: PasswordChange) -> User | None:
    """Write a prepared password, ending every login of the account and revoking its API
    tokens (see `set_password`); None, writing nothing, when the account's password or session
    token changed since it was read (another request used the same invitation, changed the
    password or logged out everywhere meanwhile)."""
    unchanged_hash = (
        User.password_hash.is_(None)
        if change.hash_before is None
        else User.password_hash == change.hash_before
    )
    stored = db.session.execute(
        update(User)
        .where(
            User.id == change.user_id,
            unchanged_hash,
            User.session_token == change.token_before,
        )
        .values(password_hash=change.new_hash, session_token=new_session_token())
        .execution_options(synchronize_session=False)
    )
    if stored.rowcount != 1:
        return None
    user = db.session.get(User, change.user_id)
    db.session.refresh(user)  # its new session token goes into this browser's login cookie
    revoke_api_tokens(user)
    return user


def revoke_api_tokens(user: User, now: datetime | None = None) -> int:
    """Revoke every working API token of `user`; returns how many."""
    if user.id is None:  # not saved yet: it has no tokens
        return 0
    result = db.session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now or datetime.now(UTC))
    )
    return result.rowcount


# Control characters (NUL, escape sequences, line breaks) have no place in a one-line name,
# and PostgreSQL refuses NUL outright.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def has_control_characters(text: str) -> bool:
    return bool(_CONTROL.search(text))


def create_user(
    email: str,
    name: str,
    role: str | Role,
    *,
    password: str | None,
    hash_method: str,
    password_hash: str | None = None,
) -> User:
    """Create an account; without a password it exists but cannot log in yet. A page gives
    the `password_hash` made before its write transaction instead of the password."""
    email = normalise_email(email)
    name = (name or "").strip()
    errors = {}
    if not name:
        errors["name"] = "A name is required."
    elif len(name) > 120:
        errors["name"] = "A name has at most 120 characters."
    elif has_control_characters(name):
        errors["name"] = "A name cannot contain control characters."
    if find_user_by_email(email) is not None:
        errors["email"] = f"An account with {email} already exists."
    if errors:
        raise ValidationError(errors)
    user = User(email=email, name=name, role=parse_role(role) if isinstance(role, str) else role)
    if password is not None:
        set_password(user, password, method=hash_method)
    elif password_hash is not None:
        user.password_hash = password_hash
    db.session.add(user)
    db.session.flush()
    return user


# Password checks run in threads of their own at a lower CPU priority (on Linux the nice value
# is per thread): a burst of logins, each about half a second of scrypt, then gets the CPU left
# over by the pages being served rather than an equal share of it (bench/login_flood.py).
HASHING_NICE_INCREMENT = 10
# Checks at once per process (more wait their turn): with a worker process per CPU, twice as
# many as CPUs, and 2 x 128 MiB of memory per worker at the default scrypt cost.
HASHING_THREADS = 2
_hashing_pool: ThreadPoolExecutor | None = None
_hashing_pool_lock = threading.Lock()


def _lower_priority() -> None:
    try:
        thread = threading.get_native_id()
        niceness = os.getpriority(os.PRIO_PROCESS, thread) + HASHING_NICE_INCREMENT
        os.setpriority(os.PRIO_PROCESS, thread, min(niceness, 19))
    except (AttributeError, OSError):  # no such call here: checks run at the usual priority
        pass


def _at_low_priority(function, *args, **kwargs):
    """`function(*args, **kwargs)` run by a password-hashing thread (see above)."""
    global _hashing_pool
    with _hashing_pool_lock:
        if _hashing_pool is None:
            # Made on first use, in the process that hashes (a gunicorn worker, not its parent).
            _hashing_pool = ThreadPoolExecutor(
                max_workers=HASHING_THREADS,
                thread_name_prefix="password-check",
                initializer=_lower_priority,
            )
    return _hashing_pool.submit(function, *args, **kwargs).result()


def hash_password(password: str, *, method: str) -> str:
    return _at_low_priority(generate_password_hash, password, method=method)


def password_matches(pwhash: str, password: str) -> bool:
    return _at_low_priority(check_password_hash, pwhash, password)


def authenticate(email: str, password: str, *, hash_method: str) -> User | None:
    """The active account with this e-mail and password, or None (in constant-ish time).

    `hash_method` is the one new passwords are hashed with (PASSWORD_HASH_METHOD)."""
    user = find_user_by_email(email or "")
    if user is None or user.password_hash is None:
        password_matches(dummy_hash(hash_method), password or "")
        return None
    if not password_matches(user.password_hash, password or ""):
        return None
    return user if user.is_active_account else None


def load_user_from_cookie(user_id: str) -> User | None:
    """Flask-Login's loader: the id must carry the account's current session token."""
    raw_id, _, token = (user_id or "").partition(":")
    user_key = row_id(raw_id)
    if not user_key or not token:
        return None
    user = db.session.get(User, user_key)
    if user is None or not hmac.compare_digest(user.session_token, token):
        return None
    return user


def end_all_sessions(user: User) -> None:
    """Logout: rotating the token invalidates every cookie issued for this account (and its
    open pages are told: their bells turn into a "log in again" link)."""
    user.session_token = new_session_token()
    publish(SIGNED_OUT, users=user.id)


def prepare_own_password_change(
    user: User, current: str, password: str, confirm: str, *, hash_method: str
) -> PasswordChange:
    """The owner changes their password, knowing the current one: checked and hashed here,
    written by `store_password` (like any new password it ends every login of the account
    and revokes its API tokens)."""
    errors = {}
    if not user.password_hash or not password_matches(user.password_hash, current or ""):
        errors["current"] = "That is not your current password."
    if len(password or "") < MIN_PASSWORD_LENGTH:
        errors["password"] = f"The password must have at least {MIN_PASSWORD_LENGTH} characters."
    elif password != confirm:
        errors["confirm"] = "The two passwords differ."
    elif password == current:
        errors["password"] = "Choose a password other than the current one."  # noqa: S105
    if errors:
        raise ValidationError(errors)
    return prepare_password(user, password, method=hash_method)


def log_out_everywhere(user: User, now: datetime | None = None) -> int:
    """End every login of the account and revoke its API tokens (something leaked);
    returns how many tokens were revoked."""
    end_all_sessions(user)
    return revoke_api_tokens(user, now)
