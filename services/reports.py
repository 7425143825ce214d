"""Reports for coordinators: scheduled versus actual hours per mentor for a month (payroll)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from models import CourseGroup, Occurrence, OccurrenceStatus, User, db
from services.errors import ValidationError
from services.timeutil import local_day_bounds

_MONTH = re.compile(r"(\d{4})-(\d{2})")


def parse_month(text: str | None) -> date:
    """'2026-09' -> date(2026, 9, 1); anything else is a ValidationError."""
    match = _MONTH.fullmatch((text or "").strip())
    if match:
        year, month = int(match.group(1)), int(match.group(2))
        if 2000 <= year <= 2100 and 1 <= month <= 12:
            return date(year, month, 1)
    raise ValidationError({"month": "Choose a month as YYYY-MM, e.g. 2026-09."})


def next_month(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1)


def previous_month(first: date) -> date:
    return (first - timedelta(days=1)).replace(day=1)


@dataclass
class MentorHours:
    mentor_id: int
    name: str
    email: str
    scheduled_sessions: int = 0
    scheduled_seconds: float = 0
    completed_sessions: int = 0
    actual_seconds: float = 0

    @property
    def scheduled_hours(self) -> float:
        return round(self.scheduled_seconds / 3600, 2)

    @property
    def actual_hours(self) -> float:
        return round(self.actual_seconds / 3600, 2)

    @property
    def difference_hours(self) -> float:
        return round((self.actual_seconds - self.scheduled_seconds) / 3600, 2)


@dataclass
class HoursReport:
    month: date
    rows: list[MentorHours]

    @property
    def total(self) -> MentorHours:
        total = MentorHours(0, "Total", "")
        for row in self.rows:
            total.scheduled_sessions += row.scheduled_sessions
            total.scheduled_seconds += row.scheduled_seconds
            total.completed_sessions += row.completed_sessions
            total.actual_seconds += row.actual_seconds
        return total


def _seconds(start: datetime | None, end: datetime | None) -> float:
    return (end - start).total_seconds() if start is not None and end is not None else 0.0


def mentor_hours(month: date, tz: ZoneInfo) -> HoursReport:
    """Per mentor (the group's mentor), the sessions starting in the local month: scheduled =
    non-cancelled sessions' planned durations; actual = completed sessions' actual durations.

    One query (the month's sessions with their mentor), summed here: durations of UTC instants
    are exact across DST and portable between SQLite and PostgreSQL.
    """
    first = month.replace(day=1)
    start_utc, end_utc = local_day_bounds(first, next_month(first), tz)
    rows = db.session.execute(
        select(
            User.id,
            User.name,
            User.email,
            Occurrence.status,
            Occurrence.start_utc,
            Occurrence.end_utc,
            Occurrence.actual_start_utc,
            Occurrence.actual_end_utc,
        )
        .join(CourseGroup, CourseGroup.id == Occurrence.group_id)
        .join(User, User.id == CourseGroup.mentor_id)
        .where(
            Occurrence.start_utc >= start_utc,
            Occurrence.start_utc < end_utc,
            Occurrence.status != OccurrenceStatus.CANCELLED,
        )
    )
    by_mentor: dict[int, MentorHours] = {}
    for mentor_id, name, email, status, start, end, actual_start, actual_end in rows:
        entry = by_mentor.setdefault(mentor_id, MentorHours(mentor_id, name, email))
        entry.scheduled_sessions += 1
        entry.scheduled_seconds += _seconds(start, end)
        if status == OccurrenceStatus.COMPLETED:
            entry.completed_sessions += 1
            entry.actual_seconds += _seconds(actual_start, actual_end)
    ordered = sorted(by_mentor.values(), key=lambda r: (r.name.casefold(), r.mentor_id))
    return HoursReport(first, ordered)
