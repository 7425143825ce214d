"""Benchmark: generate a 15-week term for a school of 1,000 series, then re-run it unchanged.

Run with `.venv/bin/python bench/generate.py` (or `make bench`). It builds a fresh, migrated
SQLite file database in a temporary directory, fills it in bulk with a seeded random school,
then times `generate_occurrences` (including the commit) twice and counts the SQL statements
each run issues. The physical floor is measured in the same run: a raw `sqlite3.executemany`
of the same rows into a fresh WAL database file with one commit. Targets (issue 2):

- first run <= 10x the floor,
- unchanged re-run <= 4x the floor,
- SQL statements independent of the number of series (checked against a smaller school).

This is a measurement, not a test: it prints PASS/MISS per target and exits 0 unless
something crashes.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager, redirect_stderr
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import event, insert  # noqa: E402

from app import create_app  # noqa: E402
from blueprints.extensions import init_migrations  # noqa: E402
from models import CourseGroup, Enrolment, Room, Series, Subject, User, db  # noqa: E402
from models.types import utcnow  # noqa: E402
from services.timetable.generation import generate_occurrences  # noqa: E402

TIMEZONE = "Europe/Paris"
# A Monday; a 15-week term from here crosses the end of summer time (25 Oct 2026).
TERM_START = date(2026, 9, 7)
SEED = 20260907

FIRST_RUN_TARGET = 10.0  # x floor
RERUN_TARGET = 4.0  # x floor

# The school day is a grid of half-hour slots from 08:00 to 18:00, Monday to Friday.
DAY_START_MINUTES = 8 * 60
SLOTS_PER_DAY = 20
ROOMS = 200
STUDENTS_PER_GROUP = 10
# A few series are placed with no regard for clashes, so generation has conflicts to report
# (of every kind) without the report dwarfing the term.
CLASH_RATE = 0.02


@dataclass
class School:
    series: int
    groups: int
    rooms: int
    mentors: int
    students: int
    enrolments: int
    setup_seconds: float


@dataclass
class Run:
    seconds: float
    statements: int
    created: int
    updated: int
    removed: int
    unchanged: int
    conflicts: int
    kinds: str


def make_bench_app(directory: Path):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench-not-secret",
            "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(directory / "bench.db"),
            "TIMEZONE": TIMEZONE,
        }
    )
    # Alembic logs every migration to stderr; the table below is the output that matters.
    with app.app_context(), redirect_stderr(io.StringIO()):
        init_migrations(app)
        upgrade(directory=str(ROOT / "migrations"))
    return app


def plan_school(n_series: int, rng: random.Random) -> dict[str, list[dict]]:
    """A seeded school as plain rows: mostly clash-free, with a few deliberate clashes.

    One course group per series. Each series meets 1 to 3 weekdays at the same time for 60 or
    90 minutes; rooms, mentors and students are picked free at those times when possible.
    """
    n_groups = n_series
    n_mentors = max(5, n_series // 7)
    # Each student is enrolled in about five groups, so student clashes are possible.
    n_students = max(STUDENTS_PER_GROUP * 2, n_groups * STUDENTS_PER_GROUP // 5)
    busy: dict[tuple, set] = {}  # (kind, id) -> {(weekday, slot)}

    def free(kind, ident, cells) -> bool:
        taken = busy.get((kind, ident))
        return not taken or taken.isdisjoint(cells)

    def book(kind, ident, cells) -> None:
        busy.setdefault((kind, ident), set()).update(cells)

    def pick(kind, population, cells, clash: bool):
        for _ in range(50):
            candidate = rng.choice(population)
            if clash or free(kind, candidate, cells):
                return candidate
        return rng.choice(population)  # crowded: accept a clash

    rooms = list(range(1, ROOMS + 1))
    mentors = list(range(1, n_mentors + 1))
    students = list(range(n_mentors + 1, n_mentors + n_students + 1))
    rows: dict[str, list[dict]] = {"groups": [], "series": [], "enrolments": []}
    for n in range(1, n_series + 1):
        weekdays = sorted(rng.sample(range(5), rng.randint(1, 3)))
        length = rng.choice((2, 3))  # half-hour slots
        first_slot = rng.randrange(SLOTS_PER_DAY - length + 1)
        cells = {(d, s) for d in weekdays for s in range(first_slot, first_slot + length)}
        clash = rng.random() < CLASH_RATE
        room = pick("room", rooms, cells, clash)
        mentor = pick("mentor", mentors, cells, clash)
        members: set[int] = set()
        while len(members) < STUDENTS_PER_GROUP:
            members.add(pick("student", students, cells, clash))
        book("room", room, cells)
        book("mentor", mentor, cells)
        for student in members:
            book("student", student, cells)

        start = DAY_START_MINUTES + 30 * first_slot
        end = start + 30 * length
        rows["groups"].append(
            {"id": n, "name": f"Group {n:04d}", "mentor_id": mentor, "default_room_id": room}
        )
        rows["series"].append(
            {
                "id": n,
                "group_id": n,
                "weekday_mask": sum(1 << d for d in weekdays),
                "start_time": clock(start // 60, start % 60),
                "end_time": clock(end // 60, end % 60),
                "room_id": room,
            }
        )
        rows["enrolments"].extend({"group_id": n, "student_id": s} for s in sorted(members))
    rows["mentors"] = mentors
    rows["students"] = students
    return rows


def build_school(app, n_series: int, seed: int) -> School:
    """Fill the database with Core bulk inserts (one executemany per table)."""
    started = time.perf_counter()
    rows = plan_school(n_series, random.Random(seed))
    stamp = utcnow()
    with app.app_context():
        session = db.session
        session.execute(
            insert(Room),
            [{"id": r, "name": f"Room {r:03d}", "active": True} for r in range(1, ROOMS + 1)],
        )
        session.execute(
            insert(Subject),
            [{"id": s, "name": f"Subject {s:02d}", "active": True} for s in range(1, 41)],
        )
        users = [
            {"id": m, "email": f"mentor{m}@bench.test", "name": f"Mentor {m}", "role": "mentor"}
            for m in rows["mentors"]
        ] + [
            {"id": s, "email": f"student{s}@bench.test", "name": f"Student {s}", "role": "student"}
            for s in rows["students"]
        ]
        for user in users:
            user.update(active=True, session_token=f"token-{user['id']}", created_at=stamp)
        session.execute(insert(User), users)
        session.execute(
            insert(CourseGroup),
            [
                {**g, "subject_id": 1 + g["id"] % 40, "active": True, "created_at": stamp}
                for g in rows["groups"]
            ],
        )
        session.execute(
            insert(Series),
            [
                {
                    **s,
                    "every_weeks": 1,
                    "mode": "in_person",
                    "first_date": TERM_START,
                    "last_date": None,
                    "created_at": stamp,
                    "updated_at": stamp,
                }
                for s in rows["series"]
            ],
        )
        session.execute(insert(Enrolment), [{**e, "created_at": stamp} for e in rows["enrolments"]])
        session.commit()
    return School(
        series=n_series,
        groups=len(rows["groups"]),
        rooms=ROOMS,
        mentors=len(rows["mentors"]),
        students=len(rows["students"]),
        enrolments=len(rows["enrolments"]),
        setup_seconds=time.perf_counter() - started,
    )


@contextmanager
def counting_statements(engine):
    """Count statements sent to the driver; an executemany is one statement."""
    counter = {"n": 0}

    def count(*_args):
        counter["n"] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", count)


def timed_generation(app, weeks: int) -> Run:
    tz = ZoneInfo(TIMEZONE)
    end = TERM_START + timedelta(days=7 * weeks)
    # "Now" is before the term, so no session counts as already started.
    now = datetime.combine(TERM_START - timedelta(days=1), clock(12), tzinfo=UTC)
    with app.app_context():
        with counting_statements(db.engine) as counter:
            started = time.perf_counter()
            summary = generate_occurrences(TERM_START, end, tz=tz, now=now)
            db.session.commit()
            seconds = time.perf_counter() - started
        db.session.remove()
    return Run(
        seconds=seconds,
        statements=counter["n"],
        created=summary.created,
        updated=summary.updated,
        removed=summary.removed,
        unchanged=summary.unchanged,
        conflicts=len(summary.conflicts),
        kinds=", ".join(
            f"{n} {kind}"
            for kind, n in sorted(Counter(c["kind"] for c in summary.conflicts).items())
        ),
    )


def occurrence_rows(db_path: Path) -> tuple[list[str], list[str], list[tuple]]:
    """The occurrence table's columns (name, declared type) and rows, id excluded."""
    with sqlite3.connect(db_path) as conn:
        info = [(row[1], row[2]) for row in conn.execute("PRAGMA table_info(occurrence)")]
        info = [(name, kind) for name, kind in info if name != "id"]
        names = [name for name, _ in info]
        rows = conn.execute(f"SELECT {', '.join(names)} FROM occurrence").fetchall()
    conn.close()
    return names, [kind for _, kind in info], rows


def measure_floor(directory: Path, names, kinds, rows, repeat: int = 3) -> float:
    """Best time of a raw executemany of `rows` into a fresh WAL file, one commit.

    The table has the same columns (and declared types) as `occurrence`, but no index or
    constraint: the cheapest way SQLite can durably take these rows.
    """
    columns = ", ".join(f"{name} {kind}" for name, kind in zip(names, kinds, strict=True))
    sql = f"INSERT INTO occurrence ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    best = float("inf")
    for attempt in range(repeat):
        path = directory / f"floor-{attempt}.db"
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"CREATE TABLE occurrence (id INTEGER PRIMARY KEY, {columns})")
        started = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
        best = min(best, time.perf_counter() - started)
        conn.close()
    return best


def bench_school(n_series: int, weeks: int, seed: int, *, floor: bool):
    with tempfile.TemporaryDirectory(prefix="termtable-bench-") as tmp:
        directory = Path(tmp)
        app = make_bench_app(directory)
        school = build_school(app, n_series, seed)
        first = timed_generation(app, weeks)
        again = timed_generation(app, weeks)
        floor_seconds = None
        if floor:
            names, kinds, rows = occurrence_rows(directory / "bench.db")
            floor_seconds = measure_floor(directory, names, kinds, rows)
        with app.app_context():
            db.engine.dispose()
    return school, first, again, floor_seconds


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=1000, help="series in the school")
    parser.add_argument("--weeks", type=int, default=15, help="weeks in the term")
    parser.add_argument(
        "--small", type=int, default=100, help="series in the school used to compare counts"
    )
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    os.environ.pop("DATABASE_URL", None)  # always a fresh temporary SQLite file

    school, first, again, floor = bench_school(args.series, args.weeks, args.seed, floor=True)
    small, small_first, small_again, _ = bench_school(
        args.small, args.weeks, args.seed, floor=False
    )

    print(
        f"School: {school.series} series, {school.groups} groups, {school.rooms} rooms, "
        f"{school.mentors} mentors, {school.students} students, {school.enrolments} enrolments "
        f"(set up in {school.setup_seconds:.2f} s); {args.weeks} weeks from {TERM_START}, "
        f"{TIMEZONE}, SQLite {sqlite3.sqlite_version}, Python {sys.version.split()[0]}."
    )
    print(
        f"First run: created {first.created}, conflicts {first.conflicts} ({first.kinds}). "
        f"Re-run: unchanged {again.unchanged}, created {again.created}, "
        f"updated {again.updated}, removed {again.removed}."
    )
    print()
    print(f"{'measure':<34}{'seconds':>9}{'x floor':>9}{'target':>9}{'SQL':>6}  result")
    print("-" * 75)
    print(f"{'floor (raw sqlite3 executemany)':<34}{floor:>9.3f}{1:>9.1f}{'':>9}{'':>6}")
    first_ratio, again_ratio = first.seconds / floor, again.seconds / floor
    first_ok = first_ratio <= FIRST_RUN_TARGET
    again_ok = again_ratio <= RERUN_TARGET
    print(
        f"{'first run (incl. commit)':<34}{first.seconds:>9.3f}{first_ratio:>9.1f}"
        f"{'<= ' + str(int(FIRST_RUN_TARGET)):>9}{first.statements:>6}  {verdict(first_ok)}"
    )
    print(
        f"{'unchanged re-run (incl. commit)':<34}{again.seconds:>9.3f}{again_ratio:>9.1f}"
        f"{'<= ' + str(int(RERUN_TARGET)):>9}{again.statements:>6}  {verdict(again_ok)}"
    )
    print()
    same = (first.statements, again.statements) == (small_first.statements, small_again.statements)
    print(
        f"SQL statements, first run / re-run: {school.series} series "
        f"{first.statements} / {again.statements}; {small.series} series "
        f"{small_first.statements} / {small_again.statements} "
        f"(created {small_first.created}, conflicts {small_first.conflicts})  "
        f"{verdict(same)} independent of the number of series"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
