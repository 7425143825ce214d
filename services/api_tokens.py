"""Personal API tokens: `Authorization: Bearer <token>`. The token is shown once, when made;
only its SHA-256 is stored, so a leaked database does not leak working tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from models import MAX_ID, ApiToken, User, db
from services.accounts import has_control_characters
from services.errors import NotFoundError, ValidationError

TOKEN_PREFIX = "tt_"  # noqa: S105 (a marker, not a secret)
LABEL_MAX = 80
# Writing "last used" on every call would make every API read a write; once a minute is
# plenty to tell a token in use from a forgotten one.
LAST_USED_PRECISION = timedelta(minutes=1)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: User, label: str = "") -> tuple[ApiToken, str]:
    """A new token for `user`: the row, and the token itself (never stored, shown once)."""
    label = (label or "").strip()
    if len(label) > LABEL_MAX:
        raise ValidationError(f"Keep the label under {LABEL_MAX} characters.", field="label")
    if has_control_characters(label):
        raise ValidationError("A label cannot contain control characters.", field="label")
    if not user.is_active_account:
        raise ValidationError("This account is deactivated.", field="email")
    if label and any(row.label == label for row in tokens_of(user)):
        # Also a double-clicked Create: the first token would work but never have been seen.
        raise ValidationError(
            f"You already have a token named “{label}”: revoke it first, or choose another name.",
            field="label",
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, label=label, token_hash=_digest(token), prefix=token[:10])
    db.session.add(row)
    db.session.flush()
    return row, token


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
    row = db.session.get(ApiToken, token_id) if 0 < token_id <= MAX_ID else None
    if row is None or row.user_id != user.id or row.revoked_at is not None:
        raise NotFoundError("No such token.")
    row.revoked_at = datetime.now(UTC)
    db.session.flush()
    return row


def user_for_token(token: str, now: datetime | None = None) -> User | None:
    """The active user a (not revoked) token belongs to, or None."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is None or row.revoked_at is not None or not row.user.is_active_account:
        return None
    now = now or datetime.now(UTC)
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_PRECISION:
        row.last_used_at = now
    return row.user
