"""What the benchmarks share: a seeded school built in bulk, a migrated app on SQLite or a fresh
PostgreSQL database, timed generation runs, and the raw-insert floor of a term's sessions.

Used by bench/generate.py, bench/grid.py, bench/web_generation.py and bench/scale.py; not a
benchmark itself.
"""

from __future__ import annotations

import io
import os
import random
import re
import sqlite3
import sys
import time
from collections import Counter
from contextlib import contextmanager, redirect_stderr
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import event, insert  # noqa: E402

from app import create_app  # noqa: E402
from blueprints.extensions import init_migrations  # noqa: E402
from models import CourseGroup, Enrolment, Room, Series, Subject, User, db  # noqa: E402
from models.types import utcnow  # noqa: E402
from services.timetable.generation import SQLITE_CACHE_KIB, generate_occurrences  # noqa: E402

TIMEZONE = "Europe/Paris"
# A Monday; a 15-week term from here crosses the end of summer time (25 Oct 2026).
TERM_START = date(2026, 9, 7)
SEED = 20260907

# The school day is a grid of half-hour slots from 08:00 to 18:00, Monday to Friday.
DAY_START_MINUTES = 8 * 60
SLOTS_PER_DAY = 20
SUBJECTS = 40


@dataclass(frozen=True)
class Shape:
    """How a school of N series is staffed: `rooms` fixed, or one per `series_per_room`;
    mentors one per `series_per_mentor` (at least 5); `students_per_group`, each student in
    about `groups_per_student` groups; a share of series placed with no regard for clashes
    (`clash_rate`), so generation has conflicts of every kind to report."""

    rooms: int | None = 200
    series_per_room: int = 10
    series_per_mentor: int = 7
    students_per_group: int = 10
    groups_per_student: int = 5
    clash_rate: float = 0.02

    def room_count(self, n_series: int) -> int:
        return self.rooms if self.rooms is not None else max(1, n_series // self.series_per_room)

    def mentor_count(self, n_series: int) -> int:
        return max(5, n_series // self.series_per_mentor)

    def student_count(self, n_series: int) -> int:
        per_group = self.students_per_group
        return max(per_group * 2, n_series * per_group // self.groups_per_student)


# bench/generate.py's school: 200 rooms, a mentor per 7 series, 10 students per group.
DEFAULT_SHAPE = Shape()
# Issue 14's schools: a room per 10 series, a mentor per 8, 20 students per group.
SCALE_SHAPE = Shape(rooms=None, series_per_room=10, series_per_mentor=8, students_per_group=20)


@dataclass
class School:
    series: int
    groups: int
    rooms: int
    mentors: int
    students: int
    enrolments: int
    setup_seconds: float
    mentor_ids: list[int]
    student_ids: list[int]


def plan_school(n_series: int, rng: random.Random, shape: Shape = DEFAULT_SHAPE) -> dict:
    """A seeded school as plain rows: mostly clash-free, with a few deliberate clashes.

    One course group per series. Each series meets 1 to 3 weekdays at the same time for 60 or
    90 minutes; rooms, mentors and students are picked free at those times when possible.
    """
    n_rooms = shape.room_count(n_series)
    n_mentors = shape.mentor_count(n_series)
    n_students = shape.student_count(n_series)
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

    rooms = list(range(1, n_rooms + 1))
    mentors = list(range(1, n_mentors + 1))
    students = list(range(n_mentors + 1, n_mentors + n_students + 1))
    rows: dict[str, list] = {"groups": [], "series": [], "enrolments": []}
    for n in range(1, n_series + 1):
        weekdays = sorted(rng.sample(range(5), rng.randint(1, 3)))
        length = rng.choice((2, 3))  # half-hour slots
        first_slot = rng.randrange(SLOTS_PER_DAY - length + 1)
        cells = {(d, s) for d in weekdays for s in range(first_slot, first_slot + length)}
        clash = rng.random() < shape.clash_rate
        room = pick("room", rooms, cells, clash)
        mentor = pick("mentor", mentors, cells, clash)
        members: set[int] = set()
        while len(members) < shape.students_per_group:
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
    rows["rooms"] = rooms
    rows["mentors"] = mentors
    rows["students"] = students
    return rows


def _bulk_insert(session, model, rows: list[dict]) -> None:
    """One executemany of Core INSERTs; on PostgreSQL with RETURNING, which has SQLAlchemy
    send them as multi-row INSERTs (psycopg's executemany runs one statement per row)."""
    table = model.__table__
    if session.get_bind().dialect.name == "postgresql":
        session.execute(insert(table).returning(table.c.id), rows).all()
    else:
        session.execute(insert(table), rows)


def build_school(app, n_series: int, seed: int, shape: Shape = DEFAULT_SHAPE) -> School:
    """Fill the database in bulk (one executemany per table), one commit."""
    started = time.perf_counter()
    rows = plan_school(n_series, random.Random(seed), shape)
    stamp = utcnow()
    with app.app_context():
        session = db.session
        _bulk_insert(
            session,
            Room,
            [{"id": r, "name": f"Room {r:03d}", "active": True} for r in rows["rooms"]],
        )
        _bulk_insert(
            session,
            Subject,
            [{"id": s, "name": f"Subject {s:02d}", "active": True} for s in range(1, SUBJECTS + 1)],
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
        _bulk_insert(session, User, users)
        _bulk_insert(
            session,
            CourseGroup,
            [
                {**g, "subject_id": 1 + g["id"] % SUBJECTS, "active": True, "created_at": stamp}
                for g in rows["groups"]
            ],
        )
        _bulk_insert(
            session,
            Series,
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
        session.execute(
            insert(Enrolment.__table__), [{**e, "created_at": stamp} for e in rows["enrolments"]]
        )
        if session.get_bind().dialect.name == "postgresql":
            # The ids were given: later rows made by the app take theirs from the sequences.
            for model in (Room, Subject, User, CourseGroup, Series):
                name = model.__tablename__
                session.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                        f"(SELECT max(id) FROM {name}))"
                    )
                )
        session.commit()
    return School(
        series=n_series,
        groups=len(rows["groups"]),
        rooms=len(rows["rooms"]),
        mentors=len(rows["mentors"]),
        students=len(rows["students"]),
        enrolments=len(rows["enrolments"]),
        setup_seconds=time.perf_counter() - started,
        mentor_ids=rows["mentors"],
        student_ids=rows["students"],
    )


# --- Apps and databases ----------------------------------------------------------------------


def fresh_postgres(url: str) -> tuple[str, callable]:
    """A new database next to `url`'s, and a function that drops it."""
    base = sa.engine.make_url(url)
    name = f"{base.database}_bench_{os.getpid()}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


def migrated_app(url: str, extra: dict | None = None):
    """The app on `url`, its schema migrated (Alembic's log kept off the bench's output)."""
    config = {
        "SECRET_KEY": "bench-not-secret",
        "SQLALCHEMY_DATABASE_URI": url,
        "TIMEZONE": TIMEZONE,
        "RATELIMIT_ENABLED": False,
        "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
        # Plain HTTP between the test client and the app.
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_SECURE": False,
        **(extra or {}),
    }
    app = create_app(config)
    with app.app_context(), redirect_stderr(io.StringIO()):
        init_migrations(app)
        upgrade(directory=str(ROOT / "migrations"))
    return app


# --- Generation runs ---------------------------------------------------------------------------


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


def settle_statistics(app) -> None:
    """On PostgreSQL, what autovacuum does after a bulk load (statistics, and the visibility
    map that lets index-only scans skip the table): a server running the app has autovacuum
    on; the development server here has it off, and a plan made without statistics is not the
    plan a school gets."""
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    "VACUUM ANALYZE"
                )
        db.session.remove()


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


def timed_generation(app, weeks: int, *, force: bool = False, profile=None) -> Run:
    """`generate_occurrences` over `weeks` from TERM_START, its commit included; "now" is
    the day before the term, so no session counts as already started. With `profile` (a
    cProfile.Profile), the run is profiled."""
    tz = ZoneInfo(TIMEZONE)
    end = TERM_START + timedelta(days=7 * weeks)
    now = datetime.combine(TERM_START - timedelta(days=1), clock(12), tzinfo=UTC)
    with app.app_context():
        with counting_statements(db.engine) as counter:
            if profile is not None:
                profile.enable()
            started = time.perf_counter()
            summary = generate_occurrences(TERM_START, end, tz=tz, now=now, force=force)
            db.session.commit()
            seconds = time.perf_counter() - started
            if profile is not None:
                profile.disable()
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


# --- The raw-insert floor ----------------------------------------------------------------------


def occurrence_rows(db_path: Path) -> tuple[list[str], list[str], list[tuple]]:
    """The occurrence table's columns (name, declared type) and rows, id excluded (SQLite)."""
    with sqlite3.connect(db_path) as conn:
        info = [(row[1], row[2]) for row in conn.execute("PRAGMA table_info(occurrence)")]
        info = [(name, kind) for name, kind in info if name != "id"]
        names = [name for name, _ in info]
        rows = conn.execute(f"SELECT {', '.join(names)} FROM occurrence").fetchall()
    conn.close()
    return names, [kind for _, kind in info], rows


def measure_floor(
    directory: Path, names, kinds, rows, repeat: int = 3, *, schema_from: Path | None = None
) -> float:
    """Best time of a raw executemany of `rows` into a fresh WAL file, one commit.

    Without `schema_from`, the table has the same columns (and declared types) as
    `occurrence`, but no index or constraint: the cheapest way SQLite can durably take these
    rows. With it (a database file), the table and its indexes are created as they are there,
    and the connection gets the page cache a generation run gets (`SQLITE_CACHE_KIB`): with
    SQLite's default 2 MiB, keeping the indexes spills pages to the WAL over and over.
    """
    if schema_from is not None:
        with sqlite3.connect(schema_from) as source:
            ddl = [
                sql
                for (sql,) in source.execute(
                    "SELECT sql FROM sqlite_master WHERE tbl_name = 'occurrence' "
                    "AND sql IS NOT NULL ORDER BY type DESC"  # the table before its indexes
                )
            ]
        source.close()
    else:
        columns = ", ".join(f"{name} {kind}" for name, kind in zip(names, kinds, strict=True))
        ddl = [f"CREATE TABLE occurrence (id INTEGER PRIMARY KEY, {columns})"]
    sql = f"INSERT INTO occurrence ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    best = float("inf")
    for attempt in range(repeat):
        path = directory / f"floor-{attempt}.db"
        path.unlink(missing_ok=True)
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        if schema_from is not None:
            conn.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        for statement in ddl:
            conn.execute(statement)
        started = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
        best = min(best, time.perf_counter() - started)
        conn.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return best


def measure_postgres_floor(url: str, repeat: int = 1, *, bare: bool = False) -> float:
    """Best time of a COPY of the stored sessions (id excluded) into a new table with the same
    columns, indexes, constraints and foreign keys as `occurrence`, one commit; `bare`: the
    same columns only."""
    import psycopg

    dsn = sa.engine.make_url(url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(dsn) as conn:
        names = [
            name
            for (name,) in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'occurrence' AND column_name <> 'id' ORDER BY ordinal_position"
            )
        ]
        listed = ", ".join(names)
        rows = conn.execute(f"SELECT {listed} FROM occurrence").fetchall()
        foreign = [
            definition
            for (definition,) in conn.execute(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = 'occurrence'::regclass AND contype = 'f'"
            )
        ]
        conn.commit()
        best = float("inf")
        for _ in range(repeat):
            conn.execute("DROP TABLE IF EXISTS bench_floor")
            like = "INCLUDING DEFAULTS" if bare else "INCLUDING ALL"
            conn.execute(f"CREATE TABLE bench_floor (LIKE occurrence {like})")
            for definition in [] if bare else foreign:
                conn.execute(f"ALTER TABLE bench_floor ADD {definition}")
            conn.commit()
            started = time.perf_counter()
            with (
                conn.cursor() as cursor,
                cursor.copy(f"COPY bench_floor ({listed}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            conn.commit()
            best = min(best, time.perf_counter() - started)
        conn.execute("DROP TABLE bench_floor")
        conn.commit()
    return best


def log_in(client, email: str, password: str) -> None:
    """Log `client` (Flask's test client) in through the login form."""
    page = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post(
        "/auth/login", data={"email": email, "password": password, "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
