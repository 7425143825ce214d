from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models import db


class SessionClash(db.Model):
    """Two non-cancelled sessions in conflict, stored as the schedule changes, once in each
    direction: a page reads its sessions' clashes by key, whatever the size of the school.

    Written only by services/timetable/clashes.py (an ORM flush hook and generation's bulk
    writes); a from-scratch computation (`find_conflicts`) is its definition and its test.
    """

    __tablename__ = "session_clash"
    __table_args__ = (
        CheckConstraint("kind IN ('room', 'mentor', 'student')", name="known_kind"),
        # Refreshing a session deletes the rows naming it from either side.
        Index("ix_session_clash_other_id", "other_id"),
    )

    occurrence_id: Mapped[int] = mapped_column(
        ForeignKey("occurrence.id", ondelete="CASCADE"), primary_key=True
    )
    # What the two share: a room, the mentor, or a student (of two different groups).
    kind: Mapped[str] = mapped_column(String(7), primary_key=True)
    other_id: Mapped[int] = mapped_column(
        ForeignKey("occurrence.id", ondelete="CASCADE"), primary_key=True
    )

    def __repr__(self) -> str:
        return f"<SessionClash {self.occurrence_id} {self.kind} {self.other_id}>"
