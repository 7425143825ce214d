"""Writes whose document requires a JSON body refuse a request without one: no body (a PATCH
read as "change nothing" answered 200 before), JSON that is not an object, a body of another
media type. Each is a problem, and nothing changes."""

from __future__ import annotations

from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from models import (
    DateOverride,
    Occurrence,
    Series,
    SessionRequest,
    db,
)
from services.timetable.exceptions import find_occurrence
from services.timetable.generation import generate_occurrences
from tests.api.conftest import MONDAY, assert_problem, request_body, timetable_state

PARIS = ZoneInfo("Europe/Paris")
NOT_OBJECTS = (b"null", b"[]", b'["start", "11:00"]', b"3", b'"11:00"', b"true")


@pytest.fixture
def monday_session(make_series):
    series = make_series(weekdays=(0,), first_date=MONDAY)
    generate_occurrences(MONDAY, MONDAY + timedelta(weeks=1), tz=PARIS)
    db.session.commit()
    return series, find_occurrence(series.id, MONDAY)


def snapshot(series, occurrence):
    db.session.expire_all()
    series = db.session.get(Series, series.id)
    occurrence = db.session.get(Occurrence, occurrence.id)
    return (
        (series.start_time, series.end_time, series.weekday_mask, series.room_id),
        (occurrence.start_utc, occurrence.end_utc, occurrence.room_id, str(occurrence.status)),
        db.session.query(DateOverride).count(),
    )


@pytest.mark.parametrize("kind", ["series", "sessions"])
def test_a_patch_without_a_body_is_422_and_changes_nothing(api_as, monday_session, kind):
    series, occurrence = monday_session
    url = f"/api/v1/series/{series.id}" if kind == "series" else f"/api/v1/sessions/{occurrence.id}"
    before = snapshot(series, occurrence)
    client = api_as("coordinator")
    for content_type in ("application/json", ""):
        body = assert_problem(client.raw("PATCH", url, b"", content_type), 422)
        assert "JSON object" in body["errors"]["__all__"]
    assert_problem(client.raw("PATCH", url, b"  \n", "application/json"), 422)
    assert snapshot(series, occurrence) == before


@pytest.mark.parametrize("kind", ["series", "sessions"])
def test_a_patch_whose_json_is_not_an_object_is_422(api_as, monday_session, kind):
    series, occurrence = monday_session
    url = f"/api/v1/series/{series.id}" if kind == "series" else f"/api/v1/sessions/{occurrence.id}"
    before = snapshot(series, occurrence)
    client = api_as("coordinator")
    for raw in NOT_OBJECTS:
        body = assert_problem(client.raw("PATCH", url, raw), 422)
        assert "not an object" in body["detail"], raw
    assert snapshot(series, occurrence) == before


def test_a_body_sent_as_a_form_is_415_not_ignored(api_as, monday_session):
    series, occurrence = monday_session
    before = snapshot(series, occurrence)
    client = api_as("coordinator")
    for url in (f"/api/v1/series/{series.id}", f"/api/v1/sessions/{occurrence.id}"):
        response = client.raw(
            "PATCH", url, b"start=11:00&end=12:00", "application/x-www-form-urlencoded"
        )
        assert "Content-Type: application/json" in assert_problem(response, 415)["detail"]
        response = client.raw("PATCH", url, b'{"start": "11:00"}', "text/plain")
        assert_problem(response, 415)
    assert snapshot(series, occurrence) == before


def test_an_empty_object_still_means_change_nothing(api_as, monday_session):
    series, occurrence = monday_session
    client = api_as("coordinator")
    assert client.patch(f"/api/v1/series/{series.id}", {}, status=200).json["start"] == "10:00"
    assert client.patch(f"/api/v1/sessions/{occurrence.id}", {}, status=200).json["start"] == (
        "10:00"
    )
    db.session.expire_all()
    assert db.session.get(Series, series.id).start_time == time(10)


def test_every_write_with_a_required_json_body_refuses_none(app, api_as, monday_session, anonymous):
    """Every POST/PATCH/PUT of the document with a required JSON body, with real ids: no
    body, `null` and `[]` are problems (the 404/403 of a wrong id or role comes after)."""
    series, occurrence = monday_session
    document = anonymous.get("/api/v1/openapi.json").json
    ids = {
        "series_id": series.id,
        "occurrence_id": occurrence.id,
        "request_id": 1,
        "override_id": 1,
        "year_id": 1,
        "term_id": 1,
        "closure_id": 1,
        "absence_id": 1,
        "group_id": series.group_id,
    }
    client = api_as("admin")
    checked = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in ("post", "patch", "put"):
                continue
            body = operation.get("requestBody")
            if not body or not body.get("required"):
                continue
            if "application/json" not in body["content"]:
                continue
            url = path.format(**ids)
            for raw in (b"", b"null", b"[]"):
                response = client.raw(method.upper(), url, raw)
                assert response.status_int == 422, (method, path, raw, response.text)
                assert response.json["errors"]["__all__"]
            checked.append(f"{method.upper()} {path}")
    assert {"PATCH /api/v1/series/{series_id}", "PATCH /api/v1/sessions/{occurrence_id}"} <= set(
        checked
    )
    assert len(checked) >= 10
    assert snapshot(series, occurrence)[2] == 0


BAD_NUMBERS = [0, -1, 2**63, 3.5, "three", True, None]


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("value", BAD_NUMBERS, ids=repr)
def test_bad_numbers_are_a_422_naming_the_field(api_as, maths_class, value):
    student = api_as(maths_class["student"])
    weekly = request_body(maths_class)
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
    single = request_body(maths_class, duration=value)
    assert_problem(
        student.post("/api/v1/requests", single, status=422), 422, field="schedule.duration"
    )
    staff = api_as("coordinator")
    series = {
        "group": maths_class["group"].id,
        "weekdays": ["tue"],
        "start": "09:00",
        "end": "10:00",
        "first_date": MONDAY.isoformat(),
        "every_weeks": value,
    }
    assert_problem(staff.post("/api/v1/series", series, status=422), 422, field="every_weeks")
    generate = {"start": MONDAY.isoformat(), "weeks": value}
    assert_problem(staff.post("/api/v1/generate", generate, status=422), 422, field="weeks")
    assert count(SessionRequest) == 0 and len(timetable_state()[0]) == 2
