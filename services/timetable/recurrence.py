"""Pure expansion of weekly series into planned occurrences (no database access).

Series rules are local wall-clock times in the organisation's zone. They are expanded in
local *dates* with `dateutil.rrule`, and only then is each date's wall-clock time resolved to
a UTC instant, so a weekly 10:00 stays 10:00 local across DST changes.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from dateutil.rrule import MO, WEEKLY, rrule, weekday

from services.common.timeutil import (
    LocalInstant,
    clock_span,
    ends_next_day,
    resolve_local,
    week_start,
)

_RRULE_DAYS = tuple(weekday(n) for n in range(7))


@dataclass(frozen=True, slots=True)
class SeriesRule:
    """The values of a series that generation needs, detached from the ORM."""

    id: int
    group_id: int
    weekday_mask: int
    every_weeks: int
    start_time: time
    end_time: time
    room_id: int | None
    mode: str
    first_date: date
    last_date: date | None


@dataclass(frozen=True, slots=True)
class OverrideRule:
    """A per-date exception, detached from the ORM."""

    series_id: int
    original_date: date
    cancelled: bool
    new_date: date | None = None
    start_time: time | None = None
    end_time: time | None = None
    room_id: int | None = None
    # A substitute teaching this date (cover).
    mentor_id: int | None = None


class PlannedOccurrence(NamedTuple):
    """What one occurrence of a series should look like, exceptions applied.

    A named tuple rather than a frozen dataclass: generation makes one per session of the
    term, and a frozen dataclass sets each field through `object.__setattr__`, several times
    slower.
    """

    series_id: int
    group_id: int
    original_date: date
    start_utc: datetime
    end_utc: datetime
    room_id: int | None
    mode: str
    cancelled: bool
    # True when the times had to be adjusted: a wall-clock time fell in a DST gap and was
    # moved forward, or the end came out no later than the start (see `plan_occurrence`).
    shifted: bool
    # True when a date override (other than a cancellation) applies.
    overridden: bool
    # The closure whose day this is (services/school_year.py): generation makes no session
    # then, and one already made is cancelled by it (`cancelled` is True too).
    closure_id: int | None = None
    # The substitute its date's exception names (cover), else None: the group's mentor.
    cover_id: int | None = None


def series_dates(rule: SeriesRule, window_start: date, window_end: date) -> list[date]:
    """Local dates of the series' occurrences in the half-open window [window_start, window_end).

    Every-N-weeks counts from the week (Monday based) of the first date; a first date that is
    not one of the weekdays is not itself an occurrence.
    """
    last = window_end - timedelta(days=1)
    if rule.last_date is not None:
        last = min(last, rule.last_date)
    first = max(window_start, rule.first_date)
    if last < first:
        return []
    # The first date matters only through the phase of its week modulo every_weeks: anchor the
    # expansion on the Monday of that phase nearest before the window, so that every series
    # with the same weekdays and rhythm shares one cached rrule expansion over the window
    # (a term's hundreds of series have a few dozen patterns), then cut it to [first, last].
    anchor = week_start(rule.first_date)
    period = 7 * rule.every_weeks
    lag = (week_start(window_start) - anchor).days
    if lag > 0:
        anchor += timedelta(days=lag - lag % period)
    pattern = _weekly_pattern(rule.weekday_mask, rule.every_weeks, anchor, window_end)
    return list(pattern[bisect_left(pattern, first) : bisect_right(pattern, last)])


@lru_cache(maxsize=1024)
def _weekly_pattern(
    weekday_mask: int, every_weeks: int, anchor: date, window_end: date
) -> tuple[date, ...]:
    """The rrule dates from Monday `anchor` (counted as week 0) up to `window_end` excluded."""
    days = [_RRULE_DAYS[d] for d in range(7) if weekday_mask & (1 << d)]
    recurrence = rrule(
        WEEKLY,
        interval=every_weeks,
        byweekday=days,
        wkst=MO,
        dtstart=datetime.combine(anchor, time(0)),
        until=datetime.combine(window_end - timedelta(days=1), time(0)),
        cache=False,
    )
    return tuple(moment.date() for moment in recurrence)


def is_series_date(rule: SeriesRule, day: date) -> bool:
    """Whether `day` is an occurrence date of the series."""
    return series_dates(rule, day, day + timedelta(days=1)) == [day]


def plan_occurrence(
    rule: SeriesRule,
    day: date,
    override: OverrideRule | None,
    tz: ZoneInfo,
    *,
    resolve: Callable[[date, time, ZoneInfo], LocalInstant] = resolve_local,
) -> PlannedOccurrence:
    """The planned occurrence of `rule` on its series date `day`, with `override` applied."""
    start_clock, end_clock, room_id, actual_day = rule.start_time, rule.end_time, rule.room_id, day
    overridden = False
    # A substitute stays named on a cancelled date: they are told of it, and cover again if
    # the date comes back.
    cover_id = override.mentor_id if override is not None else None
    if override is not None and not override.cancelled:
        overridden = True
        actual_day = override.new_date or day
        start_clock = override.start_time or start_clock
        end_clock = override.end_time or end_clock
        room_id = override.room_id or room_id
    start = resolve(actual_day, start_clock, tz)
    # An end earlier on the clock (23:30-00:30) is on the next day, when a session past
    # midnight may last that long (`ends_next_day`).
    next_day = ends_next_day(start_clock, end_clock)
    end_day = actual_day + timedelta(days=1) if next_day else actual_day
    end = resolve(end_day, end_clock, tz)
    start_utc, end_utc, shifted = start.utc, end.utc, start.shifted or end.shifted
    if end_utc <= start_utc:
        # A start moved past a DST gap beyond its end (02:30-03:15 on the spring-forward
        # night), or a one-sided exception ("start at 15:00") overtaken by a later change of
        # the series' times so far that no session runs from its start to its end. Keep the
        # series' length rather than store an impossible session.
        end_utc = start_utc + series_length(rule)
        shifted = True
    return PlannedOccurrence(
        series_id=rule.id,
        group_id=rule.group_id,
        original_date=day,
        start_utc=start_utc,
        end_utc=end_utc,
        room_id=room_id,
        mode=rule.mode,
        cancelled=bool(override is not None and override.cancelled),
        shifted=shifted,
        overridden=overridden,
        cover_id=cover_id,
    )


def series_length(rule: SeriesRule) -> timedelta:
    """The wall-clock length of the series' sessions (an end earlier on the clock than the
    start is on the next day: 23:30-00:30 lasts an hour)."""
    return clock_span(rule.start_time, rule.end_time)


def plan_occurrences(
    rules: Iterable[SeriesRule],
    overrides: Mapping[tuple[int, date], OverrideRule],
    window_start: date,
    window_end: date,
    tz: ZoneInfo,
) -> list[PlannedOccurrence]:
    """Every planned occurrence of `rules` whose series date lies in [window_start, window_end)."""
    resolve = _memoised_resolver()
    planned = []
    for rule in rules:
        for day in series_dates(rule, window_start, window_end):
            override = overrides.get((rule.id, day))
            planned.append(plan_occurrence(rule, day, override, tz, resolve=resolve))
    return planned


def _memoised_resolver() -> Callable[[date, time, ZoneInfo], LocalInstant]:
    """`resolve_local`, remembered per (date, wall-clock time, zone) for one planning run.

    A term has a few dozen distinct start and end times on each date, so tens of thousands
    of occurrences need only a few thousand zoneinfo conversions; each is still exact.
    """
    known: dict[tuple, LocalInstant] = {}

    def resolve(day: date, clock: time, tz: ZoneInfo) -> LocalInstant:
        # `fold` is part of the key: equal times with another fold resolve differently.
        key = (day, clock, clock.fold, tz)
        instant = known.get(key)
        if instant is None:
            instant = known[key] = resolve_local(day, clock, tz)
        return instant

    return resolve
