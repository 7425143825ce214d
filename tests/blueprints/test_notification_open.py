"""Following a notification: a GET of /notifications/<id>/open (a prefetcher, a link scanner,
a mail client previewing) only redirects; the list's title and the toast are buttons that POST
to it, which marks the notification read, then redirects; without JavaScript too.

Each way a coordinator, a mentor or a student changes something (the grid's exception editor,
the exceptions page, the session pages, requests, the JSON API, the import command) tells exactly
the people concerned, every notification's link opens for its recipient (followed by a POST to
/notifications/<id>/open while logged in as them: 200), and a refused change (422, 409) or one
that fails midway leaves no notification behind."""

from __future__ import annotations

import json
from datetime import time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy import event, func, select

from models import MentorSubject, Notification, db
from services.common.timeutil import week_start
from services.notifications.inbox import notify
from services.people.tokens import create_token
from services.requests.lifecycle import RequestInput, create_request
from services.timetable.exceptions import (
    find_occurrence,
    find_override,
)
from services.timetable.generation import generate_occurrences
from services.timetable.sessions import create_one_time_session
from tests.api.conftest import ApiClient
from tests.conftest import PINNED_TODAY, TEST_PASSWORD, browser, csrf_token_of

HX = {"HX-Request": "true", "HX-Request-Type": "partial"}

# Dates are constants of the module: its clock is pinned, so they never go stale.
pytestmark = pytest.mark.usefixtures("pinned_clock")


def add(user, link="/sessions/today/") -> Notification:
    [note] = notify(user.id, "session_cancelled", "Maths 7A is cancelled", "", link=link)
    db.session.commit()
    return note


def is_read(note: Notification) -> bool:
    db.session.expire_all()
    return db.session.get(Notification, note.id).read_at is not None


def test_a_get_of_the_open_link_redirects_without_marking_read(web, login_as):
    user = login_as("student")
    note = add(user, link="/sessions/today/")
    writes: list[str] = []

    def record(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE")):
            writes.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        response = web.get(f"/notifications/{note.id}/open", status=302)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert urlsplit(response.location).path == "/sessions/today/"
    assert not is_read(note)
    assert writes == []
    bell = web.get("/notifications/").html.find(id="notification-bell")
    assert "1 unread" in bell.text


def test_showing_the_list_leaves_notifications_unread(web, login_as):
    user = login_as("student")
    note = add(user)
    page = web.get("/notifications/")
    assert page.html.find(id=f"notification-{note.id}").find(class_="badge-unread") is not None
    assert not is_read(note)


def test_the_lists_title_button_marks_read_and_follows_the_link(web, login_as):
    user = login_as("student")
    note = add(user, link="/sessions/today/")
    form = web.get("/notifications/").forms[f"open-notification-{note.id}"]
    assert form.method.lower() == "post"
    response = form.submit(status=302)
    assert urlsplit(response.location).path == "/sessions/today/"
    assert is_read(note)


def test_the_toast_posts_to_the_open_link_which_marks_read(web, login_as):
    user = login_as("student")
    page = web.get("/sessions/today/")
    bell = page.html.find(id="notification-bell")
    note = add(user, link="/sessions/today/")
    poll = web.get(bell["hx-get"], headers=HX)
    toast = json.loads(poll.headers["HX-Trigger"])["toast"]
    assert toast["link"] == f"/notifications/{note.id}/open"
    # The toast's button posts with the CSRF token htmx sends (app.js reads it from <body>).
    token = csrf_token_of(page)
    response = web.post(toast["link"], {"csrf_token": token}, status=302)
    assert urlsplit(response.location).path == "/sessions/today/"
    assert is_read(note)


def test_a_post_without_the_csrf_token_marks_nothing(web, login_as):
    user = login_as("student")
    note = add(user)
    web.post(f"/notifications/{note.id}/open", {}, status=400)
    assert not is_read(note)


# --- Each way a change is made tells the people concerned, and each link opens for them --------

PARIS = ZoneInfo("Europe/Paris")
MONDAY = week_start(PINNED_TODAY) + timedelta(weeks=2)
TUESDAY, WEDNESDAY = MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)
CTX = f"view=week&layout=time&date={MONDAY}"


def day(d) -> str:
    return f"{d:%a %d %b}"


def notes_since(first_id: int = 0) -> list[Notification]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Notification).where(Notification.id > first_id).order_by(Notification.id)
        )
    )


def count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(Notification.id)))


def signed_in(app, user):
    client = browser(app)
    form = client.get("/auth/login").forms[0]
    form["email"], form["password"] = user.email, TEST_PASSWORD
    assert form.submit().status_int == 302
    return client


class Recipients:
    """One logged-in browser per recipient, to follow their notifications as they would."""

    def __init__(self, app):
        self.app, self.clients = app, {}

    def open(self, note: Notification):
        """Follow the notification's link as its recipient: the page must open (200)."""
        from models import User

        if note.user_id not in self.clients:
            self.clients[note.user_id] = signed_in(self.app, db.session.get(User, note.user_id))
        client = self.clients[note.user_id]
        token = csrf_token_of(client.get("/notifications/"))
        response = client.post(f"/notifications/{note.id}/open", {"csrf_token": token})
        assert response.status_int == 302
        assert urlsplit(response.location).path == note.link, (response.location, note.link)
        page = client.get(note.link, status="*")
        assert page.status_int == 200, (note.kind, note.link, note.user_id, page.status_int)
        return page

    def open_all(self, notes: list[Notification]) -> None:
        for note in notes:
            self.open(note)
        db.session.expire_all()
        ids = [n.id for n in notes]
        opened = db.session.scalars(select(Notification).where(Notification.id.in_(ids)))
        assert all(n.read_at is not None for n in opened)


@pytest.fixture
def maths_and_art(make_user, make_room, make_group, make_series):
    ada = make_user("mentor", name="Ada Lovelace")
    alice, bob = make_user("student", name="Alice"), make_user("student", name="Bob")
    carl, bea = make_user("student", name="Carl"), make_user("mentor", name="Bea")
    r101, lab, studio = make_room("R101"), make_room("Lab"), make_room("Studio")
    maths = make_group("Maths 7A", mentor=ada, students=[alice, bob], room=r101)
    art = make_group("Art 8B", mentor=bea, students=[carl], room=studio)
    series = make_series(maths, weekdays=(0,), start=time(10), end=time(11), first_date=MONDAY)
    make_series(art, weekdays=(0,), start=time(10), end=time(11), first_date=MONDAY)
    generate_occurrences(MONDAY, MONDAY + timedelta(weeks=2), tz=PARIS)
    db.session.add(MentorSubject(mentor_id=ada.id, subject_id=maths.subject_id))
    db.session.commit()
    return {
        "ada": ada,
        "alice": alice,
        "bob": bob,
        "carl": carl,
        "bea": bea,
        "r101": r101,
        "lab": lab,
        "studio": studio,
        "maths": maths,
        "art": art,
        "series": series,
        "monday": find_occurrence(series.id, MONDAY),
    }


def participants(maths_and_art) -> list[int]:
    return sorted([maths_and_art["ada"].id, maths_and_art["alice"].id, maths_and_art["bob"].id])


def post(client, url, params=None, page="/notifications/", **kwargs):
    """A form post with the page's CSRF token."""
    return client.post(
        url, {**(params or {}), "csrf_token": csrf_token_of(client.get(page))}, **kwargs
    )


def test_the_grid_editor_tells_participants_and_their_links_open(
    app, web, htmx, login_as, maths_and_art
):
    login_as("coordinator")
    monday = maths_and_art["monday"]
    url = f"/schedule/sessions/{monday.id}/exception?{CTX}"
    # Refused: the Studio is Art 8B's (409); an end before the start (422). Nobody is told.
    htmx.post(url, {"action": "override", "room": str(maths_and_art["studio"].id)}, status=409)
    htmx.post(url, {"action": "override", "start_time": "12:00", "end_time": "11:00"}, status=422)
    assert count() == 0

    htmx.post(
        url,
        {
            "action": "override",
            "new_date": str(TUESDAY),
            "start_time": "14:00",
            "end_time": "15:00",
            "room": str(maths_and_art["lab"].id),
            "notes": "Lab day",
        },
    )
    moved = notes_since()
    assert [(n.user_id, n.kind) for n in moved] == [
        (u, "session_moved") for u in participants(maths_and_art)
    ]
    assert moved[0].title == f"Maths 7A on {day(MONDAY)} 10:00 moves to {day(TUESDAY)} 14:00 in Lab"
    assert moved[0].body == "Lab day"
    recipients = Recipients(app)
    page = recipients.open(moved[1])  # Alice, a student of the group
    assert "Maths 7A" in page.text and "14:00" in page.text
    recipients.open_all(moved)

    htmx.post(f"/schedule/sessions/{monday.id}/restore?{CTX}")
    back = notes_since(moved[-1].id)
    assert [(n.user_id, n.title) for n in back] == [
        (u, f"Maths 7A is back on {day(MONDAY)} 10:00 in R101") for u in participants(maths_and_art)
    ]
    recipients.open_all(back)
    assert maths_and_art["carl"].id not in {n.user_id for n in notes_since()}


def test_the_exceptions_page_tells_participants_and_refusals_tell_nobody(
    app, web, login_as, maths_and_art, make_group
):
    login_as("coordinator")
    series = maths_and_art["series"]
    page = "/timetable/exceptions"
    refused = post(
        web,
        page,
        {
            "series": series.id,
            "original_date": str(MONDAY),
            "action": "override",
            "room": maths_and_art["studio"].id,
        },
        page=page,
        status=409,
    )
    assert "already booked" in refused.text
    assert count() == 0

    post(
        web,
        page,
        {"series": series.id, "original_date": str(MONDAY), "action": "cancel", "notes": "Strike"},
        page=page,
        status=302,
    )
    cancelled = notes_since()
    assert [(n.user_id, n.kind, n.body) for n in cancelled] == [
        (u, "session_cancelled", "Strike") for u in participants(maths_and_art)
    ]
    override = find_override(series.id, MONDAY)
    edit = f"/timetable/exceptions/{override.id}/edit"
    post(
        web,
        edit,
        {
            "action": "override",
            "start_time": "14:00",
            "end_time": "15:00",
            "room": "0",
            "notes": "Afternoon",
        },
        page=edit,
        status=302,
    )
    moved = notes_since(cancelled[-1].id)
    # A cancelled date moved to another time takes place again: said as such.
    assert [(n.user_id, n.kind, n.title) for n in moved] == [
        (u, "session_restored", f"Maths 7A is back on {day(MONDAY)} 14:00 in R101")
        for u in participants(maths_and_art)
    ]
    # Its old slot taken since: removing the exception is refused, and tells nobody.
    other = create_one_time_session(
        group_id=make_group("Drama").id,
        day=MONDAY,
        start=time(10),
        end=time(11),
        room_id=maths_and_art["r101"].id,
        actor=None,
        tz=PARIS,
    ).occurrence
    db.session.commit()
    told = count()
    delete = f"/timetable/exceptions/{override.id}/delete"
    post(web, delete, page=page, status=302)
    assert count() == told and find_override(series.id, MONDAY) is not None

    db.session.delete(other)
    db.session.commit()
    post(web, delete, page=page, status=302)
    restored = notes_since(moved[-1].id)
    assert [(n.user_id, n.kind) for n in restored] == [
        (u, "session_restored") for u in participants(maths_and_art)
    ]
    Recipients(app).open_all(cancelled + moved + restored)


def test_the_session_pages_tell_participants_and_their_links_open(
    app, web, login_as, maths_and_art
):
    login_as("coordinator")
    occurrence = create_one_time_session(
        group_id=maths_and_art["maths"].id,
        day=WEDNESDAY,
        start=time(14),
        end=time(15),
        room_id=maths_and_art["r101"].id,
        actor=None,
        tz=PARIS,
    ).occurrence
    db.session.commit()
    base = f"/sessions/{occurrence.id}"
    fields = {
        "date": str(WEDNESDAY),
        "start": "14:00",
        "end": "15:00",
        "room": maths_and_art["r101"].id,
        "mode": "in_person",
        "title": "",
    }
    # Refused: an end before the start (422), a blank reason (422), nothing to restore (409).
    post(web, f"{base}/edit", fields | {"end": "13:00"}, page=f"{base}/edit", status=422)
    post(web, f"{base}/cancel", {"reason": "  "}, page=f"{base}/cancel", status=422)
    post(web, f"{base}/restore", page=base, status=409)
    assert count() == 0

    post(
        web,
        f"{base}/edit",
        fields | {"start": "16:00", "end": "17:00", "room": maths_and_art["lab"].id},
        page=f"{base}/edit",
    )
    post(web, f"{base}/cancel", {"reason": "Teacher ill"}, page=f"{base}/cancel")
    post(web, f"{base}/restore", page=base)
    told = notes_since()
    assert [(n.kind, n.title) for n in told[::3]] == [
        (
            "session_moved",
            f"Maths 7A on {day(WEDNESDAY)} 14:00 moves to 16:00 in Lab",
        ),
        ("session_cancelled", f"Maths 7A on {day(WEDNESDAY)} 16:00 is cancelled"),
        ("session_restored", f"Maths 7A on {day(WEDNESDAY)} 16:00 takes place again"),
    ]
    assert [n.user_id for n in told] == participants(maths_and_art) * 3

    # A series date edited on its page: an exception, told the same way.
    monday = f"/sessions/{maths_and_art['monday'].id}"
    post(
        web,
        f"{monday}/edit",
        {"date": str(MONDAY), "start": "12:00", "end": "13:00", "room": 0, "notes": ""},
        page=f"{monday}/edit",
    )
    series_moved = notes_since(told[-1].id)
    assert [(n.user_id, n.title) for n in series_moved] == [
        (u, f"Maths 7A on {day(MONDAY)} 10:00 moves to 12:00") for u in participants(maths_and_art)
    ]
    Recipients(app).open_all(told + series_moved)


def test_the_mentors_cancel_tells_the_students_not_the_mentor(
    app, web, htmx, login_as, maths_and_art
):
    login_as(maths_and_art["ada"])
    monday = maths_and_art["monday"]
    htmx.post(
        f"/tracking/sessions/{monday.id}/cancel",
        {"tracking-reason": "Ill today"},
        page=f"/sessions/{monday.id}",
    )
    told = notes_since()
    assert [(n.user_id, n.kind, n.body) for n in told] == [
        (maths_and_art["alice"].id, "session_cancelled", "Ill today"),
        (maths_and_art["bob"].id, "session_cancelled", "Ill today"),
    ]
    Recipients(app).open_all(told)


def test_request_notifications_open_for_their_recipients(app, maths_and_art):
    ada, alice, bob = maths_and_art["ada"], maths_and_art["alice"], maths_and_art["bob"]

    def ask(student, start, title):
        data = RequestInput(
            mentor_id=ada.id,
            subject_id=maths_and_art["maths"].subject_id,
            title=title,
            schedule_kind="single",
            day=TUESDAY,
            start=start,
            duration=60,
        )
        request = create_request(student, data, tz=PARIS)
        db.session.commit()
        return request

    chosen, clashing = ask(alice, time(10), "Algebra"), ask(bob, time(10, 30), "Geometry")
    rejected, withdrawn = ask(bob, time(15), "Calculus"), ask(alice, time(17), "Fractions")
    recipients = Recipients(app)
    recipients.open_all(notes_since())  # four "new request" notes, the mentor's

    mentor = recipients.clients[ada.id]
    assert post(mentor, f"/requests/{chosen.id}/approve").status_int in (200, 302)
    post(mentor, f"/requests/{rejected.id}/reject", {"reason": "Fully booked"}, status=302)
    post(signed_in(app, alice), f"/requests/{withdrawn.id}/withdraw", status=302)
    told = notes_since(4)
    assert [(n.user_id, n.kind, n.link) for n in told] == [
        (bob.id, "request_declined", f"/requests/{clashing.id}"),
        (alice.id, "request_approved", "/dashboard/"),
        (bob.id, "request_rejected", f"/requests/{rejected.id}"),
        (ada.id, "request_withdrawn", f"/requests/{withdrawn.id}"),
    ]
    page = recipients.open(told[1])
    assert "Algebra" in page.text  # the approved session is on the student's dashboard
    recipients.open_all(told)

    # A decision refused (already decided) tells nobody.
    post(mentor, f"/requests/{rejected.id}/reject", {"reason": "Again"}, status=409)
    assert count() == 8


def test_api_changes_tell_participants_and_refusals_tell_nobody(app, make_user, maths_and_art):
    coordinator = make_user("coordinator")
    _row, token = create_token(coordinator, "audit")
    db.session.commit()
    api = ApiClient(app, coordinator, token)
    series, monday = maths_and_art["series"], maths_and_art["monday"]
    exception = {
        "series": series.id,
        "original_date": str(MONDAY),
        "cancelled": False,
        "room": maths_and_art["studio"].id,
    }
    api.post("/api/v1/exceptions", exception, status=409)
    api.post(f"/api/v1/sessions/{monday.id}/cancel", {"reason": " "}, status=422)
    api.patch(f"/api/v1/sessions/{monday.id}", {"start": "12:00", "end": "11:00"}, status=422)
    assert count() == 0

    created = api.post(
        "/api/v1/exceptions", exception | {"room": maths_and_art["lab"].id}, status=201
    )
    api.delete(f"/api/v1/exceptions/{created.json['id']}", status=204)
    api.patch(f"/api/v1/sessions/{monday.id}", {"start": "14:00", "end": "15:00"})
    api.post(f"/api/v1/sessions/{monday.id}/cancel", {"reason": "Strike"})
    told = notes_since()
    assert [(n.kind, n.title) for n in told[::3]] == [
        # Only the room changed: said so, not the same time as if it were new.
        ("session_moved", f"Maths 7A on {day(MONDAY)} 10:00 moves to Lab (same time)"),
        ("session_restored", f"Maths 7A is back on {day(MONDAY)} 10:00 in R101"),
        ("session_moved", f"Maths 7A on {day(MONDAY)} 10:00 moves to 14:00"),
        ("session_cancelled", f"Maths 7A on {day(MONDAY)} 14:00 is cancelled"),
    ]
    assert [n.user_id for n in told] == participants(maths_and_art) * 4
    Recipients(app).open_all(told)


def test_the_import_exceptions_command_tells_everyone_and_a_refused_file_nobody(
    app, maths_and_art, tmp_path
):
    cli = app.test_cli_runner()
    path = tmp_path / "exceptions.csv"
    header = "group,date,action,start,end,room,notes\n"
    path.write_text(
        header + f"Maths 7A,{MONDAY},cancel,,,,Trip\n"
        f"Maths 7A,{MONDAY + timedelta(weeks=1)},override,10:00,11:00,Studio,\n"
    )
    result = cli.invoke(args=["import-exceptions", str(path)])
    assert result.exit_code == 1 and "Import aborted" in result.stderr
    assert count() == 0

    path.write_text(header + f"Maths 7A,{MONDAY},cancel,,,,Trip\n")
    result = cli.invoke(args=["import-exceptions", str(path)])
    assert result.exit_code == 0, result.output
    told = notes_since()
    # A command has no actor: the mentor is told as well as the students.
    assert [(n.user_id, n.kind, n.body) for n in told] == [
        (u, "session_cancelled", "Trip") for u in participants(maths_and_art)
    ]
    Recipients(app).open_all(told)


def test_a_web_change_failing_after_notifying_commits_no_notification(
    web, login_as, maths_and_art, monkeypatch
):
    import services.timetable.exceptions as overrides

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    login_as("coordinator")
    token = csrf_token_of(web.get("/timetable/exceptions"))
    monkeypatch.setattr(overrides.events, "record_event", broken)
    with pytest.raises(RuntimeError):
        web.post(
            "/timetable/exceptions",
            {
                "series": maths_and_art["series"].id,
                "action": "cancel",
                "original_date": str(MONDAY),
                "csrf_token": token,
            },
        )
    # What other connections see: nothing was committed.
    with db.engine.connect() as conn:
        assert conn.scalar(sa.select(func.count()).select_from(Notification.__table__)) == 0
    db.session.rollback()
    assert count() == 0
