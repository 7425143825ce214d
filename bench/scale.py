"""Benchmark: issue 14's schools (100, 1,000 and 5,000 weekly series over a 40-week term).

Run with `.venv/bin/python bench/scale.py` (a temporary SQLite file) or add
`--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test` (a fresh database is made
next to that one for each size and dropped afterwards). `--series 100,1000` chooses the sizes,
`--weeks` the term, `--only generation,cli,pages,startup` the parts, `--json FILE` writes every
figure, `--profile first|again|forced` prints where one generation run's time goes.

Each school is built in bulk (bench/school.py, seeded, so runs are comparable): one group
and one weekly series per N, meeting 1 to 3 weekdays; a room per 10 series, a mentor per 8,
20 students per group (each in about five groups); 2% of the series placed with no regard for
clashes. For each size it measures:

- generation (`generate_occurrences`, its commit included, "now" before the term): the first
  run, an unchanged re-run, and a forced run after every series moved room (every session
  updated, every participant notified); each against the raw-insert floor measured in the same
  run: SQLite, a `sqlite3.executemany` of the same rows into a fresh table with the same
  indexes, one commit; PostgreSQL, a COPY of the same rows into a table with the same
  indexes, constraints and foreign keys (and for scale, both into a bare table: the same
  columns, no index, constraint or key);
- cli: `flask generate-sessions` for the term on an emptied timetable, in its own process:
  peak RSS (ru_maxrss of the child, started from a small process: see `MEASURE_CHILD`), CPU
  and wall time;
- pages: the median (p50) of about 20 requests each through the WSGI app in this process
  (Flask's test client, logged in; server time, no network), after one request not counted:
  the one-room week grid (coordinator), the cell editor fragment of a session, a student's
  `/schedule/mine`, the API's `/api/v1/sessions` for a week and a month (first page, and a
  later page reached by its cursor), a busy mentor's feed (CPU time, cold: the feed cache
  emptied before each request; cached), the whole-school week as staff land on it (paged by
  room past `SCHEDULE_GRID_MAX_SESSIONS`) and on one page (`&whole=1`) (time and bytes; fewer
  requests when each takes seconds);
- startup (once): the CPU of `flask --help` (bench/startup.py's method).

At the end: a table per size with generation's targets (first run within 5x the floor,
unchanged re-run within 3x), the ratio of each windowed page's p50 at the largest size to the
smallest (target: within 1.5x), and the whole school's week on one page at 1,000 series
(target: within 1 s). This is a measurement, not a test: it exits 0 unless
something crashes.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import school  # noqa: E402
import sqlalchemy as sa  # noqa: E402
import startup  # noqa: E402
from school import (  # noqa: E402
    ROOT,
    SCALE_SHAPE,
    SEED,
    TERM_START,
    TIMEZONE,
    build_school,
    fresh_postgres,
    log_in,
    migrated_app,
    settle_statistics,
    timed_generation,
)

from models import CourseGroup, Enrolment, Notification, Occurrence, Room, Series, User, db  # noqa: E402
from services.output.feeds import FeedBodies, own_feed  # noqa: E402
from services.people.accounts import create_user  # noqa: E402
from services.people.tokens import create_token  # noqa: E402

PARTS = ("generation", "cli", "pages", "startup")
PAGE_TARGET = 1.5  # p50 at the largest size / at the smallest
FIRST_RUN_TARGET, RERUN_TARGET = 5.0, 3.0  # x the raw-insert floor
WHOLE_WEEK_TARGET = 1.0  # seconds, the whole school's week on one page at 1,000 series
# Not held to PAGE_TARGET: a whole school's week grows with the school by nature (issue 14,
# item 6: past a size staff land on a paged view; the whole week within 1 s at 1,000 series).
SCHOOL_PAGES = ("school week", "school week, one page")
# The second week of the term: every series has met once, nothing is special.
WEEK = TERM_START + timedelta(days=7)
MONTH = (TERM_START.replace(month=10, day=1), TERM_START.replace(month=11, day=1))
COORDINATOR, PASSWORD = "coordinator@bench.test", "bench password"
FAST_HASH = "scrypt:1024:8:1"
HTMX = {"HX-Request": "true", "HX-Request-Type": "partial"}
# A page taking seconds is asked fewer times: at least 3, and no more than this much time.
PAGE_BUDGET_SECONDS = 30.0


# --- Generation ----------------------------------------------------------------------------


def floor_seconds(app, url: str, directory: Path) -> tuple[float, float]:
    """The raw-insert floor of the sessions now stored (see the module docstring), and for
    scale the same into a bare table (the same columns, no index, constraint or key)."""
    with app.app_context():
        db.session.remove()
        rows = db.session.scalar(sa.select(sa.func.count()).select_from(Occurrence))
    repeat = 3 if rows < 100_000 else 1
    if url.startswith("postgresql"):
        return (
            school.measure_postgres_floor(url, repeat=repeat),
            school.measure_postgres_floor(url, repeat=repeat, bare=True),
        )
    db_path = Path(sa.engine.make_url(url).database)
    names, kinds, rows = school.occurrence_rows(db_path)
    return (
        school.measure_floor(directory, names, kinds, rows, repeat, schema_from=db_path),
        school.measure_floor(directory, names, kinds, rows, repeat),
    )


def profiled(name: str, wanted: str | None):
    return cProfile.Profile() if name == wanted else None


def print_profile(profile) -> None:
    if profile is not None:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(40)
        print(out.getvalue(), file=sys.stderr)


def generation(app, url: str, directory: Path, weeks: int, profile: str | None) -> dict:
    figures = {}
    for name in ("first", "again", "forced"):
        force = name == "forced"
        if force:
            # A new timetable: every series moves to the next room, so every session changes.
            with app.app_context():
                rooms = db.session.scalar(sa.select(sa.func.count()).select_from(Room))
                db.session.execute(sa.update(Series).values(room_id=Series.room_id % rooms + 1))
                db.session.commit()
        prof = profiled(name, profile)
        run = timed_generation(app, weeks, force=force, profile=prof)
        print_profile(prof)
        figures[name] = {
            "seconds": run.seconds,
            "statements": run.statements,
            "created": run.created,
            "updated": run.updated,
            "unchanged": run.unchanged,
            "conflicts": run.conflicts,
        }
        if name == "first":
            indexed, bare = floor_seconds(app, url, directory)
            figures["floor"] = {"seconds": indexed}
            figures["bare floor"] = {"seconds": bare}
    with app.app_context():
        figures["forced"]["notifications"] = db.session.scalar(
            sa.select(sa.func.count()).select_from(Notification)
        )
        db.session.remove()
    for name in ("first", "again", "forced"):
        figures[name]["x_floor"] = figures[name]["seconds"] / figures["floor"]["seconds"]
    return figures


# --- The command line, in its own process -----------------------------------------------------


def cli_env(url: str) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLASK_")}
    env.update(
        DATABASE_URL=url,
        SECRET_KEY=startup.BENCH_SECRET_KEY,
        FLASK_TIMEZONE=TIMEZONE,
        PYTHONPATH=str(ROOT),
    )
    return env


# Started from this (large) process, a child's ru_maxrss would be this process's: Python
# starts children with vfork, and the peak RSS the kernel keeps for the child is that of the
# memory it shares with its parent until it runs its own program. A small Python in between
# starts the command and reports its CPU and peak RSS.
MEASURE_CHILD = """
import json, os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(json.dumps([os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime,
                  usage.ru_maxrss]))
"""


def measured_apart(argv: list[str], env: dict, cwd: Path) -> tuple[float, int]:
    """CPU seconds and peak RSS (KB) of `argv` run in its own process."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE_CHILD, *argv],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    status, cpu, rss_kb = json.loads(done.stdout.strip().splitlines()[-1])
    if status != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr}")
    return cpu, rss_kb


def cli(app, url: str, weeks: int) -> dict:
    """`flask generate-sessions` over the term on an emptied timetable."""
    with app.app_context():
        db.session.execute(sa.delete(Notification))
        db.session.execute(sa.delete(Occurrence))
        db.session.commit()
        db.session.remove()
    argv = [sys.executable, "-m", "flask", "generate-sessions"]
    argv += ["--start", TERM_START.isoformat(), "--weeks", str(weeks)]
    started = time.perf_counter()
    cpu, rss_kb = measured_apart(argv, cli_env(url), ROOT)
    with app.app_context():
        stored = db.session.scalar(sa.select(sa.func.count()).select_from(Occurrence))
        db.session.remove()
    return {
        "seconds": time.perf_counter() - started,
        "cpu": cpu,
        "peak_rss_mb": rss_kb / 1024,
        "sessions": stored,
    }


# --- Pages -------------------------------------------------------------------------------------


def p50(action, repeats: int, *, cpu: bool = False, before=None) -> tuple[float, int]:
    """Median seconds (wall, or this process's CPU) of `action()` (the response body's size
    returned too); one call first, not counted."""
    body = action()
    times = []
    spent = time.perf_counter()
    for n in range(repeats):
        if before is not None:
            before()
        clock = time.process_time if cpu else time.perf_counter
        started = clock()
        body = action()
        times.append(clock() - started)
        if n >= 2 and time.perf_counter() - spent > PAGE_BUDGET_SECONDS:
            break
    return statistics.median(times), len(body)


def get(client, url: str, headers=None) -> bytes:
    response = client.get(url, headers=headers or {})
    assert response.status_code == 200, (url, response.status_code, response.data[:300])
    return response.get_data()


class Cast:
    """The people and things the pages are asked for, chosen by the school's data."""

    def __init__(self, app, school_):
        with app.app_context():
            session = db.session
            create_user(COORDINATOR, "Bench Coordinator", "coordinator", password=PASSWORD,
                        hash_method=FAST_HASH)  # fmt: skip
            week_start = sa.func.min(Occurrence.id)
            self.busy_room = session.execute(
                sa.select(Occurrence.room_id)
                .group_by(Occurrence.room_id)
                .order_by(sa.func.count().desc(), Occurrence.room_id)
                .limit(1)
            ).scalar()
            self.occurrence = session.scalar(
                sa.select(week_start).where(Occurrence.room_id == self.busy_room)
            )
            self.busy_mentor = session.execute(
                sa.select(CourseGroup.mentor_id)
                .join(Occurrence, Occurrence.group_id == CourseGroup.id)
                .group_by(CourseGroup.mentor_id)
                .order_by(sa.func.count().desc(), CourseGroup.mentor_id)
                .limit(1)
            ).scalar()
            self.student = session.scalar(sa.select(sa.func.min(Enrolment.student_id)))
            hashed = create_user(
                "hash@bench.test", "Hash", "student", password=PASSWORD, hash_method=FAST_HASH
            ).password_hash
            session.execute(
                sa.update(User)
                .where(User.id.in_([self.busy_mentor, self.student]))
                .values(password_hash=hashed)
            )
            self.feed_token = own_feed(session.get(User, self.busy_mentor)).token
            coordinator = session.scalar(sa.select(User).where(User.email == COORDINATOR))
            _, self.api_token = create_token(coordinator, "bench")
            self.student_email = session.get(User, self.student).email
            session.commit()
            session.remove()


def later_page(client, url: str, headers: dict, hops: int = 4) -> tuple[str, int]:
    """The URL of the page `hops` cursors after `url` (or the last one), and its number."""
    for n in range(hops):
        found = client.get(url, headers=headers).get_json()["next"]
        if not found:
            return url, n + 1
        url = found.replace("http://localhost", "")
    return url, hops + 1


def pages(app, school_, repeats: int) -> dict:
    cast = Cast(app, school_)
    staff = app.test_client()
    log_in(staff, COORDINATOR, PASSWORD)
    student = app.test_client()
    log_in(student, cast.student_email, PASSWORD)
    api = app.test_client()
    bearer = {"Authorization": f"Bearer {cast.api_token}"}
    week = f"date={WEEK.isoformat()}"
    grid = f"view=week&layout=time&{week}"
    figures: dict[str, dict] = {}

    def page(name, client, url, headers=None, **kwargs):
        seconds, size = p50(lambda: get(client, url, headers), repeats, **kwargs)
        figures[name] = {"p50": seconds, "bytes": size, "url": url}

    page("room week", staff, f"/schedule/?{grid}&room={cast.busy_room}")
    page("cell editor", staff, f"/schedule/sessions/{cast.occurrence}/editor?{grid}", HTMX)
    page("student mine", student, f"/schedule/mine?{week}")
    api_week = f"/api/v1/sessions?start={WEEK}&end={WEEK + timedelta(days=7)}"
    api_month = f"/api/v1/sessions?start={MONTH[0]}&end={MONTH[1]}"
    for name, url in (("api week", api_week), ("api month", api_month)):
        page(f"{name} p1", api, url, bearer)
        later, number = later_page(api, url, bearer)
        page(f"{name} p{number}", api, later, bearer)
    feed = f"/calendar/{cast.feed_token}.ics"

    def empty_cache():
        app.extensions["feed_bodies"] = FeedBodies()

    seconds, size = p50(lambda: get(api, feed), repeats, cpu=True, before=empty_cache)
    figures["feed cold (CPU)"] = {"p50": seconds, "bytes": size, "url": feed}
    page("feed cached (CPU)", api, feed, cpu=True)
    page("school week", staff, f"/schedule/?{grid}")
    page("school week, one page", staff, f"/schedule/?{grid}&whole=1")
    return figures


# --- Start-up --------------------------------------------------------------------------------


def startup_cpu(url: str, runs: int = 5) -> dict:
    env = cli_env(url)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: bytecode caches written
    cpu, rss = startup.run([sys.executable, "-m", "flask", "--help"], env, ROOT, runs)
    return {"cpu": cpu, "peak_rss_mb": rss / 1024}


# --- One size, and the report ----------------------------------------------------------------


def one_size(n: int, args, parts: set[str]) -> dict:
    drop = None
    with tempfile.TemporaryDirectory(prefix="termtable-scale-") as tmp:
        if args.database_url:
            url, drop = fresh_postgres(args.database_url)
        else:
            url = "sqlite:///" + str(Path(tmp) / "bench.db")
        app = migrated_app(url)
        try:
            built = build_school(app, n, args.seed, SCALE_SHAPE)
            result: dict = {
                "school": {
                    "series": n,
                    "rooms": built.rooms,
                    "mentors": built.mentors,
                    "students": built.students,
                    "enrolments": built.enrolments,
                    "setup_seconds": built.setup_seconds,
                }
            }
            print(
                f"{n} series: {built.rooms} rooms, {built.mentors} mentors, {built.students} "
                f"students, {built.enrolments} enrolments (built in {built.setup_seconds:.1f} s)",
                file=sys.stderr,
            )
            if "generation" in parts:
                result["generation"] = generation(app, url, Path(tmp), args.weeks, args.profile)
                print(f"  generation {_brief(result['generation'])}", file=sys.stderr)
            else:
                timed_generation(app, args.weeks)
            if "cli" in parts:
                result["cli"] = cli(app, url, args.weeks)
                print(f"  cli {result['cli']}", file=sys.stderr)
            with app.app_context():
                result["school"]["sessions"] = db.session.scalar(
                    sa.select(sa.func.count()).select_from(Occurrence)
                )
                db.session.remove()
            if "pages" in parts:
                settle_statistics(app)
                result["pages"] = pages(app, built, args.repeats)
            if "startup" in parts and n == args.sizes[0]:
                result["startup"] = startup_cpu(url)
            return result
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
            if drop:
                drop()


def _brief(figures: dict) -> str:
    return ", ".join(
        f"{name} {figures[name]['seconds']:.2f} s"
        + (f" ({figures[name]['x_floor']:.1f}x)" if "x_floor" in figures[name] else "")
        for name in ("floor", "first", "again", "forced")
    )


def report(results: dict[int, dict], dialect: str) -> None:
    for n, result in results.items():
        s = result["school"]
        print(
            f"\n== {n:,} series ({dialect}): {s.get('sessions', 0):,} sessions, {s['rooms']} "
            f"rooms, {s['mentors']} mentors, {s['students']:,} students =="
        )
        if "generation" in result:
            g = result["generation"]
            print(f"{'generation':<28}{'seconds':>9}{'x floor':>9}{'SQL':>6}  detail")
            print(f"{'floor (raw insert)':<28}{g['floor']['seconds']:>9.2f}{1:>9.1f}")
            bare = g["bare floor"]["seconds"]
            print(f"{'  into a bare table':<28}{bare:>9.2f}{bare / g['floor']['seconds']:>9.1f}")
            for name, label in (
                ("first", "first run"),
                ("again", "unchanged re-run"),
                ("forced", "forced run"),
            ):
                run = g[name]
                detail = (
                    f"created {run['created']:,}, updated {run['updated']:,}, unchanged "
                    f"{run['unchanged']:,}, conflicts {run['conflicts']:,}"
                )
                if name == "forced":
                    detail += f", notifications {run['notifications']:,}"
                target = {"first": FIRST_RUN_TARGET, "again": RERUN_TARGET}.get(name)
                verdict = (
                    ""
                    if target is None
                    else (f"  {'PASS' if run['x_floor'] <= target else 'MISS'} (<= {target:g}x)")
                )
                print(
                    f"{label:<28}{run['seconds']:>9.2f}{run['x_floor']:>9.1f}"
                    f"{run['statements']:>6}  {detail}{verdict}"
                )
        if "cli" in result:
            c = result["cli"]
            print(
                f"flask generate-sessions: {c['seconds']:.1f} s, CPU {c['cpu']:.1f} s, "
                f"peak RSS {c['peak_rss_mb']:.0f} MB ({c['sessions']:,} sessions)"
            )
        if "pages" in result:
            print(f"{'page':<28}{'p50 ms':>9}{'KB':>9}")
            for name, page in result["pages"].items():
                print(f"{name:<28}{page['p50'] * 1000:>9.1f}{page['bytes'] / 1024:>9.1f}")
        if "startup" in result:
            st = result["startup"]
            print(f"flask --help: CPU {st['cpu']:.2f} s, peak RSS {st['peak_rss_mb']:.0f} MB")
    sizes = [n for n in results if "pages" in results[n]]
    if len(sizes) >= 2:
        small, large = min(sizes), max(sizes)
        print(f"\n== pages: p50 at {large:,} series / at {small:,} (target <= {PAGE_TARGET}x) ==")
        for name, page in results[large]["pages"].items():
            if name in SCHOOL_PAGES:
                continue
            base = results[small]["pages"].get(name)
            if base is None:  # e.g. the API's later page number differs
                base = next(
                    (v for k, v in results[small]["pages"].items() if k[:9] == name[:9]), None
                )
            if base is None:
                continue
            ratio = page["p50"] / base["p50"]
            verdict = "PASS" if ratio <= PAGE_TARGET else "MISS"
            print(f"{name:<28}{ratio:>6.2f}x  {verdict}")
    if 1000 in sizes:
        whole = results[1000]["pages"]["school week, one page"]["p50"]
        verdict = "PASS" if whole <= WHOLE_WEEK_TARGET else "MISS"
        print(
            f"\nwhole school's week on one page at 1,000 series: {whole:.2f} s  {verdict} "
            f"(<= {WHOLE_WEEK_TARGET:g} s)"
        )


def apart(n: int, argv: list[str] | None, parts: set[str]) -> dict:
    """`one_size(n)` in a process of its own, its figures read back: measured in one process,
    a size paid for the sizes before it (a cached feed's CPU at 100 series went from 4.8 to
    6.9 ms when measured after 5,000)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    for flag in ("--series", "--json", "--only"):
        while flag in argv:
            del argv[argv.index(flag) : argv.index(flag) + 2]
    argv = [a for a in argv if not a.startswith(("--series=", "--json=", "--only="))]
    done = subprocess.run(
        [sys.executable, __file__, *argv, "--series", str(n), "--only", ",".join(sorted(parts)),
         "--sizes-only"],
        stdout=subprocess.PIPE, check=True, text=True,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", default="100,1000,5000", help="sizes, comma-separated")
    parser.add_argument("--weeks", type=int, default=40, help="weeks in the term")
    parser.add_argument("--database-url", help="a PostgreSQL URL to run next to")
    parser.add_argument("--only", default=",".join(PARTS), help=f"parts: {','.join(PARTS)}")
    parser.add_argument("--json", help="write every figure to this file")
    parser.add_argument("--repeats", type=int, default=20, help="requests per page")
    parser.add_argument("--profile", choices=("first", "again", "forced"))
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--sizes-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.sizes = [int(n.replace("_", "")) for n in args.series.split(",")]
    parts = {part.strip() for part in args.only.split(",")}
    if unknown := parts - set(PARTS):
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    os.environ.pop("DATABASE_URL", None)
    dialect = "PostgreSQL" if args.database_url else "SQLite"

    started = time.perf_counter()
    results = {}
    for n in args.sizes:
        size_started = time.perf_counter()
        if len(args.sizes) == 1:
            results[n] = one_size(n, args, parts)
        else:  # start-up measured once, with the first size
            rest = parts if n == args.sizes[0] else parts - {"startup"}
            results[n] = apart(n, argv, rest)
        results[n]["wall_seconds"] = time.perf_counter() - size_started
        print(f"  ({n} series: {results[n]['wall_seconds']:.0f} s)", file=sys.stderr)
    if len(args.sizes) == 1 and args.sizes_only:
        print(json.dumps(results[args.sizes[0]]))
        return 0
    report(results, dialect)
    print(f"\n(whole run {time.perf_counter() - started:.0f} s)")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"database": dialect, "weeks": args.weeks, "sizes": results}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
