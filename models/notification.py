from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models import db
from models.enums import EmailStatus, enum_column
from models.types import UTCDateTime, utcnow


class Notification(db.Model):
    """A message for one user, written in the transaction of the change it reports (an
    outbox: a rolled-back change notifies nobody); mailed after commit when mail is set up."""

    __tablename__ = "notification"
    __table_args__ = (
        Index("ix_notification_user_read", "user_id", "read_at"),
        Index("ix_notification_email_status", "email_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    # Where the notification leads in the app (a path), if anywhere.
    link: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    email_status: Mapped[EmailStatus] = mapped_column(
        enum_column(EmailStatus, "email_status"), default=EmailStatus.NONE
    )
    email_attempts: Mapped[int] = mapped_column(default=0)
    # While `sending`: until when the worker that claimed it holds it (services/notifications/
    # mail.py).
    email_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # While `failed` with attempts left: not tried again before then (backing off).
    email_retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<Notification {self.id} {self.kind} to {self.user_id}>"
