"""/requests: list, ask (three kinds of schedule), read, approve, reject, withdraw."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from models import (
    Notification,
    Occurrence,
    RequestStatus,
    SessionRequest,
    db,
)
from tests.api.conftest import MONDAY, assert_problem, request_body

PARIS = ZoneInfo("Europe/Paris")
TUESDAY = MONDAY + timedelta(days=1)


@pytest.fixture
def two_mentors(make_user, make_group):
    """A mentor teaching Maths, another teaching Art, two students, an admin, a coordinator."""
    mentor, other_mentor = make_user("mentor"), make_user("mentor")
    maths = make_group("Maths class", mentor=mentor, subject="Maths")
    art = make_group("Art class", mentor=other_mentor, subject="Art")
    return {
        "mentor": mentor,
        "other_mentor": other_mentor,
        "student": make_user("student"),
        "other_student": make_user("student"),
        "maths": maths.subject,
        "art": art.subject,
    }


def single(two_mentors, **overrides):
    return {
        "mentor": two_mentors["mentor"].id,
        "subject": two_mentors["maths"].id,
        "title": "Help with fractions",
        "description": "Chapter 3",
        "mode": "online",
        "schedule": {
            "kind": "single",
            "date": TUESDAY.isoformat(),
            "start": "16:00",
            "duration": 60,
        },
    } | overrides


def ask(api_as, two_mentors, student=None, **overrides):
    client = api_as(student or two_mentors["student"])
    response = client.post("/api/v1/requests", single(two_mentors, **overrides), status=201)
    return response.json


# --- Asking -------------------------------------------------------------------------------------


def test_a_student_asks_for_one_session(api_as, two_mentors):
    client = api_as(two_mentors["student"])
    response = client.post("/api/v1/requests", single(two_mentors), status=201)
    body = response.json
    assert response.headers["Location"].endswith(f"/api/v1/requests/{body['id']}")
    assert body["status"] == "pending"
    assert body["mentor"] == {"id": two_mentors["mentor"].id, "name": two_mentors["mentor"].name}
    assert body["schedule"] == {
        "kind": "single",
        "start": "16:00",
        "end": "17:00",
        "duration": 60,
        "weekdays": None,
        "first_date": None,
        "weeks": None,
    }
    assert [(s["date"], s["start"], s["end"]) for s in body["slots"]] == [
        (TUESDAY.isoformat(), "16:00", "17:00")
    ]
    assert body["session_ids"] == [] and body["rejection_reason"] is None


def test_specific_dates_and_a_weekly_schedule(api_as, two_mentors):
    client = api_as(two_mentors["student"])
    dates = {
        "kind": "dates",
        "dates": [(MONDAY + timedelta(days=3)).isoformat(), TUESDAY.isoformat()],
        "start": "09:00",
        "end": "10:30",
    }
    body = client.post("/api/v1/requests", single(two_mentors, schedule=dates), status=201).json
    assert [s["date"] for s in body["slots"]] == [dates["dates"][1], dates["dates"][0]]
    weekly = {
        "kind": "weekly",
        "weekdays": ["mon", "wed"],
        "start": "18:00",
        "end": "19:00",
        "first_date": MONDAY.isoformat(),
        "weeks": 2,
    }
    body = client.post("/api/v1/requests", single(two_mentors, schedule=weekly), status=201).json
    assert len(body["slots"]) == 4
    assert body["schedule"]["weekdays"] == ["mon", "wed"]
    assert body["schedule"]["weeks"] == 2 and body["schedule"]["duration"] is None


def one(**members):
    return {"schedule": {"kind": "single", "date": TUESDAY.isoformat(), "start": "10:00",
                         "duration": 60} | members}  # fmt: skip


def on_dates(**members):
    return {"schedule": {"kind": "dates", "dates": [TUESDAY.isoformat()], "start": "10:00",
                         "end": "11:00"} | members}  # fmt: skip


def weekly(**members):
    return {"schedule": {"kind": "weekly", "weekdays": ["mon"], "start": "10:00", "end": "11:00",
                         "first_date": MONDAY.isoformat(), "weeks": 2} | members}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"mentor": 999999}, "mentor"),
        ({"subject": 999999}, "subject"),
        ({"title": "  "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"mode": "carrier pigeon"}, "mode"),
        ({"schedule": {"kind": "fortnightly"}}, "schedule.kind"),
        ({"schedule": {"kind": "single", "start": "10:00", "duration": 60}}, "schedule.date"),
        (one(date="2020-01-06"), "schedule.date"),
        (one(date="2026-13-01"), "schedule.date"),
        (one(start="25:00"), "schedule.start"),
        (one(duration=45), "schedule.duration"),
        (one(weeks=2), "schedule.weeks"),
        (on_dates(dates=[]), "schedule.dates"),
        (on_dates(end="09:00"), "schedule.end"),
        (weekly(weeks=27), "schedule.weeks"),
        (weekly(weekdays=["monday"]), "schedule.weekdays.0"),
        (weekly(weekdays=[]), "schedule.weekdays"),
        ({"status": "approved"}, "status"),
    ],
)
def test_each_bad_field_is_a_422_naming_it(api_as, two_mentors, change, field):
    client = api_as(two_mentors["student"])
    response = client.post("/api/v1/requests", single(two_mentors, **change), status=422)
    assert_problem(response, 422, field=field)
    assert db.session.scalar(select(SessionRequest.id)) is None


def test_the_mentor_must_teach_the_subject(api_as, two_mentors):
    body = assert_problem(
        api_as(two_mentors["student"]).post(
            "/api/v1/requests", single(two_mentors, subject=two_mentors["art"].id), status=422
        ),
        422,
        field="subject",
    )
    assert "does not teach" in body["errors"]["subject"]


@pytest.mark.parametrize("role", ["mentor", "coordinator", "admin"])
def test_only_students_ask(api_as, two_mentors, role):
    assert_problem(api_as(role).post("/api/v1/requests", single(two_mentors), status=403), 403)


def test_no_token_is_401(anonymous, two_mentors):
    assert_problem(anonymous.post("/api/v1/requests", single(two_mentors), status=401), 401)
    assert_problem(anonymous.get("/api/v1/requests", status=401), 401)


# --- Reading ------------------------------------------------------------------------------------


def test_each_role_lists_what_it_may_see(api_as, two_mentors):
    mine = ask(api_as, two_mentors)
    theirs = ask(api_as, two_mentors, two_mentors["other_student"],
                 mentor=two_mentors["other_mentor"].id, subject=two_mentors["art"].id)  # fmt: skip

    def ids(client, query=""):
        return [r["id"] for r in client.get("/api/v1/requests" + query).json["items"]]

    assert ids(api_as(two_mentors["student"])) == [mine["id"]]
    assert ids(api_as(two_mentors["mentor"])) == [mine["id"]]
    assert ids(api_as(two_mentors["other_mentor"])) == [theirs["id"]]
    assert ids(api_as("coordinator")) == [mine["id"], theirs["id"]]
    assert ids(api_as("admin"), "?status=pending") == [mine["id"], theirs["id"]]
    assert ids(api_as("admin"), "?status=approved") == []
    assert_problem(
        api_as("admin").get("/api/v1/requests?status=done", status=422), 422, field="status"
    )


def test_the_list_is_paginated(api_as, two_mentors):
    for n in range(3):  # three requests: three different hours (the same one twice is refused)
        schedule = {
            "kind": "single",
            "date": TUESDAY.isoformat(),
            "start": f"1{n}:00",
            "duration": 60,
        }
        ask(api_as, two_mentors, title=f"Request {n}", schedule=schedule)
    client = api_as("coordinator")
    first = client.get("/api/v1/requests?limit=2")
    assert len(first.json["items"]) == 2 and 'rel="next"' in first.headers["Link"]
    second = client.get(first.json["next"]).json
    assert [r["title"] for r in second["items"]] == ["Request 2"] and second["next"] is None


def test_others_requests_are_404(api_as, two_mentors):
    request_id = ask(api_as, two_mentors)["id"]
    api_as(two_mentors["mentor"]).get(f"/api/v1/requests/{request_id}", status=200)
    api_as("coordinator").get(f"/api/v1/requests/{request_id}", status=200)
    for user in (two_mentors["other_student"], two_mentors["other_mentor"]):
        client = api_as(user)
        assert_problem(client.get(f"/api/v1/requests/{request_id}", status=404), 404)
        assert_problem(client.post(f"/api/v1/requests/{request_id}/approve", status=404), 404)
        assert_problem(client.post(f"/api/v1/requests/{request_id}/withdraw", status=404), 404)
    assert_problem(api_as("admin").get("/api/v1/requests/999999", status=404), 404)
    assert_problem(api_as("admin").get("/api/v1/requests/0", status=404), 404)


# --- Deciding -----------------------------------------------------------------------------------


def test_the_mentor_approves_and_gets_the_sessions(api_as, two_mentors):
    request_id = ask(api_as, two_mentors)["id"]
    body = api_as(two_mentors["mentor"]).post(f"/api/v1/requests/{request_id}/approve").json
    assert body["status"] == "approved" and body["decided_by"]["id"] == two_mentors["mentor"].id
    assert body["group"]["name"].startswith("Maths")
    assert body["declined_request_ids"] == []
    sessions = db.session.scalars(select(Occurrence).where(Occurrence.request_id == request_id))
    assert body["session_ids"] == [o.id for o in sessions]
    assert len(body["session_ids"]) == 1
    session = api_as(two_mentors["student"]).get(f"/api/v1/sessions/{body['session_ids'][0]}").json
    assert (session["date"], session["start"], session["mode"]) == (
        TUESDAY.isoformat(),
        "16:00",
        "online",
    )


def test_an_admin_approves_a_coordinator_and_the_student_may_not(api_as, two_mentors):
    request_id = ask(api_as, two_mentors)["id"]
    for who in ("coordinator", two_mentors["student"]):
        response = api_as(who).post(f"/api/v1/requests/{request_id}/approve", status=403)
        assert_problem(response, 403)
        response = api_as(who).post(
            f"/api/v1/requests/{request_id}/reject", {"reason": "No"}, status=403
        )
        assert_problem(response, 403)
    api_as("admin").post(f"/api/v1/requests/{request_id}/approve", status=200)


def test_approving_twice_or_after_a_rejection_is_409(api_as, two_mentors):
    first = ask(api_as, two_mentors)["id"]
    mentor = api_as(two_mentors["mentor"])
    mentor.post(f"/api/v1/requests/{first}/approve")
    body = assert_problem(mentor.post(f"/api/v1/requests/{first}/approve", status=409), 409)
    assert "approved already" in body["detail"]
    second = ask(
        api_as, two_mentors, schedule={**single(two_mentors)["schedule"], "start": "08:00"}
    )["id"]
    mentor.post(f"/api/v1/requests/{second}/reject", {"reason": "Too early"})
    assert_problem(mentor.post(f"/api/v1/requests/{second}/approve", status=409), 409)
    assert_problem(mentor.post(f"/api/v1/requests/{second}/withdraw", status=403), 403)
    assert_problem(
        api_as(two_mentors["student"]).post(f"/api/v1/requests/{second}/withdraw", status=409), 409
    )


def test_a_clash_with_the_mentors_sessions_is_409_naming_the_date(api_as, two_mentors, make_group):
    request_id = ask(api_as, two_mentors)["id"]
    group = make_group(mentor=two_mentors["mentor"])
    start = datetime(TUESDAY.year, TUESDAY.month, TUESDAY.day, 16, 30, tzinfo=PARIS)
    db.session.add(
        Occurrence(group_id=group.id, start_utc=start.astimezone(UTC),
                   end_utc=(start + timedelta(hours=1)).astimezone(UTC))
    )  # fmt: skip
    db.session.commit()
    response = api_as(two_mentors["mentor"]).post(
        f"/api/v1/requests/{request_id}/approve", status=409
    )
    body = assert_problem(response, 409)
    assert f"{TUESDAY:%d %b %Y} 16:00" in body["detail"]
    assert body["conflicts"] and body["type"].endswith("conflict")
    assert db.session.get(SessionRequest, request_id).status == RequestStatus.PENDING


def test_approval_declines_the_mentors_clashing_requests(api_as, two_mentors):
    first = ask(api_as, two_mentors)["id"]
    second = ask(api_as, two_mentors, two_mentors["other_student"])["id"]
    body = api_as(two_mentors["mentor"]).post(f"/api/v1/requests/{first}/approve").json
    assert body["declined_request_ids"] == [second]
    other = api_as(two_mentors["other_student"]).get(f"/api/v1/requests/{second}").json
    # The same words as on its page, in its list and in the student's notification.
    assert other["status"] == "declined"
    assert other["rejection_reason"].startswith("Declined automatically: ")


def test_reject_needs_a_reason(api_as, two_mentors):
    request_id = ask(api_as, two_mentors)["id"]
    mentor = api_as(two_mentors["mentor"])
    url = f"/api/v1/requests/{request_id}/reject"
    assert_problem(mentor.post(url, {}, status=422), 422, field="reason")
    assert_problem(mentor.post(url, {"reason": "   "}, status=422), 422, field="reason")
    assert_problem(mentor.post(url, {"reason": "x" * 2001}, status=422), 422, field="reason")
    assert_problem(mentor.post(url, {"reason": 5}, status=422), 422, field="reason")
    body = mentor.post(url, {"reason": "I am away that week"}).json
    assert body["status"] == "rejected" and body["rejection_reason"] == "I am away that week"
    assert_problem(mentor.post(url, {"reason": "Again"}, status=409), 409)


def test_the_student_withdraws_their_own_request(api_as, two_mentors):
    request_id = ask(api_as, two_mentors)["id"]
    url = f"/api/v1/requests/{request_id}/withdraw"
    assert_problem(api_as(two_mentors["mentor"]).post(url, status=403), 403)
    assert_problem(api_as("admin").post(url, status=403), 403)
    body = api_as(two_mentors["student"]).post(url).json
    assert body["status"] == "withdrawn"
    assert_problem(api_as(two_mentors["student"]).post(url, status=409), 409)


# --- Approving in part --------------------------------------------------------------------------


def _class_at(make_group, two_mentors, day, hour=16):
    """A session of the mentor's on `day` at `hour`:00-`hour`+1:00 (Paris)."""
    group = make_group(mentor=two_mentors["mentor"])
    start = datetime(day.year, day.month, day.day, hour, tzinfo=PARIS)
    session = Occurrence(group_id=group.id, start_utc=start.astimezone(UTC),
                         end_utc=(start + timedelta(hours=1)).astimezone(UTC))  # fmt: skip
    db.session.add(session)
    db.session.commit()
    return session


def dates_request(two_mentors, days):
    return single(two_mentors, schedule={"kind": "dates", "dates": [d.isoformat() for d in days],
                                    "start": "16:00", "end": "17:00"})  # fmt: skip


def test_pending_requests_mark_their_clashing_dates(api_as, two_mentors, make_group):
    thursday = TUESDAY + timedelta(days=2)
    request = (
        api_as(two_mentors["student"])
        .post("/api/v1/requests", dates_request(two_mentors, [TUESDAY, thursday]), status=201)
        .json
    )
    assert [s["clash"] for s in request["slots"]] == [False, False]
    session = _class_at(make_group, two_mentors, thursday)
    body = api_as(two_mentors["student"]).get(f"/api/v1/requests/{request['id']}").json
    assert [(s["clash"], s["clashing_session_ids"]) for s in body["slots"]] == [
        (False, []),
        (True, [session.id]),
    ]
    listed = api_as(two_mentors["mentor"]).get("/api/v1/requests").json["items"]
    assert [s["clash"] for s in listed[0]["slots"]] == [False, True]
    assert all(s["declined_reason"] is None for s in body["slots"])


def test_approve_takes_the_dates_to_approve_and_lists_those_declined(
    api_as, two_mentors, make_group
):
    thursday = TUESDAY + timedelta(days=2)
    friday = TUESDAY + timedelta(days=3)
    _class_at(make_group, two_mentors, thursday)
    request_id = (
        api_as(two_mentors["student"])
        .post(
            "/api/v1/requests", dates_request(two_mentors, [TUESDAY, thursday, friday]), status=201
        )
        .json["id"]
    )
    mentor = api_as(two_mentors["mentor"])
    url = f"/api/v1/requests/{request_id}/approve"
    # All of it (no body, as before): refused, naming the clash and saying what to do.
    refused = assert_problem(mentor.post(url, status=409), 409)
    assert "Approve the other dates only" in refused["detail"]
    # Bad lists are 422 and change nothing.
    assert_problem(mentor.post(url, {"dates": []}, status=422), 422, field="dates")
    assert_problem(
        mentor.post(url, {"dates": [MONDAY.isoformat()]}, status=422), 422, field="dates"
    )
    assert_problem(mentor.post(url, {"dates": ["someday"]}, status=422), 422, field="dates.0")
    assert_problem(mentor.post(url, {"dates": [thursday.isoformat()]}, status=409), 409)
    assert db.session.get(SessionRequest, request_id).status == RequestStatus.PENDING
    body = mentor.post(
        url, {"dates": [TUESDAY.isoformat(), friday.isoformat()], "reason": "Busy Thursday."}
    ).json
    assert body["status"] == "approved" and len(body["session_ids"]) == 2
    assert body["declined_dates"] == [
        {"date": thursday.isoformat(), "start": "16:00", "end": "17:00", "reason": "Busy Thursday."}
    ]
    assert body["declined_request_ids"] == [] and body["now_clashing_request_ids"] == []
    assert [s["declined_reason"] for s in body["slots"]] == [None, "Busy Thursday.", None]
    assert all(s["clash"] is None for s in body["slots"])  # decided: no longer marked


def test_an_approval_keeps_a_bigger_request_pending_and_says_so(api_as, two_mentors):
    thursday = TUESDAY + timedelta(days=2)
    big = (
        api_as(two_mentors["other_student"])
        .post("/api/v1/requests", dates_request(two_mentors, [TUESDAY, thursday]), status=201)
        .json["id"]
    )
    short = ask(api_as, two_mentors)["id"]  # Tuesday 16:00-17:00 too
    body = api_as(two_mentors["mentor"]).post(f"/api/v1/requests/{short}/approve").json
    assert body["declined_request_ids"] == [] and body["now_clashing_request_ids"] == [big]
    other = api_as(two_mentors["other_student"]).get(f"/api/v1/requests/{big}").json
    assert other["status"] == "pending"
    assert [s["clash"] for s in other["slots"]] == [True, False]


def test_the_document_describes_approving_in_part(api_as):
    document = api_as("admin").get("/api/v1/openapi.json").json
    operation = document["paths"]["/api/v1/requests/{request_id}/approve"]["post"]
    body = operation["requestBody"]
    assert body["required"] is False
    schema = body["content"]["application/json"]["schema"]
    name = schema["$ref"].rsplit("/", 1)[-1]
    properties = document["components"]["schemas"][name]["properties"]
    assert set(properties) == {"dates", "reason"}
    approval = document["components"]["schemas"]["Approval"]["properties"]
    assert {"declined_dates", "declined_request_ids", "now_clashing_request_ids"} <= set(approval)
    slot = document["components"]["schemas"]["Slot"]["properties"]
    assert {"clash", "clashing_session_ids", "declined_reason"} <= set(slot)
    assert (
        "declined"
        in document["components"]["schemas"]["Request"]["properties"]["status"]["description"]
    )


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


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
def test_a_request_at_the_edge_of_the_calendar_is_a_422_not_a_crash(api_as, maths_class, schedule):
    body = request_body(maths_class) | {"schedule": schedule}
    response = api_as(maths_class["student"]).post("/api/v1/requests", body, status="*")
    assert_problem(response, 422)
    assert count(SessionRequest) == 0


def test_a_request_for_dates_in_the_year_9999_is_refused(api_as, maths_class):
    body = request_body(maths_class)
    body["schedule"] = {"kind": "dates", "dates": ["9999-12-31"], "start": "10:00", "end": "11:00"}
    response = api_as(maths_class["student"]).post("/api/v1/requests", body, status="*")
    assert_problem(response, 422, field="schedule.dates")
    assert count(SessionRequest) == 0


def test_a_mentor_id_that_is_not_an_active_mentor_is_refused(api_as, maths_class, make_user):
    student = api_as(maths_class["student"])
    deactivated = make_user("mentor", active=False)
    for mentor in (
        make_user("admin").id,
        make_user("coordinator").id,
        maths_class["student"].id,  # yourself
        maths_class["other_student"].id,
        deactivated.id,
        0,
        -1,
        2**63,
        "abc",
        True,
        None,
    ):
        body = request_body(maths_class) | {"mentor": mentor}
        response = student.post("/api/v1/requests", body, status=422)
        assert_problem(response, 422, field="mentor")
    assert count(SessionRequest) == 0 and count(Notification) == 0


def test_an_approved_request_can_be_neither_rejected_nor_withdrawn(api_as, maths_class):
    request_id = (
        api_as(maths_class["student"])
        .post("/api/v1/requests", request_body(maths_class), status=201)
        .json["id"]
    )
    mentor = api_as(maths_class["mentor"])
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
        api_as(maths_class["student"]).post(f"/api/v1/requests/{request_id}/withdraw", status=409),
        409,
    )
    assert "approved already" in body["detail"]
    db.session.expire_all()
    request = db.session.get(SessionRequest, request_id)
    assert request.status == RequestStatus.APPROVED and request.rejection_reason is None
    assert db.session.get(Occurrence, sessions[0]) is not None
    assert count(Notification) == told
