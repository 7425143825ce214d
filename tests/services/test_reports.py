"""The hours report's pure parts: hours as h:mm, and the last date a month's report counts."""

from __future__ import annotations

from datetime import date

import pytest

from services.output.reports import hours_minutes, report_last_day


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
