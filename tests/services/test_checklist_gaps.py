"""Edge cases of /work/shared/CHECKLISTS.md that the rest of the suite did not cover yet:
afternoon starts on a DST transition day, a series in a fall-back fold, a generation that
dies halfway, a recurring request that clashes only in its last week, two overlapping
requests approved at once, a 100,000-row timetable with one bad row, and calendar feeds
(private notes, SEQUENCE across restore and regeneration)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from icalendar import Calendar
from sqlalchemy import func, select

from models import (
    MentorSubject,
    NoteKind,
    Notification,
    Occurrence,
    OccurrenceStatus,
    RequestStatus,
    SessionNote,
    SessionRequest,
    Subject,
    User,
    db,
)
from models.series import weekdays_to_mask
from services.common.errors import ConflictError, InvalidTransition
from services.output.feeds import build_feed, own_feed
from services.requests.lifecycle import RequestInput, approve_request, create_request
from services.timetable import generation
from services.timetable.csv_reading import ImportErrors
from services.timetable.exceptions import (
    OverrideChange,
    delete_override,
    find_occurrence,
    save_override,
)
from services.timetable.generation import generate_occurrences
from services.timetable.timetable_import import import_timetable
from tests.services.test_concurrency import run_together

PARIS = ZoneInfo("Europe/Paris")
LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)  # "now" before every date used here


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def sessions() -> list[Occurrence]:
    return list(db.session.scalars(select(Occurrence).order_by(Occurrence.start_utc)))


# --- Recurrence and DST -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone_name", "sunday"),
    [
        ("Europe/Paris", date(2026, 3, 29)),  # spring forward
        ("Europe/Paris", date(2026, 10, 25)),  # fall back
        ("Australia/Sydney", date(2026, 4, 5)),  # southern autumn: back
        ("Australia/Sydney", date(2026, 10, 4)),  # southern spring: forward
    ],
)
@pytest.mark.parametrize("clock", [time(13), time(17, 30)])
def test_an_afternoon_start_on_the_transition_day_itself_stays_local(
    make_series, zone_name, sunday, clock
):
    tz = ZoneInfo(zone_name)
    end = (datetime.combine(sunday, clock) + timedelta(hours=1)).time()
    make_series(weekdays=(6,), start=clock, end=end, first_date=sunday - timedelta(weeks=1))
    summary = generate_occurrences(
        sunday - timedelta(weeks=1), sunday + timedelta(weeks=1, days=1), tz=tz, now=LONG_AGO
    )
    db.session.commit()
    assert summary.created == 3 and summary.shifted == []
    rows = sessions()
    local = [o.start_utc.astimezone(tz) for o in rows]
    assert [s.date() for s in local] == [sunday + timedelta(weeks=n) for n in (-1, 0, 1)]
    assert all((s.hour, s.minute) == (clock.hour, clock.minute) for s in local)
    assert all(o.end_utc - o.start_utc == timedelta(hours=1) for o in rows)
    # By the afternoon the change has happened: the transition day has the new offset.
    offsets = [s.utcoffset() for s in local]
    assert offsets[0] != offsets[1] == offsets[2]


@pytest.mark.parametrize(
    ("zone_name", "sunday", "first_instant"),
    [
        ("Europe/Paris", date(2026, 10, 25), datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        ("Australia/Sydney", date(2026, 4, 5), datetime(2026, 4, 4, 15, 30, tzinfo=UTC)),
    ],
)
def test_a_series_at_a_time_that_happens_twice_makes_one_session_at_the_first_instant(
    make_series, zone_name, sunday, first_instant
):
    tz = ZoneInfo(zone_name)
    make_series(weekdays=(6,), start=time(2, 30), end=time(3, 30), first_date=sunday)
    window = (sunday - timedelta(weeks=1), sunday + timedelta(weeks=2))
    summary = generate_occurrences(*window, tz=tz, now=LONG_AGO)
    db.session.commit()
    assert summary.created == 2 and summary.shifted == []
    on_the_day = [o for o in sessions() if o.original_date == sunday]
    assert len(on_the_day) == 1
    assert on_the_day[0].start_utc == first_instant
    assert on_the_day[0].start_utc.astimezone(tz).time() == time(2, 30)
    again = generate_occurrences(*window, tz=tz, force=True, now=LONG_AGO)
    db.session.commit()
    assert (again.created, again.updated, again.removed, again.unchanged) == (0, 0, 0, 2)
    assert count(Occurrence) == 2


# --- Regeneration: a failure midway -------------------------------------------------------------


def test_a_forced_generation_that_fails_midway_leaves_every_session_as_it_was(
    make_series, monkeypatch
):
    term = date(2026, 9, 7)
    series = make_series(weekdays=(0, 2), first_date=term)
    generate_occurrences(term, term + timedelta(weeks=3), tz=PARIS, now=LONG_AGO)
    db.session.commit()

    def snapshot():
        db.session.expire_all()
        return [
            (o.id, o.original_date, o.start_utc, o.end_utc, o.status, o.sequence)
            for o in sessions()
        ]

    before = snapshot()
    # Mondays move (updates), Wednesdays go (deletes), Fridays come (inserts)...
    series.weekday_mask = weekdays_to_mask([0, 4])
    series.start_time, series.end_time = time(14), time(15)
    db.session.commit()

    def worker_killed(*_args, **_kwargs):
        raise RuntimeError("worker killed")

    # ...and the worker dies after writing them, while looking for conflicts.
    monkeypatch.setattr(generation, "conflicts_in_window", worker_killed)
    with pytest.raises(RuntimeError):
        generate_occurrences(term, term + timedelta(weeks=3), tz=PARIS, force=True, now=LONG_AGO)
    db.session.rollback()
    assert snapshot() == before


# --- Requests and conflicts ---------------------------------------------------------------------

NOW = datetime(2026, 9, 1, 8, tzinfo=UTC)
MONDAY = date(2026, 9, 7)


@pytest.fixture
def people(make_user):
    maths = Subject(name="Mathematics")
    db.session.add(maths)
    mentor = make_user("mentor", name="Ada Lovelace")
    db.session.add(MentorSubject(mentor_id=mentor.id, subject_id=maths.id))
    db.session.commit()
    return {
        "mentor": mentor,
        "student": make_user("student", name="Noah Bernard"),
        "other": make_user("student", name="Lea Martin"),
        "maths": maths,
    }


def ask(people, student="student", **fields) -> SessionRequest:
    data = RequestInput(
        mentor_id=people["mentor"].id, subject_id=people["maths"].id, title="Help", **fields
    )
    request = create_request(people[student], data, tz=PARIS, now=NOW)
    db.session.commit()
    return request


def test_a_weekly_request_clashing_only_in_its_last_week_is_refused_naming_that_date(
    people, make_group
):
    request = ask(
        people,
        schedule_kind="weekly",
        weekdays=[0],
        start=time(16),
        end=time(17),
        first_date=MONDAY,
        weeks=26,
    )
    assert len(request.slots) == 26
    last = MONDAY + timedelta(weeks=25)  # Monday 1 March 2027
    group = make_group("Maths 7A", mentor=people["mentor"])
    start = datetime.combine(last, time(16, 30), tzinfo=PARIS).astimezone(UTC)
    db.session.add(
        Occurrence(
            group_id=group.id,
            start_utc=start,
            end_utc=start + timedelta(hours=1),
            room_id=group.default_room_id,
        )
    )
    db.session.commit()
    before = (count(Occurrence), count(Notification))
    with pytest.raises(ConflictError) as caught:
        approve_request(request, actor=people["mentor"], tz=PARIS, now=NOW)
    db.session.rollback()
    assert "1 requested date clashes" in caught.value.message
    assert "Mon 01 Mar 2027 16:00 (Maths 7A 16:30-17:30)" in caught.value.message
    db.session.expire_all()
    assert (count(Occurrence), count(Notification)) == before
    assert db.session.get(SessionRequest, request.id).status == RequestStatus.PENDING


def test_two_overlapping_requests_approved_at_once_only_one_goes_through(app, people):
    first = ask(people, schedule_kind="single", day=MONDAY, start=time(10), duration=60)
    second = ask(
        people, student="other", schedule_kind="single", day=MONDAY, start=time(10, 30), duration=60
    )
    ids, mentor_id = (first.id, second.id), people["mentor"].id
    db.session.remove()

    def approving(request_id):
        def job():
            return approve_request(
                db.session.get(SessionRequest, request_id),
                actor=db.session.get(User, mentor_id),
                tz=PARIS,
                now=NOW,
            )

        return job

    results = run_together(app, approving(ids[0]), approving(ids[1]))
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], InvalidTransition | ConflictError), results
    statuses = sorted(str(db.session.get(SessionRequest, i).status) for i in ids)
    assert statuses == ["approved", "declined"]
    [created] = sessions()
    assert created.start_utc.astimezone(PARIS).date() == MONDAY


# --- CSV import ---------------------------------------------------------------------------------

HEADER = (
    "group,subject,mentor_email,room,weekdays,start,end,first_date,last_date,every_weeks,mode,"
    "students"
)


def test_100000_rows_with_one_bad_row_at_the_end_write_nothing_and_name_its_line(app):
    days = ("Mon", "Tue", "Wed", "Thu", "Fri")
    rows = [HEADER]
    for n in range(100_000):
        group, day = divmod(n, 5)
        rows.append(
            f"G{group},Maths,m{group % 500}@school.test,Room {group % 300},{days[day]},"
            "10:00,11:00,2026-09-07,,,,"
        )
    rows[-1] = rows[-1].replace("10:00,11:00", "25:00,11:00")
    with pytest.raises(ImportErrors) as caught:
        import_timetable("\n".join(rows) + "\n", tz=PARIS, today=date(2026, 9, 1))
    db.session.rollback()
    assert caught.value.messages == [
        "line 100001: invalid time 25:00 in start (use HH:MM from 00:00 to 23:59)"
    ]
    counts = {
        table.name: db.session.scalar(select(sa.func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }
    assert set(counts.values()) == {0}, counts


# --- Calendar feeds -----------------------------------------------------------------------------

FEED_NOW = datetime(2026, 10, 1, 8, tzinfo=UTC)
FIRST = date(2026, 10, 12)


@pytest.fixture
def lessons(make_user, make_group, make_series):
    mentor, student = make_user("mentor", name="Ada"), make_user("student")
    group = make_group("Maths 7A", mentor=mentor, students=[student], subject="Mathematics")
    series = make_series(group, weekdays=(0,), start=time(10), end=time(11), first_date=FIRST)
    generate_occurrences(FIRST, FIRST + timedelta(weeks=2), tz=PARIS, now=FEED_NOW)
    db.session.commit()
    return {"mentor": mentor, "student": student, "series": series}


def feed_text(user) -> str:
    raw = build_feed(own_feed(user), tz=PARIS, base_url="https://tt.test", now=FEED_NOW)
    # Unfold the 75-octet lines so that a phrase cut by folding is found whole.
    return raw.decode().replace("\r\n ", "")


def test_private_notes_never_reach_a_calendar_feed(lessons):
    occurrence = find_occurrence(lessons["series"].id, FIRST)
    for kind in NoteKind:
        db.session.add(
            SessionNote(
                occurrence_id=occurrence.id,
                author_id=lessons["mentor"].id,
                kind=kind,
                body=f"PRIVATE-{kind.value.upper()}",
            )
        )
    occurrence.status = OccurrenceStatus.COMPLETED
    occurrence.completion_notes = "PRIVATE-COMPLETION fractions"
    db.session.commit()
    for user in (lessons["student"], lessons["mentor"]):
        text = feed_text(user)
        assert f"session-{occurrence.id}@termtable" in text  # the session is in it...
        assert "PRIVATE" not in text  # ...its notes are not


def test_sequence_rises_with_every_change_including_a_restore_and_a_regeneration(lessons):
    series = lessons["series"]
    occurrence = find_occurrence(series.id, FIRST)
    uid = f"session-{occurrence.id}@termtable"

    def event():
        calendar = Calendar.from_ical(
            build_feed(own_feed(lessons["student"]), tz=PARIS, now=FEED_NOW)
        )
        [found] = [e for e in calendar.walk("VEVENT") if str(e["UID"]) == uid]
        return int(found["SEQUENCE"]), str(found["STATUS"]), found["DTSTART"].dt

    seen = [event()]
    override, _ = save_override(series, FIRST, OverrideChange(cancelled=True), actor=None, tz=PARIS)
    db.session.commit()
    seen.append(event())
    delete_override(override, tz=PARIS)
    db.session.commit()
    seen.append(event())
    series.start_time, series.end_time = time(14), time(15)
    db.session.commit()
    generate_occurrences(FIRST, FIRST + timedelta(weeks=2), tz=PARIS, force=True, now=FEED_NOW)
    db.session.commit()
    seen.append(event())
    assert [status for _, status, _ in seen] == ["CONFIRMED", "CANCELLED", "CONFIRMED", "CONFIRMED"]
    assert seen[-1][2].astimezone(PARIS).time() == time(14)
    sequences = [sequence for sequence, _, _ in seen]
    assert sequences == sorted(set(sequences)), sequences  # strictly rising, one UID
