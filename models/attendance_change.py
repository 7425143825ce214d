"""A correction of a register: one student's mark, before and after, by whom and when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db
from models.attendance_mark import REASON_MAX_LENGTH
from models.enums import AttendanceStatus, enum_column
from models.types import UTCDateTime, utcnow


class AttendanceChange(db.Model):
    """A mark changed after the register was first taken (the first taking is on the marks
    themselves): kept, never edited, so a register's history can always be read back."""

    __tablename__ = "attendance_change"
    __table_args__ = (
        Index("ix_attendance_change_occurrence_changed", "occurrence_id", "changed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    occurrence_id: Mapped[int] = mapped_column(ForeignKey("occurrence.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    changed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    old_status: Mapped[AttendanceStatus] = mapped_column(
        enum_column(AttendanceStatus, "attendance_old_status")
    )
    old_late_minutes: Mapped[int | None]
    old_reason: Mapped[str | None] = mapped_column(String(REASON_MAX_LENGTH))
    new_status: Mapped[AttendanceStatus] = mapped_column(
        enum_column(AttendanceStatus, "attendance_new_status")
    )
    new_late_minutes: Mapped[int | None]
    new_reason: Mapped[str | None] = mapped_column(String(REASON_MAX_LENGTH))

    student = relationship("User", foreign_keys=[student_id], lazy="joined")
    changed_by = relationship("User", foreign_keys=[changed_by_id], lazy="joined")
