"""A mentor's availability for booking (issue 17): weekly working hours, date overrides, and
the booking rules (buffers, minimum notice, sessions a day, how far ahead, instant booking).

Times of day are wall-clock times in the rules' own time zone (`BookingRules.timezone`, the
organisation's by default), so "Mondays 09:00-12:00" stays 09:00 across a DST change.
services/availability.py turns them into instants.
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models import db
from models.types import UTCDateTime, utcnow


class BookingRules(db.Model):
    """One mentor's booking rules. A mentor without a row has never set them: the defaults
    below apply (and no working hours, so nothing can be booked yet)."""

    __tablename__ = "booking_rules"
    __table_args__ = (
        CheckConstraint("buffer_before_minutes BETWEEN 0 AND 240", name="buffer_before_range"),
        CheckConstraint("buffer_after_minutes BETWEEN 0 AND 240", name="buffer_after_range"),
        CheckConstraint("minimum_notice_minutes BETWEEN 0 AND 43200", name="notice_range"),
        CheckConstraint(
            "max_sessions_per_day IS NULL OR max_sessions_per_day BETWEEN 1 AND 24",
            name="max_per_day_range",
        ),
        CheckConstraint("booking_horizon_days BETWEEN 1 AND 366", name="horizon_range"),
        CheckConstraint("slot_step_minutes IN (5, 10, 15, 20, 30, 60)", name="slot_step_values"),
    )

    mentor_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    # The zone the working hours and overrides are written in (an IANA name).
    timezone: Mapped[str] = mapped_column(String(64))
    # Kept free before and after each session (travel, preparation).
    buffer_before_minutes: Mapped[int] = mapped_column(default=0)
    buffer_after_minutes: Mapped[int] = mapped_column(default=0)
    # A slot starts at least this long after the moment it is asked for.
    minimum_notice_minutes: Mapped[int] = mapped_column(default=24 * 60)
    # No slot on a day (in the rules' zone) that already has this many sessions; None: no limit.
    max_sessions_per_day: Mapped[int | None]
    # Slots are on dates at most this many calendar days after today (the rules' zone).
    booking_horizon_days: Mapped[int] = mapped_column(default=60)
    # Slots start on this grid within each range of working hours (minutes from its start).
    slot_step_minutes: Mapped[int] = mapped_column(default=30)
    # A request made only of free slots is to be approved at once (kept for the free-slot
    # booking of issue 17; requests do not act on it yet, and no page offers it).
    instant_booking: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class WorkingHours(db.Model):
    """One range of a mentor's weekly hours: `weekday` (0 Monday) from `start` to `end`, wall
    clock in the rules' zone. A day may have several ranges; they do not overlap."""

    __tablename__ = "working_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("end_time > start_time", name="ends_after_start"),
        Index("ix_working_hours_mentor_weekday", "mentor_id", "weekday"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mentor_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    weekday: Mapped[int]
    start_time: Mapped[time]
    end_time: Mapped[time]


class AvailabilityOverride(db.Model):
    """A date whose hours replace the weekly ones: one row per range of that day, or one row
    without times for a day off."""

    __tablename__ = "availability_override"
    __table_args__ = (
        CheckConstraint(
            "(start_time IS NULL AND end_time IS NULL) OR "
            "(start_time IS NOT NULL AND end_time IS NOT NULL AND end_time > start_time)",
            name="day_off_or_range",
        ),
        Index("ix_availability_override_mentor_day", "mentor_id", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mentor_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    day: Mapped[date]
    start_time: Mapped[time | None]
    end_time: Mapped[time | None]

    @property
    def day_off(self) -> bool:
        return self.start_time is None
