"""The profile page (calendar feed addresses, API tokens) and the feed URL itself."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import icalendar
from sqlalchemy import select

from models import (
    ApiToken,
    CalendarFeed,
    db,
)
from services.output.feeds import own_feed
from services.people.tokens import create_token, user_for_token
from services.timetable.generation import generate_occurrences, resolve_window
from tests.conftest import csrf_token_of


def feed_path(page) -> str:
    url = page.html.select_one("#calendar-feeds code.feed-url").text
    return re.sub(r"^https?://[^/]+", "", url)


def test_every_user_finds_their_feed_address_with_copy_and_it_serves_their_sessions(
    web, login_as, make_user, make_group, make_series, clock
):
    today = clock.today()
    student = make_user("student")
    group = make_group("Maths 7A", students=[student], subject="Mathematics")
    make_series(group, weekdays=(0, 1, 2, 3, 4), start=time(10), end=time(11), first_date=today)
    first, end = resolve_window(today, weeks=1)
    generate_occurrences(first, end, tz=__import__("zoneinfo").ZoneInfo("Europe/Paris"))
    db.session.commit()
    login_as(student)
    page = web.get("/profile/")
    path = feed_path(page)
    assert path.startswith("/calendar/") and path.endswith(".ics")
    copy = page.html.select_one("#calendar-feeds button[data-copy]")
    assert copy["data-copy"].endswith(path)
    web.post("/auth/logout", {"csrf_token": csrf_token_of(page)})
    feed = web.get(path)  # no login: the address is the secret
    assert feed.content_type == "text/calendar" and "BEGIN:VCALENDAR" in feed.text
    # A student's events: the subject and their mentor (not the group's name).
    assert f"SUMMARY:Mathematics with {group.mentor.name}\r\n" in feed.text
    assert feed.headers["Cache-Control"] == "private, no-cache"
    # Calendar apps poll: an unchanged feed answers 304 with no body.
    again = web.get(path, headers={"If-None-Match": feed.headers["ETag"]}, status=304)
    assert again.body == b""


def test_a_new_address_replaces_the_old_one(web, login_as):
    login_as("mentor")
    page = web.get("/profile/")
    old = feed_path(page)
    web.get(old, status=200)
    form = page.html.select_one("#calendar-feeds form")
    web.post(form["action"], {"csrf_token": csrf_token_of(page)}, status=302)
    new = feed_path(web.get("/profile/"))
    assert new != old
    web.get(old, status=404)
    web.get(new, status=200)


def test_unknown_addresses_and_others_feeds_are_not_found(web, login_as, make_user):
    web.get("/calendar/nope.ics", status=404)
    web.get("/calendar/" + "x" * 300 + ".ics", status=404)
    other = make_user("student")
    from services.output.feeds import own_feed

    feed = own_feed(other)
    db.session.commit()
    page_user = login_as("student")
    assert page_user.id != other.id
    token = csrf_token_of(web.get("/profile/"))
    web.post(f"/profile/feeds/{feed.id}/regenerate", {"csrf_token": token}, status=404)
    assert db.session.get(CalendarFeed, feed.id).revoked_at is None


def test_staff_add_room_and_group_feeds_others_cannot(web, login_as, make_group):
    group = make_group("Maths 7A")
    login_as("coordinator")
    page = web.get("/profile/")
    form = page.forms["staff-feed-form"]
    assert page.html.find("select") is None  # typed, with suggestions: no list of every room
    form["group_q"] = "maths 7"
    form.submit(status=302)
    page = web.get("/profile/")
    assert "Maths 7A (group)" in page.text
    # Neither a room nor a group: said, nothing added.
    form = page.forms["staff-feed-form"]
    refused = form.submit(status=422)
    assert "Choose a room or a group." in refused.text
    form["room_q"] = "Attic"
    refused = form.submit(status=422)
    assert "No room matches 'Attic'." in refused.html.find(id="room_q-error").text
    web.post("/auth/logout", {"csrf_token": csrf_token_of(page)})
    login_as("mentor")
    token = csrf_token_of(web.get("/profile/"))
    web.post("/profile/feeds", {"csrf_token": token, "group": str(group.id)}, status=403)


def test_an_api_token_is_shown_once_stored_hashed_and_can_be_revoked(web, login_as):
    user = login_as("mentor")
    page = web.get("/profile/")
    form = page.forms["token-form"]
    form["label"] = "School portal"
    created = form.submit(status=201)
    token = created.html.select_one("#new-token").text
    assert token.startswith("tt_")
    row = db.session.scalar(select(ApiToken))
    assert row.label == "School portal" and token not in (row.token_hash, row.prefix)
    assert user_for_token(token) == user
    # Not shown again.
    page = web.get("/profile/")
    assert token not in page.text and row.prefix in page.text
    revoke = page.html.select_one(f"#token-{row.id} form")
    web.post(revoke["action"], {"csrf_token": csrf_token_of(page)}, status=302)
    assert user_for_token(token) is None


def test_a_too_long_label_is_refused_next_to_the_field(web, login_as):
    login_as("student")
    page = web.get("/profile/")
    form = page.forms["token-form"]
    form["label"] = "x" * 81
    refused = form.submit(status=422)
    assert "Keep the label under 80 characters." in refused.text
    assert db.session.scalar(select(ApiToken)) is None


def test_the_profile_needs_a_login_and_others_tokens_cannot_be_revoked(web, login_as, make_user):
    assert "/auth/login" in web.get("/profile/", status=302).location

    owner = make_user("mentor")
    row, _token = create_token(owner)
    db.session.commit()
    login_as("mentor")
    token = csrf_token_of(web.get("/profile/"))
    web.post(f"/profile/tokens/{row.id}/revoke", {"csrf_token": token}, status=404)
    assert db.session.get(ApiToken, row.id).revoked_at is None


def test_create_token_prints_a_working_token(app, make_user):
    user = make_user("mentor", email="ada@school.test")
    result = app.test_cli_runner().invoke(
        args=["create-token", "--email", "ADA@school.test", "--label", "cron"]
    )
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert user_for_token(token) == user
    assert db.session.scalar(select(ApiToken)).label == "cron"
    for email, message in (("nobody@school.test", "no account"), ("not-an-email", "valid")):
        refused = app.test_cli_runner().invoke(args=["create-token", "--email", email])
        assert refused.exit_code == 1 and message in refused.output


def test_ics_feed_events_are_at_the_right_instants_and_local_wall_times(web, auckland_term):
    """DTSTART/DTEND either carry TZID=Pacific/Auckland (with a VTIMEZONE whose rules give the
    right instants on both sides of the change) or are UTC instants."""
    feed = own_feed(auckland_term["noah"])
    db.session.commit()
    calendar = icalendar.Calendar.from_ical(web.get(f"/calendar/{feed.token}.ics").body)
    events = sorted(calendar.walk("VEVENT"), key=lambda e: e["DTSTART"].dt)
    assert len(events) == 2
    zones = {str(z["TZID"]): z.to_tz() for z in calendar.walk("VTIMEZONE")}
    for event, occurrence in zip(events, auckland_term["sessions"], strict=True):
        day = occurrence.original_date
        for stamp in ("DTSTAMP", "CREATED", "LAST-MODIFIED"):  # UTC, as RFC 5545 requires
            assert event[stamp].to_ical().endswith(b"Z")
        for name, clock, instant in (
            ("DTSTART", time(8), occurrence.start_utc),
            ("DTEND", time(9), occurrence.end_utc),
        ):
            prop = event[name]
            if "TZID" in prop.params:
                assert str(prop.params["TZID"]) == "Pacific/Auckland"
                wall = prop.dt.replace(tzinfo=None)
                assert wall == datetime.combine(day, clock)
                # What a client without the IANA database computes from the VTIMEZONE:
                rules = zones["Pacific/Auckland"]
                assert wall.replace(tzinfo=rules).astimezone(UTC) == instant
            else:
                assert prop.dt.utcoffset() == timedelta(0) and prop.dt == instant
                assert prop.to_ical().endswith(b"Z")


# --- Reminders ---------------------------------------------------------------------------------


def ticked_reminders(page) -> list[str]:
    return [
        box.parent.text.strip()
        for box in page.html.select("#reminders-form input[name=minutes]")
        if box.has_attr("checked")
    ]


def test_everyone_chooses_their_reminders_on_the_profile_or_turns_them_off(web, login_as):
    user = login_as("student")
    page = web.get("/profile/")
    assert ticked_reminders(page) == ["1 hour before", "1 day before"]  # the defaults
    form = page.forms["reminders-form"]
    for box in form.fields["minutes"]:
        box.checked = box._value in ("15", "2880")
    done = form.submit().follow()
    assert "Reminders saved: 2 days before, 15 minutes before each of your sessions." in done.text
    assert ticked_reminders(done) == ["15 minutes before", "2 days before"]
    db.session.expire_all()
    assert user.reminder_minutes == [2880, 15]

    form = done.forms["reminders-form"]
    for box in form.fields["minutes"]:
        box.checked = False
    off = form.submit().follow()
    assert "Reminders turned off" in off.text and ticked_reminders(off) == []
    db.session.expire_all()
    assert user.reminder_minutes == []


def test_a_time_not_offered_is_refused_next_to_the_choices_and_nothing_changes(web, login_as):
    user = login_as("mentor")
    page = web.get("/profile/")
    refused = web.post(
        "/profile/reminders",
        {"csrf_token": csrf_token_of(page), "minutes": ["60", "7"]},
        status=422,
    )
    error = refused.html.select_one("#reminders-error")
    assert error.text.startswith("Choose among 15 minutes before, 1 hour before")
    assert (
        "reminders-error" in refused.html.select_one("#reminders-form fieldset")["aria-describedby"]
    )
    db.session.expire_all()
    assert user.reminder_minutes is None  # still the defaults


def test_the_feed_offers_one_click_subscribe_links_for_each_calendar_app(web, login_as):
    from urllib.parse import parse_qs, urlsplit

    login_as("student")
    page = web.get("/profile/")
    url = page.html.select_one("#calendar-feeds code.feed-url").text
    links = {a.text: a["href"] for a in page.html.select("#calendar-feeds .feed-subscribe a")}
    webcal = "webcal://" + url.split("://", 1)[1]
    assert links["Apple Calendar and other apps"] == webcal
    google = urlsplit(links["Google Calendar"])
    assert (google.netloc, google.path) == ("calendar.google.com", "/calendar/r")
    assert parse_qs(google.query) == {"cid": [webcal]}
    for label, host in (("Outlook.com", "outlook.live.com"),
                        ("Outlook (work or school)", "outlook.office.com")):  # fmt: skip
        outlook = urlsplit(links[label])
        assert (outlook.netloc, outlook.path) == (host, "/calendar/0/addfromweb")
        assert parse_qs(outlook.query) == {"url": [url], "name": ["Termtable: My timetable"]}
