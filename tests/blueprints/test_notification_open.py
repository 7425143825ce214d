"""Following a notification: a GET of /notifications/<id>/open (a prefetcher, a link scanner,
a mail client previewing) only redirects; the list's title and the toast are buttons that POST
to it, which marks the notification read, then redirects; without JavaScript too."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from sqlalchemy import event

from models import Notification, db
from services.notifications.inbox import notify
from tests.conftest import csrf_token_of

HX = {"HX-Request": "true", "HX-Request-Type": "partial"}


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
