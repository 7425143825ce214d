from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import CheckConstraint, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db
from models.enums import OccurrenceMode, enum_column
from models.types import UTCDateTime, utcnow

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def weekdays_to_mask(weekdays) -> int:
    """Weekday numbers (Monday = 0) to a bit mask (bit 0 = Monday)."""
    mask = 0
    for day in weekdays:
        mask |= 1 << day
    return mask


def mask_to_weekdays(mask: int) -> list[int]:
    return [day for day in range(7) if mask & (1 << day)]


class Series(db.Model):
    """A weekly recurrence of a course group; times are local wall-clock times."""

    __tablename__ = "series"
    __table_args__ = (
        CheckConstraint("weekday_mask BETWEEN 1 AND 127", name="weekday_mask_range"),
        CheckConstraint("every_weeks >= 1", name="every_weeks_positive"),
        # An end earlier on the clock is on the next day (23:30-00:30); equal times are none.
        CheckConstraint("end_time <> start_time", name="times_differ"),
        CheckConstraint("last_date IS NULL OR last_date >= first_date", name="last_after_first"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("course_group.id"), index=True)
    weekday_mask: Mapped[int]
    every_weeks: Mapped[int] = mapped_column(default=1)
    start_time: Mapped[time]
    end_time: Mapped[time]
    room_id: Mapped[int | None] = mapped_column(ForeignKey("room.id"))
    mode: Mapped[OccurrenceMode] = mapped_column(
        enum_column(OccurrenceMode, "occurrence_mode"), default=OccurrenceMode.IN_PERSON
    )
    first_date: Mapped[date]
    last_date: Mapped[date | None]
    # A series "for a term" runs over the term's days: its dates follow the term's when the
    # term changes (a removed term leaves the series with its last dates).
    term_id: Mapped[int | None] = mapped_column(
        ForeignKey("term.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    group = relationship("CourseGroup", back_populates="series")
    room = relationship("Room", lazy="joined")
    term = relationship("Term")

    @property
    def weekdays(self) -> list[int]:
        return mask_to_weekdays(self.weekday_mask)

    @property
    def weekday_label(self) -> str:
        return ", ".join(WEEKDAY_NAMES[d] for d in self.weekdays)

    def __repr__(self) -> str:
        return f"<Series {self.id} group={self.group_id} {self.weekday_label} {self.start_time}>"
