"""VTIMEZONE components (RFC 5545 3.6.5) as calendar servers write them: the zone's current
daylight-saving rule as a yearly RRULE (`FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU`), each DTSTART in
the local time before the change (02:00 for Europe/Paris in spring, 03:00 in autumn), with no
end year.

icalendar's own `add_missing_timezones()` lists every change up to 2038 in one comma-separated
RDATE per observance, which vobject (and so dateutil's tzical) reads as its first value only:
summer sessions came out an hour off there.

The rule comes from the zone's TZif file (RFC 8536): its footer holds the POSIX TZ string that
governs after the last listed change (`CET-1CEST,M3.5.0,M10.5.0/3`), and its listed changes are
checked against that rule to find since when it holds. Changes before then that matter to the
window (a zone that changed its rules recently) are written one per observance, and a rule no
RRULE can say (a change on "the day after the last Thursday", which may fall in the next month)
is written as its dated changes up to the window's end.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import TZPATH, ZoneInfo

from dateutil.rrule import YEARLY, rrule, weekday

if TYPE_CHECKING:
    from icalendar import Timezone, TimezoneDaylight, TimezoneStandard

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY_CODES = ("SU", "MO", "TU", "WE", "TH", "FR", "SA")  # POSIX weekday numbers
# The days every year of a month has (February: 28).
MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@dataclass(frozen=True)
class Change:
    """One change of a zone's offset (or name): at an instant, from one offset to another."""

    at: datetime  # UTC
    before: timedelta
    after: timedelta
    name: str
    is_dst: bool

    @property
    def local_onset(self) -> datetime:
        """The wall-clock time at which it happens, read before the change (naive)."""
        return (self.at + self.before).replace(tzinfo=None)


@dataclass(frozen=True)
class YearlyRule:
    """One half of a POSIX daylight-saving rule, as an RRULE: the change to `offset_to`."""

    byrule: dict  # bymonth, byweekday, bymonthday for dateutil's rrule
    onset: timedelta  # local wall-clock time of the change (before it), within the day
    offset_from: timedelta
    offset_to: timedelta
    name: str
    is_dst: bool

    def local_onsets(self, first_year: int, count: int = 1) -> list[datetime]:
        start = datetime(first_year, 1, 1) + self.onset
        return list(rrule(YEARLY, dtstart=start, count=count, **self.byrule))

    def instant_in(self, year: int) -> datetime:
        return (self.local_onsets(year)[0] - self.offset_from).replace(tzinfo=UTC)

    def rrule_value(self) -> dict:
        value: dict = {"FREQ": "YEARLY", "BYMONTH": self.byrule["bymonth"]}
        day = self.byrule["byweekday"]
        code = DAY_CODES[(day.weekday + 1) % 7]
        value["BYDAY"] = f"{day.n}{code}" if day.n else code
        if "bymonthday" in self.byrule:
            value["BYMONTHDAY"] = list(self.byrule["bymonthday"])
        return value

    def matches(self, change: Change) -> bool:
        return (
            change.before == self.offset_from
            and change.after == self.offset_to
            and change.name == self.name
            and self.instant_in(change.local_onset.year) == change.at
        )


# --- The zone's file ----------------------------------------------------------------------------


def _tzif_bytes(key: str) -> bytes | None:
    """The TZif file zoneinfo itself reads for `key`: TZPATH first, then the tzdata package."""
    for directory in TZPATH:
        path = Path(directory) / key
        if path.is_file():
            return path.read_bytes()
    try:
        return resources.files("tzdata.zoneinfo").joinpath(*key.split("/")).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError, IsADirectoryError):
        return None


def parse_tzif(data: bytes) -> tuple[list[Change], tuple[timedelta, str, bool], str]:
    """The listed changes, the local time type before the first one, and the footer."""
    if data[:4] != b"TZif":
        raise ValueError("not a TZif file")
    version = data[4:5]
    counts = struct.unpack(">6l", data[20:44])
    offset, time_size = 44, 4
    if version >= b"2":
        isut, isstd, leap, times, types, chars = counts
        offset += times * 5 + types * 6 + chars + leap * 8 + isstd + isut  # skip version 1
        counts = struct.unpack(">6l", data[offset + 20 : offset + 44])
        offset, time_size = offset + 44, 8
    isut, isstd, leap, times, types, chars = counts
    fmt = f">{times}{'q' if time_size == 8 else 'l'}"
    instants = struct.unpack(fmt, data[offset : offset + times * time_size])
    offset += times * time_size
    indices = data[offset : offset + times]
    offset += times
    ttinfos = [
        struct.unpack(">lBB", data[offset + 6 * i : offset + 6 * i + 6]) for i in range(types)
    ]
    offset += types * 6
    names = data[offset : offset + chars]
    offset += chars + leap * (time_size + 4) + isstd + isut

    def local_type(index: int) -> tuple[timedelta, str, bool]:
        utoff, isdst, name_at = ttinfos[index]
        name = names[name_at : names.index(b"\0", name_at)].decode()
        return timedelta(seconds=utoff), name, bool(isdst)

    initial = local_type(0)
    changes, current = [], initial
    for instant, index in zip(instants, indices, strict=True):
        after, name, is_dst = local_type(index)
        if (after, name, is_dst) == current:
            continue  # nothing changes (fat files end with one such at 2038-01-19)
        at = EPOCH + timedelta(seconds=instant)
        changes.append(Change(at, current[0], after, name, is_dst))
        current = (after, name, is_dst)
    footer = data[offset:].strip(b"\n").decode() if version >= b"2" else ""
    return changes, initial, footer


# --- The POSIX TZ string of the footer ----------------------------------------------------------

_NAME = r"(<[^>]+>|[A-Za-z]{3,})"
_OFFSET = r"([+-]?\d{1,3}(?::\d{2}){0,2})"
_POSIX = re.compile(rf"^{_NAME}{_OFFSET}(?:{_NAME}{_OFFSET}?(?:,([^,]+),([^,]+))?)?$")


def _seconds(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    parts = [int(p) for p in text.lstrip("+-").split(":")] + [0, 0]
    return sign * (parts[0] * 3600 + parts[1] * 60 + parts[2])


def _yearly(
    text: str, offset_from: timedelta, offset_to: timedelta, name: str, is_dst: bool
) -> YearlyRule | None:
    """`Mm.w.d[/time]` as a yearly RRULE, or None when none can say it (`Jn`, `n`, a time that
    moves the change out of its month)."""
    date_part, _, time_part = text.partition("/")
    match = re.fullmatch(r"M(\d{1,2})\.([1-5])\.([0-6])", date_part)
    if not match:
        return None
    month, week, day = (int(g) for g in match.groups())
    at = _seconds(time_part) if time_part else 2 * 3600
    shift, within = divmod(at, 86400)  # a time past 24:00 or below 0 moves the day
    code = (day + shift) % 7  # POSIX 0 = Sunday; dateutil 0 = Monday
    dateutil_day = weekday((code - 1) % 7)
    if shift == 0:
        byrule = {"bymonth": month, "byweekday": dateutil_day(-1 if week == 5 else week)}
    else:
        if week == 5:
            days = [d + shift for d in range(-7, 0)]
            ok = all(-MONTH_DAYS[month - 1] <= d <= -1 for d in days)
        else:
            days = [d + shift for d in range(7 * week - 6, 7 * week + 1)]
            ok = all(1 <= d <= MONTH_DAYS[month - 1] for d in days)
        if not ok:
            return None
        byrule = {"bymonth": month, "byweekday": dateutil_day, "bymonthday": tuple(days)}
    return YearlyRule(byrule, timedelta(seconds=within), offset_from, offset_to, name, is_dst)


def parse_posix(footer: str):
    """(standard offset, name) and the two yearly rules (to daylight time, back to standard),
    or None for the rules when the zone keeps one offset; raises ValueError when a rule cannot
    be said as an RRULE."""
    match = _POSIX.match(footer)
    if not match:
        raise ValueError(f"unreadable TZ string {footer!r}")
    std_name, std_off, dst_name, dst_off, start, end = match.groups()
    standard = -timedelta(seconds=_seconds(std_off))  # POSIX offsets are west of UTC
    std_name = std_name.strip("<>")
    if dst_name is None:
        return (standard, std_name), None
    if start is None:
        raise ValueError("a daylight time without its rule")
    daylight = -timedelta(seconds=_seconds(dst_off)) if dst_off else standard + timedelta(hours=1)
    dst_name = dst_name.strip("<>")
    to_dst = _yearly(start, standard, daylight, dst_name, True)
    to_std = _yearly(end, daylight, standard, std_name, False)
    if to_dst is None or to_std is None:
        raise ValueError(f"no RRULE says {footer!r}")
    return (standard, std_name), (to_dst, to_std)


# --- The component ------------------------------------------------------------------------------


def _observance(change: Change) -> TimezoneStandard | TimezoneDaylight:
    from icalendar import TimezoneDaylight, TimezoneStandard

    component = TimezoneDaylight() if change.is_dst else TimezoneStandard()
    component.add("dtstart", change.local_onset)
    component.add("tzoffsetfrom", change.before)
    component.add("tzoffsetto", change.after)
    component.add("tzname", change.name)
    return component


def _probed_changes(tz: ZoneInfo, start: datetime, end: datetime) -> list[Change]:
    """The zone's changes in [start, end), found by asking zoneinfo (for rules no RRULE says)."""
    changes = []
    step = timedelta(hours=6)
    at = start
    while at < end:
        later = at + step
        if tz.utcoffset(at) != tz.utcoffset(later) or tz.tzname(at) != tz.tzname(later):
            low, high = at, later
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if tz.utcoffset(middle) == tz.utcoffset(low) and tz.tzname(middle) == tz.tzname(
                    low
                ):
                    low = middle
                else:
                    high = middle
            high = high.replace(microsecond=0)
            local = high.astimezone(tz)
            changes.append(
                Change(
                    high,
                    tz.utcoffset(low),
                    local.utcoffset(),
                    local.tzname(),
                    bool(local.dst()),
                )
            )
        at = later
    return changes


@dataclass(frozen=True)
class ZoneRules:
    """What a zone's file says, read once: its listed changes, the local time type before
    them, its yearly rules (None: one offset, or rules no RRULE says) and since which listed
    change those rules hold."""

    changes: tuple[Change, ...]
    initial: tuple[timedelta, str, bool]
    rules: tuple[YearlyRule, YearlyRule] | None
    expressible: bool
    first_ruled: int


@lru_cache(maxsize=16)
def zone_rules(key: str) -> ZoneRules:
    data = _tzif_bytes(key)
    if data is None:
        raise ValueError(f"no TZif file for {key!r}")
    changes, initial, footer = parse_tzif(data)
    try:
        rules = parse_posix(footer)[1]
        expressible = True
    except ValueError:
        rules, expressible = None, False
    # Since when the footer's rule holds: the listed changes it reproduces, from the end back.
    first_ruled = len(changes)
    if rules is not None:
        while first_ruled > 0 and any(r.matches(changes[first_ruled - 1]) for r in rules):
            first_ruled -= 1
    return ZoneRules(tuple(changes), initial, rules, expressible, first_ruled)


def vtimezone(tz: ZoneInfo, start: datetime, end: datetime) -> Timezone:
    """The VTIMEZONE of `tz`, right for every instant from `start` on (and, for a zone whose
    rule no RRULE can say, up to `end`)."""
    # Imported here: icalendar is slow to import, and only feeds need it.
    from icalendar import Timezone, TimezoneDaylight, TimezoneStandard

    if not tz.key:
        raise ValueError("a zone without a name has no TZID")
    zone = zone_rules(tz.key)
    changes, initial, rules, expressible = zone.changes, zone.initial, zone.rules, zone.expressible
    listed = changes[: zone.first_ruled]
    ruled_from = changes[zone.first_ruled].at if zone.first_ruled < len(changes) else None
    component = Timezone()
    component.add("tzid", tz.key)

    # Before the rule holds (a zone that changed its rules lately, or one whose rule no RRULE
    # says): the change in effect at `start`, and those after it up to `end`.
    ruled = rules is not None and expressible
    if not (ruled and ruled_from is not None and ruled_from <= start):
        in_effect = [c for c in listed if c.at <= start]
        later = [c for c in listed if start < c.at <= end]
        if not expressible:
            last = changes[-1].at if changes else start
            later += _probed_changes(tz, max(last + timedelta(seconds=1), start), end)
        if in_effect:
            component.add_component(_observance(in_effect[-1]))
        else:  # nothing listed before `start`: the zone's first local time, since 1970
            offset, name, is_dst = initial
            component.add_component(_observance(Change(EPOCH, offset, offset, name, is_dst)))
        for change in later:
            component.add_component(_observance(change))

    if ruled:
        since = (ruled_from or (changes[-1].at if changes else EPOCH)).replace(tzinfo=None)
        for rule in rules:
            onsets = rule.local_onsets((since + rule.offset_from).year, 2)
            onset = next(o for o in onsets if o - rule.offset_from >= since)
            observance = TimezoneDaylight() if rule.is_dst else TimezoneStandard()
            observance.add("dtstart", onset)
            observance.add("rrule", rule.rrule_value())
            observance.add("tzoffsetfrom", rule.offset_from)
            observance.add("tzoffsetto", rule.offset_to)
            observance.add("tzname", rule.name)
            component.add_component(observance)
    return component
