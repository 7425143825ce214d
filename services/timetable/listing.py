"""Read-side queries: the sessions a viewer may see in a range (with conflict flags), as the
board, `flask list-sessions` and the API's /sessions list them, and today's board."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Select, select

from models import CourseGroup, Occurrence, OccurrenceStatus, Room, User, db
from services.common.timeutil import local_day_bounds, today_in
from services.permissions import attends, teaches_session, visible_to
from services.timetable.conflicts import conflicts_in_window
from services.timetable.schedule.view import NO_FILTERS, ScheduleFilters


@dataclass
class ListedOccurrence:
    occurrence: Occurrence
    conflict: bool

    def as_dict(self, tz) -> dict:
        o = self.occurrence
        start, end = o.start_utc.astimezone(tz), o.end_utc.astimezone(tz)
        return {
            "id": o.id,
            "group": o.group.name,
            "subject": o.group.subject.name,
            "mentor": o.mentor.name,  # who teaches it: its cover, if any
            "room": o.room.name if o.room else "",
            "date": start.date().isoformat(),
            "start": start.strftime("%H:%M"),
            "end": end.strftime("%H:%M"),
            # The end's local date: the next day for a session past midnight (23:30-00:30).
            "end_date": end.date().isoformat(),
            "status": str(o.status),
            "mode": str(o.mode),
            "conflict": self.conflict,
            "start_utc": o.start_utc.isoformat(),
            "end_utc": o.end_utc.isoformat(),
            "series_id": o.series_id,
            "original_date": o.original_date.isoformat() if o.original_date else None,
        }


def sessions_in_range(
    start: date,
    end: date,
    *,
    tz,
    viewer: User | None,
    filters: ScheduleFilters = NO_FILTERS,
) -> Select:
    """The query of the sessions `viewer` may see starting on the local dates [start, end),
    cancelled ones included, narrowed by the schedule's filters (ids); unordered, for the
    caller to order or page (the board and `flask list-sessions` through `list_occurrences`,
    the API's /sessions by cursor)."""
    start_utc, end_utc = local_day_bounds(start, end, tz)
    query = (
        select(Occurrence)
        .join(CourseGroup, CourseGroup.id == Occurrence.group_id)
        .where(Occurrence.start_utc >= start_utc, Occurrence.start_utc < end_utc)
    )
    query = visible_to(query, viewer)
    if filters.group_id:
        query = query.where(Occurrence.group_id == filters.group_id)
    if filters.room_id:
        query = query.where(Occurrence.room_id == filters.room_id)
    if filters.mentor_id:
        # Their groups' sessions and those they cover (see entries.py `narrowed`).
        query = query.where(teaches_session(filters.mentor_id))
    if filters.student_id:
        query = query.where(attends(Occurrence.group_id, filters.student_id))
    return query


def conflicting_ids(window_start: datetime, window_end: datetime) -> set[int]:
    """The ids of the sessions in a conflict found in the window (UTC instants)."""
    in_conflict: set[int] = set()
    for c in conflicts_in_window(window_start, window_end):
        in_conflict.update((c.first_id, c.second_id))
    return in_conflict


def list_occurrences(
    start: date,
    end: date,
    *,
    tz,
    group: str | None = None,
    room: str | None = None,
    viewer: User | None = None,
) -> list[ListedOccurrence]:
    """Sessions starting in the local-date range [start, end), cancelled ones included, by
    start then group name; `group` and `room` are names."""
    query = (
        sessions_in_range(start, end, tz=tz, viewer=viewer)
        .outerjoin(Room, Room.id == Occurrence.room_id)
        .order_by(Occurrence.start_utc, CourseGroup.name)
    )
    if group:
        query = query.where(CourseGroup.name == group)
    if room:
        query = query.where(Room.name == room)
    occurrences = list(db.session.scalars(query).unique())
    in_conflict = set()
    if occurrences:
        in_conflict = conflicting_ids(*local_day_bounds(start, end, tz))
    return [ListedOccurrence(o, o.id in in_conflict) for o in occurrences]


@dataclass
class RoomBoard:
    room_name: str
    now: list[Occurrence]
    next: list[Occurrence]
    later: list[Occurrence]


def todays_sessions_by_room(viewer: User, *, tz, now: datetime | None = None) -> list[RoomBoard]:
    """Today's non-cancelled sessions per room: running now, the next one, and the rest.
    Running now includes last night's session that runs past midnight (23:30-00:30)."""
    now = now or datetime.now(UTC)
    today = today_in(tz, now)
    # From yesterday: those of its sessions that have not ended yet are running now.
    listed = list_occurrences(
        today - timedelta(days=1), today + timedelta(days=1), tz=tz, viewer=viewer
    )
    by_room: dict[str, list[Occurrence]] = defaultdict(list)
    for item in listed:
        o = item.occurrence
        if o.status == OccurrenceStatus.CANCELLED or o.end_utc <= now:
            continue
        by_room[o.room.name if o.room else "Online"].append(o)
    boards = []
    for name in sorted(by_room):
        sessions = by_room[name]
        running = [o for o in sessions if o.start_utc <= now]
        upcoming = [o for o in sessions if o.start_utc > now]
        boards.append(RoomBoard(name, running, upcoming[:1], upcoming[1:]))
    return boards
