"""The schedule's read side: sessions of a week, a day or a month laid out as grid cells.

Sessions belong to the cell of their local start (a day and an hour, or a room and a day).
Each carries what the grid shows: its exception (moved or cancelled), and the sessions it
conflicts with, named. Conflicts are found among the shown sessions and only the sessions
that could clash with them (same rooms, same mentors, groups sharing a student), so a week
filtered to one room costs the same whatever the size of the school.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import (
    CompoundSelect,
    Select,
    and_,
    bindparam,
    exists,
    literal,
    or_,
    select,
    union_all,
)

from models import (
    MAX_ID,
    CourseGroup,
    DateOverride,
    Enrolment,
    Occurrence,
    Room,
    Subject,
    User,
    db,
)
from models.enums import OccurrenceMode, OccurrenceStatus, Role
from services.common.errors import ValidationError
from services.common.numbers import whole_number
from services.common.timeutil import local_day_bounds, span_label, week_start
from services.permissions import may_see_conflicts, visible_to
from services.timetable.conflicts import (
    MAX_SESSION_LENGTH,
    MENTOR,
    ROOM,
    STUDENT,
    Slot,
    find_conflicts,
    ids_param,
    in_ids,
    instant_reader,
    raw_instant,
)

VIEWS = ("week", "day", "month")
LAYOUTS = ("time", "rooms")
# The hours a time grid always shows, so a cell can receive a moved session; a week with
# sessions outside them grows its rows.
FIRST_HOUR, LAST_HOUR = 7, 20
MONTH_CELL_LIMIT = 6
_CONFLICT_WORDS = {ROOM: "Room", MENTOR: "Mentor", STUDENT: "Student"}


@dataclass(frozen=True)
class ScheduleFilters:
    """What the grid is narrowed to; ids, all optional and combinable."""

    room_id: int | None = None
    mentor_id: int | None = None
    group_id: int | None = None
    student_id: int | None = None

    @property
    def active(self) -> bool:
        return any((self.room_id, self.mentor_id, self.group_id, self.student_id))


@dataclass(frozen=True)
class ScheduleView:
    """Which grid: a view of the data around a date, its layout, and its filters."""

    view: str = "week"
    layout: str = "time"
    day: date = date(2000, 1, 3)
    filters: ScheduleFilters = ScheduleFilters()

    @property
    def first_day(self) -> date:
        if self.view == "day":
            return self.day
        if self.view == "month":
            return week_start(self.day.replace(day=1))
        return week_start(self.day)

    @property
    def last_day(self) -> date:
        """The day after the grid's last one (half-open)."""
        if self.view == "day":
            return self.day + timedelta(days=1)
        if self.view == "month":
            next_month = (self.day.replace(day=28) + timedelta(days=4)).replace(day=1)
            return week_start(next_month - timedelta(days=1)) + timedelta(days=7)
        return self.first_day + timedelta(days=7)

    @property
    def last_shown_day(self) -> date:
        return self.last_day - timedelta(days=1)

    def shifted(self, steps: int) -> date:
        """The anchor date `steps` views later (or earlier)."""
        if self.view == "day":
            return self.day + timedelta(days=steps)
        if self.view == "month":
            month = self.day.month - 1 + steps
            return date(self.day.year + month // 12, month % 12 + 1, 1)
        return self.day + timedelta(weeks=steps)

    def query_args(self, **changes) -> dict:
        """The URL parameters that reproduce this view (with `changes`), for links."""
        args = {
            "view": self.view,
            "layout": self.layout,
            "date": self.day.isoformat(),
            "room": self.filters.room_id,
            "mentor": self.filters.mentor_id,
            "group": self.filters.group_id,
            "student": self.filters.student_id,
        }
        args.update(changes)
        return {k: v for k, v in args.items() if v not in (None, "")}


def parse_view(args, *, today: date) -> tuple[ScheduleView, dict[str, str]]:
    """A ScheduleView from URL parameters; bad values fall back and are reported by field."""
    errors: dict[str, str] = {}
    view = args.get("view", "week")
    if view not in VIEWS:
        errors["view"] = f"Unknown view {view!r}: showing the week."
        view = "week"
    layout = args.get("layout", "time")
    if layout not in LAYOUTS:
        errors["layout"] = f"Unknown layout {layout!r}: showing days by time."
        layout = "time"
    day = today
    if args.get("date"):
        try:
            day = date.fromisoformat(args["date"])
        except ValueError:
            errors["date"] = f"{args['date']!r} is not a date (YYYY-MM-DD): showing today."
        else:
            if not date(1970, 1, 1) <= day <= date(2999, 12, 31):
                errors["date"] = "Choose a date between 1970 and 2999: showing today."
                day = today
    ids = {}
    for name in ("room", "mentor", "group", "student"):
        raw = args.get(name, "")
        if raw in ("", None):
            ids[name] = None
        elif whole_number(raw, MAX_ID):
            ids[name] = whole_number(raw, MAX_ID)
        else:
            errors[name] = f"Unknown {name}: filter ignored."
            ids[name] = None
    filters = ScheduleFilters(ids["room"], ids["mentor"], ids["group"], ids["student"])
    return ScheduleView(view, layout, day, filters), errors


class ConflictNote(NamedTuple):
    kind: str
    other_id: int
    other_label: str

    @property
    def text(self) -> str:
        return f"{_CONFLICT_WORDS[self.kind]} conflict with {self.other_label}"


# --- What the grid reads of a session ------------------------------------------------------
#
# The grid draws sessions, it does not change them: it reads each as a plain row (session,
# group, subject, mentor, room and exception in one statement) rather than as ORM objects,
# which cost several times more to load. The shapes keep the models' attribute names, so a
# template reads `o.group.mentor.name` either way.


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


class OverrideSummary(NamedTuple):
    """A session's exception: cancelled, or moved (time, room or notes)."""

    id: int
    cancelled: bool


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
        return self.override is not None and not self.override.cancelled

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
        )
        .join(_grp, _grp.c.id == _occ.c.group_id)
        .join(_subj, _subj.c.id == _grp.c.subject_id)
        .join(_mentor, _mentor.c.id == _grp.c.mentor_id)
        .outerjoin(_room, _room.c.id == _occ.c.room_id)
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
        override_id, override_cancelled,
    ) = row  # fmt: skip
    subject, mentor = Named(subject_id, subject_name), Named(mentor_id, mentor_name)
    group = GroupSummary(group_id, group_name, mentor_id, subject, mentor)
    room = Named(room_id, room_name) if room_id is not None else None
    session = SessionSummary(
        occurrence_id, group_id, series_id, original_date, status, mode, start, end, room_id,
        group, room,
    )  # fmt: skip
    override = OverrideSummary(override_id, override_cancelled) if override_id else None
    return GridEntry(session, start.astimezone(tz), end.astimezone(tz), override)


def load_entries(
    start: date,
    end: date,
    *,
    tz: ZoneInfo,
    filters: ScheduleFilters = ScheduleFilters(),
    viewer: User | None = None,
) -> list[GridEntry]:
    """Sessions starting on local dates [start, end) that `viewer` may see, narrowed by
    `filters`, with their exceptions and (where `viewer` may see them: staff, the session's
    mentor) their conflicts; ordered by start."""
    start_utc, end_utc = local_day_bounds(start, end, tz)
    query = (
        _summary_query()
        .where(_occ.c.start_utc >= start_utc, _occ.c.start_utc < end_utc)
        .order_by(_occ.c.start_utc, _grp.c.name, _occ.c.id)
    )
    if filters.room_id:
        query = query.where(_occ.c.room_id == filters.room_id)
    if filters.mentor_id:
        query = query.where(_grp.c.mentor_id == filters.mentor_id)
    if filters.group_id:
        query = query.where(_occ.c.group_id == filters.group_id)
    if filters.student_id:
        query = query.where(
            exists().where(
                _enr.c.group_id == _occ.c.group_id,
                _enr.c.student_id == filters.student_id,
            )
        )
    entries = [_entry_of(row, tz) for row in db.session.execute(visible_to(query, viewer))]
    told = [e for e in entries if may_see_conflicts(viewer, e.occurrence)]
    if told:
        _attach_conflicts(told, tz)
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
    _attach_conflicts_of_one(entry, tz)
    return entry


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


def _attach_conflicts_of_one(entry: GridEntry, tz: ZoneInfo) -> None:
    """`_attach_conflicts` for a single session, in one statement."""
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


def _attach_conflicts(entries: list[GridEntry], tz: ZoneInfo) -> None:
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
# statement without per-window lists is used instead.
MAX_WINDOWS = 8
MAX_LISTED = 2_000


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
def _listed_candidate_query(windows: int, dialect: str) -> CompoundSelect:
    """Non-cancelled sessions overlapping window n (s<n> to e<n>, scanning the start index
    from f<n>) with one of its rooms (r<n>), mentors (m<n>) or groups (g<n>), for each
    n < `windows`: one index range per window, the lists bound as arrays (see `in_ids`).
    A session overlapping two windows is listed twice."""
    return union_all(
        *(
            _candidate_columns(dialect).where(
                _occ.c.status != OccurrenceStatus.CANCELLED,
                _occ.c.start_utc < bindparam(f"e{n}", type_=_occ.c.start_utc.type),
                _occ.c.start_utc > bindparam(f"f{n}", type_=_occ.c.start_utc.type),
                _occ.c.end_utc > bindparam(f"s{n}", type_=_occ.c.end_utc.type),
                or_(
                    in_ids(_occ.c.room_id, f"r{n}", dialect),
                    in_ids(_grp.c.mentor_id, f"m{n}", dialect),
                    in_ids(_occ.c.group_id, f"g{n}", dialect),
                ),
            )
            for n in range(windows)
        )
    )


@lru_cache(maxsize=MAX_WINDOWS * 2)
def _broad_candidate_query(windows: int, dialect: str) -> Select:
    """Non-cancelled sessions overlapping one of `windows` windows that could clash with a
    shown one: in one of their rooms (`rooms`), with one of their mentors (`mentors`), of one
    of their groups (`groups`) or of a group sharing a student with them."""
    mine, theirs = _enr.alias("mine"), _enr.alias("theirs")
    groups = bindparam("groups", expanding=True)
    sharing_a_student = (
        select(theirs.c.group_id)
        .join(mine, mine.c.student_id == theirs.c.student_id)
        .where(mine.c.group_id.in_(groups))
    )
    return _candidate_columns(dialect).where(
        _occ.c.status != OccurrenceStatus.CANCELLED,
        _in_span(),
        or_(*(_overlapping(n) for n in range(windows))),
        or_(
            _occ.c.room_id.in_(bindparam("rooms", expanding=True)),
            _grp.c.mentor_id.in_(bindparam("mentors", expanding=True)),
            _occ.c.group_id.in_(groups),
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
            params[f"r{n}"] = ids_param(window.rooms, dialect)
            params[f"m{n}"] = ids_param(window.mentors, dialect)
            params[f"g{n}"] = ids_param(window.groups, dialect)
        query = _listed_candidate_query(len(windows), dialect)
    else:
        params["first_start"] = windows[0].start
        params["last_end"] = windows[-1].end
        params["span_floor"] = windows[0].start - MAX_SESSION_LENGTH
        params["rooms"] = sorted({e.occurrence.room_id for e in shown if e.occurrence.room_id})
        params["mentors"] = sorted({e.occurrence.group.mentor_id for e in shown})
        params["groups"] = sorted(groups)
        query = _broad_candidate_query(len(windows), dialect)
    # Keyed by id: a session overlapping two windows comes once per window.
    rows = {r[0]: r for r in db.session.execute(query, params).all()}.values()
    read = instant_reader(dialect)
    slots = [Slot(r[0], r[1], read(r[2]), read(r[3]), r[4], r[5]) for r in rows]
    return slots, {r[0]: r[6] for r in rows}


@lru_cache(maxsize=1)
def _students_query() -> Select:
    enrolment = Enrolment.__table__.c
    students = select(enrolment.student_id).where(
        enrolment.group_id.in_(bindparam("groups", expanding=True))
    )
    return select(enrolment.group_id, enrolment.student_id).where(
        enrolment.student_id.in_(students)
    )


def _students_sharing_with(groups: set[int]) -> dict[int, set[int]]:
    """Every group of every student of `groups`, with those students: all that student
    conflicts of sessions of `groups` depend on."""
    students: dict[int, set[int]] = defaultdict(set)
    for group_id, student_id in db.session.execute(_students_query(), {"groups": sorted(groups)}):
        students[group_id].add(student_id)
    return students


def _label(group_name: str, start: datetime, end: datetime) -> str:
    """'Maths 7A Mon 07 Sep 10:00-11:00' ('23:30-00:30 (+1 day)' past midnight); local times."""
    return f"{group_name} {start:%a %d %b} {span_label(start, end, start.tzinfo, '-')}"


# --- Layout ------------------------------------------------------------------------------


@dataclass
class Cell:
    id: str
    day: date
    entries: list[GridEntry] = field(default_factory=list)


@dataclass
class Row:
    key: object
    label: str
    cells: list[Cell]


@dataclass
class Grid:
    """Rows of cells, one column per day; `row_keys` identify the layout for comparison."""

    view: ScheduleView
    days: list[date]
    rows: list[Row]
    entry_count: int

    @property
    def row_keys(self) -> tuple:
        return tuple(row.key for row in self.rows)

    def cell(self, cell_id: str) -> Cell | None:
        for row in self.rows:
            for cell in row.cells:
                if cell.id == cell_id:
                    return cell
        return None


def time_cell_id(day: date, hour: int) -> str:
    return f"cell-{day:%Y%m%d}-{hour:02d}"


def room_cell_id(room_id: int | None, day: date) -> str:
    return f"cell-r{room_id or 0}-{day:%Y%m%d}"


def cell_id_of(entry: GridEntry, layout: str) -> str:
    if layout == "rooms":
        return room_cell_id(entry.occurrence.room_id, entry.start.date())
    return time_cell_id(entry.start.date(), entry.start.hour)


def build_grid(view: ScheduleView, entries: list[GridEntry], rooms: Iterable[Room] = ()) -> Grid:
    """Lay `entries` out for a week or day view (days as columns)."""
    days = [
        view.first_day + timedelta(days=n) for n in range((view.last_day - view.first_day).days)
    ]
    by_room = view.layout == "rooms"
    rows = _room_rows(days, entries, rooms) if by_room else _hour_rows(days, entries)
    return Grid(view, days, rows, len(entries))


def _hour_rows(days: list[date], entries: list[GridEntry]) -> list[Row]:
    hours = [e.start.hour for e in entries]
    first = min([FIRST_HOUR, *hours])
    last = max([LAST_HOUR, *hours])
    cells = {
        (day, hour): Cell(time_cell_id(day, hour), day)
        for hour in range(first, last + 1)
        for day in days
    }
    for entry in entries:
        cells[(entry.start.date(), entry.start.hour)].entries.append(entry)
    return [
        Row(hour, f"{hour:02d}:00", [cells[(day, hour)] for day in days])
        for hour in range(first, last + 1)
    ]


def _room_rows(days: list[date], entries: list[GridEntry], rooms: Iterable[Room]) -> list[Row]:
    """A row per room that has a session in the grid (and per room given), then "No room"."""
    names = {room.id: room.name for room in rooms}
    for entry in entries:
        room = entry.occurrence.room
        if room is not None:
            names.setdefault(room.id, room.name)
    keys: list[int | None] = sorted(names, key=lambda room_id: names[room_id].casefold())
    if any(e.occurrence.room_id is None for e in entries):
        keys.append(None)
    cells = {(key, day): Cell(room_cell_id(key, day), day) for key in keys for day in days}
    for entry in entries:
        cells[(entry.occurrence.room_id, entry.start.date())].entries.append(entry)
    return [
        Row(key, names.get(key, "No room (online)"), [cells[(key, day)] for day in days])
        for key in keys
    ]


@dataclass
class MonthDay:
    day: date
    in_month: bool
    entries: list[GridEntry]

    @property
    def shown(self) -> list[GridEntry]:
        return self.entries[:MONTH_CELL_LIMIT]

    @property
    def hidden_count(self) -> int:
        return max(0, len(self.entries) - MONTH_CELL_LIMIT)


def build_month(view: ScheduleView, entries: list[GridEntry]) -> list[list[MonthDay]]:
    """Weeks (Monday first) of days, each with its sessions, for the month of `view.day`."""
    by_day: dict[date, list[GridEntry]] = defaultdict(list)
    for entry in entries:
        by_day[entry.start.date()].append(entry)
    weeks = []
    day = view.first_day
    while day < view.last_day:
        weeks.append(
            [
                MonthDay(d, d.month == view.day.month, by_day.get(d, []))
                for d in (day + timedelta(days=n) for n in range(7))
            ]
        )
        day += timedelta(days=7)
    return weeks


# --- Filter choices ----------------------------------------------------------------------


@dataclass
class FilterChoices:
    rooms: list[tuple[int, str]]
    mentors: list[tuple[int, str]]
    groups: list[tuple[int, str]]
    student: User | None


_ROOMS, _MENTORS, _GROUPS = 0, 1, 2


@lru_cache(maxsize=1)
def _choices_query() -> Select:
    """The filter bar's three lists in one statement (built once: the page is drawn at
    every navigation)."""
    room, user, group = _room.c, User.__table__.c, _grp.c
    rooms = select(literal(_ROOMS).label("list"), room.id, room.name).where(
        or_(room.active.is_(True), room.id == bindparam("room"))
    )
    mentors = select(literal(_MENTORS), user.id, user.name).where(
        user.role == Role.MENTOR,
        or_(user.active.is_(True), user.id == bindparam("mentor")),
    )
    groups = select(literal(_GROUPS), group.id, group.name).where(
        or_(group.active.is_(True), group.id == bindparam("group"))
    )
    combined = union_all(rooms, mentors, groups).subquery()
    return select(combined.c.list, combined.c.id, combined.c.name).order_by(
        combined.c.list, combined.c.name, combined.c.id
    )


def filter_choices(filters: ScheduleFilters) -> FilterChoices:
    """The options of the filter bar (active ones, plus whatever is selected)."""
    lists: tuple[list, list, list] = ([], [], [])
    params = {
        "room": filters.room_id or 0,
        "mentor": filters.mentor_id or 0,
        "group": filters.group_id or 0,
    }
    for which, ident, name in db.session.execute(_choices_query(), params):
        lists[which].append((ident, name))
    student = None
    if filters.student_id:
        student = db.session.scalar(
            select(User).where(User.id == filters.student_id, User.role == Role.STUDENT)
        )
    return FilterChoices(*lists, student)


def find_student(text: str) -> User:
    """The student a filter's text names: an exact e-mail, or a unique part of a name."""
    text = text.strip()
    if not text:
        raise ValidationError("Type a student's name or e-mail.", field="student")
    query = select(User).where(User.role == Role.STUDENT)
    exact = db.session.scalar(query.where(User.email == text.lower()))
    if exact is not None:
        return exact
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    matches = db.session.scalars(
        query.where(User.name.ilike(pattern, escape="\\")).order_by(User.name).limit(6)
    ).all()
    if not matches:
        raise ValidationError(f"No student matches {text!r}.", field="student")
    if len(matches) > 1:
        names = ", ".join(m.name for m in matches[:5]) + (", ..." if len(matches) > 5 else "")
        raise ValidationError(f"Several students match {text!r}: {names}.", field="student")
    return matches[0]


def personal_filters(user: User) -> ScheduleFilters:
    """A mentor's own sessions, or a student's own timetable."""
    if user.role == Role.MENTOR:
        return ScheduleFilters(mentor_id=user.id)
    if user.role == Role.STUDENT:
        return ScheduleFilters(student_id=user.id)
    return ScheduleFilters()


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
