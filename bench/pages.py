"""Benchmark: what the schedule's pages weigh and cost as the school grows (issue 14, items 2
and 6).

Run with `.venv/bin/python bench/pages.py` (`--series 100 1000 5000`, the default). For each
size it builds the school of bench/generate.py scaled as issue 14 measured it (a room per 10
series, 20 students a group; mentors as generate.py makes them, one per 7 series), generates
`--weeks` weeks in a fresh SQLite file, logs a coordinator in through Flask's test client and
reports, for the second week of the term:

- the week of the busiest room (what the filter bar weighs on every filtered page);
- the cell editor fragment of a session in that room, and its room suggestions;
- the filter bar's suggestions for a typed room;
- the whole school's week as a coordinator lands on it (`/schedule/?date=...`: paged by room
  past SCHEDULE_GRID_MAX_SESSIONS), and the whole week on one page (`&whole=1`);

each with its size, its best time of `--repeat` runs (fewer for the whole week) and its SQL
statements. `--profile` prints where the whole week's time goes at each size (cProfile,
grouped: SQL, conflict notes, layout, templates).

The ratio a page keeps from the smallest school to the largest is the target of issue 14
("pages that show one window stay flat": p50 within 1.5x from 100 to 5,000 series). This
script also runs on an older checkout (copy it into its bench/): what that code lacks is
reported as "-".
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import re
import sqlite3
import sys
import tempfile
import time
from contextlib import redirect_stderr
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import generate  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from app import create_app  # noqa: E402
from models import Occurrence, db  # noqa: E402
from services.common.timeutil import local_day_bounds  # noqa: E402
from services.people.accounts import create_user  # noqa: E402

WEEK = generate.TERM_START + timedelta(days=7)
EMAIL, PASSWORD = "coordinator@bench.test", "bench-password"
FAST_HASH = "scrypt:1024:8:1"
HX = {"HX-Request": "true", "HX-Request-Type": "partial"}


def make_school(directory: Path, n_series: int, weeks: int):
    # Issue 14's schools: a room per 10 series, 20 students a group.
    generate.ROOMS = max(20, n_series // 10)
    generate.STUDENTS_PER_GROUP = 20
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench-not-secret",
            "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(directory / "bench.db"),
            "TIMEZONE": generate.TIMEZONE,
            "PASSWORD_HASH_METHOD": FAST_HASH,
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context(), redirect_stderr(io.StringIO()):
        upgrade(directory=str(ROOT / "migrations"))
    generate.build_school(app, n_series, generate.SEED)
    generate.timed_generation(app, weeks)
    with app.app_context():
        create_user(EMAIL, "Bench Coordinator", "coordinator", password=PASSWORD,
                    hash_method=FAST_HASH)  # fmt: skip
        db.session.commit()
        sessions = db.session.scalar(select(func.count(Occurrence.id)))
        db.session.remove()
    return app, sessions


def logged_in_client(app):
    client = app.test_client()
    page = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post(
        "/auth/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    return client


class Measure:
    def __init__(self, app, client):
        self.app, self.client = app, client

    def fetch(self, url: str, headers=None):
        response = self.client.get(url, headers=headers or {})
        return response.status_code, response.get_data()

    def __call__(self, url: str, repeat: int, headers=None):
        """(bytes, best seconds, SQL statements), or None when the URL is not there."""
        status, body = self.fetch(url, headers)
        if status != 200:
            return None
        best = float("inf")
        for _ in range(repeat):
            started = time.perf_counter()
            self.fetch(url, headers)
            best = min(best, time.perf_counter() - started)
        with self.app.app_context():
            engine = db.engine
        with generate.counting_statements(engine) as counter:
            self.fetch(url, headers)
        return len(body), best, counter["n"]


def busiest_room_session(app):
    with app.app_context():
        start, end = local_day_bounds(WEEK, WEEK + timedelta(days=7), ZoneInfo(generate.TIMEZONE))
        room_id, _n = db.session.execute(
            select(Occurrence.room_id, func.count())
            .where(Occurrence.start_utc >= start, Occurrence.start_utc < end)
            .where(Occurrence.room_id.is_not(None))
            .group_by(Occurrence.room_id)
            .order_by(func.count().desc(), Occurrence.room_id)
        ).first()
        occurrence_id = db.session.scalar(
            select(Occurrence.id)
            .where(Occurrence.room_id == room_id, Occurrence.start_utc >= start)
            .order_by(Occurrence.start_utc)
        )
        week_sessions = db.session.scalar(
            select(func.count())
            .select_from(Occurrence)
            .where(Occurrence.start_utc >= start, Occurrence.start_utc < end)
        )
        db.session.remove()
    return room_id, occurrence_id, week_sessions


GROUPS = {
    "SQL (driver)": ("sqlite3", "psycopg", "cursor.py"),
    "SQLAlchemy": ("sqlalchemy",),
    "conflict notes": ("conflict_notes.py", "conflicts.py"),
    "entries (rows to GridEntry)": ("entries.py",),
    "layout": ("layout.py",),
    "templates (Jinja)": ("jinja2", "template", "<template>", "_cards.html", "_grid.html"),
}


def profile(measure: Measure, url: str) -> str:
    """Where one request's time goes, grouped by what the functions belong to (own time)."""
    profiler = cProfile.Profile()
    profiler.enable()
    measure.fetch(url)
    profiler.disable()
    stats = pstats.Stats(profiler)
    totals: dict[str, float] = {}
    total = 0.0
    for (filename, _line, name), (_cc, _nc, own, _cum, _callers) in stats.stats.items():
        total += own
        where = f"{filename}:{name}"
        group = next((g for g, keys in GROUPS.items() if any(k in where for k in keys)), "other")
        totals[group] = totals.get(group, 0.0) + own
    parts = sorted(totals.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{g} {s * 1000:.0f} ms ({s / total:.0%})" for g, s in parts)


def row(name: str, result) -> None:
    if result is None:
        print(f"  {name:<44}{'-':>10}")
        return
    size, seconds, statements = result
    print(f"  {name:<44}{size / 1024:>9.1f} KB{seconds * 1000:>10.1f} ms{statements:>6} SQL")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--weeks", type=int, default=15)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    os.environ.pop("DATABASE_URL", None)
    print(f"SQLite {sqlite3.sqlite_version}, Python {sys.version.split()[0]}, code at {ROOT}")
    for n_series in args.series:
        with tempfile.TemporaryDirectory(prefix="termtable-pages-") as tmp:
            started = time.perf_counter()
            app, sessions = make_school(Path(tmp), n_series, args.weeks)
            room_id, occurrence_id, week_sessions = busiest_room_session(app)
            print(
                f"\n{n_series} series, {generate.ROOMS} rooms, {sessions} sessions over "
                f"{args.weeks} weeks; week of {WEEK}: {week_sessions} sessions "
                f"(built in {time.perf_counter() - started:.0f} s)"
            )
            measure = Measure(app, logged_in_client(app))
            week = f"/schedule/?date={WEEK.isoformat()}"
            ctx = f"view=week&layout=time&date={WEEK.isoformat()}&room={room_id}"
            many = max(3, args.repeat // 5)
            row("week, busiest room (filter bar included)", measure(f"{week}&room={room_id}",
                                                                    args.repeat))  # fmt: skip
            row("cell editor fragment", measure(
                f"/schedule/sessions/{occurrence_id}/editor?{ctx}", args.repeat, HX))  # fmt: skip
            row("cell editor's room suggestions", measure(
                f"/schedule/sessions/{occurrence_id}/rooms?room_q=", args.repeat, HX))  # fmt: skip
            row("filter bar's room suggestions", measure(
                "/schedule/choices/room?room_q=room+0", args.repeat, HX))  # fmt: skip
            row("whole school's week, as landed on", measure(week, many))
            row("whole school's week on one page", measure(f"{week}&whole=1", many))
            row("whole school's day, as landed on", measure(
                f"/schedule/day?date={WEEK.isoformat()}", many))  # fmt: skip
            row("whole school's month", measure(f"/schedule/month?date={WEEK.isoformat()}", 2))
            if args.profile:
                print("  profile, whole week on one page: " + profile(measure, f"{week}&whole=1"))
            with app.app_context():
                db.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
