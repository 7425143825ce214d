"""No statement binds parameters in proportion to the data: every bulk path runs on a SQLite
whose connections take at most `LIMIT` bound parameters per statement (SQLAlchemy's own
multi-row INSERT batches told the same), over a school a few times larger than that. On
PostgreSQL the same paths run unchanged (id lists bound as arrays).

The school: `PAIRS` pairs of groups; the two groups of a pair share a room, a mentor and a
student, and meet at the same time every weekday, so every session is in a room, a mentor
and a student conflict."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy import event, func, select, update

from models import (
    CourseGroup,
    EmailStatus,
    Enrolment,
    Notification,
    Occurrence,
    Room,
    Series,
    SessionRequest,
    Subject,
    User,
    db,
)
from models.enums import OccurrenceMode, RequestStatus, Role, ScheduleKind
from models.series import weekdays_to_mask
from models.types import one_of
from services.notifications import mail
from services.notifications.inbox import SESSION_MOVED, notify
from services.output.feeds import build_feed, own_feed
from services.people.tokens import create_token
from services.requests.lifecycle import expire_requests
from services.timetable.csv_export import export_timetable
from services.timetable.exception_import import import_exceptions
from services.timetable.generation import generate_occurrences
from services.timetable.schedule.entries import load_entries
from services.timetable.timetable_import import import_timetable
from tests.conftest import browser, make_app

LIMIT = 200  # bound parameters per statement
PAIRS = 300  # 600 groups, 300 rooms and mentors, 900 students: 3,000 sessions a week
PARIS = ZoneInfo("Europe/Paris")
MONDAY = date(2030, 9, 2)
BEFORE = datetime(2030, 9, 1, tzinfo=UTC)
WEEKDAYS = (0, 1, 2, 3, 4)
SESSIONS = 2 * PAIRS * len(WEEKDAYS)
CONFLICTS = PAIRS * len(WEEKDAYS) * 3  # room, mentor and student, per pair and day


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The usual test app; on SQLite every connection takes at most LIMIT parameters."""
    app = make_app(tmp_path_factory)
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":

            @event.listens_for(engine, "connect")
            def _few_parameters(dbapi_connection, _record):
                dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, LIMIT)

            engine.dialect.insertmanyvalues_max_parameters = LIMIT
            engine.dispose()  # every connection from now on is made with the limit
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def sqlite_only():
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the lowered limit is SQLite's")


def test_the_limit_is_in_force(app, sqlite_only):
    values = ", ".join(f":p{n}" for n in range(LIMIT + 1))
    params = {f"p{n}": n for n in range(LIMIT + 1)}
    with pytest.raises(sa.exc.OperationalError, match="too many SQL variables"):
        db.session.execute(sa.text(f"SELECT coalesce({values})"), params)
    db.session.rollback()


def test_one_of_takes_a_list_longer_than_the_limit(app):
    """Rooms chosen among more ids than a statement may bind: given now, or by name to a
    query built once; and strings as well as ids."""
    rooms = [Room(name=f"Listed {k:04}") for k in range(3 * LIMIT)]
    db.session.add_all(rooms)
    db.session.flush()
    wanted = {r.id for r in rooms[::2]} | {10**9}  # and an id that is no room
    names = sorted(r.name for r in rooms[1::3])

    now = select(Room.id).where(one_of(Room.id, wanted))
    assert set(db.session.scalars(now)) == wanted - {10**9}
    built_once = select(Room.id).where(one_of(Room.id, name="rooms"))
    for chosen in (wanted, {rooms[0].id}, set()):
        assert set(db.session.scalars(built_once, {"rooms": chosen})) == chosen - {10**9}
    by_name = select(Room.name).where(one_of(Room.name, names, of=sa.String))
    assert sorted(db.session.scalars(by_name)) == names
    db.session.rollback()


def test_one_of_is_read_by_key_not_by_scanning_the_table(app, sqlite_only):
    """The list drives the lookup: each id found by its key, not every row tested against
    the list (a boolean `= 1` around the test, SQLite's lack of a boolean type, did that)."""
    query = select(Room.id).where(one_of(Room.id, [1, 2, 3]))
    compiled = query.compile(db.engine)
    plan = (
        db.session.connection()
        .exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), ("[1, 2, 3]",))
        .all()
    )
    assert "= 1" not in str(compiled)
    assert any("SEARCH room USING INTEGER PRIMARY KEY" in row[3] for row in plan), plan


def build_school(*, online: bool = False) -> list[int]:
    """The school of the module docstring (series from MONDAY, 10:00-11:00); its group ids."""
    subject = Subject(name="Maths")
    rooms = [Room(name=f"Room {k:03}") for k in range(PAIRS)]
    mentors = [
        User(email=f"mentor{k}@school.test", name=f"Mentor {k:03}", role=Role.MENTOR)
        for k in range(PAIRS)
    ]
    students = [
        User(email=f"student{n}@school.test", name=f"Student {n:04}", role=Role.STUDENT)
        for n in range(3 * PAIRS)
    ]
    db.session.add_all([subject, *rooms, *mentors, *students])
    db.session.flush()
    groups = []
    for k in range(PAIRS):
        for side in (0, 1):
            groups.append(
                CourseGroup(
                    name=f"Group {k:03}{'AB'[side]}",
                    subject_id=subject.id,
                    mentor_id=mentors[k].id,
                    default_room_id=rooms[k].id,
                )
            )
    db.session.add_all(groups)
    db.session.flush()
    rows = []
    for n, group in enumerate(groups):
        shared, own = students[3 * (n // 2)], students[3 * (n // 2) + 1 + n % 2]
        rows += [
            Enrolment(group_id=group.id, student_id=shared.id),
            Enrolment(group_id=group.id, student_id=own.id),
        ]
        rows.append(
            Series(
                group_id=group.id,
                weekday_mask=weekdays_to_mask(WEEKDAYS),
                every_weeks=1,
                start_time=time(10),
                end_time=time(11),
                room_id=group.default_room_id,
                first_date=MONDAY,
                mode=OccurrenceMode.ONLINE if online else OccurrenceMode.IN_PERSON,
            )
        )
    db.session.add_all(rows)
    db.session.commit()
    return [g.id for g in groups]


def generate(**kwargs):
    summary = generate_occurrences(
        MONDAY, MONDAY + timedelta(weeks=1), tz=PARIS, now=BEFORE, **kwargs
    )
    db.session.commit()
    return summary


def assert_pair_conflicts(conflicts: list[dict], pairs: int = PAIRS) -> None:
    assert len(conflicts) == pairs * len(WEEKDAYS) * 3
    first = conflicts[0]
    assert {s["group"] for s in first["sessions"]} == {"Group 000A", "Group 000B"}
    shared = {c["kind"]: c["shared"] for c in conflicts[:3]}
    assert shared == {"room": ["Room 000"], "mentor": ["Mentor 000"], "student": ["Student 0000"]}


@pytest.fixture
def generated_school(app):
    groups = build_school()
    summary = generate()
    assert summary.created == SESSIONS
    assert_pair_conflicts(summary.conflicts)
    return groups


def test_generation_first_run_unchanged_rerun_and_forced_run(generated_school):
    again = generate()
    assert (again.created, again.unchanged) == (0, SESSIONS)
    assert_pair_conflicts(again.conflicts)

    db.session.execute(update(Series).values(start_time=time(11), end_time=time(12)))
    db.session.commit()
    forced = generate(force=True)
    assert (forced.created, forced.updated, forced.unchanged) == (0, SESSIONS, 0)
    assert_pair_conflicts(forced.conflicts)
    # Every group's mentor and two students are told, once each.
    told = db.session.scalar(
        select(func.count()).select_from(Notification).where(Notification.kind == SESSION_MOVED)
    )
    assert told == 2 * PAIRS * 3
    assert (
        db.session.scalar(
            select(func.count()).select_from(Occurrence).where(Occurrence.sequence == 1)
        )
        == SESSIONS
    )


def test_a_run_limited_to_many_groups_with_details(app):
    groups = build_school()
    chosen = groups[: 2 * (PAIRS * 2 // 3)]  # whole pairs, more groups than LIMIT
    summary = generate(group_ids=chosen, details=True)
    assert summary.created == len(chosen) * len(WEEKDAYS)
    assert_pair_conflicts(summary.conflicts, pairs=len(chosen) // 2)
    assert len(summary.changes) == summary.created
    assert summary.changes[0].group == "Group 000A"

    db.session.execute(update(Series).values(start_time=time(11), end_time=time(12)))
    db.session.commit()
    forced = generate(group_ids=chosen, details=True, force=True)
    assert forced.updated == len(chosen) * len(WEEKDAYS)
    assert len(forced.changes_of("update")) == forced.updated

    earlier = generate_occurrences(
        MONDAY - timedelta(weeks=2), MONDAY - timedelta(weeks=1), tz=PARIS, group_ids=chosen
    )
    assert earlier.nothing_because.startswith("Nothing to generate: the series of these groups")


def test_online_sessions_each_get_a_video_room(app):
    build_school(online=True)
    assert generate().created == SESSIONS
    rooms = db.session.scalars(select(Occurrence.video_room_id)).all()
    assert None not in rooms and len(set(rooms)) == SESSIONS


def test_the_schedule_names_the_conflicts_of_a_whole_week(generated_school):
    coordinator = User(email="cora@school.test", name="Cora", role=Role.COORDINATOR)
    db.session.add(coordinator)
    db.session.commit()
    entries = load_entries(MONDAY, MONDAY + timedelta(weeks=1), tz=PARIS, viewer=coordinator)
    assert len(entries) == SESSIONS
    assert all(len(entry.conflicts) == 3 for entry in entries)
    first = entries[0]
    assert {note.kind for note in first.conflicts} == {"room", "mentor", "student"}


def test_the_api_lists_a_big_range_with_conflict_flags(app, generated_school):
    coordinator = User(email="cora@school.test", name="Cora", role=Role.COORDINATOR)
    db.session.add(coordinator)
    db.session.flush()
    _row, token = create_token(coordinator)
    db.session.commit()
    client = browser(app)
    url = f"/api/v1/sessions?start={MONDAY}&end={MONDAY + timedelta(weeks=1)}&limit=200"
    items = []
    while url:
        page = client.get(url, headers={"Authorization": f"Bearer {token}"}).json
        items += page["items"]
        url = page["next"]
    assert len(items) == SESSIONS
    assert all(item["conflict"] is True for item in items)


def test_a_busy_feed(generated_school):
    mentor = db.session.scalar(select(User).where(User.email == "mentor0@school.test"))
    feed = own_feed(mentor)
    db.session.commit()
    body = build_feed(feed, tz=PARIS, now=BEFORE).decode()
    assert body.count("BEGIN:VEVENT") == 2 * len(WEEKDAYS)


def test_the_timetable_export_and_import_of_many_groups(generated_school):
    exported = export_timetable()
    lines = exported.splitlines()
    assert len(lines) == 1 + 2 * PAIRS
    assert lines[1].startswith("Group 000A,Maths,mentor0@school.test,Room 000,")
    # Importing what was exported changes nothing.
    summary = import_timetable(exported, tz=PARIS, today=MONDAY - timedelta(days=7))
    db.session.commit()
    assert summary.groups_unchanged == 2 * PAIRS

    # A file of new groups, mentors and students: every one created.
    renamed = exported.replace("Group ", "Class ").replace("@school.test", "@new.test")
    summary = import_timetable(renamed, tz=PARIS, today=MONDAY - timedelta(days=7))
    db.session.commit()
    assert summary.groups_created == 2 * PAIRS
    assert summary.users_created == PAIRS + 3 * PAIRS
    assert summary.series_created == 2 * PAIRS
    assert summary.enrolments_added == 2 * 2 * PAIRS
    assert export_timetable().count("@new.test") == exported.count("@school.test")


def test_the_exceptions_import_of_many_rows(generated_school):
    rows = [f"Group {k:03}{side},{MONDAY},cancel,,,,Trip" for k in range(PAIRS) for side in "AB"]
    source = "group,date,action,start,end,room,notes\n" + "\n".join(rows) + "\n"
    summary = import_exceptions(source, tz=PARIS)
    db.session.commit()
    assert (summary.cancelled, summary.sessions_updated) == (2 * PAIRS, 2 * PAIRS)


class _Smtp:
    """Takes every message (the mail tests use a real SMTP server; here only counts matter)."""

    def __init__(self):
        self.sent = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def send_message(self, message):
        self.sent.append(message["To"])


def test_mail_of_many_pending_notifications(app, monkeypatch):
    build_school()
    users = db.session.scalars(select(User.id)).all()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "smtp.school.test")
    notes = notify(users, SESSION_MOVED, "Moved")  # one ORM flush of many rows
    db.session.commit()
    assert {note.email_status for note in notes} == {EmailStatus.PENDING}
    smtp = _Smtp()
    monkeypatch.setattr(mail, "_connect", lambda _config: smtp)
    summary = mail.send_pending(limit=10_000)
    assert (summary.sent, summary.failed) == (len(users), 0)
    assert len(smtp.sent) == len(users)


def test_many_requests_expire(app):
    build_school()
    subject = db.session.scalar(select(Subject))
    mentor = db.session.scalar(select(User).where(User.role == Role.MENTOR))
    students = db.session.scalars(select(User).where(User.role == Role.STUDENT)).all()
    db.session.add_all(
        SessionRequest(
            student_id=student.id,
            mentor_id=mentor.id,
            subject_id=subject.id,
            title="Help",
            schedule_kind=ScheduleKind.SINGLE,
            start_time=time(10),
            end_time=time(11),
            first_start_utc=BEFORE,
        )
        for student in students
    )
    db.session.commit()
    assert expire_requests(now=BEFORE + timedelta(hours=1)) == len(students)
    db.session.commit()
    assert set(db.session.scalars(select(SessionRequest.status))) == {RequestStatus.EXPIRED}
