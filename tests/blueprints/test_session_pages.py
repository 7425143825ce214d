"""Session pages: detail, create, edit, cancel, restore and delete, as a user meets them."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from models import (
    DateOverride,
    Occurrence,
    OccurrenceStatus,
    Room,
    db,
)
from services.common.timeutil import week_start
from services.timetable.exceptions import OverrideChange, find_occurrence, save_override
from services.timetable.generation import generate_occurrences
from services.timetable.sessions import create_one_time_session
from tests.blueprints.conftest import long_day, switch_to
from tests.blueprints.test_security import scan
from tests.conftest import AKL, PINNED_TODAY, SERVER_TZ, auckland_at, freeze

PARIS = ZoneInfo("Europe/Paris")  # the test app's TIMEZONE
TODAY = PINNED_TODAY

# Dates are constants of the module: its clock is pinned, so they never go stale.
pytestmark = pytest.mark.usefixtures("pinned_clock")
MONDAY = week_start(TODAY) + timedelta(weeks=2)
DASH = "\u2013"


def at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=PARIS).astimezone(UTC)


def local(occurrence: Occurrence) -> tuple[date, time, time]:
    start, end = occurrence.start_utc.astimezone(PARIS), occurrence.end_utc.astimezone(PARIS)
    return start.date(), start.time(), end.time()


def fresh(occurrence_id: int) -> Occurrence | None:
    db.session.expire_all()
    return db.session.get(Occurrence, occurrence_id)


def occurrence_count() -> int:
    return db.session.scalar(select(func.count(Occurrence.id)))


def override_count() -> int:
    return db.session.scalar(select(func.count(DateOverride.id)))


def one_time(group, day=MONDAY, start=time(10), end=time(11), *, room="default", **kwargs):
    occurrence = Occurrence(
        group_id=group.id,
        start_utc=at(day, start),
        end_utc=at(day, end),
        room_id=group.default_room_id if room == "default" else room,
        **kwargs,
    )
    db.session.add(occurrence)
    db.session.commit()
    return occurrence


def generate(weeks=2, force=False):
    summary = generate_occurrences(MONDAY, MONDAY + timedelta(weeks=weeks), tz=PARIS, force=force)
    db.session.commit()
    return summary


def roots(response) -> list[tuple[str, str | None]]:
    return [(r.name, r.get("id")) for r in response.html.find_all(recursive=False)]


def error_of(page, field) -> str:
    error = page.html.find(id=f"{field}-error")
    assert error is not None, f"no error next to {field}: {page.html.find('form')}"
    return error.text


@pytest.fixture
def session(make_user, make_group, make_room):
    """A one-time session of Maths 7A (mentor Ms Curie, one enrolled student) in Lab 1."""
    mentor = make_user("mentor", name="Ms Curie")
    student = make_user("student", name="Noah Bernard")
    group = make_group(
        "Maths 7A", mentor=mentor, subject="Mathematics", room=make_room("Lab 1"),
        students=[student],
    )  # fmt: skip
    return one_time(group, title="Exam revision")


@pytest.fixture
def series_session(make_group, make_series, make_room):
    """A generated Monday 10:00-11:00 session of the Physics 8B series in Lab 2."""
    series = make_series(make_group("Physics 8B", room=make_room("Lab 2")), first_date=MONDAY)
    generate()
    return find_occurrence(series.id, MONDAY)


# --- Detail -------------------------------------------------------------------------------------


def test_the_detail_page_shows_what_the_session_is(web, login_as, session):
    login_as("coordinator")
    page = web.get(f"/sessions/{session.id}")
    panel = page.html.find(id=f"session-{session.id}")
    assert panel.find("h1").text == "Exam revision"
    text = " ".join(panel.text.split())
    for expected in ("Mathematics", "Maths 7A", "Ms Curie", "Lab 1", "In person",
                     f"{MONDAY:%a %d %b %Y}", f"10:00{DASH}11:00", "One-time"):  # fmt: skip
        assert expected in text, expected
    badge = panel.find(attrs={"data-status": True})
    assert badge.text == "Scheduled" and "badge-scheduled" in badge["class"]
    assert "not part of a weekly series" in text
    assert "No conflicts." in text
    assert scan(page).problems == []


def test_local_times_are_shown_in_the_organisation_zone(web, login_as, make_group):
    login_as("coordinator")
    # 23:30 local on a winter Monday is 22:30 UTC the same day; in summer 21:30 UTC.
    occurrence = one_time(make_group(), start=time(23), end=time(23, 30))
    page = web.get(f"/sessions/{occurrence.id}")
    assert f"23:00{DASH}23:30" in page.html.find(attrs={"data-field": "time"}).text


def test_a_series_session_shows_its_series_date_and_exception(web, login_as, series_session):
    login_as("coordinator")
    save_override(
        series_session.series, MONDAY,
        OverrideChange(new_date=MONDAY + timedelta(days=1), start_time=time(14),
                       end_time=time(15), notes="Lab 2 being painted"),
        actor=None, tz=PARIS,
    )  # fmt: skip
    db.session.commit()
    page = web.get(f"/sessions/{series_session.id}")
    origin = " ".join(page.html.find(id=f"session-origin-{series_session.id}").text.split())
    assert "weekly series of Physics 8B: Mon 10:00" in origin
    assert page.html.find(attrs={"data-field": "original-date"}).text == f"{MONDAY:%a %d %b %Y}"
    assert "Moved" in origin and f"to {MONDAY + timedelta(days=1):%a %d %b %Y}" in origin
    assert "Lab 2 being painted" in origin
    assert "Weekly series" in page.html.find("hgroup").text
    assert (
        f"{MONDAY + timedelta(days=1):%a %d %b %Y}"
        in page.html.find(attrs={"data-field": "date"}).text
    )


def test_a_cancelled_series_session_shows_the_reason(web, login_as, series_session):
    login_as("coordinator")
    save_override(
        series_session.series, MONDAY, OverrideChange(cancelled=True, notes="Strike"),
        actor=None, tz=PARIS,
    )  # fmt: skip
    db.session.commit()
    page = web.get(f"/sessions/{series_session.id}")
    status = page.html.find(attrs={"data-field": "status"}).text
    assert "Cancelled" in status and "Reason: Strike" in status
    assert "this date is cancelled" in page.html.find(id=f"session-origin-{series_session.id}").text


def test_conflicts_name_the_other_session(web, login_as, session, make_group):
    login_as("coordinator")
    lab = session.room
    other = one_time(make_group("Physics 8B", room=lab), start=time(10, 30), end=time(11, 30))
    page = web.get(f"/sessions/{session.id}")
    conflicts = page.html.find(id=f"session-conflicts-{session.id}")
    text = " ".join(conflicts.text.split())
    assert "Room conflict" in text and "Lab 1 (room) is also booked by" in text
    assert f"Physics 8B on {MONDAY:%a %d %b %Y} 10:30-11:30 (Lab 1)" in text
    assert conflicts.find("a")["href"] == f"/sessions/{other.id}"
    assert "Conflict" in page.html.find("hgroup").text


def test_htmx_gets_only_the_session_panel(web, login_as, htmx, session):
    login_as("coordinator")
    response = htmx.get(f"/sessions/{session.id}")
    assert roots(response) == [("article", f"session-{session.id}")]
    assert "<html" not in response.text
    assert "HX-Request" in response.headers["Vary"]
    # A history restore or a plain reload gets the whole page.
    page = web.get(
        f"/sessions/{session.id}",
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )
    assert "<html" in page.text


def test_staff_see_the_actions_and_others_do_not(web, login_as, session):
    login_as(session.group.mentor)
    page = web.get(f"/sessions/{session.id}")
    assert page.html.find(id=f"session-actions-{session.id}") is None
    assert page.html.find(id=f"session-conflicts-{session.id}") is not None


def test_a_student_sees_their_session_without_conflicts_or_actions(
    web, login_as, session, make_user
):
    student = session.group.enrolments[0].student
    login_as(student)
    page = web.get(f"/sessions/{session.id}")
    assert "Exam revision" in page.text
    assert page.html.find(id=f"session-conflicts-{session.id}") is None
    assert page.html.find(id=f"session-actions-{session.id}") is None


@pytest.mark.parametrize("role", ["mentor", "student"])
def test_another_users_session_answers_404(web, login_as, htmx, session, role):
    login_as(role)  # a mentor who does not teach Maths 7A, a student not enrolled in it
    web.get(f"/sessions/{session.id}", status=404)
    response = htmx.get(f"/sessions/{session.id}", status=404)
    assert 'id="error-404"' in response.text and "<html" not in response.text
    for url in ("edit", "cancel", "delete"):
        web.get(f"/sessions/{session.id}/{url}", status=404)
    for url in ("edit", "cancel", "restore", "delete"):
        htmx.post(f"/sessions/{session.id}/{url}", {"reason": "x"}, status=404)
    assert fresh(session.id).status == OccurrenceStatus.SCHEDULED


@pytest.mark.parametrize("bad", ["0", "999999", str(2**63), "-1", "abc"])
def test_unknown_session_ids_answer_404(web, login_as, bad):
    login_as("coordinator")
    web.get(f"/sessions/{bad}", status=404)
    web.get(f"/sessions/{bad}/edit", status=404)


def test_anonymous_visitors_are_sent_to_login(web, session):
    for url in (f"/sessions/{session.id}", "/sessions/new", f"/sessions/{session.id}/edit"):
        assert urlsplit(web.get(url, status=302).headers["Location"]).path == "/auth/login"


# --- Roles and CSRF -----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["mentor", "student"])
def test_the_sessions_own_mentor_and_students_may_not_act_on_it(web, login_as, htmx, session, who):
    login_as(session.group.mentor if who == "mentor" else session.group.enrolments[0].student)
    web.get(f"/sessions/{session.id}", status=200)  # they may see it...
    web.get("/sessions/new", status=403)  # ...but not act on it
    htmx.post("/sessions/new", {"group": str(session.group_id)}, status=403)
    for url in ("edit", "cancel", "delete"):
        web.get(f"/sessions/{session.id}/{url}", status=403)
    for url in ("edit", "cancel", "restore", "delete"):
        htmx.post(f"/sessions/{session.id}/{url}", {"reason": "x"}, status=403)
    assert fresh(session.id).status == OccurrenceStatus.SCHEDULED
    assert occurrence_count() == 1


def test_posts_without_a_csrf_token_are_refused(web, login_as, session):
    login_as("coordinator")
    for url, params in [
        ("/sessions/new", {"group": str(session.group_id), "date": MONDAY.isoformat(),
                           "start": "14:00", "end": "15:00", "mode": "online", "room": "0"}),
        (f"/sessions/{session.id}/edit", {"date": MONDAY.isoformat(), "start": "12:00",
                                          "end": "13:00", "room": str(session.room_id),
                                          "mode": "in_person"}),
        (f"/sessions/{session.id}/cancel", {"reason": "Trip"}),
        (f"/sessions/{session.id}/restore", {}),
        (f"/sessions/{session.id}/delete", {}),
    ]:  # fmt: skip
        response = web.post(url, params, status=400)
        assert "security token" in response.text, url
        web.post(url, params, headers={"HX-Request": "true", "X-CSRFToken": "forged"}, status=400)
    saved = fresh(session.id)
    assert (saved.status, local(saved)[1], saved.sequence) == (
        OccurrenceStatus.SCHEDULED, time(10), 0,
    )  # fmt: skip
    assert occurrence_count() == 1


# --- Create -------------------------------------------------------------------------------------


def new_form(web, query=""):
    return web.get(f"/sessions/new{query}").forms["new-session-form"]


def test_the_new_form_is_prefilled_from_the_grid_link(web, login_as, make_group, make_room):
    login_as("coordinator")
    hall = make_room("Great Hall")
    group = make_group("Maths 7A")
    form = new_form(web, f"?date={MONDAY}&start=14:00&end=15:30&room={hall.id}&group={group.id}")
    assert form["date"].value == MONDAY.isoformat()
    assert (form["start"].value, form["end"].value) == ("14:00", "15:30")
    assert form["room"].value == str(hall.id) and form["group"].value == str(group.id)
    # The fields show them by name (they are typed, with suggestions).
    assert (form["room_q"].value, form["group_q"].value) == ("Great Hall", "Maths 7A")
    # Only the group: its default room; only a start: one hour.
    form = new_form(web, f"?group={group.id}&start=09:00")
    assert form["room"].value == str(group.default_room_id)
    assert form["room_q"].value == db.session.get(Room, group.default_room_id).name
    assert form["end"].value == "10:00"
    assert form["date"].value == TODAY.isoformat()


def test_bad_prefill_values_are_ignored_not_shown_as_errors(web, login_as, make_group):
    login_as("coordinator")
    inactive = make_group(active=False)
    page = web.get(f"/sessions/new?date=2026-02-30&start=24:00&room=abc&group={inactive.id}")
    assert page.status_int == 200
    assert page.html.find(class_="field-error") is None
    form = page.forms["new-session-form"]
    assert form["date"].value == TODAY.isoformat()
    assert form["start"].value == "" and form["group"].value == ""
    assert form["group_q"].value == "" and form["room_q"].value == ""
    assert page.html.find("select", attrs={"name": "group"}) is None


def test_create_a_one_time_session(web, login_as, make_group):
    login_as("coordinator")
    group = make_group("Maths 7A")
    form = new_form(web, f"?group={group.id}")
    form["date"], form["start"], form["end"] = MONDAY.isoformat(), "14:00", "15:00"
    form["title"] = "Mock exam"
    page = form.submit(status=302).follow()
    occurrence = db.session.scalar(select(Occurrence))
    assert urlsplit(page.request.url).path == f"/sessions/{occurrence.id}"
    assert f"Session created: Maths 7A on {MONDAY:%a %d %b %Y} 14:00-15:00" in page.text
    assert local(occurrence) == (MONDAY, time(14), time(15))
    assert occurrence.series_id is None and occurrence.title == "Mock exam"
    assert occurrence.room_id == group.default_room_id and occurrence.sequence == 0


def test_create_an_online_session_without_a_room(web, login_as, make_group):
    login_as("coordinator")
    form = new_form(web, f"?group={make_group().id}")
    form["date"], form["start"], form["end"] = MONDAY.isoformat(), "14:00", "15:00"
    form["room_q"], form["mode"] = "", "online"
    form.submit(status=302)
    occurrence = db.session.scalar(select(Occurrence))
    assert occurrence.room_id is None and occurrence.mode == "online"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"start": "12:00", "end": "11:00"}, "end", "must be after the start"),
        ({"start": "12:00", "end": "12:00"}, "end", "must be after the start"),
        ({"start": "24:00"}, "start", "Not a valid time"),
        ({"start": "10.00"}, "start", "Not a valid time"),
        ({"end": "23:60"}, "end", "Not a valid time"),
        ({"start": ""}, "start", "Enter the start time."),
        ({"date": "2026-02-30"}, "date", "Not a valid date"),
        ({"date": "2027-02-29"}, "date", "Not a valid date"),
        ({"date": "05/01/2026"}, "date", "Not a valid date"),
        ({"date": "  "}, "date", "Not a valid date"),
        ({"date": ""}, "date", "Choose the date."),
        ({"date": "0001-01-01"}, "date", "Choose a date between"),
        ({"date": "9999-12-31"}, "date", "Choose a date between"),
        ({"room": "0"}, "room_q", "Choose a room for an in-person session"),
        ({"group": "0"}, "group_q", "Choose a course group."),
        ({"room_q": "Nowhere"}, "room_q", "No room matches 'Nowhere'."),
        ({"group_q": "Nothing like it"}, "group_q", "No group matches 'Nothing like it'."),
        ({"mode": "hybrid"}, "mode", "Not a valid choice"),
        ({"title": "x" * 201}, "title", "limited to 200 characters"),
    ],
)
def test_bad_input_is_shown_next_to_the_field_keeping_what_was_typed(
    web, login_as, htmx, make_group, fields, field, message
):
    login_as("coordinator")
    group = make_group()
    params = {
        "group": str(group.id), "date": MONDAY.isoformat(), "start": "10:00", "end": "11:00",
        "room": str(group.default_room_id), "mode": "in_person", "title": "Typed title",
    } | fields  # fmt: skip
    page = htmx.post("/sessions/new", params, page="/sessions/new", status=422)
    assert roots(page) == [("section", "new-session")]
    assert message in error_of(page, field)
    form = page.html.find(id="new-session-form")
    for name in ("start", "end", "title"):
        if name != field:
            assert form.find(attrs={"name": name})["value"] == params[name]
    assert occurrence_count() == 0


def test_a_plain_form_post_with_errors_gets_the_page_again(web, login_as, make_group):
    login_as("coordinator")
    form = new_form(web, f"?group={make_group().id}")
    form["date"], form["start"], form["end"] = MONDAY.isoformat(), "14:00", "13:00"
    page = form.submit(status=422)
    assert "<html" in page.text and "must be after the start" in error_of(page, "end")
    assert page.forms["new-session-form"]["start"].value == "14:00"


def test_a_room_double_booking_is_refused_with_409_naming_the_other_session(
    web, login_as, session, make_group
):
    login_as("coordinator")
    physics = make_group("Physics 8B")
    form = new_form(web, f"?group={physics.id}")
    form["date"], form["start"], form["end"] = MONDAY.isoformat(), "10:30", "11:30"
    form["room_q"] = "Lab 1"
    page = form.submit(status=409)
    assert (
        f"Lab 1 (room) is already booked by Maths 7A on {MONDAY:%a %d %b %Y} 10:00-11:00"
        in error_of(page, "room_q")
    )
    assert page.forms["new-session-form"]["start"].value == "10:30"
    assert occurrence_count() == 1


def test_a_mentor_double_booking_is_refused_with_409(web, login_as, session, make_group):
    login_as("coordinator")
    other_group = make_group("Maths 9C", mentor=session.group.mentor)
    form = new_form(web, f"?group={other_group.id}")
    form["date"], form["start"], form["end"] = MONDAY.isoformat(), "10:59", "12:00"
    page = form.submit(status=409)
    assert "Ms Curie already teaches Maths 7A" in error_of(page, "start")
    # Back to back is fine.
    form = page.forms["new-session-form"]
    form["start"] = "11:00"
    form.submit(status=302)
    assert occurrence_count() == 2


def test_a_time_in_the_dst_gap_is_moved_forward_and_the_user_is_told(web, login_as, make_group):
    login_as("coordinator")
    day = MONDAY
    while (
        datetime.combine(day, time(12), PARIS).utcoffset()
        >= datetime.combine(day + timedelta(days=1), time(12), PARIS).utcoffset()
    ):
        day += timedelta(days=1)
    gap_day = day + timedelta(days=1)  # the day the clocks go forward
    form = new_form(web, f"?group={make_group().id}")
    form["date"], form["start"], form["end"] = gap_day.isoformat(), "02:30", "03:15"
    page = form.submit(status=302).follow()
    occurrence = db.session.scalar(select(Occurrence))
    assert local(occurrence) == (gap_day, time(3, 30), time(4, 15))
    flashes = page.html.find(id="flashes").text
    assert "02:30 does not exist" in flashes and "03:30-04:15" in flashes


def test_htmx_create_sends_the_tab_to_the_new_session(web, login_as, htmx, make_group):
    login_as("coordinator")
    group = make_group()
    fragment = htmx.get(f"/sessions/new?group={group.id}")
    assert roots(fragment) == [("section", "new-session")]
    assert fragment.html.find("form")["hx-post"] == "/sessions/new"
    response = htmx.post(
        "/sessions/new",
        {"group": str(group.id), "date": MONDAY.isoformat(), "start": "08:00", "end": "09:00",
         "room": str(group.default_room_id), "mode": "in_person"},
        page="/sessions/new",
    )  # fmt: skip
    occurrence = db.session.scalar(select(Occurrence))
    assert response.status_int == 200
    assert response.headers["HX-Redirect"] == f"/sessions/{occurrence.id}"


def test_extra_fields_are_ignored(web, login_as, htmx, make_group, make_series):
    login_as("coordinator")
    group = make_group()
    series = make_series(group)
    htmx.post(
        "/sessions/new",
        {"group": str(group.id), "date": MONDAY.isoformat(), "start": "08:00", "end": "09:00",
         "room": str(group.default_room_id), "mode": "in_person", "status": "completed",
         "series_id": str(series.id), "sequence": "99", "id": "5"},
        page="/sessions/new",
    )  # fmt: skip
    occurrence = db.session.scalar(select(Occurrence))
    assert occurrence.status == OccurrenceStatus.SCHEDULED
    assert (occurrence.series_id, occurrence.sequence) == (None, 0)


# --- Edit ---------------------------------------------------------------------------------------


def test_edit_a_one_time_session(web, login_as, session, make_room):
    login_as("coordinator")
    hall = make_room("Great Hall")
    form = web.get(f"/sessions/{session.id}/edit").forms["session-edit-form"]
    assert (form["date"].value, form["start"].value, form["end"].value) == (
        MONDAY.isoformat(), "10:00", "11:00",
    )  # fmt: skip
    assert form["title"].value == "Exam revision" and form["room"].value == str(session.room_id)
    assert "group" not in form.fields
    form["start"], form["end"], form["room_q"] = "13:00", "14:30", "Great Hall"
    form["mode"], form["title"] = "online", "Revision (online)"
    page = form.submit(status=302).follow()
    assert "Session updated." in page.text
    saved = fresh(session.id)
    assert local(saved) == (MONDAY, time(13), time(14, 30))
    assert (saved.room_id, saved.mode, saved.title) == (hall.id, "online", "Revision (online)")
    assert saved.sequence == 1
    assert saved.group_id == session.group_id


def test_editing_with_htmx_swaps_the_editor_and_the_panel(web, login_as, htmx, session):
    login_as("coordinator")
    editor = htmx.get(f"/sessions/{session.id}/edit")
    assert roots(editor) == [("article", f"session-{session.id}")]
    assert editor.html.find("form")["hx-post"] == f"/sessions/{session.id}/edit"
    response = htmx.post(
        f"/sessions/{session.id}/edit",
        {"date": MONDAY.isoformat(), "start": "15:00", "end": "16:00",
         "room": str(session.room_id), "mode": "in_person", "title": "Exam revision"},
        page=f"/sessions/{session.id}",
    )  # fmt: skip
    assert roots(response) == [("article", f"session-{session.id}")]
    assert f"15:00{DASH}16:00" in response.html.find(attrs={"data-field": "time"}).text
    trigger = json.loads(response.headers["HX-Trigger"])
    assert set(trigger) == {"toast"}
    assert trigger["toast"]["message"] == "Session updated."
    # Errors come back in the editor, with 422, keeping what was typed.
    response = htmx.post(
        f"/sessions/{session.id}/edit",
        {"date": MONDAY.isoformat(), "start": "17:00", "end": "16:00",
         "room": str(session.room_id), "mode": "in_person", "title": "Exam revision"},
        page=f"/sessions/{session.id}", status=422,
    )  # fmt: skip
    assert roots(response) == [("article", f"session-{session.id}")]
    assert "must be after the start" in error_of(response, "end")
    assert response.html.find(attrs={"name": "start"})["value"] == "17:00"
    assert local(fresh(session.id))[1] == time(15)


def test_an_edit_that_double_books_is_refused_with_409(web, login_as, session, make_group):
    login_as("coordinator")
    one_time(make_group("Physics 8B", room=session.room), start=time(14), end=time(15))
    form = web.get(f"/sessions/{session.id}/edit").forms["session-edit-form"]
    form["start"], form["end"] = "14:30", "15:30"
    page = form.submit(status=409)
    assert "Lab 1 (room) is already booked by Physics 8B" in error_of(page, "room_q")
    saved = fresh(session.id)
    assert local(saved)[1] == time(10) and saved.sequence == 0


def test_editing_a_series_session_records_an_exception_that_survives_regeneration(
    web, login_as, series_session, make_room
):
    user = login_as("coordinator")
    hall = make_room("Great Hall")
    page = web.get(f"/sessions/{series_session.id}/edit")
    explanation = page.html.find(id="series-edit-explanation").text
    assert "exception" in explanation and "regeneration keeps the change" in explanation
    form = page.forms["session-edit-form"]
    assert "mode" not in form.fields and "title" not in form.fields
    form["date"] = (MONDAY + timedelta(days=2)).isoformat()
    form["start"], form["end"], form["room_q"] = "16:00", "17:00", "Great Hall"
    form["notes"] = "Lab 2 being painted"
    page = form.submit(status=302).follow()
    assert f"Exception saved for {MONDAY:%a %d %b %Y}." in page.text
    override = db.session.scalar(select(DateOverride))
    assert (override.series_id, override.original_date) == (series_session.series_id, MONDAY)
    assert override.new_date == MONDAY + timedelta(days=2)
    assert (override.start_time, override.end_time, override.room_id) == (
        time(16),
        time(17),
        hall.id,
    )
    assert override.notes == "Lab 2 being painted" and override.created_by_id == user.id
    summary = generate(force=True)
    assert (summary.updated, summary.removed) == (0, 0)
    saved = fresh(series_session.id)
    assert local(saved) == (MONDAY + timedelta(days=2), time(16), time(17))
    assert saved.room_id == hall.id and saved.sequence == 1 and not saved.edited_by_hand


def test_a_completed_session_cannot_be_edited(web, login_as, htmx, session):
    login_as("coordinator")
    session.status = OccurrenceStatus.COMPLETED
    db.session.commit()
    page = web.get(f"/sessions/{session.id}/edit", status=409)
    assert "completed: its record cannot be edited" in page.html.find(id="edit-refusal").text
    assert "session-edit-form" not in page.forms
    response = htmx.post(
        f"/sessions/{session.id}/edit",
        {"date": MONDAY.isoformat(), "start": "15:00", "end": "16:00",
         "room": str(session.room_id), "mode": "in_person"},
        page=f"/sessions/{session.id}", status=409,
    )  # fmt: skip
    assert "cannot be edited" in response.text
    assert local(fresh(session.id))[1] == time(10)
    detail = web.get(f"/sessions/{session.id}")
    assert "cannot be edited" in detail.html.find(id=f"edit-refusal-{session.id}").text


def test_a_cancelled_session_must_be_restored_before_editing(web, login_as, session):
    login_as("coordinator")
    session.status = OccurrenceStatus.CANCELLED
    db.session.commit()
    page = web.get(f"/sessions/{session.id}/edit", status=409)
    assert "restore it first" in page.text


# --- Cancel and restore -------------------------------------------------------------------------


def test_cancel_a_one_time_session_from_the_detail_page(web, login_as, session):
    login_as("coordinator")
    page = web.get(f"/sessions/{session.id}")
    form = page.forms[f"cancel-form-{session.id}"]
    form["reason"] = "Mentor ill"
    page = form.submit(status=302).follow()
    assert "Session cancelled." in page.text
    status = page.html.find(attrs={"data-field": "status"}).text
    assert "Cancelled" in status and "Reason: Mentor ill" in status
    saved = fresh(session.id)
    assert (saved.status, saved.cancel_reason, saved.sequence) == (
        OccurrenceStatus.CANCELLED, "Mentor ill", 1,
    )  # fmt: skip
    # Now it offers a restore instead, and no cancel.
    assert f"restore-session-{session.id}" in page.forms
    assert f"cancel-form-{session.id}" not in page.forms


def test_cancel_with_htmx_returns_the_panel_and_tells_the_page(web, login_as, htmx, session):
    login_as("coordinator")
    response = htmx.post(
        f"/sessions/{session.id}/cancel", {"reason": "Trip"}, page=f"/sessions/{session.id}"
    )
    assert roots(response) == [("article", f"session-{session.id}")]
    assert response.html.find(attrs={"data-status": True}).text == "Cancelled"
    trigger = json.loads(response.headers["HX-Trigger"])
    assert set(trigger) == {"toast"}
    assert trigger["toast"]["message"] == "Session cancelled."


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_cancellation_without_a_reason_is_refused_in_the_panel(
    web, login_as, htmx, session, reason
):
    login_as("coordinator")
    response = htmx.post(
        f"/sessions/{session.id}/cancel", {"reason": reason}, page=f"/sessions/{session.id}",
        status=422,
    )  # fmt: skip
    assert roots(response) == [("article", f"session-{session.id}")]
    assert response.html.find(id=f"cancel-session-{session.id}").has_attr("open")
    assert error_of(response, "reason") == "Give a reason for the cancellation."
    assert fresh(session.id).status == OccurrenceStatus.SCHEDULED


def test_the_cancel_page_works_without_javascript(web, login_as, session):
    login_as("coordinator")
    page = web.get(f"/sessions/{session.id}/cancel")
    form = page.forms[f"cancel-form-{session.id}"]
    assert not form.html.find("form").has_attr("hx-post")
    page = form.submit(status=422)
    assert error_of(page, "reason") == "Give a reason for the cancellation."
    form = page.forms[f"cancel-form-{session.id}"]
    form["reason"] = "Trip"
    form.submit(status=302)
    assert fresh(session.id).status == OccurrenceStatus.CANCELLED


def test_cancelling_a_series_session_records_a_cancelling_exception(web, login_as, series_session):
    login_as("coordinator")
    page = web.get(f"/sessions/{series_session.id}")
    form = page.forms[f"cancel-form-{series_session.id}"]
    assert "records an exception" in form.html.text
    form["reason"] = "Strike"
    form.submit(status=302)
    override = db.session.scalar(select(DateOverride))
    assert override.cancelled and override.notes == "Strike"
    assert override.original_date == MONDAY
    generate(force=True)
    saved = fresh(series_session.id)
    assert saved.status == OccurrenceStatus.CANCELLED and saved.sequence == 1


def test_cancelling_a_completed_session_is_refused(web, login_as, htmx, session):
    login_as("coordinator")
    session.status = OccurrenceStatus.COMPLETED
    db.session.commit()
    page = web.get(f"/sessions/{session.id}/cancel", status=409)
    assert "cannot be cancelled" in page.html.find(id="cancel-refusal").text
    response = htmx.post(
        f"/sessions/{session.id}/cancel", {"reason": "x"}, page=f"/sessions/{session.id}",
        status=409,
    )  # fmt: skip
    assert "cannot be cancelled" in response.html.find(id=f"session-{session.id}-error").text
    assert fresh(session.id).status == OccurrenceStatus.COMPLETED


def test_restore_a_cancelled_session(web, login_as, session):
    login_as("coordinator")
    session.status, session.cancel_reason = OccurrenceStatus.CANCELLED, "Trip"
    db.session.commit()
    page = web.get(f"/sessions/{session.id}").forms[f"restore-session-{session.id}"].submit()
    page = page.follow()
    assert "Session restored." in page.text
    saved = fresh(session.id)
    assert (saved.status, saved.cancel_reason, saved.sequence) == (
        OccurrenceStatus.SCHEDULED, None, 1,
    )  # fmt: skip


def test_restore_into_a_taken_slot_is_refused_naming_the_other_session(
    web, login_as, htmx, session, make_group
):
    login_as("coordinator")
    session.status = OccurrenceStatus.CANCELLED
    db.session.commit()
    one_time(make_group("Physics 8B", room=session.room))
    response = htmx.post(
        f"/sessions/{session.id}/restore", page=f"/sessions/{session.id}", status=409
    )
    assert roots(response) == [("article", f"session-{session.id}")]
    error = response.html.find(id=f"session-{session.id}-error").text
    assert "Lab 1 (room) is already booked by Physics 8B" in error
    assert fresh(session.id).status == OccurrenceStatus.CANCELLED
    # Without htmx: the page again, with the message and 409.
    page = (
        web.get(f"/sessions/{session.id}").forms[f"restore-session-{session.id}"].submit(status=409)
    )
    assert "Physics 8B" in page.html.find(id=f"session-{session.id}-error").text


def test_restore_a_cancelled_series_date(web, login_as, htmx, series_session):
    login_as("coordinator")
    save_override(
        series_session.series, MONDAY, OverrideChange(cancelled=True, notes="Strike"),
        actor=None, tz=PARIS,
    )  # fmt: skip
    db.session.commit()
    htmx.post(f"/sessions/{series_session.id}/restore", page=f"/sessions/{series_session.id}")
    assert override_count() == 0
    assert fresh(series_session.id).status == OccurrenceStatus.SCHEDULED


# --- Delete -------------------------------------------------------------------------------------


def test_delete_asks_for_confirmation_then_deletes(web, login_as, session):
    login_as("coordinator")
    page = web.get(f"/sessions/{session.id}").click("Delete…")
    assert urlsplit(page.request.url).path == f"/sessions/{session.id}/delete"
    assert "cannot be undone" in page.text
    assert occurrence_count() == 1
    page = page.forms[f"delete-form-{session.id}"].submit(status=302).follow()
    assert urlsplit(page.request.url).path == "/schedule/"
    assert f"Session deleted: Maths 7A on {MONDAY:%a %d %b %Y} 10:00-11:00." in page.text
    assert occurrence_count() == 0
    web.get(f"/sessions/{session.id}", status=404)


def test_delete_with_htmx(web, login_as, htmx, session):
    login_as("coordinator")
    confirm = htmx.get(f"/sessions/{session.id}/delete")
    assert roots(confirm) == [("section", f"session-actions-{session.id}")]
    assert confirm.html.find("form")["hx-post"] == f"/sessions/{session.id}/delete"
    response = htmx.post(f"/sessions/{session.id}/delete", page=f"/sessions/{session.id}")
    assert response.status_int == 200
    assert response.headers["HX-Redirect"] == f"/schedule/?date={MONDAY.isoformat()}"
    assert occurrence_count() == 0


def test_a_series_session_cannot_be_deleted_and_the_page_says_what_to_do(
    web, login_as, htmx, series_session
):
    login_as("coordinator")
    detail = web.get(f"/sessions/{series_session.id}")
    assert "Delete…" not in detail.text
    assert (
        "cancel its date instead"
        in detail.html.find(id=f"session-actions-{series_session.id}").text
    )
    page = web.get(f"/sessions/{series_session.id}/delete", status=409)
    assert "cannot be deleted" in page.html.find(id="delete-refusal").text
    link = page.html.find("a", string="Cancel this date instead")
    assert link["href"] == f"/sessions/{series_session.id}/cancel"
    response = htmx.post(
        f"/sessions/{series_session.id}/delete", page=f"/sessions/{series_session.id}",
        status=409,
    )  # fmt: skip
    assert "cannot be deleted" in response.text
    assert fresh(series_session.id) is not None


def test_a_completed_session_cannot_be_deleted(web, login_as, htmx, session):
    login_as("coordinator")
    session.status = OccurrenceStatus.COMPLETED
    db.session.commit()
    assert "Delete…" not in web.get(f"/sessions/{session.id}").text
    page = web.get(f"/sessions/{session.id}/delete", status=409)
    assert "completed" in page.html.find(id="delete-refusal").text
    htmx.post(f"/sessions/{session.id}/delete", page=f"/sessions/{session.id}", status=409)
    assert fresh(session.id) is not None


def test_a_cancelled_one_time_session_can_be_deleted(web, login_as, htmx, session):
    login_as("coordinator")
    session.status = OccurrenceStatus.CANCELLED
    db.session.commit()
    htmx.post(f"/sessions/{session.id}/delete", page=f"/sessions/{session.id}")
    assert occurrence_count() == 0


# --- Pages are CSP-clean ------------------------------------------------------------------------


def test_every_session_page_is_free_of_inline_scripts_and_styles(
    web, login_as, htmx, session, series_session
):
    login_as("coordinator")
    urls = ["/sessions/new"]
    for occurrence in (session, series_session):
        urls += [f"/sessions/{occurrence.id}{suffix}" for suffix in ("", "/edit", "/cancel")]
    urls.append(f"/sessions/{session.id}/delete")
    for url in urls:
        assert scan(web.get(url)).problems == [], url
        assert scan(htmx.get(url)).problems == [], url


HX = {"HX-Request": "true", "HX-Request-Type": "partial"}


def test_session_page_and_its_fragment_show_the_local_date_and_time(web, login_as, auckland_term):
    login_as("coordinator")
    for occurrence in auckland_term["sessions"]:
        day = occurrence.original_date
        page = web.get(f"/sessions/{occurrence.id}")
        assert page.html.find(attrs={"data-field": "date"}).text == long_day(day)
        assert page.html.find(attrs={"data-field": "time"}).text == f"08:00{DASH}09:00"
        assert page.html.title.text.startswith(f"Mathematics, {long_day(day)} ")
        fragment = web.get(f"/sessions/{occurrence.id}", headers=HX)
        assert f"Maths 7A · {long_day(day)}, 08:00{DASH}09:00" in fragment.text


def test_today_board_dashboard_tabs_and_default_dates_follow_the_organisations_day(
    web, login_as, auckland_term, monkeypatch
):
    """Now is 09:30 in Auckland on `today`: the day before in UTC and in the server's zone."""
    today = auckland_term["before"] + timedelta(days=1)  # a Tuesday, clear of the series
    now = auckland_at(today, time(9, 30))
    assert now.date() == today - timedelta(days=1)
    assert now.astimezone(ZoneInfo(SERVER_TZ)).date() == today - timedelta(days=1)
    freeze(monkeypatch, now)
    group, room = auckland_term["group"], auckland_term["room"]

    def session(day, start, end, title):
        return create_one_time_session(
            group_id=group.id, day=day, start=start, end=end, room_id=room.id,
            title=title, actor=None, tz=AKL,
        ).occurrence  # fmt: skip

    yesterday = session(today - timedelta(days=1), time(22), time(23), "Yesterday late")
    early = session(today, time(7), time(8), "Early")
    running = session(today, time(9), time(10), "Running")
    afternoon = session(today, time(14), time(15), "Afternoon")  # the next UTC date
    evening = session(today, time(18), time(19), "Evening")
    db.session.commit()

    login_as(auckland_term["ada"])
    board = web.get("/sessions/today/").html.find(id="today-board")
    assert board.find("p", class_="now").text.split()[1] == f"09:00{DASH}10:00"
    assert f"14:00{DASH}15:00" in board.find("p", class_="next").text
    assert f"18:00{DASH}19:00" in board.text
    assert "22:00" not in board.text and "07:00" not in board.text

    upcoming = web.get("/dashboard/").html
    for shown in (running, afternoon, evening):  # not ended yet
        assert upcoming.find(id=f"session-dashboard-{shown.id}") is not None
    for ended in (yesterday, early):  # ended (today's too): under Past only, never both
        assert upcoming.find(id=f"session-dashboard-{ended.id}") is None
    running_card = upcoming.find(id=f"session-dashboard-{running.id}")
    assert running_card.find(attrs={"data-status": True})["data-status"] == "ongoing"
    past = web.get("/dashboard/past").html
    assert past.find(id=f"session-dashboard-{yesterday.id}") is not None
    assert past.find(id=f"session-dashboard-{early.id}") is not None
    assert past.find(id=f"session-dashboard-{afternoon.id}") is None

    switch_to(web, login_as, "coordinator")
    assert web.get("/sessions/new").forms["new-session-form"]["date"].value == today.isoformat()
    generate = web.get("/timetable/generate").forms["generate-form"]
    assert generate["start"].value == today.isoformat()
    grid = web.get("/schedule/").html
    marked = grid.find("th", class_="is-today")
    assert marked is not None and marked.text.strip() == f"{today:%a %d %b}"


def test_a_one_time_session_typed_lands_on_that_local_date(web, login_as, auckland_term):
    login_as("coordinator")
    day = auckland_term["after"] + timedelta(days=2)  # a Wednesday after the change
    for start, end in (("08:00", "09:00"), ("00:15", "00:45")):
        form = web.get("/sessions/new").forms["new-session-form"]
        form["group_q"] = auckland_term["group"].name
        form["room_q"] = auckland_term["room"].name
        form["date"], form["start"], form["end"] = day.isoformat(), start, end
        page = form.submit(status=302).follow()
        created = db.session.scalars(
            select(Occurrence).where(Occurrence.series_id.is_(None)).order_by(Occurrence.id.desc())
        ).first()
        assert created.start_utc == auckland_at(day, time.fromisoformat(start))
        assert created.end_utc == auckland_at(day, time.fromisoformat(end))
        assert created.start_utc.date() == day - timedelta(days=1)  # UTC is a day behind
        assert f"Session created: Maths 7A on {long_day(day)} {start}-{end}." in page.text
        assert page.html.find(attrs={"data-field": "date"}).text == long_day(day)
