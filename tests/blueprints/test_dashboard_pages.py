"""Dashboard pages: each participant's cards (and nobody else's), the list fragment that polls
itself, the video room with its Copy button and the join window, ratings inline (htmx and
plain forms), refusals (404 for strangers, 409, 422), CSRF, and no join link anywhere else."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from models import (
    GroupKind,
    Occurrence,
    OccurrenceMode,
    OccurrenceStatus,
    Rating,
    db,
)
from services.common.timeutil import today_in
from tests.blueprints.test_security import assert_security_headers, scan
from tests.conftest import AKL, csrf_token_of

DASHBOARD = "/dashboard/"
_rooms = itertools.count(1)


def soon(minutes: float) -> datetime:
    """An instant `minutes` from the real now (the pages decide with the clock)."""
    return (datetime.now(UTC) + timedelta(minutes=minutes)).replace(microsecond=0)


def add_session(group, start, *, minutes=60, online=False, status="scheduled", title=None):
    occurrence = Occurrence(
        group_id=group.id,
        start_utc=start,
        end_utc=start + timedelta(minutes=minutes),
        mode=OccurrenceMode.ONLINE if online else OccurrenceMode.IN_PERSON,
        video_room_id=f"room-p{next(_rooms):07d}" if online else None,
        room_id=None if online else group.default_room_id,
        status=OccurrenceStatus(status),
        title=title,
    )
    db.session.add(occurrence)
    db.session.commit()
    return occurrence


def card_of(page, occurrence):
    return page.html.find(id=f"session-dashboard-{occurrence.id}")


def facts(card) -> dict[str, str]:
    """The card's facts: {"When": ..., "Subject": ..., "Mentor": ..., "Room": ...}."""
    return {dt.text.strip(): dt.find_next_sibling("dd").text.strip() for dt in card.find_all("dt")}


def join_link(card):
    found = [a for a in card.find_all("a") if "Join video call" in a.text]
    return found[0] if found else None


def log_in(web, login_as, user):
    """Log in as `user` in a fresh cookie jar (whoever was logged in before)."""
    web.reset()
    return login_as(user)


def ratings() -> list[tuple[int, int, int]]:
    db.session.expire_all()
    return [
        (r.occurrence_id, r.student_id, r.score)
        for r in db.session.scalars(select(Rating).order_by(Rating.id))
    ]


@pytest.fixture
def people(make_user, make_group, make_room):
    ada = make_user("mentor", name="Ada Lovelace")
    ben = make_user("mentor", name="Ben Okri")
    alice = make_user("student", name="Alice Martin")
    bob = make_user("student", name="Bob Stone")
    maths = make_group(
        "Maths 7A", mentor=ada, students=[alice, bob], subject="Mathematics",
        room=make_room("R101"),
    )  # fmt: skip
    art = make_group("Art 7A", mentor=ben, students=[bob], subject="Art")
    tutoring = make_group(
        "Physics: Ada with Alice", mentor=ada, students=[alice], subject="Physics"
    )
    tutoring.kind = GroupKind.TUTORING
    db.session.commit()
    return {
        "ada": ada, "ben": ben, "alice": alice, "bob": bob,
        "maths": maths, "art": art, "tutoring": tutoring,
    }  # fmt: skip


# --- Who gets which page -------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_login(web, people):
    response = web.get(DASHBOARD, status=302)
    assert urlsplit(response.headers["Location"]).path == "/auth/login"
    fragment = web.get(DASHBOARD, headers={"HX-Request": "true"}, status=401)
    assert urlsplit(fragment.headers["HX-Redirect"]).path == "/auth/login"
    web.post("/dashboard/sessions/1/rating", {"score": "4"}, status=400)  # no CSRF token


@pytest.mark.parametrize("role", ["coordinator", "admin"])
def test_staff_are_sent_to_the_schedule(web, login_as, role):
    login_as(role)
    assert urlsplit(web.get(DASHBOARD, status=302).headers["Location"]).path == "/schedule/"


def test_the_navigation_leads_mentors_and_students_to_their_dashboard(web, login_as, people):
    login_as(people["alice"])
    page = web.get("/schedule/mine")
    assert page.html.find("a", href=DASHBOARD).text == "Dashboard"
    assert web.get(DASHBOARD).html.find("a", href=DASHBOARD)["aria-current"] == "page"


def test_a_student_sees_the_cards_of_their_groups_only(web, login_as, people):
    maths = add_session(people["maths"], soon(60 * 24), title="Fractions")
    tutoring = add_session(people["tutoring"], soon(60 * 48), online=True)
    art = add_session(people["art"], soon(60 * 24))
    login_as(people["alice"])
    page = web.get(DASHBOARD)
    assert card_of(page, art) is None and "Art 7A" not in page.text
    card = card_of(page, maths)
    assert card.find("h3").text.strip() == "Fractions"
    assert facts(card) | {"When": ""} == {
        "When": "", "Subject": "Mathematics", "Mentor": "Ada Lovelace", "Mode": "In person",
        "Room": "R101",
    }  # fmt: skip
    assert card.find(class_="badge").text == "Scheduled"
    assert card.find("a", href=f"/sessions/{maths.id}") is not None
    assert "Physics: Ada with Alice" in card_of(page, tutoring).find("h3").text


def test_a_mentor_sees_the_student_of_a_tutoring_group_and_the_size_of_a_class(
    web, login_as, people
):
    maths = add_session(people["maths"], soon(60 * 24))
    tutoring = add_session(people["tutoring"], soon(60 * 48), online=True)
    art = add_session(people["art"], soon(60 * 24))
    login_as(people["ada"])
    page = web.get(DASHBOARD)
    assert card_of(page, art) is None
    assert facts(card_of(page, maths))["Group"] == "Maths 7A (2 students)"
    assert facts(card_of(page, tutoring))["Student"] == "Alice Martin"
    assert facts(card_of(page, tutoring))["Mode"] == "Online"


def test_the_date_and_time_are_local_with_the_duration(web, login_as, people):
    # Monday 7 September 2026, 10:00 to 11:30 in Paris (the test organisation's zone).
    session = add_session(people["maths"], datetime(2026, 9, 7, 8, tzinfo=UTC), minutes=90)
    login_as(people["alice"])
    page = web.get(DASHBOARD) if session.end_utc > datetime.now(UTC) else web.get("/dashboard/past")
    assert "Mon 07 Sep" in card_of(page, session).find("time").text
    assert "10:00\u201311:30 (1 h 30)" in card_of(page, session).find("time").text


# --- Status badges and the join window -----------------------------------------------------------


def test_each_card_says_its_status_in_words(web, login_as, people):
    ongoing = add_session(people["maths"], soon(-10))
    scheduled = add_session(people["maths"], soon(120))
    cancelled = add_session(people["maths"], soon(180), status="cancelled")
    completed = add_session(people["maths"], soon(-10), status="completed")  # done early
    login_as(people["alice"])
    page = web.get(DASHBOARD)
    for session, status in [
        (ongoing, "ongoing"), (scheduled, "scheduled"), (cancelled, "cancelled"),
        (completed, "completed"),
    ]:  # fmt: skip
        badge = card_of(page, session).find(class_="badge")
        assert badge["data-status"] == status
        assert badge.text == status.capitalize()


def test_the_join_link_and_copy_button_of_an_online_session_in_its_window(web, login_as, people):
    session = add_session(people["tutoring"], soon(10), online=True)
    room = session.video_room_id
    for viewer in (people["alice"], people["ada"]):
        log_in(web, login_as, viewer)
        card = card_of(web.get(DASHBOARD), session)
        copy = card.find("button", attrs={"data-copy": True})
        assert copy["data-copy"] == room and copy["type"] == "button"
        assert copy.text == "Copy" and room in copy["aria-label"]
        assert card.find("code").text == room
        join = join_link(card)
        assert join["href"] == f"https://meet.jit.si/{room}"
        assert join["rel"] == ["noopener", "noreferrer"]


def test_no_join_link_before_the_window_opens_nor_after_the_end(web, login_as, people):
    early = add_session(people["tutoring"], soon(20), online=True)
    ended = add_session(people["tutoring"], soon(-70), online=True)
    cancelled = add_session(people["tutoring"], soon(5), online=True, status="cancelled")
    login_as(people["alice"])
    upcoming, past = web.get(DASHBOARD), web.get("/dashboard/past")
    for session in (early, ended, cancelled):
        card = card_of(past if session is ended else upcoming, session)
        assert "Join video call" not in card.text
        assert "meet.jit.si" not in str(card)
        assert card.find("button", attrs={"data-copy": session.video_room_id}) is not None
    assert "from 15 minutes before the start" in card_of(upcoming, early).text


def test_the_join_link_is_never_shown_to_non_participants(web, login_as, people, make_user):
    """Staff may see the session's page, other students and mentors not even that; no page
    gives them the room or the call."""
    session = add_session(people["tutoring"], soon(5), online=True)
    room = session.video_room_id
    login_as("coordinator")
    for url in (
        f"/sessions/{session.id}",
        "/sessions/today/",
        "/schedule/",
        "/schedule/day",
    ):
        page = web.get(url)
        assert room not in page.text and "meet.jit.si" not in page.text, url
    web.get(DASHBOARD, status=302)
    for stranger in (people["bob"], people["ben"]):
        log_in(web, login_as, stranger)
        web.get(f"/sessions/{session.id}", status=404)
        for url in (DASHBOARD, "/dashboard/past", "/schedule/mine", "/sessions/today/"):
            page = web.get(url)
            assert room not in page.text and "meet.jit.si" not in page.text, url


def test_the_video_base_url_setting_is_used(app, web, login_as, people):
    session = add_session(people["tutoring"], soon(0), online=True)
    app.config["VIDEO_BASE_URL"] = "https://video.school.test/"
    try:
        login_as(people["alice"])
        join = join_link(card_of(web.get(DASHBOARD), session))
    finally:
        del app.config["VIDEO_BASE_URL"]
    assert join["href"] == f"https://video.school.test/{session.video_room_id}"


# --- The fragment and its refresh ----------------------------------------------------------------


def test_htmx_gets_the_card_list_that_polls_itself_every_minute(web, htmx, login_as, people):
    session = add_session(people["maths"], soon(30))
    login_as(people["alice"])
    page = web.get(DASHBOARD)
    section = page.html.find(id="dashboard-sessions")
    assert section["hx-get"] == DASHBOARD
    assert section["hx-trigger"] == "every 60s, notification-arrived from:body"
    assert section["hx-swap"] == "outerHTML"
    fragment = htmx.get(DASHBOARD)
    assert fragment.text.lstrip().startswith('<section id="dashboard-sessions"')
    assert "<html" not in fragment.text and card_of(fragment, session) is not None
    assert "HX-Request" in fragment.headers["Vary"]
    restore = web.get(
        DASHBOARD, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in restore.text


def test_the_past_tab_lists_ended_sessions_newest_first_and_does_not_poll(
    web, htmx, login_as, people
):
    older = add_session(people["maths"], soon(-60 * 72))
    newer = add_session(people["maths"], soon(-60 * 48))
    upcoming = add_session(people["maths"], soon(60 * 24))
    login_as(people["bob"])
    page = web.get("/dashboard/past")
    ids = [a["id"] for a in page.html.find_all("article")]
    assert ids == [f"session-dashboard-{newer.id}", f"session-dashboard-{older.id}"]
    assert card_of(page, upcoming) is None
    assert not page.html.find(id="dashboard-sessions").has_attr("hx-trigger")
    tab = page.html.find("a", href="/dashboard/past")
    assert tab["aria-current"] == "page" and tab["hx-push-url"] == "true"
    assert tab["hx-target"] == "#dashboard-sessions"
    fragment = htmx.get("/dashboard/past")
    assert fragment.text.lstrip().startswith('<section id="dashboard-sessions"')


def test_long_lists_come_in_pages_and_the_poll_keeps_the_page(web, login_as, people):
    sessions = [add_session(people["maths"], soon(60 * 24 * day)) for day in range(1, 23)]
    login_as(people["alice"])
    first = web.get(DASHBOARD)
    assert len(first.html.find_all("article")) == 20
    second = web.get("/dashboard/?page=2")
    assert [a["id"] for a in second.html.find_all("article")] == [
        f"session-dashboard-{s.id}" for s in sessions[20:]
    ]
    assert second.html.find(id="dashboard-sessions")["hx-get"] == "/dashboard/?page=2"
    assert web.get("/dashboard/?page=abc").html.find(id="dashboard-sessions")  # page 1


def test_an_empty_dashboard_says_so(web, login_as, people):
    login_as(people["bob"])
    assert "No upcoming sessions." in web.get(DASHBOARD).text
    assert "No past sessions." in web.get("/dashboard/past").text


# --- Ratings -------------------------------------------------------------------------------------


@pytest.fixture
def completed(people):
    return add_session(people["maths"], soon(-90), status="completed")


PAST = "/dashboard/past"  # where ended sessions always are (upcoming has only today's)


def rate_url(session) -> str:
    return f"/dashboard/sessions/{session.id}/rating"


def test_a_completed_session_shows_an_accessible_rating_form(web, login_as, people, completed):
    scheduled = add_session(people["maths"], soon(-180), status="scheduled")
    login_as(people["alice"])
    page = web.get(PAST)
    form = card_of(page, completed).find("form")
    assert form["hx-post"] == rate_url(completed) and form["action"] == rate_url(completed)
    assert form["hx-target"] == f"#session-dashboard-{completed.id}"
    assert form.has_attr("hx-preserve")  # a choice survives the minute's refresh
    assert form.find("input", attrs={"name": "csrf_token"}) is not None
    radios = form.find_all("input", attrs={"type": "radio", "name": "score"})
    assert [r["value"] for r in radios] == ["1", "2", "3", "4", "5"]
    for radio in radios:
        assert form.find("label", attrs={"for": radio["id"]}) is not None
    assert form.find("legend").text.startswith("Rate this session")
    assert card_of(page, scheduled).find("form") is None


def test_rating_inline_swaps_the_card(web, htmx, login_as, people, completed):
    login_as(people["alice"])
    response = htmx.post(rate_url(completed), {"score": "4"}, page=DASHBOARD)
    assert response.text.lstrip().startswith(f'<article id="session-dashboard-{completed.id}"')
    assert "You rated 4/5" in response.text and "<form" not in response.text
    toast = json.loads(response.headers["HX-Trigger"])["toast"]["message"]
    assert toast == "Thank you: you rated this session 4/5."
    assert ratings() == [(completed.id, people["alice"].id, 4)]
    card = card_of(web.get(PAST), completed)
    assert "You rated 4/5" in card.text and card.find("form") is None


def test_a_second_rating_is_refused_with_a_message(web, htmx, login_as, people, completed):
    login_as(people["alice"])
    htmx.post(rate_url(completed), {"score": "4"}, page=DASHBOARD)
    response = htmx.post(rate_url(completed), {"score": "1"}, page=DASHBOARD, status=409)
    assert "You have already rated this session (4/5)." in response.text
    assert "You rated 4/5" in response.text
    assert ratings() == [(completed.id, people["alice"].id, 4)]


@pytest.mark.parametrize("score", [None, "0", "6", "abc", "3.5", "", "99999999999999999999"])
def test_a_score_outside_1_to_5_is_422_with_the_message_next_to_the_stars(
    web, htmx, login_as, people, completed, score
):
    login_as(people["alice"])
    params = {} if score is None else {"score": score}
    response = htmx.post(rate_url(completed), params, page=DASHBOARD, status=422)
    card = card_of(response, completed)
    fieldset = card.find("fieldset")
    error = card.find(id=fieldset["aria-describedby"])
    assert error.text == "Choose a score from 1 to 5."
    assert fieldset["aria-invalid"] == "true"
    assert ratings() == []


def test_a_session_not_completed_cannot_be_rated(web, htmx, login_as, people):
    for status in ("scheduled", "cancelled"):
        session = add_session(people["maths"], soon(-120), status=status)
        log_in(web, login_as, people["alice"])
        response = htmx.post(rate_url(session), {"score": "5"}, page=DASHBOARD, status=409)
        assert "Only a completed session can be rated." in response.text
    assert ratings() == []


def test_strangers_and_mentors_get_404(web, htmx, login_as, people, completed, make_user):
    art = add_session(people["art"], soon(-120), status="completed")
    login_as(people["alice"])
    htmx.post(rate_url(art), {"score": "5"}, page=DASHBOARD, status=404)  # not her group
    for url in ("/dashboard/sessions/0/rating", "/dashboard/sessions/999999/rating"):
        htmx.post(url, {"score": "5"}, page=DASHBOARD, status=404)
    for user in (people["ada"], people["ben"], make_user("student"), make_user("coordinator")):
        log_in(web, login_as, user)
        htmx.post(rate_url(completed), {"score": "5"}, page="/sessions/today/", status=404)
    assert ratings() == []


def test_rating_needs_the_csrf_token(web, login_as, people, completed):
    login_as(people["alice"])
    response = web.post(rate_url(completed), {"score": "4"}, status=400)
    assert "security token" in response.text
    web.post(
        rate_url(completed), {"score": "4"},
        headers={"HX-Request": "true", "X-CSRFToken": "forged"}, status=400,
    )  # fmt: skip
    assert ratings() == []


def test_rating_without_javascript(web, login_as, people, completed):
    login_as(people["bob"])
    page = web.get(PAST)
    form = page.forms[f"rating-{completed.id}"]
    refused = form.submit(status=422)  # no score chosen
    assert "<html" in refused.text and "Choose a score from 1 to 5." in refused.text
    form = refused.forms[f"rating-{completed.id}"]
    form["score"] = "5"
    done = form.submit(status=302)
    assert urlsplit(done.headers["Location"]).path == PAST
    assert "Thank you: you rated this session 5/5." in done.follow().text
    assert ratings() == [(completed.id, people["bob"].id, 5)]
    assert csrf_token_of(page)


def test_mentors_see_the_ratings_of_their_completed_sessions(web, login_as, people, completed):
    unrated = add_session(people["maths"], soon(-200), status="completed")
    db.session.add_all(
        [
            Rating(occurrence_id=completed.id, student_id=people["alice"].id, score=4),
            Rating(occurrence_id=completed.id, student_id=people["bob"].id, score=5),
        ]
    )
    db.session.commit()
    login_as(people["ada"])
    page = web.get("/dashboard/past")
    assert "Rated 4.5/5 by 2 students" in card_of(page, completed).text
    assert "No ratings yet" in card_of(page, unrated).text
    # Nothing left to complete or rate there: its only form is its attendance register's.
    forms = card_of(page, completed).find_all("form")
    assert [f["action"] for f in forms] == [f"/attendance/sessions/{completed.id}/register/take"]


def test_dashboard_pages_and_fragments_have_no_inline_script_or_style(
    web, htmx, login_as, people, completed
):
    add_session(people["tutoring"], soon(5), online=True)  # with its Join link
    add_session(people["maths"], soon(60), status="cancelled")
    rated = add_session(people["maths"], soon(-300), status="completed")
    db.session.add(Rating(occurrence_id=rated.id, student_id=people["alice"].id, score=3))
    db.session.commit()
    login_as(people["alice"])
    responses = [web.get(DASHBOARD), web.get(PAST), htmx.get(DASHBOARD), htmx.get(PAST)]
    responses.append(htmx.post(rate_url(completed), {}, page=DASHBOARD, status=422))
    responses.append(htmx.post(rate_url(completed), {"score": "2"}, page=DASHBOARD))
    log_in(web, login_as, people["ada"])
    responses += [web.get(DASHBOARD), web.get(PAST)]
    for response in responses:
        assert_security_headers(response)
        assert scan(response).problems == [], response.request.path_qs


def test_a_started_session_can_be_completed_from_the_mentors_card(
    web, htmx, login_as, make_user, make_group
):
    from datetime import UTC, datetime, timedelta

    from models import Occurrence, db

    mentor = make_user("mentor")
    group = make_group("Maths 9B", mentor=mentor)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    started = Occurrence(
        group_id=group.id,
        start_utc=start,
        end_utc=start + timedelta(hours=1),
        room_id=group.default_room_id,
    )
    later = Occurrence(
        group_id=group.id,
        start_utc=start + timedelta(days=2),
        end_utc=start + timedelta(days=2, hours=1),
        room_id=group.default_room_id,
    )
    db.session.add_all([started, later])
    db.session.commit()
    login_as(mentor)
    page = web.get("/dashboard/")
    card = page.html.find(id=f"session-dashboard-{started.id}")
    link = card.find("a", string="Complete…")
    assert link["hx-target"] == f"#completion-{started.id}"
    assert page.html.find(id=f"session-dashboard-{later.id}").find(string="Complete…") is None
    form = htmx.get(link["hx-get"])
    assert "Complete the session" in form.text


DASH = "\u2013"


def test_dashboard_cards_show_the_local_day_and_time(web, login_as, auckland_term):
    login_as(auckland_term["ada"])
    page = web.get("/dashboard/")
    this_year = today_in(AKL).year
    for occurrence in auckland_term["sessions"]:
        day = occurrence.original_date
        shown = f"{day:%a %d %b}" + (f" {day:%Y}" if day.year != this_year else "")
        card = page.html.find(id=f"session-dashboard-{occurrence.id}")
        assert card.find("time").text == f"{shown} 08:00{DASH}09:00 (1 h)"
