"""Notification pages: the polled bell (204 when nothing changed, the new bell and a toast when
something arrived, what a bell does once its user is logged out), the list (newest first,
paginated, unread marked in words), marking read, following a notification's link, and
row-level access (another user's notification is a 404)."""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from datetime import time
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from models import Notification, db
from services.notifications.inbox import notify
from tests.blueprints.conftest import long_day
from tests.conftest import auckland_at, browser, csrf_token_of


def add(user, title="Maths 7A on Mon 07 Sep 10:00 is cancelled", kind="session_cancelled",
        body="", link=None) -> Notification:  # fmt: skip
    [note] = notify(user.id, kind, title, body, link=link)
    db.session.commit()
    return note


def fresh(note: Notification) -> Notification:
    db.session.expire_all()
    return db.session.get(Notification, note.id)


def bell_poll_url(html) -> str:
    """The URL the bell on this page (or in this fragment) polls."""
    bell = html.find(id="notification-bell")
    # Every 10 s (skipped by the page while the live stream is up), and when a live event says
    # a notification arrived (tests/blueprints/test_live.py).
    triggers = bell.get("hx-trigger", "").split(", ") if bell is not None else []
    assert triggers[:2] == ["every 10s", "notification-arrived from:body"]
    return bell["hx-get"]


def poll_args(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@contextmanager
def statements():
    """The SQL statements run inside the block."""
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


# --- The bell ------------------------------------------------------------------------------------


def test_every_page_has_a_bell_linking_to_the_list_with_the_count_in_words(web, login_as):
    user = login_as("student")
    page = web.get("/sessions/today/")
    bell = page.html.find(id="notification-bell")
    link = bell.find("a")
    assert link["href"] == "/notifications/"
    assert " ".join(link.text.split()) == "Notifications: no unread notifications"
    assert bell.find(class_="bell-count") is None
    assert poll_args(bell_poll_url(page.html)) == {"since": "0", "unread": "0"}

    first, second = add(user, "One"), add(user, "Two")
    page = web.get("/sessions/today/")
    link = page.html.find(id="notification-bell").find("a")
    assert " ".join(link.text.split()) == "Notifications: 2 unread"
    assert link.find(class_="bell-count").text.startswith("2")
    assert poll_args(bell_poll_url(page.html)) == {"since": str(second.id), "unread": "2"}
    assert first.id < second.id


def test_anonymous_pages_have_no_bell(web):
    page = web.get("/auth/login")
    assert page.html.find(id="notification-bell") is None


def test_the_bell_answers_204_without_a_body_while_nothing_changed(web, htmx, login_as):
    user = login_as("mentor")
    add(user)
    url = bell_poll_url(web.get("/sessions/today/").html)
    response = htmx.get(url, status=204)
    assert response.body == b""
    assert "Content-Type" not in response.headers
    assert "HX-Trigger" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"


def test_a_new_notification_swaps_the_bell_and_toasts_its_title(web, htmx, login_as, make_user):
    user = login_as("student")
    url = bell_poll_url(web.get("/sessions/today/").html)
    add(make_user("student"), "Someone else's")  # not this user's: nothing changes
    htmx.get(url, status=204)

    add(user, "Older")
    newest = add(user, 'Art 7A moved to "Lab" <b>')
    response = htmx.get(url)
    assert response.status_int == 200
    assert response.text.lstrip().startswith('<span id="notification-bell"')
    assert "<html" not in response.text
    assert json.loads(response.headers["HX-Trigger"]) == {
        "toast": {"message": 'Art 7A moved to "Lab" <b>'}
    }
    assert " ".join(response.html.find("a").text.split()) == "Notifications: 2 unread"
    # The new bell polls with what it now shows, so the next poll is quiet again.
    next_url = bell_poll_url(response.html)
    assert poll_args(next_url) == {"since": str(newest.id), "unread": "2"}
    htmx.get(next_url, status=204)


def test_a_count_changed_elsewhere_swaps_the_bell_without_a_toast(web, htmx, login_as):
    user = login_as("student")
    note = add(user)
    url = bell_poll_url(web.get("/sessions/today/").html)
    # Read in another tab: same newest id, fewer unread.
    web.post(
        f"/notifications/{note.id}/read", {"csrf_token": csrf_token_of(web.get("/notifications/"))}
    )
    response = htmx.get(url)
    assert response.status_int == 200 and "HX-Trigger" not in response.headers
    assert "no unread notifications" in response.text


@pytest.mark.parametrize(
    "query", ["", "?since=abc&unread=0", "?since=-1&unread=0", "?since=1&unread=",
              f"?since={2**70}&unread=0"],
)  # fmt: skip
def test_a_bell_poll_without_usable_numbers_gets_the_current_bell_without_a_toast(
    htmx, login_as, query
):
    user = login_as("student")
    note = add(user, "Hello")
    response = htmx.get(f"/notifications/bell{query}")
    assert response.status_int == 200 and "HX-Trigger" not in response.headers
    assert poll_args(bell_poll_url(response.html)) == {"since": str(note.id), "unread": "1"}


def test_a_quiet_poll_is_one_tiny_query(web, htmx, login_as):
    user = login_as("student")
    add(user)
    url = bell_poll_url(web.get("/sessions/today/").html)
    with statements() as seen:
        htmx.get(url, status=204)
    about_notifications = [s for s in seen if "notification" in s.lower()]
    assert len(about_notifications) == 1, seen
    assert about_notifications[0].lstrip().upper().startswith("SELECT")


def test_after_logout_a_polling_bell_stops_quietly_without_touching_the_database(
    web, htmx, login_as
):
    user = login_as("student")
    add(user)
    page = web.get("/schedule/mine?date=2026-09-07")
    url = bell_poll_url(page.html)
    web.post("/auth/logout", {"csrf_token": csrf_token_of(page)})

    with statements() as seen:
        response = web.get(
            url,
            headers={
                "HX-Request": "true",
                "HX-Request-Type": "partial",
                "HX-Current-URL": "http://localhost/schedule/mine?date=2026-09-07",
            },
        )
    assert seen == []
    # Not a 401 with HX-Redirect: the tab someone is reading is not pulled to the login page
    # by a background poll; the bell becomes a link to log in again, with no hx-trigger, so
    # htmx 4 stops polling it (there is no "stop polling" status code in htmx 4).
    assert response.status_int == 200
    assert "HX-Redirect" not in response.headers and "HX-Trigger" not in response.headers
    bell = response.html.find(id="notification-bell")
    assert bell is not None and not bell.has_attr("hx-trigger") and not bell.has_attr("hx-get")
    login = bell.find("a")
    assert login.text == "Logged out: log in again"
    assert urlsplit(login["href"]).path == "/auth/login"
    assert poll_args(login["href"]) == {"next": "/schedule/mine?date=2026-09-07"}


def test_a_signed_out_bell_never_offers_an_off_site_return(web):
    response = web.get(
        "/notifications/bell?since=0&unread=0",
        headers={"HX-Request": "true", "HX-Current-URL": "https://evil.example//evil.example/x"},
    )
    href = response.html.find(id="notification-bell").find("a")["href"]
    assert "evil" not in href


def test_the_bell_outside_htmx_sends_anonymous_visitors_to_the_login_page(web):
    response = web.get("/notifications/bell", status=302)
    assert urlsplit(response.location).path == "/auth/login"


# --- The list ------------------------------------------------------------------------------------


def test_the_list_shows_newest_first_with_kind_unread_time_body_and_link(web, login_as, make_user):
    user = login_as("student")
    add(make_user("student"), "Not mine")
    old = add(user, "Request approved", kind="request_approved", body="See you Monday.",
              link="/sessions/5")  # fmt: skip
    new = add(user, "<script>alert(1)</script>", kind="something_else")
    page = web.get("/notifications/")
    items = page.html.select("#notification-list li.notification")
    assert [li["id"] for li in items] == [f"notification-{new.id}", f"notification-{old.id}"]
    assert "Not mine" not in page.text
    newest, oldest = items
    assert "<script>alert(1)</script>" not in page.text  # shown as text, not markup
    assert newest.find(class_="notification-title").text == "<script>alert(1)</script>"
    assert newest.find(class_="badge-kind").text == "Something else"
    assert oldest.find(class_="badge-kind").text == "Request approved"
    assert oldest.find(class_="badge-unread").text == "Unread"  # in words, not colour alone
    assert oldest.find(class_="notification-body").text == "See you Monday."
    # Following it is a POST (it marks it read): a form whose button is the title.
    title_form = oldest.find("form", class_="notification-title")
    assert title_form["action"] == f"/notifications/{old.id}/open"
    assert title_form["method"] == "post"
    assert title_form.button.text == "Request approved"
    assert newest.find(class_="notification-title").name == "p"  # no link, no form
    local = old.created_at.astimezone(ZoneInfo("Europe/Paris"))
    assert oldest.find("time").text == f"{local:%a %d %b %Y}, {local:%H:%M}"
    assert page.html.find(id="notifications-summary").p.text == "2 unread."


def test_the_list_is_paginated_and_pages_swap_alone_for_htmx(web, htmx, login_as):
    user = login_as("mentor")
    notes = [add(user, f"Note {n}") for n in range(25)]
    first = web.get("/notifications/")
    assert len(first.html.select("li.notification")) == 20
    assert first.html.select("li.notification")[0]["id"] == f"notification-{notes[-1].id}"
    next_link = first.html.find("a", rel="next")
    assert next_link["hx-target"] == "#notification-list"
    fragment = htmx.get(next_link["href"])
    assert fragment.text.lstrip().startswith('<section id="notification-list"')
    assert "<html" not in fragment.text
    assert [li["id"] for li in fragment.html.select("li.notification")] == [
        f"notification-{n.id}" for n in reversed(notes[:5])
    ]
    assert "<html" in web.get(next_link["href"]).text  # the same URL loaded: the whole page
    # Nonsense page numbers show the first or the last page.
    assert len(web.get("/notifications/?page=abc").html.select("li.notification")) == 20
    assert len(web.get("/notifications/?page=99").html.select("li.notification")) == 5


def test_the_list_is_for_logged_in_users(web):
    response = web.get("/notifications/", status=302)
    assert urlsplit(response.location).path == "/auth/login"


def test_empty_list(web, login_as):
    login_as("student")
    page = web.get("/notifications/")
    assert "No notifications yet." in page.text
    assert page.html.find(id="notifications-summary").p.text == "No unread notifications."
    assert page.html.find("button", string="Mark all read") is None


# --- Marking read --------------------------------------------------------------------------------


def test_mark_read_swaps_the_item_and_updates_bell_and_summary_out_of_band(htmx, login_as):
    user = login_as("student")
    note, other = add(user, "First"), add(user, "Second")
    response = htmx.post(f"/notifications/{note.id}/read", page="/notifications/")
    assert response.status_int == 200
    assert response.text.lstrip().startswith(f'<li id="notification-{note.id}"')
    item = response.html.find(id=f"notification-{note.id}")
    assert "is-unread" not in item["class"] and item.find(class_="badge-unread") is None
    assert item.find("form") is None  # nothing left to mark
    bell = response.html.find(id="notification-bell")
    assert bell["hx-swap-oob"] == "true"
    assert poll_args(bell["hx-get"]) == {"since": str(other.id), "unread": "1"}
    summary = response.html.find(id="notifications-summary")
    assert summary["hx-swap-oob"] == "true" and summary.p.text == "1 unread."
    assert fresh(note).read_at is not None and fresh(other).read_at is None


def test_mark_read_without_javascript_comes_back_to_the_same_page(web, login_as):
    user = login_as("student")
    notes = [add(user, f"Note {n}") for n in range(22)]
    page = web.get("/notifications/?page=2")
    action = f"/notifications/{notes[0].id}/read?page=2"
    form = next(f for f in page.forms.values() if f.action == action)
    response = form.submit(status=302)
    assert response.location.endswith("/notifications/?page=2")
    assert fresh(notes[0]).read_at is not None


def test_mark_all_read_marks_only_the_users_own(web, login_as, make_user):
    user, stranger = login_as("student"), make_user("student")
    mine, theirs = [add(user, "A"), add(user, "B")], add(stranger, "C")
    page = web.get("/notifications/")
    form = next(f for f in page.forms.values() if f.action == "/notifications/read-all")
    response = form.submit(status=302)
    page = response.follow()
    assert "Marked 2 notifications read." in page.text
    assert all(fresh(n).read_at is not None for n in mine)
    assert fresh(theirs).read_at is None
    assert "no unread notifications" in page.html.find(id="notification-bell").text


@pytest.mark.parametrize("path", ["/notifications/{id}/read", "/notifications/{id}/open"])
def test_another_users_notification_is_404_and_stays_unread(web, htmx, login_as, make_user, path):
    login_as("student")
    theirs = add(make_user("mentor"), "Private")
    url = path.format(id=theirs.id)
    htmx.post(url, page="/notifications/", status=404)
    if url.endswith("/open"):
        web.get(url, status=404)
    assert fresh(theirs).read_at is None


@pytest.mark.parametrize("ident", ["0", "999999", str(2**63), "-1", "abc"])
def test_unknown_ids_are_404(htmx, login_as, ident):
    login_as("student")
    htmx.post(f"/notifications/{ident}/read", page="/notifications/", status=404)


def test_posts_need_the_csrf_token(web, login_as):
    user = login_as("student")
    note = add(user)
    web.post(f"/notifications/{note.id}/read", {}, status=400)
    web.post("/notifications/read-all", {}, status=400)
    assert fresh(note).read_at is None


def test_marking_read_needs_a_login(web, make_user):
    note = add(make_user("student"))
    token = csrf_token_of(web.get("/auth/login"))
    response = web.post(f"/notifications/{note.id}/read", {"csrf_token": token}, status=302)
    assert urlsplit(response.location).path == "/auth/login"
    assert fresh(note).read_at is None


# --- Opening a notification ----------------------------------------------------------------------


def test_opening_a_notification_marks_it_read_and_follows_its_link(web, login_as):
    user = login_as("student")
    note = add(user, link="/sessions/12?tab=notes")
    form = web.get("/notifications/").forms[f"open-notification-{note.id}"]
    response = form.submit(status=302)  # the title's button: a plain form, no JavaScript
    assert response.location.endswith("/sessions/12?tab=notes")
    assert urlsplit(response.location).netloc in ("", "localhost", "localhost:80")
    assert fresh(note).read_at is not None


@pytest.mark.parametrize(
    "link",
    [None, "", "https://evil.example/x", "//evil.example", "/\\evil.example", "javascript:alert(1)",
     "sessions/12", "/ok\r\nSet-Cookie: x=1"],
)  # fmt: skip
def test_opening_a_notification_never_leaves_the_site(web, htmx, login_as, link):
    user = login_as("student")
    note = add(user, link=link)
    for response in (
        web.get(f"/notifications/{note.id}/open", status=302),
        htmx.post(f"/notifications/{note.id}/open", page="/notifications/", status=302),
    ):
        assert urlsplit(response.location).path == "/notifications/"
        assert urlsplit(response.location).netloc in ("", "localhost", "localhost:80")
    assert fresh(note).read_at is not None


def test_two_browsers_see_their_own_bells(app, web, login_as, make_user):
    alice = login_as("student")
    add(alice, "For Alice")
    other = browser(app)
    bob = make_user("student")
    form = other.get("/auth/login").forms[0]
    form["email"], form["password"] = bob.email, "correct horse battery"
    form.submit()
    assert (
        "no unread notifications"
        in other.get("/sessions/today/").html.find(id="notification-bell").text
    )
    assert re.search(
        r"1\s*unread", web.get("/sessions/today/").html.find(id="notification-bell").text
    )
    assert db.session.scalar(select(Notification.user_id)) == alice.id


def test_notification_times_are_local(web, login_as, auckland_term):
    noah = auckland_term["noah"]
    created = auckland_at(auckland_term["after"], time(6, 45))  # 18:45 or 17:45 UTC the day before
    note = Notification(user_id=noah.id, kind="session_moved", title="Something moved")
    db.session.add(note)
    db.session.flush()
    note.created_at = created
    db.session.commit()
    login_as(noah)
    shown = web.get("/notifications/").html.find(id=f"notification-{note.id}").find("time")
    assert shown.text == f"{long_day(auckland_term['after'])}, 06:45"
