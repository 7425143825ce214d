"""Benchmark: pages that show one window stay flat as the school grows (issue 14, item 2).

Builds the issue's schools (a 40-week term of 100 and 5,000 weekly series; a room per 10
series, a mentor per 8, 20 students per group, each student in about five groups) and times,
through Flask's test client in this process, the median (p50) of 20 requests after 2 warm-up
ones:

- `/schedule/mine` as a student and as a mentor (a week in the middle of the term);
- the API's `/api/v1/sessions` for a week and for a month as a coordinator, the first page
  and a later one (the cursor of page 3, 50 sessions a page), and a month as a student.

It prints each figure at both sizes and the ratio (target: 5,000 / 100 within 1.5x).

    .venv/bin/python bench/windowed.py                        # temporary SQLite files
    .venv/bin/python bench/windowed.py --keep /tmp/windowed   # keep (or reuse) the files
    .venv/bin/python bench/windowed.py --postgresql postgresql+psycopg://postgres@127.0.0.1/

With `--keep DIR` a school already built in DIR (SQLite `school-N.db`; with `--postgresql`,
the databases `windowed_N`, or `--prefix`) is upgraded to the code's migrations and measured
again: the way to compare two versions of the code on the same data. `--explain` prints the
query plans of the measured requests' statements.

This is a measurement, not a test: it prints PASS/MISS against the target and exits 0.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from contextlib import redirect_stderr
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import school  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from school import SCALE_SHAPE, settle_statistics  # noqa: E402
from sqlalchemy import create_engine, event, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from app import create_app  # noqa: E402
from blueprints.extensions import init_migrations  # noqa: E402
from models import (  # noqa: E402
    CourseGroup,
    Enrolment,
    Occurrence,
    User,
    db,
)

TIMEZONE = "Europe/Paris"
TERM_START = date(2026, 9, 7)  # a Monday
WEEKS = 40
SEED = 20260907
# A week in the middle of the term (Monday), and its month.
WEEK = TERM_START + timedelta(weeks=19)
MONTH = date(2027, 1, 1)
RUNS, WARMUP = 20, 2
TARGET = 1.5
SIZES = (100, 5000)
LATER_PAGE = 3


def make_app(url: str):
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench-not-secret",
            "SQLALCHEMY_DATABASE_URI": url,
            "TIMEZONE": TIMEZONE,
            "RATELIMIT_ENABLED": False,
        }
    )


def migrate(app) -> None:
    with app.app_context(), redirect_stderr(io.StringIO()):
        init_migrations(app)
        upgrade(directory=str(ROOT / "migrations"))


def build_school(app, n_series: int) -> None:
    """The school of bench/school.py (issue 14's shape) and a coordinator, then the term
    generated 8 weeks at a time (the real generator)."""
    from services.timetable.generation import generate_occurrences

    school.build_school(app, n_series, SEED + n_series, SCALE_SHAPE)
    with app.app_context():
        db.session.add(
            User(
                email="coordinator@bench.test",
                name="Bench Coordinator",
                role="coordinator",
            )
        )
        db.session.commit()
        tz = ZoneInfo(TIMEZONE)
        now = datetime.combine(TERM_START - timedelta(days=1), clock(12), tzinfo=UTC)
        for first in range(0, WEEKS, 8):
            start = TERM_START + timedelta(weeks=first)
            end = TERM_START + timedelta(weeks=min(first + 8, WEEKS))
            generate_occurrences(start, end, tz=tz, now=now)
            db.session.commit()
        db.session.remove()
    settle_statistics(app)


def has_school(app) -> bool:
    with app.app_context():
        try:
            return bool(db.session.scalar(select(func.count(Occurrence.id))))
        except Exception:  # no tables yet
            db.session.rollback()
            return False
        finally:
            db.session.remove()


def postgres_database(base: str, name: str) -> str:
    """The URL of database `name` on the server of `base`, created if missing."""
    url = make_url(base)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


# --- Who is measured -----------------------------------------------------------------------


@dataclass
class People:
    student: str  # Flask-Login ids (id:session token)
    mentor: str
    staff_token: str
    student_token: str


def choose_people(app) -> People:
    """A student in the shape's groups per student, the mentor of its series per mentor (or the
    nearest), the coordinator; API tokens made for the coordinator and the student."""
    from services.people.tokens import create_token

    with app.app_context():
        per_student = (
            select(Enrolment.student_id, func.count().label("n"))
            .group_by(Enrolment.student_id)
            .subquery()
        )
        student_id = db.session.scalar(
            select(per_student.c.student_id)
            .order_by(
                func.abs(per_student.c.n - SCALE_SHAPE.groups_per_student),
                per_student.c.student_id,
            )
            .limit(1)
        )
        per_mentor = (
            select(CourseGroup.mentor_id, func.count().label("n"))
            .group_by(CourseGroup.mentor_id)
            .subquery()
        )
        mentor_id = db.session.scalar(
            select(per_mentor.c.mentor_id)
            .order_by(
                func.abs(per_mentor.c.n - SCALE_SHAPE.series_per_mentor), per_mentor.c.mentor_id
            )
            .limit(1)
        )
        coordinator = db.session.scalar(select(User).where(User.role == "coordinator"))
        student, mentor = db.session.get(User, student_id), db.session.get(User, mentor_id)
        _, staff_token = create_token(coordinator, f"bench {time.time_ns()}")
        _, student_token = create_token(student, f"bench {time.time_ns()}")
        db.session.commit()
        people = People(student.get_id(), mentor.get_id(), staff_token, student_token)
        db.session.remove()
    return people


def client_as(app, login_id: str):
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = login_id
        session["_fresh"] = True
    return client


# --- Measuring -----------------------------------------------------------------------------


def p50s(actions: list) -> list[tuple[float, float]]:
    """Each action's median wall-clock time and median CPU time of this thread, run in turns
    (one of each, RUNS times), so a machine busy with something else for a while weighs on
    every size alike. On a shared machine the CPU time is the steadier figure; it leaves out
    what a PostgreSQL server does in its own process (the wall-clock time has it)."""
    for _ in range(WARMUP):
        for action in actions:
            action()
    walls: list[list[float]] = [[] for _ in actions]
    cpus: list[list[float]] = [[] for _ in actions]
    for _ in range(RUNS):
        for action, wall, cpu in zip(actions, walls, cpus, strict=True):
            started, started_cpu = time.perf_counter(), time.thread_time()
            action()
            cpu.append(time.thread_time() - started_cpu)
            wall.append(time.perf_counter() - started)
    return [
        (statistics.median(wall), statistics.median(cpu))
        for wall, cpu in zip(walls, cpus, strict=True)
    ]


def get_ok(client, url: str, headers=None):
    response = client.get(url, headers=headers or {})
    assert response.status_code == 200, (url, response.status_code, response.data[:300])
    return response


def later_page_url(client, url: str, headers: dict) -> str:
    """The URL of page LATER_PAGE of an API list (following `next`), or of its last page."""
    for _ in range(LATER_PAGE - 1):
        following = get_ok(client, url, headers).get_json()["next"]
        if following is None:
            break
        url = following.split("://", 1)[1].split("/", 1)[1]
        url = "/" + url
    return url


def requests_to_time(app, people: People) -> dict[str, tuple]:
    """name -> (client, url, headers)."""
    student, mentor = client_as(app, people.student), client_as(app, people.mentor)
    api = app.test_client()
    staff = {"Authorization": f"Bearer {people.staff_token}"}
    learner = {"Authorization": f"Bearer {people.student_token}"}
    week_end, month_end = WEEK + timedelta(days=7), date(MONTH.year, MONTH.month + 1, 1)
    week = f"/api/v1/sessions?start={WEEK}&end={week_end}"
    month = f"/api/v1/sessions?start={MONTH}&end={month_end}"
    return {
        "/schedule/mine, student (week)": (student, f"/schedule/mine?date={WEEK}", {}),
        "/schedule/mine, mentor (week)": (mentor, f"/schedule/mine?date={WEEK}", {}),
        "API week, page 1 (coordinator)": (api, week, staff),
        f"API week, page {LATER_PAGE} (coordinator)": (
            api, later_page_url(api, week, staff), staff
        ),
        "API month, page 1 (coordinator)": (api, month, staff),
        f"API month, page {LATER_PAGE} (coordinator)": (
            api, later_page_url(api, month, staff), staff
        ),
        "API month, page 1 (student)": (api, month, learner),
    }  # fmt: skip


def explain(app, client, url: str, headers: dict) -> None:
    """Print the plan of every statement one request runs (EXPLAIN QUERY PLAN / EXPLAIN)."""
    captured = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and not executemany:
            captured.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        get_ok(client, url, headers)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for statement, parameters in captured:
            print("   ", " ".join(statement.split())[:400])
            cursor.execute(prefix + statement, parameters)
            for row in cursor.fetchall():
                print("      ", row[-1] if engine.dialect.name == "sqlite" else row[0])
    finally:
        raw.close()


def open_school(url: str, n_series: int):
    """The app on the school of `n_series` at `url` (built if empty), and what to time."""
    app = make_app(url)
    migrate(app)
    if not has_school(app):
        started = time.perf_counter()
        build_school(app, n_series)
        print(f"  built the school of {n_series} series in {time.perf_counter() - started:.0f} s")
    people = choose_people(app)
    with app.app_context():
        sessions = db.session.scalar(select(func.count(Occurrence.id)))
    return app, sessions, requests_to_time(app, people)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, help="directory of the SQLite files, kept")
    parser.add_argument("--postgresql", help="a PostgreSQL server URL (databases windowed_N)")
    parser.add_argument("--prefix", default="windowed_", help="PostgreSQL databases' prefix")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--explain", action="store_true", help="print the statements' plans")
    args = parser.parse_args(argv)
    os.environ.pop("DATABASE_URL", None)
    sizes = [int(n) for n in args.sizes.split(",")]
    schools = {}
    with tempfile.TemporaryDirectory(prefix="termtable-windowed-") as tmp:
        directory = args.keep or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        for n in sizes:
            if args.postgresql:
                url = postgres_database(args.postgresql, f"{args.prefix}{n}")
            else:
                url = "sqlite:///" + str(directory / f"school-{n}.db")
            schools[n] = open_school(url, n)
        figures: dict[str, list[tuple[float, float]]] = {}
        for name in schools[sizes[0]][2]:
            requests = [schools[n][2][name] for n in sizes]
            figures[name] = p50s([lambda c=c, p=p, h=h: get_ok(c, p, h) for c, p, h in requests])
            if args.explain:
                for n, (client, path, headers) in zip(sizes, requests, strict=True):
                    print(f"  {name} ({n} series): {path}")
                    explain(schools[n][0], client, path, headers)
        for app, _, _ in schools.values():
            with app.app_context():
                db.engine.dispose()
    backend = "PostgreSQL" if args.postgresql else "SQLite"
    print(
        f"\n{backend}; a {WEEKS}-week term from {TERM_START}; the week of {WEEK}, the month of "
        f"{MONTH:%B %Y}; p50 of {RUNS} requests (Flask test client), milliseconds."
    )
    for n in sizes:
        print(f"  {n} series: {schools[n][1]:,} sessions")
    for label, index in (("wall-clock", 0), ("CPU of this process", 1)):
        print(f"\n{'p50, ' + label + ', ms':<40}" + "".join(f"{n:>10}" for n in sizes), end="")
        print(f"{'ratio':>8}  target")
        for name, row in figures.items():
            values = [figure[index] for figure in row]
            ratio = values[-1] / values[0]
            verdict = "PASS" if ratio <= TARGET else "MISS"
            cells = "".join(f"{v * 1000:>10.1f}" for v in values)
            print(f"{name:<40}{cells}{ratio:>8.2f}  <= {TARGET} {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
