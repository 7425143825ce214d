"""What happened in and to a session: typed notes, attached files, and its history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db
from models.enums import NoteKind, enum_column
from models.types import UTCDateTime, utcnow


class SessionNote(db.Model):
    """A timestamped note on a session, by its author, of one kind (shown as a badge)."""

    __tablename__ = "session_note"
    __table_args__ = (
        Index("ix_session_note_occurrence_created", "occurrence_id", "created_at"),
        CheckConstraint("length(trim(body)) > 0", name="body_not_blank"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    occurrence_id: Mapped[int] = mapped_column(ForeignKey("occurrence.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[NoteKind] = mapped_column(enum_column(NoteKind, "note_kind"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    author = relationship("User", lazy="joined")


class Attachment(db.Model):
    """A file attached to a session. Stored under instance/uploads/ by a random name; the
    user's file name is only ever data, never part of a path."""

    __tablename__ = "attachment"
    __table_args__ = (CheckConstraint("size_bytes >= 0", name="size_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occurrence_id: Mapped[int] = mapped_column(
        ForeignKey("occurrence.id", ondelete="CASCADE"), index=True
    )
    uploader_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    original_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    uploader = relationship("User", lazy="joined")


class SessionEvent(db.Model):
    """One entry of a session's history: who did what, and when (completions and their
    corrections, cancellations, moves, notes and files). A session's creation is its own
    `created_at`, not an event."""

    __tablename__ = "session_event"
    __table_args__ = (Index("ix_session_event_occurrence_created", "occurrence_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occurrence_id: Mapped[int] = mapped_column(ForeignKey("occurrence.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    summary: Mapped[str] = mapped_column(Text, default="")

    actor = relationship("User", lazy="joined")
