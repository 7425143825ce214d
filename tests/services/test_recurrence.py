"""Pure expansion of series: weekdays, every N weeks, last dates and DST (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.common.timeutil import resolve_local
from services.timetable.recurrence import OverrideRule, SeriesRule, plan_occurrences, series_dates

PARIS = ZoneInfo("Europe/Paris")
SYDNEY = ZoneInfo("Australia/Sydney")
NEW_YORK = ZoneInfo("America/New_York")
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def rule(
    weekdays=(MON,),
    *,
    every=1,
    first=date(2026, 9, 7),
    last=None,
    start=time(10),
    end=time(11),
    ident=1,
):
    mask = 0
    for day in weekdays:
        mask |= 1 << day
    return SeriesRule(ident, 1, mask, every, start, end, 7, "in_person", first, last)


def test_mon_wed_fri_for_eight_weeks_is_24_dates_half_open():
    dates = series_dates(rule((MON, WED, FRI)), date(2026, 9, 7), date(2026, 9, 7) + timedelta(56))
    assert len(dates) == 24
    assert dates[0] == date(2026, 9, 7)
    assert dates[-1] == date(2026, 10, 30)  # the Monday 8 weeks later is excluded


def test_every_two_weeks_counts_from_the_week_of_the_first_date():
    # First date is a Wednesday; the Monday of that week is not an occurrence (before first).
    dates = series_dates(
        rule((MON, WED), every=2, first=date(2026, 9, 9)), date(2026, 9, 1), date(2026, 10, 15)
    )
    assert dates == [
        date(2026, 9, 9),
        date(2026, 9, 21),
        date(2026, 9, 23),
        date(2026, 10, 5),
        date(2026, 10, 7),
    ]


def test_first_date_not_on_a_weekday_creates_no_extra_occurrence():
    dates = series_dates(rule((TUE,), first=date(2026, 9, 7)), date(2026, 9, 7), date(2026, 9, 21))
    assert dates == [date(2026, 9, 8), date(2026, 9, 15)]


def test_last_date_is_included_and_nothing_after():
    dates = series_dates(rule((MON,), last=date(2026, 9, 21)), date(2026, 9, 1), date(2026, 12, 1))
    assert dates == [date(2026, 9, 7), date(2026, 9, 14), date(2026, 9, 21)]


def test_window_starting_long_after_first_date_keeps_the_biweekly_phase():
    dates = series_dates(
        rule((MON,), every=2, first=date(2025, 1, 6)), date(2026, 9, 1), date(2026, 9, 30)
    )
    # 2025-01-06 + 2k weeks: 2026-09-07 is 87 weeks later (odd), so 09-14 and 09-28.
    assert dates == [date(2026, 9, 14), date(2026, 9, 28)]


@pytest.mark.parametrize(
    ("tz", "before", "after"),
    [
        (PARIS, date(2026, 3, 23), date(2026, 3, 30)),  # spring forward 29 March
        (PARIS, date(2026, 10, 19), date(2026, 10, 26)),  # fall back 25 October
        (SYDNEY, date(2026, 3, 30), date(2026, 4, 6)),  # southern autumn: back 5 April
        (SYDNEY, date(2026, 9, 28), date(2026, 10, 5)),  # southern spring: forward 4 October
        (NEW_YORK, date(2026, 3, 2), date(2026, 3, 9)),
    ],
)
@pytest.mark.parametrize("clock", [time(9), time(13, 30)])
def test_weekly_time_stays_local_across_dst(tz, before, after, clock):
    planned = plan_occurrences(
        [
            rule(
                (before.weekday(),),
                first=before,
                start=clock,
                end=time(clock.hour + 1, clock.minute),
            )
        ],
        {},
        before,
        after + timedelta(days=1),
        tz,
    )
    assert [p.original_date for p in planned] == [before, after]
    for p in planned:
        local = p.start_utc.astimezone(tz)
        assert (local.hour, local.minute) == (clock.hour, clock.minute)
        assert p.end_utc - p.start_utc == timedelta(hours=1)
        assert not p.shifted
    # The UTC instant moved by exactly the change of offset, not by a week of 168 hours.
    assert planned[1].start_utc - planned[0].start_utc != timedelta(days=7)


def test_exactly_one_occurrence_per_weekday_per_week_across_both_transitions():
    planned = plan_occurrences(
        [rule(tuple(range(7)), first=date(2026, 1, 1))],
        {},
        date(2026, 1, 1),
        date(2027, 1, 1),
        PARIS,
    )
    local_days = [p.start_utc.astimezone(PARIS).date() for p in planned]
    assert len(local_days) == 365
    assert len(set(local_days)) == 365


def test_gap_time_moves_forward_and_is_reported():
    spring = date(2026, 3, 29)  # 02:00 -> 03:00 in Paris
    [planned] = plan_occurrences(
        [rule((SUN,), first=spring, start=time(2, 30), end=time(4))],
        {},
        spring,
        spring + timedelta(days=1),
        PARIS,
    )
    assert planned.shifted
    assert planned.start_utc.astimezone(PARIS).time() == time(3, 30)
    assert planned.end_utc.astimezone(PARIS).time() == time(4)


def test_gap_start_pushed_past_its_end_keeps_the_series_length():
    spring = date(2026, 3, 29)
    [planned] = plan_occurrences(
        [rule((SUN,), first=spring, start=time(2, 30), end=time(3, 15))],
        {},
        spring,
        spring + timedelta(days=1),
        PARIS,
    )
    assert planned.shifted
    assert planned.start_utc.astimezone(PARIS).time() == time(3, 30)
    assert planned.end_utc - planned.start_utc == timedelta(minutes=45)


def test_one_sided_exception_overtaken_by_the_series_keeps_the_series_length():
    # "End at 11:00 that day" was saved while the series ran 10:00-11:30; the series now
    # starts at 12:00, so the exception's end is before the start.
    day = date(2026, 9, 7)
    overrides = {(1, day): OverrideRule(1, day, cancelled=False, end_time=time(11))}
    series = rule(start=time(12), end=time(13, 30))
    [planned] = plan_occurrences([series], overrides, day, day + timedelta(days=1), PARIS)
    assert planned.start_utc.astimezone(PARIS).time() == time(12)
    assert planned.end_utc.astimezone(PARIS).time() == time(13, 30)
    assert planned.shifted


def test_fold_time_takes_the_first_instant():
    autumn = date(2026, 10, 25)  # 03:00 -> 02:00 in Paris: 02:30 happens twice
    instant = resolve_local(autumn, time(2, 30), PARIS)
    assert instant.utc == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST, the first
    assert not instant.shifted


def test_cancelled_override_marks_the_plan_cancelled():
    day = date(2026, 9, 7)
    overrides = {(1, day): OverrideRule(1, day, cancelled=True)}
    [planned] = plan_occurrences([rule()], overrides, day, day + timedelta(days=1), PARIS)
    assert planned.cancelled


def test_override_moves_time_room_and_day_but_keeps_identity():
    day = date(2026, 9, 7)
    overrides = {
        (1, day): OverrideRule(
            1,
            day,
            cancelled=False,
            new_date=date(2026, 9, 9),
            start_time=time(14),
            end_time=time(15, 30),
            room_id=99,
        )
    }
    [planned] = plan_occurrences([rule()], overrides, day, day + timedelta(days=1), PARIS)
    assert planned.original_date == day
    assert planned.start_utc == datetime(2026, 9, 9, 12, 0, tzinfo=UTC)
    assert planned.end_utc == datetime(2026, 9, 9, 13, 30, tzinfo=UTC)
    assert planned.room_id == 99
    assert planned.overridden and not planned.cancelled


def test_the_longest_possible_session_stays_under_the_bound_queries_rely_on():
    from services.timetable.conflicts import MAX_SESSION_LENGTH

    autumn = date(2026, 10, 25)  # a 25-hour day in Paris
    [planned] = plan_occurrences(
        [rule((SUN,), first=autumn, start=time(0), end=time(23, 59))],
        {},
        autumn,
        autumn + timedelta(days=1),
        PARIS,
    )
    assert planned.end_utc - planned.start_utc == timedelta(hours=24, minutes=59)
    assert planned.end_utc - planned.start_utc < MAX_SESSION_LENGTH


# --- Sessions past midnight ---------------------------------------------------------------------


def test_an_end_earlier_on_the_clock_is_the_next_day():
    [planned] = plan_occurrences(
        [rule((FRI,), start=time(23, 30), end=time(0, 30))], {},
        date(2026, 9, 11), date(2026, 9, 12), PARIS,
    )  # fmt: skip
    assert planned.start_utc == datetime(2026, 9, 11, 21, 30, tzinfo=UTC)
    assert planned.end_utc == datetime(2026, 9, 11, 22, 30, tzinfo=UTC)  # 00:30 on Saturday
    assert not planned.shifted


def test_a_late_slot_over_the_spring_forward_night_keeps_its_instants():
    # Paris, Sat 28 Mar 2026 23:00 to Sun 02:30, which does not exist (moves to 03:30).
    [planned] = plan_occurrences(
        [rule((SAT,), first=date(2026, 3, 1), start=time(23), end=time(2, 30))], {},
        date(2026, 3, 28), date(2026, 3, 29), PARIS,
    )  # fmt: skip
    assert planned.start_utc == datetime(2026, 3, 28, 22, 0, tzinfo=UTC)
    assert planned.end_utc == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert planned.shifted


def test_an_exception_moving_a_date_to_a_late_slot():
    override = OverrideRule(1, date(2026, 9, 7), False, start_time=time(23), end_time=time(1))
    [planned] = plan_occurrences(
        [rule()], {(1, date(2026, 9, 7)): override}, date(2026, 9, 7), date(2026, 9, 8), PARIS
    )
    assert planned.end_utc - planned.start_utc == timedelta(hours=2)
    assert planned.end_utc.astimezone(PARIS) == datetime(2026, 9, 8, 1, tzinfo=PARIS)


def test_an_exception_overtaken_too_far_keeps_the_series_length():
    # Start at 22:00 only; the series since moved to 08:00-09:00: 22:00-09:00 would be 11 h
    # past midnight, within the limit, so it is the next day; 15:00-09:00 (18 h) is not.
    near = OverrideRule(1, date(2026, 9, 7), False, start_time=time(22))
    far = OverrideRule(1, date(2026, 9, 7), False, start_time=time(15))
    series = rule(start=time(8), end=time(9))
    window = (date(2026, 9, 7), date(2026, 9, 8), PARIS)
    [late] = plan_occurrences([series], {(1, date(2026, 9, 7)): near}, *window)
    [kept] = plan_occurrences([series], {(1, date(2026, 9, 7)): far}, *window)
    assert late.end_utc - late.start_utc == timedelta(hours=11)
    assert (kept.end_utc - kept.start_utc, kept.shifted) == (timedelta(hours=1), True)
