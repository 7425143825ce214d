"""Materialise series into dated occurrences over a window, idempotently and in bulk.

The hot path works on plain tuples and Core statements (one bulk INSERT, one executemany
UPDATE, one executemany DELETE) so the number of SQL statements does not grow with the
number of series, and conflicts are found by one sort-and-sweep.

A run may be narrowed to some groups (`group_ids`) and asked for `details`: then its summary
lists every session it creates, updates, removes, keeps or leaves out of date, with the old
and new values (`SessionChange`), which is what the Generate preview shows. A run that finds
nothing to do says why (`GenerationSummary.nothing_because`), e.g. every series has ended.
A single session's standing against its series (`series_standing`) is what its page says.
"""

from __future__ import annotations

import gc
import heapq
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import (
    String,
    bindparam,
    delete,
    func,
    or_,
    select,
    text,
    type_coerce,
    union,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from models import (
    Attachment,
    CourseGroup,
    DateOverride,
    Occurrence,
    OccurrenceMode,
    OccurrenceStatus,
    Room,
    Series,
    SessionNote,
    db,
)
from models.occurrence import mentor_of
from models.types import instant_reader, instant_writer, one_of, raw_instant, utcnow
from services.common.errors import ValidationError
from services.common.timeutil import LATEST_DATE, date_outside, local_day_bounds
from services.common.wording import describe_move, place_of, plural
from services.live.events import SESSIONS, STAFF, publish
from services.notifications.inbox import (
    SESSION_MOVED,
    SESSION_REMOVED,
    notify_each,
    participants_of_groups,
    with_covers,
)
from services.school_year import closed_days, list_closures
from services.timetable.clashes import store_span
from services.timetable.conflicts import (
    Slot,
    conflicts_in_window,
    describe_conflicts,
    lock_schedule,
    names_by_id,
    overlapping,
    sweep_windows,
)
from services.timetable.recurrence import (
    OverrideRule,
    PlannedOccurrence,
    SeriesRule,
    is_series_date,
    plan_occurrence,
    plan_occurrences,
    series_dates,
)
from services.timetable.video_rooms import new_room_ids

# The longest window one generation may cover (a typo like --weeks 5200 is not a term); the
# app's MAX_GENERATION_DAYS setting starts from it.
MAX_GENERATION_DAYS = 366 * 2

_table = Occurrence.__table__
_group_table = CourseGroup.__table__
_SCHEDULED = OccurrenceStatus.SCHEDULED.value
_CANCELLED = OccurrenceStatus.CANCELLED.value
_ONLINE = OccurrenceMode.ONLINE.value


# What happens to one session in a run (the preview's sections, in this order).
CREATE, UPDATE, REMOVE, KEEP, OUT_OF_DATE = "create", "update", "remove", "keep", "out_of_date"
# A series date on a closed day: no session made (or the one made, cancelled by the closure).
CLOSED = "closed"
CHANGE_KINDS = (CREATE, UPDATE, REMOVE, OUT_OF_DATE, KEEP, CLOSED)

# Why a session that differs from its series is kept (see `_Existing.is_protected`).
KEPT_COMPLETED = "completed"
KEPT_BY_HAND = "edited by hand"
KEPT_STARTED = "already started"
KEPT_RECORDS = "has notes or files"


@dataclass(frozen=True, slots=True)
class SessionChange:
    """One session of a run with details: what happens to it (`kind`), its group and series
    date, and its values before and after in words ("Mon 14 Dec 10:00-11:00 in R101",
    "cancelled"); `before` is None for a creation, `after` None when the series no longer
    holds the date. `reason`: why it is kept, or what force would do to an out-of-date one."""

    kind: str
    group_id: int
    group: str
    original_date: date
    before: str | None
    after: str | None
    occurrence_id: int | None = None
    reason: str = ""


@dataclass
class GenerationSummary:
    start: date
    end: date
    force: bool
    dry_run: bool = False
    created: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    kept: int = 0
    out_of_date: int = 0
    # Series dates on closed days (services/school_year.py): no session made for them, or
    # the one made before is cancelled by the closure.
    closed: int = 0
    conflicts: list[dict] = field(default_factory=list)
    # Sessions whose times were adjusted: in a DST gap, or an end not after the start.
    shifted: list[dict] = field(default_factory=list)
    # With `details`: every session created, updated, removed, kept or left out of date, in
    # order of date then group (not part of `as_dict`, which the CLI and API answer).
    changes: SessionChanges | None = field(default=None, repr=False)
    # Set when the window holds no session at all: why, in a sentence.
    nothing_because: str | None = None
    # The groups the run was narrowed to (None: every active group).
    group_ids: tuple[int, ...] | None = None

    def as_dict(self) -> dict:
        data = asdict(replace(self, changes=None))  # not a copy of every session's details
        for private in ("changes", "nothing_because", "group_ids"):
            data.pop(private)
        data["start"] = self.start.isoformat()
        data["end"] = self.end.isoformat()
        return data

    def changes_of(self, kind: str) -> Sequence[SessionChange]:
        return self.changes.of_kind(kind) if self.changes is not None else []

    @property
    def changed_anything(self) -> bool:
        return bool(self.created or self.updated or self.removed)


def resolve_window(
    start: date,
    *,
    weeks: int | None = None,
    end: date | None = None,
    max_days: int = MAX_GENERATION_DAYS,
) -> tuple[date, date]:
    """The half-open window [start, end) from either a number of weeks or an end date."""
    if (weeks is None) == (end is None):
        raise ValidationError("Give either a number of weeks or an end date.", field="weeks")
    if message := date_outside(start):
        raise ValidationError(message, field="start")
    if weeks is not None:
        if isinstance(weeks, bool) or not isinstance(weeks, int) or weeks < 1:
            raise ValidationError(
                "Number of weeks must be a whole number of at least 1.", field="weeks"
            )
        if weeks * 7 > max_days:
            raise ValidationError(f"At most {max_days // 7} weeks at a time.", field="weeks")
        end = start + timedelta(days=7 * weeks)
    if end <= start:
        raise ValidationError("The end date must be after the start date.", field="end")
    if (end - start).days > max_days:
        raise ValidationError(f"The range can span at most {max_days} days.", field="end")
    if end > LATEST_DATE + timedelta(days=1):
        raise ValidationError(
            f"The range must end by {LATEST_DATE:%d %b %Y}.",
            field="end" if weeks is None else "weeks",
        )
    return start, end


def sessions_in_window(start: date, end: date, group_ids=None) -> int:
    """How many sessions the series of the active groups (or of `group_ids`) hold in
    [start, end): the work a generation over the window does, creating or comparing each
    one. Read from the series alone (one query), before any run."""
    return sum(len(series_dates(rule, start, end)) for rule in _load_rules(start, end, group_ids))


# A notification lists at most this many of a group's changed sessions (then "and N more").
LISTED_CHANGES = 10


def _earliest_start(change: tuple[_Existing, PlannedOccurrence | None]) -> datetime:
    return change[0].start_utc


class _ChangedGroups:
    """What a forced run changed, by group, for the notifications: the group's earliest
    `LISTED_CHANGES` changes (by the session's start) and how many sessions changed and were
    removed. Kept so, a run in windows holds a few rows per group, not every changed one."""

    def __init__(self) -> None:
        # group id -> [listed (row, plan or None), changed count, removed count]
        self.groups: dict[int, list] = {}

    def __bool__(self) -> bool:
        return bool(self.groups)

    def add(self, changed: list[tuple[_Existing, PlannedOccurrence | None]]) -> None:
        touched = set()
        for row, plan in changed:
            entry = self.groups.get(row.group_id)
            if entry is None:
                entry = self.groups[row.group_id] = [[], 0, 0]
            entry[0].append((row, plan))
            entry[2 if plan is None else 1] += 1
            touched.add(row.group_id)
        for group_id in touched:
            entry = self.groups[group_id]
            # Stable, like sorting all of them and taking the first few.
            entry[0] = heapq.nsmallest(LISTED_CHANGES, entry[0], key=_earliest_start)


def _tell_participants(changed: _ChangedGroups, tz) -> int:
    """One notification per group whose coming sessions a forced generation moved, cancelled
    or removed, to its mentor and students: their timetable changed under them. Returns how
    many notifications were added."""
    by_group = changed.groups
    listed = [change for entry in by_group.values() for change in entry[0]]
    names = names_by_id(CourseGroup, by_group)
    room_ids = {r.room_id for r, _ in listed if r.room_id}
    room_ids |= {plan.room_id for _, plan in listed if plan is not None and plan.room_id}
    rooms = names_by_id(Room, room_ids)
    # The substitutes of the listed sessions (covering them before or after) are told too.
    covers = [(r.group_id, r.cover_id) for r, _ in listed]
    covers += [(r.group_id, plan.cover_id) for r, plan in listed if plan is not None]
    people = with_covers(participants_of_groups(by_group), covers)
    messages = []
    for group_id in sorted(by_group, key=lambda group: _earliest_start(by_group[group][0][0])):
        changes, changed_count, removed = by_group[group_id]
        lines = []
        for row, plan in changes:
            was = f"{row.start_utc.astimezone(tz):%a %d %b %H:%M}"
            if plan is None:
                lines.append(f"{was}: removed")
            elif plan.cancelled:
                lines.append(f"{was}: cancelled")
            else:
                # Only what changed: "moves to Library (same time)", "moves to 10:30".
                before, after = (
                    (
                        at.start_utc.astimezone(tz),
                        at.end_utc.astimezone(tz),
                        place_of(rooms.get(at.room_id), online=at.mode == _ONLINE),
                    )
                    for at in (row, plan)
                )
                moved = describe_move(before, after)
                if row.status == _CANCELLED:  # a cancelled date the series holds again
                    lines.append(f"{was}: back on" + (f", {moved}" if moved else ""))
                else:
                    lines.append(f"{was}: {moved or 'updated'}")
        total = changed_count + removed
        if total > LISTED_CHANGES:
            lines.append(f"and {total - LISTED_CHANGES} more")
        counts = [f"{plural(changed_count, 'session')} changed"] if changed_count else []
        counts += [f"{removed} removed"] if removed else []
        messages.append(
            (
                people.get(group_id, set()),
                SESSION_REMOVED if removed == total else SESSION_MOVED,
                f"{names[group_id]}: {' and '.join(counts)} by a timetable update",
                "\n".join(lines),
                "/schedule/mine",
            )
        )
    return notify_each(messages)


def _load_rules(window_start: date, window_end: date, group_ids=None) -> list[SeriesRule]:
    query = (
        select(
            Series.id,
            Series.group_id,
            Series.weekday_mask,
            Series.every_weeks,
            Series.start_time,
            Series.end_time,
            Series.room_id,
            Series.mode,
            Series.first_date,
            Series.last_date,
        )
        .join(CourseGroup, CourseGroup.id == Series.group_id)
        .where(
            CourseGroup.active.is_(True),
            Series.first_date < window_end,
            (Series.last_date.is_(None)) | (Series.last_date >= window_start),
        )
    )
    params = {}
    if group_ids is not None:
        query = query.where(one_of(Series.group_id, name="groups"))
        params["groups"] = group_ids
    rows = db.session.execute(query, params)
    return [SeriesRule(*row[:7], str(row[7]), *row[8:]) for row in rows]


def load_override_rules(
    window_start: date, window_end: date, series_ids=None
) -> dict[tuple[int, date], OverrideRule]:
    query = select(
        DateOverride.series_id,
        DateOverride.original_date,
        DateOverride.cancelled,
        DateOverride.new_date,
        DateOverride.start_time,
        DateOverride.end_time,
        DateOverride.room_id,
        DateOverride.mentor_id,
    ).where(DateOverride.original_date >= window_start, DateOverride.original_date < window_end)
    params = {}
    if series_ids is not None:
        query = query.where(one_of(DateOverride.series_id, name="series"))
        params["series"] = series_ids
    return {(row[0], row[1]): OverrideRule(*row) for row in db.session.execute(query, params)}


class _Existing(NamedTuple):
    """An occurrence as loaded for comparison (a named tuple, like `PlannedOccurrence`)."""

    id: int
    group_id: int
    series_id: int | None
    original_date: date | None
    start_utc: datetime
    end_utc: datetime
    room_id: int | None
    mode: str
    status: str
    edited_by_hand: bool
    mentor_id: int  # who teaches it: its cover, else its group's mentor
    closure_id: int | None
    cover_id: int | None

    def matches(self, plan: PlannedOccurrence) -> bool:
        if self.closure_id != plan.closure_id:
            return False  # cancelled by a closure the plan does not know, or the other way
        if plan.cancelled:
            # A cancelled date is never compared on time or room: it is simply cancelled.
            return self.status == _CANCELLED
        return (
            self.status == _SCHEDULED
            and self.start_utc == plan.start_utc
            and self.end_utc == plan.end_utc
            and self.room_id == plan.room_id
            and self.mode == plan.mode
            and self.group_id == plan.group_id
            and self.cover_id == plan.cover_id
        )

    def is_protected(self, now: datetime) -> bool:
        """History and hand-made records that regeneration must never change or remove
        (sessions with notes or files are kept too: see `_with_records`)."""
        return (
            self.status == OccurrenceStatus.COMPLETED
            or self.edited_by_hand
            or self.start_utc <= now
        )


def _with_records(window_start: date, window_end: date) -> set[int]:
    """Series sessions of the window that carry a teacher's notes or files: like completed
    ones, regeneration never changes or removes them.

    Asked from the notes and files (few) to their sessions, each looked up by id: joined the
    other way, SQLite, which keeps no statistics, walked every session of the term to find
    none (2.1 s at 5,000 series with no notes or files at all)."""
    in_window = (
        Occurrence.series_id.is_not(None),
        Occurrence.original_date >= window_start,
        Occurrence.original_date < window_end,
    )

    def of_window(column):
        return (
            select(column)
            .where(select(Occurrence.id).where(Occurrence.id == column, *in_window).exists())
            .distinct()
        )

    noted = of_window(SessionNote.occurrence_id)
    filed = of_window(Attachment.occurrence_id)
    return set(db.session.scalars(union(noted, filed)))


def _load_existing(
    window_start: date,
    window_end: date,
    start_utc: datetime,
    end_utc: datetime,
    dialect: str,
    *,
    overlapping_too: bool = True,
) -> list[_Existing]:
    """Series occurrences stemming from the window, plus (`overlapping_too`) everything
    overlapping it in time.

    A Core query with instants read raw (see `raw_instant`) and enums as their stored text:
    this loads every session of the term, so per-value conversions are what it costs.
    """
    c = _table.c
    in_window = (
        c.series_id.is_not(None)
        & (c.original_date >= window_start)
        & (c.original_date < window_end)
    )
    in_time = overlapping(c.start_utc, c.end_utc, start_utc, end_utc)
    rows = db.session.execute(
        select(
            c.id,
            c.group_id,
            c.series_id,
            c.original_date,
            raw_instant(c.start_utc, dialect),
            raw_instant(c.end_utc, dialect),
            c.room_id,
            type_coerce(c.mode, String),
            type_coerce(c.status, String),
            c.edited_by_hand,
            mentor_of(c, _group_table.c),
            c.closure_id,
            c.cover_mentor_id,
        )
        .join_from(_table, _group_table, _group_table.c.id == c.group_id)
        .where(in_window | in_time if overlapping_too else in_window)
    ).all()
    read = instant_reader(dialect)
    return [_Existing(*row[:4], read(row[4]), read(row[5]), *row[6:]) for row in rows]


_INSTANT_COLUMNS = ("start_utc", "end_utc", "created_at", "updated_at")


def _insert_ignoring_duplicates(dialect: str):
    """INSERT that skips a (series, original_date) another transaction created meanwhile."""
    if dialect == "postgresql":
        stmt = postgresql.insert(_table).on_conflict_do_nothing(
            index_elements=["series_id", "original_date"]
        )
    elif dialect == "sqlite":
        stmt = sqlite.insert(_table).on_conflict_do_nothing(
            index_elements=["series_id", "original_date"]
        )
    else:
        stmt = _table.insert()
    # Instants travel in their stored form (see `raw_instant`); the other columns by name.
    return stmt.values(
        {name: raw_instant(bindparam(f"b_{name}"), dialect) for name in _INSTANT_COLUMNS}
    )


def _update_in_place(dialect: str):
    """UPDATE of one occurrence by id to its planned values, bumping its sequence."""
    return (
        update(_table)
        .where(_table.c.id == bindparam("b_id"))
        .values(
            start_utc=raw_instant(bindparam("b_start_utc"), dialect),
            end_utc=raw_instant(bindparam("b_end_utc"), dialect),
            room_id=bindparam("b_room_id"),
            mode=bindparam("b_mode"),
            # A session turned online keeps the video room it may already have.
            video_room_id=func.coalesce(_table.c.video_room_id, bindparam("b_video_room_id")),
            group_id=bindparam("b_group_id"),
            status=bindparam("b_status"),
            closure_id=bindparam("b_closure_id"),
            cover_mentor_id=bindparam("b_cover_id"),
            sequence=_table.c.sequence + 1,
            updated_at=raw_instant(bindparam("b_updated_at"), dialect),
        )
    )


def _update_values(occurrence_id: int, plan: PlannedOccurrence, stored) -> dict:
    """Parameters of `_update_in_place` for one occurrence (`b_updated_at` is added later)."""
    return {
        "b_id": occurrence_id,
        "b_start_utc": stored[plan.start_utc],
        "b_end_utc": stored[plan.end_utc],
        "b_room_id": plan.room_id,
        "b_mode": plan.mode,
        "b_video_room_id": None,
        "b_group_id": plan.group_id,
        "b_status": _CANCELLED if plan.cancelled else _SCHEDULED,
        "b_closure_id": plan.closure_id,
        "b_cover_id": plan.cover_id,
    }


def _give_online_sessions_video_rooms(to_insert: list[dict], to_update: list[dict]) -> None:
    """Every online session has a video room: new ones get theirs, updated ones keep theirs
    (the UPDATE only fills an empty one)."""
    inserts = [values for values in to_insert if values["mode"] == _ONLINE]
    updates = [values for values in to_update if values["b_mode"] == _ONLINE]
    if not inserts and not updates:
        return
    ids = iter(new_room_ids(len(inserts) + len(updates)))
    for values in inserts:
        values["video_room_id"] = next(ids)
    for values in updates:
        values["b_video_room_id"] = next(ids)


# SQLite's default page cache (2 MiB) is far smaller than a year of a large school's sessions
# and their indexes (about 50 MB for 1,200 groups): a bulk write spilled dirty index pages to
# the WAL over and over, which took about half a run. The connection that runs a generation
# gets this much (in KiB; SQLite allocates it only as pages are used, and the pooled
# connection keeps it).
SQLITE_CACHE_KIB = 65536


def _enlarge_sqlite_cache() -> None:
    connection = db.session.connection()
    current = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    # A negative size is in KiB, a positive one in pages (4 KiB by default).
    if (-current if current < 0 else current * 4) < SQLITE_CACHE_KIB:
        connection.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")


def _date_writer(dialect: str):
    """Turns a date into the value the driver stores (SQLite: SQLAlchemy's ISO text)."""
    return date.isoformat if dialect == "sqlite" else _as_is


def _as_is(value):
    return value


def _execute_many(statement, rows: list[dict]) -> None:
    """`statement` once per row through the driver's executemany, in the same transaction.

    The rows hold their stored form already (instants from `instant_writer`, dates from
    `_date_writer`, enums as their text), so SQLAlchemy's per-row parameter processing is
    skipped: on a year of a large school (over a hundred thousand rows) it cost about as much
    as the database's own work.
    """
    connection = db.session.connection()
    compiled = statement.compile(dialect=connection.dialect, column_keys=list(rows[0]))
    # Values the statement holds itself (`sequence + 1`), the same for every row.
    fixed = {name: value for name, value in compiled.params.items() if name not in rows[0]}
    if fixed:
        rows = [{**fixed, **row} for row in rows]
    params = rows
    if compiled.positional:
        names = compiled.positiontup
        get = itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))
        params = list(map(get, rows))
    connection.exec_driver_sql(compiled.string, params)


# PostgreSQL: the rows travel as one array per column and are unnested by the server, in one
# statement each for the inserts and the updates. An executemany sends one statement per row
# (pipelined, yet the server still runs each alone): 127,608 inserts took 17 s that way. The
# statements do what `_insert_ignoring_duplicates` and `_update_in_place` do; their SQL is
# made of the constants below only. Columns: (row key, column, array type).
_INSERTED_COLUMNS = (
    ("group_id", "group_id", "integer"),
    ("series_id", "series_id", "integer"),
    ("original_date", "original_date", "date"),
    ("b_start_utc", "start_utc", "timestamptz"),
    ("b_end_utc", "end_utc", "timestamptz"),
    ("room_id", "room_id", "integer"),
    ("mode", "mode", "text"),
    ("video_room_id", "video_room_id", "text"),
    ("status", "status", "text"),
    ("edited_by_hand", "edited_by_hand", "boolean"),
    ("cover_mentor_id", "cover_mentor_id", "integer"),
    ("sequence", "sequence", "integer"),
    ("b_created_at", "created_at", "timestamptz"),
    ("b_updated_at", "updated_at", "timestamptz"),
)
_UPDATED_COLUMNS = (
    ("b_id", "id", "integer"),
    ("b_start_utc", "start_utc", "timestamptz"),
    ("b_end_utc", "end_utc", "timestamptz"),
    ("b_room_id", "room_id", "integer"),
    ("b_mode", "mode", "text"),
    ("b_video_room_id", "video_room_id", "text"),
    ("b_group_id", "group_id", "integer"),
    ("b_status", "status", "text"),
    ("b_closure_id", "closure_id", "integer"),
    ("b_cover_id", "cover_mentor_id", "integer"),
    ("b_updated_at", "updated_at", "timestamptz"),
)


def _unnested(columns) -> str:
    # `%(...)b`: psycopg sends the arrays in binary, five times faster to dump than as text.
    arrays = ", ".join(f"%({key})b::{kind}[]" for key, _, kind in columns)
    names = ", ".join(column for _, column, _ in columns)
    return f"unnest({arrays}) AS v({names})"


def _as_arrays(columns, rows: list[dict]) -> dict[str, list]:
    return {key: [row[key] for row in rows] for key, _, _ in columns}


# The new sessions go through a temporary table filled by COPY (binary), then one INSERT ...
# SELECT that skips a (series, original_date) another transaction created meanwhile: the same
# INSERT ... ON CONFLICT fed by arrays spent most of a large run binding and unnesting them
# (see README, Performance). Types as COPY's binary format sends them (`set_types`).
_STAGING = "generation_staging"
_STAGED_TYPES = {
    "integer": "int4",
    "date": "date",
    "timestamptz": "timestamptz",
    "text": "text",
    "boolean": "bool",
}


def _staged_insert(to_insert: list[dict]) -> None:
    connection = db.session.connection()
    names = ", ".join(column for _, column, _ in _INSERTED_COLUMNS)
    typed = ", ".join(f"{column} {kind}" for _, column, kind in _INSERTED_COLUMNS)
    # Dropped at commit; a chunked run (one transaction) empties and refills it.
    connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGING} ({typed}) ON COMMIT DROP"
    )
    connection.exec_driver_sql(f"TRUNCATE {_STAGING}")
    keys = [key for key, _, _ in _INSERTED_COLUMNS]
    get = itemgetter(*keys)
    cursor = connection.connection.driver_connection.cursor()
    try:
        with cursor.copy(f"COPY {_STAGING} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([_STAGED_TYPES[kind] for _, _, kind in _INSERTED_COLUMNS])
            for row in to_insert:
                copy.write_row(get(row))
    finally:
        cursor.close()
    connection.exec_driver_sql(
        f"INSERT INTO occurrence ({names}) SELECT {names} FROM {_STAGING} "  # noqa: S608
        "ON CONFLICT (series_id, original_date) DO NOTHING"
    )


def _insert_and_update_from_arrays(to_insert: list[dict], to_update: list[dict]) -> None:
    connection = db.session.connection()
    if to_insert:
        _staged_insert(to_insert)
    if to_update:
        connection.exec_driver_sql(
            "UPDATE occurrence AS o SET start_utc = v.start_utc, end_utc = v.end_utc, "  # noqa: S608
            "room_id = v.room_id, mode = v.mode, "
            # A session turned online keeps the video room it may already have.
            "video_room_id = coalesce(o.video_room_id, v.video_room_id), "
            "group_id = v.group_id, status = v.status, closure_id = v.closure_id, "
            "cover_mentor_id = v.cover_mentor_id, "
            "sequence = o.sequence + 1, "
            f"updated_at = v.updated_at FROM {_unnested(_UPDATED_COLUMNS)} WHERE o.id = v.id",
            _as_arrays(_UPDATED_COLUMNS, to_update),
        )


class _Memo(dict):
    """`memo[x]` is `function(x)`, computed once per distinct x."""

    def __init__(self, function):
        super().__init__()
        self.function = function

    def __missing__(self, key):
        value = self[key] = self.function(key)
        return value


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for one generation run.

    A run holds about three objects per session alive at once (planned, loaded, slot); every
    full collection that this triggers walks all of them and the rest of the heap to free
    nothing, which measured at about a fifth of a run. None of them is in a reference cycle:
    reference counting frees them as usual, and the collector resumes afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def generate_occurrences(
    start: date,
    end: date,
    *,
    tz: ZoneInfo,
    force: bool = False,
    dry_run: bool = False,
    now: datetime | None = None,
    group_ids=None,
    details: bool = False,
    window_days: int | None = None,
    on_conflicts: Callable[[list[dict]], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> GenerationSummary:
    """Bring the occurrences of every active series with a date in [start, end) up to date.

    Missing occurrences are created. Existing ones that differ from their series (or no
    longer belong to any) are counted as out of date, or with `force` updated in place /
    removed. Protected ones (completed, edited by hand, already started) are never touched
    and counted as kept. Flushes only; the caller commits. With `dry_run` every write is
    rolled back and the summary tells what would happen. `group_ids` narrows the run to the
    series and sessions of those groups (and the conflicts to those involving them);
    `details` lists every session concerned (`GenerationSummary.changes`).

    With `window_days` (the command line's), the run works window by window over
    [start, end), each window's sessions planned, compared and written (flushed) before the
    next, in the same transaction: it holds one window's sessions at a time, not the whole
    term's. Its conflicts are found window by window once everything is written, and given
    as they are found to `on_conflicts` (a list of described conflicts at a time), if given,
    instead of being kept in the summary (a run in one window keeps them there too, and
    gives them all at once). `details` runs in one window. `on_progress(done, total)` is
    told after each window is written (a background run shows it).
    """
    if end <= start:
        raise ValidationError("The end date must be after the start date.", field="end")
    now = now or datetime.now(UTC)
    groups = tuple(sorted(set(group_ids))) if group_ids is not None else None
    # A dry run is the same run, rolled back to where it began.
    savepoint = db.session.begin_nested() if dry_run else None
    try:
        with _cyclic_gc_paused():
            summary = _generate(
                start,
                end,
                tz=tz,
                force=force,
                now=now,
                groups=groups,
                log=details,
                window_days=window_days,
                on_conflicts=on_conflicts,
                on_progress=on_progress,
            )
        if not (
            summary.created or summary.unchanged or summary.kept or summary.out_of_date
        ) and not (summary.updated or summary.removed):
            summary.nothing_because = _why_nothing(start, end, groups)
    finally:
        if savepoint is not None:
            savepoint.rollback()
    summary.dry_run = dry_run
    return summary


def _generate(
    start: date,
    end: date,
    *,
    tz: ZoneInfo,
    force: bool,
    now: datetime,
    groups: tuple[int, ...] | None = None,
    log: bool = False,
    window_days: int | None = None,
    on_conflicts: Callable[[list[dict]], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> GenerationSummary:
    summary = GenerationSummary(start=start, end=end, force=force, group_ids=groups)
    # Serialise with other writers, so the counts and conflicts are those of what is stored.
    lock_schedule()
    dialect = db.session.get_bind().dialect.name
    if dialect == "sqlite":
        _enlarge_sqlite_cache()
    write = instant_writer(dialect)
    # Most instants recur (a few dozen times a day), so each is converted once.
    stored, stamp = _Memo(write), write(utcnow())
    windows = _windows(start, end, None if log else window_days)
    changed = _ChangedGroups()
    for done, window in enumerate(windows, start=1):
        existing = None  # the last window's rows go before the next window's come
        work = _RunWrites(stored=stored, stamp=stamp, log=log)
        existing = _generate_window(
            window,
            work,
            summary,
            tz=tz,
            now=now,
            groups=groups,
            dialect=dialect,
            whole=len(windows) == 1,
        )
        changed.add(work.changed)
        # Only the counts and a few rows per changed group outlive the window.
        del work.to_insert[:], work.to_update[:], work.changed[:]
        if on_progress is not None:
            on_progress(done, len(windows))
    notified = _tell_participants(changed, tz) if changed else 0
    sessions_written = summary.created + summary.updated + summary.removed
    _analyze_after_bulk_writes(dialect, occurrence=sessions_written, notification=notified)
    if log:
        summary.changes = _describe_changes(work.logged, tz)
    report = _ConflictReport(summary, tz, groups, on_conflicts, whole=len(windows) == 1)
    utc_windows = [local_day_bounds(*window, tz) for window in windows]
    if summary.changed_anything:
        # Open week grids of these dates redraw themselves (the bulk writes pass no ORM hook).
        publish(SESSIONS, {"span": [start.isoformat(), end.isoformat()]}, audience=STAFF)
        # What was written changes the stored clashes; the sweep that stores them finds the
        # run's conflicts too.
        existing = None
        store_span(utc_windows, also=_moved_out(start, end, utc_windows), on_window=report)
        _analyze_after_bulk_writes(dialect, session_clash=sessions_written)
        # Sessions loaded as objects earlier in the transaction read what was written.
        db.session.expire_all()
    elif len(windows) == 1:
        # Nothing was written: the rows already loaded are the final state.
        slots = _slots_of(existing, *utc_windows[0])
        report(*utc_windows[0], slots, conflicts_in_window(*utc_windows[0], slots))
    else:
        del existing
        _report_by_window(utc_windows, report)
    return summary


def _windows(start: date, end: date, days: int | None) -> list[tuple[date, date]]:
    """[start, end) cut into consecutive windows of `days` (the last may be shorter); one
    window without a positive `days`."""
    if days is None or days < 1 or (end - start).days <= days:
        return [(start, end)]
    cuts = [start + timedelta(days=n) for n in range(0, (end - start).days, days)]
    return list(zip(cuts, [*cuts[1:], end], strict=True))


def plan_window(
    rules: list[SeriesRule], overrides: dict, start: date, end: date, tz: ZoneInfo
) -> dict:
    """The plans of `rules` with a series date in [start, end), by (series, date): closed
    days cancelled by their closure, and on a make-up day (a closure that `runs_as` another
    day) the sessions of that other day's timetable made on it."""
    marked = _closed_marked(plan_occurrences(rules, overrides, start, end, tz), tz)
    for swap in list_closures(start, end - timedelta(days=1)):
        if swap.runs_as is not None:
            _made_up(marked, swap, rules, overrides, tz)
    return marked


def _closed_marked(plans: list[PlannedOccurrence], tz: ZoneInfo) -> dict:
    """The plans by (series, date), those on a closed day (its local date, after exceptions)
    cancelled by their closure; a date an exception cancels stays cancelled by it."""
    if not plans:
        return {}
    day_of = {p: p.start_utc.astimezone(tz).date() for p in plans}
    days = day_of.values()
    closed = closed_days(min(days), max(days) + timedelta(days=1))
    marked = {}
    for plan in plans:
        closure = (
            closed.closure_for(plan.group_id, day_of[plan])
            if closed and not plan.cancelled
            else None
        )
        if closure is not None:
            plan = plan._replace(cancelled=True, closure_id=closure)
        marked[(plan.series_id, plan.original_date)] = plan
    return marked


def _made_up(marked: dict, swap, rules: list[SeriesRule], overrides: dict, tz: ZoneInfo) -> None:
    """Add to `marked` the sessions `swap.runs_as`'s timetable has, on the make-up day (one
    per series, keyed by the make-up day: a series meeting on both days meets once), for
    the groups it concerns; another closure of that day still closes them."""
    day, source = swap.first_day, swap.runs_as
    groups = None if swap.whole_school else {g.id for g in swap.groups}
    others = closed_days(day, day + timedelta(days=1), without=swap.id)
    for rule in rules:
        if (groups is not None and rule.group_id not in groups) or not is_series_date(rule, source):
            continue
        if not rule.first_date <= day <= (rule.last_date or day):
            continue  # the series does not run on the make-up day
        plan = plan_occurrence(rule, day, overrides.get((rule.id, day)), tz)
        closure = others.closure_for(rule.group_id, day) if not plan.cancelled else None
        if closure is not None:
            plan = plan._replace(cancelled=True, closure_id=closure)
        marked[(rule.id, day)] = plan


def _generate_window(
    window: tuple[date, date],
    work: _RunWrites,
    summary: GenerationSummary,
    *,
    tz: ZoneInfo,
    now: datetime,
    groups: tuple[int, ...] | None,
    dialect: str,
    whole: bool,
) -> list[_Existing]:
    """Plan, compare and write the sessions whose series date is in `window` (flushed, in the
    caller's transaction); counted in `summary`. Returns the stored rows it compared, and
    with `whole` (the run is this one window) every session overlapping it in time too, from
    which an unchanged run finds its conflicts without reading them again."""
    start, end = window
    start_utc, end_utc = local_day_bounds(start, end, tz)
    rules = _load_rules(start, end, groups)
    overrides = load_override_rules(start, end, [r.id for r in rules] if groups else None)
    planned = plan_window(rules, overrides, start, end, tz)
    existing = _load_existing(start, end, start_utc, end_utc, dialect, overlapping_too=whole)
    seen = _compare_stored(
        existing, planned, work, summary, window, now=now, force=summary.force, groups=groups
    )
    _plan_inserts(planned, seen, work, summary, stored_date=_date_writer(dialect))
    _write(work, dialect)
    summary.created += len(work.to_insert)
    summary.updated += len(work.to_update)
    summary.removed += len(work.to_delete)
    return existing


# A run that wrote at least this many sessions has PostgreSQL refresh the statistics of what it
# wrote (ANALYZE) before it commits: autovacuum would, but only later, and meanwhile the
# planner took a term of sessions for an empty table (a grid fragment took 294 ms, not 40).
ANALYZE_AFTER_ROWS = 10_000


def _analyze_after_bulk_writes(dialect: str, **rows_by_table: int) -> None:
    if dialect != "postgresql":
        return
    written = [table for table, rows in rows_by_table.items() if rows >= ANALYZE_AFTER_ROWS]
    if written:
        db.session.execute(text(f"ANALYZE {', '.join(written)}"))


class _ConflictReport:
    """A run's conflicts, told window by window (`store_span`'s `on_window`): a pair belongs to
    the window where the two sessions' overlap begins (the run's first, if it begins before),
    so it is told once however many windows they reach into; of `groups` only, when given.
    Given to `on_conflicts` as they are found, if given, else kept in the summary (a run in
    one window keeps them there too)."""

    def __init__(self, summary: GenerationSummary, tz: ZoneInfo, groups, on_conflicts, *, whole):
        self.summary, self.tz, self.groups, self.on_conflicts = summary, tz, groups, on_conflicts
        self.keep = whole or on_conflicts is None
        self.run_start = local_day_bounds(summary.start, summary.end, tz)[0]

    def __call__(self, start_utc: datetime, end_utc: datetime, slots: list[Slot], found) -> None:
        starts = {slot.occurrence_id: slot.start for slot in slots}
        found = [
            c
            for c in found
            if start_utc <= max(starts[c.first_id], starts[c.second_id], self.run_start) < end_utc
        ]
        if self.groups is not None:
            found = _involving(found, self.groups)
        described = describe_conflicts(found, self.tz)
        if self.keep:
            self.summary.conflicts.extend(described)
        if self.on_conflicts is not None:
            self.on_conflicts(described)


def _report_by_window(windows: list[tuple[datetime, datetime]], report: _ConflictReport) -> None:
    """Each window's conflicts to `report`, read back (a run that wrote nothing)."""
    for window in sweep_windows(windows):
        report(*window)


def _slots_of(existing: list[_Existing], start_utc: datetime, end_utc: datetime) -> list[Slot]:
    """The non-cancelled sessions among rows loaded by the run, overlapping the window."""
    return [
        Slot(r.id, r.group_id, r.start_utc, r.end_utc, r.room_id, r.mentor_id)
        for r in existing
        if r.status != OccurrenceStatus.CANCELLED
        and r.start_utc < end_utc
        and r.end_utc > start_utc
    ]


def _moved_out(start: date, end: date, windows: list[tuple[datetime, datetime]]) -> set[int]:
    """Sessions of the run's dates that an exception moved outside its span: their stored
    clashes are refreshed one by one (`store_span` sweeps the span)."""
    span_start, span_end = windows[0][0], windows[-1][1]
    return set(
        db.session.scalars(
            select(Occurrence.id).where(
                Occurrence.original_date >= start,
                Occurrence.original_date < end,
                or_(Occurrence.end_utc <= span_start, Occurrence.start_utc >= span_end),
            )
        )
    )


@dataclass
class _RunWrites:
    """What one run writes, in the stored form of its dialect, and why (with details)."""

    stored: _Memo  # instant -> its stored form
    stamp: object  # now, stored
    log: bool
    to_insert: list[dict] = field(default_factory=list)
    to_update: list[dict] = field(default_factory=list)
    to_delete: list[dict] = field(default_factory=list)
    # For the participants: (stored row, plan or None when removed) per changed session.
    changed: list[tuple[_Existing, PlannedOccurrence | None]] = field(default_factory=list)
    # With details: (kind, existing row or None, plan or None, reason) per session concerned.
    logged: list[tuple[str, _Existing | None, PlannedOccurrence | None, str]] = field(
        default_factory=list
    )


def _compare_stored(
    existing: list[_Existing],
    planned: dict,
    work: _RunWrites,
    summary: GenerationSummary,
    window: tuple[date, date],
    *,
    now: datetime,
    force: bool,
    groups: tuple[int, ...] | None,
) -> set:
    """Sort the stored sessions of the window's series into unchanged, kept (protected),
    out of date, or (with force) to update or remove; the keys (series, date) found."""
    (start, end), log = window, work.log
    seen = set()
    recorded: set[int] | None = None  # sessions with notes or files, read when first needed
    for row in existing:
        if row.series_id is None or not (start <= row.original_date < end):
            continue  # one-time sessions, or moved into the window from outside it
        if groups is not None and row.group_id not in groups:
            continue
        key = (row.series_id, row.original_date)
        seen.add(key)
        plan = planned.get(key)
        if plan is not None and row.matches(plan):
            if plan.closure_id is None:
                summary.unchanged += 1
            else:
                summary.closed += 1
            continue
        if recorded is None:
            recorded = _with_records(start, end)
        if row.is_protected(now) or row.id in recorded:
            summary.kept += 1
            if log:
                work.logged.append((KEEP, row, plan, _kept_because(row, now, recorded)))
        elif not force:
            summary.out_of_date += 1
            if log:
                would = "force would remove it" if plan is None else "force would update it"
                work.logged.append((OUT_OF_DATE, row, plan, would))
        elif plan is None:
            work.to_delete.append({"b_id": row.id})
            work.changed.append((row, None))
            if log:
                work.logged.append((REMOVE, row, None, ""))
        else:
            work.to_update.append(_update_values(row.id, plan, work.stored))
            work.changed.append((row, plan))
            if log:
                work.logged.append((UPDATE, row, plan, ""))
    return seen


def _plan_inserts(
    planned: dict, seen: set, work: _RunWrites, summary: GenerationSummary, *, stored_date
) -> None:
    """A row to insert for every planned session not stored yet; shifted dates noted."""
    stored, stamp = work.stored, work.stamp
    for key, plan in planned.items():
        if plan.shifted:
            summary.shifted.append(
                {"series_id": plan.series_id, "date": plan.original_date.isoformat()}
            )
        if key not in seen and plan.closure_id is not None:
            summary.closed += 1
            if work.log:
                work.logged.append((CLOSED, None, plan, "a closed day"))
        elif key not in seen:
            if work.log:
                work.logged.append((CREATE, None, plan, ""))
            work.to_insert.append(
                {
                    "group_id": plan.group_id,
                    "series_id": plan.series_id,
                    "original_date": stored_date(plan.original_date),
                    "b_start_utc": stored[plan.start_utc],
                    "b_end_utc": stored[plan.end_utc],
                    "room_id": plan.room_id,
                    "mode": plan.mode,
                    "video_room_id": None,
                    "status": _CANCELLED if plan.cancelled else _SCHEDULED,
                    "edited_by_hand": False,
                    "cover_mentor_id": plan.cover_id,
                    "sequence": 0,
                    "b_created_at": stamp,
                    "b_updated_at": stamp,
                }
            )


def _write(work: _RunWrites, dialect: str) -> None:
    """The inserts, updates and deletes of one run, in bulk statements."""
    to_insert, to_update, to_delete = work.to_insert, work.to_update, work.to_delete
    _give_online_sessions_video_rooms(to_insert, to_update)
    for values in to_update:
        values["b_updated_at"] = work.stamp
    if dialect == "postgresql":
        _insert_and_update_from_arrays(to_insert, to_update)
    else:
        if to_insert:
            _execute_many(_insert_ignoring_duplicates(dialect), to_insert)
        if to_update:
            _execute_many(_update_in_place(dialect), to_update)
    if to_delete:
        db.session.execute(delete(_table).where(_table.c.id == bindparam("b_id")), to_delete)


def _involving(conflicts: list, groups: tuple[int, ...]) -> list:
    """The conflicts with at least one session of `groups` (one query)."""
    ids = {c.first_id for c in conflicts} | {c.second_id for c in conflicts}
    if not ids:
        return []
    # The lists bound as one parameter each: a large school's thousands of conflicts would
    # pass SQLite's limit of 32,766 bound parameters.
    theirs = set(
        db.session.scalars(
            select(Occurrence.id).where(
                one_of(Occurrence.id, name="ids"),
                one_of(Occurrence.group_id, name="groups"),
            ),
            {"ids": ids, "groups": groups},
        )
    )
    return [c for c in conflicts if c.first_id in theirs or c.second_id in theirs]


def _kept_because(row: _Existing, now: datetime, recorded: set[int]) -> str:
    if row.status == OccurrenceStatus.COMPLETED:
        return KEPT_COMPLETED
    if row.edited_by_hand:
        return KEPT_BY_HAND
    if row.start_utc <= now:
        return KEPT_STARTED
    return KEPT_RECORDS if row.id in recorded else ""


def session_values(
    start_utc: datetime,
    end_utc: datetime,
    *,
    room: str | None,
    online: bool,
    cancelled: bool,
    tz: ZoneInfo,
) -> str:
    """A session's values in words: 'Mon 14 Dec 10:00-11:00 in R101' (an en dash), '...
    online', or 'cancelled (was Mon 14 Dec ...)'; an end on the next day says so."""
    start, end = start_utc.astimezone(tz), end_utc.astimezone(tz)
    until = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%H:%M} (+1 day)"
    text = f"{start:%a %d %b} {start:%H:%M}\u2013{until} {place_of(room, online=online)}"
    return f"cancelled (was {text})" if cancelled else text


def _in_words(values, cancelled: bool, rooms: dict[int, str], tz: ZoneInfo) -> str:
    """`session_values` of a stored session or a planned one (rooms: their names by id)."""
    return session_values(
        values.start_utc,
        values.end_utc,
        room=rooms.get(values.room_id),
        online=values.mode == _ONLINE,
        cancelled=cancelled,
        tz=tz,
    )


def _describe_changes(logged, tz: ZoneInfo) -> SessionChanges:
    """The logged sessions by date then group name (two queries for the names), put in words
    only as they are read: a year of a large school logs over a hundred thousand sessions,
    of which a page shows a few dozen."""
    group_ids = {(row or plan).group_id for _, row, plan, _ in logged}
    room_ids = {r.room_id for _, r, _, _ in logged if r is not None and r.room_id}
    room_ids |= {p.room_id for _, _, p, _ in logged if p is not None and p.room_id}
    names = names_by_id(CourseGroup, group_ids)
    rooms = names_by_id(Room, room_ids)
    folded = {group_id: name.casefold() for group_id, name in names.items()}

    def sort_key(entry):
        _, row, plan, _ = entry
        anchor = row or plan
        return (anchor.original_date, folded.get(anchor.group_id, ""), anchor.group_id)

    def describe(entry) -> SessionChange:
        kind, row, plan, reason = entry
        anchor = row or plan
        return SessionChange(
            kind=kind,
            group_id=anchor.group_id,
            group=names.get(anchor.group_id, ""),
            original_date=anchor.original_date,
            before=(
                _in_words(row, row.status == _CANCELLED, rooms, tz) if row is not None else None
            ),
            after=_in_words(plan, plan.cancelled, rooms, tz) if plan is not None else None,
            occurrence_id=row.id if row is not None else None,
            reason=reason,
        )

    return SessionChanges(sorted(logged, key=sort_key), describe)


class SessionChanges(Sequence):
    """A run's sessions (`SessionChange`), in order, each put in words when it is read."""

    def __init__(self, entries: list, describe) -> None:
        self._entries = entries
        self._describe = describe

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._describe(entry) for entry in self._entries[index]]
        return self._describe(self._entries[index])

    def of_kind(self, kind: str) -> SessionChanges:
        return SessionChanges([e for e in self._entries if e[0] == kind], self._describe)


def _why_nothing(start: date, end: date, groups: tuple[int, ...] | None) -> str:
    """Why [start, end) holds no session of `groups` (every active group when None)."""
    whose = "these groups"
    params = {"groups": groups} if groups is not None else {}
    if groups is not None:
        found = db.session.execute(
            select(CourseGroup.name, CourseGroup.active).where(
                one_of(CourseGroup.id, name="groups")
            ),
            params,
        ).all()
        if len(found) == 1:
            whose = found[0][0]
        if found and not any(active for _, active in found):
            verb = "is" if len(found) == 1 else "are"
            return (
                f"Nothing to generate: {whose} {verb} inactive, and inactive groups generate "
                "nothing."
            )
    query = (
        select(Series.first_date, Series.last_date)
        .join(CourseGroup, CourseGroup.id == Series.group_id)
        .where(CourseGroup.active.is_(True))
    )
    if groups is not None:
        query = query.where(one_of(Series.group_id, name="groups"))
    spans = db.session.execute(query, params).all()
    if not spans:
        verb = "have" if whose == "these groups" else "has"
        return f"Nothing to generate: {whose} {verb} no weekly series."
    if all(last is not None and last < start for _, last in spans):
        ended = max(last for _, last in spans)
        return (
            f"Nothing to generate: every series of {whose} ends by {ended:%d %b %Y}, "
            f"before {start:%d %b %Y}."
        )
    if all(first >= end for first, _ in spans):
        begins = min(first for first, _ in spans)
        return f"Nothing to generate: the series of {whose} start on {begins:%d %b %Y} or later."
    return f"Nothing to generate: no series of {whose} has a date in this window."


# --- One session against its series -------------------------------------------------------------

IN_STEP, OUT_OF_STEP = "in_step", "out_of_date"


@dataclass(frozen=True)
class SeriesStanding:
    """A series session compared with what its series (and the date's exception) says now.

    `state`: `in_step`, `out_of_date` (generation with force would update or remove it) or
    `kept` (it differs, but generation never touches it: `reason` says why). `has`: its own
    values in words; `series_says`: the series' values for its date, None when the series no
    longer holds the date (ended, weekday changed, group inactive)."""

    state: str
    has: str
    series_says: str | None
    reason: str = ""

    @property
    def differs(self) -> bool:
        return self.state != IN_STEP


def series_standing(
    occurrence: Occurrence, *, tz: ZoneInfo, now: datetime | None = None
) -> SeriesStanding | None:
    """How a series session stands against its series now (None for a one-time session).

    The same comparison and protections as a generation run over its date, for one session:
    a handful of small queries."""
    if occurrence.series_id is None or occurrence.original_date is None:
        return None
    now = now or datetime.now(UTC)
    day = occurrence.original_date
    window = (day, day + timedelta(days=1))
    rules = [r for r in _load_rules(*window, [occurrence.group_id]) if r.id == occurrence.series_id]
    overrides = load_override_rules(*window, [occurrence.series_id])
    plan = plan_window(rules, overrides, *window, tz).get((occurrence.series_id, day))
    row = _Existing(
        occurrence.id,
        occurrence.group_id,
        occurrence.series_id,
        day,
        occurrence.start_utc,
        occurrence.end_utc,
        occurrence.room_id,
        str(occurrence.mode),
        str(occurrence.status),
        occurrence.edited_by_hand,
        occurrence.mentor_id,
        occurrence.closure_id,
        occurrence.cover_mentor_id,
    )
    rooms = dict(
        db.session.execute(
            select(Room.id, Room.name).where(
                Room.id.in_({row.room_id, plan.room_id if plan else None} - {None})
            )
        ).all()
    )

    has = _in_words(row, row.status == _CANCELLED, rooms, tz)
    says = _in_words(plan, plan.cancelled, rooms, tz) if plan is not None else None
    if plan is not None and row.matches(plan):
        return SeriesStanding(IN_STEP, has, says)
    recorded = _with_records(*window) if not row.is_protected(now) else set()
    if row.is_protected(now) or occurrence.id in recorded:
        return SeriesStanding(KEEP, has, says, _kept_because(row, now, recorded))
    return SeriesStanding(OUT_OF_STEP, has, says)
