"""Personal API tokens: `Authorization: Bearer <token>`. The token is shown once, when made;
only its SHA-256 is stored, so a leaked database does not leak working tokens.

A token may expire (at the end of a date chosen when it is made, in the organisation's zone)
and may be read-only (GET, HEAD and OPTIONS only). Setting the account's password (by staff,
by an invitation, or the owner on their profile) and "Log out everywhere" revoke all of its
tokens (services/people/accounts.py).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select

from models import ApiToken, User, db
from services.common.errors import NotFoundError, ValidationError
from services.common.numbers import is_row_id
from services.common.timeutil import LATEST_DATE, today_in
from services.people.accounts import has_control_characters

TOKEN_PREFIX = "tt_"  # noqa: S105 (a marker, not a secret)
LABEL_MAX = 80
# Writing "last used" on every call would make every API read a write; once a minute is
# plenty to tell a token in use from a forgotten one.
LAST_USED_PRECISION = timedelta(minutes=1)
# What a read-only token may do: read, never change anything.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_REFUSED = "This API token is unknown, revoked, or belongs to a deactivated account."


class TokenRefused(Exception):
    """A bearer token that does not let its request in; `message` says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    user: User,
    label: str = "",
    *,
    expires_on: date | None = None,
    read_only: bool = False,
    tz: ZoneInfo | None = None,
    now: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new token for `user`: the row, and the token itself (never stored, shown once).

    With `expires_on`, the token works until the end of that day in `tz` (the organisation's
    zone) and is refused from the next midnight on."""
    label = (label or "").strip()
    if len(label) > LABEL_MAX:
        raise ValidationError(f"Keep the label under {LABEL_MAX} characters.", field="label")
    if has_control_characters(label):
        raise ValidationError("A label cannot contain control characters.", field="label")
    if not user.is_active_account:
        raise ValidationError("This account is deactivated.", field="email")
    expires_at = _end_of_day(expires_on, tz or ZoneInfo("UTC"), now) if expires_on else None
    if label and any(row.label == label for row in tokens_of(user)):
        # Also a double-clicked Create: the first token would work but never have been seen.
        raise ValidationError(
            f"You already have a token named “{label}”: revoke it first, or choose another name.",
            field="label",
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        label=label,
        token_hash=_digest(token),
        prefix=token[:10],
        expires_at=expires_at,
        read_only=bool(read_only),
    )
    db.session.add(row)
    db.session.flush()
    return row, token


def _end_of_day(day: date, tz: ZoneInfo, now: datetime | None) -> datetime:
    """The instant a token chosen to expire on `day` stops working: the next local midnight."""
    today = today_in(tz, now)
    if day < today:
        raise ValidationError(
            f"That date is in the past: choose today ({today:%d %b %Y}) or later, "
            "or leave it empty for a token that does not expire.",
            field="expires_on",
        )
    if day > LATEST_DATE:
        raise ValidationError(
            f"Choose a date up to {LATEST_DATE:%d %b %Y}, or leave it empty.", field="expires_on"
        )
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)


def tokens_of(user: User) -> list[ApiToken]:
    """The user's tokens that still work, newest first."""
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        ).unique()
    )


def revoke_token(user: User, token_id: int) -> ApiToken:
    """Revoke one of the user's own tokens (another's, or an unknown id: NotFoundError)."""
    row = db.session.get(ApiToken, token_id) if is_row_id(token_id) else None
    if row is None or row.user_id != user.id or row.revoked_at is not None:
        raise NotFoundError("No such token.")
    row.revoked_at = datetime.now(UTC)
    db.session.flush()
    return row


def working_token_count(user: User, now: datetime | None = None) -> int:
    """How many of the user's tokens still work (not revoked, not expired)."""
    now = now or datetime.now(UTC)
    return db.session.scalar(
        select(func.count(ApiToken.id)).where(
            ApiToken.user_id == user.id,
            ApiToken.revoked_at.is_(None),
            or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),
        )
    )


def is_expired(row: ApiToken, now: datetime | None = None) -> bool:
    return row.expires_at is not None and (now or datetime.now(UTC)) >= row.expires_at


def last_day(row: ApiToken, tz: ZoneInfo) -> date | None:
    """The last local date a token works on (the date chosen when it was made)."""
    if row.expires_at is None:
        return None
    return (row.expires_at - timedelta(seconds=1)).astimezone(tz).date()


def check_token(token: str, now: datetime | None = None, tz: ZoneInfo | None = None) -> ApiToken:
    """The working token row for a bearer token (its last use stamped); raises TokenRefused
    saying why it does not work (dates in `tz`, the organisation's zone)."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise TokenRefused(_REFUSED)
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is None or row.revoked_at is not None or not row.user.is_active_account:
        raise TokenRefused(_REFUSED)
    now = now or datetime.now(UTC)
    if is_expired(row, now):
        raise TokenRefused(
            f"This API token expired: it worked until the end of "
            f"{last_day(row, tz or ZoneInfo('UTC')):%Y-%m-%d}. Make a new one on your profile page."
        )
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_PRECISION:
        row.last_used_at = now
    return row


def user_for_token(token: str, now: datetime | None = None) -> User | None:
    """The active user a working (not revoked, not expired) token belongs to, or None."""
    try:
        return check_token(token, now).user
    except TokenRefused:
        return None
