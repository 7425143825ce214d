"""/years and /terms: every user reads them, staff write them; a series may run for a term."""

from __future__ import annotations

from datetime import date

from models import AcademicYear, Series, Term, db
from tests.api.conftest import assert_problem

YEAR = {"name": "2026-2027", "first_day": "2026-09-01", "last_day": "2027-07-09"}


def test_staff_build_a_year_and_its_terms_every_user_reads_them(api_as):
    staff = api_as("coordinator")
    year = staff.post("/api/v1/years", YEAR, status=201)
    year_id = year.json["id"]
    assert year.headers["Location"].endswith(f"/api/v1/years/{year_id}")
    for name, first, last in (
        ("Spring", "2027-01-04", "2027-03-26"),
        ("Autumn", "2026-09-01", "2026-12-18"),
    ):
        staff.post(
            f"/api/v1/years/{year_id}/terms",
            {"name": name, "first_day": first, "last_day": last},
            status=201,
        )
    listed = api_as("student").get("/api/v1/years").json["items"]
    assert [(y["name"], [t["name"] for t in y["terms"]]) for y in listed] == [
        ("2026-2027", ["Autumn", "Spring"])
    ]
    spring_id = listed[0]["terms"][1]["id"]
    changed = staff.patch(f"/api/v1/terms/{spring_id}", {"last_day": "2027-04-02"}).json
    assert (changed["name"], changed["last_day"], changed["year"]["name"]) == (
        "Spring",
        "2027-04-02",
        "2026-2027",
    )
    staff.delete(f"/api/v1/terms/{spring_id}", status=204)
    staff.delete(f"/api/v1/years/{year_id}", status=204)
    assert db.session.scalar(db.select(db.func.count()).select_from(Term)) == 0


def test_bad_years_and_terms_are_problems_per_field_and_change_nothing(api_as):
    staff = api_as("coordinator")
    body = assert_problem(
        staff.post("/api/v1/years", {**YEAR, "last_day": "2026-08-01"}, status=422), 422
    )
    assert body["errors"] == {"last_day": "The last day cannot be before the first day."}
    year_id = staff.post("/api/v1/years", YEAR, status=201).json["id"]
    term = {"name": "Summer", "first_day": "2027-06-01", "last_day": "2027-08-31"}
    body = assert_problem(staff.post(f"/api/v1/years/{year_id}/terms", term, status=422), 422)
    assert "lies within it" in body["errors"]["first_day"]
    body = assert_problem(
        staff.patch(f"/api/v1/years/{year_id}", {"first_day": "nope"}, status=422), 422
    )
    assert "first_day" in body["errors"]
    assert db.session.get(AcademicYear, year_id).first_day == date(2026, 9, 1)
    assert_problem(staff.get("/api/v1/terms/424242", status=404), 404)


def test_a_series_runs_for_a_term_and_leaves_it_when_given_dates(api_as, make_group):
    staff = api_as("coordinator")
    year_id = staff.post("/api/v1/years", YEAR, status=201).json["id"]
    term = staff.post(
        f"/api/v1/years/{year_id}/terms",
        {"name": "Spring", "first_day": "2027-01-04", "last_day": "2027-03-26"},
        status=201,
    ).json
    group = make_group()
    series = staff.post(
        "/api/v1/series",
        {
            "group": group.id,
            "weekdays": ["mon"],
            "start": "09:00",
            "end": "10:00",
            "term": term["id"],
        },
        status=201,
    ).json
    assert (series["first_date"], series["last_date"], series["term"]["name"]) == (
        "2027-01-04",
        "2027-03-26",
        "Spring",
    )
    staff.patch(f"/api/v1/terms/{term['id']}", {"first_day": "2027-01-05"})
    assert staff.get(f"/api/v1/series/{series['id']}").json["first_date"] == "2027-01-05"
    moved = staff.patch(f"/api/v1/series/{series['id']}", {"last_date": "2027-02-12"}).json
    assert (moved["first_date"], moved["last_date"], moved["term"]) == (
        "2027-01-05",
        "2027-02-12",
        None,
    )
    body = assert_problem(
        staff.post(
            "/api/v1/series",
            {"group": group.id, "weekdays": ["mon"], "start": "09:00", "end": "10:00"},
            status=422,
        ),
        422,
    )
    assert "first_date" in body["errors"]
    assert db.session.scalar(db.select(db.func.count()).select_from(Series)) == 1


def test_a_closure_is_changed_over_the_api(api_as):
    staff = api_as("coordinator")
    closure = staff.post(
        "/api/v1/closures",
        {"name": "Snow", "first_day": "2027-01-11", "last_day": "2027-01-11"},
        status=201,
    ).json
    changed = staff.patch(
        f"/api/v1/closures/{closure['id']}",
        {"name": "Snow days", "kind": "closed", "last_day": "2027-01-12"},
    ).json
    assert (changed["name"], changed["kind"], changed["last_day"]) == (
        "Snow days",
        "closed",
        "2027-01-12",
    )
    assert changed["restored"] == [] and changed["clashing"] == []
    body = assert_problem(
        staff.patch(f"/api/v1/closures/{closure['id']}", {"last_day": "2027-01-01"}, status=422),
        422,
    )
    assert body["errors"] == {"last_day": "The last day cannot be before the first day."}


def test_whole_day_changes_over_the_api_preview_then_apply(api_as, make_group, make_series):
    group = make_group("Maths")
    make_series(group, weekdays=(0,), first_date=date(2027, 1, 11))
    staff = api_as("coordinator")
    staff.post("/api/v1/generate", {"start": "2027-01-11", "weeks": 1})
    body = {"action": "run_as", "day": "2027-01-13", "runs_as": "2027-01-11", "preview": True}
    preview = staff.post("/api/v1/day-changes", body, status=200).json
    assert preview["preview"] and preview["closure"] is None
    assert [(s["group"], s["when"]) for s in preview["made"]] == [
        ("Maths", "Wed 13 Jan 10:00-11:00")
    ]
    done = staff.post("/api/v1/day-changes", {**body, "preview": False}, status=201)
    assert done.json["closure"]["runs_as"] == "2027-01-11"
    assert done.headers["Location"].endswith(f"/api/v1/closures/{done.json['closure']['id']}")
    again = assert_problem(
        staff.post("/api/v1/day-changes", {**body, "preview": False}, status=422), 422
    )
    assert again["errors"] == {
        "day": "Wed 13 Jan 2027 is already closed (Monday 11 Jan's timetable):"
        " remove that closure first."
    }
    wrong = assert_problem(
        staff.post(
            "/api/v1/day-changes",
            {"action": "cancel", "day": "2027-01-13", "runs_as": "2027-01-11"},
            status=422,
        ),
        422,
    )
    assert wrong["errors"] == {"runs_as": "Only a make-up day (run_as) takes runs_as or groups."}
