"""Reports for coordinators: scheduled versus actual hours per mentor for a month (payroll).

Hours read as h:mm (`hours_minutes`): 31 hours 29 minutes is "31:29", never "31.48". The
report covers the month up to a date (by default today, so sessions still to come do not
show as hours missing), or the whole month on request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from models import CourseGroup, Occurrence, OccurrenceStatus, User, db
from models.occurrence import mentor_of
from services.common.errors import ValidationError
from services.common.timeutil import local_day_bounds

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


def hours_minutes(seconds: float, *, signed: bool = False) -> str:
    """'31:29' for 31 h 29 min (rounded to the minute); `signed`: '+1:05', '-0:30', '0:00'."""
    minutes = round(seconds / 60)
    hours, rest = divmod(abs(minutes), 60)
    sign = "-" if minutes < 0 else "+" if signed and minutes > 0 else ""
    return f"{sign}{hours}:{rest:02d}"


@dataclass
class HoursReport:
    month: date
    rows: list[MentorHours]
    # The last date counted (inclusive): the month's last day, or today for "up to today".
    last_day: date | None = None

    @property
    def whole_month(self) -> bool:
        return self.last_day is None or self.last_day >= next_month(self.month) - timedelta(days=1)

    @property
    def through(self) -> date:
        return self.last_day or next_month(self.month) - timedelta(days=1)

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


def report_last_day(month: date, today: date, *, whole_month: bool) -> date:
    """The last date an hours report of `month` counts: today while the month is running
    (unless `whole_month`), else the month's last day."""
    last = next_month(month.replace(day=1)) - timedelta(days=1)
    if whole_month or not month.replace(day=1) <= today <= last:
        return last
    return today


def mentor_hours(month: date, tz: ZoneInfo, *, last_day: date | None = None) -> HoursReport:
    """Per mentor (who teaches each session: the substitute covering it, else the group's
    mentor), the sessions starting in the local month (up to and
    including `last_day`, when given): scheduled = non-cancelled sessions' planned durations;
    actual = completed sessions' actual durations.

    One query (the month's sessions with their mentor), summed here: durations of UTC instants
    are exact across DST and portable between SQLite and PostgreSQL.
    """
    first = month.replace(day=1)
    window_end = next_month(first)
    if last_day is not None:
        window_end = min(window_end, max(first, last_day + timedelta(days=1)))
    start_utc, end_utc = local_day_bounds(first, window_end, tz)
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
        .join(User, User.id == mentor_of(Occurrence, CourseGroup))
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
    return HoursReport(first, ordered, window_end - timedelta(days=1))
