"""Benchmark: one week of a busy mentor's free slots (issue 17: within 50 ms of server time).

Run with `.venv/bin/python bench/slots.py` (a fresh SQLite file in a temporary directory), or
`--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test` (a fresh database next to
that one, dropped afterwards). It builds a mentor with working hours Monday to Saturday in
two ranges a day, 15-minute buffers, a daily limit, a closure and an absence in the weeks
around, 40 sessions in the measured week (and as many in the weeks before and after), then
measures `MentorCalendar.build` + `free_slots` for that week for 1-hour sessions: its queries
and the slot grid, as the booking page asks for them. Wall time, median and worst of the
repeats.

This is a measurement, not a test: it prints PASS/MISS and exits 1 if the target is missed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.school import fresh_postgres, migrated_app  # noqa: E402
from models import (  # noqa: E402
    AbsenceStatus,
    BookingRules,
    Closure,
    CourseGroup,
    MentorAbsence,
    Occurrence,
    Role,
    Room,
    Subject,
    User,
    WorkingHours,
    db,
)
from services.availability import MentorCalendar  # noqa: E402

TARGET_MS = 50
TIMEZONE = "Europe/Paris"
MONDAY = date(2027, 3, 22)


def build_busy_mentor(tz: ZoneInfo) -> int:
    mentor = User(email="ada@bench.test", name="Ada Lovelace", role=Role.MENTOR)
    db.session.add(mentor)
    db.session.flush()
    db.session.add(
        BookingRules(
            mentor_id=mentor.id,
            timezone=TIMEZONE,
            buffer_before_minutes=15,
            buffer_after_minutes=15,
            minimum_notice_minutes=0,
            max_sessions_per_day=9,
            booking_horizon_days=366,
            slot_step_minutes=15,
        )
    )
    for weekday in range(6):
        for start, end in ((clock(8), clock(12, 30)), (clock(13, 30), clock(19))):
            db.session.add(
                WorkingHours(mentor_id=mentor.id, weekday=weekday, start_time=start, end_time=end)
            )
    subject = Subject(name="Mathematics")
    room = Room(name="Room 101")
    db.session.add_all([subject, room])
    groups = [
        CourseGroup(name=f"Maths {n}", subject=subject, mentor=mentor, default_room=room)
        for n in range(8)
    ]
    db.session.add_all(groups)
    db.session.flush()
    # 40 sessions a week (8 a day, Monday to Friday), for the week and the ones around it.
    for week in (-1, 0, 1):
        for day in range(5):
            for n, hour in enumerate((8, 9, 10, 11, 14, 15, 16, 17)):
                local = datetime.combine(
                    MONDAY + timedelta(days=7 * week + day), clock(hour), tzinfo=tz
                )
                start = local.astimezone(UTC)
                db.session.add(
                    Occurrence(
                        group_id=groups[n].id,
                        start_utc=start,
                        end_utc=start + timedelta(minutes=45),
                        room_id=room.id,
                    )
                )
    db.session.add(Closure(name="Bank holiday", first_day=MONDAY - timedelta(days=3),
                           last_day=MONDAY - timedelta(days=3)))  # fmt: skip
    away = datetime.combine(MONDAY + timedelta(days=5), clock(8), tzinfo=tz).astimezone(UTC)
    db.session.add(MentorAbsence(mentor_id=mentor.id, start_utc=away,
                                 end_utc=away + timedelta(hours=3),
                                 status=AbsenceStatus.CONFIRMED))  # fmt: skip
    db.session.commit()
    return mentor.id


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL: a fresh database next to this one")
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args(argv)
    tz = ZoneInfo(TIMEZONE)
    drop, app = None, None
    with tempfile.TemporaryDirectory(prefix="termtable-slots-") as tmp:
        if args.database_url:
            url, drop = fresh_postgres(args.database_url)
        else:
            url = "sqlite:///" + str(Path(tmp) / "bench.db")
        try:
            app = migrated_app(url, {"TIMEZONE": TIMEZONE})
            with app.app_context():
                mentor_id = build_busy_mentor(tz)
                start = datetime.combine(MONDAY, clock(0), tzinfo=tz).astimezone(UTC)
                end = datetime.combine(MONDAY + timedelta(days=7), clock(0), tzinfo=tz)
                end = end.astimezone(UTC)
                now = start - timedelta(days=30)
                timings, slots = [], []
                for _ in range(args.repeats):
                    db.session.expire_all()
                    began = time.perf_counter()
                    calendar = MentorCalendar.build(mentor_id, start, end, now=now, org_tz=tz)
                    slots = calendar.free_slots(timedelta(hours=1))
                    timings.append((time.perf_counter() - began) * 1000)
                    db.session.rollback()
        finally:
            if app is not None and drop is not None:
                with app.app_context():
                    db.engine.dispose()  # the database can then be dropped
            if drop is not None:
                drop()
    median, worst = statistics.median(timings), max(timings)
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"One week of free slots ({backend}): {len(slots)} slots of 1 hour around 40 sessions;")
    print(f"median {median:.1f} ms, worst {worst:.1f} ms of {args.repeats}; target {TARGET_MS} ms.")
    ok = median < TARGET_MS
    print("PASS" if ok else "MISS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
