"""/sessions/{id}/register (GET, PUT) and /attendance/report: taking a register in one call,
corrections, bad marks as problem details with nothing written, who sees which lines, and the
report's rates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from models import AttendanceMark, Enrolment, OccurrenceStatus, db
from tests.api.conftest import PROBLEM

PARIS = ZoneInfo("Europe/Paris")


def local_start(days: int, hour: int) -> datetime:
    day = datetime.now(PARIS).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, tzinfo=PARIS).astimezone(UTC)


@pytest.fixture
def maths(make_user, make_group, make_session):
    mentor = make_user("mentor", name="Ada")
    alice, bob = make_user("student", name="Alice"), make_user("student", name="Bob")
    group = make_group("Maths", mentor=mentor, students=[alice, bob])
    for enrolment in db.session.scalars(select(Enrolment).where(Enrolment.group_id == group.id)):
        enrolment.created_at = local_start(-30, 9)
    db.session.commit()
    return {
        "mentor": mentor,
        "alice": alice,
        "bob": bob,
        "past": make_session(group, local_start(-1, 10)),
        "future": make_session(group, local_start(7, 10)),
    }


def url(occurrence) -> str:
    return f"/api/v1/sessions/{occurrence.id}/register"


def stored() -> int:
    return db.session.scalar(select(func.count(AttendanceMark.id)))


def test_the_mentor_takes_the_register_in_one_call_and_reads_it_back(api_as, maths):
    api = api_as(maths["mentor"])
    before = api.get(url(maths["past"])).json
    assert before["taken"] is False and before["refusal"] is None
    assert [(s["student"]["name"], s["marked"]) for s in before["students"]] == [
        ("Alice", False),
        ("Bob", False),
    ]
    body = {"marks": [{"student_id": maths["bob"].id, "status": "late", "late_minutes": 15}]}
    taken = api.web.put_json(url(maths["past"]), body, headers=api.headers()).json
    assert taken["taken"] and taken["taken_by"]["id"] == maths["mentor"].id
    assert taken["counts"] == {"present": 1, "late": 1, "absent": 0, "excused": 0}
    lines = {s["student"]["name"]: (s["status"], s["late_minutes"]) for s in taken["students"]}
    assert lines == {"Alice": ("present", None), "Bob": ("late", 15)}
    # A correction: kept, with who and when.
    fix = {"marks": [{"student_id": maths["bob"].id, "status": "excused", "reason": "Ill"}]}
    corrected = api.web.put_json(url(maths["past"]), fix, headers=api.headers()).json
    assert [(c["before"], c["after"]) for c in corrected["corrections"]] == [
        ("Late (15 min)", "Excused: Ill")
    ]
    assert corrected["corrections"][0]["changed_by"]["name"] == "Ada"


@pytest.mark.parametrize(
    ("mark", "key"),
    [
        ({"status": "late", "late_minutes": 0}, "late-{bob}"),
        ({"status": "late", "late_minutes": 61}, "late-{bob}"),
        ({"status": "late"}, "late-{bob}"),
        ({"status": "excused", "reason": " "}, "reason-{bob}"),
    ],
)
def test_a_bad_mark_is_a_422_naming_the_field_and_nothing_is_written(api_as, maths, mark, key):
    api = api_as(maths["mentor"])
    body = {"marks": [{"student_id": maths["bob"].id, **mark}]}
    response = api.web.put_json(url(maths["past"]), body, headers=api.headers(), status=422)
    assert response.content_type == PROBLEM
    assert key.format(bob=maths["bob"].id) in response.json["errors"]
    assert stored() == 0


@pytest.mark.parametrize(
    "body",
    [
        {"marks": [{"student_id": 1, "status": "late", "late_minutes": 2.5}]},
        {"marks": [{"student_id": 1, "status": "late", "late_minutes": True}]},
        {"marks": [{"student_id": 1, "status": "late", "late_minutes": "10"}]},
        {"marks": [{"student_id": 1, "status": "sick"}]},
        {"marks": [{"student_id": "abc", "status": "present"}]},
        {"marks": [{"student_id": 2**63, "status": "present"}]},
        {"marks": [{"status": "present"}]},
        {"marks": [{"student_id": 1, "status": "present", "taken_by_id": 3}]},
        {"marks": None},
        {"status": "completed"},
    ],
)
def test_malformed_bodies_are_refused_by_the_schema(api_as, maths, body):
    api = api_as(maths["mentor"])
    response = api.web.put_json(url(maths["past"]), body, headers=api.headers(), status=422)
    assert response.content_type == PROBLEM and response.json["errors"]
    assert stored() == 0


def test_a_student_not_on_the_register_and_the_states_that_refuse_it(api_as, maths, make_user):
    api = api_as(maths["mentor"])
    stranger = make_user("student")
    body = {"marks": [{"student_id": stranger.id, "status": "absent"}]}
    refused = api.web.put_json(url(maths["past"]), body, headers=api.headers(), status=422)
    assert "Not on this session's register" in refused.json["errors"]["__all__"]
    future = api.web.put_json(url(maths["future"]), {}, headers=api.headers(), status=409)
    assert "has not started yet" in future.json["detail"]
    assert api.get(url(maths["future"])).json["refusal"].startswith("This session has not")
    maths["past"].status = OccurrenceStatus.CANCELLED
    db.session.commit()
    cancelled = api.web.put_json(url(maths["past"]), {}, headers=api.headers(), status=409)
    assert "cancelled" in cancelled.json["detail"]
    assert stored() == 0


def test_a_student_reads_only_their_own_line_and_may_not_take_it(api_as, maths):
    mentor = api_as(maths["mentor"])
    body = {"marks": [{"student_id": maths["bob"].id, "status": "absent"}]}
    mentor.web.put_json(url(maths["past"]), body, headers=mentor.headers())
    bob = api_as(maths["bob"])
    own = bob.get(url(maths["past"])).json
    assert [(s["student"]["name"], s["status"]) for s in own["students"]] == [("Bob", "absent")]
    assert own["counts"]["absent"] == 1 and own["counts"]["present"] == 0
    bob.web.put_json(url(maths["past"]), {"all_present": True}, headers=bob.headers(), status=403)


def test_the_report_gives_rates_and_who_is_below_the_threshold(api_as, maths):
    mentor = api_as(maths["mentor"])
    body = {"marks": [{"student_id": maths["bob"].id, "status": "absent"}]}
    mentor.web.put_json(url(maths["past"]), body, headers=mentor.headers())
    staff = api_as("coordinator")
    report = staff.get("/api/v1/attendance/report").json
    assert report["registers"] == 1 and report["threshold"] == 90
    assert [(r["name"], r["rate"], r["below_threshold"]) for r in report["students"]] == [
        ("Alice", 100.0, False),
        ("Bob", 0.0, True),
    ]
    assert [r["name"] for r in report["below"]] == ["Bob"]
    assert report["groups"][0]["rate"] == 50.0 and report["groups"][0]["email"] is None
    day = (datetime.now(PARIS).date() + timedelta(days=1)).isoformat()
    later = staff.get(f"/api/v1/attendance/report?start={day}").json
    assert later["students"] == [] and later["registers"] == 0
    for query in ("start=0001-01-01", "threshold=101", "start=2027-03-10&end=2027-03-01"):
        response = staff.get(f"/api/v1/attendance/report?{query}", status=422)
        assert response.content_type == PROBLEM, query


def test_the_document_describes_the_register_and_the_report(web):
    paths = web.get("/api/v1/openapi.json").json["paths"]
    register = paths["/api/v1/sessions/{occurrence_id}/register"]
    assert set(register) >= {"get", "put"}
    assert "get" in paths["/api/v1/attendance/report"]
