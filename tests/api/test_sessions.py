"""/sessions: list a range, create one-time, read, reschedule, cancel, restore, delete."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from models import (
    DateOverride,
    Occurrence,
    OccurrenceStatus,
    db,
)
from services.people.tokens import create_token
from services.timetable.exceptions import find_occurrence
from services.timetable.generation import generate_occurrences
from tests.api.conftest import MONDAY, assert_problem
from tests.conftest import AKL, auckland_at

PARIS = ZoneInfo("Europe/Paris")


def week_of(series, weeks=1):
    generate_occurrences(MONDAY, MONDAY + timedelta(weeks=weeks), tz=PARIS)
    db.session.commit()
    return find_occurrence(series.id, MONDAY)


def range_query(start=MONDAY, days=7, **filters):
    query = f"?start={start.isoformat()}&end={(start + timedelta(days=days)).isoformat()}"
    return "/api/v1/sessions" + query + "".join(f"&{k}={v}" for k, v in filters.items())


def new_session(group, **overrides):
    return {
        "group": group.id,
        "date": (MONDAY + timedelta(days=1)).isoformat(),
        "start": "14:00",
        "end": "15:00",
        "room": group.default_room_id,
    } | overrides


# --- Listing ------------------------------------------------------------------------------------


def test_a_range_lists_the_sessions_with_local_times_and_instants(api_as, make_series):
    series = make_series(weekdays=(0, 2), first_date=MONDAY)
    monday = week_of(series)
    body = api_as("coordinator").get(range_query()).json
    assert [s["date"] for s in body["items"]] == [
        MONDAY.isoformat(),
        (MONDAY + timedelta(days=2)).isoformat(),
    ]
    item = body["items"][0]
    assert item["id"] == monday.id
    assert (item["start"], item["end"], item["status"], item["mode"]) == (
        "10:00",
        "11:00",
        "scheduled",
        "in_person",
    )
    starts_at = datetime.fromisoformat(item["starts_at"])
    assert starts_at.utcoffset() == datetime.combine(MONDAY, time(10), PARIS).utcoffset()
    assert starts_at == monday.start_utc
    assert item["one_time"] is False and item["series_id"] == series.id
    assert item["original_date"] == MONDAY.isoformat()
    assert item["conflict"] is False


def test_the_range_is_required_ordered_and_at_most_366_days(api_as):
    client = api_as("student")
    body = assert_problem(client.get("/api/v1/sessions", status=422), 422)
    assert {"start", "end"} <= set(body["errors"])
    assert_problem(client.get(range_query(days=0), status=422), 422, field="end")
    assert_problem(client.get(range_query(days=-3), status=422), 422, field="end")
    assert_problem(client.get(range_query(days=367), status=422), 422, field="end")
    client.get(range_query(days=366), status=200)
    assert_problem(client.get(range_query(status="done"), status=422), 422, field="status")
    assert_problem(client.get(range_query(group="abc"), status=422), 422, field="group")


def test_each_role_lists_what_it_may_see(api_as, make_series, make_group, make_user):
    mentor, student = make_user("mentor"), make_user("student")
    taught = make_series(make_group("Maths", mentor=mentor), first_date=MONDAY)
    attended = make_series(
        make_group("Physics", students=[student]), first_date=MONDAY, start=time(12), end=time(13)
    )
    week_of(taught)

    def groups(client, **filters):
        return [s["group"]["name"] for s in client.get(range_query(**filters)).json["items"]]

    assert groups(api_as("admin")) == ["Maths", "Physics"]
    assert groups(api_as(mentor)) == ["Maths"]
    assert groups(api_as(student)) == ["Physics"]
    assert groups(api_as("student")) == []
    admin = api_as("admin")
    assert groups(admin, group=attended.group_id) == ["Physics"]
    assert groups(admin, room=taught.room_id) == ["Maths"]
    assert groups(admin, mentor=mentor.id) == ["Maths"]
    assert groups(admin, student=student.id) == ["Physics"]
    assert groups(admin, status="cancelled") == []
    # A filter never widens what a user sees.
    assert groups(api_as(student), mentor=mentor.id) == []


def test_conflicts_are_flagged_for_staff_and_the_mentor_only(
    api_as, make_series, make_group, make_room, make_user
):
    room = make_room()
    student = make_user("student")
    first = make_series(make_group("A", room=room, students=[student]), first_date=MONDAY)
    make_series(make_group("B", room=room), first_date=MONDAY, start=time(10, 30))
    week_of(first)
    items = api_as("coordinator").get(range_query()).json["items"]
    assert [s["conflict"] for s in items] == [True, True]
    items = api_as(student).get(range_query()).json["items"]
    assert [s["conflict"] for s in items] == [None]


def test_a_long_range_pages_by_start_without_duplicates(api_as, make_series):
    series = make_series(weekdays=(0, 1, 2, 3, 4), first_date=MONDAY)
    week_of(series, weeks=3)
    client = api_as("coordinator")
    url, seen = range_query(days=21) + "&limit=4", []
    while url:
        response = client.get(url)
        seen += [(s["date"], s["id"]) for s in response.json["items"]]
        url = response.json["next"]
        if url:
            assert f'<{url}>; rel="next"' == response.headers["Link"]
    assert len(seen) == 15 and len(set(seen)) == 15
    assert seen == sorted(seen)


# --- One session --------------------------------------------------------------------------------


def test_a_session_is_read_by_who_may_see_it_only(api_as, make_series, make_group, make_user):
    student = make_user("student")
    occurrence = week_of(make_series(make_group(students=[student]), first_date=MONDAY))
    body = api_as(student).get(f"/api/v1/sessions/{occurrence.id}").json
    assert body["id"] == occurrence.id and body["conflicts"] is None
    body = api_as("coordinator").get(f"/api/v1/sessions/{occurrence.id}").json
    assert body["conflicts"] == [] and body["adjustments"] == []
    for client in (api_as("student"), api_as("mentor")):
        assert_problem(client.get(f"/api/v1/sessions/{occurrence.id}", status=404), 404)
    assert_problem(api_as("admin").get("/api/v1/sessions/999999", status=404), 404)


def test_staff_create_a_one_time_session(api_as, make_group):
    group = make_group()
    client = api_as("coordinator")
    response = client.post("/api/v1/sessions", new_session(group, title="Revision"), status=201)
    body = response.json
    assert response.headers["Location"].endswith(f"/api/v1/sessions/{body['id']}")
    assert body["one_time"] is True and body["title"] == "Revision"
    assert (body["start"], body["end"]) == ("14:00", "15:00")
    occurrence = db.session.get(Occurrence, body["id"])
    assert occurrence.start_utc == datetime.combine(
        MONDAY + timedelta(days=1), time(14), PARIS
    ).astimezone(UTC)
    assert client.get(response.headers["Location"]).json["id"] == body["id"]


def test_a_double_booking_is_409_naming_the_other_session(api_as, make_group, make_series):
    series = make_series(first_date=MONDAY)
    occurrence = week_of(series)
    group = make_group(room=series.room)
    body = assert_problem(
        api_as("coordinator").post(
            "/api/v1/sessions",
            new_session(group, date=MONDAY.isoformat(), start="10:30", end="11:30"),
            status=409,
        ),
        409,
    )
    assert series.group.name in body["detail"]
    assert body["type"] == "urn:termtable:problem:conflict"
    assert [c["id"] for c in body["conflicts"]] == [occurrence.id]
    assert db.session.scalar(select(Occurrence.id).where(Occurrence.series_id.is_(None))) is None


def test_bad_session_input_is_422_per_field(api_as, make_group):
    group = make_group()
    client = api_as("coordinator")
    body = assert_problem(
        client.post(
            "/api/v1/sessions",
            new_session(group, date="2026-13-01", start="23:60", end="", room="abc"),
            status=422,
        ),
        422,
    )
    assert {"date", "start", "end", "room"} <= set(body["errors"])
    body = assert_problem(
        client.post("/api/v1/sessions", new_session(group, end="13:00"), status=422), 422
    )
    assert "end" in body["errors"]
    far = (MONDAY + timedelta(days=900)).isoformat()
    assert_problem(
        client.post("/api/v1/sessions", new_session(group, date=far), status=422),
        422,
        field="date",
    )
    assert_problem(
        client.post("/api/v1/sessions", new_session(group, status="completed"), status=422),
        422,
        field="status",
    )
    assert_problem(
        client.post("/api/v1/sessions", new_session(group) | {"group": 2**63}, status=422),
        422,
        field="group",
    )


def test_only_staff_create_change_cancel_or_delete(api_as, make_series, make_group, make_user):
    mentor = make_user("mentor")
    occurrence = week_of(make_series(make_group(mentor=mentor), first_date=MONDAY))
    client = api_as(mentor)
    url = f"/api/v1/sessions/{occurrence.id}"
    assert_problem(client.post("/api/v1/sessions", new_session(occurrence.group), status=403), 403)
    assert_problem(client.patch(url, {"start": "12:00"}, status=403), 403)
    assert_problem(client.post(url + "/cancel", {"reason": "ill"}, status=403), 403)
    assert_problem(client.post(url + "/restore", status=403), 403)
    assert_problem(client.delete(url, status=403), 403)
    other = api_as("mentor")
    assert_problem(other.patch(url, {"start": "12:00"}, status=404), 404)
    assert_problem(other.post(url + "/cancel", {"reason": "ill"}, status=404), 404)
    assert_problem(other.delete(url, status=404), 404)


def test_rescheduling_a_series_session_records_an_exception(api_as, make_series, make_room):
    series = make_series(first_date=MONDAY)
    occurrence = week_of(series)
    room = make_room()
    client = api_as("coordinator")
    url = f"/api/v1/sessions/{occurrence.id}"
    body = client.patch(url, {"start": "15:00", "end": "16:00", "room": room.id}).json
    assert (body["start"], body["end"], body["room"]["id"]) == ("15:00", "16:00", room.id)
    assert body["id"] == occurrence.id and body["original_date"] == MONDAY.isoformat()
    override = db.session.scalar(select(DateOverride).where(DateOverride.series_id == series.id))
    assert (override.start_time, override.end_time, override.room_id) == (
        time(15),
        time(16),
        room.id,
    )
    # Moving it to another day keeps its identity.
    body = client.patch(url, {"date": (MONDAY + timedelta(days=3)).isoformat()}).json
    assert body["date"] == (MONDAY + timedelta(days=3)).isoformat() and body["id"] == occurrence.id
    # Back to the series' own values: the exception goes.
    client.patch(url, {"date": MONDAY.isoformat(), "start": "10:00", "end": "11:00", "room": None})
    assert db.session.scalar(select(DateOverride.id)) is None


def test_rescheduling_a_one_time_session_changes_it(api_as, make_group):
    client = api_as("coordinator")
    created = client.post("/api/v1/sessions", new_session(make_group()), status=201).json
    body = client.patch(f"/api/v1/sessions/{created['id']}", {"end": "16:00"}).json
    assert (body["start"], body["end"]) == ("14:00", "16:00")
    assert db.session.get(Occurrence, created["id"]).sequence == 1
    assert_problem(
        client.patch(f"/api/v1/sessions/{created['id']}", {"end": "13:00"}, status=422),
        422,
        field="end",
    )
    assert_problem(
        client.patch(f"/api/v1/sessions/{created['id']}", {"mode": "online"}, status=422),
        422,
        field="mode",
    )


def test_a_move_onto_another_session_is_409(api_as, make_series, make_group, make_room):
    room = make_room()
    first = make_series(make_group(room=room), first_date=MONDAY)
    second = make_series(make_group(room=room), first_date=MONDAY, start=time(12), end=time(13))
    week_of(first)
    moving = find_occurrence(second.id, MONDAY)
    body = assert_problem(
        api_as("coordinator").patch(
            f"/api/v1/sessions/{moving.id}", {"start": "10:30", "end": "11:30"}, status=409
        ),
        409,
    )
    assert first.group.name in body["detail"]
    assert db.session.scalar(select(DateOverride.id)) is None


def test_cancel_and_restore(api_as, make_series):
    occurrence = week_of(make_series(first_date=MONDAY))
    client = api_as("coordinator")
    url = f"/api/v1/sessions/{occurrence.id}"
    assert_problem(client.post(url + "/cancel", {}, status=422), 422, field="reason")
    assert_problem(client.post(url + "/cancel", {"reason": "  "}, status=422), 422, field="reason")
    body = client.post(url + "/cancel", {"reason": "Trip"}).json
    assert body["status"] == "cancelled" and body["cancel_reason"] == "Trip"
    body = assert_problem(client.post(url + "/cancel", {"reason": "Trip"}, status=409), 409)
    assert body["type"] == "urn:termtable:problem:invalid-transition"
    assert_problem(client.patch(url, {"start": "12:00"}, status=409), 409)
    body = client.post(url + "/restore").json
    assert body["status"] == "scheduled" and body["cancel_reason"] is None
    assert_problem(client.post(url + "/restore", status=409), 409)


def test_completed_sessions_cannot_be_changed(api_as, make_series):
    occurrence = week_of(make_series(first_date=MONDAY))
    occurrence.status = OccurrenceStatus.COMPLETED
    db.session.commit()
    client = api_as("admin")
    url = f"/api/v1/sessions/{occurrence.id}"
    assert_problem(client.patch(url, {"start": "12:00"}, status=409), 409)
    assert_problem(client.post(url + "/cancel", {"reason": "x"}, status=409), 409)


def test_only_one_time_sessions_are_deleted(api_as, make_series, make_group):
    client = api_as("coordinator")
    occurrence = week_of(make_series(first_date=MONDAY))
    body = assert_problem(client.delete(f"/api/v1/sessions/{occurrence.id}", status=409), 409)
    assert "cancel" in body["detail"]
    created = client.post("/api/v1/sessions", new_session(make_group()), status=201).json
    response = client.delete(f"/api/v1/sessions/{created['id']}", status=204)
    assert response.body == b"" and "Content-Type" not in response.headers
    assert db.session.get(Occurrence, created["id"]) is None
    assert_problem(client.delete(f"/api/v1/sessions/{created['id']}", status=404), 404)


# --- Sessions past midnight ---------------------------------------------------------------------


def test_a_late_session_is_created_ending_the_next_day(api_as, make_group, clock):
    # The clock is pinned on Wed 10 Mar 2027: Friday 12 March is ahead at any hour of the run.
    friday = datetime(2027, 3, 12, tzinfo=PARIS).date()
    client = api_as("coordinator")
    body = client.post(
        "/api/v1/sessions",
        new_session(make_group(), date=friday.isoformat(), start="23:30", end="00:30"),
        status=201,
    ).json
    assert (body["date"], body["start"], body["end"]) == (friday.isoformat(), "23:30", "00:30")
    assert datetime.fromisoformat(body["ends_at"]) - datetime.fromisoformat(
        body["starts_at"]
    ) == timedelta(hours=1)
    assert datetime.fromisoformat(body["ends_at"]).astimezone(PARIS).date() == friday + timedelta(
        days=1
    )
    problem = assert_problem(
        client.post(
            "/api/v1/sessions",
            new_session(make_group(), date=friday.isoformat(), start="17:00", end="09:00"),
            status=422,
        ),
        422,
    )
    assert "at most 12 hours later on the next day" in problem["errors"]["end"]


def test_the_document_says_how_an_end_before_the_start_reads(api_as):
    spec = api_as("coordinator").get("/api/v1/openapi.json").json
    schemas = spec["components"]["schemas"]
    for name in ("SessionCreate", "SessionReschedule", "ExceptionInput", "SeriesCreate"):
        assert "next day" in schemas[name]["properties"]["end"]["description"], name
    assert "next day" in schemas["CompleteInput"]["properties"]["actual_end"]["description"]


def test_api_local_fields_local_day_windows_and_typed_dates(web, auckland_term, make_user):
    _row, token = create_token(auckland_term["ada"], "tests")
    db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    for occurrence in auckland_term["sessions"]:
        day = occurrence.original_date
        body = web.get(f"/api/v1/sessions/{occurrence.id}", headers=headers).json
        assert (body["date"], body["start"], body["end"]) == (day.isoformat(), "08:00", "09:00")
        expected = datetime.combine(day, time(8), AKL).isoformat()
        assert body["starts_at"] == expected
        assert datetime.fromisoformat(body["starts_at"]) == occurrence.start_utc
        window = f"start={day.isoformat()}&end={(day + timedelta(days=1)).isoformat()}"
        listed = web.get(f"/api/v1/sessions?{window}", headers=headers).json
        assert [item["id"] for item in listed["items"]] == [occurrence.id]

    _row, staff_token = create_token(make_user("coordinator"), "tests")
    db.session.commit()
    wednesday = auckland_term["after"] + timedelta(days=2)
    created = web.post_json(
        "/api/v1/sessions",
        {"group": auckland_term["group"].id, "date": wednesday.isoformat(), "start": "00:15",
         "end": "00:45", "room": auckland_term["room"].id},
        headers={"Authorization": f"Bearer {staff_token}"},
        status=201,
    ).json  # fmt: skip
    assert (created["date"], created["start"]) == (wednesday.isoformat(), "00:15")
    stored = db.session.get(Occurrence, created["id"])
    assert stored.start_utc == auckland_at(wednesday, time(0, 15))
    assert created["starts_at"] == datetime.combine(wednesday, time(0, 15), AKL).isoformat()
