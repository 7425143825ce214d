"""Secrets that let programs in without a browser session: personal API tokens (kept only
as a hash, shown once) and calendar feed tokens (a secret URL the user can copy again)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db
from models.types import UTCDateTime, utcnow


class ApiToken(db.Model):
    """A personal API token: `Authorization: Bearer <token>`; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(80), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters, so the owner can tell their tokens apart.
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Refused from this instant on (the end of the day chosen when it was made); NULL: never.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A read-only token may only GET and HEAD (a dashboard, a report), never change anything.
    read_only: Mapped[bool] = mapped_column(default=False, server_default=false())

    user = relationship("User", lazy="joined")


class CalendarFeed(db.Model):
    """A secret iCalendar feed URL (`/calendar/<token>.ics`): a user's own sessions, or, for
    staff, one room's or one group's. Regenerating revokes the old URL."""

    __tablename__ = "calendar_feed"
    __table_args__ = (
        CheckConstraint(
            "(scope = 'own' AND room_id IS NULL AND group_id IS NULL)"
            " OR (scope = 'room' AND room_id IS NOT NULL AND group_id IS NULL)"
            " OR (scope = 'group' AND group_id IS NOT NULL AND room_id IS NULL)",
            name="scope_matches_target",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    scope: Mapped[str] = mapped_column(String(10), default="own")
    room_id: Mapped[int | None] = mapped_column(ForeignKey("room.id", ondelete="CASCADE"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("course_group.id", ondelete="CASCADE"))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    owner = relationship("User")
    room = relationship("Room")
    group = relationship("CourseGroup")
