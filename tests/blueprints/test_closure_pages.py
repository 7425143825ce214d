"""The Closures page: staff add a holiday or a closed day (the sessions on it are cancelled at
once), see what it did, and remove it (they come back); bad input is named next to its field."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from models import Closure, Enrolment, Occurrence, OccurrenceStatus, db
from services.school_year import ClosureData, save_closure_record
from services.timetable.generation import generate_occurrences
from tests.conftest import PINNED_TODAY, csrf_token_of

pytestmark = pytest.mark.usefixtures("clock")

NEXT_MONDAY = PINNED_TODAY + timedelta(days=7 - PINNED_TODAY.weekday())


@pytest.fixture
def school(app, make_group, make_series):
    maths, art = make_group("Maths 7A"), make_group("Art 8B")
    make_series(maths, weekdays=(0, 2), first_date=NEXT_MONDAY)
    make_series(art, weekdays=(0,), first_date=NEXT_MONDAY)
    generate_occurrences(NEXT_MONDAY, NEXT_MONDAY + timedelta(weeks=2), tz=ZoneInfo("Europe/Paris"))
    db.session.commit()
    return maths, art


def statuses() -> list[str]:
    db.session.expire_all()
    return [
        str(s)
        for s in db.session.scalars(
            select(Occurrence.status).order_by(Occurrence.start_utc, Occurrence.group_id)
        )
    ]


def fill(form, **values):
    for name, value in values.items():
        form[name] = value
    return form


def test_staff_add_a_closure_its_sessions_are_cancelled_and_removing_it_brings_them_back(
    web, login_as, school
):
    login_as("coordinator")
    page = web.get("/timetable/closures")
    assert "No closures." in page.text
    form = fill(
        page.forms["closure-form"],
        name="Snow day",
        kind="closed",
        first_day=NEXT_MONDAY.isoformat(),
        last_day=NEXT_MONDAY.isoformat(),
    )
    listed = form.submit().follow()
    assert "Snow day added: 2 sessions cancelled." in listed.text
    assert statuses()[:3] == ["cancelled", "cancelled", "scheduled"]
    row = listed.html.find(id=f"closure-{db.session.scalar(select(Closure.id))}")
    assert "The whole school" in row.text and "School closed" in row.text

    (remove,) = [f for f in listed.forms.values() if f.action.endswith("/delete")]
    removed = remove.submit().follow()
    assert "Snow day removed: 2 sessions back on." in removed.text
    assert set(statuses()) == {"scheduled"}
    assert db.session.scalar(select(func.count()).select_from(Closure)) == 0


def test_a_closure_of_some_groups_is_named_line_by_line(web, login_as, school):
    _, art = school
    login_as("coordinator")
    form = fill(
        web.get("/timetable/closures").forms["closure-form"],
        name="Art trip",
        first_day=NEXT_MONDAY.isoformat(),
        last_day=(NEXT_MONDAY + timedelta(days=7)).isoformat(),
        scope="groups",
        groups="art 8b\n\n",
    )
    listed = form.submit().follow()
    assert "Art trip added: 2 sessions cancelled." in listed.text
    cancelled = db.session.scalars(
        select(Occurrence.group_id).where(Occurrence.status == OccurrenceStatus.CANCELLED)
    ).all()
    assert set(cancelled) == {art.id}


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"name": ""}, "name", "Enter the closure's name."),
        ({"first_day": ""}, "first_day", "Enter the first day (YYYY-MM-DD)."),
        ({"last_day": "day"}, "last_day", "Not a valid date value."),
        ({"last_day": "PREVIOUS"}, "last_day", "The last day cannot be before the first day."),
        ({"scope": "groups", "groups": ""}, "groups", "Name the groups it closes, one per line."),
        (
            {"scope": "groups", "groups": "Maths 7A\nDrama\nChoir"},
            "groups",
            "No group is named Drama, Choir.",
        ),
    ],
)
def test_bad_input_is_named_next_to_its_field_and_changes_nothing(
    web, login_as, school, values, field, message
):
    login_as("coordinator")
    good = {
        "name": "Holiday",
        "first_day": NEXT_MONDAY.isoformat(),
        "last_day": NEXT_MONDAY.isoformat(),
    }
    if values.get("last_day") == "PREVIOUS":
        values = {"last_day": (NEXT_MONDAY - timedelta(days=1)).isoformat()}
    before = statuses()
    page = fill(web.get("/timetable/closures").forms["closure-form"], **{**good, **values})
    answer = page.submit(status=422)
    error = answer.html.find(id=f"{field}-error")
    assert error is not None and message in error.text, answer.html.find(id="closure-form")
    assert answer.html.find(id="add-closure").has_attr("open")
    assert statuses() == before
    assert db.session.scalar(select(func.count()).select_from(Closure)) == 0


@pytest.mark.parametrize("role", ["mentor", "student"])
def test_only_staff_reach_closures(web, login_as, school, role):
    login_as(role)
    assert web.get("/timetable/closures", expect_errors=True).status_int in (403, 404)
    assert web.post("/timetable/closures/1/delete", expect_errors=True).status_int in (
        400,
        403,
        404,
    )


def test_removing_from_the_confirming_button_loads_the_list_with_its_message(web, login_as, school):
    login_as("coordinator")
    form = fill(
        web.get("/timetable/closures").forms["closure-form"],
        name="Snow day",
        first_day=NEXT_MONDAY.isoformat(),
        last_day=NEXT_MONDAY.isoformat(),
    )
    listed = form.submit().follow()
    closure_id = db.session.scalar(select(Closure.id))
    answer = web.post(
        f"/timetable/closures/{closure_id}/delete",
        headers={"HX-Request": "true", "X-CSRFToken": csrf_token_of(listed)},
    )
    assert answer.status_int == 200 and answer.headers["HX-Redirect"] == "/timetable/closures"
    assert "Snow day removed: 2 sessions back on." in web.get("/timetable/closures").text


def test_the_schedule_marks_closed_days_the_whole_schools_and_a_groups_own(
    web, login_as, make_user, school
):
    _, art = school
    save_closure_record(ClosureData("Staff day", NEXT_MONDAY, NEXT_MONDAY))
    tuesday = NEXT_MONDAY + timedelta(days=1)
    save_closure_record(ClosureData("Art trip", tuesday, tuesday, group_ids=[art.id]))
    student = make_user("student")
    db.session.add(Enrolment(group_id=art.id, student_id=student.id))
    db.session.commit()

    def closed_headers(page) -> list[str]:
        return [" ".join(th.text.split()) for th in page.html.select("th.is-closed")]

    login_as("coordinator")
    week = web.get(f"/schedule/?date={NEXT_MONDAY}")
    assert closed_headers(week) == [
        f"{NEXT_MONDAY:%a %d %b} Closed: Staff day"
    ]  # the Art trip is Art's: shown on Art's week
    art_week = web.get(f"/schedule/?date={NEXT_MONDAY}&group={art.id}")
    assert [h.split(" Closed: ")[1] for h in closed_headers(art_week)] == ["Staff day", "Art trip"]
    month = web.get(f"/schedule/month?date={NEXT_MONDAY}")
    assert [
        " ".join(td.select_one(".closed-day").text.split())
        for td in month.html.select("td.is-closed")
    ] == ["Closed: Staff day"]
    web.get("/auth/logout", expect_errors=True)
    web.reset()
    login_as(student)
    mine = web.get(f"/schedule/mine?date={NEXT_MONDAY}")
    assert [h.split(" Closed: ")[1] for h in closed_headers(mine)] == ["Staff day", "Art trip"]


def test_closures_imported_from_a_file_all_or_nothing(web, login_as, school):
    login_as("coordinator")
    day = NEXT_MONDAY.isoformat()
    form = web.get("/timetable/closures").forms["closure-import-form"]
    form["file"] = (
        "closures.csv",
        f"name,first_day,groups\nSnow,{day},\nTrip,{day},Drama\n".encode(),
    )
    refused = form.submit(status=422)
    errors = refused.html.find(id="import-errors")
    assert "line 3: no group named Drama" in errors.text
    assert refused.html.find(id="import-closures").has_attr("open")
    assert db.session.scalar(select(func.count()).select_from(Closure)) == 0

    form = refused.forms["closure-import-form"]
    form["file"] = ("closures.csv", f"name,first_day,groups\nSnow,{day},\n".encode())
    listed = form.submit().follow()
    assert "Imported closures.csv: 1 closure, 2 sessions cancelled, 0 kept." in listed.text

    form = listed.forms["closure-import-form"]
    answer = form.submit(status=422)
    assert "Choose a .csv or .ics file." in answer.html.find(id="file-error").text


def test_a_closure_is_changed_in_place_and_its_sessions_follow(web, login_as, school):
    login_as("coordinator")
    closure = save_closure_record(ClosureData("Snow day", NEXT_MONDAY, NEXT_MONDAY))
    db.session.commit()
    page = web.get("/timetable/closures")
    token = csrf_token_of(page)
    htmx = {"HX-Request": "true", "X-CSRFToken": token}
    editor = web.get(f"/timetable/closures/{closure.id}/edit", headers={"HX-Request": "true"})
    row = editor.html.find(id=f"closure-{closure.id}")
    assert row.find("input", attrs={"name": f"closure{closure.id}-name"})["value"] == "Snow day"

    tuesday = NEXT_MONDAY + timedelta(days=1)
    fields = {
        f"closure{closure.id}-name": "Snow days",
        f"closure{closure.id}-kind": "closed",
        f"closure{closure.id}-first_day": NEXT_MONDAY.isoformat(),
        f"closure{closure.id}-last_day": (NEXT_MONDAY + timedelta(days=2)).isoformat(),
        f"closure{closure.id}-scope": "school",
    }
    saved = web.post(f"/timetable/closures/{closure.id}/edit", fields, headers=htmx)
    assert "Snow days" in saved.html.find(id=f"closure-{closure.id}").text
    assert "Snow days saved: 3 sessions cancelled." in saved.headers["HX-Trigger"]
    assert statuses()[:4] == ["cancelled", "cancelled", "cancelled", "scheduled"]
    assert tuesday.weekday() == 1  # Mondays and Wednesdays: three sessions on Mon-Wed

    # Without JavaScript: the editor's page; bad input is named and changes nothing.
    bad = {**fields, f"closure{closure.id}-last_day": (NEXT_MONDAY - timedelta(days=1)).isoformat()}
    refused = web.post(
        f"/timetable/closures/{closure.id}/edit", {**bad, "csrf_token": token}, status=422
    )
    assert (
        "The last day cannot be before the first day."
        in refused.html.find(id=f"closure{closure.id}-last_day-error").text
    )
    assert statuses()[:4] == ["cancelled", "cancelled", "cancelled", "scheduled"]
    form = web.get(f"/timetable/closures/{closure.id}/edit").forms["closure-edit-form"]
    form[f"closure{closure.id}-last_day"] = NEXT_MONDAY.isoformat()
    listed = form.submit().follow()
    assert "Snow days saved: 1 session back on." in listed.text
    assert statuses()[:4] == ["cancelled", "cancelled", "scheduled", "scheduled"]


def test_staff_review_a_countrys_public_holidays_and_add_the_ticked_ones(web, login_as, school):
    login_as("coordinator")
    easter = "2027-03-29"
    chooser = web.get("/timetable/closures").click("Add public holidays")
    # The organisation's zone (Europe/Paris) says which country; the coming twelve months.
    assert chooser.html.find(id="country").find("option", selected=True)["value"] == "FR"
    form = chooser.forms["holiday-chooser"]
    form["first_day"], form["last_day"] = "2027-03-01", "2027-05-31"
    shown = form.submit()
    days = [i["value"] for i in shown.html.select("#holiday-form input[name=day]")]
    assert days == [easter, "2027-05-01", "2027-05-06", "2027-05-08", "2027-05-17"]
    # A region narrows or widens the list (htmx swaps the chooser and the list in place).
    alsace = web.get(
        "/timetable/closures/public-holidays",
        {"country": "FR", "region": "6AE", "first_day": "2027-03-01", "last_day": "2027-05-31"},
        headers={"HX-Request": "true"},
    )
    assert alsace.html.find(id="public-holidays") is not None
    assert "Good Friday" in alsace.text and "<html" not in alsace.text

    review = shown.forms["holiday-form"]
    for box in review.fields["day"]:
        if box._value not in (easter, "2027-05-01"):
            box.checked = False
    listed = review.submit().follow()
    assert "2 public holidays added as closures." in listed.text
    names = db.session.scalars(select(Closure.name).order_by(Closure.first_day)).all()
    assert names == ["Easter Monday", "Labor Day"]


def test_bad_public_holiday_choices_are_named_and_add_nothing(web, login_as, school):
    login_as("coordinator")
    page = web.get(
        "/timetable/closures/public-holidays",
        {"country": "FR", "first_day": "2027-05-01", "last_day": "2027-04-01"},
    )
    assert (
        "The last day cannot be before the first day." in page.html.find(id="last_day-error").text
    )
    assert page.html.find(id="holiday-form") is None
    token = csrf_token_of(page)
    refused = web.post(
        "/timetable/closures/public-holidays",
        {"csrf_token": token, "country": "FR", "first_day": "2027-03-01",
         "last_day": "2027-05-31", "day": ["2027-03-29", "2027-03-30"]},
        status=422,
    )  # fmt: skip
    assert "Not a public holiday of this country and range: Tue 30 Mar 2027." in (
        refused.html.find(id="days-error").text
    )
    nothing = web.post(
        "/timetable/closures/public-holidays",
        {"csrf_token": token, "country": "FR", "first_day": "2027-03-01", "last_day": "2027-05-31"},
        status=422,
    )
    assert "Tick the holidays to add." in nothing.html.find(id="days-error").text
    assert db.session.scalar(select(func.count()).select_from(Closure)) == 0
