"""iCalendar feeds (RFC 5545) behind secret URLs: a user's own sessions, or for staff one
room's or one group's. Calendar apps poll them, so a feed has a cheap fingerprint (its ETag)
that changes whenever one of its sessions does.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.orm import aliased

from models import (
    CalendarFeed,
    CourseGroup,
    Enrolment,
    GroupKind,
    Occurrence,
    OccurrenceMode,
    OccurrenceStatus,
    Role,
    Room,
    Subject,
    User,
    db,
)
from services.common.errors import NotFoundError, ValidationError
from services.common.numbers import is_row_id
from services.output.ical_timezones import vtimezone
from services.permissions import attends, teaches_session
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
    if owner.role == Role.STUDENT:
        return query.where(attends(Occurrence.group_id, owner.id))
    # A mentor's groups' sessions and those they cover (staff teach nothing of their own).
    return query.where(teaches_session(owner.id))


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


class FeedBodies:
    """The last body built of each feed, by its fingerprint, in this process: calendar apps
    poll, and an unchanged feed is served from here instead of being built again.

    Kept in memory, one per worker, not in a table: a GET never writes (its SQLite
    transaction takes no write lock, see models/__init__.py), and a feed GET is one. Bounded
    by size, the least recently served feed going first; a feed holds its latest body only."""

    def __init__(self, max_bytes: int = 32 * 1024 * 1024):
        self.max_bytes = max_bytes
        self._bodies: OrderedDict[int, tuple[tuple, bytes]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, feed_id: int, key: tuple) -> bytes | None:
        with self._lock:
            found = self._bodies.get(feed_id)
            if found is None or found[0] != key:
                return None
            self._bodies.move_to_end(feed_id)
            return found[1]

    def put(self, feed_id: int, key: tuple, body: bytes) -> None:
        if len(body) > self.max_bytes:
            return
        with self._lock:
            old = self._bodies.pop(feed_id, None)
            if old is not None:
                self._size -= len(old[1])
            self._bodies[feed_id] = (key, body)
            self._size += len(body)
            while self._size > self.max_bytes:
                _, (_, evicted) = self._bodies.popitem(last=False)
                self._size -= len(evicted)

    def __len__(self) -> int:
        return len(self._bodies)


def feed_body(
    feed: CalendarFeed, etag: str, bodies: FeedBodies, *, tz: ZoneInfo, base_url: str = ""
) -> bytes:
    """The feed's body for its fingerprint `etag`: the one built last if nothing it was
    written from changed (its DTSTAMP then tells when it was built), else built now and kept.

    The fingerprint follows the sessions only; the names an event also shows (its group,
    subject, mentor, students, room) are read too (two small queries), so that renaming a
    room or enrolling a student is served at once, as when every request built the feed."""
    now = datetime.now(UTC)
    names = feed_names(feed, now)
    key = (etag, tz.key, base_url, _reader(feed), calendar_name(feed), names.key())
    body = bodies.get(feed.id, key)
    if body is None:
        body = build_feed(feed, tz=tz, base_url=base_url, now=now, names=names)
        bodies.put(feed.id, key, body)
    return body


def calendar_name(feed: CalendarFeed) -> str:
    if feed.scope == ROOM:
        return f"Termtable: {feed.room.name}"
    if feed.scope == GROUP:
        return f"Termtable: {feed.group.name}"
    own = "My sessions" if feed.owner.role == Role.MENTOR else "My timetable"
    return f"Termtable: {own}"


@dataclass(frozen=True)
class SubscribeLinks:
    """One-click ways to subscribe to a feed: each calendar app subscribes (and keeps
    polling), where downloading the file would copy today's sessions once."""

    webcal: str  # Apple Calendar, Outlook for Windows or Mac, Thunderbird: the OS asks
    google: str
    outlook_personal: str  # Outlook.com
    outlook_work: str  # Microsoft 365 (work or school accounts)


def subscribe_links(feed_url: str, name: str) -> SubscribeLinks:
    """The links for a feed at `feed_url` (http or https) shown as `name`. Google reads the
    webcal address (`cid`); Outlook on the web wants the https one (`addfromweb`)."""
    webcal = "webcal://" + feed_url.split("://", 1)[1]
    outlook_query = urlencode({"url": feed_url, "name": name}, quote_via=quote)
    return SubscribeLinks(
        webcal=webcal,
        google="https://calendar.google.com/calendar/r?" + urlencode({"cid": webcal}),
        outlook_personal="https://outlook.live.com/calendar/0/addfromweb?" + outlook_query,
        outlook_work="https://outlook.office.com/calendar/0/addfromweb?" + outlook_query,
    )


def build_feed(
    feed: CalendarFeed,
    *,
    tz: ZoneInfo,
    base_url: str = "",
    now: datetime | None = None,
    names: FeedNames | None = None,
) -> bytes:
    """The feed as an iCalendar document: one VEVENT per session, times in the
    organisation's zone with its VTIMEZONE, cancelled sessions marked CANCELLED.

    The events are written line by line (icalendar took 18x as long, folding each line a
    character at a time), byte for byte as icalendar writes them: its property order, TEXT
    escaping and folding (see `fold`); the VTIMEZONE is icalendar's, from ical_timezones."""
    now = now or datetime.now(UTC)
    sessions = _sessions_query(feed, now)
    rows = db.session.execute(
        sessions.with_only_columns(*_EVENT_COLUMNS, maintain_column_froms=True).order_by(
            Occurrence.start_utc, Occurrence.id
        )
    ).all()
    zone = vtimezone(tz, now - FEED_PAST, now + FEED_FUTURE + timedelta(days=1))
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        fold("PRODID:" + escape_text(PRODID)),
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        # icalendar writes these two X- properties as they are (unescaped), and reads them so.
        fold("X-WR-CALNAME:" + calendar_name(feed)),
        fold("X-WR-TIMEZONE:" + tz.key),
        zone.to_ical().decode().removesuffix("\r\n"),
    ]
    reader = _reader(feed)
    names = names or feed_names(feed, now)
    groups, rooms, covers = names.groups, names.rooms, names.covers
    stamp = _utc_text(now)
    url_base = f"{base_url.rstrip('/')}/sessions/" if base_url else ""
    for row in rows:
        group = groups[row.group_id]
        if row.cover_mentor_id is not None:
            group = group.covered_by(covers[row.cover_mentor_id])
        lines += _event_lines(row, group, rooms, tz, stamp, url_base, reader)
    lines.append("END:VCALENDAR\r\n")
    return "\r\n".join(lines).encode()


# What an event is written from: the session's own columns (its group, mentor, subject,
# students and room are loaded once per feed, not once per session).
_EVENT_COLUMNS = (
    Occurrence.id,
    Occurrence.group_id,
    Occurrence.start_utc,
    Occurrence.end_utc,
    Occurrence.room_id,
    Occurrence.mode,
    Occurrence.status,
    Occurrence.title,
    Occurrence.video_room_id,
    Occurrence.cancel_reason,
    Occurrence.sequence,
    Occurrence.created_at,
    Occurrence.updated_at,
    Occurrence.cover_mentor_id,
)


@dataclass(frozen=True, slots=True)
class _GroupText:
    """What a feed writes of a session's group."""

    name: str
    tutoring: bool
    subject: str
    mentor: str  # who teaches the session (see `covered_by`)
    students: tuple[str, ...]  # by name
    # A covered session's: the substitute teaches it (cover for an absent mentor).
    cover: bool = False

    @classmethod
    def of(cls, group: CourseGroup) -> _GroupText:
        return cls(
            name=group.name,
            tutoring=group.kind == GroupKind.TUTORING,
            subject=group.subject.name,
            mentor=group.mentor.name,
            students=tuple(sorted(e.student.name for e in group.enrolments)),
        )

    def covered_by(self, substitute: str) -> _GroupText:
        """The group as one of its sessions reads when `substitute` covers it: every reader
        is told who teaches it and for whom."""
        return replace(self, mentor=f"{substitute} (cover for {self.mentor})", cover=True)


@dataclass(frozen=True, slots=True)
class FeedNames:
    """The names a feed's events show besides their sessions' own columns."""

    groups: dict[int, _GroupText]
    rooms: dict[int, str]
    # The substitutes covering some of the sessions, by id.
    covers: dict[int, str] = field(default_factory=dict)

    def key(self) -> tuple:
        return (
            tuple(sorted(self.groups.items())),
            tuple(sorted(self.rooms.items())),
            tuple(sorted(self.covers.items())),
        )


def feed_names(feed: CalendarFeed, now: datetime) -> FeedNames:
    sessions = _sessions_query(feed, now)
    return FeedNames(
        groups=_groups_of(sessions), rooms=_room_names(sessions), covers=_cover_names(sessions)
    )


# The groups, rooms and students of a feed's sessions are selected through the sessions' own
# query, so no statement binds a parameter per group or room.
def _groups_of(sessions: Select) -> dict[int, _GroupText]:
    group_ids = sessions.with_only_columns(Occurrence.group_id, maintain_column_froms=True)
    mentor = aliased(User)
    groups = db.session.execute(
        select(CourseGroup.id, CourseGroup.name, CourseGroup.kind, Subject.name, mentor.name)
        .join(Subject, Subject.id == CourseGroup.subject_id)
        .join(mentor, mentor.id == CourseGroup.mentor_id)
        .where(CourseGroup.id.in_(group_ids))
    ).all()
    students: dict[int, list[str]] = {}
    for group_id, name in db.session.execute(
        select(Enrolment.group_id, User.name)
        .join(User, User.id == Enrolment.student_id)
        .where(Enrolment.group_id.in_(group_ids))
    ):
        students.setdefault(group_id, []).append(name)
    return {
        group_id: _GroupText(
            name=name,
            tutoring=kind == GroupKind.TUTORING,
            subject=subject,
            mentor=mentor_name,
            students=tuple(sorted(students.get(group_id, ()))),
        )
        for group_id, name, kind, subject, mentor_name in groups
    }


def _room_names(sessions: Select) -> dict[int, str]:
    room_ids = sessions.with_only_columns(Occurrence.room_id, maintain_column_froms=True)
    return dict(db.session.execute(select(Room.id, Room.name).where(Room.id.in_(room_ids))).all())


def _cover_names(sessions: Select) -> dict[int, str]:
    cover_ids = sessions.with_only_columns(Occurrence.cover_mentor_id, maintain_column_froms=True)
    return dict(db.session.execute(select(User.id, User.name).where(User.id.in_(cover_ids))).all())


def escape_text(text: str) -> str:
    """A TEXT value escaped as RFC 5545 3.3.11 says (and as icalendar does): backslash,
    semicolon, comma, and every line break as `\\n`."""
    if not any(c in text for c in "\\;,\r\n"):
        return text
    return (
        text.replace("\\N", "\n")
        .replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


# A content line holds at most 74 octets here (RFC 5545 3.1 allows 75), as icalendar folds.
_LINE_OCTETS = 74


def fold(line: str) -> str:
    """A content line folded as RFC 5545 3.1 says, exactly where icalendar folds it: pieces of
    at most 74 octets, never inside a UTF-8 character, never right after a backslash or a
    caret (an escape stays whole on its line), joined by CRLF and a space."""
    if len(line) <= _LINE_OCTETS and line.isascii():
        return line
    raw = line.encode()
    if len(raw) <= _LINE_OCTETS:
        return line
    pieces = []
    start = 0
    while len(raw) - start > _LINE_OCTETS:
        end = start + _LINE_OCTETS
        while raw[end] & 0xC0 == 0x80:  # a UTF-8 continuation byte: cut before its character
            end -= 1
        if raw[end - 1] in b"\\^" and end - 1 > start:
            end -= 1
        pieces.append(raw[start:end])
        start = end
    pieces.append(raw[start:])
    return b"\r\n ".join(pieces).decode()


def _utc_text(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def _reader(feed: CalendarFeed) -> str:
    """Whom the feed's events are written for: STUDENT (their own sessions), MENTOR (the
    sessions they teach) or STAFF (a room's or a group's, someone else's sessions)."""
    if feed.scope != OWN:
        return STAFF
    return STUDENT if feed.owner.role == Role.STUDENT else MENTOR


def event_title(occurrence: Occurrence, reader: str) -> str:
    """The event's summary, in the words of its reader. A student reads the subject (or the
    session's own title) and their mentor: "Mathematics with Amelia Hart". A mentor reads the
    class ("Mathematics · Maths 7A") or, for one-to-one tutoring, the student ("Mathematics
    with Noah Bernard"). Staff read the class, or who tutors whom. Nobody reads their own
    name (a tutoring group's name, "Mathematics: Amelia Hart with Noah Bernard", holds both)."""
    group = _GroupText.of(occurrence.group)
    if occurrence.cover_mentor_id is not None:
        group = group.covered_by(occurrence.cover_mentor.name)
    return _title(occurrence.title, group, reader)


def _title(session_title: str | None, group: _GroupText, reader: str) -> str:
    name = session_title or group.subject
    if reader == STUDENT:
        return f"{name} with {group.mentor}"
    students = ", ".join(group.students) if group.tutoring else ""
    if not students:
        return f"{name} · {group.name}"
    if reader == MENTOR:
        return f"{name} with {students}"
    return f"{name}: {group.mentor} with {students}"


def _event_lines(
    row,
    group: _GroupText,
    rooms: dict[int, str],
    tz: ZoneInfo,
    stamp: str,
    url_base: str,
    reader: str,
) -> list[str]:
    """One session's VEVENT, its properties in icalendar's order (SUMMARY, DTSTART, DTEND,
    DTSTAMP, UID, SEQUENCE, then by name)."""
    participant = reader != STAFF
    online = row.mode == OccurrenceMode.ONLINE
    location = None
    if online and row.video_room_id and participant:
        location = join_url(row.video_room_id)
    elif online:
        location = "Online"
    elif row.room_id is not None:
        location = rooms[row.room_id]
    described = []
    if reader != MENTOR or group.cover:  # a mentor is told who covers (or whom they cover)
        described.append(f"Mentor: {group.mentor}")
    if not group.tutoring:
        described.append(f"Group: {group.name}")
    elif reader == MENTOR and group.students:
        label = "Student" if len(group.students) == 1 else "Students"
        described.append(f"{label}: {', '.join(group.students)}")
    if online and row.video_room_id and participant:
        described.append(f"Video room: {row.video_room_id}")
    cancelled = row.status == OccurrenceStatus.CANCELLED
    if cancelled and row.cancel_reason:
        described.append(f"Cancelled: {row.cancel_reason}")
    zone = tz.key
    lines = [
        "BEGIN:VEVENT",
        fold("SUMMARY:" + escape_text(_title(row.title, group, reader))),
        f"DTSTART;TZID={zone}:{row.start_utc.astimezone(tz):%Y%m%dT%H%M%S}",
        f"DTEND;TZID={zone}:{row.end_utc.astimezone(tz):%Y%m%dT%H%M%S}",
        f"DTSTAMP:{stamp}",
        f"UID:session-{row.id}@termtable",
        f"SEQUENCE:{row.sequence}",
        f"CREATED:{_utc_text(row.created_at)}",
        fold("DESCRIPTION:" + escape_text("\n".join(described))),
        f"LAST-MODIFIED:{_utc_text(row.updated_at)}",
    ]
    if location is not None:
        lines.append(fold("LOCATION:" + escape_text(location)))
    lines.append("STATUS:CANCELLED" if cancelled else "STATUS:CONFIRMED")
    if url_base:
        lines.append(fold(f"URL:{url_base}{row.id}"))
    lines.append("END:VEVENT")
    return lines
