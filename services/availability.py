"""When a mentor can be booked: their weekly hours and date overrides (wall clock in their
rules' zone), less closures, absences, their sessions with the buffers around them, the days
already full, what is too soon and what is too far ahead (issue 17).

`MentorCalendar.build(...)` reads everything for a span in a few queries; then
`free_slots(duration)` lists the starts a student may pick, and `why_not(start, end)` says why
one time cannot be booked (None when it can): the request form offers the first, creating and
approving a request checks the second, so the two never disagree.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, select

from models import (
    AbsenceStatus,
    AvailabilityOverride,
    BookingRules,
    Closure,
    CourseGroup,
    MentorAbsence,
    Occurrence,
    OccurrenceStatus,
    WorkingHours,
    db,
)
from models.occurrence import mentor_of
from services.common.errors import ValidationError
from services.common.timeutil import resolve_local, zone
from services.common.wording import duration_words, plural
from services.timetable.conflicts import MAX_SESSION_LENGTH, overlapping


@dataclass(frozen=True)
class Rules:
    """A mentor's booking rules (BookingRules, or the defaults for a mentor without a row)."""

    timezone: ZoneInfo
    buffer_before: timedelta = timedelta(0)
    buffer_after: timedelta = timedelta(0)
    minimum_notice: timedelta = timedelta(hours=24)
    max_sessions_per_day: int | None = None
    booking_horizon: timedelta = timedelta(days=60)
    slot_step: timedelta = timedelta(minutes=30)
    instant_booking: bool = False


def has_availability(mentor_id: int) -> bool:
    """Whether the mentor has set when they can be booked. Until then (every mentor before
    issue 17) they may be asked for any time, as before, and only their sessions count."""
    return (
        db.session.get(BookingRules, mentor_id) is not None
        or db.session.scalar(
            select(WorkingHours.id).where(WorkingHours.mentor_id == mentor_id).limit(1)
        )
        is not None
    )


def rules_for(mentor_id: int, org_tz: ZoneInfo) -> Rules:
    row = db.session.get(BookingRules, mentor_id)
    if row is None:
        return Rules(timezone=org_tz)
    return Rules(
        timezone=zone(row.timezone),
        buffer_before=timedelta(minutes=row.buffer_before_minutes),
        buffer_after=timedelta(minutes=row.buffer_after_minutes),
        minimum_notice=timedelta(minutes=row.minimum_notice_minutes),
        max_sessions_per_day=row.max_sessions_per_day,
        booking_horizon=timedelta(days=row.booking_horizon_days),
        slot_step=timedelta(minutes=row.slot_step_minutes),
        instant_booking=row.instant_booking,
    )


@dataclass(frozen=True)
class Slot:
    start: datetime  # UTC
    end: datetime


@dataclass(frozen=True)
class Blocked:
    """A span nobody may book, and why (said to the student)."""

    start: datetime
    end: datetime
    reason: str


@dataclass
class MentorCalendar:
    """One mentor's availability between `start` and `end` (UTC), as seen at `now`."""

    mentor_id: int
    rules: Rules
    start: datetime
    end: datetime
    now: datetime
    # Working hours as UTC spans, in order, not overlapping.
    windows: list[tuple[datetime, datetime]] = field(default_factory=list)
    # Closures and absences.
    blocked: list[Blocked] = field(default_factory=list)
    # The mentor's sessions (start, end), in start order.
    busy: list[tuple[datetime, datetime]] = field(default_factory=list)
    # Local days (rules' zone) already holding max_sessions_per_day sessions.
    full_days: set[date] = field(default_factory=set)

    @classmethod
    def build(
        cls, mentor_id: int, start: datetime, end: datetime, *, now: datetime, org_tz: ZoneInfo
    ) -> MentorCalendar:
        rules = rules_for(mentor_id, org_tz)
        tz = rules.timezone
        # Local days that can touch the span (a day's hours in any zone lie within it +-1).
        first_day = start.astimezone(tz).date() - timedelta(days=1)
        last_day = end.astimezone(tz).date() + timedelta(days=1)
        calendar = cls(mentor_id, rules, start, end, now)
        calendar.windows = _working_windows(mentor_id, first_day, last_day, tz)
        calendar.blocked = _closures(first_day, last_day, org_tz) + _absences(mentor_id, start, end)
        # Sessions a buffer away from the span still push slots inside it.
        margin = max(rules.buffer_before, rules.buffer_after) + MAX_SESSION_LENGTH
        sessions = _sessions(mentor_id, start - margin, end + margin)
        calendar.busy = sessions
        if rules.max_sessions_per_day is not None:
            counts: dict[date, int] = {}
            for session_start, _ in sessions:
                day = session_start.astimezone(tz).date()
                counts[day] = counts.get(day, 0) + 1
            calendar.full_days = {d for d, n in counts.items() if n >= rules.max_sessions_per_day}
        return calendar

    # --- Asking ---------------------------------------------------------------------------

    def free_slots(self, duration: timedelta) -> list[Slot]:
        """Every start on the slot grid of the working hours where `duration` can be booked,
        within the calendar's span."""
        step = self.rules.slot_step
        slots = []
        for window_start, window_end in self.windows:
            candidate = window_start
            while candidate + duration <= window_end:
                if (
                    self.start <= candidate
                    and candidate + duration <= self.end
                    and self._refusal(candidate, candidate + duration, in_hours=True) is None
                ):
                    slots.append(Slot(candidate, candidate + duration))
                candidate += step
        return slots

    def why_not(self, start: datetime, end: datetime, *, asking: bool = True) -> str | None:
        """Why [start, end) cannot be booked with this mentor, or None if it can. `asking`:
        the time is being asked for now (minimum notice and how far ahead count); an approval
        re-checks a request asked for earlier without them."""
        return self._refusal(start, end, in_hours=False, asking=asking)

    # --- The rules, in the order a student would want to hear them -------------------------

    def _refusal(
        self, start: datetime, end: datetime, *, in_hours: bool, asking: bool = True
    ) -> str | None:
        rules = self.rules
        tz = rules.timezone
        if asking and start < self.now + rules.minimum_notice:
            notice = int(rules.minimum_notice.total_seconds() // 60)
            return f"it is less than {duration_words(notice)} away"
        # Ahead in calendar days (the mentor's): 7 days from a Monday is all of next Monday.
        if asking and (
            start.astimezone(tz).date() > self.now.astimezone(tz).date() + rules.booking_horizon
        ):
            return f"it is more than {plural(rules.booking_horizon.days, 'day')} ahead"
        if not in_hours and not self._within_hours(start, end):
            return "it is outside the mentor's working hours"
        for blocked in self.blocked:
            if blocked.start < end and blocked.end > start:
                return blocked.reason
        if start.astimezone(tz).date() in self.full_days:
            count = rules.max_sessions_per_day
            return f"the mentor already has {plural(count, 'session')} that day"
        if self._clashes(start - rules.buffer_before, end + rules.buffer_after):
            if self._clashes(start, end):
                return "the mentor has another session then"
            return "it is too close to another of the mentor's sessions"
        return None

    def _within_hours(self, start: datetime, end: datetime) -> bool:
        return any(w_start <= start and end <= w_end for w_start, w_end in self.windows)

    def _clashes(self, start: datetime, end: datetime) -> bool:
        # Only sessions starting less than the longest session before `start` can reach it.
        first = bisect_left(self.busy, (start - MAX_SESSION_LENGTH,))
        for busy_start, busy_end in self.busy[first:]:
            if busy_start >= end:
                return False
            if busy_end > start:
                return True
        return False


# --- Reading -----------------------------------------------------------------------------------


def _working_windows(
    mentor_id: int, first_day: date, last_day: date, tz: ZoneInfo
) -> list[tuple[datetime, datetime]]:
    """The mentor's hours on each local day from `first_day` to `last_day` as UTC spans: the
    weekly ranges of its weekday, or that date's overrides instead."""
    weekly = weekly_hours(mentor_id)
    overrides: dict[date, list[tuple[time, time]]] = {}
    for row in db.session.scalars(
        select(AvailabilityOverride).where(
            AvailabilityOverride.mentor_id == mentor_id,
            AvailabilityOverride.day >= first_day,
            AvailabilityOverride.day <= last_day,
        )
    ):
        ranges = overrides.setdefault(row.day, [])
        if not row.day_off:
            ranges.append((row.start_time, row.end_time))
    windows = []
    day = first_day
    while day <= last_day:
        ranges = overrides[day] if day in overrides else weekly[day.weekday()]
        for range_start, range_end in sorted(ranges):
            # A wall-clock time in a DST gap lands after it; one in a fold takes its first
            # instant (services/common/timeutil.py): 09:00-12:00 stays 09:00-12:00.
            start = resolve_local(day, range_start, tz).utc
            end = resolve_local(day, range_end, tz).utc
            if end > start:
                windows.append((start, end))
        day += timedelta(days=1)
    return sorted(windows)


def _closures(first_day: date, last_day: date, org_tz: ZoneInfo) -> list[Blocked]:
    """Whole-school closures (days in the organisation's zone); a make-up day teaches."""
    blocked = []
    for closure in db.session.scalars(
        select(Closure).where(
            Closure.whole_school.is_(True),
            Closure.runs_as.is_(None),
            Closure.first_day <= last_day,
            Closure.last_day >= first_day,
        )
    ):
        start = resolve_local(closure.first_day, time(0), org_tz).utc
        end = resolve_local(closure.last_day + timedelta(days=1), time(0), org_tz).utc
        blocked.append(Blocked(start, end, f"the school is closed ({closure.name})"))
    return blocked


def _absences(mentor_id: int, start: datetime, end: datetime) -> list[Blocked]:
    return [
        Blocked(absence.start_utc, absence.end_utc, "the mentor is away")
        for absence in db.session.scalars(
            select(MentorAbsence).where(
                MentorAbsence.mentor_id == mentor_id,
                MentorAbsence.status != AbsenceStatus.DECLINED,
                MentorAbsence.start_utc < end,
                MentorAbsence.end_utc > start,
            )
        )
    ]


def _sessions(mentor_id: int, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The sessions the mentor teaches (their groups' and those they cover), not cancelled."""
    occurrence, group = Occurrence.__table__.c, CourseGroup.__table__.c
    rows = db.session.execute(
        select(Occurrence.start_utc, Occurrence.end_utc)
        .join(CourseGroup, CourseGroup.id == Occurrence.group_id)
        .where(
            mentor_of(occurrence, group) == mentor_id,
            Occurrence.status != OccurrenceStatus.CANCELLED,
            overlapping(Occurrence.start_utc, Occurrence.end_utc, start, end),
        )
        .order_by(Occurrence.start_utc)
    )
    return [(row.start_utc.astimezone(UTC), row.end_utc.astimezone(UTC)) for row in rows]


def unavailable_times(
    mentor_id: int,
    spans: list[tuple[datetime, datetime]],
    *,
    now: datetime,
    org_tz: ZoneInfo,
    asking: bool = True,
) -> list[tuple[int, str]]:
    """The spans (UTC) that cannot be booked with the mentor, as (index in `spans`, why), in
    one read of their calendar; none for a mentor who has not set their availability."""
    if not spans or not has_availability(mentor_id):
        return []
    calendar = MentorCalendar.build(
        mentor_id, min(s for s, _ in spans), max(e for _, e in spans), now=now, org_tz=org_tz
    )
    refused = []
    for index, (start, end) in enumerate(spans):
        reason = calendar.why_not(start, end, asking=asking)
        if reason is not None:
            refused.append((index, reason))
    return refused


# --- Setting it ----------------------------------------------------------------------------------

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def format_ranges(ranges: list[tuple[time, time]]) -> str:
    """`09:00-12:00, 14:00-17:00`, as a person types them."""
    return ", ".join(f"{start:%H:%M}-{end:%H:%M}" for start, end in sorted(ranges))


def parse_ranges(text: str) -> list[tuple[time, time]]:
    """Ranges of a day typed as `09:00-12:00, 14:00-17:00` (a dash or an en dash, commas or
    new lines between them; `9-12` and `9:30-12` read too). Raises ValueError saying what is
    wrong with the first range that cannot be read, ends before it starts, or overlaps."""
    ranges = []
    for piece in text.replace("\n", ",").replace(";", ",").split(","):
        piece = piece.strip()
        if not piece:
            continue
        parts = [p.strip() for p in piece.replace("\u2013", "-").split("-")]
        if len(parts) != 2:
            raise ValueError(f"“{piece}” is not a range: write it as 09:00-12:00.")
        start, end = (_clock(part, piece) for part in parts)
        if end <= start:
            raise ValueError(f"{piece}: the end must be after the start (within the day).")
        ranges.append((start, end))
    ranges.sort()
    for (_, first_end), (second_start, _) in pairwise(ranges):
        if second_start < first_end:
            raise ValueError(f"{format_ranges(ranges)}: ranges overlap; make them one.")
    return ranges


def _clock(text: str, piece: str) -> time:
    hours, _, minutes = text.partition(":")
    if not (hours.isdigit() and (minutes.isdigit() or minutes == "")) or len(minutes) not in (0, 2):
        raise ValueError(f"“{piece}”: write times as 09:00.")
    hour, minute = int(hours), int(minutes or 0)
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ValueError(f"“{piece}”: {text} is not a time of day.")
    return time(hour, minute)


def weekly_hours(mentor_id: int) -> dict[int, list[tuple[time, time]]]:
    hours: dict[int, list[tuple[time, time]]] = {day: [] for day in range(7)}
    for row in db.session.scalars(select(WorkingHours).where(WorkingHours.mentor_id == mentor_id)):
        hours[row.weekday].append((row.start_time, row.end_time))
    return {day: sorted(ranges) for day, ranges in hours.items()}


@dataclass
class RulesInput:
    """The booking rules as a form gives them (checked by `save_availability`)."""

    timezone: str = ""
    buffer_before_minutes: int | None = 0
    buffer_after_minutes: int | None = 0
    minimum_notice_hours: int | None = 24
    max_sessions_per_day: int | None = None
    booking_horizon_days: int | None = 60
    slot_step_minutes: int | None = 30


SLOT_STEPS = (5, 10, 15, 20, 30, 60)


def save_availability(mentor_id: int, hours_text: dict[int, str], rules: RulesInput) -> None:
    """Replace the mentor's weekly hours and booking rules (instant booking, which requests do
    not act on yet, is left as it is). Raises ValidationError with a message per field
    (`hours_0`... `hours_6`, and the rules' names); nothing is written then."""
    errors: dict[str, str] = {}
    hours: dict[int, list[tuple[time, time]]] = {}
    for day in range(7):
        try:
            hours[day] = parse_ranges(hours_text.get(day, ""))
        except ValueError as err:
            errors[f"hours_{day}"] = str(err)
    try:
        zone(rules.timezone.strip())
    except (ValueError, KeyError, ZoneInfoNotFoundError):
        errors["timezone"] = "Choose a time zone from the list (like Europe/Paris)."
    for name, low, high, unit in (
        ("buffer_before_minutes", 0, 240, "minutes"),
        ("buffer_after_minutes", 0, 240, "minutes"),
        ("minimum_notice_hours", 0, 720, "hours"),
        ("booking_horizon_days", 1, 366, "days"),
    ):
        value = getattr(rules, name)
        if value is None or not low <= value <= high:
            errors[name] = f"Give a whole number of {unit} from {low} to {high}."
    if rules.max_sessions_per_day is not None and not 1 <= rules.max_sessions_per_day <= 24:
        errors["max_sessions_per_day"] = "Give a number from 1 to 24, or leave it empty."
    if rules.slot_step_minutes not in SLOT_STEPS:
        errors["slot_step_minutes"] = "Choose how often slots start from the list."
    if errors:
        raise ValidationError(errors)
    row = db.session.get(BookingRules, mentor_id) or BookingRules(mentor_id=mentor_id)
    row.timezone = rules.timezone.strip()
    row.buffer_before_minutes = rules.buffer_before_minutes
    row.buffer_after_minutes = rules.buffer_after_minutes
    row.minimum_notice_minutes = rules.minimum_notice_hours * 60
    row.max_sessions_per_day = rules.max_sessions_per_day
    row.booking_horizon_days = rules.booking_horizon_days
    row.slot_step_minutes = rules.slot_step_minutes
    db.session.add(row)
    db.session.execute(delete(WorkingHours).where(WorkingHours.mentor_id == mentor_id))
    db.session.add_all(
        WorkingHours(mentor_id=mentor_id, weekday=day, start_time=start, end_time=end)
        for day, ranges in hours.items()
        for start, end in ranges
    )
    db.session.flush()


def upcoming_overrides(mentor_id: int, today: date) -> list[tuple[date, list[tuple[time, time]]]]:
    """The mentor's date overrides from `today` on: each date and its ranges ([] for a day
    off), in date order."""
    days: dict[date, list[tuple[time, time]]] = {}
    for row in db.session.scalars(
        select(AvailabilityOverride)
        .where(AvailabilityOverride.mentor_id == mentor_id, AvailabilityOverride.day >= today)
        .order_by(AvailabilityOverride.day, AvailabilityOverride.start_time)
    ):
        ranges = days.setdefault(row.day, [])
        if not row.day_off:
            ranges.append((row.start_time, row.end_time))
    return sorted(days.items())


def set_override(mentor_id: int, day: date | None, hours_text: str, *, today: date) -> None:
    """Give `day` its own hours (`hours_text`), or make it a day off (empty text), replacing
    what that date had. Raises ValidationError (`day`, `hours`)."""
    if day is None:
        raise ValidationError("Choose a date.", field="day")
    if day < today:
        raise ValidationError("Choose today or a later date.", field="day")
    if day > today + timedelta(days=732):
        raise ValidationError("Choose a date within two years.", field="day")
    try:
        ranges = parse_ranges(hours_text or "")
    except ValueError as err:
        raise ValidationError(str(err), field="hours") from None
    clear_override(mentor_id, day)
    if ranges:
        db.session.add_all(
            AvailabilityOverride(mentor_id=mentor_id, day=day, start_time=start, end_time=end)
            for start, end in ranges
        )
    else:
        db.session.add(AvailabilityOverride(mentor_id=mentor_id, day=day))
    db.session.flush()


def clear_override(mentor_id: int, day: date) -> int:
    """Back to the weekly hours on `day`; how many rows went."""
    return db.session.execute(
        delete(AvailabilityOverride).where(
            AvailabilityOverride.mentor_id == mentor_id, AvailabilityOverride.day == day
        )
    ).rowcount
