from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db
from models.enums import OccurrenceMode, RequestStatus, ScheduleKind, enum_column
from models.types import UTCDateTime, utcnow


class SessionRequest(db.Model):
    """A student's request for sessions with a mentor: one session, dates, or a weekly schedule."""

    __tablename__ = "session_request"
    __table_args__ = (
        # A rejection (or an automatic decline) always says why, and a reason is never blank.
        CheckConstraint(
            "status NOT IN ('rejected', 'declined') OR rejection_reason IS NOT NULL",
            name="rejected_has_reason",
        ),
        CheckConstraint(
            "rejection_reason IS NULL OR length(trim(rejection_reason)) > 0",
            name="reason_not_blank",
        ),
        # An end earlier on the clock is on the next day (23:30-00:30); equal times are none.
        CheckConstraint("end_time <> start_time", name="times_differ"),
        CheckConstraint("weeks IS NULL OR (weeks >= 1 AND weeks <= 26)", name="weeks_range"),
        CheckConstraint(
            "weekday_mask IS NULL OR (weekday_mask >= 1 AND weekday_mask <= 127)",
            name="weekday_mask_range",
        ),
        Index("ix_session_request_mentor_status", "mentor_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    mentor_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    mode: Mapped[OccurrenceMode] = mapped_column(
        enum_column(OccurrenceMode, "request_mode"), default=OccurrenceMode.ONLINE
    )
    schedule_kind: Mapped[ScheduleKind] = mapped_column(enum_column(ScheduleKind, "schedule_kind"))
    # Local wall-clock times of every requested session.
    start_time: Mapped[time]
    end_time: Mapped[time]
    # Weekly requests only: weekdays (bit 0 = Monday), first date and number of weeks.
    weekday_mask: Mapped[int | None]
    first_date: Mapped[date | None]
    weeks: Mapped[int | None]
    status: Mapped[RequestStatus] = mapped_column(
        enum_column(RequestStatus, "request_status"), default=RequestStatus.PENDING
    )
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    # The first requested start: a pending request expires when it passes.
    first_start_utc: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # What approval made: the tutoring group, and the series of a weekly request.
    group_id: Mapped[int | None] = mapped_column(ForeignKey("course_group.id"))
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id"))

    student = relationship("User", foreign_keys=[student_id], lazy="joined")
    mentor = relationship("User", foreign_keys=[mentor_id], lazy="joined")
    subject = relationship("Subject", lazy="joined")
    slots = relationship(
        "RequestedSlot",
        back_populates="request",
        order_by="RequestedSlot.start_utc",
        cascade="all, delete-orphan",
    )

    def __repr__(self) -> str:
        return f"<SessionRequest {self.id} {self.status}>"


class RequestedSlot(db.Model):
    """One requested session of a request (its schedule expanded), as UTC instants."""

    __tablename__ = "requested_slot"
    __table_args__ = (
        UniqueConstraint("request_id", "start_utc"),
        CheckConstraint("end_utc > start_utc", name="end_after_start"),
        CheckConstraint(
            "declined_reason IS NULL OR length(trim(declined_reason)) > 0",
            name="declined_reason_not_blank",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("session_request.id", ondelete="CASCADE"), index=True
    )
    local_date: Mapped[date]
    start_utc: Mapped[datetime] = mapped_column(UTCDateTime)
    end_utc: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set on the dates left out when a request was approved in part: why (the student reads it).
    declined_reason: Mapped[str | None] = mapped_column(Text)

    request = relationship("SessionRequest", back_populates="slots")
