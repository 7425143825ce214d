"""A grid too big for one page: the week (or day) shown by room, a few rooms a page.

At 5,000 series the whole school's week is some 10,000 sessions: a 6.7 MB page that took 7 s
to build. Past `max_sessions` sessions the grid is laid out rooms-as-rows, `per_page` rooms a
page; one statement counts the grid's sessions by room (an index range on the start time),
and only the page's rooms' sessions are then read, with their conflicts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from models import CourseGroup, Occurrence, Room, User, db
from services.common.pagination import Page
from services.common.timeutil import local_day_bounds
from services.timetable.schedule.entries import GridEntry, Named, load_entries, narrowed
from services.timetable.schedule.layout import MONTH_CELL_LIMIT
from services.timetable.schedule.view import ScheduleFilters, ScheduleView

_occ, _grp, _room = Occurrence.__table__, CourseGroup.__table__, Room.__table__


@dataclass(frozen=True)
class RoomCount:
    room_id: int | None  # None: sessions without a room (online)
    name: str
    sessions: int


@dataclass
class GridSize:
    """The grid's sessions counted by room, rooms by name (sessions without a room last)."""

    rooms: list[RoomCount]

    @property
    def sessions(self) -> int:
        return sum(r.sessions for r in self.rooms)

    def page(self, number: int, per_page: int) -> Page:
        """The rooms of page `number` (a number past the end gives the last page)."""
        pages = max(1, -(-len(self.rooms) // per_page))
        number = min(max(number, 1), pages)
        first = (number - 1) * per_page
        return Page(
            items=self.rooms[first : first + per_page],
            number=number,
            per_page=per_page,
            total=len(self.rooms),
        )


def count_by_room(
    start: date,
    end: date,
    *,
    tz: ZoneInfo,
    filters: ScheduleFilters,
    viewer: User | None,
) -> GridSize:
    """The sessions starting on local dates [start, end) that `viewer` may see, narrowed by
    `filters` (as load_entries reads them), counted by room, in one statement."""
    start_utc, end_utc = local_day_bounds(start, end, tz)
    query = (
        select(_occ.c.room_id, _room.c.name, func.count(_occ.c.id))
        .join(_grp, _grp.c.id == _occ.c.group_id)
        .outerjoin(_room, _room.c.id == _occ.c.room_id)
        .where(_occ.c.start_utc >= start_utc, _occ.c.start_utc < end_utc)
        .group_by(_occ.c.room_id, _room.c.name)
    )
    rows = db.session.execute(narrowed(query, filters, viewer)).all()
    rooms = [RoomCount(room_id, name, n) for room_id, name, n in rows if room_id is not None]
    rooms.sort(key=lambda r: (r.name.casefold(), r.room_id))
    online = sum(n for room_id, _name, n in rows if room_id is None)
    if online:
        rooms.append(RoomCount(None, "No room (online)", online))
    return GridSize(rooms)


@dataclass
class GridPlan:
    """What a grid shows: its view (by room when paged), its sessions, the rooms it shows
    as rows even when empty, and when the grid is too big for one page, its page of rooms
    and the sessions of the whole grid."""

    view: ScheduleView
    entries: list[GridEntry]
    pinned_rooms: list
    page: Page | None = None
    sessions: int = 0
    asked_layout: str = "time"
    # A big month: each day's count, `entries` holding only the first few of each day.
    day_totals: dict[date, int] | None = None


def plan_grid(
    view: ScheduleView,
    *,
    tz: ZoneInfo,
    viewer: User | None,
    pinned_rooms: list,
    max_sessions: int | None,
    per_page: int,
) -> GridPlan:
    """The grid `view` asks for; or, past `max_sessions` sessions (None: no limit, as for a
    personal timetable) and unless `view.whole` or a filter, page `view.page` of it by room,
    `per_page` rooms a page. A week or day only: a month shows a few sessions a day anyway."""
    # A room's, a mentor's, a group's or a student's week is a few dozen sessions whatever
    # the school: only the unfiltered grid is counted first.
    whole = view.whole or max_sessions is None or view.filters.active

    def entries(room_ids=None) -> list[GridEntry]:
        return load_entries(
            view.first_day, view.last_day, tz=tz, filters=view.filters, viewer=viewer,
            room_ids=room_ids,
        )  # fmt: skip

    if whole:
        return GridPlan(view, entries(), pinned_rooms, asked_layout=view.layout)
    if view.view == "month":
        return _plan_month(view, tz=tz, viewer=viewer, max_sessions=max_sessions)
    size = count_by_room(view.first_day, view.last_day, tz=tz, filters=view.filters, viewer=viewer)
    if size.sessions <= max_sessions:
        return GridPlan(view, entries(), pinned_rooms, asked_layout=view.layout)
    page = size.page(view.page, per_page)
    paged = replace(view, layout="rooms", page=page.number)
    pinned = [Named(r.room_id, r.name) for r in page.items if r.room_id is not None]
    return GridPlan(
        paged, entries([r.room_id for r in page.items]), pinned, page, size.sessions, view.layout
    )


def _plan_month(
    view: ScheduleView, *, tz: ZoneInfo, viewer: User | None, max_sessions: int
) -> GridPlan:
    """A month shows the first MONTH_CELL_LIMIT sessions of each day and how many more: past
    `max_sessions` in the month, only those are read with their conflicts (a whole school's
    month at 5,000 series is some 40,000 sessions), after one statement of the month's
    sessions' ids and starts."""
    start_utc, end_utc = local_day_bounds(view.first_day, view.last_day, tz)
    query = (
        select(_occ.c.id, _occ.c.start_utc)
        .join(_grp, _grp.c.id == _occ.c.group_id)
        .where(_occ.c.start_utc >= start_utc, _occ.c.start_utc < end_utc)
        .order_by(_occ.c.start_utc, _grp.c.name, _occ.c.id)
    )
    rows = db.session.execute(narrowed(query, view.filters, viewer)).all()
    if len(rows) <= max_sessions:
        entries = load_entries(
            view.first_day, view.last_day, tz=tz, filters=view.filters, viewer=viewer
        )
        return GridPlan(view, entries, [], asked_layout=view.layout)
    totals: dict[date, int] = {}
    shown = []
    for occurrence_id, start in rows:
        day = start.astimezone(tz).date()
        totals[day] = totals.get(day, 0) + 1
        if totals[day] <= MONTH_CELL_LIMIT:
            shown.append(occurrence_id)
    entries = load_entries(
        view.first_day,
        view.last_day,
        tz=tz,
        filters=view.filters,
        viewer=viewer,
        occurrence_ids=shown,
    )
    return GridPlan(
        view, entries, [], sessions=len(rows), asked_layout=view.layout, day_totals=totals
    )
