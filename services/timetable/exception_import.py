"""The CSV import of per-date exceptions (the `import-exceptions` command).

All-or-nothing, like the timetable import: every row is checked and every problem is collected
(as `line N: ...`) before the import succeeds, inside a savepoint (see import_exceptions). Like
every service, it flushes and never commits.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, time

from sqlalchemy import select

from models import CourseGroup, Room, Series, User, db
from services.common.errors import ConflictError, DomainError, InvalidTransition, ValidationError
from services.common.timeutil import end_before_start_message, times_refused
from services.timetable.csv_reading import (
    CHANGED,
    CREATED,
    ByName,
    CsvRecord,
    ImportErrors,
    ImportLine,
    RowChecker,
    by_line,
    read_csv_table,
)
from services.timetable.exceptions import OverrideChange, find_override, rule_of, save_override
from services.timetable.recurrence import is_series_date

EXCEPTION_COLUMNS = ("group", "date", "action", "start", "end", "room", "notes")
EXCEPTION_OPTIONAL = frozenset({"start", "end", "room", "notes"})
NOTES_LENGTH = 2000


@dataclass
class ExceptionImportSummary:
    cancelled: int = 0
    overridden: int = 0
    exceptions_created: int = 0
    exceptions_updated: int = 0
    # Existing sessions changed at once; dates not generated yet get the exception on generation.
    sessions_updated: int = 0
    # What each line of the file does, in words (a preview shows them).
    lines: list[ImportLine] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "lines"}


@dataclass(frozen=True)
class _ExceptionRow:
    line: int
    group_name: str
    day: date
    cancel: bool
    start_time: time | None
    end_time: time | None
    room_name: str
    notes: str


def _parse_exceptions(records: list[CsvRecord], errors: list[str]) -> list[_ExceptionRow]:
    rows = []
    for record in records:
        check = RowChecker(record, errors)
        group_name = check.text("group", required=True)
        day = check.day("date", required=True)
        action = check.text("action", required=True).lower()
        if action and action not in ("cancel", "override"):
            check.fail(f"unknown action {record.cells['action']} (use cancel or override)")
        start, end = check.clock("start"), check.clock("end")
        room_name = check.text("room")
        notes = check.text("notes", limit=NOTES_LENGTH)
        if action == "override" and not (start or end or room_name):
            check.fail("an override needs a new start, end or room")
        if start is not None and end is not None and times_refused(start, end):
            check.fail(
                end_before_start_message(start, end, end_label="end", start_label="start")[:-1]
            )
        if check.ok:
            rows.append(
                _ExceptionRow(
                    record.line, group_name, day, action == "cancel", start, end, room_name, notes
                )
            )
    return rows


def _series_meeting_on(row: _ExceptionRow, group: CourseGroup, errors: list[str]) -> Series | None:
    meeting = [s for s in group.series if is_series_date(rule_of(s), row.day)]
    if not meeting:
        errors.append(f"line {row.line}: {row.day} is not an occurrence of {group.name}")
        return None
    if len(meeting) == 1:
        return meeting[0]
    # Two series on one day: the start time says which one is meant.
    same_start = [s for s in meeting if s.start_time == row.start_time]
    if len(same_start) == 1:
        return same_start[0]
    times = ", ".join(f"{s.start_time:%H:%M}" for s in sorted(meeting, key=lambda s: s.start_time))
    errors.append(
        f"line {row.line}: {group.name} meets {len(meeting)} times on {row.day} ({times}); "
        "give the start time of the one to change"
    )
    return None


def import_exceptions(
    source, *, tz, actor: User | None = None, dry_run: bool = False
) -> ExceptionImportSummary:
    """Import per-date exceptions (`group,date,action,start,end,room,notes`), all or nothing.

    Each row cancels or overrides one occurrence of the group's series on that date and, like
    the exceptions page, updates an existing session at once. Every row is applied inside one
    savepoint (each in its own nested one, so a refused row leaves no trace and the rows after
    it are still checked against the real state); if any row fails, everything is rolled back
    and ImportErrors lists every bad line (its `lines`: what the other rows would do). With
    `dry_run` the rows are applied as for real, then rolled back.
    """
    table = read_csv_table(source, EXCEPTION_COLUMNS, EXCEPTION_OPTIONAL)
    errors = table.errors
    rows = _parse_exceptions(table.records, errors)
    groups = ByName(db.session.scalars(select(CourseGroup)).all())
    rooms = ByName(db.session.scalars(select(Room)).all())
    summary = ExceptionImportSummary()
    targets: dict[tuple[int, date], int] = {}

    outer = db.session.begin_nested()
    try:
        for row in rows:
            group = groups.get(row.group_name)
            if group is None:
                errors.append(f"line {row.line}: no group named {row.group_name}")
                continue
            room = rooms.get(row.room_name) if row.room_name else None
            if row.room_name and room is None:
                errors.append(f"line {row.line}: no room named {row.room_name}")
                continue
            series = _series_meeting_on(row, group, errors)
            if series is None:
                continue
            earlier = targets.setdefault((series.id, row.day), row.line)
            if earlier != row.line:
                errors.append(
                    f"line {row.line}: {group.name} on {row.day} "
                    f"already has a row on line {earlier}"
                )
                continue
            _apply_exception_row(row, series, room, tz, actor, summary, errors)
    except BaseException:
        outer.rollback()
        raise
    if errors:
        outer.rollback()
        raise ImportErrors(by_line(errors), summary.lines)
    if dry_run:
        outer.rollback()
    else:
        outer.commit()
    return summary


def _apply_exception_row(row, series, room, tz, actor, summary, errors) -> None:
    if row.cancel:
        change = OverrideChange(cancelled=True, notes=row.notes)
    else:
        change = OverrideChange(
            start_time=row.start_time,
            end_time=row.end_time,
            room_id=room.id if room else None,
            notes=row.notes,
        )
    existed = find_override(series.id, row.day) is not None
    savepoint = db.session.begin_nested()
    try:
        _override, occurrence = save_override(series, row.day, change, actor=actor, tz=tz)
    except (ValidationError, ConflictError, InvalidTransition) as err:
        # This row leaves no trace; the following rows are still checked.
        savepoint.rollback()
        errors.append(f"line {row.line}: {_reason(err)}")
        return
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()
    summary.lines.append(
        ImportLine(row.line, CHANGED if existed else CREATED, _described(row, series, occurrence))
    )
    summary.cancelled += row.cancel
    summary.overridden += not row.cancel
    summary.exceptions_updated += existed
    summary.exceptions_created += not existed
    summary.sessions_updated += occurrence is not None


def _described(row: _ExceptionRow, series: Series, occurrence) -> str:
    what = f"{series.group.name} on {row.day:%a %Y-%m-%d} ({series.start_time:%H:%M})"
    if row.cancel:
        change = "cancelled"
    else:
        parts = []
        if row.start_time or row.end_time:
            start = row.start_time or series.start_time
            end = row.end_time or series.end_time
            parts.append(f"to {start:%H:%M}-{end:%H:%M}")
        if row.room_name:
            parts.append(f"in {row.room_name}")
        change = "moved " + " ".join(parts)
    session = "its session changes now" if occurrence is not None else "applies when generated"
    return f"{what}: {change}; {session}"


def _reason(err: DomainError) -> str:
    """The messages a user reads, without the field names ValidationError prefixes them with."""
    if isinstance(err, ValidationError):
        return " ".join(err.errors.values())
    return err.message
