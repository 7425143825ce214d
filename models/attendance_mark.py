"""A student's attendance at one session: one row per (session, student) of its register."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db
from models.enums import AttendanceStatus, enum_column
from models.types import UTCDateTime, utcnow

REASON_MAX_LENGTH = 200


class AttendanceMark(db.Model):
    """One line of a session's register. A session's register is taken once it has marks;
    who first took it and when stay on each mark, the last change beside them, and every
    correction is an `AttendanceChange`."""

    __tablename__ = "attendance_mark"
    __table_args__ = (
        UniqueConstraint("occurrence_id", "student_id"),
        # A student's own attendance, and the report by student, start from the student.
        Index("ix_attendance_mark_student_occurrence", "student_id", "occurrence_id"),
        # Late marks carry their minutes (more than none), and only late marks do.
        CheckConstraint(
            "(status = 'late' AND late_minutes IS NOT NULL AND late_minutes > 0)"
            " OR (status <> 'late' AND late_minutes IS NULL)",
            name="late_has_minutes",
        ),
        # An excused absence says why.
        CheckConstraint(
            "status <> 'excused' OR length(trim(reason)) > 0", name="excused_has_reason"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    occurrence_id: Mapped[int] = mapped_column(ForeignKey("occurrence.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    status: Mapped[AttendanceStatus] = mapped_column(
        enum_column(AttendanceStatus, "attendance_status")
    )
    late_minutes: Mapped[int | None]
    reason: Mapped[str | None] = mapped_column(String(REASON_MAX_LENGTH))
    taken_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    occurrence = relationship("Occurrence")

    @property
    def attended(self) -> bool:
        return self.status in (AttendanceStatus.PRESENT, AttendanceStatus.LATE)

    def __repr__(self) -> str:
        return f"<AttendanceMark {self.occurrence_id}/{self.student_id} {self.status}>"
