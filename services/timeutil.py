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


def to_local(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz)


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
