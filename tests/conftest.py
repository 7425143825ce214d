"""Shared fixtures: an app with a migrated database per test module, a clean database per test,
a WebTest client, logins by role, factories that fill sensible defaults (make_user, make_room,
make_group, make_series, make_session), a pinned clock, and a school in Auckland whose Mondays
straddle a DST change, served from Los Angeles (the time-zone tests of every layer).

The suite runs on a SQLite file by default and on PostgreSQL when TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import atexit
import itertools
import os
import re
import select
import sqlite3
import threading
import time as time_module
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import time_machine
from flask import Flask, current_app, g, has_app_context
from flask_migrate import upgrade
from sqlalchemy import event
from webtest import TestApp

from app import create_app
from blueprints.extensions import init_migrations
from models import CourseGroup, Enrolment, Occurrence, Room, Series, Subject, db
from models.series import weekdays_to_mask
from services.common import timeutil
from services.common.timeutil import today_in
from services.jobs.queue import configure_jobs
from services.people.accounts import create_user
from services.timetable import listing
from services.timetable.clashes import computed_clashes, stored_clashes
from services.timetable.generation import generate_occurrences
from services.tracking import dashboard as dashboard_service

if "faketime" in os.environ.get("LD_PRELOAD", ""):
    # The midnight pass (.ci/run) shifts the wall clock with libfaketime, leaving monotonic
    # clocks real; its clock_nanosleep(TIMER_ABSTIME) on that real monotonic clock then fails
    # with EINVAL, and time.sleep (so subprocess waits with a timeout) uses it. select() waits
    # on the kernel's own timeout instead.
    def _sleep_past_libfaketime(seconds: float) -> None:
        select.select([], [], [], max(0.0, seconds))

    time_module.sleep = _sleep_past_libfaketime

TEST_PASSWORD = "correct horse battery"
# Cheap scrypt parameters keep the suite fast; the production cost is asserted in test_auth.
FAST_HASH = "scrypt:1024:8:1"


def _fresh_postgres_database(url: str) -> str:
    """A new, empty database next to TEST_DATABASE_URL's, private to this test process.

    Several test runs (CI steps, developers) can share one server without clobbering each
    other; the database is dropped again when the process ends.
    """
    base = sa.engine.make_url(url)
    name = f"{base.database}_{os.getpid()}_{next(_databases)}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()

    def drop():
        engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()

    atexit.register(drop)
    return base.set(database=name).render_as_string(hide_password=False)


_databases = itertools.count(1)


def make_app(tmp_path_factory, **overrides):
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        url = _fresh_postgres_database(url)
    else:
        url = "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.db")
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": url,
        "PASSWORD_HASH_METHOD": FAST_HASH,
        "RATELIMIT_ENABLED": False,
        "TIMEZONE": "Europe/Paris",
        "SERVER_NAME": None,
        # Never sweep an upload folder at start-up (a TESTING=False app's default one is the
        # developer's instance/uploads); test_upload_sweep turns it on where it looks.
        "SWEEP_UPLOADS_AT_START": False,
        # Jobs wait in this process's memory; a test that wants them done works the queue
        # (run_queued_jobs), as a worker would.
        "JOBS_URL": "memory://",
    }
    config.update(overrides)
    app = create_app(config)
    with app.app_context():
        init_migrations(app)
        upgrade(directory=os.path.join(app.root_path, "migrations"))
    return app


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app = make_app(tmp_path_factory)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _clean_database(request):
    """Each test starts from empty tables (real commits happen; no mocked transactions)."""
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")
    # An empty queue of the test's app (the queue is one per process, its storage the app's).
    configure_jobs(app)
    with app.app_context():
        yield
        db.session.rollback()
        db.session.remove()
        try:
            _check_stored_clashes()
        finally:
            db.session.remove()
            empty_all_tables()


def _check_stored_clashes() -> None:
    """Every test's writes left the stored clashes equal to the ones found from scratch: the
    whole suite checks every path that changes a session, a group or an enrolment."""
    stored, computed = stored_clashes(), computed_clashes()
    if stored != computed:
        pytest.fail(
            "session_clash differs from find_conflicts:"
            f" missing {sorted(computed - stored)[:10]}, extra {sorted(stored - computed)[:10]}"
        )


def empty_all_tables() -> None:
    """Delete every row of every table (ids restart on PostgreSQL), in the current app."""
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(sa.text(f"DELETE FROM {name}"))  # noqa: S608 (table names)


@pytest.fixture
def web(app):
    return browser(app)


class FreshGlobals:
    """WSGI wrapper that empties `flask.g` before each request to `app`, as in production.

    `_clean_database` keeps an app context open for the whole test, and Flask reuses an open
    app context for requests, so without this `g` (and Flask-Login's cached `g._login_user`)
    would carry over from one request to the next and hide logout bugs.
    """

    def __init__(self, app: Flask):
        self.app = app

    def __call__(self, environ, start_response):
        if has_app_context() and current_app._get_current_object() is self.app:
            for name in list(g):
                g.pop(name)
        return self.app(environ, start_response)


def browser(app: Flask, **kwargs) -> TestApp:
    """A new browser (its own cookie jar) talking to `app`."""
    return TestApp(FreshGlobals(app), **kwargs)


_counter = itertools.count(1)


@pytest.fixture
def make_user(app):
    def factory(role="student", *, name=None, email=None, password=TEST_PASSWORD, active=True):
        n = next(_counter)
        user = create_user(
            email or f"{role}{n}@school.test",
            name or f"{role.title()} {n}",
            role,
            password=password,
            hash_method=FAST_HASH,
        )
        user.is_active_account = active
        db.session.commit()
        return user

    return factory


@pytest.fixture
def make_room(app):
    def factory(name=None, **kwargs):
        room = Room(name=name or f"Room {next(_counter)}", **kwargs)
        db.session.add(room)
        db.session.commit()
        return room

    return factory


@pytest.fixture
def make_group(make_user, make_room):
    def factory(name=None, *, mentor=None, subject=None, room=None, students=(), active=True):
        n = next(_counter)
        if subject is None or isinstance(subject, str):
            subject = Subject(name=subject or f"Subject {n}")
            db.session.add(subject)
        group = CourseGroup(
            name=name or f"Group {n}",
            subject=subject,
            mentor=mentor or make_user("mentor"),
            default_room=room if room is not None else make_room(),
            active=active,
        )
        db.session.add(group)
        db.session.flush()
        for student in students:
            db.session.add(Enrolment(group_id=group.id, student_id=student.id))
        db.session.commit()
        return group

    return factory


@pytest.fixture
def make_session(make_group):
    """A one-time session (no series) of `group` (a new one by default) starting at `start` (an
    aware datetime; two days after the pinned now by default), `hours` long, in the group's
    room unless `room` is another Room or None; other columns (status, created_at...) as given."""

    def factory(group=None, start=None, *, hours=1, room="default", **fields):
        group = group or make_group()
        start = (start or PINNED_NOW + timedelta(days=2)).astimezone(UTC)
        occurrence = Occurrence(
            group_id=group.id,
            start_utc=start,
            end_utc=start + timedelta(hours=hours),
            room_id=group.default_room_id if room == "default" else (room.id if room else None),
            **fields,
        )
        db.session.add(occurrence)
        db.session.commit()
        return occurrence

    return factory


@pytest.fixture
def maths_session(make_user, make_group, make_session):
    """One Maths 7A session (Ada teaches Alice) on Monday 7 September 2026, and the people who
    look at it from outside: another mentor, a student of no group, a coordinator, an admin."""
    mentor = make_user("mentor", name="Ada Mentor")
    other_mentor = make_user("mentor", name="Ben Mentor")
    student = make_user("student", name="Alice Student")
    outsider = make_user("student", name="Olga Outsider")
    coordinator = make_user("coordinator", name="Cora Coordinator")
    admin = make_user("admin", name="Adam Admin")
    group = make_group("Maths 7A", mentor=mentor, students=[student])
    return {
        "mentor": mentor, "other_mentor": other_mentor, "student": student,
        "outsider": outsider, "coordinator": coordinator, "admin": admin,
        "occurrence": make_session(group, datetime(2026, 9, 7, 8, tzinfo=UTC)),
    }  # fmt: skip


@pytest.fixture
def three_groups(make_user, make_group):
    """Ada teaches Maths 7A (Alice) and Physics 8B (nobody), Ben teaches Art 7A (Alice); Cora
    coordinates."""
    ada = make_user("mentor", name="Ada Mentor")
    ben = make_user("mentor", name="Ben Mentor")
    alice = make_user("student", name="Alice Student")
    cora = make_user("coordinator", name="Cora Coordinator")
    maths = make_group("Maths 7A", mentor=ada, students=[alice])
    physics = make_group("Physics 8B", mentor=ada)
    art = make_group("Art 7A", mentor=ben, students=[alice])
    return {"ada": ada, "ben": ben, "alice": alice, "cora": cora,
            "maths": maths, "physics": physics, "art": art}  # fmt: skip


@pytest.fixture
def session_and_mentor(make_session):
    """A one-time session two days after the pinned now, and its group's mentor."""
    occurrence = make_session()
    return occurrence, occurrence.group.mentor


@pytest.fixture
def make_series(make_group):
    def factory(
        group=None,
        *,
        weekdays=(0,),
        start=time(10),
        end=time(11),
        room="default",
        first_date=date(2026, 9, 7),
        last_date=None,
        every_weeks=1,
        mode="in_person",
    ):
        group = group or make_group()
        series = Series(
            group_id=group.id,
            weekday_mask=weekdays_to_mask(weekdays),
            every_weeks=every_weeks,
            start_time=start,
            end_time=end,
            room_id=group.default_room_id if room == "default" else (room.id if room else None),
            first_date=first_date,
            last_date=last_date,
            mode=mode,
        )
        db.session.add(series)
        db.session.commit()
        return series

    return factory


@pytest.fixture
def covered_maths(clock, make_user, make_group, make_series, make_session):
    """Cover for an absent mentor, around the pinned now (Wednesday 10 March 2027, Paris):
    Ada teaches Maths 7A (Sam) on Mondays 10:00-11:00; Bob covers Monday 15 March (an
    exception naming only him: `covered`), and Monday 22 March, moved to 14:00 (`moved`);
    Monday 29 March is Ada's own (`own`). Bob also covers a one-time session of the class
    yesterday, 9 March 10:00-11:00, still to complete (`past`). Cleo is another mentor, Cora
    a coordinator. Bob teaches no group of his own."""
    from models import DateOverride

    paris = ZoneInfo("Europe/Paris")
    ada = make_user("mentor", name="Ada Lovelace")
    bob = make_user("mentor", name="Bob Brown")
    cleo = make_user("mentor", name="Cleo Stone")
    sam = make_user("student", name="Sam Pupil")
    cora = make_user("coordinator", name="Cora Coordinator")
    group = make_group("Maths 7A", mentor=ada, subject="Mathematics", students=[sam])
    series = make_series(group, weekdays=(0,), first_date=date(2027, 3, 1))
    covered_day, moved_day, own_day = date(2027, 3, 15), date(2027, 3, 22), date(2027, 3, 29)
    db.session.add_all(
        [
            DateOverride(
                series_id=series.id, original_date=covered_day, mentor_id=bob.id, notes="Ada away"
            ),
            DateOverride(
                series_id=series.id,
                original_date=moved_day,
                start_time=time(14),
                end_time=time(15),
                mentor_id=bob.id,
            ),
        ]
    )
    db.session.flush()
    generate_occurrences(covered_day, own_day + timedelta(days=1), tz=paris)
    db.session.commit()
    sessions = {
        key: db.session.scalar(
            sa.select(Occurrence).where(
                Occurrence.series_id == series.id, Occurrence.original_date == day
            )
        )
        for key, day in (("covered", covered_day), ("moved", moved_day), ("own", own_day))
    }
    yesterday = datetime(2027, 3, 9, 10, tzinfo=paris)
    sessions["past"] = make_session(group, yesterday, cover_mentor_id=bob.id)
    return {"ada": ada, "bob": bob, "cleo": cleo, "sam": sam, "cora": cora, "group": group,
            "series": series, **sessions}  # fmt: skip


@contextmanager
def counted_statements():
    """The SQL statements run inside the block (transaction bookkeeping left out)."""
    found = []

    def counter(_conn, _cursor, statement, *_args):
        if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE")):
            found.append(statement)

    event.listen(db.engine, "before_cursor_execute", counter)
    try:
        yield found
    finally:
        event.remove(db.engine, "before_cursor_execute", counter)


def csrf_token_of(page) -> str:
    """The CSRF token htmx sends, read from the page's <body hx-headers:inherited=...>."""
    match = re.search(r'"X-CSRFToken": "([^"]+)"', page.text)
    assert match, "page carries no CSRF token"
    return match.group(1)


def submit_taking_the_write_lock_meanwhile(form, started, release, *, status="*"):
    """Submit a WebTest `form` in a thread; once `started` is set (the request is hashing or
    checking a password, held until `release`), another SQLite connection takes the write
    lock and commits: it fails at once ("database is locked") if the request holds the lock.
    Returns the request's response."""
    # The test's own session must not hold the lock (its transactions take it up front).
    db.session.rollback()
    result = {}
    request = threading.Thread(target=lambda: result.update(page=form.submit(status=status)))
    request.start()
    try:
        assert started.wait(timeout=30), "the request never reached its password"
        writer = sqlite3.connect(db.engine.url.database, isolation_level=None, timeout=0)
        try:
            writer.execute("BEGIN IMMEDIATE")
            writer.execute("COMMIT")
        finally:
            writer.close()
    finally:
        release.set()
        request.join(timeout=30)
    return result["page"]


@pytest.fixture
def login_as(web, make_user):
    """Log in through the real form; returns the user. `login_as("coordinator")`."""

    def do_login(role_or_user="coordinator"):
        user = make_user(role_or_user) if isinstance(role_or_user, str) else role_or_user
        form = web.get("/auth/login").forms[0]
        form["email"] = user.email
        form["password"] = TEST_PASSWORD
        response = form.submit()
        assert response.status_int == 302, response.text
        return user

    return do_login


@pytest.fixture
def htmx(web):
    """Send requests the way htmx does: HX-Request header plus the CSRF header."""

    class Htmx:
        def headers(self, page="/"):
            token = csrf_token_of(web.get(page))
            return {"HX-Request": "true", "HX-Request-Type": "partial", "X-CSRFToken": token}

        def get(self, url, **kwargs):
            return web.get(
                url, headers={"HX-Request": "true", "HX-Request-Type": "partial"}, **kwargs
            )

        def post(self, url, params=None, *, page="/sessions/today/", **kwargs):
            return web.post(url, params or {}, headers=self.headers(page), **kwargs)

    return Htmx()


@pytest.fixture
def upload_folder(app, tmp_path, monkeypatch):
    """Uploads of this test go to its own temporary folder (returned)."""
    path = tmp_path / "uploads"
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(path))
    return path


@pytest.fixture(scope="session")
def s3_server():
    """An S3-compatible server (s3rver) for the session (see tests/object_storage.py)."""
    from tests.object_storage import S3Server

    server = S3Server()
    yield server
    server.stop()


@pytest.fixture(params=["local", "s3"])
def storage(request, app, upload_folder, monkeypatch):
    """The test's file storage, once per backend: the upload folder, then a new bucket of the
    S3 server (uploads are staged in the upload folder either way). Returns the Storage."""
    from services.storage import storage_for

    if request.param == "s3":
        from tests.object_storage import use_s3_server

        use_s3_server(monkeypatch, app, request.getfixturevalue("s3_server"))
    return storage_for(app)


@pytest.fixture
def s3_storage(app, upload_folder, monkeypatch, s3_server):
    """The test's file storage in a new bucket of the S3 server."""
    from services.storage import storage_for
    from tests.object_storage import use_s3_server

    use_s3_server(monkeypatch, app, s3_server)
    return storage_for(app)


# A mid-week school day, well inside the dates every form accepts. Tests that build data from
# "now" pin the clock here (or elsewhere with `clock.travel`), so they answer the same at 23:52
# on a Sunday as at noon.
PINNED_NOW = datetime(2027, 3, 10, 9, 0, tzinfo=UTC)  # Wednesday, 10:00 in Europe/Paris
PINNED_TODAY = PINNED_NOW.astimezone(ZoneInfo("Europe/Paris")).date()  # the test app's zone


class PinnedClock:
    """The wall clock of this process (the test, the app under WebTest and the live server that
    the browser tests drive) moved to a chosen instant. It keeps ticking from there, so
    timeouts and "ago" texts behave; `now()` reads it."""

    def __init__(self, traveller: time_machine.Traveller) -> None:
        self._traveller = traveller

    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self, tz: str = "Europe/Paris") -> date:
        return self.now().astimezone(ZoneInfo(tz)).date()

    def travel(self, instant: datetime) -> None:
        self._traveller.move_to(instant)


@pytest.fixture(scope="module")
def pinned_clock():
    """Pin the wall clock at PINNED_NOW for a whole module (`pytestmark = usefixtures(...)`):
    for modules whose dates are constants computed at import, which must not go stale when
    the run crosses midnight between collection and the test."""
    with time_machine.travel(PINNED_NOW, tick=True):
        yield


@pytest.fixture
def clock():
    """Pin the wall clock at PINNED_NOW for this test (`clock.travel(...)` moves it)."""
    with time_machine.travel(PINNED_NOW, tick=True) as traveller:
        yield PinnedClock(traveller)


# A zone far from UTC (+12/+13) whose 08:00 is on the previous UTC date, for the time-zone tests:
# formatting a UTC, naive or server-local instant there shows the wrong hour and the wrong day.
AKL = ZoneInfo("Pacific/Auckland")


def next_dst_change(tz: ZoneInfo, after: date) -> date:
    """The first local date after `after` on which the zone's UTC offset changes."""
    day = after
    while (
        datetime.combine(day, time(12), tz).utcoffset()
        == datetime.combine(day + timedelta(days=1), time(12), tz).utcoffset()
    ):
        day += timedelta(days=1)
    return day + timedelta(days=1)


# --- Auckland, across a DST change, served from Los Angeles ----------------------------------

SERVER_TZ = "America/Los_Angeles"


def previous_dst_change(tz: ZoneInfo, before: date) -> date:
    """The last local date before `before` on which the zone's UTC offset changed."""
    day = before
    while (
        datetime.combine(day, time(12), tz).utcoffset()
        == datetime.combine(day - timedelta(days=1), time(12), tz).utcoffset()
    ):
        day -= timedelta(days=1)
    return day


def auckland_at(day: date, clock: time, tz: ZoneInfo = AKL) -> datetime:
    """The UTC instant of a local wall-clock time."""
    return datetime.combine(day, clock, tzinfo=tz).astimezone(UTC)


@pytest.fixture
def auckland(app, monkeypatch):
    """The organisation in Auckland, the server's own TZ in Los Angeles (almost a day apart)."""
    monkeypatch.setitem(app.config, "TIMEZONE", "Pacific/Auckland")
    monkeypatch.setenv("TZ", SERVER_TZ)
    time_module.tzset()
    yield AKL
    monkeypatch.undo()
    time_module.tzset()


def freeze(monkeypatch, instant: datetime) -> None:
    """`datetime.now()` is `instant` where "now" and "today" are decided (today_in, today's
    board, the dashboard's tabs)."""

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return instant.astimezone(tz) if tz else instant.astimezone().replace(tzinfo=None)

    for module in (timeutil, listing, dashboard_service):
        monkeypatch.setattr(module, "datetime", Frozen)


@pytest.fixture
def auckland_term(auckland, make_user, make_room, make_group, make_series):
    """Maths 7A (mentor Ada, student Noah, room R1) on Mondays 08:00-09:00, the Monday before
    (`before`) and the Monday after (`after`) the next Auckland DST change."""
    change = next_dst_change(AKL, today_in(AKL) + timedelta(days=14))
    assert change.weekday() == 6  # New Zealand changes its clocks on Sundays
    before, after = change - timedelta(days=6), change + timedelta(days=1)
    ada = make_user("mentor", name="Ada Lovelace")
    noah = make_user("student", name="Noah Bernard")
    room = make_room("R1")
    maths = Subject(name="Mathematics")
    db.session.add(maths)
    group = make_group("Maths 7A", mentor=ada, subject=maths, room=room, students=[noah])
    series = make_series(
        group, weekdays=(0,), start=time(8), end=time(9), first_date=before, last_date=after
    )
    generate_occurrences(before, after + timedelta(days=1), tz=AKL)
    db.session.commit()
    sessions = db.session.scalars(
        sa.select(Occurrence)
        .where(Occurrence.series_id == series.id)
        .order_by(Occurrence.start_utc)
    ).all()
    assert [o.original_date for o in sessions] == [before, after]
    # The data is what the time-zone tests need: two offsets, and UTC dates a day behind.
    offsets = {datetime.combine(d, time(8), AKL).utcoffset() for d in (before, after)}
    assert len(offsets) == 2
    assert all(o.start_utc.date() == o.original_date - timedelta(days=1) for o in sessions)
    assert [o.start_utc for o in sessions] == [
        auckland_at(before, time(8)),
        auckland_at(after, time(8)),
    ]
    return {
        "before": before,
        "after": after,
        "change": change,
        "ada": ada,
        "noah": noah,
        "room": room,
        "maths": maths,
        "group": group,
        "series": series,
        "sessions": sessions,
    }
