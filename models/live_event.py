from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models import db
from models.types import UTCDateTime, utcnow


class LiveEvent(db.Model):
    """Something a page open elsewhere should show now (a notification arrived, a request or a
    session changed), for one user or an audience ("staff", "all"). Written in the transaction
    of the change it reports, read by `/events/stream` in id order; pruned after a while.

    The id is the stream's event id (the browser's Last-Event-ID): it only grows, so SQLite
    keeps it AUTOINCREMENT (a pruned table must never hand out an id a browser already saw),
    and on PostgreSQL ids are given in commit order (services/live/events.py)."""

    __tablename__ = "live_event"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (audience IS NULL)", name="one_recipient"),
        Index("ix_live_event_user_id", "user_id", "id"),
        Index("ix_live_event_created_at", "created_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    audience: Mapped[str | None] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<LiveEvent {self.id} {self.kind} to {self.user_id or self.audience}>"
