"""The stored clashes (`session_clash`): every pair of sessions in conflict, kept current as the
schedule changes, so a page reads the clashes of the sessions it shows by key.

Found at draw time, a session's student clashes meant visiting its students' other groups'
sessions: about a hundred groups for a room's week at 100 series, a thousand at 5,000, so
the pages grew with the school. Stored, they cost one index lookup per shown session.

The rows are kept by two writers, both in the transaction of the change:
- `refresh_after_flush`, an ORM hook: a flush that adds, moves, cancels, restores or deletes a
  session, changes a group's mentor, or enrols or removes a student refreshes the sessions
  concerned (`refresh_sessions`, a set-based statement per kind of conflict);
- generation's bulk writes, which find every conflict of their span by a sweep anyway
  (`store_span`).
Statements that write sessions or enrolments outside the ORM call `refresh_sessions` or
`refresh_groups` themselves. The definition stays `find_conflicts`; the test suite compares
the stored rows with it after every test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import pairwise

from sqlalchemy import (
    Select,
    and_,
    delete,
    event,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, attributes

from models import CourseGroup, Enrolment, Occurrence, OccurrenceStatus, SessionClash, db
from models.occurrence import mentor_of
from models.types import one_of
from services.timetable.conflicts import (
    MAX_SESSION_LENGTH,
    MENTOR,
    ROOM,
    STUDENT,
    Conflict,
    Slot,
    find_conflicts,
    load_slots,
    load_students_by_group,
    overlapping,
    sweep_windows,
)

_occ, _grp, _enr = Occurrence.__table__, CourseGroup.__table__, Enrolment.__table__
_clash = SessionClash.__table__

# What makes a session clash with another: a change to any of these refreshes it.
_SESSION_FIELDS = ("start_utc", "end_utc", "room_id", "status", "group_id", "cover_mentor_id")

# Rows inserted per statement (a term's first generation stores hundreds of thousands).
_INSERT_BATCH = 5_000


def _floor(mine, dialect: str):
    """`mine.start_utc` less MAX_SESSION_LENGTH: sessions overlapping `mine` start after it."""
    hours = int(MAX_SESSION_LENGTH.total_seconds() // 3600)
    if dialect == "sqlite":  # stored as naive UTC text
        return func.datetime(mine.c.start_utc, literal_column(f"'-{hours} hours'"))
    return mine.c.start_utc.op("-")(literal_column(f"interval '{hours} hours'"))


@lru_cache(maxsize=2)
def _pairs_query(dialect: str) -> Select:
    """(session, other session, kind) for every clash of the sessions `ids` (bound as one list,
    `one_of`), by the rules of `find_conflicts`: non-cancelled, overlapping (half-open), and
    sharing the room, the mentor, or a student of two different groups."""
    mine, other = _occ.alias("mine"), _occ.alias("other")
    my_group, their_group = _grp.alias("my_group"), _grp.alias("their_group")
    member, fellow = _enr.alias("member"), _enr.alias("fellow")
    # 'cancelled' written in, not bound (see `conflicts.sessions_in_conflict`).
    cancelled = literal_column(f"'{OccurrenceStatus.CANCELLED.value}'")
    overlaps = and_(
        other.c.status != cancelled,
        other.c.id != mine.c.id,
        other.c.start_utc < mine.c.end_utc,
        other.c.start_utc > _floor(mine, dialect),
        other.c.end_utc > mine.c.start_utc,
    )
    chosen = and_(one_of(mine.c.id, name="ids"), mine.c.status != cancelled)
    same_room = (
        select(mine.c.id, other.c.id, literal(ROOM))
        .join_from(mine, other, and_(other.c.room_id == mine.c.room_id, overlaps))
        .where(chosen)
    )
    # Who teaches a session: its cover, else its group's mentor. Found by the other group's
    # mentor (an index), or, for a session someone covers, by its cover (another index).
    teacher = mentor_of(mine.c, my_group.c)
    same_mentor = (
        select(mine.c.id, other.c.id, literal(MENTOR))
        .select_from(mine)
        .join(my_group, my_group.c.id == mine.c.group_id)
        .join(their_group, their_group.c.mentor_id == teacher)
        .join(other, and_(other.c.group_id == their_group.c.id, overlaps))
        .where(chosen, or_(other.c.cover_mentor_id.is_(None), other.c.cover_mentor_id == teacher))
    )
    covered_by_same = (
        select(mine.c.id, other.c.id, literal(MENTOR))
        .select_from(mine)
        .join(my_group, my_group.c.id == mine.c.group_id)
        .join(other, and_(other.c.cover_mentor_id == teacher, overlaps))
        .join(their_group, their_group.c.id == other.c.group_id)
        .where(chosen, their_group.c.mentor_id != teacher)
    )
    same_student = (
        select(mine.c.id, other.c.id, literal(STUDENT))
        .select_from(mine)
        .join(member, member.c.group_id == mine.c.group_id)
        .join(
            fellow,
            and_(fellow.c.student_id == member.c.student_id, fellow.c.group_id != mine.c.group_id),
        )
        .join(other, and_(other.c.group_id == fellow.c.group_id, overlaps))
        .where(chosen)
        .distinct()
    )
    return union_all(same_room, same_mentor, covered_by_same, same_student)


def refresh_sessions(ids: Iterable[int], connection: Connection | None = None) -> None:
    """Recompute the stored clashes of the sessions `ids` (any status; deleted ones are gone
    with their rows): every row naming one of them is replaced by what is true now."""
    ids = set(ids)
    if not ids:
        return
    connection = connection if connection is not None else db.session.connection()
    connection.execute(
        delete(_clash).where(
            or_(one_of(_clash.c.occurrence_id, name="ids"), one_of(_clash.c.other_id, name="ids"))
        ),
        {"ids": ids},
    )
    rows = set()
    for first, second, kind in connection.execute(
        _pairs_query(connection.dialect.name), {"ids": ids}
    ):
        rows.add((first, second, kind))
        rows.add((second, first, kind))
    _insert_rows(connection, rows)


def refresh_groups(group_ids: Iterable[int], connection: Connection | None = None) -> None:
    """`refresh_sessions` for every session of these groups (their students or their mentor
    changed)."""
    connection = connection if connection is not None else db.session.connection()
    refresh_sessions(_sessions_of(group_ids, connection), connection)


def _sessions_of(group_ids: Iterable[int], connection: Connection) -> set[int]:
    group_ids = set(group_ids)
    if not group_ids:
        return set()
    query = select(_occ.c.id).where(one_of(_occ.c.group_id, name="groups"))
    return set(connection.scalars(query, {"groups": group_ids}))


def _insert_rows(connection: Connection, rows: Iterable[tuple[int, int, str]]) -> None:
    batch = []
    for first, second, kind in rows:
        batch.append({"occurrence_id": first, "other_id": second, "kind": kind})
        if len(batch) == _INSERT_BATCH:
            connection.execute(insert(_clash), batch)
            batch = []
    if batch:
        connection.execute(insert(_clash), batch)


def store_span(
    windows: list[tuple[datetime, datetime]],
    *,
    also: Iterable[int] = (),
    on_window: Callable[[datetime, datetime, list[Slot], list[Conflict]], None] | None = None,
) -> None:
    """Recompute the stored clashes of every session overlapping the consecutive UTC
    `windows` (a generation's span), and of the sessions `also` (those it moved out of it).

    The clashes among the span's sessions come from a sweep window by window
    (`find_conflicts`, proportional to the sessions, where a statement per session would
    visit every student's other groups); those with sessions outside the span, from the
    few sessions reaching past its ends (`refresh_sessions`). Each window's slots and
    conflicts go to `on_window` (a generation reports them)."""
    connection = db.session.connection()
    span_start, span_end = windows[0][0], windows[-1][1]
    in_span = (
        select(_occ.c.id)
        .where(overlapping(_occ.c.start_utc, _occ.c.end_utc, span_start, span_end))
        .scalar_subquery()
    )
    # Two statements, not one with OR: PostgreSQL ran that as a subplan per row (minutes
    # for a term of 400,000 sessions), where each of these is one semi-join.
    connection.execute(delete(_clash).where(_clash.c.occurrence_id.in_(in_span)))
    connection.execute(delete(_clash).where(_clash.c.other_id.in_(in_span)))
    for window_start, window_end, slots, found in sweep_windows(windows):
        if on_window is not None:
            on_window(window_start, window_end, slots, found)
        # A pair overlapping two windows is found in both: stored from the first.
        starts = {slot.occurrence_id: slot.start for slot in slots}
        _insert_rows(
            connection,
            (
                row
                for c in found
                if max(starts[c.first_id], starts[c.second_id], span_start) >= window_start
                for row in ((c.first_id, c.second_id, c.kind), (c.second_id, c.first_id, c.kind))
            ),
        )
    reaching_out = connection.scalars(
        select(_occ.c.id).where(
            overlapping(_occ.c.start_utc, _occ.c.end_utc, span_start, span_end),
            or_(_occ.c.start_utc < span_start, _occ.c.end_utc > span_end),
        )
    )
    refresh_sessions({*reaching_out, *also}, connection)


def sessions_in_conflict(ids: Iterable[int]) -> set[int]:
    """Those of the sessions `ids` in a conflict with any other session (one lookup each)."""
    ids = set(ids)
    if not ids:
        return set()
    query = select(_clash.c.occurrence_id).where(one_of(_clash.c.occurrence_id, name="ids"))
    return set(db.session.scalars(query.distinct(), {"ids": ids}))


def conflicts_of(occurrence: Occurrence) -> list[Conflict]:
    """The stored clashes of one session, as `Conflict`s naming what the two share (its room,
    its mentor, or the students of both groups), ordered as `find_conflicts` orders them."""
    if occurrence.is_cancelled:
        return []
    rows = db.session.execute(
        select(_clash.c.kind, _clash.c.other_id, _occ.c.group_id)
        .join(_occ, _occ.c.id == _clash.c.other_id)
        .where(_clash.c.occurrence_id == occurrence.id)
    ).all()
    groups = {occurrence.group_id, *(group for kind, _, group in rows if kind == STUDENT)}
    students = load_students_by_group(groups) if len(groups) > 1 else {}
    mine = students.get(occurrence.group_id, set())
    shared = {ROOM: [occurrence.room_id], MENTOR: [occurrence.mentor_id]}
    found = [
        Conflict(
            kind,
            min(occurrence.id, other),
            max(occurrence.id, other),
            sorted(mine & students[group]) if kind == STUDENT else shared[kind],
        )
        for kind, other, group in rows
    ]
    return sorted(found, key=lambda c: (c.first_id, c.second_id, c.kind))


REBUILD_WINDOW = timedelta(days=28)


def rebuild_all() -> tuple[int, int]:
    """Recompute every stored clash from the sessions (after rows were written behind the
    app's back, or restored from elsewhere), a 28-day window at a time, in the caller's
    transaction; (rows added, rows removed)."""
    before = stored_clashes()
    span = select(func.min(Occurrence.start_utc), func.max(Occurrence.end_utc))
    first, last = db.session.execute(span).one()
    if first is not None:
        cuts = [first]
        while cuts[-1] <= last:
            cuts.append(cuts[-1] + REBUILD_WINDOW)
        store_span(list(pairwise(cuts)))
    after = stored_clashes()
    return len(after - before), len(before - after)


def stored_clashes() -> set[tuple[int, int, str]]:
    """Every stored row, as (session, other session, kind)."""
    return set(db.session.execute(select(_clash.c.occurrence_id, _clash.c.other_id, _clash.c.kind)))


def computed_clashes() -> set[tuple[int, int, str]]:
    """What `session_clash` must hold, from scratch (`find_conflicts` over every session)."""
    first, last = db.session.execute(
        select(func.min(_occ.c.start_utc), func.max(_occ.c.end_utc))
    ).one()
    if first is None:
        return set()
    slots = load_slots(first, last + timedelta(seconds=1))
    found = find_conflicts(slots, load_students_by_group(s.group_id for s in slots))
    return {
        row
        for c in found
        for row in ((c.first_id, c.second_id, c.kind), (c.second_id, c.first_id, c.kind))
    }


def _changed(obj, names: Iterable[str]) -> bool:
    state = attributes.instance_state(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def _group_ids(enrolment: Enrolment) -> set[int]:
    """The group an enrolment is in, and the one it was in before this flush, if another."""
    history = attributes.instance_state(enrolment).attrs["group_id"].history
    return {enrolment.group_id, *history.deleted} - {None}


@event.listens_for(Session, "after_flush")
def refresh_after_flush(session: Session, _context) -> None:
    """Keep the stored clashes of what this flush changed (in its transaction)."""
    sessions: set[int] = set()
    groups: set[int] = set()
    for obj in session.new:
        if isinstance(obj, Occurrence):
            sessions.add(obj.id)
        elif isinstance(obj, Enrolment):
            groups |= _group_ids(obj)
    for obj in session.dirty:
        if isinstance(obj, Occurrence) and _changed(obj, _SESSION_FIELDS):
            sessions.add(obj.id)
        elif isinstance(obj, CourseGroup) and _changed(obj, ("mentor_id",)):
            groups.add(obj.id)
        elif isinstance(obj, Enrolment) and _changed(obj, ("group_id", "student_id")):
            groups |= _group_ids(obj)
    for obj in session.deleted:
        if isinstance(obj, Enrolment):
            groups |= _group_ids(obj)
    if not (sessions or groups):
        return
    connection = session.connection()
    refresh_sessions(sessions | _sessions_of(groups, connection), connection)
