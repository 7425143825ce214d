"""Course groups, series and enrolments as services (no HTTP)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from models import Enrolment, Occurrence, Series, db
from services.catalogue.groups import (
    GroupData,
    SeriesData,
    add_series,
    create_group,
    end_series,
    enrol_student,
    group_counts,
    list_groups,
    search_students,
    unenrol_student,
    update_group,
    update_series,
)
from services.common.errors import NotFoundError, ValidationError
from services.timetable.generation import generate_occurrences, resolve_window

PARIS = ZoneInfo("Europe/Paris")
TERM = date(2026, 9, 7)


def errors_of(call, *args, **kwargs) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        call(*args, **kwargs)
    db.session.rollback()
    return caught.value.errors


def good_series(room, **overrides) -> SeriesData:
    values = {
        "weekdays": [0, 2],
        "every_weeks": 1,
        "start_time": time(10),
        "end_time": time(11),
        "room_id": room,
        "mode": "in_person",
        "first_date": TERM,
        "last_date": None,
    }
    values.update(overrides)
    return SeriesData(**values)


def test_create_and_update_a_group(app, make_group, make_user, make_room):
    existing = make_group("Maths 7A")
    mentor = make_user("mentor")
    group = create_group(
        GroupData(
            name=" Physics  9 ", subject_id=existing.subject_id, mentor_id=mentor.id,
            default_room_id=None,
        )
    )  # fmt: skip
    db.session.commit()
    assert (group.name, group.mentor_id, group.active) == ("Physics 9", mentor.id, True)
    room = make_room("Lab")
    update_group(
        group,
        GroupData(
            name="Physics 9B", subject_id=group.subject_id, mentor_id=mentor.id,
            default_room_id=room.id, active=False,
        ),
    )  # fmt: skip
    db.session.commit()
    assert (group.name, group.default_room.name, group.active) == ("Physics 9B", "Lab", False)


def test_group_validation_messages(app, make_group, make_user, make_room):
    existing = make_group("Maths 7A")
    student = make_user("student")
    retired = make_user("mentor", name="Retired", active=False)
    shut = make_room("Shut", active=False)
    existing.subject.active = False
    db.session.commit()
    errors = errors_of(
        create_group,
        GroupData(
            name="MATHS 7A", subject_id=existing.subject_id, mentor_id=student.id,
            default_room_id=shut.id,
        ),
    )  # fmt: skip
    assert errors == {
        "name": "A group named MATHS 7A already exists.",
        "subject": f"{existing.subject.name} is deactivated; choose an active subject.",
        "mentor": "Choose a mentor from the list.",
        "default_room": "Shut (room) is deactivated; choose an active room.",
    }
    errors = errors_of(create_group, GroupData(name="", subject_id=None, mentor_id=retired.id))
    assert errors == {
        "name": "Enter the group's name.",
        "subject": "Choose the subject.",
        "mentor": "Retired's account is deactivated; choose an active mentor.",
    }
    assert errors_of(create_group, GroupData(name="x" * 81, subject_id=0, mentor_id=0)) == {
        "name": "A group's name has at most 80 characters.",
        "subject": "Choose the subject.",
        "mentor": "Choose the mentor.",
    }


def test_list_groups_and_counts(app, make_group, make_user, make_series):
    students = [make_user("student") for _ in range(3)]
    maths = make_group("Maths", students=students)
    make_series(maths)
    make_series(maths, weekdays=(3,))
    make_group("Closed", active=False)
    page = list_groups("MAT")
    assert [g.name for g in page.items] == ["Maths"]
    assert [g.name for g in list_groups(status="inactive").items] == ["Closed"]
    assert group_counts(page.items) == {maths.id: {"students": 3, "series": 2}}
    assert group_counts([]) == {}


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ({"weekdays": []}, {"weekdays": "Choose at least one weekday."}),
        ({"weekdays": [0, 9]}, {"weekdays": "Choose weekdays from Monday to Sunday."}),
        ({"every_weeks": 0}, {"every_weeks": "Every N weeks must be between 1 and 52."}),
        ({"every_weeks": 2**63}, {"every_weeks": "Every N weeks must be between 1 and 52."}),
        (
            {"every_weeks": None},
            {"every_weeks": "Enter how many weeks apart the sessions are (1 = every week)."},
        ),
        ({"end_time": time(10)}, {"end_time": "The end time must be after the start time."}),
        (
            {"start_time": None, "end_time": None},
            {"start_time": "Enter the start time.", "end_time": "Enter the end time."},
        ),
        ({"mode": "hybrid"}, {"mode": "Choose in person or online."}),
        ({"room_id": None}, {"room": "Choose a room for in-person sessions."}),
        ({"room_id": 999}, {"room": "Choose a room from the list."}),
        ({"first_date": None}, {"first_date": "Choose the first date."}),
        (
            {"first_date": date(9999, 12, 31)},
            {"first_date": "Choose a date between 01 Jan 2000 and 31 Dec 2100."},
        ),
        (
            {"last_date": date(2026, 9, 6)},
            {"last_date": "The last date cannot be before the first date."},
        ),
    ],
)
def test_series_validation_messages(app, make_group, overrides, errors):
    group = make_group()
    assert errors_of(add_series, group, good_series(group.default_room_id, **overrides)) == errors
    assert db.session.scalar(select(func.count(Series.id))) == 0


def test_online_series_without_room_and_last_date_on_first_date(app, make_group):
    group = make_group()
    series = add_series(group, good_series(None, mode="online", last_date=TERM, weekdays=[0, 0, 2]))
    db.session.commit()
    assert (series.room_id, series.weekday_mask, series.last_date) == (None, 0b101, TERM)


def test_changing_a_series_leaves_its_sessions_until_forced_regeneration(
    app, make_group, make_series
):
    group = make_group()
    # Sessions that have already started are history and never updated: use a future term.
    today = datetime.now(PARIS).date()
    monday = today + timedelta(days=7 - today.weekday() + 7)
    series = make_series(group, weekdays=(0,), start=time(10), end=time(11), first_date=monday)
    start, end = resolve_window(monday, weeks=2)
    generate_occurrences(start, end, tz=PARIS)
    db.session.commit()
    before = {o.id: o.start_utc for o in db.session.scalars(select(Occurrence))}

    update_series(
        series,
        good_series(group.default_room_id, weekdays=[0], start_time=time(8), first_date=monday),
    )
    db.session.commit()
    assert {o.id: o.start_utc for o in db.session.scalars(select(Occurrence))} == before
    summary = generate_occurrences(start, end, tz=PARIS, force=True)
    db.session.commit()
    assert summary.updated == 2


def test_a_kept_deactivated_room_is_fine_but_a_new_one_is_not(app, make_group, make_room):
    group = make_group()
    series = add_series(group, good_series(group.default_room_id))
    db.session.commit()
    group.default_room.active = False
    shut = make_room("Shut", active=False)
    update_series(series, good_series(group.default_room_id, every_weeks=2))
    db.session.commit()
    assert series.every_weeks == 2
    assert errors_of(update_series, series, good_series(shut.id)) == {
        "room": "Shut (room) is deactivated; choose an active room."
    }


def test_end_series(app, make_series):
    series = make_series(first_date=TERM)
    assert errors_of(end_series, series, None) == {
        "last_date": "Choose the last date of the series."
    }
    assert errors_of(end_series, series, date(2026, 9, 1)) == {
        "last_date": "The last date cannot be before the first date (07 Sep 2026)."
    }
    end_series(series, date(2026, 12, 18))
    db.session.commit()
    assert db.session.get(Series, series.id).last_date == date(2026, 12, 18)


def test_search_enrol_and_unenrol(app, make_group, make_user):
    group = make_group("Maths")
    other = make_group("Other")
    ann = make_user("student", name="Ann Lee", email="ann@school.test")
    bob = make_user("student", name="Bob", email="bob.lee@school.test")
    make_user("student", name="Lee Gone", active=False)
    make_user("mentor", name="Mentor Lee")
    assert [u.name for u in search_students(group, "lee")] == ["Ann Lee", "Bob"]
    assert search_students(group, "   ") == []

    enrolment = enrol_student(group, ann.id)
    db.session.commit()
    assert [u.name for u in search_students(group, "lee")] == ["Bob"]
    assert errors_of(enrol_student, group, ann.id) == {"student": "Ann Lee is already in Maths."}
    assert errors_of(enrol_student, group, None) == {
        "student": "Choose a student from the search results."
    }
    assert errors_of(enrol_student, group, 2**64) == {
        "student": "Choose a student from the search results."
    }
    with pytest.raises(NotFoundError):
        unenrol_student(other, enrolment.id)
    assert unenrol_student(group, enrolment.id).name == "Ann Lee"
    db.session.commit()
    assert db.session.scalar(select(func.count(Enrolment.id))) == 0
    assert bob.id  # still there, never touched
