"""Edge cases of /work/shared/CHECKLISTS.md that the rest of the API tests did not cover yet:
dates at the edge of the calendar, numbers of every bad shape, mentor ids that are not an
active mentor, decisions on an approved request, and fields a client must not set."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from models import (
    Attachment,
    DateOverride,
    MentorSubject,
    Notification,
    Occurrence,
    RequestStatus,
    SessionRequest,
    db,
)
from services.timetable.generation import generate_occurrences
from services.tracking.attachments import delete_attachment
from tests import attachment_samples as samples
from tests.api.conftest import MONDAY, assert_problem

PARIS = ZoneInfo("Europe/Paris")
BAD_NUMBERS = [0, -1, 2**63, 3.5, "three", True, None]


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def school(make_user, make_group, make_series):
    """A mentor teaching Maths (a Monday class with two generated weeks), two students."""
    mentor = make_user("mentor")
    group = make_group("Maths class", mentor=mentor, subject="Maths")
    db.session.add(MentorSubject(mentor_id=mentor.id, subject_id=group.subject_id))
    series = make_series(group, weekdays=(0,), first_date=MONDAY)
    generate_occurrences(MONDAY, MONDAY + timedelta(weeks=2), tz=PARIS)
    db.session.commit()
    return {
        "mentor": mentor,
        "group": group,
        "series": series,
        "student": make_user("student"),
        "other_student": make_user("student"),
    }


def request_body(school, **schedule):
    return {
        "mentor": school["mentor"].id,
        "subject": school["group"].subject_id,
        "title": "Help with fractions",
        "mode": "online",
        "schedule": {
            "kind": "single",
            "date": (MONDAY + timedelta(days=1)).isoformat(),
            "start": "16:00",
            "duration": 60,
        }
        | schedule,
    }


def state():
    db.session.expire_all()
    return (
        [(o.id, o.start_utc, o.status) for o in db.session.scalars(select(Occurrence))],
        count(DateOverride),
        count(SessionRequest),
    )


# --- Dates at the edge of the calendar ----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        pytest.param(
            "/api/v1/generate",
            {"start": "0001-01-01", "weeks": 1},
            "start",
            id="generate-from-0001-01-01",
        ),
        pytest.param(
            "/api/v1/generate",
            {"start": "9999-12-31", "weeks": 1},
            "start",
            id="generate-from-9999-12-31",
        ),
        pytest.param(
            "/api/v1/exceptions",
            {"original_date": "9999-12-31", "cancelled": True},
            "original_date",
            id="exception-for-9999-12-31",
        ),
        pytest.param(
            "/api/v1/exceptions", {"new_date": "0001-01-01"}, "new_date", id="move-to-0001-01-01"
        ),
    ],
)
def test_staff_dates_at_the_edge_of_the_calendar_are_a_422_not_a_crash(
    api_as, school, path, body, field
):
    if path.endswith("exceptions"):
        body = {"series": school["series"].id, "original_date": MONDAY.isoformat()} | body
    before = state()
    response = api_as("coordinator").post(path, body, status="*")
    assert_problem(response, 422, field=field)
    assert state() == before


def test_a_session_is_not_moved_to_the_year_9999(api_as, school):
    before = state()
    body = {
        "series": school["series"].id,
        "original_date": MONDAY.isoformat(),
        "new_date": "9999-12-31",
    }
    response = api_as("coordinator").post("/api/v1/exceptions", body, status="*")
    assert_problem(response, 422, field="new_date")
    assert state() == before


@pytest.mark.parametrize(
    "schedule",
    [
        pytest.param(
            {"kind": "single", "date": "9999-12-31", "start": "23:30", "duration": 60},
            id="single-9999-12-31-23h30",
        ),
        pytest.param(
            {
                "kind": "weekly",
                "weekdays": ["fri"],
                "start": "10:00",
                "end": "11:00",
                "first_date": "9999-12-31",
                "weeks": 2,
            },
            id="weekly-from-9999-12-31",
        ),
        pytest.param(
            {"kind": "dates", "dates": ["0001-01-01"], "start": "00:00", "end": "01:00"},
            id="dates-0001-01-01-midnight",
        ),
    ],
)
def test_a_request_at_the_edge_of_the_calendar_is_a_422_not_a_crash(api_as, school, schedule):
    body = request_body(school) | {"schedule": schedule}
    response = api_as(school["student"]).post("/api/v1/requests", body, status="*")
    assert_problem(response, 422)
    assert count(SessionRequest) == 0


def test_a_request_for_dates_in_the_year_9999_is_refused(api_as, school):
    body = request_body(school)
    body["schedule"] = {"kind": "dates", "dates": ["9999-12-31"], "start": "10:00", "end": "11:00"}
    response = api_as(school["student"]).post("/api/v1/requests", body, status="*")
    assert_problem(response, 422, field="schedule.dates")
    assert count(SessionRequest) == 0


# --- Numbers of every bad shape -----------------------------------------------------------------


@pytest.mark.parametrize("value", BAD_NUMBERS, ids=repr)
def test_bad_numbers_are_a_422_naming_the_field(api_as, school, value):
    student = api_as(school["student"])
    weekly = request_body(school)
    weekly["schedule"] = {
        "kind": "weekly",
        "weekdays": ["mon"],
        "start": "10:00",
        "end": "11:00",
        "first_date": MONDAY.isoformat(),
        "weeks": value,
    }
    assert_problem(
        student.post("/api/v1/requests", weekly, status=422), 422, field="schedule.weeks"
    )
    single = request_body(school, duration=value)
    assert_problem(
        student.post("/api/v1/requests", single, status=422), 422, field="schedule.duration"
    )
    staff = api_as("coordinator")
    series = {
        "group": school["group"].id,
        "weekdays": ["tue"],
        "start": "09:00",
        "end": "10:00",
        "first_date": MONDAY.isoformat(),
        "every_weeks": value,
    }
    assert_problem(staff.post("/api/v1/series", series, status=422), 422, field="every_weeks")
    generate = {"start": MONDAY.isoformat(), "weeks": value}
    assert_problem(staff.post("/api/v1/generate", generate, status=422), 422, field="weeks")
    assert count(SessionRequest) == 0 and len(state()[0]) == 2


# --- Mentor ids that are not an active mentor ---------------------------------------------------


def test_a_mentor_id_that_is_not_an_active_mentor_is_refused(api_as, school, make_user):
    student = api_as(school["student"])
    deactivated = make_user("mentor", active=False)
    for mentor in (
        make_user("admin").id,
        make_user("coordinator").id,
        school["student"].id,  # yourself
        school["other_student"].id,
        deactivated.id,
        0,
        -1,
        2**63,
        "abc",
        True,
        None,
    ):
        body = request_body(school) | {"mentor": mentor}
        response = student.post("/api/v1/requests", body, status=422)
        assert_problem(response, 422, field="mentor")
    assert count(SessionRequest) == 0 and count(Notification) == 0


# --- Decisions on an approved request -----------------------------------------------------------


def test_an_approved_request_can_be_neither_rejected_nor_withdrawn(api_as, school):
    request_id = (
        api_as(school["student"])
        .post("/api/v1/requests", request_body(school), status=201)
        .json["id"]
    )
    mentor = api_as(school["mentor"])
    sessions = mentor.post(f"/api/v1/requests/{request_id}/approve").json["session_ids"]
    assert len(sessions) == 1
    told = count(Notification)
    body = assert_problem(
        mentor.post(
            f"/api/v1/requests/{request_id}/reject", {"reason": "Changed my mind"}, status=409
        ),
        409,
    )
    assert "approved already" in body["detail"]
    body = assert_problem(
        api_as(school["student"]).post(f"/api/v1/requests/{request_id}/withdraw", status=409), 409
    )
    assert "approved already" in body["detail"]
    db.session.expire_all()
    request = db.session.get(SessionRequest, request_id)
    assert request.status == RequestStatus.APPROVED and request.rejection_reason is None
    assert db.session.get(Occurrence, sessions[0]) is not None
    assert count(Notification) == told


# --- Files: a deleted one, and fields a client must not set ------------------------------------


def test_an_upload_naming_another_uploader_is_refused_and_a_deleted_file_is_404(
    api_as, school, make_user, upload_folder
):
    occurrence = db.session.scalar(select(Occurrence).order_by(Occurrence.start_utc))
    mentor = api_as(school["mentor"])
    someone = make_user("admin")
    response = mentor.web.post(
        f"/api/v1/sessions/{occurrence.id}/attachments",
        {"description": "Slides", "uploader": str(someone.id), "uploader_id": str(someone.id)},
        headers=mentor.headers(),
        upload_files=[("file", "a.pdf", samples.pdf())],
        status="*",
    )
    assert_problem(response, 422, field="uploader_id")  # refused, not applied
    assert count(Attachment) == 0
    response = mentor.web.post(
        f"/api/v1/sessions/{occurrence.id}/attachments",
        {"description": "Slides"},
        headers=mentor.headers(),
        upload_files=[("file", "a.pdf", samples.pdf())],
        status=201,
    )
    attachment = db.session.get(Attachment, response.json["id"])
    assert attachment.uploader_id == school["mentor"].id
    download = response.json["download"]
    mentor.get(download, status=200)
    delete_attachment(
        attachment=attachment, actor=school["mentor"], upload_folder=Path(upload_folder)
    )
    db.session.commit()
    assert_problem(mentor.get(download, status=404), 404)
    listed = mentor.get(f"/api/v1/sessions/{occurrence.id}/attachments").json["items"]
    assert listed == []
