"""Read-side queries: sessions in a range (with conflict flags) and today's board."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from models import CourseGroup, Occurrence, OccurrenceStatus, Room, User, db
from services.common.timeutil import local_day_bounds, today_in
from services.permissions import visible_to
from services.timetable.conflicts import conflicts_in_window


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
            "mentor": o.group.mentor.name,
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


def list_occurrences(
    start: date,
    end: date,
    *,
    tz,
    group: str | None = None,
    room: str | None = None,
    viewer: User | None = None,
) -> list[ListedOccurrence]:
    """Sessions starting in the local-date range [start, end), cancelled ones included."""
    start_utc, end_utc = local_day_bounds(start, end, tz)
    query = (
        select(Occurrence)
        .join(CourseGroup, CourseGroup.id == Occurrence.group_id)
        .outerjoin(Room, Room.id == Occurrence.room_id)
        .where(Occurrence.start_utc >= start_utc, Occurrence.start_utc < end_utc)
        .order_by(Occurrence.start_utc, CourseGroup.name)
    )
    if group:
        query = query.where(CourseGroup.name == group)
    if room:
        query = query.where(Room.name == room)
    occurrences = list(db.session.scalars(visible_to(query, viewer)).unique())
    in_conflict = set()
    if occurrences:
        for c in conflicts_in_window(start_utc, end_utc):
            in_conflict.update((c.first_id, c.second_id))
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
