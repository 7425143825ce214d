"""Conflict detection: a sort-and-sweep over intervals, and the interactive slot check.

Two non-cancelled sessions conflict when their instants overlap (half-open: 10:00-11:00 and
11:00-12:00 do not) and they share a room, a mentor or an enrolled student.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import chain, islice
from operator import attrgetter, itemgetter, lt
from typing import NamedTuple

from sqlalchemy import and_, or_, select, text
from sqlalchemy.sql import ColumnElement

from models import CourseGroup, Enrolment, Occurrence, OccurrenceStatus, Room, User, db
from models.occurrence import mentor_of
from models.types import instant_reader, one_of, raw_instant
from services.common.errors import ConflictError
from services.common.timeutil import span_label
from services.common.wording import named

ROOM, MENTOR, STUDENT = "room", "mentor", "student"


class Slot(NamedTuple):
    """A non-cancelled occurrence reduced to what conflict detection compares.

    A named tuple: a term has tens of thousands, cheaper to make than frozen dataclasses
    (see `PlannedOccurrence`).
    """

    occurrence_id: int
    group_id: int
    start: datetime
    end: datetime
    room_id: int | None
    mentor_id: int


@dataclass(slots=True)
class Conflict:
    kind: str
    first_id: int
    second_id: int
    # The room, mentor or students the two sessions share (ids; names are filled in later).
    shared: list = field(default_factory=list)


def overlapping_pairs(intervals: Iterable[tuple[datetime, datetime, int]]) -> list[tuple[int, int]]:
    """Pairs of ids whose half-open intervals overlap, in O(n log n + pairs).

    Sort by start and sweep, keeping a heap of the intervals still open (by end).
    """
    ordered = sorted(intervals)
    open_heap: list[tuple[datetime, int]] = []
    pairs = []
    for start, end, ident in ordered:
        while open_heap and open_heap[0][0] <= start:
            heapq.heappop(open_heap)
        for _, other in open_heap:
            pairs.append((other, ident))
        heapq.heappush(open_heap, (end, ident))
    return pairs


def _has_overlap(ranks: list[int], starts: list[datetime], ends: list[datetime]) -> bool:
    """Whether any two of the slots at `ranks` (ascending, so sorted by start) overlap.

    If slot i overlaps a later slot j, it also overlaps the next one, i + 1, which starts
    between them; so comparing neighbours is enough. Done with C-level iterators, because
    almost every room, mentor and student has no overlap at all and is ruled out here.
    """
    pick = itemgetter(*ranks)
    return any(map(lt, islice(pick(starts), 1, None), pick(ends)))


def _sweep_by_key(
    ranks_by_key: dict[Hashable, list[int]],
    ordered: list[Slot],
    starts: list[datetime],
    ends: list[datetime],
    kind: str,
    found: dict,
    group_of: dict[int, int] | None = None,
) -> None:
    """With `group_of`, pairs of one group are skipped (two sessions of a group double-book
    its mentor: a mentor conflict, not one per student)."""
    for key, ranks in ranks_by_key.items():
        if len(ranks) < 2 or not _has_overlap(ranks, starts, ends):
            continue
        intervals = ((s.start, s.end, s.occurrence_id) for s in map(ordered.__getitem__, ranks))
        for a, b in overlapping_pairs(intervals):
            if group_of is not None and group_of[a] == group_of[b]:
                continue
            pair = (min(a, b), max(a, b))
            conflict = found.get((kind, pair))
            if conflict is None:
                conflict = found[(kind, pair)] = Conflict(kind, pair[0], pair[1])
            conflict.shared.append(key)


def find_conflicts(slots: list[Slot], students_by_group: dict[int, set[int]]) -> list[Conflict]:
    """Every room, mentor and student conflict among `slots` (already non-cancelled)."""
    # Sort once and refer to slots by rank: every per-key list below is built in rank order,
    # so it is already sorted, and the overlap pre-check needs no per-key sort.
    ordered = sorted(slots, key=attrgetter("start", "end", "occurrence_id"))
    starts = [s.start for s in ordered]
    ends = [s.end for s in ordered]
    by_room: dict[int, list[int]] = defaultdict(list)
    by_mentor: dict[int, list[int]] = defaultdict(list)
    by_group: dict[int, list[int]] = defaultdict(list)
    for rank, slot in enumerate(ordered):
        if slot.room_id is not None:
            by_room[slot.room_id].append(rank)
        by_mentor[slot.mentor_id].append(rank)
        by_group[slot.group_id].append(rank)
    found: dict = {}
    _sweep_by_key(by_room, ordered, starts, ends, ROOM, found)
    _sweep_by_key(by_mentor, ordered, starts, ends, MENTOR, found)

    # Only students enrolled in two or more groups can be double-booked; sweeping just those
    # keeps the work proportional to the real overlap, not to sessions x students.
    groups_of_student: dict[int, list[int]] = defaultdict(list)
    for group_id, students in students_by_group.items():
        for student_id in students:
            groups_of_student[student_id].append(group_id)
    by_student = {
        student_id: sorted(chain.from_iterable(by_group.get(g, ()) for g in group_ids))
        for student_id, group_ids in groups_of_student.items()
        if len(group_ids) > 1
    }
    group_of = {slot.occurrence_id: slot.group_id for slot in ordered}
    _sweep_by_key(by_student, ordered, starts, ends, STUDENT, found, group_of)
    return sorted(found.values(), key=lambda c: (c.first_id, c.second_id, c.kind))


# Every session is made from one local day's start and end, so it lasts less than 25 hours
# (a day with a DST fall-back); one past midnight lasts at most 12 hours (13 over a DST
# change, `services.common.timeutil.LONGEST_OVERNIGHT`). Queries for the sessions overlapping a
# window rely on this bound to scan the start-time index from just before the window, not
# from the first session ever recorded (which made every such query slower as the years
# went by).
MAX_SESSION_LENGTH = timedelta(hours=26)


def overlapping(start_column, end_column, window_start, window_end) -> ColumnElement:
    """Sessions overlapping [window_start, window_end) (half-open), index-friendly."""
    return and_(
        start_column < window_end,
        start_column > window_start - MAX_SESSION_LENGTH,
        end_column > window_start,
    )


def load_slots(window_start: datetime, window_end: datetime) -> list[Slot]:
    """Non-cancelled occurrences overlapping [window_start, window_end), in one query."""
    dialect = db.session.get_bind().dialect.name
    occurrence, group = Occurrence.__table__.c, CourseGroup.__table__.c
    rows = db.session.execute(
        select(
            occurrence.id,
            occurrence.group_id,
            raw_instant(occurrence.start_utc, dialect),
            raw_instant(occurrence.end_utc, dialect),
            occurrence.room_id,
            mentor_of(occurrence, group),
        )
        .join_from(Occurrence.__table__, CourseGroup.__table__, group.id == occurrence.group_id)
        .where(
            occurrence.status != OccurrenceStatus.CANCELLED,
            overlapping(occurrence.start_utc, occurrence.end_utc, window_start, window_end),
        )
    ).all()
    read = instant_reader(dialect)
    return [Slot(r[0], r[1], read(r[2]), read(r[3]), r[4], r[5]) for r in rows]


def load_students_by_group(group_ids: Iterable[int]) -> dict[int, set[int]]:
    students: dict[int, set[int]] = defaultdict(set)
    group_ids = set(group_ids)
    if not group_ids:
        return students
    enrolment = Enrolment.__table__.c
    # The whole school's groups can be in a window: bound as one list (`one_of`).
    for group_id, student_id in db.session.execute(
        select(enrolment.group_id, enrolment.student_id).where(
            one_of(enrolment.group_id, name="groups")
        ),
        {"groups": group_ids},
    ):
        students[group_id].add(student_id)
    return students


class StudentsByGroup:
    """`load_students_by_group`, each group read once over the windows of a sweep."""

    def __init__(self) -> None:
        self.known: dict[int, set[int]] = {}

    def of(self, group_ids) -> dict[int, set[int]]:
        wanted = set(group_ids)
        if missing := wanted - self.known.keys():
            found = load_students_by_group(missing)
            self.known.update({group_id: found.get(group_id, set()) for group_id in missing})
        return {group_id: self.known[group_id] for group_id in wanted}


def sweep_windows(
    windows: Iterable[tuple[datetime, datetime]],
) -> Iterator[tuple[datetime, datetime, list[Slot], list[Conflict]]]:
    """Each window's non-cancelled sessions and their conflicts, a window at a time (each
    group's students read once): a term's conflicts without holding the term."""
    students = StudentsByGroup()
    for start, end in windows:
        slots = load_slots(start, end)
        yield start, end, slots, find_conflicts(slots, students.of(s.group_id for s in slots))


def conflicts_in_window(
    window_start: datetime, window_end: datetime, slots: list[Slot] | None = None
) -> list[Conflict]:
    if slots is None:
        slots = load_slots(window_start, window_end)
    return find_conflicts(slots, load_students_by_group(s.group_id for s in slots))


def describe_conflicts(conflicts: list[Conflict], tz) -> list[dict]:
    """JSON-ready descriptions naming both sessions and what they share (three queries)."""
    if not conflicts:
        return []
    ids = {c.first_id for c in conflicts} | {c.second_id for c in conflicts}
    # Plain rows, not ORM objects: a term can report thousands of sessions in conflict (their
    # ids bound as one list, see `one_of`: SQLite takes at most 32,766 bound parameters).
    occurrences = {
        row.id: _describe_row(row, tz)
        for row in db.session.execute(
            select(
                Occurrence.id,
                CourseGroup.name.label("group"),
                Occurrence.start_utc,
                Occurrence.end_utc,
                Room.name.label("room"),
            )
            .join(CourseGroup, CourseGroup.id == Occurrence.group_id)
            .outerjoin(Room, Room.id == Occurrence.room_id)
            .where(one_of(Occurrence.id, name="ids")),
            {"ids": ids},
        )
    }
    room_ids = {k for c in conflicts if c.kind == ROOM for k in c.shared}
    user_ids = {k for c in conflicts if c.kind != ROOM for k in c.shared}
    rooms = names_by_id(Room, room_ids)
    users = names_by_id(User, user_ids)
    described = []
    for c in conflicts:
        names = rooms if c.kind == ROOM else users
        described.append(
            {
                "kind": c.kind,
                "shared": sorted(names.get(k, str(k)) for k in c.shared),
                "sessions": [occurrences[c.first_id], occurrences[c.second_id]],
            }
        )
    return described


def names_by_id(model, ids: Iterable[int]) -> dict[int, str]:
    """{id: name} of the rows of `model` (a room, user or group) with these ids, in one
    statement binding the ids as one list (`one_of`), however many they are."""
    ids = set(ids)
    if not ids:
        return {}
    query = select(model.id, model.name).where(one_of(model.id, name="ids"))
    return dict(db.session.execute(query, {"ids": ids}).all())


def describe_occurrence(occurrence: Occurrence, tz) -> dict:
    return _describe(
        occurrence.id,
        occurrence.group.name,
        occurrence.start_utc,
        occurrence.end_utc,
        occurrence.room.name if occurrence.room else None,
        tz,
    )


def _describe_row(row, tz) -> dict:
    return _describe(row.id, row.group, row.start_utc, row.end_utc, row.room, tz)


def _describe(occurrence_id, group_name, start_utc, end_utc, room_name, tz) -> dict:
    start = start_utc.astimezone(tz)
    end = end_utc.astimezone(tz)
    return {
        "id": occurrence_id,
        "group": group_name,
        "date": start.date().isoformat(),
        "start": start.strftime("%H:%M"),
        "end": end.strftime("%H:%M"),
        "end_date": end.date().isoformat(),  # the next day for a session past midnight
        "room": room_name,
    }


def described_times(described: dict) -> str:
    """'10:00-11:00', or '23:30-00:30 (+1 day)' for a described session past midnight."""
    after = " (+1 day)" if described.get("end_date", described["date"]) != described["date"] else ""
    return f"{described['start']}-{described['end']}{after}"


def label_occurrence(occurrence: Occurrence, tz) -> str:
    """A short human name for a session, used in messages: 'Math 7A on Mon 12 Jan 10:00-11:00'."""
    start = occurrence.start_utc.astimezone(tz)
    times = span_label(occurrence.start_utc, occurrence.end_utc, tz, "-")
    return f"{occurrence.group.name} on {start:%a %d %b %Y} {times}"


def lock_schedule() -> None:
    """Serialise writers that check for conflicts and then write, for this transaction.

    SQLite already serialises writers with BEGIN IMMEDIATE. On PostgreSQL two transactions
    could both see a free slot and both book it, so take a transaction-level advisory lock
    before checking; it is released at commit or rollback.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(727274)"))


def ensure_slot_free(
    start_utc: datetime,
    end_utc: datetime,
    *,
    room_id: int | None,
    mentor_id: int,
    tz,
    ignore_ids: Iterable[int] = (),
) -> None:
    """Refuse a room or mentor double booking, naming the session in the way."""
    lock_schedule()
    clashes = [mentor_of(Occurrence, CourseGroup) == mentor_id]
    if room_id is not None:
        clashes.append(Occurrence.room_id == room_id)
    ignore = list(ignore_ids)
    query = (
        select(Occurrence)
        .join(CourseGroup, CourseGroup.id == Occurrence.group_id)
        .where(
            Occurrence.status != OccurrenceStatus.CANCELLED,
            overlapping(Occurrence.start_utc, Occurrence.end_utc, start_utc, end_utc),
            or_(*clashes),
        )
        .order_by(Occurrence.start_utc)
    )
    if ignore:
        query = query.where(and_(Occurrence.id.not_in(ignore)))
    others = list(db.session.scalars(query))
    if not others:
        return
    other = others[0]
    if room_id is not None and other.room_id == room_id:
        # "Room 101 is already booked", "Library (room) is already booked": the kind said once.
        room = named(other.room.name, "room")
        message = f"{room} is already booked by {label_occurrence(other, tz)}."
        field = "room"
    else:
        message = f"{other.mentor.name} already teaches {label_occurrence(other, tz)} at that time."
        field = "start"
    raise ConflictError(message, others=others, field=field)
