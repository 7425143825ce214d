"""Request pages: find a mentor, the request form (three schedule kinds, every message next to
its field), my requests (withdraw inline), pending requests (approve and reject inline, clashes
named, auto-declined rows), a request's page, permissions row by row, and the CLI."""

from __future__ import annotations

import json
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
from services.generation import generate_occurrences
from services.requests import RequestInput, create_request
from tests.conftest import csrf_token_of

PARIS = ZoneInfo("Europe/Paris")
_today = datetime.now(PARIS).date()
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
    web.get("/requests/", status=403)
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
    assert f"16:00{DASH}17:00" in monday.text and "Free" in monday.text
    assert "Clash" in wednesday.text and f"Maths 7A 16:00{DASH}17:00" in wednesday.text
    assert wednesday.find("a")["href"].startswith("/sessions/")
    assert "1 clash with the mentor's sessions" in card.text


def test_pending_is_for_mentors_and_admins(web, people, login_as):
    request = ask(people)
    assert "/auth/login" in web.get("/requests/pending", status=302).headers["Location"]
    login(web, people["noah"])
    web.get("/requests/pending", status=403)
    web.reset()
    login_as("coordinator")
    web.get("/requests/pending", status=403)
    web.reset()
    login_as("admin")
    page = web.get("/requests/pending")
    assert f'id="request-{request.id}"' in page.text and "to Ada Lovelace" in page.text


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
    assert "Approve" in response.text  # still pending, still decidable
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
    assert "Rejected" in declined.text and "Declined automatically" in declined.text
    assert declined.find("form") is None
    assert "1 session created" in response.html.find(id=f"request-{chosen.id}").text
    assert response.html.find(id=f"request-{elsewhere.id}").find("form") is not None
    assert fresh(clashing).status == RequestStatus.REJECTED


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
    assert page.html.find(id="approve-form") is None


def test_the_page_shows_everything_and_the_actions_of_the_viewer(web, people, make_class):
    make_class(people, day=MONDAY, start=time(10), end=time(11))
    request = ask(people, start=time(10, 30), mode="in_person")
    login(web, people["noah"])
    page = web.get(f"/requests/{request.id}")
    for text in ("Noah Bernard", "Ada Lovelace", "Mathematics", "In person", "Pending",
                 "Chapter 3, equations.", "one session at 10:30-11:30"):  # fmt: skip
        assert text in page.text, text
    assert page.html.find(id="withdraw-form") is not None
    assert page.html.find(id="approve-form") is None
    assert "Clash" not in page.text  # the mentor's timetable is not the student's business
    login(web, people["ada"])
    page = web.get(f"/requests/{request.id}")
    assert page.html.find(id="approve-form") is not None
    assert page.html.find(id="withdraw-form") is None
    assert f"Maths 7A 10:00{DASH}11:00" in page.text
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
    assert fresh(requests[1]).status == RequestStatus.REJECTED
    web.reset()
    form = web.get("/auth/login").forms[0]
    form["email"], form["password"] = "noah.bernard@demo.termtable.test", DEMO_PASSWORD
    form.submit()
    directory = web.get("/requests/mentors")
    assert "Amelia Hart" in directory.text and "Mathematics" in directory.text


# --- Markup -------------------------------------------------------------------------------------


def test_request_pages_and_fragments_run_no_inline_script_or_style(web, people, make_class):
    from tests.blueprints.test_security import assert_security_headers, crawl, scan

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
