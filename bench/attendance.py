"""Benchmark: taking a 30-student register in one request (issue 15, item 4).

`.venv/bin/python bench/attendance.py [--students 30] [--repeat 20] [--database-url URL]`
builds a small school (a mentor, a group of `--students` students, `--repeat` sessions that
ended yesterday and the days before), logs the mentor in through Flask's test client and
POSTs each session's whole register in one htmx request, as the register form sends it
(every student's mark; a few absent, late or excused), then corrects one student's mark of
each. Reports the median and worst time of a request and its SQL statements (the request's
own: session, CSRF and login reads included). Prints PASS/MISS against the target and exits 1
on a miss.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from school import counting_statements, fresh_postgres, log_in, migrated_app

from models import CourseGroup, Enrolment, Occurrence, Room, Subject, User, db
from services.people.accounts import create_user

TARGET_SECONDS = 0.25
PASSWORD = "bench-password"  # noqa: S105 (a throwaway database)
HX = {"HX-Request": "true", "HX-Request-Type": "partial"}


def build(app, students: int, sessions: int) -> tuple[list[int], list[int]]:
    """The mentor, the group and its students (enrolled a year ago), and `sessions` sessions
    of an hour that ended before now; returns (session ids, student ids)."""
    with app.app_context():
        mentor = create_user(
            "mentor@bench.test", "Ada Mentor", "mentor", password=PASSWORD,
            hash_method="scrypt:1024:8:1",
        )  # fmt: skip
        subject, room = Subject(name="Maths"), Room(name="R1")
        db.session.add_all([subject, room])
        db.session.flush()
        group = CourseGroup(name="Maths 7A", subject_id=subject.id, mentor_id=mentor.id,
                            default_room_id=room.id)  # fmt: skip
        db.session.add(group)
        db.session.flush()
        year_ago = datetime.now(UTC) - timedelta(days=365)
        student_ids = []
        for n in range(students):
            user = User(email=f"s{n}@bench.test", name=f"Student {n:02d}", role="student",
                        password_hash="-")  # noqa: S106  # fmt: skip
            db.session.add(user)
            db.session.flush()
            db.session.add(Enrolment(group_id=group.id, student_id=user.id, created_at=year_ago))
            student_ids.append(user.id)
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        ids = []
        for n in range(sessions):
            begins = start - timedelta(days=n + 1)
            end = begins + timedelta(hours=1)
            occurrence = Occurrence(
                group_id=group.id, start_utc=begins, end_utc=end, room_id=room.id
            )
            db.session.add(occurrence)
            db.session.flush()
            ids.append(occurrence.id)
        db.session.commit()
        db.session.remove()
    return ids, student_ids


def register_form(student_ids: list[int], turn: int) -> dict[str, str]:
    """Every student's mark, as the form sends it: most present, a few absent, late, excused."""
    form = {}
    for k, sid in enumerate(student_ids):
        status = ("present", "present", "present", "present", "present", "present", "absent",
                  "late", "present", "excused")[(k + turn) % 10]  # fmt: skip
        form[f"status-{sid}"] = status
        form[f"late-{sid}"] = "10" if status == "late" else ""
        form[f"reason-{sid}"] = "Ill" if status == "excused" else ""
    return form


def measure(client, engine, url: str, form: dict, token: str) -> tuple[float, int]:
    with counting_statements(engine) as counter:
        started = time.perf_counter()
        response = client.post(url, data=form, headers=HX | {"X-CSRFToken": token})
        seconds = time.perf_counter() - started
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return seconds, counter["n"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--database-url", help="a PostgreSQL URL to run next to")
    args = parser.parse_args(argv)
    os.environ.pop("DATABASE_URL", None)
    drop = None
    with tempfile.TemporaryDirectory(prefix="termtable-attendance-") as tmp:
        if args.database_url:
            url, drop = fresh_postgres(args.database_url)
        else:
            url = "sqlite:///" + str(Path(tmp) / "bench.db")
        app = migrated_app(url)
        try:
            sessions, students = build(app, args.students, args.repeat)
            client = app.test_client()
            log_in(client, "mentor@bench.test", PASSWORD)
            page = client.get("/notifications/").get_data(as_text=True)
            token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
            with app.app_context():
                engine = db.engine
            first, corrections = [], []
            for turn, occurrence_id in enumerate(sessions):
                take = f"/attendance/sessions/{occurrence_id}/register/take"
                first.append(measure(client, engine, take, register_form(students, turn), token))
                corrected = register_form(students, turn)
                corrected[f"status-{students[0]}"] = "absent"
                corrections.append(measure(client, engine, take, corrected, token))
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
            if drop:
                drop()
    dialect = "PostgreSQL" if args.database_url else "SQLite"
    print(f"{args.students}-student register, {args.repeat} sessions, {dialect}")
    ok = True
    for name, runs in (("take it (first time)", first), ("correct one mark", corrections)):
        times = [s for s, _ in runs]
        statements = max(n for _, n in runs)
        median, worst = statistics.median(times), max(times)
        ok = ok and median <= TARGET_SECONDS
        print(
            f"{name}: median {median * 1000:.0f} ms, worst {worst * 1000:.0f} ms,"
            f" {statements} SQL statements in the request"
            f"  {'PASS' if median <= TARGET_SECONDS else 'MISS'}"
            f" (<= {TARGET_SECONDS * 1000:.0f} ms)"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
