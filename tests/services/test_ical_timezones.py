"""VTIMEZONE components read back by the readers calendar apps use (dateutil's tzical, as
vobject does, and icalendar's own), for zones whose rules are plain, shifted by a day, of half
an hour, negative, listed year by year, or without daylight time at all."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.tz import tzical
from icalendar import Calendar

from services.output.ical_timezones import parse_posix, vtimezone

START = datetime(2025, 11, 1, tzinfo=UTC)
END = datetime(2027, 3, 1, tzinfo=UTC)

ZONES = [
    "Europe/Paris",  # last Sunday of March 02:00 / October 03:00
    "Pacific/Auckland",  # southern hemisphere
    "America/New_York",  # second Sunday of March / first of November
    "America/Santiago",  # 24:00 on the first Saturday: Sunday 00:00
    "America/Nuuk",  # -01:00 on the last Sunday: the Saturday before, 23:00
    "Asia/Jerusalem",  # 26:00 on the fourth Thursday: Friday 02:00
    "Australia/Lord_Howe",  # a half-hour daylight time
    "Europe/Dublin",  # "negative" daylight time: winter is the DST of the TZ string
    "Africa/Cairo",  # a rule no RRULE can say (its change may fall in the next month)
    "Asia/Gaza",  # changes listed up to 2087, then a rule
    "Africa/Casablanca",  # changes listed year by year (Ramadan)
    "Asia/Tokyo",  # no daylight time
    "UTC",
]


def read_back(tz: ZoneInfo):
    text = vtimezone(tz, START, END).to_ical().decode()
    document = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n{text}END:VCALENDAR\r\n"
    by_dateutil = tzical(io.StringIO(document)).get()
    [component] = Calendar.from_ical(document).walk("VTIMEZONE")
    return text, (by_dateutil, component.to_tz())


def instants(tz: ZoneInfo):
    """Every 3 hours over the window, and a minute either side of each change."""
    at, step = START, timedelta(hours=3)
    while at < END:
        yield at
        if tz.utcoffset(at) != tz.utcoffset(at + step):
            change = at
            while tz.utcoffset(change + timedelta(minutes=1)) == tz.utcoffset(at):
                change += timedelta(minutes=1)
            yield change
            yield change + timedelta(minutes=2)
        at += step


@pytest.mark.parametrize("key", ZONES)
def test_every_wall_clock_time_of_the_window_reads_back_at_its_offset(key):
    tz = ZoneInfo(key)
    _text, readers = read_back(tz)
    for at in instants(tz):
        local = at.astimezone(tz)
        wall = local.replace(tzinfo=None)
        if tz.utcoffset(wall.replace(fold=0)) != tz.utcoffset(wall.replace(fold=1)):
            continue  # a repeated hour: readers may take either
        for reader in readers:
            assert wall.replace(tzinfo=reader).utcoffset() == local.utcoffset(), (key, wall)


@pytest.mark.parametrize(
    ("key", "rules"),
    [
        ("Europe/Paris", ["FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3", "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10"]),
        ("America/Santiago", ["BYDAY=SU;BYMONTHDAY=2,3,4,5,6,7,8;BYMONTH=9"]),
        ("America/Nuuk", ["BYDAY=SA;BYMONTHDAY=-8,-7,-6,-5,-4,-3,-2;BYMONTH=3"]),
        ("Asia/Jerusalem", ["BYDAY=FR;BYMONTHDAY=23,24,25,26,27,28,29;BYMONTH=3"]),
    ],
)
def test_rules_are_yearly_rrules_with_no_end(key, rules):
    text, _readers = read_back(ZoneInfo(key))
    for rule in rules:
        assert rule in text
    assert "RDATE" not in text and "UNTIL" not in text and "COUNT" not in text


def test_the_daylight_rules_hold_past_2038():
    for key in ("Europe/Paris", "Pacific/Auckland", "America/New_York"):
        tz = ZoneInfo(key)
        _text, readers = read_back(tz)
        for year in (2038, 2045, 2100):
            for month in (1, 7):
                wall = datetime(year, month, 15, 12)
                for reader in readers:
                    assert (
                        wall.replace(tzinfo=reader).utcoffset()
                        == wall.replace(tzinfo=tz).utcoffset()
                    ), (key, wall)


def test_a_rule_that_may_fall_in_the_next_month_is_written_change_by_change():
    # Africa/Cairo's autumn change is 24:00 on the last Thursday of October: 1 November in a
    # year whose October ends on a Thursday, which no BYMONTH=10 rule can say.
    with pytest.raises(ValueError, match="no RRULE"):
        parse_posix("EET-2EEST,M4.5.5/0,M10.5.4/24")
    text, _readers = read_back(ZoneInfo("Africa/Cairo"))
    assert "RRULE" not in text
    assert "DTSTART:20260424T000000" in text and "DTSTART:20261030T000000" in text
