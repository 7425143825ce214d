from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db
from models.enums import OccurrenceMode, OccurrenceStatus, enum_column
from models.types import UTCDateTime, utcnow


class Occurrence(db.Model):
    """One dated session: generated from a series (keyed by series + original date) or one-time."""

    __tablename__ = "occurrence"
    __table_args__ = (
        UniqueConstraint("series_id", "original_date"),
        CheckConstraint("end_utc > start_utc", name="end_after_start"),
        CheckConstraint(
            "(series_id IS NULL AND original_date IS NULL)"
            " OR (series_id IS NOT NULL AND original_date IS NOT NULL)",
            name="series_has_original_date",
        ),
        # Covering for the overlap queries (conflicts, the grid, generation): a window's
        # sessions are filtered by end, status, room and group without reading the table.
        # Ordered by (start_utc, id), the order of the API's session lists, so a page after a
        # cursor `(start_utc, id) > (x, y)` is one range of this index, read in order.
        Index("ix_occurrence_span", "start_utc", "id", "end_utc", "status", "room_id", "group_id"),
        Index("ix_occurrence_room_start", "room_id", "start_utc"),
        # A group's sessions in a range: a student's or mentor's timetable starts from their
        # groups (services/permissions.py `attends`) and reads only those; covering for the
        # overlap checks by group (`sessions_in_conflict`), which then read no table row.
        Index("ix_occurrence_group_start", "group_id", "start_utc", "end_utc", "status"),
        CheckConstraint(
            "actual_end_utc IS NULL OR actual_start_utc IS NULL"
            " OR actual_end_utc > actual_start_utc",
            name="actual_end_after_start",
        ),
        # Every online session has its video room.
        CheckConstraint(
            "mode <> 'online' OR video_room_id IS NOT NULL", name="online_has_video_room"
        ),
        # Generation loads a window by series date: without this it scans every session.
        Index("ix_occurrence_original_date", "original_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("course_group.id"))
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id"))
    # The series date this session stems from: its identity, even when moved to another day.
    original_date: Mapped[date | None]
    start_utc: Mapped[datetime] = mapped_column(UTCDateTime)
    end_utc: Mapped[datetime] = mapped_column(UTCDateTime)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("room.id"))
    mode: Mapped[OccurrenceMode] = mapped_column(
        enum_column(OccurrenceMode, "occurrence_mode"), default=OccurrenceMode.IN_PERSON
    )
    status: Mapped[OccurrenceStatus] = mapped_column(
        enum_column(OccurrenceStatus, "occurrence_status"), default=OccurrenceStatus.SCHEDULED
    )
    title: Mapped[str | None] = mapped_column(String(200))
    # The approved request that created this session, if any (its page lists them).
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("session_request.id", ondelete="SET NULL"), index=True
    )
    # "room-" and 8 characters from a-z0-9 (services/timetable/video_rooms.py).
    video_room_id: Mapped[str | None] = mapped_column(String(13), unique=True)
    # Set when someone edits this one session directly: regeneration then never touches it.
    edited_by_hand: Mapped[bool] = mapped_column(default=False)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    # The completion record: what actually happened (times may differ from the plan).
    actual_start_utc: Mapped[datetime | None] = mapped_column(UTCDateTime)
    actual_end_utc: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Human-readable and stable, e.g. MATH101-20261222-7QX; unique.
    completion_code: Mapped[str | None] = mapped_column(String(40), unique=True)
    completion_notes: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # The closure that cancelled this session (models/school_year.py): it comes back
    # when the closure goes, unless something else changed it meanwhile.
    closure_id: Mapped[int | None] = mapped_column(
        ForeignKey("closure.id", ondelete="SET NULL"), index=True
    )
    # A substitute teaching this session instead of its group's mentor (cover for an absent
    # mentor; a series session's comes from its date's exception, so it survives
    # regeneration). None: the group's mentor teaches.
    cover_mentor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    # Bumped on every change that a calendar client must see.
    sequence: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    group = relationship("CourseGroup", lazy="joined")
    series = relationship("Series")
    room = relationship("Room", lazy="joined")
    cover_mentor = relationship("User", foreign_keys=[cover_mentor_id])

    @property
    def mentor_id(self) -> int:
        """Who teaches it: the substitute covering it, else its group's mentor."""
        return self.cover_mentor_id or self.group.mentor_id

    @property
    def mentor(self):
        return self.cover_mentor if self.cover_mentor_id else self.group.mentor

    @property
    def is_cancelled(self) -> bool:
        return self.status == OccurrenceStatus.CANCELLED

    @property
    def is_completed(self) -> bool:
        return self.status == OccurrenceStatus.COMPLETED

    @property
    def is_one_time(self) -> bool:
        return self.series_id is None

    def __repr__(self) -> str:
        return f"<Occurrence {self.id} {self.start_utc:%Y-%m-%d %H:%M}Z {self.status}>"


def mentor_of(occurrence, group):
    """SQL: who teaches a session, from its occurrence and group columns (tables or aliases):
    the substitute covering it, else the group's mentor."""
    return func.coalesce(occurrence.cover_mentor_id, group.mentor_id)
