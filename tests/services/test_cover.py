"""Cover for absent mentors: absences recorded or reported, the sessions they touch, the
substitutes suggested (free, teaching the subject first, then the least loaded), and cover
assigned for one date, kept through regeneration."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from models import (
    AbsenceStatus,
    DateOverride,
    MentorAbsence,
    MentorSubject,
    Notification,
    Occurrence,
    db,
)
from services.common.errors import ConflictError, NotAllowed, ValidationError
from services.cover import (
    AbsenceData,
    absence_needs,
    assign_cover,
    cover_board,
    decide_absence,
    record_absence,
)
from services.timetable.generation import generate_occurrences
from tests.conftest import counted_statements

PARIS = ZoneInfo("Europe/Paris")
MONDAY = date(2027, 1, 11)
NOW = datetime(2027, 1, 4, 8, tzinfo=UTC)


@pytest.fixture
def school(app, make_user, make_group, make_series):
    ada = make_user("mentor", name="Ada")  # away on Monday
    bob = make_user("mentor", name="Bob")  # teaches maths too, busy at 10:00
    cy = make_user("mentor", name="Cy")  # free, another subject
    dee = make_user("mentor", name="Dee")  # teaches maths, free, but more sessions that week
    student = make_user("student", name="Sam")
    maths = make_group("Maths 7A", mentor=ada, subject="Maths", students=[student])
    make_series(maths, weekdays=(0,), start=time(9), end=time(10), first_date=MONDAY)
    make_series(make_group("Maths 8B", mentor=bob, subject=maths.subject),
                weekdays=(0,), start=time(9, 30), end=time(10, 30), first_date=MONDAY)  # fmt: skip
    make_series(make_group("Maths 9C", mentor=dee, subject=maths.subject),
                weekdays=(1, 2), start=time(9), end=time(10), first_date=MONDAY)  # fmt: skip
    make_series(make_group("Art", mentor=cy), weekdays=(4,), first_date=MONDAY)
    generate()
    staff = make_user("coordinator", name="Cora")
    return ada, bob, cy, dee, student, maths, staff


def generate(**kwargs):
    summary = generate_occurrences(MONDAY, MONDAY + timedelta(weeks=1), tz=PARIS, now=NOW, **kwargs)
    db.session.commit()
    return summary


def session_of(group, day=MONDAY) -> Occurrence:
    db.session.expire_all()
    return db.session.scalars(
        select(Occurrence).where(Occurrence.group_id == group.id, Occurrence.original_date == day)
    ).one()


def test_an_absence_lists_its_sessions_with_substitutes_subject_first_then_least_loaded(school):
    ada, *_, maths, staff = school
    absence = record_absence(AbsenceData(ada.id, MONDAY, reason="Ill"), actor=staff, tz=PARIS)
    db.session.commit()
    assert absence.status == AbsenceStatus.CONFIRMED and absence.all_day
    (need,) = absence_needs(absence, PARIS, now=NOW)
    assert need.session.group_id == maths.id and need.is_open
    # Bob teaches maths but is teaching at 09:30; Dee teaches maths; Cy does not.
    assert [(s.mentor.name, s.teaches_subject, s.load) for s in need.substitutes] == [
        ("Dee", True, 2),
        ("Cy", False, 1),
    ]
    # The board may keep the best only, and says how many are free.
    (on_board,) = cover_board(MONDAY, PARIS, best=1)
    assert ([s.mentor.name for s in on_board.substitutes], on_board.free) == (["Dee"], 2)


def test_cover_is_assigned_for_the_date_kept_by_regeneration_and_people_told(school):
    ada, _, _, dee, student, maths, staff = school
    record_absence(AbsenceData(ada.id, MONDAY), actor=staff, tz=PARIS)
    session = assign_cover(session_of(maths), dee.id, actor=staff, tz=PARIS)
    db.session.commit()
    assert (session.cover_mentor_id, session.mentor.name) == (dee.id, "Dee")
    override = db.session.scalars(select(DateOverride)).one()
    assert (override.mentor_id, override.new_date, override.room_id) == (dee.id, None, None)
    # Regeneration (even forced) keeps it: the date's exception names the substitute.
    assert generate(force=True).updated == 0
    assert session_of(maths).cover_mentor_id == dee.id
    titles = set(
        db.session.scalars(select(Notification.title).where(Notification.user_id == student.id))
    )
    assert "Maths 7A, Mon 11 Jan 09:00: taught by Dee (cover for Ada)" in titles
    board = cover_board(MONDAY, PARIS)
    assert [(n.session.group.name, n.covered, n.is_open) for n in board] == [
        ("Maths 7A", True, False)
    ]
    # Given back: the exception that only named her goes.
    assign_cover(session_of(maths), None, actor=staff, tz=PARIS)
    db.session.commit()
    assert session_of(maths).cover_mentor_id is None
    assert db.session.scalar(select(func.count()).select_from(DateOverride)) == 0


def test_a_busy_or_absent_substitute_is_refused_naming_why(school):
    _, bob, cy, _, _, maths, staff = school
    with pytest.raises(ConflictError) as caught:
        assign_cover(session_of(maths), bob.id, actor=staff, tz=PARIS)
    db.session.rollback()
    assert caught.value.message.startswith("Bob already teaches Maths 8B")
    record_absence(AbsenceData(cy.id, MONDAY, None, time(8), time(12)), actor=staff, tz=PARIS)
    db.session.commit()
    with pytest.raises(ValidationError) as caught:
        assign_cover(session_of(maths), cy.id, actor=staff, tz=PARIS)
    db.session.rollback()
    assert caught.value.errors == {"mentor": "Cy is away then (Mon 11 Jan 2027 08:00-12:00)."}
    assert session_of(maths).cover_mentor_id is None


def test_a_mentor_reports_their_own_absence_and_staff_confirm_it(school):
    ada, bob, *_, staff = school
    report = record_absence(
        AbsenceData(ada.id, MONDAY, MONDAY + timedelta(days=1)), actor=ada, tz=PARIS
    )
    db.session.commit()
    assert report.status == AbsenceStatus.PENDING
    assert (
        db.session.scalar(select(Notification.title).where(Notification.user_id == staff.id))
        == "Ada reports an absence: Mon 11 Jan to Tue 12 Jan 2027"
    )
    assert cover_board(MONDAY, PARIS) == []  # pending: not on the board yet
    decide_absence(report, True, actor=staff, tz=PARIS)
    db.session.commit()
    assert [n.session.group.name for n in cover_board(MONDAY, PARIS)] == ["Maths 7A"]
    with pytest.raises(NotAllowed):
        record_absence(AbsenceData(ada.id, MONDAY), actor=bob, tz=PARIS)


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        (dict(first_day=None), {"first_day": "Enter the first day (YYYY-MM-DD)."}),
        (dict(last_day=date(2027, 1, 1)),
         {"last_day": "The last day cannot be before the first day."}),
        (dict(last_day=MONDAY + timedelta(days=200)),
         {"last_day": "An absence lasts at most 120 days."}),
        (dict(start_time=time(9)),
         {"end_time": "Give both times for part of a day, or neither for whole days."}),
        (dict(start_time=time(9), end_time=time(8)),
         {"end_time": "The end time must be after the start time."}),
        (dict(start_time=time(9), end_time=time(10), last_day=MONDAY + timedelta(days=21)),
         {"last_day": "Part of a day is one day: leave the last day empty."}),
        (dict(mentor_id=None), {"mentor": "Choose a mentor."}),
        (dict(reason="x" * 201), {"reason": "A reason is at most 200 characters."}),
        (dict(first_day=MONDAY + timedelta(days=1)),
         {"first_day": "Ada is already away then (Mon 11 Jan to Wed 13 Jan 2027)."}),
    ],
)  # fmt: skip
def test_bad_absences_are_named_and_change_nothing(school, data, errors):
    ada, *_, staff = school
    record_absence(AbsenceData(ada.id, MONDAY, MONDAY + timedelta(days=2)), actor=staff, tz=PARIS)
    db.session.commit()
    values = {"mentor_id": ada.id, "first_day": MONDAY + timedelta(days=20), **data}
    with pytest.raises(ValidationError) as caught:
        record_absence(AbsenceData(**values), actor=staff, tz=PARIS)
    db.session.rollback()
    assert caught.value.errors == errors
    assert db.session.scalar(select(func.count()).select_from(MentorAbsence)) == 1


def test_the_cover_board_reads_a_fixed_number_of_statements(school, make_user):
    ada, *_, staff = school
    for n in range(30):
        make_user("mentor", name=f"Extra {n}")
    db.session.add(MentorSubject(mentor_id=ada.id, subject_id=school[5].subject_id))
    record_absence(AbsenceData(ada.id, MONDAY), actor=staff, tz=PARIS)
    db.session.commit()
    db.session.expire_all()
    with counted_statements() as statements:
        board = cover_board(MONDAY, PARIS)
        assert len(board[0].substitutes) == 32
    assert len(statements) <= 10, statements
