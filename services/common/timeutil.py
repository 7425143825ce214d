"""Organisation time zone helpers: local wall-clock times to UTC instants and back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo


@lru_cache(maxsize=32)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True)
class LocalInstant:
    """A local wall-clock time resolved to a UTC instant; `shifted` if it fell in a DST gap."""

    utc: datetime
    shifted: bool


def resolve_local(day: date, clock: time, tz: ZoneInfo) -> LocalInstant:
    """Resolve a wall-clock time on a date in `tz`.

    A time inside a DST gap (02:30 on a spring-forward night) does not exist: with fold=0
    zoneinfo applies the offset from before the gap, which lands the instant after it
    (02:30 becomes 03:30), and we report the shift. A time in a fold (it happens twice)
    takes the first instant (fold=0). Neither can produce two sessions.
    """
    local = datetime.combine(day, clock, tzinfo=tz)
    utc = local.astimezone(UTC)
    back = utc.astimezone(tz)
    shifted = (back.hour, back.minute, back.second) != (clock.hour, clock.minute, clock.second)
    return LocalInstant(utc, shifted)


def local_day_bounds(start: date, end: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """UTC instants of local midnight at `start` and at `end` (a half-open day window)."""
    return (
        datetime.combine(start, time(0), tzinfo=tz).astimezone(UTC),
        datetime.combine(end, time(0), tzinfo=tz).astimezone(UTC),
    )


# The dates a timetable can hold: any real schedule fits, and date arithmetic on them (a week
# later, a day's UTC bounds, a 26-hour overlap window) stays inside Python's calendar, whose
# edges (years 1 and 9999) would otherwise end a request in an OverflowError.
EARLIEST_DATE, LATEST_DATE = date(2000, 1, 1), date(2100, 12, 31)

# How far from today a session may be placed (a one-time session, a moved date, a requested
# date): far enough back to record a make-up session after the fact, far enough ahead for the
# next school year; anything else is a typo.
MAX_DAYS_BACK = 366
MAX_DAYS_AHEAD = 732


def placement_range(today: date) -> tuple[date, date]:
    """The first and last dates a session may be placed on, seen from `today`."""
    return today - timedelta(days=MAX_DAYS_BACK), today + timedelta(days=MAX_DAYS_AHEAD)


def date_outside(day: date, earliest: date = EARLIEST_DATE, latest: date = LATEST_DATE) -> str:
    """What to tell the user when `day` is not within [earliest, latest]; "" when it is."""
    if earliest <= day <= latest:
        return ""
    return f"Choose a date between {earliest:%d %b %Y} and {latest:%d %b %Y}."


def today_in(tz: ZoneInfo, now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(tz).date()


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


# --- Sessions past midnight ---------------------------------------------------------------------

# A session whose end is earlier on the clock than its start ends the next day (23:30-00:30, a
# late online slot), provided it then lasts at most this long: an end earlier on the clock
# by more (17:00-09:00) is far likelier a typo than a 16-hour session, and is refused.
LONGEST_OVERNIGHT_HOURS = 12
LONGEST_OVERNIGHT = timedelta(hours=LONGEST_OVERNIGHT_HOURS)
_ANY_DAY = date(2000, 1, 3)


def clock_span(start: time, end: time) -> timedelta:
    """The wall-clock length from `start` to `end`, an end not after the start being on the
    next day (23:30-00:30 is an hour; 10:00-10:00 is 24 hours)."""
    length = datetime.combine(_ANY_DAY, end) - datetime.combine(_ANY_DAY, start)
    return length if length > timedelta(0) else length + timedelta(days=1)


def ends_next_day(start: time, end: time) -> bool:
    """Whether a session from `start` to `end` (local clock times) ends on the next day: its
    end is earlier on the clock and it then lasts at most `LONGEST_OVERNIGHT`."""
    return end < start and clock_span(start, end) <= LONGEST_OVERNIGHT


def times_refused(start: time, end: time) -> bool:
    """Whether no session runs from `start` to `end`: equal times, or an end earlier on the
    clock than the start by more than a session past midnight may last."""
    return end <= start and not ends_next_day(start, end)


def end_before_start_message(
    start: time, end: time, *, end_label: str = "The end", start_label: str = "the start"
) -> str:
    """What to say when `times_refused(start, end)`: 'The end (09:00) must be after the start
    (17:00), or at most 12 hours later on the next day.'"""
    text = f"{end_label} ({end:%H:%M}) must be after {start_label} ({start:%H:%M})"
    if end < start:
        text += f", or at most {LONGEST_OVERNIGHT_HOURS} hours later on the next day"
    return text + "."


def resolve_span(
    day: date, start: time, end: time, tz: ZoneInfo
) -> tuple[datetime, datetime, bool]:
    """UTC instants of a session on local `day` from `start` to `end`, and whether they had to
    be adjusted. An end earlier on the clock is on the next day (`ends_next_day`), resolved
    on that day (so a DST change at midnight counts). A time in a DST gap moves forward; should
    the start then pass the end (02:30-03:15 on the spring-forward night), the session keeps
    the length that was typed."""
    first = resolve_local(day, start, tz)
    last = resolve_local(day + timedelta(days=1) if ends_next_day(start, end) else day, end, tz)
    start_utc, end_utc = first.utc, last.utc
    shifted = first.shifted or last.shifted
    if end_utc <= start_utc:
        end_utc, shifted = start_utc + clock_span(start, end), True
    return start_utc, end_utc, shifted


def days_later(start: datetime, end: datetime, tz: ZoneInfo) -> int:
    """How many local dates after `start`'s the instant `end` falls (0: the same day)."""
    return (end.astimezone(tz).date() - start.astimezone(tz).date()).days


def span_label(start: datetime, end: datetime, tz: ZoneInfo, sep: str = "\u2013") -> str:
    """'10:00-11:00', or '23:30-00:30 (+1 day)' for a session ending on a later local date
    (joined by `sep`, an en dash by default)."""
    text = f"{start.astimezone(tz):%H:%M}{sep}{end.astimezone(tz):%H:%M}"
    later = days_later(start, end, tz)
    if later > 0:
        text += f" (+{later} day{'s' if later > 1 else ''})"
    return text


def clock_label(start: time, end: time, sep: str = "\u2013") -> str:
    """A series' times: '10:00-11:00', or '23:30-00:30 (+1 day)' when it ends the next day."""
    text = f"{start:%H:%M}{sep}{end:%H:%M}"
    return text + " (+1 day)" if end < start else text
