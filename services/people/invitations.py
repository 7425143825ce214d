"""Invitation links that let a user choose their password.

An invitation is a signed, timed token (itsdangerous) carrying the user's id and a fingerprint
of their current password hash and session token. Choosing a password changes both, so a used
link (or one issued before a password change or a logout) no longer matches: it is single-use
without storing anything.
"""

from __future__ import annotations

import hashlib
import hmac

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from models import User, db
from services.common.errors import DomainError, ValidationError
from services.common.numbers import is_row_id
from services.people.accounts import PasswordChange, prepare_password, store_password
from services.people.users import ensure_can_manage, password_errors

INVITATION_SALT = "termtable.invitation"
DEFAULT_INVITATION_MAX_AGE_DAYS = 7


class InvitationError(DomainError):
    """An invitation link that cannot be used; `status` is 404 (not a link of ours) or 410."""

    def __init__(self, message: str, *, status: int = 410):
        super().__init__(message)
        self.status = status


_NOT_VALID = "This invitation link is not valid. Check that it was copied whole."
_ALREADY_USED = (
    "This invitation link has already been used, or the password was changed since. "
    "Log in, or ask the school office for a new link."
)


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=INVITATION_SALT)


def _fingerprint(user: User) -> str:
    """Changes whenever the password or the session token does (so a used link dies)."""
    material = f"{user.id}|{user.password_hash or ''}|{user.session_token}".encode()
    return hashlib.sha256(material).hexdigest()[:32]


def make_invitation(actor: User, user: User, *, secret_key: str) -> str:
    """A signed token for `user` to choose their password (valid until used or expired)."""
    ensure_can_manage(actor, user)
    if not user.is_active_account:
        raise ValidationError(
            {"invitation": "This account is deactivated; reactivate it before inviting."}
        )
    return _serializer(secret_key).dumps({"user": user.id, "check": _fingerprint(user)})


def read_invitation(token: str, *, secret_key: str, max_age_days: int) -> User:
    """The user an invitation is for; raises InvitationError when it cannot be used."""
    try:
        payload = _serializer(secret_key).loads(token, max_age=max_age_days * 86400)
    except SignatureExpired as err:
        raise InvitationError(
            "This invitation link has expired. Ask the school office for a new one."
        ) from err
    except BadSignature as err:
        raise InvitationError(_NOT_VALID, status=404) from err
    if not isinstance(payload, dict):
        raise InvitationError(_NOT_VALID, status=404)
    user_id, check = payload.get("user"), payload.get("check")
    known = is_row_id(user_id)
    user = db.session.get(User, user_id) if known else None
    if user is None or not isinstance(check, str):
        raise InvitationError(_NOT_VALID, status=404)
    if not user.is_active_account:
        raise InvitationError("This account is deactivated. Ask the school office.")
    if not hmac.compare_digest(check, _fingerprint(user)):
        raise InvitationError(_ALREADY_USED)
    return user


def accept_invitation(
    token: str,
    password: str,
    confirm: str,
    *,
    secret_key: str,
    max_age_days: int,
    hash_method: str,
) -> User:
    """Set the invited user's password; the same link cannot be used again."""
    change = prepare_invitation_password(
        token,
        password,
        confirm,
        secret_key=secret_key,
        max_age_days=max_age_days,
        hash_method=hash_method,
    )
    return store_invitation_password(change)


def prepare_invitation_password(
    token: str,
    password: str,
    confirm: str,
    *,
    secret_key: str,
    max_age_days: int,
    hash_method: str,
) -> PasswordChange:
    """Check the link and the chosen password and hash it, writing nothing."""
    user = read_invitation(token, secret_key=secret_key, max_age_days=max_age_days)
    errors = password_errors(password, confirm)
    if errors:
        raise ValidationError(errors)
    return prepare_password(user, password, method=hash_method)


def store_invitation_password(change: PasswordChange) -> User:
    """Write the password chosen through a link. Requests with the same link at once all pass
    `read_invitation`; only one finds the password hash and session token still those the
    link was checked against and writes, and the others get "already used"."""
    user = store_password(change)
    if user is None:
        raise InvitationError(_ALREADY_USED)
    return user
