"""The hours report: hours as h:mm, the last date a month's report counts, and the local month
it counts in."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from models import db
from services.output.reports import hours_minutes, mentor_hours, report_last_day
from services.timetable.sessions import create_one_time_session
from tests.conftest import AKL, auckland_at


@pytest.mark.parametrize(
    ("seconds", "plain", "signed"),
    [
        (0, "0:00", "0:00"),
        (29, "0:00", "0:00"),  # rounded to the minute
        (30 * 60, "0:30", "+0:30"),
        (31.48 * 3600, "31:29", "+31:29"),  # not "31.48"
        (-45 * 60, "-0:45", "-0:45"),
        (100 * 3600 + 5 * 60, "100:05", "+100:05"),
    ],
)
def test_hours_read_as_hours_and_minutes(seconds, plain, signed):
    assert hours_minutes(seconds) == plain
    assert hours_minutes(seconds, signed=True) == signed


def test_a_running_month_counts_up_to_today_unless_the_whole_month_is_asked():
    september = date(2026, 9, 1)
    assert report_last_day(september, date(2026, 9, 20), whole_month=False) == date(2026, 9, 20)
    assert report_last_day(september, date(2026, 9, 20), whole_month=True) == date(2026, 9, 30)
    # Months before or after today are whole.
    assert report_last_day(september, date(2026, 12, 6), whole_month=False) == date(2026, 9, 30)
    assert report_last_day(september, date(2026, 8, 31), whole_month=False) == date(2026, 9, 30)
    assert report_last_day(date(2027, 2, 1), date(2027, 2, 28), whole_month=False) == date(
        2027, 2, 28
    )


def test_monthly_hours_count_the_local_month(auckland_term):
    """A session at 08:00 on the 1st of a month is, in UTC, on the last day of the previous
    one: it counts in the local month."""
    first = (auckland_term["after"] + timedelta(days=70)).replace(
        day=1
    )  # the month before is empty
    create_one_time_session(
        group_id=auckland_term["group"].id, day=first, start=time(8), end=time(9, 30),
        room_id=auckland_term["room"].id, actor=None, tz=AKL,
    )  # fmt: skip
    db.session.commit()
    assert auckland_at(first, time(8)).month != first.month
    [row] = mentor_hours(first, AKL).rows
    assert (row.scheduled_sessions, row.scheduled_seconds) == (1, 5400)
    assert mentor_hours((first - timedelta(days=1)).replace(day=1), AKL).rows == []
