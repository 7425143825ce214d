"""iCalendar feeds (RFC 5545) behind secret URLs: a user's own sessions, or for staff one
room's or one group's. Calendar apps poll them, so a feed has a cheap fingerprint (its ETag)
that changes whenever one of its sessions does.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event
from sqlalchemy import Select, func, select

from models import (
    CalendarFeed,
    CourseGroup,
    GroupKind,
    Occurrence,
    OccurrenceMode,
    OccurrenceStatus,
    Role,
    Room,
    User,
    db,
)
from services.common.errors import NotFoundError, ValidationError
from services.common.numbers import is_row_id
from services.output.ical_timezones import vtimezone
from services.permissions import enrolled_in_group
from services.timetable.video_rooms import join_url

OWN, ROOM, GROUP = "own", "room", "group"
# Whom a feed's events are written for.
STUDENT, MENTOR, STAFF = "student", "mentor", "staff"
# What a feed holds: recent history and the year ahead.
FEED_PAST = timedelta(days=90)
FEED_FUTURE = timedelta(days=400)
PRODID = "-//Termtable//Termtable sessions//EN"
# Part of every feed's ETag: raised when the way events are written changes (2: VTIMEZONE with
# yearly rules, titles for their reader), so calendar apps holding an old copy fetch it anew.
FEED_FORMAT = 2


def _new_token() -> str:
    return secrets.token_urlsafe(32)


def own_feed(user: User) -> CalendarFeed:
    """The user's feed of their own sessions (made on first use)."""
    feed = db.session.scalar(
        select(CalendarFeed).where(
            CalendarFeed.owner_id == user.id,
            CalendarFeed.scope == OWN,
            CalendarFeed.revoked_at.is_(None),
        )
    )
    if feed is None:
        feed = CalendarFeed(owner_id=user.id, scope=OWN, token=_new_token())
        db.session.add(feed)
        db.session.flush()
    return feed


def staff_feed(user: User, *, room_id: int | None = None, group_id: int | None = None):
    """A staff member's feed of one room or one group (the existing one, or a new one)."""
    if not user.is_staff:
        raise ValidationError("Only staff take room and group feeds.", field="scope")
    if (room_id is None) == (group_id is None):
        raise ValidationError("Choose a room or a group.", field="scope")
    if room_id is not None and db.session.get(Room, room_id) is None:
        raise ValidationError("Choose a room.", field="room")
    if group_id is not None and db.session.get(CourseGroup, group_id) is None:
        raise ValidationError("Choose a group.", field="group")
    scope = ROOM if room_id is not None else GROUP
    feed = db.session.scalar(
        select(CalendarFeed).where(
            CalendarFeed.owner_id == user.id,
            CalendarFeed.scope == scope,
            CalendarFeed.room_id.is_(None) if room_id is None else CalendarFeed.room_id == room_id,
            CalendarFeed.group_id.is_(None)
            if group_id is None
            else CalendarFeed.group_id == group_id,
            CalendarFeed.revoked_at.is_(None),
        )
    )
    if feed is None:
        feed = CalendarFeed(
            owner_id=user.id, scope=scope, room_id=room_id, group_id=group_id, token=_new_token()
        )
        db.session.add(feed)
        db.session.flush()
    return feed


def feeds_of(user: User) -> list[CalendarFeed]:
    return list(
        db.session.scalars(
            select(CalendarFeed)
            .where(CalendarFeed.owner_id == user.id, CalendarFeed.revoked_at.is_(None))
            .order_by(CalendarFeed.scope != OWN, CalendarFeed.created_at, CalendarFeed.id)
        )
    )


def owned_feed(user: User, feed_id: int) -> CalendarFeed:
    feed = db.session.get(CalendarFeed, feed_id) if is_row_id(feed_id) else None
    if feed is None or feed.owner_id != user.id or feed.revoked_at is not None:
        raise NotFoundError("No such feed.")
    return feed


def regenerate(feed: CalendarFeed) -> CalendarFeed:
    """A new secret URL for the same feed; the old one stops working at once."""
    feed.revoked_at = datetime.now(UTC)
    db.session.flush()
    fresh = CalendarFeed(
        owner_id=feed.owner_id,
        scope=feed.scope,
        room_id=feed.room_id,
        group_id=feed.group_id,
        token=_new_token(),
    )
    db.session.add(fresh)
    db.session.flush()
    return fresh


def revoke(feed: CalendarFeed) -> None:
    feed.revoked_at = datetime.now(UTC)
    db.session.flush()


def feed_by_token(token: str) -> CalendarFeed | None:
    """The working feed of a URL token: its owner's account is active, and a room or group
    feed's owner is still staff (such a feed shows sessions its owner no longer may see)."""
    if not token or len(token) > 64:
        return None
    feed = db.session.scalar(select(CalendarFeed).where(CalendarFeed.token == token))
    if feed is None or feed.revoked_at is not None or not feed.owner.is_active_account:
        return None
    if feed.scope != OWN and not feed.owner.is_staff:
        return None
    return feed


def _sessions_query(feed: CalendarFeed, now: datetime) -> Select:
    query = (
        select(Occurrence)
        .join(CourseGroup, CourseGroup.id == Occurrence.group_id)
        .where(
            Occurrence.start_utc >= now - FEED_PAST,
            Occurrence.start_utc < now + FEED_FUTURE,
        )
    )
    if feed.scope == ROOM:
        return query.where(Occurrence.room_id == feed.room_id)
    if feed.scope == GROUP:
        return query.where(Occurrence.group_id == feed.group_id)
    owner = feed.owner
    if owner.role == Role.MENTOR:
        return query.where(CourseGroup.mentor_id == owner.id)
    if owner.role == Role.STUDENT:
        return query.where(enrolled_in_group(Occurrence.group_id, owner.id))
    return query.where(CourseGroup.mentor_id == owner.id)  # staff teach nothing of their own


def fingerprint(feed: CalendarFeed, now: datetime | None = None) -> str:
    """A value that changes whenever the feed's content does (its sessions, their sequence
    or their last change): the ETag, computed without building the feed."""
    now = now or datetime.now(UTC)
    sessions = _sessions_query(feed, now).subquery()
    count, last_change, sequences, ids = db.session.execute(
        select(
            func.count(),
            func.max(sessions.c.updated_at),
            func.coalesce(func.sum(sessions.c.sequence), 0),
            func.coalesce(func.sum(sessions.c.id), 0),
        )
    ).one()
    # The window moves with the day, so the day is part of it too.
    raw = (
        f"{FEED_FORMAT}:{feed.id}:{feed.token}:{now.date()}:{count}:{last_change}:{sequences}:{ids}"
    )
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def calendar_name(feed: CalendarFeed) -> str:
    if feed.scope == ROOM:
        return f"Termtable: {feed.room.name}"
    if feed.scope == GROUP:
        return f"Termtable: {feed.group.name}"
    own = "My sessions" if feed.owner.role == Role.MENTOR else "My timetable"
    return f"Termtable: {own}"


def build_feed(
    feed: CalendarFeed, *, tz: ZoneInfo, base_url: str = "", now: datetime | None = None
) -> bytes:
    """The feed as an iCalendar document: one VEVENT per session, times in the
    organisation's zone with its VTIMEZONE, cancelled sessions marked CANCELLED."""
    now = now or datetime.now(UTC)
    occurrences = db.session.scalars(
        _sessions_query(feed, now).order_by(Occurrence.start_utc, Occurrence.id)
    ).unique()
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", calendar_name(feed))
    calendar.add("x-wr-timezone", tz.key)
    # The zone's rules as calendar servers write them (yearly RRULEs), right for the window.
    calendar.add_component(vtimezone(tz, now - FEED_PAST, now + FEED_FUTURE + timedelta(days=1)))
    reader = _reader(feed)
    for occurrence in occurrences:
        calendar.add_component(_event(occurrence, tz, base_url, now, reader))
    return calendar.to_ical()


def _reader(feed: CalendarFeed) -> str:
    """Whom the feed's events are written for: STUDENT (their own sessions), MENTOR (the
    sessions they teach) or STAFF (a room's or a group's, someone else's sessions)."""
    if feed.scope != OWN:
        return STAFF
    return STUDENT if feed.owner.role == Role.STUDENT else MENTOR


def _students(group: CourseGroup) -> str:
    return ", ".join(sorted(e.student.name for e in group.enrolments))


def event_title(occurrence: Occurrence, reader: str) -> str:
    """The event's summary, in the words of its reader. A student reads the subject (or the
    session's own title) and their mentor: "Mathematics with Amelia Hart". A mentor reads the
    class ("Mathematics · Maths 7A") or, for one-to-one tutoring, the student ("Mathematics
    with Noah Bernard"). Staff read the class, or who tutors whom. Nobody reads their own
    name (a tutoring group's name, "Mathematics: Amelia Hart with Noah Bernard", holds both)."""
    group = occurrence.group
    name = occurrence.title or group.subject.name
    tutoring = group.kind == GroupKind.TUTORING
    if reader == STUDENT:
        return f"{name} with {group.mentor.name}"
    students = _students(group) if tutoring else ""
    if not students:
        return f"{name} · {group.name}"
    if reader == MENTOR:
        return f"{name} with {students}"
    return f"{name}: {group.mentor.name} with {students}"


def _event(occurrence: Occurrence, tz: ZoneInfo, base_url: str, now, reader: str) -> Event:
    group = occurrence.group
    participant = reader != STAFF
    event = Event()
    event.add("uid", f"session-{occurrence.id}@termtable")
    event.add("dtstamp", now)
    event.add("dtstart", occurrence.start_utc.astimezone(tz))
    event.add("dtend", occurrence.end_utc.astimezone(tz))
    event.add("summary", event_title(occurrence, reader))
    online = occurrence.mode == OccurrenceMode.ONLINE
    if online and occurrence.video_room_id and participant:
        event.add("location", join_url(occurrence.video_room_id))
    elif online:
        event.add("location", "Online")
    elif occurrence.room is not None:
        event.add("location", occurrence.room.name)
    tutoring = group.kind == GroupKind.TUTORING
    lines = []
    if reader != MENTOR:
        lines.append(f"Mentor: {group.mentor.name}")
    if not tutoring:
        lines.append(f"Group: {group.name}")
    elif reader == MENTOR and group.enrolments:
        label = "Student" if len(group.enrolments) == 1 else "Students"
        lines.append(f"{label}: {_students(group)}")
    if online and occurrence.video_room_id and participant:
        lines.append(f"Video room: {occurrence.video_room_id}")
    if occurrence.status == OccurrenceStatus.CANCELLED and occurrence.cancel_reason:
        lines.append(f"Cancelled: {occurrence.cancel_reason}")
    event.add("description", "\n".join(lines))
    event.add(
        "status",
        "CANCELLED" if occurrence.status == OccurrenceStatus.CANCELLED else "CONFIRMED",
    )
    event.add("sequence", occurrence.sequence)
    event.add("last-modified", occurrence.updated_at)
    event.add("created", occurrence.created_at)
    if base_url:
        event.add("url", f"{base_url.rstrip('/')}/sessions/{occurrence.id}")
    return event
