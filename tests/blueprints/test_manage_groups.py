"""Management pages for course groups: the list, the group form, series and enrolments."""

from __future__ import annotations

from datetime import date, time
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from models import CourseGroup, Enrolment, Series, Subject, db
from services.school_year import TermData, YearData, save_term, save_year
from tests.conftest import csrf_token_of

PARTIAL = {"HX-Request": "true", "HX-Request-Type": "partial"}
DASH = "\u2013"


def hx_post(web, url, params, **kwargs):
    token = csrf_token_of(web.get("/manage/"))
    return web.post(url, params, headers={**PARTIAL, "X-CSRFToken": token}, **kwargs)


def fresh(model, ident):
    db.session.expire_all()
    return db.session.get(model, ident)


def count(model) -> int:
    return db.session.scalar(select(func.count(model.id)))


@pytest.fixture
def group(make_group, make_user, make_room):
    return make_group(
        "Maths 7A", subject="Maths", mentor=make_user("mentor", name="Ada"), room=make_room("Lab")
    )


def series_params(room_id, **overrides):
    params = {
        "weekdays": ["0", "2"],
        "every_weeks": "1",
        "start_time": "10:00",
        "end_time": "11:30",
        "room": str(room_id),
        "mode": "in_person",
        "first_date": "2026-09-07",
        "last_date": "",
    }
    params.update(overrides)
    return params


def new(params: dict) -> dict:
    return {f"new-{k}": v for k, v in params.items()}


# --- Access -------------------------------------------------------------------------------------


def group_routes(group_id, series_id, enrolment_id):
    return [
        ("GET", "/manage/groups"),
        ("GET", "/manage/groups/new"),
        ("POST", "/manage/groups/new"),
        ("GET", f"/manage/groups/{group_id}"),
        ("GET", f"/manage/groups/{group_id}/edit"),
        ("POST", f"/manage/groups/{group_id}/edit"),
        ("POST", f"/manage/groups/{group_id}/series"),
        ("GET", f"/manage/series/{series_id}"),
        ("GET", f"/manage/series/{series_id}/edit"),
        ("POST", f"/manage/series/{series_id}/edit"),
        ("POST", f"/manage/series/{series_id}/end"),
        ("GET", f"/manage/groups/{group_id}/students/search?q=a"),
        ("POST", f"/manage/groups/{group_id}/enrolments"),
        ("POST", f"/manage/groups/{group_id}/enrolments/{enrolment_id}/delete"),
    ]


@pytest.mark.parametrize("role", ["student", "mentor"])
def test_students_and_mentors_are_refused_every_group_route(
    web, login_as, make_user, make_series, group, role
):
    series = make_series(group)
    student = make_user("student")
    enrolment = Enrolment(group_id=group.id, student_id=student.id)
    db.session.add(enrolment)
    db.session.commit()
    login_as(role)
    csrf = csrf_token_of(web.get("/sessions/today/"))
    for method, url in group_routes(group.id, series.id, enrolment.id):
        if method == "GET":
            response = web.get(url, status=403)
        else:
            response = web.post(
                url,
                {"name": "Hacked", "last_date": "2026-09-07", "student": str(student.id)},
                headers={"X-CSRFToken": csrf},
                status=403,
            )
        assert "Not allowed" in response.text, (method, url)  # our words, not Werkzeug's
    assert fresh(CourseGroup, group.id).name == "Maths 7A"
    assert fresh(Series, series.id).last_date is None
    assert count(Enrolment) == 1


def test_anonymous_users_are_sent_to_login(web, make_series, group):
    series = make_series(group)
    for method, url in group_routes(group.id, series.id, 1):
        if method == "GET":
            assert urlsplit(web.get(url, status=302).headers["Location"]).path == "/auth/login"


def test_unknown_ids_are_404(web, login_as, make_series, group):
    series = make_series(group)
    login_as("coordinator")
    for url in (
        "/manage/groups/999",
        "/manage/groups/999/edit",
        "/manage/series/999",
        "/manage/series/999/edit",
        "/manage/groups/999/students/search?q=a",
    ):
        web.get(url, status=404)
    hx_post(web, "/manage/groups/999/series", {}, status=404)
    hx_post(web, "/manage/series/999/end", {"last_date": "2026-10-01"}, status=404)
    hx_post(web, "/manage/groups/999/enrolments", {"student": "1"}, status=404)
    hx_post(web, f"/manage/groups/{group.id}/enrolments/999/delete", {}, status=404)
    assert fresh(Series, series.id).last_date is None


def test_csrf_is_required(web, login_as, make_series, group):
    series = make_series(group)
    login_as("coordinator")
    web.post(f"/manage/series/{series.id}/end", {"last_date": "2026-10-01"}, status=400)
    web.post(f"/manage/groups/{group.id}/series", new(series_params(1)), status=400)
    assert fresh(Series, series.id).last_date is None and count(Series) == 1


# --- Groups -------------------------------------------------------------------------------------


def test_group_list_search_filter_and_pagination(web, login_as, make_group, make_user):
    mentor = make_user("mentor", name="Grace Hopper")
    for n in range(22):
        make_group(f"Group {n:02d}")
    make_group("Physics 9", mentor=mentor, subject="Physics")
    make_group("Closed", active=False, subject="Old")
    login_as("coordinator")
    page = web.get("/manage/groups")
    assert len(page.html.select("#groups-list tbody tr")) == 20 and "Page 1 of 2" in page.text
    for q in ("physics", "GRACE"):
        rows = web.get("/manage/groups", {"q": q}).html.select("#groups-list tbody tr")
        assert [r.find("a").text for r in rows] == ["Physics 9"], q
    rows = web.get("/manage/groups", {"status": "inactive"}).html.select("#groups-list tbody tr")
    assert [r.find("a").text for r in rows] == ["Closed"]
    fragment = web.get("/manage/groups", {"q": "phys"}, headers=PARTIAL)
    assert fragment.text.lstrip().startswith('<div id="groups-list">')


def test_create_a_group_offers_only_active_choices(web, login_as, make_user, make_room):
    make_user("mentor", name="Ada")
    make_user("mentor", name="Retired", active=False)
    make_user("student", name="Not a mentor")
    room = make_room("Lab")
    make_room("Shut", active=False)
    db.session.add_all([Subject(name="Maths"), Subject(name="Latin", active=False)])
    db.session.commit()
    login_as("coordinator")
    form = web.get("/manage/groups/new").forms["group-form"]
    labels = lambda name: [text for _, _, text in form[name].options]  # noqa: E731
    assert labels("subject") == ["Choose a subject", "Maths"]
    # The mentor and the room are typed: their suggestions offer only active ones.
    suggested = lambda kind: [  # noqa: E731
        li["data-name"]
        for li in web.get(f"/schedule/choices/{kind}?{kind}_q=", headers=PARTIAL).html("li")
        if li.get("role") == "option"
    ]
    assert suggested("mentor") == ["Ada"] and suggested("room") == ["Lab"]
    form["name"] = "Maths 7A"
    form.select("subject", text="Maths")
    form["mentor_q"] = "ada"
    form["default_room_q"] = "lab"
    page = form.submit().follow()
    assert "Maths 7A (group) created." in page.text
    group = db.session.scalar(select(CourseGroup))
    assert (group.name, group.default_room_id, group.active) == ("Maths 7A", room.id, True)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "Enter the group's name."),
        ("name", "maths 7a", "A group named maths 7a already exists."),
        ("subject", "0", "Choose the subject."),
        ("subject", "999", "Choose a subject from the list."),
        ("mentor", "0", "Choose the mentor."),
        ("mentor", "999", "Choose a mentor from the list."),
        ("default_room", "999", "Choose a room from the list."),
    ],
)
def test_group_validation_messages(web, login_as, group, field, value, message):
    login_as("coordinator")
    params = {
        "name": "New group",
        "subject": str(group.subject_id),
        "mentor": str(group.mentor_id),
        "default_room": "0",
        "active": "y",
        "csrf_token": csrf_token_of(web.get("/manage/")),
    }
    params[field] = value
    page = web.post("/manage/groups/new", params, status=422)
    typed = {"mentor": "mentor_q", "default_room": "default_room_q"}  # typed, with suggestions
    assert message in page.html.find(id=f"{typed.get(field, field)}-error").text
    assert page.forms["group-form"]["name"].value == params["name"]
    assert count(CourseGroup) == 1


def test_deactivated_choices_are_refused_but_can_be_kept(web, login_as, group, make_user):
    retired = make_user("mentor", name="Retired", active=False)
    group.subject.active = False
    db.session.commit()
    login_as("coordinator")
    form = web.get(f"/manage/groups/{group.id}/edit").forms["group-form"]
    # The current subject stays selectable (marked), so renaming the group still works.
    assert "Maths (deactivated)" in [t for _, _, t in form["subject"].options]
    form["name"] = "Maths 7B"
    form["active"] = False
    form.submit().follow()
    fresh_group = fresh(CourseGroup, group.id)
    assert (fresh_group.name, fresh_group.active) == ("Maths 7B", False)
    params = dict(form.submit_fields())
    # Typed, a deactivated mentor names nobody; sent by id (a script), the service refuses it.
    params["mentor_q"] = "Retired"
    page = web.post(f"/manage/groups/{group.id}/edit", params, status=422)
    assert "No mentor matches 'Retired'." in page.html.find(id="mentor_q-error").text
    del params["mentor_q"]
    params["mentor"] = str(retired.id)
    page = web.post(f"/manage/groups/{group.id}/edit", params, status=422)
    assert "Retired's account is deactivated; choose an active mentor." in (
        page.html.find(id="mentor_q-error").text
    )


# --- Series -------------------------------------------------------------------------------------


def test_add_a_series_with_htmx_shows_the_regenerate_hint(web, login_as, group):
    login_as("coordinator")
    page = web.get(f"/manage/groups/{group.id}")
    assert page.forms["series-form"]["new-room"].value == str(group.default_room_id)
    section = hx_post(
        web,
        f"/manage/groups/{group.id}/series",
        new(series_params(group.default_room_id, every_weeks="2", last_date="2026-12-18")),
    )
    root = section.html.find("section")
    assert root["id"] == "series-section"
    series = db.session.scalar(select(Series))
    row = root.find(id=f"series-{series.id}")
    assert "Mon, Wed, every 2 weeks" in row.text and f"10:00{DASH}11:30" in row.text
    assert "07 Sep 2026 to 18 Dec 2026" in row.text
    hint = root.find("p", attrs={"role": "status"})
    assert "must be regenerated (with force)" in hint.text
    assert hint.find("a")["href"] == "/timetable/generate"
    assert "Series Mon, Wed 10:00 added." in section.headers["HX-Trigger"]
    assert (series.weekday_mask, series.every_weeks, series.end_time) == (0b101, 2, time(11, 30))


def test_add_a_series_without_javascript(web, login_as, group):
    login_as("coordinator")
    form = web.get(f"/manage/groups/{group.id}").forms["series-form"]
    form["new-weekdays"] = ["4"]
    form["new-start_time"] = "14:00"
    form["new-end_time"] = "15:00"
    form["new-first_date"] = "2026-09-11"
    page = form.submit().follow()
    assert "Existing sessions follow only after generating again with force" in page.text
    assert "Fri" in page.html.find(id="series-table").text
    # The group page always says that sessions must be regenerated after a change.
    assert page.html.find(class_="regenerate-hint").find("a")["href"] == "/timetable/generate"


def test_a_series_runs_for_a_term_chosen_on_the_group_page(web, login_as, group, clock):
    year = save_year(YearData("2026-2027", date(2026, 9, 1), date(2027, 7, 9)))
    save_term(year, TermData("Autumn", date(2026, 9, 1), date(2026, 12, 18)))  # over by now
    summer = save_term(year, TermData("Summer", date(2027, 4, 19), date(2027, 7, 9)))
    db.session.commit()
    login_as("coordinator")
    form = web.get(f"/manage/groups/{group.id}").forms["series-form"]
    offered = [label for _, _, label in form["new-term"].options]
    assert offered == ["Between the dates below", "For Summer 2026-2027 (19 Apr to 09 Jul 2027)"]
    form["new-weekdays"] = ["1"]
    form["new-start_time"], form["new-end_time"] = "14:00", "15:00"
    form["new-term"] = str(summer.id)
    page = form.submit().follow()
    row = page.html.find(id="series-table").find("tbody").find("tr")
    assert "For Summer: from 19 Apr 2027 to 09 Jul 2027" in " ".join(row.text.split())


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"weekdays": []}, "weekdays", "Choose at least one weekday."),
        ({"weekdays": ["7"]}, "weekdays", "Choose weekdays from Monday to Sunday."),
        ({"end_time": "10:00"}, "end_time", "The end time must be after the start time."),
        (
            {"end_time": "09:00"},
            "end_time",
            "The end time must be after the start time, or at most 12 hours later on the next day.",
        ),
        ({"start_time": ""}, "start_time", "Enter the start time."),
        ({"end_time": ""}, "end_time", "Enter the end time."),
        ({"end_time": "24:00"}, "end_time", "Not a valid time value."),
        ({"every_weeks": "0"}, "every_weeks", "Every N weeks must be between 1 and 52."),
        ({"every_weeks": "53"}, "every_weeks", "Every N weeks must be between 1 and 52."),
        ({"every_weeks": "three"}, "every_weeks", "Every N weeks is a whole number"),
        ({"every_weeks": ""}, "every_weeks", "Enter how many weeks apart"),
        ({"first_date": ""}, "first_date", "Choose the first date."),
        ({"first_date": "2026-02-30"}, "first_date", "Not a valid date value."),
        ({"first_date": "0001-01-01"}, "first_date", "Choose a date between"),
        ({"last_date": "2026-09-06"}, "last_date", "The last date cannot be before the first"),
        ({"room": "0"}, "room", "Choose a room for in-person sessions."),
        ({"room": "999"}, "room", "Choose a room from the list."),
        ({"mode": "hybrid"}, "mode", "Choose in person or online."),
    ],
)
def test_series_validation_messages_stay_in_the_form(
    web, login_as, group, overrides, field, message
):
    login_as("coordinator")
    params = new(series_params(group.default_room_id, **overrides))
    section = hx_post(web, f"/manage/groups/{group.id}/series", params, status=422)
    assert section.html.find("section")["id"] == "series-section"
    error_id = "new-room_q-error" if field == "room" else f"new-{field}-error"  # room: typed
    assert message in section.html.find(id=error_id).text
    assert count(Series) == 0
    # What was typed is still there.
    typed = section.html.find(id="new-start_time")
    assert typed["value"] == params["new-start_time"]


def test_a_deactivated_room_is_refused_for_a_new_series(web, login_as, group, make_room):
    shut = make_room("Shut", active=False)
    login_as("coordinator")
    section = hx_post(
        web, f"/manage/groups/{group.id}/series", new(series_params(shut.id)), status=422
    )
    assert "Shut (room) is deactivated; choose an active room." in section.text


def test_an_online_series_needs_no_room(web, login_as, group):
    login_as("coordinator")
    hx_post(web, f"/manage/groups/{group.id}/series", new(series_params("0", mode="online")))
    series = db.session.scalar(select(Series))
    assert (series.room_id, str(series.mode)) == (None, "online")


def test_edit_a_series_inline(web, login_as, make_series, group):
    series = make_series(group, weekdays=(0,))
    login_as("coordinator")
    editor = web.get(f"/manage/series/{series.id}/edit", headers=PARTIAL)
    row = editor.html.find("tr")
    assert row["id"] == f"series-{series.id}" and "editing" in row["class"]
    checked = [box["value"] for box in row.select("input[name=weekdays][checked]")]
    assert checked == ["0"]
    params = series_params(group.default_room_id, weekdays=["1", "3"], start_time="08:00")
    response = hx_post(web, f"/manage/series/{series.id}/edit", params)
    row = response.html.find("tr")
    assert row["id"] == f"series-{series.id}" and "Tue, Thu" in row.text
    assert "Regenerate with force" in row.text
    assert row.find("a", href="/timetable/generate") is not None
    assert fresh(Series, series.id).start_time == time(8)
    # Errors stay in the editor row.
    response = hx_post(
        web, f"/manage/series/{series.id}/edit", {**params, "end_time": "07:00"}, status=422
    )
    assert response.html.find(id="end_time-error").text == (
        "The end time must be after the start time, or at most 12 hours later on the next day."
    )
    # Cancel brings the plain row back; as a plain link it leads to the group page.
    assert web.get(f"/manage/series/{series.id}", headers=PARTIAL).html.find("tr")["id"] == (
        f"series-{series.id}"
    )
    location = web.get(f"/manage/series/{series.id}").headers["Location"]
    assert urlsplit(location).path == f"/manage/groups/{group.id}"


def test_edit_a_series_as_a_full_page(web, login_as, make_series, group):
    series = make_series(group)
    login_as("coordinator")
    page = web.get(f"/manage/series/{series.id}/edit")
    assert "<html" in page.text
    form = page.forms["series-edit-form"]
    form["every_weeks"] = "99"
    page = form.submit(status=422)
    assert "Every N weeks must be between 1 and 52." in page.text


def test_end_a_series(web, login_as, make_series, group):
    series = make_series(group, first_date=date(2026, 9, 7))
    login_as("coordinator")
    response = hx_post(
        web, f"/manage/series/{series.id}/end", {"last_date": "2026-09-01"}, status=422
    )
    assert "The last date cannot be before the first date (07 Sep 2026)." in response.text
    assert response.html.find("input", attrs={"name": "last_date"})["value"] == "2026-09-01"
    response = hx_post(web, f"/manage/series/{series.id}/end", {"last_date": ""}, status=422)
    assert "Choose the last date of the series." in response.text
    response = hx_post(web, f"/manage/series/{series.id}/end", {"last_date": "2026-12-18"})
    assert "to 18 Dec 2026" in response.html.find("tr").text
    assert "Series ends on Fri 18 Dec 2026." in response.headers["HX-Trigger"]
    assert fresh(Series, series.id).last_date == date(2026, 12, 18)
    assert count(Series) == 1  # ended, not deleted


def test_end_a_series_without_javascript_reports_errors_in_the_page(
    web, login_as, make_series, group
):
    series = make_series(group)
    login_as("coordinator")
    token = csrf_token_of(web.get("/manage/"))
    page = web.post(
        f"/manage/series/{series.id}/end", {"last_date": "2020-01-01", "csrf_token": token},
        status=422,
    )  # fmt: skip
    assert "<html" in page.text
    assert "cannot be before the first date" in page.html.find(id=f"end-{series.id}-error").text


# --- Enrolments ---------------------------------------------------------------------------------


def test_active_search_finds_active_students_not_yet_enrolled(web, login_as, make_user, group):
    noah = make_user("student", name="Noah Bernard", email="noah@school.test")
    enrolled = make_user("student", name="Noah Enrolled")
    make_user("student", name="Noah Gone", active=False)
    make_user("mentor", name="Noah Mentor")
    zoe = make_user("student", name="Zoe", email="znoah@school.test")  # matches by e-mail
    db.session.add(Enrolment(group_id=group.id, student_id=enrolled.id))
    db.session.commit()
    login_as("coordinator")
    page = web.get(f"/manage/groups/{group.id}")
    search = page.html.find(id="student-search")
    assert search["hx-trigger"].startswith("input changed delay:300ms")
    assert search["hx-get"] == f"/manage/groups/{group.id}/students/search"
    results = web.get(f"/manage/groups/{group.id}/students/search", {"q": "NOAH"}, headers=PARTIAL)
    root = results.html.find("div")
    assert root["id"] == "student-results"
    assert [li["id"] for li in root.find_all("li")] == [
        f"candidate-{noah.id}",
        f"candidate-{zoe.id}",
    ]
    assert "Noah Bernard" in root.text and "Enrolled" not in root.text
    assert "Gone" not in root.text and "Mentor" not in root.text
    assert (
        "No active student outside this group matches"
        in web.get(
            f"/manage/groups/{group.id}/students/search", {"q": "nobody"}, headers=PARTIAL
        ).text
    )
    # Without JavaScript the search form loads the group page with the results.
    plain = web.get(f"/manage/groups/{group.id}/students/search", {"q": "noah"})
    assert plain.status_int == 302
    page = plain.follow()
    assert "Noah Bernard" in page.html.find(id="student-results").text


def test_add_and_remove_a_student(web, login_as, make_user, group):
    student = make_user("student", name="Noah Bernard")
    login_as("coordinator")
    section = hx_post(
        web, f"/manage/groups/{group.id}/enrolments", {"student": str(student.id), "q": "noah"}
    )
    root = section.html.find("section")
    assert root["id"] == "students" and "Noah Bernard" in root.find(id="enrolments-table").text
    assert "Noah Bernard added to Maths 7A." in section.headers["HX-Trigger"]
    # The search is kept, and the student is no longer offered.
    assert root.find(id="student-search")["value"] == "noah"
    assert "Noah Bernard" not in root.find(id="student-results").text
    enrolment = db.session.scalar(select(Enrolment))
    assert enrolment.student_id == student.id

    again = hx_post(
        web, f"/manage/groups/{group.id}/enrolments", {"student": str(student.id)}, status=422
    )
    assert "Noah Bernard is already in Maths 7A." in again.html.find(id="student-error").text

    section = hx_post(web, f"/manage/groups/{group.id}/enrolments/{enrolment.id}/delete", {"q": ""})
    assert "No students enrolled yet." in section.text
    assert count(Enrolment) == 0


@pytest.mark.parametrize(
    ("who", "message"),
    [
        ("mentor", "Choose a student from the search results."),
        ("inactive", "account is deactivated; they cannot be enrolled."),
        ("missing", "Choose a student from the search results."),
        ("junk", "Choose a student from the search results."),
    ],
)
def test_enrolment_refusals(web, login_as, make_user, group, who, message):
    ids = {
        "mentor": str(make_user("mentor").id),
        "inactive": str(make_user("student", active=False).id),
        "missing": "999",
        "junk": "abc",
    }
    login_as("coordinator")
    section = hx_post(
        web, f"/manage/groups/{group.id}/enrolments", {"student": ids[who]}, status=422
    )
    assert message in section.html.find(id="student-error").text
    assert count(Enrolment) == 0


def test_an_enrolment_of_another_group_cannot_be_removed_through_this_one(
    web, login_as, make_user, make_group, group
):
    other = make_group("Other")
    student = make_user("student")
    enrolment = Enrolment(group_id=other.id, student_id=student.id)
    db.session.add(enrolment)
    db.session.commit()
    login_as("coordinator")
    hx_post(web, f"/manage/groups/{group.id}/enrolments/{enrolment.id}/delete", {}, status=404)
    assert count(Enrolment) == 1


def test_add_a_student_without_javascript(web, login_as, make_user, group):
    make_user("student", name="Noah Bernard")
    login_as("coordinator")
    page = web.get(f"/manage/groups/{group.id}", {"q": "noah"})
    add_form = next(f for f in page.forms.values() if f.action.endswith("/enrolments"))
    page = add_form.submit().follow()
    assert "Noah Bernard added to Maths 7A." in page.text
    assert "Noah Bernard" in page.html.find(id="enrolments-table").text
