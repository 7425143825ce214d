"""Request pages: find a mentor, the request form (three schedule kinds, every message next to
its field), my requests (withdraw inline), pending requests (approve and reject inline, clashes
named, auto-declined rows), a request's page, permissions row by row, and the CLI."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from models import (
    MentorSubject,
    Notification,
    Occurrence,
    RequestStatus,
    SessionRequest,
    Subject,
    db,
)
from services.requests.lifecycle import RequestInput, create_request
from services.timetable.generation import generate_occurrences
from tests.blueprints.conftest import error_next_to, long_day, switch_to
from tests.blueprints.test_security import scan
from tests.conftest import AKL, PINNED_TODAY, auckland_at, csrf_token_of

PARIS = ZoneInfo("Europe/Paris")
_today = PINNED_TODAY

# Dates are constants of the module: its clock is pinned, so they never go stale.
pytestmark = pytest.mark.usefixtures("pinned_clock")
# A Monday at least a week ahead, so every date the tests ask for is in the future.
MONDAY = _today + timedelta(days=14 - _today.weekday())
WEDNESDAY = MONDAY + timedelta(days=2)
DASH = "\u2013"
HX = {"HX-Request": "true", "HX-Request-Type": "partial"}


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def fresh(request: SessionRequest) -> SessionRequest:
    db.session.expire_all()
    return db.session.get(SessionRequest, request.id)


def toast(response) -> str:
    return json.loads(response.headers["HX-Trigger"])["toast"]["message"]


@pytest.fixture
def people(make_user):
    maths, art = Subject(name="Mathematics"), Subject(name="Art")
    db.session.add_all([maths, art])
    ada = make_user("mentor", name="Ada Lovelace")
    ben = make_user("mentor", name="Ben Okri")
    db.session.flush()
    db.session.add(MentorSubject(mentor_id=ada.id, subject_id=maths.id))
    db.session.add(MentorSubject(mentor_id=ben.id, subject_id=art.id))
    db.session.commit()
    return {
        "ada": ada,
        "ben": ben,
        "noah": make_user("student", name="Noah Bernard"),
        "lea": make_user("student", name="Lea Martin"),
        "maths": maths,
        "art": art,
    }


def ask(people, student="noah", mentor="ada", subject="maths", **fields) -> SessionRequest:
    """A request made through the service (the form is tested on its own)."""
    fields.setdefault("schedule_kind", "single")
    if fields["schedule_kind"] == "single":
        fields.setdefault("day", MONDAY)
        fields.setdefault("start", time(10))
        fields.setdefault("duration", 60)
    data = RequestInput(
        mentor_id=people[mentor].id,
        subject_id=people[subject].id,
        title=fields.pop("title", "Help with algebra"),
        description=fields.pop("description", "Chapter 3, equations."),
        **fields,
    )
    request = create_request(people[student], data, tz=PARIS)
    db.session.commit()
    return request


def login(web, user):
    """Log in as `user` (a fresh browser session: whoever was logged in is gone)."""
    web.reset()
    form = web.get("/auth/login").forms[0]
    form["email"], form["password"] = user.email, "correct horse battery"
    assert form.submit().status_int == 302
    return user


def hx_post(web, url, params=None, page="/sessions/today/", **kwargs):
    token = csrf_token_of(web.get(page))
    return web.post(url, params or {}, headers={**HX, "X-CSRFToken": token}, **kwargs)


def form_post(web, url, params=None, page="/sessions/today/", **kwargs):
    token = csrf_token_of(web.get(page))
    return web.post(url, {**(params or {}), "csrf_token": token}, **kwargs)


def error_of(page, field_id: str) -> str:
    """The message shown next to a field (its `<id>-error` element)."""
    element = page.html.find(id=f"{field_id}-error")
    assert element is not None, f"no message next to {field_id}"
    return element.text.strip()


@pytest.fixture
def make_class(make_group, make_series):
    def factory(people, mentor="ada", day=MONDAY, start=time(10), end=time(11), name="Maths 7A"):
        group = make_group(name, mentor=people[mentor], subject=people["maths"])
        make_series(group, weekdays=(day.weekday(),), start=start, end=end, first_date=day)
        generate_occurrences(day, day + timedelta(days=7), tz=PARIS)
        db.session.commit()
        return group

    return factory


# --- Find a mentor ------------------------------------------------------------------------------


def test_students_find_mentors_with_their_subjects_and_a_link_to_ask(web, people, make_group):
    make_group("Art 7A", mentor=people["ada"], subject=people["art"])  # a class she teaches
    login(web, people["noah"])
    page = web.get("/requests/mentors")
    ada = page.html.find(id=f"mentor-{people['ada'].id}")
    assert "Ada Lovelace" in ada.text and "No ratings yet" in ada.text
    assert "0 sessions taught" in ada.text
    subjects = [a.text for a in ada.select(".mentor-subjects a")]
    assert subjects == ["Art", "Mathematics"]
    links = {a.text: a["href"] for a in ada.select(".mentor-subjects a")}
    assert links["Mathematics"] == (
        f"/requests/new?mentor={people['ada'].id}&subject={people['maths'].id}"
    )


def test_the_directory_is_sorted_by_rating_then_name(web, people, make_user):
    make_user("mentor", name="Aaron Unrated")
    login(web, people["noah"])
    names = [h.text for h in web.get("/requests/mentors").html.select(".mentor-card h3")]
    assert names == ["Aaron Unrated", "Ada Lovelace", "Ben Okri"]  # nobody rated: by name


def test_filter_by_subject_and_search_by_name_swap_only_the_list(web, people):
    login(web, people["noah"])
    page = web.get("/requests/mentors")
    select_ = page.html.find("select", attrs={"name": "subject"})
    assert select_["hx-target"] == "#mentor-list" and select_["hx-push-url"] == "true"
    search = page.html.find("input", attrs={"name": "q"})
    assert search["hx-target"] == "#mentor-list" and "input changed" in search["hx-trigger"]
    fragment = web.get(f"/requests/mentors?subject={people['art'].id}", headers=HX)
    assert fragment.text.lstrip().startswith('<section id="mentor-list"')
    assert "<html" not in fragment.text
    assert "Ben Okri" in fragment.text and "Ada Lovelace" not in fragment.text
    fragment = web.get("/requests/mentors?q=lovel", headers=HX)
    assert "Ada Lovelace" in fragment.text and "Ben Okri" not in fragment.text
    # The same URL without htmx (a reload, no JavaScript) is the whole page, filter kept.
    full = web.get(f"/requests/mentors?q=lovel&subject={people['maths'].id}")
    assert "<html" in full.text and "Ada Lovelace" in full.html.find(id="mentor-list").text
    chosen = full.html.find("select", attrs={"name": "subject"}).find("option", selected=True)
    assert chosen.text == "Mathematics"
    assert "No mentor matches." in web.get("/requests/mentors?q=nobody").text


def test_the_directory_is_for_students_and_staff(web, people, login_as):
    assert "/auth/login" in web.get("/requests/mentors", status=302).headers["Location"]
    login(web, people["ada"])
    web.get("/requests/mentors", status=403)


def test_staff_see_the_directory_without_request_links(web, people, login_as):
    login_as("coordinator")
    page = web.get("/requests/mentors")
    assert "Ada Lovelace" in page.text and "/requests/new" not in page.text


# --- The request form ---------------------------------------------------------------------------


def test_the_form_is_prefilled_from_the_directory_link(web, people):
    login(web, people["noah"])
    page = web.get(f"/requests/new?mentor={people['ada'].id}&subject={people['maths'].id}")
    form = page.forms["request-form"]
    assert form["mentor"].value == str(people["ada"].id)
    assert form["subject"].value == str(people["maths"].id)
    options = [o.text for o in page.html.find(id="subject").find_all("option")]
    assert options == ["Choose a subject", "Mathematics"]  # Ada's subjects only


def test_changing_the_mentor_refreshes_the_subject_options(web, people):
    login(web, people["noah"])
    page = web.get("/requests/new")
    mentor = page.html.find(id="mentor")
    assert mentor["hx-get"] == "/requests/new/subjects" and mentor["hx-target"] == "#subject-field"
    fragment = web.get(
        f"/requests/new/subjects?mentor={people['ben'].id}&subject={people['art'].id}",
        headers=HX,
    )
    assert fragment.text.lstrip().startswith('<div id="subject-field">')
    options = [o.text for o in fragment.html.find_all("option")]
    assert options == ["Choose a subject", "Art"]
    assert fragment.html.find("option", selected=True).text == "Art"


def test_add_another_date_appends_an_input_with_or_without_javascript(web, people):
    login(web, people["noah"])
    page = web.get("/requests/new")
    button = page.html.find("button", attrs={"name": "add_date"})
    assert button["hx-get"] == "/requests/new/date" and button["hx-swap"] == "beforebegin"
    fragment = web.get("/requests/new/date", headers=HX)
    assert fragment.html.find("input", attrs={"type": "date", "name": "dates"}) is not None
    assert fragment.html.find("label")["for"] == fragment.html.find("input")["id"]
    # Without JavaScript the button submits the form, which comes back with one more input.
    form = page.forms["request-form"]
    form["title"] = "Kept"
    form["schedule_kind"] = "dates"
    form["dates"] = MONDAY.isoformat()
    again = form.submit("add_date", status=200)
    inputs = again.html.select('input[name="dates"]')
    assert [i.get("value", "") for i in inputs] == [MONDAY.isoformat(), ""]
    assert again.forms["request-form"]["title"].value == "Kept"
    assert count(SessionRequest) == 0


def submit(web, people, **fields):
    page = web.get("/requests/new")
    form = page.forms["request-form"]
    form["mentor"] = str(people["ada"].id)
    form["subject"] = str(people["maths"].id)
    form["title"] = "Algebra"
    for name, value in fields.items():
        if name == "weekdays":
            for box in form.fields["weekdays"]:
                box.checked = box._value in value
        else:
            form[name] = value
    return form


def test_one_session_is_saved_and_the_student_lands_on_its_page(web, people):
    login(web, people["noah"])
    form = submit(web, people, schedule_kind="single", day=MONDAY.isoformat(), start="10:00")
    form["duration"] = "90"
    form["mode"] = "in_person"
    response = form.submit(status=302)
    created = db.session.scalars(select(SessionRequest)).one()
    assert response.headers["Location"].endswith(f"/requests/{created.id}")
    page = response.follow()
    assert "Request “Algebra” sent to Ada Lovelace: 1 session asked for." in page.text
    assert "one session at 10:00-11:30" in page.text and "In person" in page.text
    assert created.student_id == people["noah"].id
    assert created.status == RequestStatus.PENDING


def test_specific_dates_come_from_inputs_and_the_textarea(web, people):
    login(web, people["noah"])
    form = submit(web, people, schedule_kind="dates", dates=MONDAY.isoformat(), start="16:00",
                  end="17:00")  # fmt: skip
    form["dates_text"] = f"{WEDNESDAY.isoformat()}\n\n{MONDAY.isoformat()}\n"
    form.submit(status=302)
    created = db.session.scalars(select(SessionRequest)).one()
    assert [s.local_date for s in created.slots] == [MONDAY, WEDNESDAY]  # duplicates once


def test_weekly_mon_wed_fri_for_eight_weeks_is_24_sessions(web, people):
    login(web, people["noah"])
    form = submit(web, people, schedule_kind="weekly", weekdays={"0", "2", "4"}, start="16:00",
                  end="17:00", first_date=MONDAY.isoformat(), weeks="8")  # fmt: skip
    page = form.submit(status=302).follow()
    assert "24 sessions asked for" in page.text
    assert "Mon, Wed, Fri 16:00-17:00 for 8 weeks" in page.text


def test_an_empty_form_is_refused_field_by_field_and_nothing_is_saved(web, people):
    login(web, people["noah"])
    page = web.get("/requests/new")
    form = page.forms["request-form"]
    form["schedule_kind"] = "single"
    response = form.submit(status=422)
    assert error_of(response, "mentor") == "Choose a mentor."
    assert error_of(response, "subject") == "Choose a subject."
    assert error_of(response, "title") == "Give the request a title."
    assert error_of(response, "day") == "Choose a date."
    assert error_of(response, "start") == "Choose a start time."
    # Each message sits in its field's own label block, and the field is marked invalid.
    assert response.html.find(id="title")["aria-invalid"] == "true"
    assert count(SessionRequest) == 0 and count(Notification) == 0


def test_every_mistake_is_shown_on_the_first_submit(web, people):
    # An empty title and a date that has passed: both messages at once, as other forms do.
    login(web, people["noah"])
    form = web.get("/requests/new").forms["request-form"]
    form["mentor"] = str(people["ada"].id)
    form["schedule_kind"] = "single"
    form["day"] = (_today - timedelta(days=1)).isoformat()
    form["start"] = "10:00"
    response = form.submit(status=422)
    assert error_of(response, "title") == "Give the request a title."
    assert error_of(response, "day") == "Choose a date and time in the future."
    assert error_of(response, "subject") == "Choose a subject."
    assert count(SessionRequest) == 0


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"schedule_kind": "single", "day": "2020-01-06", "start": "10:00"}, "day",
         "Choose a date and time in the future."),
        ({"schedule_kind": "single", "day": "2026-02-30", "start": "10:00"}, "day",
         "Enter a real date (YYYY-MM-DD)."),
        ({"schedule_kind": "single", "day": MONDAY.isoformat(), "start": "24:00"}, "start",
         "Enter a time of day (HH:MM)."),
        ({"schedule_kind": "dates", "start": "17:00", "end": "09:00",
          "dates": MONDAY.isoformat()}, "end", "The end (09:00) must be after the start (17:00), "
         "or at most 12 hours later on the next day."),
        ({"schedule_kind": "dates", "start": "11:00", "end": "11:00",
          "dates": MONDAY.isoformat()}, "end", "The end (11:00) must be after the start (11:00)."),
        ({"schedule_kind": "dates", "start": "10:00", "end": "11:00"}, "dates",
         "Add at least one date."),
        ({"schedule_kind": "dates", "start": "10:00", "end": "11:00",
          "dates_text": "05/01/2026"}, "dates", "“05/01/2026” is not a date (YYYY-MM-DD)."),
        ({"schedule_kind": "dates", "start": "10:00", "end": "11:00",
          "dates_text": "2020-01-06"}, "dates", "Choose a date and time in the future"),
        ({"schedule_kind": "weekly", "start": "10:00", "end": "11:00",
          "first_date": MONDAY.isoformat(), "weeks": "4"}, "weekdays",
         "Choose at least one weekday."),
        ({"schedule_kind": "weekly", "start": "10:00", "end": "11:00", "weekdays": {"0"},
          "weeks": "4"}, "first_date", "Choose the first date."),
        ({"schedule_kind": "weekly", "start": "10:00", "end": "11:00", "weekdays": {"0"},
          "first_date": MONDAY.isoformat(), "weeks": "27"}, "weeks",
         "Choose between 1 and 26 weeks."),
        ({"schedule_kind": "weekly", "start": "10:00", "end": "11:00", "weekdays": {"0"},
          "first_date": MONDAY.isoformat(), "weeks": "three"}, "weeks",
         "Enter a whole number of weeks (1 to 26)."),
    ],
)  # fmt: skip
def test_each_bad_schedule_is_refused_next_to_its_field_keeping_what_was_typed(
    web, people, fields, field, message
):
    login(web, people["noah"])
    form = submit(web, people, **fields)
    response = form.submit(status=422)
    assert error_of(response, field).startswith(message)
    kept = response.forms["request-form"]
    assert kept["title"].value == "Algebra"
    assert kept["mentor"].value == str(people["ada"].id)
    assert kept["schedule_kind"].value == fields["schedule_kind"]
    for name in ("day", "start", "end", "first_date", "weeks", "dates_text"):
        if name in fields:
            assert kept[name].value == fields[name], name
    assert count(SessionRequest) == 0


def test_more_than_200_sessions_are_refused(web, people):
    login(web, people["noah"])
    days = "\n".join((MONDAY + timedelta(days=n)).isoformat() for n in range(201))
    form = submit(web, people, schedule_kind="dates", start="10:00", end="11:00", dates_text=days)
    response = form.submit(status=422)
    assert error_of(response, "schedule_kind").startswith("That is 201 sessions")
    assert count(SessionRequest) == 0


def test_a_subject_the_mentor_does_not_teach_is_refused(web, people):
    login(web, people["noah"])
    form = submit(web, people, schedule_kind="single", day=MONDAY.isoformat(), start="10:00")
    form["subject"].force_value(str(people["art"].id))
    response = form.submit(status=422)
    assert error_of(response, "subject") == "Ada Lovelace does not teach Art."


def test_fields_a_student_must_not_set_are_ignored(web, people):
    login(web, people["noah"])
    token = csrf_token_of(web.get("/requests/new"))
    params = {
        "csrf_token": token, "mentor": str(people["ada"].id), "subject": str(people["maths"].id),
        "title": "Algebra", "schedule_kind": "single", "day": MONDAY.isoformat(),
        "start": "10:00", "duration": "60", "mode": "online", "status": "approved",
        "student_id": str(people["lea"].id), "id": "99",
    }  # fmt: skip
    web.post("/requests/new", params, status=302)
    created = db.session.scalars(select(SessionRequest)).one()
    assert created.status == RequestStatus.PENDING
    assert created.student_id == people["noah"].id and created.id != 99


def test_only_students_ask(web, people, login_as):
    assert "/auth/login" in web.get("/requests/new", status=302).headers["Location"]
    login(web, people["ada"])
    web.get("/requests/new", status=403)
    form_post(web, "/requests/new", {"title": "x"}, status=403)
    web.get("/requests/new/subjects", status=403)


def test_the_schedule_kinds_are_shown_by_css_only(web, people):
    """Each kind's fields carry their class; the stylesheet hides the others with :has()."""
    login(web, people["noah"])
    page = web.get("/requests/new")
    assert page.html.find(id="day").find_parent(class_="for-single") is not None
    assert page.html.find(id="dates").get("class") == ["for-dates"]
    assert page.html.find(id="first_date").find_parent(class_="for-weekly") is not None
    assert page.html.find(id="end").find_parent(class_="for-range") is not None
    css = web.get("/static/app.css").text
    assert ':has(input[name="schedule_kind"][value="single"]:checked)' in css


# --- My requests --------------------------------------------------------------------------------


def test_my_requests_show_status_schedule_mentor_and_rejection_reason(web, people):
    pending = ask(people, title="Algebra")
    rejected = ask(people, title="Geometry", start=time(14))
    db.session.execute(
        update(SessionRequest)
        .where(SessionRequest.id == rejected.id)
        .values(status=RequestStatus.REJECTED, rejection_reason="I am away that week.")
    )
    stale = ask(people, title="Old one", start=time(16))
    db.session.execute(
        update(SessionRequest)
        .where(SessionRequest.id == stale.id)
        .values(first_start_utc=datetime.now(UTC) - timedelta(hours=1))
    )
    ask(people, student="lea", title="Not mine", start=time(18))
    db.session.commit()
    login(web, people["noah"])
    page = web.get("/requests/")
    rows = {tr["id"]: tr for tr in page.html.select("#my-requests tbody tr")}
    assert set(rows) == {f"request-{r.id}" for r in (pending, rejected, stale)}
    row = rows[f"request-{pending.id}"]
    assert "Pending" in row.text and "Ada Lovelace" in row.text and "Mathematics" in row.text
    assert "one session at 10:00-11:00" in row.text
    assert "Withdraw" in row.find("button").text
    assert "I am away that week." in rows[f"request-{rejected.id}"].text
    assert "Expired" in rows[f"request-{stale.id}"].text  # computed when read
    assert rows[f"request-{stale.id}"].find("form") is None

    fragment = web.get("/requests/?status=expired", headers=HX)
    assert fragment.text.lstrip().startswith('<section id="my-requests"')
    assert "Old one" in fragment.text and "Algebra" not in fragment.text
    assert "Algebra" in web.get("/requests/?status=pending").text
    assert "Old one" not in web.get("/requests/?status=pending").text


def test_withdrawing_inline_swaps_only_the_row(web, people):
    request = ask(people)
    login(web, people["noah"])
    response = hx_post(web, f"/requests/{request.id}/withdraw", {"view": "mine"}, page="/requests/")
    assert response.status_int == 200
    assert response.text.lstrip().startswith(f'<tr id="request-{request.id}"')
    assert "Withdrawn" in response.text and "<form" not in response.text
    assert toast(response) == "Request “Help with algebra” withdrawn; Ada Lovelace is told."
    assert fresh(request).status == RequestStatus.WITHDRAWN
    # Twice: refused in the row, nothing changed.
    again = hx_post(web, f"/requests/{request.id}/withdraw", {"view": "mine"}, status=409)
    assert again.text.lstrip().startswith(f'<tr id="request-{request.id}"')
    assert "This request is withdrawn already: nothing was changed." in again.text


def test_withdrawing_without_javascript_redirects_to_the_list(web, people):
    request = ask(people)
    login(web, people["noah"])
    response = form_post(web, f"/requests/{request.id}/withdraw", {"view": "mine"}, status=302)
    assert response.headers["Location"].endswith("/requests/")
    assert "withdrawn; Ada Lovelace is told" in response.follow().text


def test_only_the_requesting_student_withdraws(web, people, login_as):
    request = ask(people)
    login(web, people["lea"])
    form_post(web, f"/requests/{request.id}/withdraw", status=404)
    web.get("/requests/?status=pending", status=200)
    login(web, people["ada"])
    form_post(web, f"/requests/{request.id}/withdraw", status=403)
    # Her list of requests addressed to her has no Withdraw button.
    row = web.get("/requests/").html.find(id=f"request-{request.id}")
    assert row is not None and row.find("form") is None
    assert fresh(request).status == RequestStatus.PENDING


# --- Pending requests ---------------------------------------------------------------------------


def test_a_mentor_sees_everything_needed_to_decide_with_clashes_named(web, people, make_class):
    make_class(people, day=WEDNESDAY, start=time(16), end=time(17))
    request = ask(people, schedule_kind="dates", dates=[MONDAY, WEDNESDAY], start=time(16),
                  end=time(17), description="Fractions, please.")  # fmt: skip
    other = ask(people, mentor="ben", subject="art", title="Drawing")
    login(web, people["ada"])
    page = web.get("/requests/pending")
    card = page.html.find(id=f"request-{request.id}")
    assert page.html.find(id=f"request-{other.id}") is None  # Ben's, not hers
    for text in ("Noah Bernard", "Mathematics", "Help with algebra", "Fractions, please."):
        assert text in card.text
    monday, wednesday = (card.find(id=f"slot-{s.id}") for s in fresh(request).slots)
    # "No clash", not "Free" (which, in a tutoring business, means no charge).
    assert f"16:00{DASH}17:00" in monday.text and "No clash" in monday.text
    assert "Free" not in card.text
    assert "Clash" in wednesday.text and f"Maths 7A 16:00{DASH}17:00" in wednesday.text
    assert wednesday.find("a")["href"].startswith("/sessions/")
    assert "1 clash with the mentor's sessions" in card.text
    # One checkbox per date, the dates without a clash ticked: approving approves those.
    boxes = {box["value"]: box.has_attr("checked") for box in card.select("input[name=dates]")}
    assert boxes == {MONDAY.isoformat(): True, WEDNESDAY.isoformat(): False}


def test_pending_is_for_mentors_and_staff(web, people, login_as):
    request = ask(people)
    assert "/auth/login" in web.get("/requests/pending", status=302).headers["Location"]
    login(web, people["noah"])
    refused = web.get("/requests/pending", status=403)
    assert "read-protected" not in refused.text
    web.reset()
    login_as("admin")
    page = web.get("/requests/pending")
    assert f'id="request-{request.id}"' in page.text and "to Ada Lovelace" in page.text
    assert page.html.find(id=f"approve-form-{request.id}") is not None


def test_approving_inline_returns_only_the_row_with_a_toast(web, people):
    request = ask(people, schedule_kind="weekly", weekdays=[0, 2], start=time(16), end=time(17),
                  first_date=MONDAY, weeks=3)  # fmt: skip
    login(web, people["ada"])
    response = hx_post(web, f"/requests/{request.id}/approve", {"view": "pending"},
                       page="/requests/pending")  # fmt: skip
    assert response.status_int == 200
    assert response.text.lstrip().startswith(f'<article id="request-{request.id}"')
    assert "<html" not in response.text
    assert "Approved" in response.text and "6 sessions created" in response.text
    assert toast(response) == "Approved “Help with algebra”: 6 sessions created."
    assert "HX-Retarget" not in response.headers
    assert fresh(request).status == RequestStatus.APPROVED
    assert count(Occurrence) == 6


def test_approving_twice_is_refused_in_the_row(web, people):
    request = ask(people)
    login(web, people["ada"])
    hx_post(web, f"/requests/{request.id}/approve", {"view": "pending"})
    again = hx_post(web, f"/requests/{request.id}/approve", {"view": "pending"}, status=409)
    assert again.text.lstrip().startswith(f'<article id="request-{request.id}"')
    assert "This request is approved already: nothing was changed." in again.text
    assert count(Occurrence) == 1


def test_a_clash_refuses_the_approval_in_the_row_naming_the_session(web, people, make_class):
    make_class(people, day=MONDAY, start=time(10), end=time(11))
    before = count(Occurrence)
    request = ask(people, start=time(10, 30))
    login(web, people["ada"])
    response = hx_post(web, f"/requests/{request.id}/approve", {"view": "pending"}, status=409)
    assert response.text.lstrip().startswith(f'<article id="request-{request.id}"')
    alert = response.html.find(attrs={"role": "alert"}).text
    assert "Not approved: 1 requested date clashes with your sessions" in alert
    assert "(Maths 7A 10:00-11:00)" in alert
    # Still pending and decidable, but with its only date taken it can only be rejected: no
    # Approve button that could never go through.
    assert response.html.find(string=re.compile("Reject")) is not None
    assert response.html.find("button", string=re.compile("Approve")) is None
    assert "Every requested date clashes with the mentor's sessions" in response.text
    assert fresh(request).status == RequestStatus.PENDING and count(Occurrence) == before


def test_an_approval_that_declines_others_redraws_the_pending_list(web, people):
    chosen = ask(people, title="Algebra")
    clashing = ask(people, student="lea", title="Geometry", start=time(10, 30))
    elsewhere = ask(people, student="lea", title="Calculus", start=time(14))
    login(web, people["ada"])
    response = hx_post(web, f"/requests/{chosen.id}/approve", {"view": "pending"})
    assert response.headers["HX-Retarget"] == "#pending-list"
    assert response.headers["HX-Reswap"] == "outerHTML"
    assert response.text.lstrip().startswith('<section id="pending-list"')
    assert toast(response) == (
        "Approved “Algebra”: 1 session created. 1 clashing request declined automatically."
    )
    declined = response.html.find(id=f"request-{clashing.id}")
    # One word for it: "Declined", as on its page, in the notification and in the API.
    assert declined.select_one(".badge").text == "Declined"
    outcome = declined.select_one(".request-outcome").text
    assert outcome.startswith("Declined automatically: ") and "Rejected" not in declined.text
    assert declined.find("form") is None
    assert "1 session created" in response.html.find(id=f"request-{chosen.id}").text
    assert response.html.find(id=f"request-{elsewhere.id}").find("form") is not None
    assert fresh(clashing).status == RequestStatus.DECLINED
    login(web, people["lea"])
    page = web.get(f"/requests/{clashing.id}")
    assert page.html.select_one("h1 .badge").text == "Declined"
    assert "automatically, when Ada Lovelace approved another request" in page.text
    assert outcome in page.html.select_one(".request-reason").text
    mine = web.get("/requests/").html.find(id=f"request-{clashing.id}")
    assert mine.select_one(".badge").text == "Declined" and outcome in mine.text
    [note] = db.session.scalars(
        select(Notification).where(Notification.user_id == people["lea"].id)
    ).all()
    assert note.title == "“Geometry” was declined automatically" and note.body == outcome


def test_approving_without_javascript_redirects_with_a_message(web, people):
    request = ask(people)
    login(web, people["ada"])
    response = form_post(web, f"/requests/{request.id}/approve", {"view": "pending"}, status=302)
    assert response.headers["Location"].endswith("/requests/pending")
    assert "Approved “Help with algebra”: 1 session created." in response.follow().text


def test_rejecting_opens_a_reason_field_in_the_row_and_requires_a_reason(web, people):
    request = ask(people)
    login(web, people["ada"])
    card = web.get("/requests/pending").html.find(id=f"request-{request.id}")
    reject_link = next(a for a in card.find_all("a") if "Reject" in a.text)
    assert reject_link["hx-target"] == f"#request-{request.id}"
    editor = web.get(reject_link["hx-get"], headers=HX)
    assert editor.text.lstrip().startswith(f'<article id="request-{request.id}"')
    field_id = f"reason-{request.id}"
    assert editor.html.find("label", attrs={"for": field_id}) is not None
    url = f"/requests/{request.id}/reject"
    refused = hx_post(web, url, {"view": "pending", "reason": "   "}, status=422)
    assert refused.text.lstrip().startswith(f'<article id="request-{request.id}"')
    assert error_of(refused, field_id) == "Say why the request is rejected."
    assert fresh(request).status == RequestStatus.PENDING
    done = hx_post(web, url, {"view": "pending", "reason": "Fully booked this month."})
    assert done.status_int == 200
    assert done.text.lstrip().startswith(f'<article id="request-{request.id}"')
    assert "Rejected: Fully booked this month." in done.text
    assert toast(done) == "Rejected “Help with algebra”; Noah Bernard is told why."
    # Cancel puts the card back (its own fragment URL).
    back = web.get(f"/requests/{request.id}/card", headers=HX)
    assert back.text.lstrip().startswith(f'<article id="request-{request.id}"')
    again = hx_post(web, url, {"view": "pending", "reason": "Again"}, status=409)
    assert "This request is rejected already" in again.text


def test_rejecting_without_javascript_is_a_page_then_a_redirect(web, people):
    request = ask(people)
    login(web, people["ada"])
    page = web.get(f"/requests/{request.id}/reject?view=detail")
    assert "<html" in page.text
    form = page.forms[f"reject-form-{request.id}"]
    response = form.submit(status=422)
    assert error_of(response, f"reason-{request.id}") == "Say why the request is rejected."
    form = response.forms[f"reject-form-{request.id}"]
    form["reason"] = "Not my subject."
    done = form.submit(status=302)
    assert done.headers["Location"].endswith(f"/requests/{request.id}")
    assert "Not my subject." in done.follow().text


def test_only_the_addressed_mentor_or_an_admin_decides(web, people, login_as):
    request = ask(people)
    login(web, people["ben"])  # another mentor: cannot even see it
    form_post(web, f"/requests/{request.id}/approve", status=404)
    form_post(web, f"/requests/{request.id}/reject", {"reason": "x"}, status=404)
    web.get(f"/requests/{request.id}/reject", status=404)
    login(web, people["noah"])  # the student sees it but does not decide
    form_post(web, f"/requests/{request.id}/approve", status=403)
    web.get(f"/requests/{request.id}/card", status=403)
    web.reset()
    login_as("coordinator")  # staff see everything, but only an admin decides
    form_post(web, f"/requests/{request.id}/reject", {"reason": "x"}, status=403)
    assert fresh(request).status == RequestStatus.PENDING
    web.reset()
    login_as("admin")
    form_post(web, f"/requests/{request.id}/approve", {"view": "detail"}, status=302)
    assert fresh(request).status == RequestStatus.APPROVED


def test_posts_without_a_csrf_token_are_refused_and_change_nothing(web, people):
    request = ask(people)
    login(web, people["ada"])
    web.post(f"/requests/{request.id}/approve", {"view": "pending"}, status=400)
    web.post(f"/requests/{request.id}/approve", {}, headers=HX, status=400)
    web.post(f"/requests/{request.id}/reject", {"reason": "x"}, status=400)
    assert fresh(request).status == RequestStatus.PENDING and count(Occurrence) == 0


# --- A request's page ---------------------------------------------------------------------------


def test_each_user_sees_only_their_requests_others_get_404(web, people, login_as):
    request = ask(people)
    url = f"/requests/{request.id}"
    assert "/auth/login" in web.get(url, status=302).headers["Location"]
    for outsider in (people["lea"], people["ben"]):
        login(web, outsider)
        web.get(url, status=404)
    for probe in ("/requests/0", "/requests/99999", f"/requests/{2**63}", "/requests/-1"):
        web.get(probe, status=404)
    for insider in (people["noah"], people["ada"]):
        login(web, insider)
        assert "Help with algebra" in web.get(url).text
    web.reset()
    login_as("coordinator")
    page = web.get(url)
    assert "Only Ada Lovelace or an admin can decide" in page.text
    assert page.html.find(id=f"approve-form-{request.id}") is None


def test_the_page_shows_everything_and_the_actions_of_the_viewer(web, people, make_class):
    make_class(people, day=MONDAY, start=time(10), end=time(11))
    request = ask(people, start=time(10, 30), mode="in_person")
    login(web, people["noah"])
    page = web.get(f"/requests/{request.id}")
    for text in ("Noah Bernard", "Ada Lovelace", "Mathematics", "In person", "Pending",
                 "Chapter 3, equations.", "one session at 10:30-11:30"):  # fmt: skip
        assert text in page.text, text
    assert page.html.find(id="withdraw-form") is not None
    assert page.html.find(id=f"approve-form-{request.id}") is None
    # The student reads that the date clashes, but not with what (the mentor's timetable is
    # not their business).
    slot = page.html.find(id=f"slot-{request.slots[0].id}")
    assert "Clash" in slot.text and "the mentor has another session then" in slot.text
    assert "Maths 7A" not in page.text and slot.find("a") is None
    login(web, people["ada"])
    page = web.get(f"/requests/{request.id}")
    # Its only date clashes: the mentor is offered Reject, and told why there is no Approve.
    assert page.html.find(id=f"approve-form-{request.id}") is None
    assert "Every requested date clashes" in page.html.select_one(".every-date-clashes").text
    assert page.html.find("a", string=re.compile("Reject")) is not None
    assert page.html.find(id="withdraw-form") is None
    assert f"Maths 7A 10:00{DASH}11:00" in page.text
    # An approval sent from a page opened before the clash is refused in place.
    refused = form_post(web, f"/requests/{request.id}/approve", {"view": "detail"}, status=409)
    assert "Not approved" in refused.html.find(id="request-error").text


def test_an_approved_request_links_the_sessions_it_created(web, people):
    request = ask(people, schedule_kind="dates", dates=[MONDAY, WEDNESDAY], start=time(16),
                  end=time(17))  # fmt: skip
    login(web, people["ada"])
    form_post(web, f"/requests/{request.id}/approve", {"view": "detail"}, status=302)
    login(web, people["noah"])
    page = web.get(f"/requests/{request.id}")
    links = [a["href"] for a in page.html.find(id="created-sessions").find_all("a")]
    sessions = db.session.scalars(select(Occurrence).order_by(Occurrence.start_utc)).all()
    assert links == [f"/sessions/{o.id}" for o in sessions] and len(links) == 2
    assert web.get(links[0]).status_int == 200  # the student may open them
    assert page.html.find(id="withdraw-form") is None


# --- Command line -------------------------------------------------------------------------------


def test_expire_requests_command_stores_expired_and_says_how_many(app, people):
    stale = ask(people)
    ask(people, start=time(14))
    db.session.execute(
        update(SessionRequest)
        .where(SessionRequest.id == stale.id)
        .values(first_start_utc=datetime.now(UTC) - timedelta(minutes=1))
    )
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["expire-requests"])
    assert result.exit_code == 0 and result.output == "1 request expired.\n"
    assert fresh(stale).status == RequestStatus.EXPIRED
    again = app.test_cli_runner().invoke(args=["expire-requests"])
    assert again.output == "0 requests expired.\n"


# --- Mentors' subjects (manage a user) ----------------------------------------------------------


def test_staff_set_the_subjects_a_mentor_offers_on_the_user_page(web, people, login_as, make_group):
    make_group("Art 7A", mentor=people["ada"], subject=people["art"])
    login_as("coordinator")
    page = web.get(f"/manage/users/{people['ada'].id}")
    section = page.html.find(id="subjects-heading").parent
    assert "The subjects of the classes they teach are offered too: Art." in section.text
    form = page.forms["subjects-form"]
    boxes = {box._value: box for box in form.fields["subjects"]}
    assert boxes[str(people["maths"].id)].checked and not boxes[str(people["art"].id)].checked
    boxes[str(people["maths"].id)].checked = False
    boxes[str(people["art"].id)].checked = True
    done = form.submit(status=302)
    assert "Subjects offered by Ada Lovelace saved." in done.follow().text
    listed = db.session.scalars(
        select(MentorSubject.subject_id).where(MentorSubject.mentor_id == people["ada"].id)
    ).all()
    assert listed == [people["art"].id]


def test_a_bad_subject_list_is_refused_next_to_the_field(web, people, login_as):
    login_as("coordinator")
    token = csrf_token_of(web.get(f"/manage/users/{people['ada'].id}"))
    url = f"/manage/users/{people['ada'].id}/subjects"
    response = web.post(url, {"csrf_token": token, "subjects": ["999"]}, status=422)
    assert error_of(response, "subjects") == "Choose subjects from the list."
    assert response.html.find(id="subjects")["aria-invalid"] == "true"
    listed = db.session.scalars(
        select(MentorSubject.subject_id).where(MentorSubject.mentor_id == people["ada"].id)
    ).all()
    assert listed == [people["maths"].id]


def test_only_mentors_have_subjects_and_only_staff_set_them(web, people, login_as):
    login_as("coordinator")
    page = web.get(f"/manage/users/{people['noah'].id}")
    assert page.html.find(id="subjects-form") is None
    form_post(web, f"/manage/users/{people['noah'].id}/subjects", {"subjects": "1"}, status=404)
    login(web, people["ada"])
    form_post(web, f"/manage/users/{people['ada'].id}/subjects", {"subjects": "1"}, status=403)


# --- Demo data ----------------------------------------------------------------------------------


def test_the_demo_school_has_mentor_subjects_and_pending_requests_to_try(app, web):
    from services.demo import DEMO_PASSWORD

    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    requests = db.session.scalars(select(SessionRequest).order_by(SessionRequest.id)).all()
    assert [r.schedule_kind for r in requests] == ["weekly", "single", "dates"]
    assert {r.status for r in requests} == {RequestStatus.PENDING}
    assert {r.mentor.email for r in requests} == {"amelia.hart@demo.termtable.test"}
    assert count(MentorSubject) >= 6
    web.reset()
    form = web.get("/auth/login").forms[0]
    form["email"], form["password"] = "amelia.hart@demo.termtable.test", DEMO_PASSWORD
    form.submit()
    page = web.get("/requests/pending")
    assert len(page.html.select("#pending-list article")) == 3
    assert "Clash" in page.html.find(id=f"request-{requests[2].id}").text  # her Math 8A class
    # Approving the weekly request declines the single session on its first Thursday.
    response = hx_post(web, f"/requests/{requests[0].id}/approve", {"view": "pending"},
                       page="/requests/pending")  # fmt: skip
    assert "12 sessions created" in toast(response)
    assert fresh(requests[1]).status == RequestStatus.DECLINED
    web.reset()
    form = web.get("/auth/login").forms[0]
    form["email"], form["password"] = "noah.bernard@demo.termtable.test", DEMO_PASSWORD
    form.submit()
    directory = web.get("/requests/mentors")
    assert "Amelia Hart" in directory.text and "Mathematics" in directory.text


def _demo_login(web, email):
    from services.demo import DEMO_PASSWORD

    web.reset()
    form = web.get("/auth/login").forms[0]
    form["email"], form["password"] = email, DEMO_PASSWORD
    assert form.submit().status_int == 302


def test_the_demo_weekly_request_survives_approving_a_short_one_on_its_tuesday(app, web):
    # The case new users met: the demo's weekly request (Tue/Thu 16:30-17:30, 6 weeks, 12
    # dates) and another student's 90 minutes at 16:00 on its first Tuesday. Approving the
    # short one used to decline all 12 dates; now the weekly one stays pending with that
    # Tuesday marked, and is approved in part.
    from models import User
    from services.demo import DEMO_DOMAIN

    assert app.test_cli_runner().invoke(args=["seed-demo"]).exit_code == 0
    weekly = db.session.scalars(
        select(SessionRequest).where(SessionRequest.schedule_kind == "weekly")
    ).one()
    tuesday = weekly.first_date + timedelta(days=1)
    amelia = db.session.scalar(select(User).where(User.email == f"amelia.hart@{DEMO_DOMAIN}"))
    asking = {r.student_id for r in db.session.scalars(select(SessionRequest))}
    mia = db.session.scalars(
        select(User).where(User.role == "student", User.id.not_in(asking)).order_by(User.id)
    ).first()
    short = create_request(
        mia,
        RequestInput(mentor_id=amelia.id, subject_id=weekly.subject_id, title="Quick question",
                     schedule_kind="single", day=tuesday, start=time(16), duration=90),
        tz=PARIS,
    )  # fmt: skip
    db.session.commit()
    _demo_login(web, f"amelia.hart@{DEMO_DOMAIN}")
    response = form_post(web, f"/requests/{short.id}/approve", {"view": "pending"},
                         page="/requests/pending", status=302)  # fmt: skip
    flashed = response.follow()
    assert "Approved “Quick question”: 1 session created." in flashed.text
    assert "1 other request now has a clashing date." in flashed.text
    assert fresh(weekly).status == RequestStatus.PENDING
    card = flashed.html.find(id=f"request-{weekly.id}")
    assert "Dates to approve: 12 requested, 1 clash with the mentor's sessions" in card.text
    boxes = {b["value"]: b.has_attr("checked") for b in card.select("input[name=dates]")}
    assert len(boxes) == 12 and [d for d, ticked in boxes.items() if not ticked] == [
        tuesday.isoformat()
    ]
    assert "Quick question" in card.find(id=f"slot-{fresh(weekly).slots[0].id}").text
    # Approving with the boxes as they are: 11 sessions, the Tuesday declined and said so.
    form = flashed.forms[f"approve-form-{weekly.id}"]
    done = form.submit(status=302).follow()
    assert "Approved “Exam revision: algebra”: 11 sessions created; 1 date declined." in done.text
    weekly = fresh(weekly)
    assert weekly.status == RequestStatus.APPROVED
    [left_out] = [s for s in weekly.slots if s.declined_reason]
    assert left_out.local_date == tuesday
    assert left_out.declined_reason == "Amelia Hart has another session at that time."
    note = db.session.scalars(
        select(Notification).where(
            Notification.user_id == weekly.student_id, Notification.kind == "request_approved"
        )
    ).one()
    assert note.title == "Amelia Hart approved “Exam revision: algebra” in part (11 of 12 dates)"
    assert f"{tuesday:%a %d %b %Y} 16:30: Amelia Hart has another session" in note.body
    # The student's page says which dates were approved and which not.
    _demo_login(web, "noah.bernard@demo.termtable.test")
    page = web.get(f"/requests/{weekly.id}")
    assert "12 dates requested: 11 approved, 1 declined" in page.text
    declined = page.html.find(id=f"slot-{left_out.id}")
    assert "Declined" in declined.text and "has another session at that time" in declined.text
    assert len(page.html.find(id="created-sessions").find_all("li")) == 11


def test_a_partial_approval_without_javascript_and_in_place(web, people, make_class):
    make_class(people, day=WEDNESDAY, start=time(16), end=time(17))
    days = [MONDAY, WEDNESDAY, WEDNESDAY + timedelta(days=1)]
    request = ask(people, schedule_kind="dates", dates=days, start=time(16), end=time(17))
    login(web, people["ada"])
    page = web.get(f"/requests/{request.id}")  # the request's page: a plain form
    form = page.forms[f"approve-form-{request.id}"]
    boxes = {b._value: b for b in form.fields["dates"]}
    assert [v for v, b in boxes.items() if b.checked] == [days[0].isoformat(), days[2].isoformat()]
    # Ticking the clashing date is refused (409) with the ticks kept, nothing written.
    boxes[WEDNESDAY.isoformat()].checked = True
    refused = form.submit(status=409)
    assert "1 requested date clashes" in refused.html.find(id="request-error").text
    again = {
        b._value: b.checked for b in refused.forms[f"approve-form-{request.id}"].fields["dates"]
    }
    assert all(again.values())
    assert fresh(request).status == RequestStatus.PENDING
    # Nothing ticked: said, nothing written.
    none_ticked = form_post(web, f"/requests/{request.id}/approve",
                            {"view": "pending", "choose": "1"}, status=422)  # fmt: skip
    assert "Choose at least one date to approve" in none_ticked.text
    # In place (htmx): only Monday, with a reason for the other two.
    response = hx_post(web, f"/requests/{request.id}/approve",
                       {"view": "pending", "choose": "1", "dates": [MONDAY.isoformat()],
                        "reason": "Only Mondays this month."},
                       page="/requests/pending")  # fmt: skip
    assert response.text.lstrip().startswith(f'<article id="request-{request.id}"')
    assert toast(response) == "Approved “Help with algebra”: 1 session created; 2 dates declined."
    assert "1 session created; 2 dates declined." in response.text
    assert [s.declined_reason for s in fresh(request).slots] == [
        None,
        "Only Mondays this month.",
        "Only Mondays this month.",
    ]
    assert count(Occurrence) == 2  # the class and Monday


def test_coordinators_oversee_every_request_read_only(web, people, login_as, make_class):
    make_class(people, day=MONDAY, start=time(10), end=time(11))
    ada_asked = ask(people, start=time(10, 30))
    ben_asked = ask(people, student="lea", mentor="ben", subject="art", title="Drawing")
    done = ask(people, student="lea", title="Old one", start=time(15))
    login(web, people["ada"])
    form_post(web, f"/requests/{done.id}/reject", {"reason": "Full."}, status=302)
    web.reset()
    login_as("coordinator")
    page = web.get("/requests/pending")
    for r in (ada_asked, ben_asked):
        card = page.html.find(id=f"request-{r.id}")
        assert card is not None and card.find("form") is None  # read-only
        assert "or an admin decides" in card.text
    assert "Maths 7A" in page.html.find(id=f"request-{ada_asked.id}").text  # clashes named
    assert page.html.find(id=f"request-{done.id}") is None
    # Filters by mentor and student, in place.
    filtered = web.get(f"/requests/pending?mentor={people['ben'].id}", headers=HX)
    assert filtered.text.lstrip().startswith('<section id="pending-list"')
    assert (
        f"request-{ben_asked.id}" in filtered.text
        and f"request-{ada_asked.id}" not in filtered.text
    )
    overview = web.get("/requests/")
    assert overview.html.find("h1").text == "All requests"
    rows = [tr["id"] for tr in overview.html.select("#my-requests tbody tr")]
    assert rows == [f"request-{done.id}", f"request-{ben_asked.id}", f"request-{ada_asked.id}"]
    by_student = web.get(f"/requests/?student={people['lea'].id}&status=rejected")
    assert [tr["id"] for tr in by_student.html.select("#my-requests tbody tr")] == [
        f"request-{done.id}"
    ]
    # Staff type the mentor and the student (suggestions): no list of every person.
    assert overview.html.select("select[name=mentor], select[name=student]") == []
    typed = web.get("/requests/?mentor_q=okri&student_q=&status=")
    assert typed.status_int == 303 and f"mentor={people['ben'].id}" in typed.location
    chosen = typed.follow().html.find(id="requests-filter-mentor")
    assert chosen["value"] == "Ben Okri"
    # Deciding stays with the mentor asked or an admin (the README's rule): 403 in words.
    refused = form_post(web, f"/requests/{ada_asked.id}/approve", {"view": "pending"}, status=403)
    assert "read-protected" not in refused.text and "Not allowed" in refused.text
    fragment = hx_post(web, f"/requests/{ada_asked.id}/approve", {"view": "pending"}, status=403)
    assert fragment.text.lstrip().startswith('<div class="error-fragment"')
    assert "read-protected" not in fragment.text
    assert fresh(ada_asked).status == RequestStatus.PENDING


def test_lists_of_requests_come_in_pages_of_20(web, people, login_as):
    for n in range(21):
        ask(people, title=f"Ask {n:02}", day=MONDAY + timedelta(days=n))
    login_as("coordinator")
    first = web.get("/requests/")
    assert len(first.html.select("#my-requests tbody tr")) == 20
    assert "Showing 1\u201320 of 21." in first.text
    second = web.get("/requests/?page=2", headers=HX)
    assert len(second.html.select("#my-requests tbody tr")) == 1
    pending = web.get("/requests/pending?page=2")
    assert len(pending.html.select("#pending-list article")) == 1


def test_staff_reach_the_pending_list_from_the_navigation(web, people, login_as):
    for role in ("admin", "coordinator"):
        web.reset()
        login_as(role)
        links = {
            a.text.strip(): a["href"] for a in web.get("/profile/").html.select("header nav a")
        }
        assert links.get("Requests") == "/requests/pending", (role, links)


def test_refused_pages_say_so_in_plain_words(web, people, login_as):
    login(web, people["noah"])
    page = web.get("/requests/pending", status=403)
    assert page.html.find("h1").text.strip() == "403 · Not allowed"
    assert "Your account (student) cannot open this page or do this." in page.text
    assert "read-protected" not in page.text and "Forbidden" not in page.text
    fragment = web.get("/requests/pending", headers=HX, status=403)
    assert fragment.text.lstrip().startswith(
        '<div class="error-fragment" role="alert" id="error-403">'
    )
    assert "Not allowed" in fragment.text and "read-protected" not in fragment.text


def test_the_pending_list_redraws_itself_when_the_bell_brings_a_request(web, people):
    login(web, people["ada"])
    page = web.get("/requests/pending")
    bell = page.html.find(id="notification-bell")
    section = page.html.find(id="pending-list")
    assert section["hx-trigger"] == "requests-changed from:body, resync from:body"
    assert section["hx-get"] == "/requests/pending"
    assert section["hx-include"] == "#pending-list [name=editing]"
    request = ask(people, student="lea", title="Fresh one")
    poll = web.get(bell["hx-get"], headers=HX)
    events = json.loads(poll.headers["HX-Trigger"])
    note = db.session.scalars(select(Notification)).one()
    assert events["requests-changed"] == {}
    assert events["toast"] == {
        "message": "New request from Lea Martin: Fresh one",
        "link": f"/notifications/{note.id}/open",
    }
    assert web.get(events["toast"]["link"]).headers["Location"].endswith(f"/requests/{request.id}")
    redrawn = web.get(section["hx-get"], headers=HX)
    assert redrawn.html.find(id=f"request-{request.id}") is not None
    # A card being edited (a date unticked, a reason typed) is kept as it is.
    kept = web.get(f"/requests/pending?editing={request.id}", headers=HX)
    assert kept.html.find(id=f"request-{request.id}").has_attr("hx-preserve")
    assert not redrawn.html.find(id=f"request-{request.id}").has_attr("hx-preserve")


def test_the_bell_says_nothing_about_requests_for_other_news(web, people):
    from services.notifications.inbox import notify

    login(web, people["ada"])
    bell = web.get("/requests/pending").html.find(id="notification-bell")
    notify(people["ada"].id, "session_cancelled", "Maths 7A on Monday is cancelled", link="/x")
    db.session.commit()
    events = json.loads(web.get(bell["hx-get"], headers=HX).headers["HX-Trigger"])
    assert "requests-changed" not in events


# --- Markup -------------------------------------------------------------------------------------


def test_request_pages_and_fragments_run_no_inline_script_or_style(web, people, make_class):
    from tests.blueprints.test_security import assert_security_headers, crawl

    make_class(people, day=MONDAY, start=time(10), end=time(11))
    request = ask(people, start=time(10, 30))
    approved = ask(people, title="Approved one", start=time(15))
    login(web, people["ada"])
    form_post(web, f"/requests/{approved.id}/approve", {"view": "pending"}, status=302)
    responses = list(crawl(web, ["/requests/pending", f"/requests/{request.id}"]).values())
    responses.append(web.get(f"/requests/{request.id}/reject?view=pending", headers=HX))
    responses.append(
        hx_post(web, f"/requests/{request.id}/approve", {"view": "pending"}, status=409)
    )
    login(web, people["noah"])
    pages = crawl(web, ["/requests/mentors", "/requests/new", "/requests/"])
    assert {"/requests/mentors", "/requests/new", "/requests/", f"/requests/{request.id}"} <= set(
        pages
    )
    responses += pages.values()
    responses.append(web.get("/requests/new/date", headers=HX))
    responses.append(web.get(f"/requests/new/subjects?mentor={people['ada'].id}", headers=HX))
    form = web.get("/requests/new").forms["request-form"]
    responses.append(form.submit(status=422))
    for response in responses:
        assert_security_headers(response)
        if "html" in (response.content_type or ""):
            assert scan(response).problems == [], response.request.path_qs


@pytest.fixture
def tutoring(make_user):
    maths = Subject(name="Mathematics")
    db.session.add(maths)
    mentor = make_user("mentor", name="Ada Lovelace")
    db.session.flush()
    db.session.add(MentorSubject(mentor_id=mentor.id, subject_id=maths.id))
    db.session.commit()
    return {"mentor": mentor, "maths": maths, "student": make_user("student")}


def ask_with_the_form(web, tutoring, **fields):
    params = {
        "mentor": str(tutoring["mentor"].id),
        "subject": str(tutoring["maths"].id),
        "title": "Algebra",
        "mode": "online",
        "schedule_kind": "single",
        "day": MONDAY.isoformat(),
        "start": "10:00",
        "duration": "60",
        "end": "11:00",
        "first_date": MONDAY.isoformat(),
        "weeks": "2",
        "weekdays": ["0"],
    }
    return hx_post(web, "/requests/new", params | fields, status="*", page="/requests/new")


REQUEST_BAD_VALUES = [
    ({"day": "2027-02-29"}, "day"),
    ({"day": "2026-13-01"}, "day"),
    ({"day": "0001-01-01"}, "day"),
    ({"day": "   "}, "day"),
    ({"schedule_kind": "dates", "dates": "2027-02-29"}, "dates"),
    ({"schedule_kind": "weekly", "first_date": "2026-13-01"}, "first_date"),
    ({"start": "-01:00"}, "start"),
    ({"start": "23:60"}, "start"),
    ({"start": "10.00"}, "start"),
    ({"schedule_kind": "dates", "dates": MONDAY.isoformat(), "end": "10:00"}, "end"),
    ({"schedule_kind": "weekly", "weeks": "0"}, "weeks"),
    ({"schedule_kind": "weekly", "weeks": "-1"}, "weeks"),
    ({"schedule_kind": "weekly", "weeks": str(2**63)}, "weeks"),
    ({"schedule_kind": "weekly", "weeks": "3.5"}, "weeks"),
    ({"duration": "-1"}, "duration"),
    ({"duration": "three"}, "duration"),
    ({"duration": str(2**63)}, "duration"),
]


def test_bad_dates_times_and_numbers_are_refused_next_to_their_field_on_the_request_form(
    web, login_as, tutoring
):
    login_as(tutoring["student"])
    for fields, field in REQUEST_BAD_VALUES:
        response = ask_with_the_form(web, tutoring, **fields)
        assert response.status_int == 422, (fields, response.status)
        assert error_next_to(response, field), fields
    assert count(SessionRequest) == 0


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"day": "9999-12-31", "start": "23:30"}, id="single-9999-12-31-23h30"),
        pytest.param(
            {"schedule_kind": "weekly", "first_date": "9999-12-25", "weeks": "2"},
            id="weekly-from-9999-12-25",
        ),
        pytest.param(
            {"schedule_kind": "dates", "dates": "0001-01-01", "start": "00:00", "end": "01:00"},
            id="dates-0001-01-01-midnight",
        ),
    ],
)
def test_a_request_at_the_edge_of_the_calendar_is_refused_not_a_crash(
    web, login_as, tutoring, fields
):
    login_as(tutoring["student"])
    response = ask_with_the_form(web, tutoring, **fields)
    assert response.status_int == 422
    assert count(SessionRequest) == 0


def test_a_request_for_the_year_9999_is_refused(web, login_as, tutoring):
    login_as(tutoring["student"])
    response = ask_with_the_form(web, tutoring, day="9999-12-31", start="10:00")
    assert response.status_int == 422
    assert count(SessionRequest) == 0


def test_request_pages_pending_list_and_notifications_are_local(web, login_as, auckland_term):
    """A student asks (typed dates) for a free slot and for the two series dates (clashes)."""
    ada, noah, before, after = (
        auckland_term["ada"],
        auckland_term["noah"],
        auckland_term["before"],
        auckland_term["after"],
    )
    db.session.add(MentorSubject(mentor_id=ada.id, subject_id=auckland_term["maths"].id))
    db.session.commit()
    free_day = after + timedelta(days=1)
    login_as(noah)
    for title, fields in (
        ("Free slot", {"schedule_kind": "single", "day": free_day.isoformat(), "start": "08:00"}),
        ("Clashing", {"schedule_kind": "dates", "dates_text": f"{before}\n{after}",
                      "start": "08:00", "end": "09:00"}),
    ):  # fmt: skip
        form = web.get("/requests/new").forms["request-form"]
        form["mentor"], form["subject"], form["title"] = (
            str(ada.id),
            str(auckland_term["maths"].id),
            title,
        )
        for name, value in fields.items():
            form[name] = value
        form.submit(status=302)
    free, clashing = db.session.scalars(select(SessionRequest).order_by(SessionRequest.id)).all()
    assert [s.start_utc for s in free.slots] == [auckland_at(free_day, time(8))]
    assert sorted(s.start_utc for s in clashing.slots) == [
        auckland_at(before, time(8)),
        auckland_at(after, time(8)),
    ]

    mine = web.get("/requests/").html.find(id=f"request-{free.id}")
    assert f"from {long_day(free_day)} 08:00" in mine.text
    detail = web.get(f"/requests/{free.id}")
    asked = free.created_at.astimezone(AKL)
    assert f"{long_day(asked.date())} {asked:%H:%M}" in detail.text
    slot = detail.html.find(id=f"slot-{free.slots[0].id}")
    # Pending: the student reads whether the date clashes with the mentor's sessions.
    assert " ".join(slot.text.split()) == f"{long_day(free_day)} 08:00{DASH}09:00 No clash"

    switch_to(web, login_as, ada)
    pending = web.get("/requests/pending").html
    card = pending.find(id=f"request-{clashing.id}")
    for slot in clashing.slots:
        text = " ".join(card.find(id=f"slot-{slot.id}").text.split())
        day = slot.start_utc.astimezone(AKL).date()
        assert text.startswith(f"{long_day(day)} 08:00{DASH}09:00 Clash with Maths 7A ")
        assert f"Maths 7A 08:00{DASH}09:00" in text
    titles = web.get("/notifications/").html.find_all("p", class_="notification-body")
    assert f"1 session, from {long_day(free_day)} 08:00." in [t.text for t in titles]

    hx_post(web, f"/requests/{free.id}/approve", {"view": "pending"}, page="/requests/pending")
    created = db.session.scalars(select(Occurrence).where(Occurrence.request_id == free.id)).one()
    assert created.start_utc == auckland_at(free_day, time(8))
    detail = web.get(f"/requests/{free.id}").html.find(id="created-sessions")
    assert f"{long_day(free_day)} 08:00{DASH}09:00" in " ".join(detail.text.split())
    switch_to(web, login_as, noah)
    bodies = [p.text for p in web.get("/notifications/").html.find_all("p", "notification-body")]
    assert f"1 session created, the first on {long_day(free_day)} 08:00." in bodies
