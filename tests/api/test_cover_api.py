"""/absences, /cover and /sessions/{id}/cover: absences recorded or reported, the day's board,
and a substitute assigned."""

from __future__ import annotations

from datetime import date, time

from sqlalchemy import func, select

from models import MentorAbsence, Occurrence, db
from tests.api.conftest import assert_problem

MONDAY = date(2027, 1, 11)


def test_staff_record_an_absence_read_the_board_and_assign_cover(
    api_as, make_user, make_group, make_series
):
    ada, dee = make_user("mentor", name="Ada"), make_user("mentor", name="Dee")
    maths = make_group("Maths", mentor=ada)
    make_series(maths, weekdays=(0,), start=time(9), end=time(10), first_date=MONDAY)
    staff = api_as("coordinator")
    staff.post("/api/v1/generate", {"start": MONDAY.isoformat(), "weeks": 1})
    created = staff.post(
        "/api/v1/absences", {"mentor": ada.id, "first_day": "2027-01-11"}, status=201
    )
    assert created.json["status"] == "confirmed" and created.json["days"] == "Mon 11 Jan 2027"
    (need,) = staff.get("/api/v1/cover", {"date": "2027-01-11"}).json
    assert (need["state"], need["absent"]["name"]) == ("open", "Ada")
    assert [s["mentor"]["name"] for s in need["substitutes"]] == ["Dee"]
    covered = staff.put(f"/api/v1/sessions/{need['session']}/cover", {"mentor": dee.id}).json
    assert (covered["state"], covered["teacher"]["name"]) == ("covered", "Dee")
    assert db.session.get(Occurrence, need["session"]).cover_mentor_id == dee.id
    back = staff.put(f"/api/v1/sessions/{need['session']}/cover", {"mentor": None}).json
    assert back["teacher"]["name"] == "Ada"


def test_a_mentor_reports_their_own_absence_and_sees_only_theirs(api_as, make_user):
    ada = make_user("mentor", name="Ada")
    other = api_as("mentor")
    mine = (
        api_as(ada)
        .post(
            "/api/v1/absences",
            {"first_day": "2027-01-11", "start": "13:00", "end": "15:00"},
            status=201,
        )
        .json
    )
    assert (mine["status"], mine["all_day"], mine["mentor"]["name"]) == ("pending", False, "Ada")
    assert_problem(other.get(f"/api/v1/absences/{mine['id']}", status=404), 404)
    assert other.get("/api/v1/absences").json["items"] == []
    assert_problem(
        api_as(ada).patch(f"/api/v1/absences/{mine['id']}", {"status": "confirmed"}, status=403),
        403,
    )
    decided = (
        api_as("coordinator").patch(f"/api/v1/absences/{mine['id']}", {"status": "declined"}).json
    )
    assert decided["status"] == "declined"


def test_bad_absences_are_problems_per_field(api_as, make_user):
    ada = make_user("mentor", name="Ada")
    staff = api_as("coordinator")
    body = assert_problem(
        staff.post(
            "/api/v1/absences",
            {"mentor": ada.id, "first_day": "2027-01-11", "start": "13:00"},
            status=422,
        ),
        422,
    )
    assert body["errors"] == {
        "end": "Give both times for part of a day, or neither for whole days."
    }
    body = assert_problem(
        staff.post("/api/v1/absences", {"first_day": "2027-01-11"}, status=422), 422
    )
    assert body["errors"] == {"mentor": "Choose a mentor."}
    assert db.session.scalar(select(func.count()).select_from(MentorAbsence)) == 0
