"""The conflicts named on the schedule's sessions.

Conflicts are found among the shown sessions and only the sessions that could clash with them
(same rooms, same mentors, groups sharing a student), so a week filtered to one room costs the
same whatever the size of the school.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from itertools import pairwise
from typing import TYPE_CHECKING, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, bindparam, literal_column, or_, select, union_all

from models import CourseGroup, Enrolment, Occurrence, db
from models.enums import OccurrenceStatus
from models.types import instant_reader, one_of, raw_instant
from services.common.timeutil import span_label
from services.timetable.conflicts import (
    MAX_SESSION_LENGTH,
    MENTOR,
    ROOM,
    STUDENT,
    Slot,
    find_conflicts,
)

if TYPE_CHECKING:
    from services.timetable.schedule.entries import GridEntry


_CONFLICT_WORDS = {ROOM: "Room", MENTOR: "Mentor", STUDENT: "Student"}


class ConflictNote(NamedTuple):
    kind: str
    other_id: int
    other_label: str

    @property
    def text(self) -> str:
        return f"{_CONFLICT_WORDS[self.kind]} conflict with {self.other_label}"


# Table columns, not mapped attributes, as in entries.py.
_occ, _grp, _enr = Occurrence.__table__, CourseGroup.__table__, Enrolment.__table__


@lru_cache(maxsize=2)
def _conflicts_of_one_query(dialect: str) -> Select:
    """The sessions clashing with one session (bound: id, start, end, room, mentor, group),
    and what they share, in one statement: the card's hot path."""
    mine, theirs = _enr.alias("mine"), _enr.alias("theirs")
    # The groups sharing a student with this one, found once per statement (a correlated
    # EXISTS would be run for every session in the time range).
    sharing_groups = (
        select(theirs.c.group_id)
        .join(mine, mine.c.student_id == theirs.c.student_id)
        .where(mine.c.group_id == bindparam("group"))
    )
    shares_a_student = and_(
        _occ.c.group_id != bindparam("group"), _occ.c.group_id.in_(sharing_groups)
    )
    same_room = _occ.c.room_id == bindparam("room")
    same_mentor = _grp.c.mentor_id == bindparam("mentor")
    return (
        select(
            _occ.c.id,
            _grp.c.name,
            raw_instant(_occ.c.start_utc, dialect),
            raw_instant(_occ.c.end_utc, dialect),
            same_room,
            same_mentor,
            shares_a_student,
        )
        .join(_grp, _grp.c.id == _occ.c.group_id)
        .where(
            _occ.c.id != bindparam("id"),
            _occ.c.status != OccurrenceStatus.CANCELLED,
            # Overlapping [start, end), scanning the start index from `floor` (see
            # MAX_SESSION_LENGTH).
            _occ.c.start_utc < bindparam("end", type_=_occ.c.start_utc.type),
            _occ.c.start_utc > bindparam("floor", type_=_occ.c.start_utc.type),
            _occ.c.end_utc > bindparam("start", type_=_occ.c.end_utc.type),
            or_(same_room, same_mentor, shares_a_student),
        )
    )


def attach_conflicts_of_one(entry: GridEntry, tz: ZoneInfo) -> None:
    """`attach_conflicts` for a single session, in one statement."""
    if entry.cancelled:
        return
    o = entry.occurrence
    dialect = db.session.get_bind().dialect.name
    read = instant_reader(dialect)
    params = {
        "id": o.id,
        "start": o.start_utc,
        "end": o.end_utc,
        "floor": o.start_utc - MAX_SESSION_LENGTH,
        "room": o.room_id,
        "mentor": o.group.mentor_id,
        "group": o.group_id,
    }
    notes = []
    for other, name, start, end, room, mentor, student in db.session.execute(
        _conflicts_of_one_query(dialect), params
    ):
        label = _label(name, read(start).astimezone(tz), read(end).astimezone(tz))
        for kind, shared in ((MENTOR, mentor), (ROOM, room), (STUDENT, student)):
            if shared:
                notes.append(ConflictNote(kind, other, label))
    entry.conflicts = sorted(notes, key=lambda note: (note.kind, note.other_id))


def attach_conflicts(entries: list[GridEntry], tz: ZoneInfo) -> None:
    """Name, on each entry, the sessions it conflicts with (shown or not)."""
    shown = [e for e in entries if not e.cancelled]
    if not shown:
        return
    students_by_group = _students_sharing_with({e.occurrence.group_id for e in shown})
    candidates, names = _candidate_slots(shown, students_by_group)
    conflicts = find_conflicts(candidates, students_by_group)
    by_id = {e.id: e for e in entries}
    pairs = []
    for conflict in conflicts:
        for mine, other in (
            (conflict.first_id, conflict.second_id),
            (conflict.second_id, conflict.first_id),
        ):
            if mine in by_id:
                pairs.append((by_id[mine], conflict.kind, other))
    if not pairs:
        return
    labels = {e.id: _label(e.occurrence.group.name, e.start, e.end) for e in entries}
    slots = {slot.occurrence_id: slot for slot in candidates}
    for entry, kind, other in pairs:
        if other not in labels:
            slot = slots[other]
            labels[other] = _label(names[other], slot.start.astimezone(tz), slot.end.astimezone(tz))
        entry.conflicts.append(ConflictNote(kind, other, labels[other]))
    for entry in entries:
        entry.conflicts.sort(key=lambda note: (note.kind, note.other_id))


# A session can only clash with one overlapping it and sharing its room, its mentor or a
# student. Candidates are read window by window: the shown sessions' spans (merged where they
# touch), each with the rooms, mentors and groups (their own, and those sharing a student with
# them) of the sessions in it. At most MAX_WINDOWS windows (the closest are joined beyond
# it), so the statement has one of a few shapes, each built once. When the lists would be
# long (a whole school's week, where nearly every session is a candidate anyway), one
# statement without per-window lists is used instead. A room's week at 5,000 series lists
# some 3,000 rooms, mentors and groups (its students attend a thousand other groups): a few
# thousand index lookups still cost less than reading every session of the week's span.
MAX_WINDOWS = 8
MAX_LISTED = 5_000


@dataclass
class _Window:
    start: datetime
    end: datetime
    rooms: set[int] = field(default_factory=set)
    mentors: set[int] = field(default_factory=set)
    groups: set[int] = field(default_factory=set)

    def absorb(self, other: _Window) -> None:
        self.end = max(self.end, other.end)
        self.rooms |= other.rooms
        self.mentors |= other.mentors
        self.groups |= other.groups


def _windows(shown: list[GridEntry], sharing: dict[int, set[int]]) -> list[_Window]:
    """The shown sessions' spans as disjoint windows (at most MAX_WINDOWS), each with what a
    session must share with one of them to clash: a room, a mentor or a group."""
    merged: list[_Window] = []
    for entry in sorted(shown, key=lambda e: (e.occurrence.start_utc, e.occurrence.end_utc)):
        o = entry.occurrence
        window = _Window(o.start_utc, o.end_utc, set(), {o.group.mentor_id}, {o.group_id})
        if o.room_id is not None:
            window.rooms.add(o.room_id)
        window.groups |= sharing.get(o.group_id, set())
        if merged and window.start <= merged[-1].end:
            merged[-1].absorb(window)
        else:
            merged.append(window)
    if len(merged) > MAX_WINDOWS:
        # Keep the widest gaps between windows; join across the others.
        gaps = sorted(range(1, len(merged)), key=lambda i: merged[i].start - merged[i - 1].end)
        cuts = sorted(gaps[len(merged) - MAX_WINDOWS :])
        joined = []
        for a, b in pairwise([0, *cuts, len(merged)]):
            for window in merged[a + 1 : b]:
                merged[a].absorb(window)
            joined.append(merged[a])
        merged = joined
    return merged


def _sharing_a_student(students_by_group: dict[int, set[int]], groups: set[int]):
    """For each of `groups`, the groups sharing a student with it (itself included)."""
    groups_of_student: dict[int, set[int]] = defaultdict(set)
    for group_id, students in students_by_group.items():
        for student_id in students:
            groups_of_student[student_id].add(group_id)
    sharing: dict[int, set[int]] = {}
    for group_id in groups:
        found = sharing[group_id] = set()
        for student_id in students_by_group.get(group_id, ()):
            found |= groups_of_student[student_id]
    return sharing


def _candidate_columns(dialect: str) -> Select:
    return select(
        _occ.c.id,
        _occ.c.group_id,
        raw_instant(_occ.c.start_utc, dialect),
        raw_instant(_occ.c.end_utc, dialect),
        _occ.c.room_id,
        _grp.c.mentor_id,
        _grp.c.name,
    ).join(_grp, _grp.c.id == _occ.c.group_id)


def _overlapping(n: int):
    """Overlaps window `n` (bound as s<n>, e<n>)."""
    return and_(
        _occ.c.start_utc < bindparam(f"e{n}", type_=_occ.c.start_utc.type),
        _occ.c.end_utc > bindparam(f"s{n}", type_=_occ.c.end_utc.type),
    )


def _in_span():
    """Within the windows' overall span: a bounded range of the start-time index, since no
    session lasts longer than MAX_SESSION_LENGTH."""
    return and_(
        _occ.c.start_utc < bindparam("last_end", type_=_occ.c.start_utc.type),
        _occ.c.start_utc > bindparam("span_floor", type_=_occ.c.start_utc.type),
        _occ.c.end_utc > bindparam("first_start", type_=_occ.c.end_utc.type),
    )


@lru_cache(maxsize=MAX_WINDOWS * 2)
def _listed_candidate_query(windows: int, dialect: str) -> Select:
    """Non-cancelled sessions overlapping window n (s<n> to e<n>, scanning from f<n>) in one
    of its rooms (r<n>), of one of its groups (g<n>) or with one of its mentors (m<n>), for
    each n < `windows`, the lists bound as arrays (`one_of`).

    Each is read from its key's index, (room_id, start_utc) or (group_id, start_utc), over
    the window only: the sessions of a few rooms, groups and mentors, whatever the size of
    the school (one range of the start index per window read every session of the school at
    that time). Their groups are joined once, outside: joined in each part, PostgreSQL
    hashed the whole table of groups for every one. A session can come several times (two
    windows, two reasons)."""
    taught_by = _grp.alias("taught_by")

    # 'cancelled' written in, not bound (see `sessions_in_conflict`): a plan PostgreSQL
    # makes once for any value must still read these by index.
    cancelled = literal_column(f"'{OccurrenceStatus.CANCELLED.value}'")

    def timed(n: int):
        return and_(
            _occ.c.status != cancelled,
            _occ.c.start_utc < bindparam(f"e{n}", type_=_occ.c.start_utc.type),
            _occ.c.start_utc > bindparam(f"f{n}", type_=_occ.c.start_utc.type),
            _occ.c.end_utc > bindparam(f"s{n}", type_=_occ.c.end_utc.type),
        )

    columns = select(
        _occ.c.id,
        _occ.c.group_id,
        raw_instant(_occ.c.start_utc, dialect).label("start_utc"),
        raw_instant(_occ.c.end_utc, dialect).label("end_utc"),
        _occ.c.room_id,
    )
    parts = []
    for n in range(windows):
        taught = select(taught_by.c.id).where(one_of(taught_by.c.mentor_id, name=f"m{n}"))
        parts += [
            columns.where(one_of(_occ.c.room_id, name=f"r{n}"), timed(n)),
            columns.where(one_of(_occ.c.group_id, name=f"g{n}"), timed(n)),
            columns.where(_occ.c.group_id.in_(taught), timed(n)),
        ]
    found = union_all(*parts).subquery("found")
    return select(
        found.c.id,
        found.c.group_id,
        found.c.start_utc,
        found.c.end_utc,
        found.c.room_id,
        _grp.c.mentor_id,
        _grp.c.name,
    ).join(_grp, _grp.c.id == found.c.group_id)


@lru_cache(maxsize=MAX_WINDOWS * 2)
def _broad_candidate_query(windows: int, dialect: str) -> Select:
    """Non-cancelled sessions overlapping one of `windows` windows that could clash with a
    shown one: in one of their rooms (`rooms`), with one of their mentors (`mentors`), of one
    of their groups (`groups`) or of a group sharing a student with them. The lists can hold
    the whole school's: each is bound as one parameter (`one_of`)."""
    mine, theirs = _enr.alias("mine"), _enr.alias("theirs")
    sharing_a_student = (
        select(theirs.c.group_id)
        .join(mine, mine.c.student_id == theirs.c.student_id)
        .where(one_of(mine.c.group_id, name="groups"))
    )
    return _candidate_columns(dialect).where(
        _occ.c.status != OccurrenceStatus.CANCELLED,
        _in_span(),
        or_(*(_overlapping(n) for n in range(windows))),
        or_(
            one_of(_occ.c.room_id, name="rooms"),
            one_of(_grp.c.mentor_id, name="mentors"),
            one_of(_occ.c.group_id, name="groups"),
            _occ.c.group_id.in_(sharing_a_student),
        ),
    )


def _candidate_slots(
    shown: list[GridEntry], students_by_group: dict[int, set[int]]
) -> tuple[list[Slot], dict[int, str]]:
    """The sessions that could clash with a shown one (shown ones included) as slots, and
    their groups' names (for naming them)."""
    dialect = db.session.get_bind().dialect.name
    groups = {e.occurrence.group_id for e in shown}
    windows = _windows(shown, _sharing_a_student(students_by_group, groups))
    params: dict[str, object] = {}
    for n, window in enumerate(windows):
        params[f"s{n}"], params[f"e{n}"] = window.start, window.end
    if sum(len(w.rooms) + len(w.mentors) + len(w.groups) for w in windows) <= MAX_LISTED:
        for n, window in enumerate(windows):
            params[f"f{n}"] = window.start - MAX_SESSION_LENGTH
            params[f"r{n}"] = window.rooms
            params[f"m{n}"] = window.mentors
            params[f"g{n}"] = window.groups
        query = _listed_candidate_query(len(windows), dialect)
    else:
        params["first_start"] = windows[0].start
        params["last_end"] = windows[-1].end
        params["span_floor"] = windows[0].start - MAX_SESSION_LENGTH
        params["rooms"] = {e.occurrence.room_id for e in shown if e.occurrence.room_id}
        params["mentors"] = {e.occurrence.group.mentor_id for e in shown}
        params["groups"] = groups
        query = _broad_candidate_query(len(windows), dialect)
    # Keyed by id: a session overlapping two windows comes once per window.
    rows = {r[0]: r for r in db.session.execute(query, params).all()}.values()
    read = instant_reader(dialect)
    slots = [Slot(r[0], r[1], read(r[2]), read(r[3]), r[4], r[5]) for r in rows]
    return slots, {r[0]: r[6] for r in rows}


@lru_cache(maxsize=1)
def _students_query() -> Select:
    enrolment = Enrolment.__table__.c
    # The shown groups (a whole school's week: all of them) bound as one list (`one_of`).
    students = select(enrolment.student_id).where(one_of(enrolment.group_id, name="groups"))
    return select(enrolment.group_id, enrolment.student_id).where(
        enrolment.student_id.in_(students)
    )


def _students_sharing_with(groups: set[int]) -> dict[int, set[int]]:
    """Every group of every student of `groups`, with those students: all that student
    conflicts of sessions of `groups` depend on."""
    students: dict[int, set[int]] = defaultdict(set)
    rows = db.session.execute(_students_query(), {"groups": groups})
    for group_id, student_id in rows:
        students[group_id].add(student_id)
    return students


def _label(group_name: str, start: datetime, end: datetime) -> str:
    """'Maths 7A Mon 07 Sep 10:00-11:00' ('23:30-00:30 (+1 day)' past midnight); local times."""
    return f"{group_name} {start:%a %d %b} {span_label(start, end, start.tzinfo, '-')}"
