"""Reminders sent before sessions (services/reminders.py): one row per session, person, time
before and session start, so that each is sent once, and again only if the session moves."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models import db
from models.types import UTCDateTime, utcnow


class SessionReminder(db.Model):
    __tablename__ = "session_reminder"
    __table_args__ = (
        # Two workers sending the same reminder at once: one row wins, one notification.
        UniqueConstraint(
            "occurrence_id",
            "user_id",
            "minutes_before",
            "session_start_utc",
            name="uq_session_reminder_once",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    occurrence_id: Mapped[int] = mapped_column(ForeignKey("occurrence.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    minutes_before: Mapped[int]
    # The session's start when reminded: a session moved later is reminded again.
    session_start_utc: Mapped[datetime] = mapped_column(UTCDateTime)
    # False when a later reminder was due as well (a worker was down): only that one is sent.
    sent: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
