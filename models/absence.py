from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db
from models.enums import AbsenceStatus, enum_column
from models.types import UTCDateTime, utcnow


class MentorAbsence(db.Model):
    """A mentor away from `start_utc` to `end_utc` (whole local days, or part of one): the
    sessions they teach then need cover. Recorded by staff (confirmed at once) or reported
    by the mentor (pending until staff confirm it)."""

    __tablename__ = "mentor_absence"
    __table_args__ = (
        CheckConstraint("end_utc > start_utc", name="ends_after_start"),
        # The cover board and the substitutes' check look up the absences overlapping a span.
        Index("ix_mentor_absence_span", "start_utc", "end_utc"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mentor_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    start_utc: Mapped[datetime] = mapped_column(UTCDateTime)
    end_utc: Mapped[datetime] = mapped_column(UTCDateTime)
    # Whole days (from the first day's midnight to the day after the last), or part of one.
    all_day: Mapped[bool] = mapped_column(default=True)
    reason: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[AbsenceStatus] = mapped_column(
        enum_column(AbsenceStatus, "absence_status"), default=AbsenceStatus.CONFIRMED
    )
    reported_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    mentor = relationship("User", foreign_keys=[mentor_id], lazy="joined")

    @property
    def is_pending(self) -> bool:
        return self.status == AbsenceStatus.PENDING

    def __repr__(self) -> str:
        return f"<MentorAbsence {self.mentor_id} {self.start_utc}..{self.end_utc} {self.status}>"
