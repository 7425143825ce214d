"""Management pages for rooms and subjects: roles, lists, search, pagination, inline edits."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from models import Room, Subject, db
from tests.conftest import csrf_token_of

PARTIAL = {"HX-Request": "true", "HX-Request-Type": "partial"}


def token(web) -> str:
    return csrf_token_of(web.get("/manage/"))


def hx_post(web, url, params, **kwargs):
    return web.post(url, params, headers={**PARTIAL, "X-CSRFToken": token(web)}, **kwargs)


def make_subject(name="Maths", active=True) -> Subject:
    subject = Subject(name=name, active=active)
    db.session.add(subject)
    db.session.commit()
    return subject


def fresh(model, ident):
    db.session.expire_all()
    return db.session.get(model, ident)


# --- Access -------------------------------------------------------------------------------------


def catalogue_routes(room_id: int, subject_id: int) -> list[tuple[str, str]]:
    return [
        ("GET", "/manage/"),
        ("GET", "/manage/rooms"),
        ("POST", "/manage/rooms"),
        ("GET", f"/manage/rooms/{room_id}"),
        ("GET", f"/manage/rooms/{room_id}/edit"),
        ("POST", f"/manage/rooms/{room_id}/edit"),
        ("POST", f"/manage/rooms/{room_id}/active"),
        ("GET", "/manage/subjects"),
        ("POST", "/manage/subjects"),
        ("GET", f"/manage/subjects/{subject_id}"),
        ("GET", f"/manage/subjects/{subject_id}/edit"),
        ("POST", f"/manage/subjects/{subject_id}/edit"),
        ("POST", f"/manage/subjects/{subject_id}/active"),
    ]


@pytest.mark.parametrize("role", ["student", "mentor"])
def test_students_and_mentors_are_refused_every_catalogue_route(web, login_as, make_room, role):
    room, subject = make_room("Lab"), make_subject()
    login_as(role)
    csrf = csrf_token_of(web.get("/sessions/today/"))
    for method, url in catalogue_routes(room.id, subject.id):
        if method == "GET":
            response = web.get(url, status=403)
        else:
            response = web.post(
                url,
                {"name": "Hacked", "new-name": "Hacked", "active": "0"},
                headers={"X-CSRFToken": csrf},
                status=403,
            )
        assert "Not allowed" in response.text, (method, url)  # our words, not Werkzeug's
    assert fresh(Room, room.id).name == "Lab" and fresh(Room, room.id).active
    assert fresh(Subject, subject.id).name == "Maths"
    assert db.session.scalar(select(func.count(Room.id))) == 1


def test_anonymous_users_are_sent_to_login(web, make_room):
    room, subject = make_room("Lab"), make_subject()
    for method, url in catalogue_routes(room.id, subject.id):
        if method == "GET":
            target = web.get(url, status=302).headers["Location"]
            assert urlsplit(target).path == "/auth/login", url
        else:  # no session, so no CSRF token either: refused before anything happens
            web.post(url, {"name": "Hacked"}, status=400)
    assert fresh(Room, room.id).name == "Lab"


def test_unknown_ids_are_404(web, login_as):
    login_as("coordinator")
    for url in (
        "/manage/rooms/999",
        "/manage/rooms/999/edit",
        "/manage/subjects/999",
        "/manage/subjects/0/edit",
        f"/manage/rooms/{2**63}/edit",
    ):
        web.get(url, status=404)
    hx_post(web, "/manage/rooms/999/active", {"active": "0"}, status=404)
    hx_post(web, "/manage/subjects/999/edit", {"name": "X"}, status=404)


def test_posts_without_a_csrf_token_are_refused(web, login_as, make_room):
    room = make_room("Lab")
    login_as("coordinator")
    response = web.post(
        f"/manage/rooms/{room.id}/edit", {"name": "Renamed", "active": "y"}, status=400
    )
    assert "security token" in response.text
    web.post("/manage/rooms", {"new-name": "Another"}, status=400)
    web.post(f"/manage/rooms/{room.id}/active", {"active": "0"}, headers=PARTIAL, status=400)
    assert fresh(Room, room.id).name == "Lab" and fresh(Room, room.id).active
    assert db.session.scalar(select(func.count(Room.id))) == 1


@pytest.mark.parametrize("role", ["coordinator", "admin"])
def test_the_landing_page_links_every_area(web, login_as, make_room, role):
    make_room("Lab")
    make_room("Old", active=False)
    login_as(role)
    page = web.get("/manage/")
    assert page.html.find(attrs={"data-count": "rooms"}).text == "1"
    for url in (
        "/manage/rooms", "/manage/subjects", "/manage/groups", "/manage/users",
        "/timetable/years", "/timetable/closures", "/timetable/imports",
    ):  # fmt: skip
        assert page.html.select(f"main a[href='{url}']"), url
    assert page.html.find(attrs={"data-count": "closures"}).text == "0"
    # The site navigation now offers Manage to staff.
    assert page.html.find("a", href="/manage/", attrs={"aria-current": "page"}) is not None


def test_students_do_not_see_the_manage_link(web, login_as):
    login_as("student")
    assert 'href="/manage/"' not in web.get("/sessions/today/").text


# --- Rooms --------------------------------------------------------------------------------------


def test_create_a_room(web, login_as):
    login_as("coordinator")
    form = web.get("/manage/rooms").forms["room-form"]
    form["new-name"] = "  Science   Lab "
    form["new-capacity"] = "24"
    page = form.submit().follow()
    assert "Science Lab (room) created." in page.text
    room = db.session.scalar(select(Room))
    assert (room.name, room.capacity, room.active) == ("Science Lab", 24, True)
    assert page.html.find(id=f"room-{room.id}") is not None


@pytest.mark.parametrize(
    ("name", "capacity", "field", "message"),
    [
        ("", "", "new-name", "Enter the room's name."),
        ("x" * 81, "", "new-name", "A room's name has at most 80 characters."),
        ("lab 1", "", "new-name", "A room named lab 1 already exists."),
        ("Hall", "0", "new-capacity", "The capacity is a number of seats from 1 to 10000"),
        ("Hall", "-3", "new-capacity", "The capacity is a number of seats from 1 to 10000"),
        ("Hall", str(2**63), "new-capacity", "The capacity is a number of seats from 1 to 10000"),
        ("Hall", "3.5", "new-capacity", "The capacity is a whole number of seats"),
        ("Hall", "ten", "new-capacity", "The capacity is a whole number of seats"),
    ],
)
def test_room_validation_messages_sit_next_to_the_field(
    web, login_as, make_room, name, capacity, field, message
):
    make_room("Lab 1")
    login_as("coordinator")
    form = web.get("/manage/rooms").forms["room-form"]
    form["new-name"] = name
    form["new-capacity"] = capacity
    page = form.submit(status=422)
    error = page.html.find(id=f"{field}-error")
    assert error is not None and message in error.text
    # What was typed is kept.
    assert page.forms["room-form"]["new-name"].value == name
    assert db.session.scalar(select(func.count(Room.id))) == 1


def test_room_list_search_and_status_filter(web, login_as, make_room):
    for name in ("Lab 1", "Lab 2", "Hall"):
        make_room(name)
    make_room("Lab old", active=False)
    login_as("coordinator")
    page = web.get("/manage/rooms", {"q": "lab"})
    names = [row.find("td").text for row in page.html.select("#rooms-list tbody tr")]
    assert names == ["Lab 1", "Lab 2", "Lab old"]  # active first, then by name
    page = web.get("/manage/rooms", {"q": "LAB", "status": "inactive"})
    names = [row.find("td").text for row in page.html.select("#rooms-list tbody tr")]
    assert names == ["Lab old"]
    page = web.get("/manage/rooms", {"q": "nothing like it"})
    assert "No room matches." in page.text


def test_search_treats_wildcards_literally(web, login_as, make_room):
    make_room("Lab 1")
    make_room("100% room")
    login_as("coordinator")
    page = web.get("/manage/rooms", {"q": "%"})
    assert [r.find("td").text for r in page.html.select("#rooms-list tbody tr")] == ["100% room"]


def test_room_list_paginates(web, login_as, make_room):
    for n in range(45):
        make_room(f"Room {n:02d}")
    login_as("coordinator")
    first = web.get("/manage/rooms")
    assert len(first.html.select("#rooms-list tbody tr")) == 20
    assert "Page 1 of 3" in first.text and "Showing 1\u201320 of 45." in first.text
    third = web.get(first.html.find("a", rel="next")["href"]).html.find("a", rel="next")["href"]
    last = web.get(third)
    rows = last.html.select("#rooms-list tbody tr")
    assert [r.find("td").text for r in rows] == [f"Room {n:02d}" for n in range(40, 45)]
    assert last.html.find("a", rel="next") is None
    # Out-of-range or malformed page numbers show a real page, never an error.
    assert "Page 3 of 3" in web.get("/manage/rooms", {"page": "99"}).text
    assert "Page 1 of 3" in web.get("/manage/rooms", {"page": "abc"}).text


def test_list_answers_a_fragment_to_htmx_and_a_page_otherwise(web, login_as, make_room):
    make_room("Lab")
    login_as("coordinator")
    fragment = web.get("/manage/rooms", {"q": "lab"}, headers=PARTIAL)
    assert fragment.text.lstrip().startswith('<div id="rooms-list">')
    assert "<html" not in fragment.text
    assert "HX-Request" in fragment.headers["Vary"]
    page = web.get("/manage/rooms", {"q": "lab"})
    assert "<html" in page.text and page.html.find(id="rooms-list") is not None
    # A history restore gets the whole page back.
    restored = web.get("/manage/rooms", headers={**PARTIAL, "HX-History-Restore-Request": "true"})
    assert "<html" in restored.text


def test_inline_edit_of_a_room(web, login_as, make_room):
    room = make_room("Lab", capacity=10)
    login_as("coordinator")
    editor = web.get(f"/manage/rooms/{room.id}/edit", headers=PARTIAL)
    assert editor.html.find("tr")["id"] == f"room-{room.id}"
    assert editor.html.find("input", attrs={"name": "name"})["value"] == "Lab"
    row = hx_post(web, f"/manage/rooms/{room.id}/edit", {"name": "Lab A", "capacity": "12"})
    assert row.html.find("tr")["id"] == f"room-{room.id}"
    assert "Lab A" in row.text and "Deactivated" in row.text  # "active" left unticked
    assert "Lab A (room) saved." in row.headers["HX-Trigger"]
    room = fresh(Room, room.id)
    assert (room.name, room.capacity, room.active) == ("Lab A", 12, False)
    # Cancel shows the row again.
    assert web.get(f"/manage/rooms/{room.id}", headers=PARTIAL).html.find("tr")["id"] == (
        f"room-{room.id}"
    )


def test_inline_edit_errors_stay_in_the_row(web, login_as, make_room):
    make_room("Hall")
    room = make_room("Lab")
    login_as("coordinator")
    response = hx_post(
        web,
        f"/manage/rooms/{room.id}/edit",
        {"name": "hall", "capacity": "0", "active": "y"},
        status=422,
    )
    row = response.html.find("tr")
    assert row["id"] == f"room-{room.id}" and "editing" in row["class"]
    assert "A room named hall already exists." in row.find(id="name-error").text
    assert "from 1 to 10000" in row.find(id="capacity-error").text
    assert row.find("input", attrs={"name": "name"})["value"] == "hall"
    assert fresh(Room, room.id).name == "Lab"


def test_edit_works_without_javascript(web, login_as, make_room):
    room = make_room("Lab")
    login_as("coordinator")
    page = web.get(f"/manage/rooms/{room.id}/edit")
    assert "<html" in page.text
    form = page.forms["room-edit-form"]
    form["name"] = ""
    page = form.submit(status=422)
    assert "Enter the room's name." in page.html.find(id="name-error").text
    form = page.forms["room-edit-form"]
    form["name"] = "Lab B"
    page = form.submit().follow()
    assert "Lab B (room) saved." in page.text
    # The row URL as a plain link leads to the list, searched for that room.
    assert urlsplit(web.get(f"/manage/rooms/{room.id}").headers["Location"]).path == (
        "/manage/rooms"
    )


def test_deactivate_and_reactivate_a_room(web, login_as, make_room):
    room = make_room("Lab")
    login_as("admin")
    row = hx_post(web, f"/manage/rooms/{room.id}/active", {"active": "0"})
    assert "Deactivated" in row.text and "Reactivate" in row.text
    assert "Lab (room) deactivated." in row.headers["HX-Trigger"]
    assert fresh(Room, room.id).active is False
    page = web.post(
        f"/manage/rooms/{room.id}/active", {"active": "1", "csrf_token": token(web)}
    ).follow()
    assert "Lab (room) reactivated." in page.text
    assert fresh(Room, room.id).active is True


# --- Subjects -----------------------------------------------------------------------------------


def test_create_edit_and_deactivate_a_subject(web, login_as):
    make_subject("Physics")
    login_as("coordinator")
    form = web.get("/manage/subjects").forms["subject-form"]
    form["new-name"] = "PHYSICS"
    page = form.submit(status=422)
    assert "A subject named PHYSICS already exists." in page.html.find(id="new-name-error").text
    form = page.forms["subject-form"]
    form["new-name"] = "Chemistry"
    page = form.submit().follow()
    assert "Chemistry (subject) created." in page.text
    subject = db.session.scalar(select(Subject).where(Subject.name == "Chemistry"))

    response = hx_post(web, f"/manage/subjects/{subject.id}/edit", {"name": ""}, status=422)
    assert "Enter the subject's name." in response.html.find(id="name-error").text
    row = hx_post(web, f"/manage/subjects/{subject.id}/edit", {"name": "Chem", "active": "y"})
    assert row.html.find("tr")["id"] == f"subject-{subject.id}" and "Chem" in row.text
    row = hx_post(web, f"/manage/subjects/{subject.id}/active", {"active": "0"})
    assert "Deactivated" in row.text
    assert fresh(Subject, subject.id).active is False
    assert fresh(Subject, subject.id).name == "Chem"


def test_subject_list_searches_and_paginates(web, login_as):
    for n in range(25):
        make_subject(f"Subject {n:02d}")
    make_subject("Latin")
    login_as("coordinator")
    page = web.get("/manage/subjects", {"q": "lat"})
    assert [r.find("td").text for r in page.html.select("#subjects-list tbody tr")] == ["Latin"]
    page = web.get("/manage/subjects", {"page": "2"}, headers=PARTIAL)
    assert page.text.lstrip().startswith('<div id="subjects-list">')
    assert len(page.html.select("tbody tr")) == 6
