"""Closures imported from a file, all or nothing: a CSV file (`name,kind,first_day,last_day,
groups`) or an iCalendar file (each all-day event a whole-school holiday, as school calendars
and public-holiday feeds publish them). Every problem is collected (`line N: ...` or `event N:
...`) before anything is kept; each closure then does what adding it on the page does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar
from sqlalchemy import select

from models import ClosureKind, CourseGroup, User, db
from services.closures import ClosureOutcome, add_closure
from services.common.errors import ValidationError
from services.school_year import CLOSURE_NAME_LENGTH, ClosureData
from services.timetable.csv_reading import ByName, ImportErrors, RowChecker, by_line, read_csv_table

CLOSURE_COLUMNS = ("name", "kind", "first_day", "last_day", "groups")
CLOSURE_OPTIONAL = frozenset({"kind", "last_day", "groups"})
KIND_NAMES = {kind.value: kind for kind in ClosureKind} | {"staff day": ClosureKind.STAFF_DAY}


@dataclass
class ClosureImportSummary:
    closures: int = 0
    cancelled: int = 0
    kept: int = 0
    notified: int = 0
    outcomes: list[ClosureOutcome] = field(default_factory=list, repr=False)


def import_closures(
    data: bytes, filename: str, *, tz: ZoneInfo, actor: User | None = None, now=None
) -> ClosureImportSummary:
    """Import a CSV or iCalendar file of closures (by its name's extension, else its content),
    all or nothing, in the caller's transaction (flushed, not committed)."""
    looks_ical = filename.lower().endswith((".ics", ".ical")) or data.lstrip().startswith(
        b"BEGIN:VCALENDAR"
    )
    # Every problem of the file at once: those of its cells, then those of the closures the
    # readable rows make (checked as the page checks them).
    errors: list[str] = []
    rows = _read_ical(data, tz) if looks_ical else _read_csv(data, errors)
    summary = ClosureImportSummary()
    outer = db.session.begin_nested()
    try:
        for where, closure in rows:
            try:
                with db.session.begin_nested():
                    outcome = add_closure(closure, actor=actor, tz=tz, now=now)
            except ValidationError as err:
                errors += [f"{where}: {message}" for message in err.errors.values()]
                continue
            summary.closures += 1
            summary.cancelled += len(outcome.cancelled)
            summary.kept += len(outcome.kept)
            summary.notified += outcome.notified
            summary.outcomes.append(outcome)
        if errors:
            raise ImportErrors(by_line(errors))
    except BaseException:
        outer.rollback()
        raise
    outer.commit()
    return summary


def _read_csv(data: bytes, errors: list[str]) -> list[tuple[str, ClosureData]]:
    table = read_csv_table(data, CLOSURE_COLUMNS, CLOSURE_OPTIONAL)
    errors += table.errors
    groups = ByName(db.session.scalars(select(CourseGroup)).all())
    rows = []
    for record in table.records:
        check = RowChecker(record, errors)
        name = check.text("name", required=True, limit=CLOSURE_NAME_LENGTH)
        kind_text = check.text("kind").lower().replace("_", " ")
        kind = KIND_NAMES.get(kind_text or "holiday")
        if kind is None:
            check.fail(f"unknown kind {record.cells['kind']} (use holiday, closed or staff_day)")
        first = check.day("first_day", required=True)
        last = check.day("last_day") or first
        group_ids = None
        names = [n.strip() for n in check.text("groups", limit=100_000).split(";") if n.strip()]
        if names:
            group_ids = []
            for group_name in names:
                group = groups.get(group_name)
                if group is None:
                    check.fail(f"no group named {group_name}")
                else:
                    group_ids.append(group.id)
        if check.ok:
            rows.append((f"line {record.line}", ClosureData(name, first, last, kind, group_ids)))
    return rows


def _read_ical(data: bytes, tz: ZoneInfo) -> list[tuple[str, ClosureData]]:
    try:
        calendar = Calendar.from_ical(data)
    except (ValueError, IndexError, KeyError) as err:
        raise ImportErrors([f"the file is not an iCalendar file ({err})"]) from err
    rows, errors = [], []
    for number, event in enumerate(calendar.walk("VEVENT"), start=1):
        where = f"event {number}"
        name = " ".join(str(event.get("SUMMARY", "")).split())
        start = event.get("DTSTART")
        if start is None:
            errors.append(f"{where}: it has no start (DTSTART)")
            continue
        first = _local_day(start.dt, tz)
        end = event.get("DTEND")
        if end is None:
            last = first
        elif isinstance(end.dt, datetime):
            moment = end.dt.astimezone(tz) if end.dt.tzinfo else end.dt
            # An end at midnight closes the day before; a later one, its own day.
            last = (
                moment.date() - timedelta(days=1)
                if moment.time() == datetime.min.time()
                else moment.date()
            )
            last = max(last, first)
        else:
            last = max(end.dt - timedelta(days=1), first)  # DTEND of a date is exclusive
        rows.append((where, ClosureData(name[:CLOSURE_NAME_LENGTH] or "Holiday", first, last)))
    if errors:
        raise ImportErrors(errors)
    if not rows:
        raise ImportErrors(["the calendar holds no event"])
    return rows


def _local_day(value, tz: ZoneInfo) -> date:
    if isinstance(value, datetime):
        return (value.astimezone(tz) if value.tzinfo else value).date()
    return value
