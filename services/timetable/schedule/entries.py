"""The sessions a schedule shows, read as plain rows (see GridEntry), each with its exception and
the sessions it conflicts with (conflict_notes.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, bindparam, or_, select

from models import CourseGroup, DateOverride, Enrolment, Occurrence, Room, Subject, User, db
from models.enums import OccurrenceMode, OccurrenceStatus
from models.types import one_of
from services.common.timeutil import local_day_bounds
from services.permissions import attends, may_see_conflicts, teaches_session, visible_to
from services.timetable.schedule.conflict_notes import ConflictNote, attach_conflicts
from services.timetable.schedule.view import NO_FILTERS, ScheduleFilters

# --- What the grid reads of a session ------------------------------------------------------
#
# The grid draws sessions, it does not change them: it reads each as a plain row (session,
# group, subject, mentor, cover, room and exception in one statement) rather than as ORM
# objects, which cost several times more to load. The shapes keep the models' attribute names,
# so a template reads `o.group.mentor.name` and `o.mentor.name` (who teaches it) either way.


class Named(NamedTuple):
    id: int
    name: str


class GroupSummary(NamedTuple):
    id: int
    name: str
    mentor_id: int
    subject: Named
    mentor: Named


class SessionSummary(NamedTuple):
    id: int
    group_id: int
    series_id: int | None
    original_date: date | None
    status: OccurrenceStatus
    mode: OccurrenceMode
    start_utc: datetime
    end_utc: datetime
    room_id: int | None
    group: GroupSummary
    room: Named | None
    # The substitute covering it (cover for an absent mentor), else None.
    cover_mentor_id: int | None = None
    cover_mentor: Named | None = None

    @property
    def mentor_id(self) -> int:
        """Who teaches it: the substitute covering it, else its group's mentor."""
        return self.cover_mentor_id or self.group.mentor_id

    @property
    def mentor(self) -> Named:
        return self.cover_mentor if self.cover_mentor_id else self.group.mentor


class OverrideSummary(NamedTuple):
    """A session's exception: cancelled, or changed. `moves`: it changes the date, time or
    room (an exception naming only a substitute, cover, moves nothing)."""

    id: int
    cancelled: bool
    moves: bool = True


@dataclass
class GridEntry:
    """One session as the grid shows it."""

    occurrence: SessionSummary
    start: datetime  # local
    end: datetime  # local
    override: OverrideSummary | None = None
    conflicts: list[ConflictNote] = field(default_factory=list)

    @property
    def id(self) -> int:
        return self.occurrence.id

    @property
    def cancelled(self) -> bool:
        return self.occurrence.status == OccurrenceStatus.CANCELLED

    @property
    def completed(self) -> bool:
        return self.occurrence.status == OccurrenceStatus.COMPLETED

    @property
    def moved(self) -> bool:
        return self.override is not None and not self.override.cancelled and self.override.moves

    @property
    def covered(self) -> bool:
        """Someone other than the group's mentor teaches it (cover)."""
        return self.occurrence.cover_mentor_id is not None

    @property
    def editable(self) -> bool:
        """Whether the grid's exception editor applies (series sessions not yet completed)."""
        return self.occurrence.series_id is not None and not self.completed

    @property
    def conflict_text(self) -> str:
        return "; ".join(note.text for note in self.conflicts)


# The read side's statements name table columns (`_occ.c.id`), not mapped attributes
# (`Occurrence.id`): a statement naming mapped attributes goes through the ORM's result
# machinery even when it selects only columns, which doubles the cost of a small one.
_occ, _grp, _subj = Occurrence.__table__, CourseGroup.__table__, Subject.__table__
_room, _ovr, _enr = Room.__table__, DateOverride.__table__, Enrolment.__table__
_mentor = User.__table__.alias("mentor")
_cover = User.__table__.alias("cover")
# The exception changes where or when the session takes place (not only who teaches it).
_override_moves = or_(
    _ovr.c.new_date.is_not(None),
    _ovr.c.start_time.is_not(None),
    _ovr.c.end_time.is_not(None),
    _ovr.c.room_id.is_not(None),
)


@lru_cache(maxsize=1)
def _summary_query() -> Select:
    """Sessions as the grid reads them (see GridEntry), joined to what it shows."""
    return (
        select(
            _occ.c.id,
            _occ.c.group_id,
            _occ.c.series_id,
            _occ.c.original_date,
            _occ.c.status,
            _occ.c.mode,
            _occ.c.start_utc,
            _occ.c.end_utc,
            _occ.c.room_id,
            _grp.c.name,
            _grp.c.mentor_id,
            _subj.c.id,
            _subj.c.name,
            _mentor.c.name,
            _room.c.name,
            _ovr.c.id,
            _ovr.c.cancelled,
            _override_moves,
            _occ.c.cover_mentor_id,
            _cover.c.name,
        )
        .join(_grp, _grp.c.id == _occ.c.group_id)
        .join(_subj, _subj.c.id == _grp.c.subject_id)
        .join(_mentor, _mentor.c.id == _grp.c.mentor_id)
        .outerjoin(_room, _room.c.id == _occ.c.room_id)
        .outerjoin(_cover, _cover.c.id == _occ.c.cover_mentor_id)
        .outerjoin(
            _ovr,
            and_(
                _ovr.c.series_id == _occ.c.series_id,
                _ovr.c.original_date == _occ.c.original_date,
            ),
        )
    )


def _entry_of(row, tz: ZoneInfo) -> GridEntry:
    (
        occurrence_id, group_id, series_id, original_date, status, mode, start, end, room_id,
        group_name, mentor_id, subject_id, subject_name, mentor_name, room_name,
        override_id, override_cancelled, override_moves, cover_id, cover_name,
    ) = row  # fmt: skip
    subject, mentor = Named(subject_id, subject_name), Named(mentor_id, mentor_name)
    group = GroupSummary(group_id, group_name, mentor_id, subject, mentor)
    room = Named(room_id, room_name) if room_id is not None else None
    cover = Named(cover_id, cover_name) if cover_id is not None else None
    session = SessionSummary(
        occurrence_id, group_id, series_id, original_date, status, mode, start, end, room_id,
        group, room, cover_id, cover,
    )  # fmt: skip
    override = (
        OverrideSummary(override_id, override_cancelled, bool(override_moves))
        if override_id
        else None
    )
    return GridEntry(session, start.astimezone(tz), end.astimezone(tz), override)


def narrowed(query: Select, filters: ScheduleFilters, viewer: User | None) -> Select:
    """`query` (of sessions joined to their groups, as table columns) narrowed by the
    schedule's filters and to what `viewer` may see: the grid's sessions, and the count by
    room of a paged grid, narrowed alike."""
    if filters.room_id:
        query = query.where(_occ.c.room_id == filters.room_id)
    if filters.mentor_id:
        # Their groups' sessions (those covered by someone else stay, marked) and the sessions
        # they cover: each side read by its index.
        query = query.where(teaches_session(filters.mentor_id))
    if filters.group_id:
        query = query.where(_occ.c.group_id == filters.group_id)
    if filters.student_id:
        query = query.where(attends(_occ.c.group_id, filters.student_id))
    return visible_to(query, viewer)


def load_entries(
    start: date,
    end: date,
    *,
    tz: ZoneInfo,
    filters: ScheduleFilters = NO_FILTERS,
    viewer: User | None = None,
    room_ids: Sequence[int | None] | None = None,
    occurrence_ids: Sequence[int] | None = None,
) -> list[GridEntry]:
    """Sessions starting on local dates [start, end) that `viewer` may see, narrowed by
    `filters` (and to the rooms `room_ids`, None meaning no room, when given: one page of a
    paged grid, a few dozen ids at most) or to the sessions `occurrence_ids` (the few a month
    shows of each day), with their exceptions and (where `viewer` may see
    them: staff, the session's mentor) their conflicts; ordered by start."""
    start_utc, end_utc = local_day_bounds(start, end, tz)
    query = (
        _summary_query()
        .where(_occ.c.start_utc >= start_utc, _occ.c.start_utc < end_utc)
        .order_by(_occ.c.start_utc, _grp.c.name, _occ.c.id)
    )
    if room_ids is not None:
        rooms = one_of(_occ.c.room_id, [r for r in room_ids if r is not None])
        query = query.where(or_(rooms, _occ.c.room_id.is_(None)) if None in room_ids else rooms)
    if occurrence_ids is not None:
        query = query.where(one_of(_occ.c.id, occurrence_ids))
    query = narrowed(query, filters, viewer)
    entries = [_entry_of(row, tz) for row in db.session.execute(query)]
    told = [e for e in entries if may_see_conflicts(viewer, e.occurrence)]
    if told:
        attach_conflicts(told, tz)
    return entries


@lru_cache(maxsize=1)
def _entry_query() -> Select:
    return _summary_query().where(_occ.c.id == bindparam("occurrence_id"))


def load_entry(occurrence_id: int, *, tz: ZoneInfo) -> GridEntry | None:
    """One session as the grid shows it (exception and conflicts), or None if there is none
    with this id; the session and its exception in one statement."""
    row = db.session.execute(_entry_query(), {"occurrence_id": occurrence_id}).first()
    if row is None:
        return None
    entry = _entry_of(row, tz)
    attach_conflicts([entry], tz)
    return entry


def entries_affected_by(
    occurrence_id: int, entries_before: list[GridEntry], entries_after: list[GridEntry]
) -> set[int]:
    """The session changed, plus every session it conflicted with before or after: their
    cells are the ones to redraw."""
    affected = {occurrence_id}
    for entries in (entries_before, entries_after):
        for entry in entries:
            if entry.id == occurrence_id:
                affected.update(note.other_id for note in entry.conflicts)
    return affected
