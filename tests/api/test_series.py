"""/series: list, create, read, change, delete (staff writes; row-level reads)."""

from __future__ import annotations

from datetime import date, time

from sqlalchemy import select

from models import Series, db
from tests.api.conftest import MONDAY, assert_problem


def new_series(group, **overrides):
    body = {
        "group": group.id,
        "weekdays": ["mon", "wed"],
        "start": "09:00",
        "end": "10:30",
        "first_date": "2026-09-07",
    }
    return body | overrides


def test_staff_create_a_series_with_the_groups_room_by_default(api_as, make_group):
    group = make_group()
    client = api_as("coordinator")
    response = client.post("/api/v1/series", new_series(group, every_weeks=2), status=201)
    body = response.json
    assert response.headers["Location"].endswith(f"/api/v1/series/{body['id']}")
    assert body["weekdays"] == ["mon", "wed"]
    assert (body["start"], body["end"], body["every_weeks"]) == ("09:00", "10:30", 2)
    assert body["room"]["id"] == group.default_room_id
    assert body["mode"] == "in_person" and body["last_date"] is None
    series = db.session.get(Series, body["id"])
    assert series.weekdays == [0, 2] and series.start_time == time(9)
    assert client.get(response.headers["Location"]).json == body


def test_an_online_series_may_have_no_room(api_as, make_group):
    body = (
        api_as("admin")
        .post("/api/v1/series", new_series(make_group(), room=None, mode="online"), status=201)
        .json
    )
    assert body["room"] is None and body["mode"] == "online"


def test_bad_series_input_is_422_per_field(api_as, make_group):
    client = api_as("coordinator")
    group = make_group()
    body = assert_problem(
        client.post(
            "/api/v1/series",
            {
                "group": group.id,
                "weekdays": ["monday", 0],
                "start": "24:00",
                "end": "10.00",
                "first_date": "05/01/2026",
                "every_weeks": 3.5,
            },
            status=422,
        ),
        422,
    )
    assert {"weekdays.0", "weekdays.1", "start", "end", "first_date", "every_weeks"} <= set(
        body["errors"]
    )
    body = assert_problem(client.post("/api/v1/series", {}, status=422), 422)
    assert {"group", "weekdays", "start", "end", "first_date"} <= set(body["errors"])
    # The service's rules come back under the API's field names.
    body = assert_problem(
        client.post("/api/v1/series", new_series(group, end="08:00"), status=422), 422
    )
    assert "end" in body["errors"]
    body = assert_problem(
        client.post("/api/v1/series", new_series(group, room=None, mode="in_person"), status=422),
        422,
    )
    assert "room" in body["errors"]
    body = assert_problem(
        client.post("/api/v1/series", new_series(group, weekdays=[]), status=422), 422
    )
    assert "weekdays" in body["errors"]
    assert_problem(client.post("/api/v1/series", new_series(group, id=5), status=422), 422)
    body = new_series(group) | {"group": 999999}
    assert_problem(client.post("/api/v1/series", body, status=422), 422, field="group")


def test_only_staff_write_series(api_as, make_group, make_series, make_user):
    mentor = make_user("mentor")
    group = make_group(mentor=mentor)
    series = make_series(group)
    client = api_as(mentor)
    assert_problem(client.post("/api/v1/series", new_series(group), status=403), 403)
    assert_problem(client.patch(f"/api/v1/series/{series.id}", {"every_weeks": 2}, status=403), 403)
    assert_problem(client.delete(f"/api/v1/series/{series.id}", status=403), 403)
    # Another mentor does not even see it.
    other = api_as("mentor")
    assert_problem(other.patch(f"/api/v1/series/{series.id}", {"every_weeks": 2}, status=404), 404)
    assert_problem(other.get(f"/api/v1/series/{series.id}", status=404), 404)


def test_series_are_listed_by_visibility(api_as, make_group, make_series, make_user):
    student = make_user("student")
    mine = make_series(make_group(students=[student]))
    other = make_series(make_group())
    ids = [s["id"] for s in api_as(student).get("/api/v1/series").json["items"]]
    assert ids == [mine.id]
    ids = [s["id"] for s in api_as("coordinator").get("/api/v1/series").json["items"]]
    assert ids == [mine.id, other.id]
    body = api_as("coordinator").get(f"/api/v1/series?group={other.group_id}").json
    assert [s["id"] for s in body["items"]] == [other.id]


def test_patch_changes_only_the_fields_sent(api_as, make_series, make_room):
    series = make_series(weekdays=(0,), first_date=date(2026, 9, 7))
    room = make_room()
    client = api_as("coordinator")
    body = client.patch(
        f"/api/v1/series/{series.id}",
        {"weekdays": ["tue", "thu"], "room": room.id, "last_date": "2026-12-18"},
    ).json
    assert body["weekdays"] == ["tue", "thu"] and body["room"]["id"] == room.id
    assert body["start"] == "10:00" and body["last_date"] == "2026-12-18"
    body = client.patch(f"/api/v1/series/{series.id}", {"last_date": None}).json
    assert body["last_date"] is None
    problem = assert_problem(
        client.patch(f"/api/v1/series/{series.id}", {"last_date": "2026-01-01"}, status=422),
        422,
    )
    assert "last_date" in problem["errors"]
    assert_problem(client.patch(f"/api/v1/series/{series.id}", {"group": 1}, status=422), 422)


def test_delete_removes_a_series_without_history_and_refuses_one_with_it(
    api_as, make_series, make_group
):
    client = api_as("coordinator")
    fresh = make_series()
    client.delete(f"/api/v1/series/{fresh.id}", status=204)
    assert db.session.get(Series, fresh.id) is None

    used = make_series(make_group(), first_date=MONDAY)
    client.post("/api/v1/generate", {"start": MONDAY.isoformat(), "weeks": 1})
    body = assert_problem(client.delete(f"/api/v1/series/{used.id}", status=409), 409)
    assert "last_date" in body["detail"]
    assert db.session.scalar(select(Series.id).where(Series.id == used.id)) == used.id
    assert_problem(client.delete("/api/v1/series/999999", status=404), 404)
