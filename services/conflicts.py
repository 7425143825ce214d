"""Conflict detection: a sort-and-sweep over intervals, and the interactive slot check.

Two non-cancelled sessions conflict when their instants overlap (half-open: 10:00-11:00 and
11:00-12:00 do not) and they share a room, a mentor or an enrolled student.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, or_, select, text

from models import CourseGroup, Enrolment, Occurrence, OccurrenceStatus, Room, User, db
from services.errors import ConflictError

ROOM, MENTOR, STUDENT = "room", "mentor", "student"


@dataclass(frozen=True, slots=True)
class Slot:
    """A non-cancelled occurrence reduced to what conflict detection compares."""

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


def _sweep_by_key(slots_by_key: dict[Hashable, list[Slot]], kind: str, found: dict) -> None:
    for key, slots in slots_by_key.items():
        if len(slots) < 2:
            continue
        for a, b in overlapping_pairs((s.start, s.end, s.occurrence_id) for s in slots):
            pair = (min(a, b), max(a, b))
            conflict = found.get((kind, pair))
            if conflict is None:
                conflict = found[(kind, pair)] = Conflict(kind, pair[0], pair[1])
            conflict.shared.append(key)


def find_conflicts(slots: list[Slot], students_by_group: dict[int, set[int]]) -> list[Conflict]:
    """Every room, mentor and student conflict among `slots` (already non-cancelled)."""
    found: dict = {}
    by_room: dict[int, list[Slot]] = defaultdict(list)
    by_mentor: dict[int, list[Slot]] = defaultdict(list)
    for slot in slots:
        if slot.room_id is not None:
            by_room[slot.room_id].append(slot)
        by_mentor[slot.mentor_id].append(slot)
    _sweep_by_key(by_room, ROOM, found)
    _sweep_by_key(by_mentor, MENTOR, found)

    # Only students enrolled in two or more groups can be double-booked; sweeping just those
    # keeps the work proportional to the real overlap, not to sessions x students.
    groups_of_student: dict[int, list[int]] = defaultdict(list)
    for group_id, students in students_by_group.items():
        for student_id in students:
            groups_of_student[student_id].append(group_id)
    slots_by_group: dict[int, list[Slot]] = defaultdict(list)
    for slot in slots:
        slots_by_group[slot.group_id].append(slot)
    by_student: dict[int, list[Slot]] = {}
    for student_id, group_ids in groups_of_student.items():
        if len(group_ids) > 1:
            by_student[student_id] = [s for g in group_ids for s in slots_by_group.get(g, ())]
    _sweep_by_key(by_student, STUDENT, found)
    return sorted(found.values(), key=lambda c: (c.first_id, c.second_id, c.kind))


def load_slots(window_start: datetime, window_end: datetime) -> list[Slot]:
    """Non-cancelled occurrences overlapping [window_start, window_end), in one query."""
    rows = db.session.execute(
        select(
            Occurrence.id,
            Occurrence.group_id,
            Occurrence.start_utc,
            Occurrence.end_utc,
            Occurrence.room_id,
            CourseGroup.mentor_id,
        )
        .join(CourseGroup, CourseGroup.id == Occurrence.group_id)
        .where(
            Occurrence.status != OccurrenceStatus.CANCELLED,
            Occurrence.start_utc < window_end,
            Occurrence.end_utc > window_start,
        )
    )
    return [Slot(*row) for row in rows]


def load_students_by_group(group_ids: Iterable[int]) -> dict[int, set[int]]:
    group_ids = set(group_ids)
    students: dict[int, set[int]] = defaultdict(set)
    if not group_ids:
        return students
    for group_id, student_id in db.session.execute(
        select(Enrolment.group_id, Enrolment.student_id)
    ):
        if group_id in group_ids:
            students[group_id].add(student_id)
    return students


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
    occurrences = {
        o.id: o for o in db.session.scalars(select(Occurrence).where(Occurrence.id.in_(ids)))
    }
    room_ids = {k for c in conflicts if c.kind == ROOM for k in c.shared}
    user_ids = {k for c in conflicts if c.kind != ROOM for k in c.shared}
    rooms = dict(db.session.execute(select(Room.id, Room.name).where(Room.id.in_(room_ids))).all())
    users = dict(db.session.execute(select(User.id, User.name).where(User.id.in_(user_ids))).all())
    described = []
    for c in conflicts:
        names = rooms if c.kind == ROOM else users
        described.append(
            {
                "kind": c.kind,
                "shared": sorted(names.get(k, str(k)) for k in c.shared),
                "sessions": [
                    describe_occurrence(occurrences[c.first_id], tz),
                    describe_occurrence(occurrences[c.second_id], tz),
                ],
            }
        )
    return described


def describe_occurrence(occurrence: Occurrence, tz) -> dict:
    start = occurrence.start_utc.astimezone(tz)
    end = occurrence.end_utc.astimezone(tz)
    return {
        "id": occurrence.id,
        "group": occurrence.group.name,
        "date": start.date().isoformat(),
        "start": start.strftime("%H:%M"),
        "end": end.strftime("%H:%M"),
        "room": occurrence.room.name if occurrence.room else None,
    }


def label_occurrence(occurrence: Occurrence, tz) -> str:
    """A short human name for a session, used in messages: 'Math 7A on Mon 12 Jan 10:00-11:00'."""
    start = occurrence.start_utc.astimezone(tz)
    end = occurrence.end_utc.astimezone(tz)
    return f"{occurrence.group.name} on {start:%a %d %b %Y %H:%M}-{end:%H:%M}"


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
    clashes = [CourseGroup.mentor_id == mentor_id]
    if room_id is not None:
        clashes.append(Occurrence.room_id == room_id)
    ignore = list(ignore_ids)
    query = (
        select(Occurrence)
        .join(CourseGroup, CourseGroup.id == Occurrence.group_id)
        .where(
            Occurrence.status != OccurrenceStatus.CANCELLED,
            Occurrence.start_utc < end_utc,
            Occurrence.end_utc > start_utc,
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
        message = f"Room {other.room.name} is already booked by {label_occurrence(other, tz)}."
        field = "room"
    else:
        message = (
            f"{other.group.mentor.name} already teaches {label_occurrence(other, tz)} at that time."
        )
        field = "start"
    raise ConflictError(message, others=others, field=field)
