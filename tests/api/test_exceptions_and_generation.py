"""/exceptions (staff) and /generate (the CLI's --json summary)."""

from __future__ import annotations

import json
from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from models import (
    DateOverride,
    Occurrence,
    OccurrenceStatus,
    db,
)
from services.timetable.exceptions import find_occurrence
from tests.api.conftest import MONDAY, assert_problem, timetable_state


def generate(client, weeks=1, **extra):
    body = {"start": MONDAY.isoformat(), "weeks": weeks} | extra
    return client.post("/api/v1/generate", body).json


# --- Exceptions ---------------------------------------------------------------------------------


def test_staff_cancel_a_date_and_its_session_follows(api_as, make_series):
    series = make_series(first_date=MONDAY)
    client = api_as("coordinator")
    generate(client)
    response = client.post(
        "/api/v1/exceptions",
        {
            "series": series.id,
            "original_date": MONDAY.isoformat(),
            "cancelled": True,
            "notes": "Trip",
        },
        status=201,
    )
    body = response.json
    assert response.headers["Location"].endswith(f"/api/v1/exceptions/{body['id']}")
    occurrence = find_occurrence(series.id, MONDAY)
    assert body["kind"] == "cancel" and body["session_id"] == occurrence.id
    assert body["notes"] == "Trip" and body["group"]["id"] == series.group_id
    assert occurrence.status == OccurrenceStatus.CANCELLED
    assert client.get(response.headers["Location"]).json == body
    # The same date again replaces the exception (200), never a second one.
    response = client.post(
        "/api/v1/exceptions",
        {
            "series": series.id,
            "original_date": MONDAY.isoformat(),
            "start": "12:00",
            "end": "13:00",
        },
        status=200,
    )
    assert response.json["id"] == body["id"] and response.json["kind"] == "override"
    assert (response.json["start"], response.json["end"]) == ("12:00", "13:00")
    assert db.session.scalar(select(func.count(DateOverride.id))) == 1


def test_exception_input_errors_are_422(api_as, make_series):
    series = make_series(weekdays=(0,), first_date=MONDAY)
    client = api_as("coordinator")
    tuesday = (MONDAY + timedelta(days=1)).isoformat()
    body = assert_problem(
        client.post(
            "/api/v1/exceptions",
            {"series": series.id, "original_date": tuesday, "cancelled": True},
            status=422,
        ),
        422,
    )
    assert "original_date" in body["errors"]
    assert_problem(
        client.post(
            "/api/v1/exceptions",
            {"series": series.id, "original_date": MONDAY.isoformat()},
            status=422,
        ),
        422,
        field="start",
    )
    assert_problem(
        client.post(
            "/api/v1/exceptions",
            {"series": 999999, "original_date": MONDAY.isoformat(), "cancelled": True},
            status=422,
        ),
        422,
        field="series",
    )
    assert_problem(
        client.post(
            "/api/v1/exceptions",
            {"series": series.id, "original_date": "2026-02-30", "cancelled": "yes please"},
            status=422,
        ),
        422,
        field="original_date",
    )


def test_a_move_onto_another_session_is_409_naming_it(api_as, make_series, make_group, make_room):
    room = make_room()
    first = make_series(make_group("Maths 7A", room=room), first_date=MONDAY)
    second = make_series(make_group(room=room), first_date=MONDAY, start=time(14), end=time(15))
    client = api_as("coordinator")
    generate(client)
    body = assert_problem(
        client.post(
            "/api/v1/exceptions",
            {
                "series": second.id,
                "original_date": MONDAY.isoformat(),
                "start": "10:00",
                "end": "11:00",
            },
            status=409,
        ),
        409,
    )
    assert "Maths 7A" in body["detail"]
    assert body["conflicts"][0]["id"] == find_occurrence(first.id, MONDAY).id
    assert db.session.scalar(select(DateOverride.id)) is None


def test_exceptions_are_listed_filtered_and_paged(api_as, make_series, make_group):
    client = api_as("coordinator")
    series = make_series(weekdays=(0, 1, 2, 3, 4), first_date=MONDAY)
    other = make_series(make_group(), first_date=MONDAY)
    for day in range(5):
        client.post(
            "/api/v1/exceptions",
            {
                "series": series.id,
                "original_date": (MONDAY + timedelta(days=day)).isoformat(),
                "cancelled": True,
            },
            status=201,
        )
    client.post(
        "/api/v1/exceptions",
        {"series": other.id, "original_date": MONDAY.isoformat(), "start": "15:00", "end": "16:00"},
        status=201,
    )
    first = client.get("/api/v1/exceptions?limit=4").json
    second = client.get(first["next"]).json
    assert second["next"] is None
    items = first["items"] + second["items"]
    assert len(items) == 6 and len({i["id"] for i in items}) == 6
    assert [i["original_date"] for i in items] == sorted(i["original_date"] for i in items)
    body = client.get(f"/api/v1/exceptions?series={other.id}").json
    assert [i["series_id"] for i in body["items"]] == [other.id]
    body = client.get(f"/api/v1/exceptions?group={other.group_id}&kind=override").json
    assert len(body["items"]) == 1
    body = client.get(f"/api/v1/exceptions?kind=cancel&start={MONDAY + timedelta(days=3)}").json
    assert len(body["items"]) == 2


def test_exceptions_are_for_staff(api_as, make_series, make_user, make_group):
    mentor = make_user("mentor")
    series = make_series(make_group(mentor=mentor), first_date=MONDAY)
    override = DateOverride(series_id=series.id, original_date=MONDAY, cancelled=True)
    db.session.add(override)
    db.session.commit()
    for client in (api_as(mentor), api_as("student")):
        assert_problem(client.get("/api/v1/exceptions", status=403), 403)
        assert_problem(client.get(f"/api/v1/exceptions/{override.id}", status=403), 403)
        assert_problem(client.delete(f"/api/v1/exceptions/{override.id}", status=403), 403)
        assert_problem(
            client.post(
                "/api/v1/exceptions",
                {"series": series.id, "original_date": MONDAY.isoformat(), "cancelled": True},
                status=403,
            ),
            403,
        )
    assert_problem(api_as("admin").get("/api/v1/exceptions/999999", status=404), 404)


def test_deleting_an_exception_restores_the_session(api_as, make_series):
    series = make_series(first_date=MONDAY)
    client = api_as("coordinator")
    generate(client)
    created = client.post(
        "/api/v1/exceptions",
        {
            "series": series.id,
            "original_date": MONDAY.isoformat(),
            "start": "16:00",
            "end": "17:00",
        },
        status=201,
    ).json
    client.delete(f"/api/v1/exceptions/{created['id']}", status=204)
    occurrence = find_occurrence(series.id, MONDAY)
    assert occurrence.start_utc.astimezone(series_tz()).time() == time(10)
    assert_problem(client.delete(f"/api/v1/exceptions/{created['id']}", status=404), 404)


def test_deleting_an_exception_that_would_double_book_is_409(
    api_as, make_series, make_group, make_room
):
    room = make_room()
    moved = make_series(make_group(room=room), first_date=MONDAY)
    client = api_as("coordinator")
    generate(client)
    created = client.post(
        "/api/v1/exceptions",
        {"series": moved.id, "original_date": MONDAY.isoformat(), "start": "14:00", "end": "15:00"},
        status=201,
    ).json
    # Someone takes the room at the series' own time meanwhile.
    client.post(
        "/api/v1/sessions",
        {
            "group": make_group(room=room).id,
            "date": MONDAY.isoformat(),
            "start": "10:00",
            "end": "11:00",
            "room": room.id,
        },
        status=201,
    )
    body = assert_problem(client.delete(f"/api/v1/exceptions/{created['id']}", status=409), 409)
    assert room.name in body["detail"]
    assert db.session.get(DateOverride, created["id"]) is not None


def series_tz():

    return ZoneInfo("Europe/Paris")


# --- Generation ---------------------------------------------------------------------------------


def test_generate_returns_exactly_the_clis_json_summary(app, api_as, make_series):
    make_series(weekdays=(0, 2, 4), first_date=MONDAY)
    client = api_as("coordinator")
    runner = app.test_cli_runner()
    args = ["generate-sessions", "--start", MONDAY.isoformat(), "--weeks", "2", "--json"]
    cli = json.loads(runner.invoke(args=[*args, "--dry-run"]).output)
    api = generate(client, weeks=2, dry_run=True)
    assert api == cli
    assert api["dry_run"] is True and api["created"] == 6
    assert db.session.scalar(select(func.count(Occurrence.id))) == 0

    api = generate(client, weeks=2)
    assert api["created"] == 6 and api["dry_run"] is False
    assert db.session.scalar(select(func.count(Occurrence.id))) == 6
    again = generate(client, weeks=2)
    assert again == json.loads(runner.invoke(args=args).output)
    assert (again["created"], again["unchanged"]) == (0, 6)


def test_generate_with_an_end_and_force(api_as, make_series):
    series = make_series(weekdays=(0,), first_date=MONDAY)
    client = api_as("admin")
    end = (MONDAY + timedelta(days=14)).isoformat()
    body = client.post("/api/v1/generate", {"start": MONDAY.isoformat(), "end": end}).json
    assert (body["start"], body["end"], body["created"]) == (MONDAY.isoformat(), end, 2)
    series.start_time, series.end_time = time(9), time(10)
    db.session.commit()
    body = client.post("/api/v1/generate", {"start": MONDAY.isoformat(), "end": end}).json
    assert body["out_of_date"] == 2
    body = client.post(
        "/api/v1/generate", {"start": MONDAY.isoformat(), "end": end, "force": True}
    ).json
    assert body["updated"] == 2 and body["force"] is True


def test_generate_input_errors(api_as):
    client = api_as("coordinator")
    start = MONDAY.isoformat()
    for body, field in (
        ({"start": start, "weeks": 0}, "weeks"),
        ({"start": start, "weeks": -1}, "weeks"),
        ({"start": start, "weeks": 2**63}, "weeks"),
        ({"start": start, "weeks": True}, "weeks"),
        ({"start": start, "weeks": None}, "weeks"),
        ({"start": start, "weeks": 2, "end": start}, "weeks"),
        ({"start": start, "end": start}, "end"),
        ({"start": start, "weeks": 500}, "weeks"),
        ({"weeks": 2}, "start"),
        ({"start": "9999-12-31x", "weeks": 1}, "start"),
    ):
        assert_problem(client.post("/api/v1/generate", body, status=422), 422, field=field)


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
    api_as, maths_class, path, body, field
):
    if path.endswith("exceptions"):
        body = {"series": maths_class["series"].id, "original_date": MONDAY.isoformat()} | body
    before = timetable_state()
    response = api_as("coordinator").post(path, body, status="*")
    assert_problem(response, 422, field=field)
    assert timetable_state() == before


def test_a_session_is_not_moved_to_the_year_9999(api_as, maths_class):
    before = timetable_state()
    body = {
        "series": maths_class["series"].id,
        "original_date": MONDAY.isoformat(),
        "new_date": "9999-12-31",
    }
    response = api_as("coordinator").post("/api/v1/exceptions", body, status="*")
    assert_problem(response, 422, field="new_date")
    assert timetable_state() == before
