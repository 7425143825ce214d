"""Choosing by typing beyond the schedule: the monitoring filters (mentor, group), the
one-time session form (group, room), a session's edit form (room) and the exceptions page
(group filter, a new exception's series and room, an exception's room). With JavaScript the
fields fetch suggestions as you type; without it the text is resolved when the form is sent;
either way no page lists the whole school, so none grows with it."""

from __future__ import annotations

from datetime import time

import pytest
from sqlalchemy import func, select

from models import CourseGroup, DateOverride, Occurrence, Subject, db
from tests.blueprints.test_timetable_pages import TERM, generate


def count(model) -> int:
    return db.session.scalar(select(func.count(model.id)))


@pytest.fixture
def school(make_user, make_room, make_group, make_series):
    """Maths 7A and Maths 7B (Ada, R101 and Lab 1), Art 7A (Ben, Lab 2) with two series."""
    ada = make_user("mentor", name="Ada Lovelace", email="ada@school.test")
    ben = make_user("mentor", name="Ben Okri")
    r101, lab1, lab2 = (make_room(n) for n in ("R101", "Lab 1", "Lab 2"))
    maths_a = make_group("Maths 7A", mentor=ada, room=r101)
    maths_b = make_group("Maths 7B", mentor=ada, room=lab1)
    art = make_group("Art 7A", mentor=ben, room=lab2)
    series = {
        "maths_a_series": make_series(maths_a, weekdays=(0,), start=time(9), end=time(10)),
        "maths_b_series": make_series(maths_b, weekdays=(1,), start=time(9), end=time(10)),
        "art_mon": make_series(art, weekdays=(0,), start=time(14), end=time(15)),
        "art_wed": make_series(art, weekdays=(2,), start=time(14), end=time(15)),
    }
    generate()
    return {
        "ada": ada, "ben": ben, "r101": r101, "lab1": lab1, "lab2": lab2,
        "maths_a": maths_a, "maths_b": maths_b, "art": art, **series,
    }  # fmt: skip


def grow_the_school(make_room, make_user, make_group, make_series, n=120):
    """n more rooms, mentors, groups and series (of one subject: subjects are a short list,
    40 at issue 14's 5,000 series, and stay a <select>)."""
    subject = db.session.scalar(select(Subject).limit(1))
    for i in range(n):
        room = make_room(f"Extra room {i:03d}")
        mentor = make_user("mentor", name=f"Extra {i:03d}")
        group = make_group(f"Extra group {i:03d}", mentor=mentor, room=room, subject=subject)
        make_series(group, weekdays=(3,), start=time(8), end=time(9))


def options(fragment) -> list[str]:
    return [li["data-name"] for li in fragment.html.find_all("li", role="option")]


# --- Suggestions -----------------------------------------------------------------------------


def test_suggestions_for_any_typed_field_name_its_listbox_and_series_by_group(
    htmx, login_as, school
):
    login_as("coordinator")
    fragment = htmx.get("/schedule/choices/group?list=group_q-list&group_q=math")
    assert fragment.html.find("ul")["id"] == "group_q-list"
    assert options(fragment) == ["Maths 7A", "Maths 7B"]
    # A field named otherwise than its kind (`field`): its text is `<field>_q`.
    rooms = htmx.get("/schedule/choices/room?list=x-list&field=default_room&default_room_q=lab")
    assert options(rooms) == ["Lab 1", "Lab 2"]
    series = htmx.get("/schedule/choices/series?list=series_q-list&series_q=art")
    assert options(series) == [
        "Art 7A: Mon 14:00-15:00 (Lab 2)",
        "Art 7A: Wed 14:00-15:00 (Lab 2)",
    ]
    assert series.html.find("li")["data-id"] == str(school["art_mon"].id)
    htmx.get("/schedule/choices/room?list=<script>&room_q=a", status=400)
    htmx.get("/schedule/choices/room?list=a-list&field=a.b&room_q=a", status=400)


# --- Monitoring ------------------------------------------------------------------------------


def test_monitor_filters_typed_without_javascript(web, login_as, school):
    login_as("coordinator")
    page = web.get("/tracking/")
    assert page.html.find("select", attrs={"name": "mentor"}) is None
    form = page.forms["monitor-filters"]
    form["mentor_q"] = "ben"
    response = form.submit()
    assert response.status_int == 303
    assert f"mentor={school['ben'].id}" in response.location
    assert "mentor_q" not in response.location
    page = response.follow()
    assert page.html.find(id="filter-mentor")["value"] == "Ben Okri"
    remove = page.html.find("button", attrs={"name": "clear", "value": "mentor"})
    assert "Ben Okri" in remove["aria-label"]
    # Several: said beside the field, with a link to each; the filter stays as it was.
    form = page.forms["monitor-filters"]
    form["group_q"] = "maths"
    refused = form.submit(status=422)
    error = refused.html.find(id="filter-group-error")
    assert "Several groups match 'maths': Maths 7A, Maths 7B." in error.text
    links = {a.text: a["href"] for a in error.find_all("a")}
    assert f"group={school['maths_b'].id}" in links["Maths 7B"]
    assert f"mentor={school['ben'].id}" in links["Maths 7B"]
    assert refused.html.find(id="filter-group")["value"] == "maths"
    form["group_q"] = "Chemistry"
    refused = form.submit(status=422)
    assert "No group matches 'Chemistry'." in refused.html.find(id="filter-group-error").text
    # The remove button.
    form["group_q"] = ""
    cleared = form.submit("clear", value="mentor")
    assert cleared.status_int == 303 and "mentor=" not in cleared.location


def test_monitor_filters_typed_with_htmx_and_bookmarked_ids(web, htmx, login_as, school):
    login_as("coordinator")
    ada = school["ada"]
    response = htmx.get(f"/tracking/?mentor_q=Ada+Lovelace&mentor={ada.id}&group_q=&status=any")
    assert response.status_int == 200
    assert response.headers["HX-Push-Url"] == f"/tracking/?mentor={ada.id}&status=any"
    assert response.text.lstrip().startswith('<div id="monitor-results"')
    form = response.html.find("form", id="monitor-filters")
    assert form["hx-swap-oob"] == "true"
    assert form.find(id="filter-mentor")["value"] == "Ada Lovelace"
    refused = htmx.get("/tracking/?mentor_q=nobody&group_q=", status=422)
    assert "No mentor matches 'nobody'." in refused.html.find(id="filter-mentor-error").text
    # An old link with ids: filtered, the names shown.
    page = web.get(f"/tracking/?mentor={ada.id}&group={school['maths_a'].id}")
    assert page.html.find(id="filter-mentor")["value"] == "Ada Lovelace"
    assert page.html.find(id="filter-group")["value"] == "Maths 7A"


def test_the_monitor_page_does_not_grow_with_the_school(
    web, login_as, school, make_room, make_user, make_group, make_series
):
    login_as("coordinator")
    web.get("/tracking/")  # the welcome message shown once
    before = web.get("/tracking/").body
    grow_the_school(make_room, make_user, make_group, make_series)
    after = web.get("/tracking/").body
    assert len(after) == len(before)
    assert after.count(b"<option") == before.count(b"<option") == 4  # the statuses


# --- The one-time session form and a session's edit form --------------------------------------


def test_a_one_time_session_typed_without_javascript(web, login_as, school):
    login_as("coordinator")
    form = web.get("/sessions/new").forms["new-session-form"]
    form["group_q"], form["room_q"] = "7b", "r10"  # unique parts of names
    form["date"], form["start"], form["end"] = TERM.isoformat(), "16:00", "17:00"
    form.submit(status=302)
    created = db.session.scalar(select(Occurrence).where(Occurrence.series_id.is_(None)))
    assert created.group_id == school["maths_b"].id and created.room_id == school["r101"].id


def test_a_one_time_session_with_several_or_no_matches_is_refused_beside_the_field(
    web, htmx, login_as, school
):
    login_as("coordinator")
    before = count(Occurrence)
    form = web.get("/sessions/new").forms["new-session-form"]
    form["group_q"], form["room_q"] = "Maths", "Attic"
    form["date"], form["start"], form["end"] = TERM.isoformat(), "16:00", "17:00"
    page = form.submit(status=422)
    assert (
        "Several groups match 'Maths': Maths 7A, Maths 7B."
        in page.html.find(id="group_q-error").text
    )
    assert "No room matches 'Attic'." in page.html.find(id="room_q-error").text
    assert page.html.find(id="group_q")["value"] == "Maths"
    assert count(Occurrence) == before
    # In place (htmx) the same.
    params = {"group_q": "Maths", "date": TERM.isoformat(), "start": "16:00", "end": "17:00",
              "room_q": "Lab 1", "mode": "in_person"}  # fmt: skip
    refused = htmx.post("/sessions/new", params, page="/sessions/new", status=422)
    assert refused.html.find(recursive=False)["id"] == "new-session"
    assert "Several groups match" in refused.html.find(id="group_q-error").text


def test_the_session_forms_do_not_grow_with_the_school(
    web, login_as, school, make_room, make_user, make_group, make_series
):
    login_as("coordinator")
    monday = db.session.scalar(
        select(Occurrence).where(Occurrence.series_id == school["maths_a_series"].id)
    )
    art = school["art"].id
    urls = ["/sessions/new", f"/sessions/new?group={art}", f"/sessions/{monday.id}/edit"]
    web.get(urls[0])  # the welcome message shown once
    before = [web.get(url).body for url in urls]
    grow_the_school(make_room, make_user, make_group, make_series)
    after = [web.get(url).body for url in urls]
    assert [len(b) for b in after] == [len(b) for b in before]
    assert all(b.count(b"<option") == 0 for b in after)


def test_a_session_edit_keeps_an_inactive_room_and_a_typed_one_moves_it(web, login_as, school):
    login_as("coordinator")
    monday = db.session.scalar(
        select(Occurrence).where(Occurrence.series_id == school["art_mon"].id)
    )
    form = web.get(f"/sessions/{monday.id}/edit").forms["session-edit-form"]
    assert form["room_q"].value == ""  # follows the series' room
    form["room_q"] = "lab 1"
    form.submit(status=302)
    override = db.session.scalar(select(DateOverride))
    assert override.room_id == school["lab1"].id


# --- The exceptions page ---------------------------------------------------------------------


def test_a_new_exception_names_its_series_by_group(web, login_as, school):
    login_as("coordinator")
    page = web.get("/timetable/exceptions")
    form = page.forms["exception-form"]
    form["series_q"], form["original_date"], form["action"] = "Art 7A", TERM.isoformat(), "cancel"
    refused = form.submit(status=422)
    error = refused.html.find(id="series_q-error").text
    assert "Several series match 'Art 7A':" in error
    assert "Art 7A: Mon 14:00-15:00 (Lab 2), Art 7A: Wed 14:00-15:00 (Lab 2)." in error
    assert count(DateOverride) == 0
    # The whole label (as a suggestion puts it) names one; a group with one series is enough.
    form = refused.forms["exception-form"]
    form["series_q"] = "art 7a: mon 14:00-15:00 (lab 2)"
    form.submit(status=302)
    saved = db.session.scalar(select(DateOverride))
    assert saved.series_id == school["art_mon"].id
    form = web.get("/timetable/exceptions").forms["exception-form"]
    form["series_q"], form["original_date"], form["action"] = "7b", TERM.isoformat(), "override"
    form["start_time"], form["end_time"], form["room_q"] = "11:00", "12:00", "R101"
    form["original_date"] = "2026-09-08"  # Maths 7B meets on Tuesdays
    form.submit(status=302)
    moved = db.session.scalar(
        select(DateOverride).where(DateOverride.series_id == school["maths_b_series"].id)
    )
    assert moved.room_id == school["r101"].id


def test_a_new_exception_linked_with_ids_shows_their_names(web, login_as, school):
    login_as("coordinator")
    series, room = school["maths_a_series"], school["lab1"]
    page = web.get(f"/timetable/exceptions?series={series.id}&room={room.id}")
    form = page.forms["exception-form"]
    assert form["series_q"].value == "Maths 7A: Mon 09:00-10:00 (R101)"
    assert form["room_q"].value == "Lab 1"


def test_exception_group_filter_typed_with_and_without_javascript(web, htmx, login_as, school):
    login_as("coordinator")
    art = school["art"]
    form = web.get("/timetable/exceptions").forms["exception-filters"]
    form["group_q"] = "art"
    response = form.submit()
    assert response.status_int == 303 and f"group={art.id}" in response.location
    page = response.follow()
    assert page.html.find(id="exception-filter-group")["value"] == "Art 7A"
    assert page.html.find("button", attrs={"name": "clear", "value": "group"}) is not None
    refused = web.get("/timetable/exceptions?group_q=maths", status=422)
    error = refused.html.find(id="exception-filter-group-error")
    assert "Several groups match 'maths'" in error.text and len(error.find_all("a")) == 2
    fragment = htmx.get(f"/timetable/exceptions?group_q=Art+7A&group={art.id}&kind=")
    assert fragment.headers["HX-Push-Url"] == f"/timetable/exceptions?group={art.id}"
    assert fragment.text.lstrip().startswith('<section id="exceptions-list"')
    assert fragment.html.find("form", id="exception-filters")["hx-swap-oob"] == "true"
    cleared = web.get(f"/timetable/exceptions?group={art.id}&group_q=Art+7A&clear=group")
    assert cleared.status_int == 303 and "group=" not in cleared.location


def test_the_exceptions_page_does_not_grow_with_the_school(
    web, login_as, school, make_room, make_user, make_group, make_series
):
    login_as("coordinator")
    web.get("/timetable/exceptions")  # the welcome message shown once
    before = web.get("/timetable/exceptions").body
    grow_the_school(make_room, make_user, make_group, make_series)
    after = web.get("/timetable/exceptions").body
    assert len(after) == len(before)
    assert after.count(b"<option") == before.count(b"<option") == 3  # the kinds


# --- Managing groups and series ----------------------------------------------------------------


def test_a_group_with_its_mentor_and_room_typed_and_a_series_room(web, htmx, login_as, school):
    login_as("coordinator")
    form = web.get("/manage/groups/new").forms["group-form"]
    form["name"], form["mentor_q"], form["default_room_q"] = "Maths 8A", "Lovelace", "Lab"
    form["subject"] = str(school["maths_a"].subject_id)
    refused = form.submit(status=422)
    assert (
        "Several rooms match 'Lab': Lab 1, Lab 2."
        in refused.html.find(id="default_room_q-error").text
    )
    form = refused.forms["group-form"]
    form["default_room_q"] = "lab 2"
    form.submit(status=302)
    group = db.session.scalar(select(CourseGroup).where(CourseGroup.name == "Maths 8A"))
    assert (group.mentor_id, group.default_room_id) == (school["ada"].id, school["lab2"].id)
    # Its edit page shows them by name; a series' room is typed too (prefixed add form).
    page = web.get(f"/manage/groups/{group.id}/edit")
    assert page.forms["group-form"]["mentor_q"].value == "Ada Lovelace"
    page = web.get(f"/manage/groups/{group.id}")
    series_form = page.forms["series-form"]
    assert series_form["new-room_q"].value == "Lab 2"
    assert "field=new-room" in page.html.find(id="new-room_q")["hx-get"]
    rooms = htmx.get("/schedule/choices/room?list=new-room_q-list&field=new-room&new-room_q=r1")
    assert [li["data-name"] for li in rooms.html("li", role="option")] == ["R101"]


def test_the_group_pages_do_not_grow_with_the_school(
    web, login_as, school, make_room, make_user, make_group, make_series
):
    login_as("coordinator")
    art = school["art"]
    urls = ["/manage/groups/new", f"/manage/groups/{art.id}/edit", f"/manage/groups/{art.id}"]
    web.get(urls[0])  # the welcome message shown once
    before = [web.get(url).body for url in urls]
    grow_the_school(make_room, make_user, make_group, make_series)
    after = [web.get(url).body for url in urls]
    assert [len(b) for b in after] == [len(b) for b in before]


def test_the_profile_page_does_not_grow_with_the_school(
    web, login_as, school, make_room, make_user, make_group, make_series
):
    login_as("coordinator")
    web.get("/profile/")  # the welcome message shown once, the user's own feed made
    before = web.get("/profile/").body
    grow_the_school(make_room, make_user, make_group, make_series)
    after = web.get("/profile/").body
    assert len(after) == len(before) and after.count(b"<option") == 0


# --- Lists of requests (staff) ---------------------------------------------------------------


def test_staff_filter_requests_by_a_typed_mentor_or_student(web, htmx, login_as, school, make_user):
    make_user("student", name="Alice Martin", email="alice@school.test")
    make_user("student", name="Alice Moreau")
    login_as("coordinator")
    ben = school["ben"]
    for url in ("/requests/", "/requests/pending"):
        page = web.get(url)
        assert page.html.select("select[name=mentor], select[name=student]") == []
        response = htmx.get(f"{url}?mentor_q=Ben+Okri&mentor={ben.id}&student_q=")
        assert response.headers["HX-Push-Url"] == f"{url}?mentor={ben.id}"
        bar = response.html.find("form", id="requests-filters")
        assert bar["hx-swap-oob"] == "true"
        assert bar.find(id="requests-filter-mentor")["value"] == "Ben Okri"
        assert bar.find("button", attrs={"name": "clear", "value": "mentor"}) is not None
    refused = web.get("/requests/?student_q=alice&mentor_q=", status=422)
    error = refused.html.find(id="requests-filter-student-error")
    assert "Several students match 'alice': Alice Martin, Alice Moreau." in error.text
    resolved = web.get("/requests/?student_q=alice@school.test&mentor_q=")
    assert resolved.status_int == 303 and "student=" in resolved.location


def test_the_staff_request_lists_do_not_grow_with_the_school(
    web, login_as, school, make_room, make_user, make_group, make_series
):
    login_as("coordinator")
    urls = ["/requests/", "/requests/pending"]
    web.get(urls[0])  # the welcome message shown once
    before = [web.get(url).body for url in urls]
    grow_the_school(make_room, make_user, make_group, make_series)
    for n in range(120):
        make_user("student", name=f"Extra student {n:03d}")
    after = [web.get(url).body for url in urls]
    assert [len(b) for b in after] == [len(b) for b in before]
