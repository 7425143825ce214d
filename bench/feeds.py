"""Benchmark: a busy mentor's calendar feed (about 1,060 sessions in its window).

Run with `.venv/bin/python bench/feeds.py`. It builds, in a fresh SQLite file in a temporary
directory, a mentor teaching five classes three times a week (one of them online, some
sessions cancelled with a reason, names with commas, semicolons and accents), and measures in
CPU time (time.process_time, best of several repeats, so that other work on the machine
counts little):

- build: `build_feed` of the mentor's own feed (its query and the iCalendar text);
- floor: a minimal direct writer of the same events: one Core query of the same columns, then
  the lines written with f-strings, escaped and folded (no ORM, no icalendar);
- ratio build / floor: target within 2x (issue 14);
- cached serve: `GET /calendar/<token>.ics` through Flask's test client once the body is
  cached (the fingerprint query, the check of the names its events show, the response), and
  the same with If-None-Match (304).

This is a measurement, not a test: it prints PASS/MISS and exits 1 if the target is missed.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from contextlib import redirect_stderr
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import select  # noqa: E402

from app import create_app  # noqa: E402
from blueprints.extensions import init_migrations  # noqa: E402
from models import (  # noqa: E402
    CourseGroup,
    Enrolment,
    Occurrence,
    OccurrenceMode,
    OccurrenceStatus,
    Room,
    Subject,
    User,
    db,
)
from services.output.feeds import FEED_FUTURE, FEED_PAST, build_feed, own_feed  # noqa: E402
from services.people.accounts import create_user  # noqa: E402

TIMEZONE = "Europe/Paris"
TARGET = 2.0
# The feed route uses the clock, so the school is built around today.
NOW = datetime.now(UTC).replace(microsecond=0)
CLASSES = 5
WEEKDAYS = (0, 2, 4)


def make_app(directory: Path):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench-not-secret",
            "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(directory / "bench.db"),
            "TIMEZONE": TIMEZONE,
            "BASE_URL": "https://termtable.example",
        }
    )
    with app.app_context(), redirect_stderr(io.StringIO()):
        init_migrations(app)
        upgrade(directory=str(ROOT / "migrations"))
    return app


def build_busy_mentor(tz: ZoneInfo) -> User:
    """A mentor with five classes meeting three times a week across the feed's whole window."""
    mentor = create_user(
        "busy@school.test", "Amélie Durand-Lefèvre", "mentor", password=None, hash_method=""
    )
    students = [
        create_user(f"s{n}@school.test", f"Élève {n}", "student", password=None, hash_method="")
        for n in range(20)
    ]
    db.session.flush()
    first_day = (NOW - FEED_PAST).astimezone(tz).date()
    last_day = (NOW + FEED_FUTURE).astimezone(tz).date()
    rows = []
    for n in range(CLASSES):
        subject = Subject(name=f"Mathématiques {n}")
        room = Room(name=f"Salle {n}, bâtiment B; étage {n % 3}")
        group = CourseGroup(
            name=f"Maths {n}A; option \\avancée, groupe {n}",
            subject=subject,
            mentor=mentor,
            default_room=room,
        )
        db.session.add_all([subject, room, group])
        db.session.flush()
        db.session.add_all(Enrolment(group_id=group.id, student_id=s.id) for s in students[:8])
        online = n == CLASSES - 1
        day, count = first_day, 0
        while day <= last_day:
            if day.weekday() in WEEKDAYS:
                start = datetime.combine(day, clock(8 + 2 * n), tz).astimezone(UTC)
                cancelled = count % 17 == 5
                rows.append(
                    {
                        "group_id": group.id,
                        "start_utc": start,
                        "end_utc": start + timedelta(minutes=90),
                        "room_id": None if online else room.id,
                        "mode": OccurrenceMode.ONLINE if online else OccurrenceMode.IN_PERSON,
                        "video_room_id": f"tt{group.id:03d}{count:08d}" if online else None,
                        "status": OccurrenceStatus.CANCELLED
                        if cancelled
                        else OccurrenceStatus.SCHEDULED,
                        "cancel_reason": "Chauffage en panne, salle fermée; désolée\nà lundi"
                        if cancelled
                        else None,
                        "sequence": 1 if cancelled else 0,
                        "created_at": NOW - timedelta(days=200),
                        "updated_at": NOW - timedelta(days=100),
                    }
                )
                count += 1
            day += timedelta(days=1)
    db.session.execute(Occurrence.__table__.insert(), rows)
    db.session.commit()
    return mentor


def best_cpu(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        fn()
        best = min(best, time.process_time() - started)
    return best


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    raw = line.encode()
    if len(raw) <= 75:
        return line
    parts, start, limit = [], 0, 75
    while start < len(raw):
        end = min(start + limit, len(raw))
        while end < len(raw) and (raw[end] & 0xC0) == 0x80:
            end -= 1
        parts.append(raw[start:end].decode())
        start, limit = end, 74
    return "\r\n ".join(parts)


def direct_writer(mentor_id: int, tz: ZoneInfo, base_url: str, vtimezone: str) -> bytes:
    """The floor: the same events with one Core query and f-strings."""
    mentor = db.aliased(User)
    rows = db.session.execute(
        select(
            Occurrence.id,
            Occurrence.start_utc,
            Occurrence.end_utc,
            Occurrence.mode,
            Occurrence.video_room_id,
            Occurrence.status,
            Occurrence.cancel_reason,
            Occurrence.sequence,
            Occurrence.updated_at,
            Occurrence.created_at,
            Occurrence.title,
            CourseGroup.name,
            Subject.name,
            Room.name,
        )
        .join(CourseGroup, CourseGroup.id == Occurrence.group_id)
        .join(Subject, Subject.id == CourseGroup.subject_id)
        .join(mentor, mentor.id == CourseGroup.mentor_id)
        .outerjoin(Room, Room.id == Occurrence.room_id)
        .where(
            CourseGroup.mentor_id == mentor_id,
            Occurrence.start_utc >= NOW - FEED_PAST,
            Occurrence.start_utc < NOW + FEED_FUTURE,
        )
        .order_by(Occurrence.start_utc, Occurrence.id)
    ).all()
    stamp = NOW.strftime("%Y%m%dT%H%M%SZ")
    out = ["BEGIN:VCALENDAR", "VERSION:2.0", vtimezone]
    for (
        oid,
        start,
        end,
        mode,
        video,
        status,
        reason,
        seq,
        upd,
        crt,
        title,
        group,
        subj,
        room,
    ) in rows:
        lines = [f"Group: {group}"]
        location = room
        if mode == OccurrenceMode.ONLINE:
            location = f"https://meet.jit.si/{video}"
            lines.append(f"Video room: {video}")
        if reason:
            lines.append(f"Cancelled: {reason}")
        local_start, local_end = start.astimezone(tz), end.astimezone(tz)
        out += [
            "BEGIN:VEVENT",
            _fold(f"SUMMARY:{_escape(f'{title or subj} · {group}')}"),
            f"DTSTART;TZID={tz.key}:{local_start:%Y%m%dT%H%M%S}",
            f"DTEND;TZID={tz.key}:{local_end:%Y%m%dT%H%M%S}",
            f"DTSTAMP:{stamp}",
            f"UID:session-{oid}@termtable",
            f"CREATED:{crt.astimezone(UTC):%Y%m%dT%H%M%SZ}",
            _fold(f"DESCRIPTION:{_escape(chr(10).join(lines))}"),
            f"LAST-MODIFIED:{upd.astimezone(UTC):%Y%m%dT%H%M%SZ}",
            _fold(f"LOCATION:{_escape(location)}"),
            f"SEQUENCE:{seq}",
            "STATUS:CANCELLED" if status == OccurrenceStatus.CANCELLED else "STATUS:CONFIRMED",
            _fold(f"URL:{base_url}/sessions/{oid}"),
            "END:VEVENT",
        ]
    out.append("END:VCALENDAR")
    return ("\r\n".join(out) + "\r\n").encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    os.environ.pop("DATABASE_URL", None)
    tz = ZoneInfo(TIMEZONE)
    with tempfile.TemporaryDirectory() as directory:
        app = make_app(Path(directory))
        base_url = app.config["BASE_URL"]
        with app.app_context():
            mentor = build_busy_mentor(tz)
            feed = own_feed(mentor)
            db.session.commit()
            feed_id, mentor_id, token = feed.id, mentor.id, feed.token

            def build():
                db.session.expire_all()
                found = db.session.get(type(feed), feed_id)
                return build_feed(found, tz=tz, base_url=base_url, now=NOW)

            body = build()
            text = body.decode()
            events = text.count("BEGIN:VEVENT")
            zone_text = text[text.index("BEGIN:VTIMEZONE") : text.index("END:VTIMEZONE") + 13]
            floor_body = direct_writer(mentor_id, tz, base_url, zone_text)
            assert floor_body.count(b"BEGIN:VEVENT") == events
            build_time = best_cpu(build, args.repeats)
            floor_time = best_cpu(
                lambda: direct_writer(mentor_id, tz, base_url, zone_text), args.repeats
            )
            db.session.remove()

        client = app.test_client()
        first = client.get(f"/calendar/{token}.ics")
        assert first.status_code == 200 and first.data.count(b"BEGIN:VEVENT") == events
        etag = first.headers["ETag"]
        served = best_cpu(lambda: client.get(f"/calendar/{token}.ics"), args.repeats)
        not_modified = best_cpu(
            lambda: client.get(f"/calendar/{token}.ics", headers={"If-None-Match": etag}),
            args.repeats,
        )
        assert (
            client.get(f"/calendar/{token}.ics", headers={"If-None-Match": etag}).status_code == 304
        )

    ratio = build_time / floor_time
    verdict = "PASS" if ratio <= TARGET else "MISS"
    print(f"busy mentor's feed: {events} events, {len(body):,} bytes")
    print(f"  build_feed            {build_time * 1000:8.1f} ms CPU")
    print(f"  direct-writer floor   {floor_time * 1000:8.1f} ms CPU")
    print(f"  ratio                 {ratio:8.2f}x   target <= {TARGET:g}x   {verdict}")
    print(f"  GET, unchanged feed   {served * 1000:8.1f} ms CPU (cached body)")
    print(f"  GET, If-None-Match    {not_modified * 1000:8.1f} ms CPU (304)")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
