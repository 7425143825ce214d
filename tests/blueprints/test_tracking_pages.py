"""Tracking pages: the session's completion section (complete, correct, a mentor's cancel, in
place and without JavaScript), coordinators' monitoring, verifying codes, and the hours report
with its CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from models import (
    Attachment,
    Notification,
    Occurrence,
    OccurrenceStatus,
    SessionEvent,
    SessionNote,
    db,
)
from services.common.timeutil import today_in
from services.timetable.sessions import create_one_time_session
from services.tracking import completion as tracking
from services.tracking import events
from tests import attachment_samples as samples
from tests.blueprints.conftest import long_day
from tests.blueprints.test_security import scan
from tests.conftest import AKL, PINNED_TODAY, auckland_at, csrf_token_of, previous_dst_change

PARIS = ZoneInfo("Europe/Paris")  # the test app's TIMEZONE
TODAY = PINNED_TODAY

# Dates are constants of the module: its clock is pinned, so they never go stale.
pytestmark = pytest.mark.usefixtures("pinned_clock")
PAST = TODAY - timedelta(days=2)
FUTURE = TODAY + timedelta(days=3)
DASH = "\u2013"


def at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=PARIS).astimezone(UTC)


def session_of(group, day=PAST, start=time(10), end=time(11), **kwargs) -> Occurrence:
    occurrence = Occurrence(
        group_id=group.id,
        start_utc=at(day, start),
        end_utc=at(day, end),
        room_id=group.default_room_id,
        **kwargs,
    )
    db.session.add(occurrence)
    db.session.commit()
    return occurrence


def fresh(occurrence_id: int) -> Occurrence:
    db.session.expire_all()
    return db.session.get(Occurrence, occurrence_id)


def error_of(page, field: str) -> str:
    error = page.html.find(id=f"completion-{field}-error")
    assert error is not None, f"no error next to {field}: {page.html}"
    return error.text


def completion_params(start="10:05", end="11:00", code="", notes="Fractions"):
    return {
        "completion-actual_start": start,
        "completion-actual_end": end,
        "completion-code": code,
        "completion-notes": notes,
    }


@pytest.fixture
def maths(make_user, make_group):
    mentor = make_user("mentor", name="Ms Curie")
    student = make_user("student", name="Noah Bernard")
    group = make_group("Math 101", mentor=mentor, students=[student], subject="Mathematics")
    return {
        "mentor": mentor,
        "student": student,
        "group": group,
        "past": session_of(group),
        "future": session_of(group, day=FUTURE),
    }


def page_of(occurrence) -> str:
    return f"/sessions/{occurrence.id}"


def base(occurrence) -> str:
    return f"/tracking/sessions/{occurrence.id}"


# --- The section on the session page -----------------------------------------------------------


def test_the_session_page_offers_complete_to_its_mentor_as_a_link_and_a_fragment(
    web, login_as, maths
):
    login_as(maths["mentor"])
    page = web.get(page_of(maths["past"]))
    section = page.html.find(id=f"completion-{maths['past'].id}")
    assert section is not None and "Completion" in section.text
    link = section.find("a", string="Complete…")
    assert link["href"] == f"{base(maths['past'])}/complete"
    assert link["hx-get"] == link["href"] and link["hx-target"] == f"#completion-{maths['past'].id}"
    # The mentor may also cancel it here (staff do it from the session's actions).
    assert section.find("form", attrs={"action": f"{base(maths['past'])}/cancel"}) is not None
    assert scan(page).problems == []


def test_a_future_session_says_when_it_can_be_completed(web, login_as, maths):
    login_as(maths["mentor"])
    section = web.get(page_of(maths["future"])).html.find(id=f"completion-{maths['future'].id}")
    assert "Not started yet: it can be completed from" in section.text
    assert section.find("a", string="Complete…") is None


def test_the_complete_form_is_prefilled_with_the_planned_times(web, htmx, login_as, maths):
    login_as(maths["mentor"])
    fragment = htmx.get(f"{base(maths['past'])}/complete")
    root = fragment.html.find(recursive=False)
    assert (root.name, root["id"]) == ("section", f"completion-{maths['past'].id}")
    assert "<html" not in fragment.text
    form = fragment.html.find("form")
    assert form["hx-post"] == f"{base(maths['past'])}/complete"
    assert fragment.html.find(id="completion-actual_start")["value"] == "10:00"
    assert fragment.html.find(id="completion-actual_end")["value"] == "11:00"
    assert fragment.html.find(id="completion-code")["value"] == ""
    assert scan(fragment).problems == []


def test_completing_in_place_shows_the_record_and_tells_the_page(
    web, htmx, login_as, maths, monkeypatch
):
    monkeypatch.setattr(tracking, "_random_suffix", lambda: "7QX")
    login_as(maths["mentor"])
    response = htmx.post(
        f"{base(maths['past'])}/complete",
        completion_params(notes="<script>alert(1)</script> fractions"),
        page=page_of(maths["past"]),
    )
    assert response.status_int == 200
    code = f"MATH101-{PAST:%Y%m%d}-7QX"
    section = response.html.find(id=f"completion-{maths['past'].id}")
    assert section.find(attrs={"data-field": "code"}).text == code
    assert section.find("button", attrs={"data-copy": code}) is not None
    assert f"10:05{DASH}11:00" in section.find(attrs={"data-field": "actual-time"}).text
    assert "by Ms Curie" in section.find(attrs={"data-field": "completed"}).text
    assert "<script>alert(1)</script>" not in response.text  # notes are text, never markup
    assert "&lt;script&gt;" in response.text
    trigger = json.loads(response.headers["HX-Trigger"])
    assert set(trigger) == {"toast"}
    assert code in trigger["toast"]["message"]
    # The summary and the status badge follow (partials swapped beside the section).
    partials = response.html.find_all("hx-partial")
    assert [p["hx-target"] for p in partials] == [
        f"#session-summary-{maths['past'].id}",
        f"#session-{maths['past'].id} [data-status]",
        f"#session-dashboard-{maths['past'].id} > header [data-status]",  # completed from a card
    ]
    assert "Completed" in partials[0].text and partials[1].span["data-status"] == "completed"
    saved = fresh(maths["past"].id)
    assert (saved.status, saved.completion_code) == (OccurrenceStatus.COMPLETED, code)
    assert saved.completion_notes == "<script>alert(1)</script> fractions"
    assert scan(response).problems == []


def test_an_end_before_the_start_is_422_next_to_the_field_with_what_was_typed(
    web, htmx, login_as, maths
):
    login_as(maths["mentor"])
    response = htmx.post(
        f"{base(maths['past'])}/complete",
        completion_params(start="11:00", end="10:30", code="my-code", notes="Kept"),
        status=422,
    )
    assert error_of(response, "actual_end") == (
        "The actual end (10:30) must be after the actual start (11:00), or at most 12 hours "
        "later on the next day."
    )
    assert response.html.find(id="completion-code")["value"] == "my-code"
    assert response.html.find(id="completion-notes").text.strip() == "Kept"
    assert response.html.find(recursive=False)["id"] == f"completion-{maths['past'].id}"
    assert fresh(maths["past"].id).status == OccurrenceStatus.SCHEDULED


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"completion-actual_start": ""}, "actual_start", "Enter the time it actually started."),
        ({"completion-actual_end": "24:00"}, "actual_end", "Not a valid time value."),
        ({"completion-code": "no spaces"}, "code", "letters, digits and dashes"),
        ({"completion-code": "x" * 41}, "code", "at most 40 characters"),
    ],
)
def test_bad_values_are_422_next_to_their_field(web, htmx, login_as, maths, params, field, message):
    login_as(maths["mentor"])
    response = htmx.post(
        f"{base(maths['past'])}/complete", {**completion_params(), **params}, status=422
    )
    assert message in error_of(response, field)


def test_a_taken_code_is_refused_next_to_the_code(web, htmx, login_as, maths, make_group):
    other = session_of(maths["group"], start=time(14), end=time(15))
    login_as(maths["mentor"])
    htmx.post(f"{base(other)}/complete", completion_params("14:00", "15:00", code="club-1"))
    response = htmx.post(
        f"{base(maths['past'])}/complete", completion_params(code="CLUB-1"), status=422
    )
    assert "The code CLUB-1 is already used by another session" in error_of(response, "code")


def test_state_refusals_are_409_in_place(web, htmx, login_as, maths):
    login_as(maths["mentor"])
    future = htmx.get(f"{base(maths['future'])}/complete", status=409)
    assert "has not started yet" in future.html.find(attrs={"role": "alert"}).text
    htmx.post(f"{base(maths['future'])}/complete", completion_params(), status=409)
    htmx.post(f"{base(maths['past'])}/complete", completion_params())
    twice = htmx.post(
        f"{base(maths['past'])}/complete", completion_params(code="AGAIN"), status=409
    )
    assert "already completed" in twice.html.find(attrs={"role": "alert"}).text
    assert twice.html.find(attrs={"data-field": "code"}) is not None  # the record stays shown
    cancelled = session_of(maths["group"], start=time(15), end=time(16), status="cancelled")
    response = htmx.post(f"{base(cancelled)}/complete", completion_params("15:00", "16:00"),
                         status=409)  # fmt: skip
    assert "cancelled" in response.html.find(attrs={"role": "alert"}).text
    assert fresh(maths["future"].id).status == OccurrenceStatus.SCHEDULED
    assert fresh(maths["past"].id).completion_code != "AGAIN"


def test_without_javascript_complete_is_a_page_and_a_redirect(web, login_as, maths):
    login_as(maths["mentor"])
    page = web.get(f"{base(maths['past'])}/complete")
    assert "<html" in page.text
    form = page.forms[f"completion-form-{maths['past'].id}"]
    form["completion-actual_end"] = "09:00"
    refused = form.submit(status=422)
    assert "must be after the actual start" in error_of(refused, "actual_end")
    form = refused.forms[f"completion-form-{maths['past'].id}"]
    form["completion-actual_end"] = "11:10"
    form["completion-code"] = "paper-1"
    done = form.submit(status=302)
    assert urlsplit(done.headers["Location"]).path == page_of(maths["past"])
    record = done.follow()
    assert "Session completed: code PAPER-1." in record.text
    assert record.html.find(attrs={"data-field": "code"}).text == "PAPER-1"


# --- Permissions and CSRF -----------------------------------------------------------------------


def test_a_student_of_the_group_sees_the_record_but_may_not_act(web, htmx, login_as, maths):
    login_as(maths["student"])
    section = web.get(page_of(maths["past"])).html.find(id=f"completion-{maths['past'].id}")
    assert section is not None and "Not completed yet." in section.text
    assert section.find("a", string="Complete…") is None and section.find("form") is None
    htmx.get(f"{base(maths['past'])}/completion", status=200)
    web.get(f"{base(maths['past'])}/complete", status=403)
    web.get(f"{base(maths['past'])}/correct", status=403)
    for action in ("complete", "correct", "cancel"):
        htmx.post(f"{base(maths['past'])}/{action}", {**completion_params(),
                  "tracking-reason": "x"}, page=page_of(maths["past"]), status=403)  # fmt: skip
    assert fresh(maths["past"].id).status == OccurrenceStatus.SCHEDULED


@pytest.mark.parametrize("who", ["another mentor", "another student"])
def test_people_who_cannot_see_the_session_get_404_everywhere(
    web, htmx, login_as, maths, make_user, who
):
    login_as("mentor" if who == "another mentor" else "student")
    web.get(page_of(maths["past"]), status=404)
    for action in ("completion", "complete", "correct"):
        htmx.get(f"{base(maths['past'])}/{action}", status=404)
        web.get(f"{base(maths['past'])}/{action}", status=404)
    for action in ("complete", "correct", "cancel"):
        htmx.post(f"{base(maths['past'])}/{action}", {**completion_params(),
                  "tracking-reason": "x"}, status=404)  # fmt: skip
    for bad in ("0", "999999", "9223372036854775808"):
        web.get(f"/tracking/sessions/{bad}/completion", status=404)
    assert fresh(maths["past"].id).status == OccurrenceStatus.SCHEDULED


def test_anonymous_visitors_are_sent_to_log_in(web, maths):
    for url in (f"{base(maths['past'])}/complete", "/tracking/", "/tracking/hours"):
        assert urlsplit(web.get(url, status=302).headers["Location"]).path == "/auth/login"


def test_posts_without_a_csrf_token_are_refused(web, login_as, maths):
    login_as(maths["mentor"])
    for action, params in [
        ("complete", completion_params()),
        ("correct", completion_params()),
        ("cancel", {"tracking-reason": "Ill"}),
    ]:
        response = web.post(f"{base(maths['past'])}/{action}", params, status=400)
        assert "security token" in response.text
        web.post(f"{base(maths['past'])}/{action}", params,
                 headers={"HX-Request": "true", "X-CSRFToken": "forged"}, status=400)  # fmt: skip
    assert fresh(maths["past"].id).status == OccurrenceStatus.SCHEDULED


# --- Correcting ---------------------------------------------------------------------------------


def test_the_mentor_corrects_in_place_and_the_corrections_are_listed(
    web, htmx, login_as, maths, make_user, monkeypatch
):
    monkeypatch.setattr(tracking, "_random_suffix", lambda: "7QX")
    login_as(maths["mentor"])
    htmx.post(f"{base(maths['past'])}/complete", completion_params())
    form = htmx.get(f"{base(maths['past'])}/correct")
    code = f"MATH101-{PAST:%Y%m%d}-7QX"
    assert form.html.find(id="completion-code")["value"] == code
    assert form.html.find(id="completion-actual_start")["value"] == "10:05"
    assert form.html.find(id="completion-notes").text.strip() == "Fractions"
    response = htmx.post(
        f"{base(maths['past'])}/correct", completion_params(end="11:20", code="", notes="Fractions")
    )
    assert "Completion corrected." in response.text
    history = response.html.find("ol", class_="completion-history")
    assert "Ms Curie" in history.text and "actual end: 11:00 → 11:20" in history.text
    assert fresh(maths["past"].id).completion_code == code  # blank kept it
    kinds = db.session.scalars(
        select(SessionEvent.kind).where(SessionEvent.occurrence_id == maths["past"].id)
    ).all()
    assert sorted(kinds) == [events.COMPLETED, events.COMPLETION_CORRECTED]


def test_a_coordinator_corrects_too_and_errors_stay_in_the_form(web, htmx, login_as, maths):
    tracking.complete_session(maths["past"], actual_start=time(10), actual_end=time(11),
                              actor=maths["mentor"], tz=PARIS)  # fmt: skip
    db.session.commit()
    coordinator = login_as("coordinator")
    refused = htmx.post(
        f"{base(maths['past'])}/correct", completion_params(start="12:00", end="11:00"), status=422
    )
    assert "must be after" in error_of(refused, "actual_end")
    done = htmx.post(f"{base(maths['past'])}/correct", completion_params(code="checked-1"))
    assert done.html.find(attrs={"data-field": "code"}).text == "CHECKED-1"
    event = db.session.scalars(
        select(SessionEvent).where(SessionEvent.kind == events.COMPLETION_CORRECTED)
    ).one()
    assert event.actor_id == coordinator.id
    assert f"code: MATH101-{PAST:%Y%m%d}-" in event.summary
    assert "→ CHECKED-1;" in event.summary


def test_a_session_not_completed_has_nothing_to_correct(web, htmx, login_as, maths):
    login_as(maths["mentor"])
    response = htmx.get(f"{base(maths['past'])}/correct", status=409)
    assert "no record to correct" in response.text
    htmx.post(f"{base(maths['past'])}/correct", completion_params(), status=409)


# --- The mentor's cancel ------------------------------------------------------------------------


def test_the_mentor_cancels_with_a_reason_and_the_students_are_told(web, htmx, login_as, maths):
    login_as(maths["mentor"])
    refused = htmx.post(f"{base(maths['future'])}/cancel", {"tracking-reason": "  "}, status=422)
    assert refused.html.find(id="tracking-reason-error").text == (
        "Give a reason for the cancellation."
    )
    assert refused.html.find("details").has_attr("open")
    response = htmx.post(f"{base(maths['future'])}/cancel", {"tracking-reason": "Ill today"})
    assert "This session is cancelled" in response.text
    assert json.loads(response.headers["HX-Trigger"])["toast"]["message"] == "Session cancelled."
    saved = fresh(maths["future"].id)
    assert (saved.status, saved.cancel_reason) == (OccurrenceStatus.CANCELLED, "Ill today")
    told = db.session.scalars(select(Notification.user_id)).all()
    assert told == [maths["student"].id]
    again = htmx.post(f"{base(maths['future'])}/cancel", {"tracking-reason": "x"}, status=409)
    assert "already cancelled" in again.text


def test_staff_cancel_from_the_actions_not_from_the_section(web, login_as, maths):
    login_as("coordinator")
    page = web.get(page_of(maths["past"]))
    section = page.html.find(id=f"completion-{maths['past'].id}")
    assert section.find("a", string="Complete…") is not None
    assert section.find("form") is None


# --- Monitoring ---------------------------------------------------------------------------------


@pytest.fixture
def monitored(maths, make_user, make_group):
    """Maths: one completed (yesterday), one overdue (2 days ago, planned), a future one.
    Art (Mr Brush): one completed."""
    art = make_group("Art 7A", mentor=make_user("mentor", name="Mr Brush"))
    done = session_of(maths["group"], day=TODAY - timedelta(days=1))
    art_done = session_of(art, day=TODAY - timedelta(days=1), start=time(14), end=time(15))
    for occurrence, code, actor in ((done, "MATHS-OK", maths["mentor"]),
                                    (art_done, "ART-OK", art.mentor)):  # fmt: skip
        tracking.complete_session(occurrence, actual_start=time(occurrence.start_utc.astimezone(
            PARIS).hour), actual_end=time(occurrence.end_utc.astimezone(PARIS).hour),
            code=code, actor=actor, tz=PARIS)  # fmt: skip
    db.session.commit()
    return {**maths, "art": art, "done": done, "art_done": art_done}


@pytest.mark.parametrize("role", ["mentor", "student"])
def test_monitoring_is_for_staff(web, login_as, monitored, role):
    login_as(role)
    for url in ("/tracking/", "/tracking/verify?code=ART-OK", "/tracking/hours",
                "/tracking/hours.csv"):  # fmt: skip
        web.get(url, status=403)


def test_the_monitor_lists_completions_and_the_overdue_sessions(web, login_as, monitored):
    login_as("coordinator")
    page = web.get("/tracking/")
    assert "Monitoring" in [a.text for a in page.html.select("nav a")]
    listed = page.html.find(id="monitor-list")
    assert listed.find(id=f"monitor-{monitored['done'].id}") is not None
    assert listed.find(id=f"monitor-{monitored['art_done'].id}") is not None
    assert "MATHS-OK" in listed.text and "Ms Curie" in listed.text
    assert listed.find(id=f"monitor-{monitored['past'].id}") is None  # not completed
    overdue = page.html.find(id="overdue-list")
    assert [tr["id"] for tr in overdue.find_all("tr", id=True)] == [
        f"overdue-{monitored['past'].id}"
    ]
    # Ended two days ago at 11:00: one or two whole days, said in good English.
    days = (datetime.now(UTC) - monitored["past"].end_utc) // timedelta(days=1)
    ended = overdue.find(id=f"overdue-{monitored['past'].id}").find_all("td")[-1].text
    assert ended == {1: "1 day ago", 2: "2 days ago"}[days]
    assert scan(page).problems == []


def test_the_monitor_filters_in_place_and_keeps_them_in_the_url(web, htmx, login_as, monitored):
    login_as("coordinator")
    art = monitored["art"]
    fragment = htmx.get(f"/tracking/?mentor={art.mentor_id}")
    assert fragment.html.find(recursive=False)["id"] == "monitor-results"
    assert "<html" not in fragment.text
    rows = fragment.html.find(id="monitor-list").find_all("tr", id=True)
    assert [r["id"] for r in rows] == [f"monitor-{monitored['art_done'].id}"]
    assert fragment.html.find(id="overdue-list") is None  # Mr Brush has nothing overdue
    by_group = web.get(f"/tracking/?group={monitored['group'].id}&status=scheduled")
    rows = by_group.html.find(id="monitor-list").find_all("tr", id=True)
    assert {r["id"] for r in rows} == {
        f"monitor-{monitored['past'].id}", f"monitor-{monitored['future'].id}",
    }  # fmt: skip
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    ranged = web.get(f"/tracking/?start={yesterday}&end={yesterday}&status=any")
    assert len(ranged.html.find(id="monitor-list").find_all("tr", id=True)) == 2
    bad = web.get("/tracking/?start=2026-02-30&end=nope&mentor=abc&status=weird", status=422)
    assert bad.html.find(id="filter-start-error").text == "Enter a date as YYYY-MM-DD."
    reversed_range = web.get(f"/tracking/?start={TODAY}&end={yesterday}", status=422)
    assert "must not be before" in reversed_range.html.find(id="filter-end-error").text


def test_the_monitor_paginates(web, login_as, maths):
    for n in range(23):
        occurrence = session_of(maths["group"], day=PAST - timedelta(days=n + 1))
        tracking.complete_session(occurrence, actual_start=time(10), actual_end=time(11),
                                  actor=maths["mentor"], tz=PARIS)  # fmt: skip
    db.session.commit()
    login_as("coordinator")
    first = web.get("/tracking/")
    assert len(first.html.find(id="monitor-list").find_all("tr", id=True)) == 20
    second = web.get(first.html.find("a", rel="next")["href"])
    assert len(second.html.find(id="monitor-list").find_all("tr", id=True)) == 3


def test_verify_finds_a_session_by_its_code_ignoring_case(web, htmx, login_as, monitored):
    login_as("coordinator")
    page = web.get("/tracking/verify?code=+maths-ok+")
    found = page.html.find(id="verify-result")
    assert "MATHS-OK" in found.text and "Math 101" in found.text and "Ms Curie" in found.text
    assert found.find("a")["href"] == page_of(monitored["done"])
    fragment = htmx.get("/tracking/verify?code=art-ok")
    assert fragment.html.find(recursive=False)["id"] == "verify-result"
    assert "Art 7A" in fragment.text and "<html" not in fragment.text
    missing = htmx.get("/tracking/verify?code=NOPE-1")
    assert "No session has the code NOPE-1." in missing.text
    assert "<script>" not in htmx.get("/tracking/verify?code=<script>x").text


# --- Hours --------------------------------------------------------------------------------------


@pytest.fixture
def september(make_user, make_group):
    """September 2026: Ms Curie has 3 sessions of 1 h (one completed 10:00-11:30, one
    cancelled, one planned) and a 2 h session completed 14:00-15:45; '=HYPERLINK' has one 1 h
    session completed in 45 minutes. A session in October does not count."""
    curie = make_user("mentor", name="Ms Curie")
    sneaky = make_user("mentor", name='=HYPERLINK("http://evil.example","x")')
    maths = make_group("Math 101", mentor=curie)
    other = make_group("Trick", mentor=sneaky)
    day = date(2026, 9, 14)

    def done(group, start, end, actual_start, actual_end):
        occurrence = session_of(group, day=day, start=start, end=end)
        tracking.complete_session(occurrence, actual_start=actual_start, actual_end=actual_end,
                                  actor=group.mentor, tz=PARIS, now=at(day, time(23)))  # fmt: skip

    done(maths, time(10), time(11), time(10), time(11, 30))
    done(maths, time(14), time(16), time(14), time(15, 45))
    session_of(maths, day=day, start=time(12), end=time(13), status="cancelled")
    session_of(maths, day=date(2026, 9, 30), start=time(9), end=time(10))
    session_of(maths, day=date(2026, 10, 1), start=time(9), end=time(10))
    done(other, time(16), time(17), time(16), time(16, 45))
    db.session.commit()
    return {"curie": curie, "sneaky": sneaky}


def test_the_hours_report_compares_scheduled_and_actual_hours(web, login_as, september):
    login_as("coordinator")
    page = web.get("/tracking/hours?month=2026-09")
    row = page.html.find(id=f"hours-mentor-{september['curie'].id}")
    cells = [td.text for td in row.find_all("td")]
    assert cells == ["3", "4:00", "2", "3:15", "-0:45"]
    sneaky = page.html.find(id=f"hours-mentor-{september['sneaky'].id}")
    assert [td.text for td in sneaky.find_all("td")] == ["1", "1:00", "1", "0:45", "-0:15"]
    total = [td.text for td in page.html.find(id="hours-total").find_all("td")]
    assert total == ["4", "5:00", "3", "4:00", "-1:00"]
    assert page.html.find("a", rel="prev")["href"].endswith("month=2026-08")
    assert page.html.find("a", rel="next")["href"].endswith("month=2026-10")
    october = web.get("/tracking/hours?month=2026-10")
    assert [td.text for td in october.html.find(id="hours-total").find_all("td")][:2] == [
        "1", "1:00",
    ]  # fmt: skip
    assert scan(page).problems == []


def test_hours_read_as_hours_and_minutes_not_decimals(web, login_as, make_user, make_group):
    # 31 h 29 min: fourteen sessions of 2 h and one of 3 h 29 (31.48 h as a decimal).
    mentor = make_user("mentor", name="Marie-Amélie de la Fontaine-Lefebvre")
    group = make_group("Math 101", mentor=mentor)
    for n in range(14):
        session_of(group, day=date(2026, 9, 1) + timedelta(days=n), start=time(9), end=time(11))
    session_of(group, day=date(2026, 9, 20), start=time(9), end=time(12, 29))
    db.session.commit()
    login_as("coordinator")
    page = web.get("/tracking/hours?month=2026-09")
    row = page.html.find(id=f"hours-mentor-{mentor.id}")
    assert [td.text for td in row.find_all("td")] == ["15", "31:29", "0", "0:00", "-31:29"]
    assert "31.48" not in page.text


def test_hours_count_up_to_today_by_default_and_the_whole_month_on_request(
    web, login_as, september, monkeypatch
):
    # Seen on 20 September 2026: the sessions of the 14th count, the 30th's not yet.
    monkeypatch.setattr(
        "blueprints.tracking.routes.today_in", lambda tz, now=None: date(2026, 9, 20)
    )
    login_as("coordinator")
    page = web.get("/tracking/hours?month=2026-09")
    assert " ".join(page.html.find(id="hours-period").text.split()).startswith(
        "Up to today: sessions of 1\u201320 September 2026."
    )
    row = page.html.find(id=f"hours-mentor-{september['curie'].id}")
    assert [td.text for td in row.find_all("td")] == ["2", "3:00", "2", "3:15", "+0:15"]
    whole_link = page.html.find("a", string="Show the whole month")["href"]
    whole = web.get(whole_link)
    assert "The whole month: sessions of 1\u201330 September 2026." in " ".join(
        whole.html.find(id="hours-period").text.split()
    )
    row = whole.html.find(id=f"hours-mentor-{september['curie'].id}")
    assert [td.text for td in row.find_all("td")] == ["3", "4:00", "2", "3:15", "-0:45"]
    # The CSV follows the same choice.
    csv_rows = web.get("/tracking/hours.csv?month=2026-09").body.decode("utf-8")
    by_name = {row[1]: row for row in csv.reader(io.StringIO(csv_rows.lstrip("\ufeff"))) if row}
    assert by_name["Ms Curie"][3:5] == ["2", "3.00"]
    csv_whole = web.get("/tracking/hours.csv?month=2026-09&whole=1").body.decode("utf-8")
    by_name = {row[1]: row for row in csv.reader(io.StringIO(csv_whole.lstrip("\ufeff"))) if row}
    assert by_name["Ms Curie"][3:5] == ["3", "4.00"]


def test_a_past_month_is_always_whole(web, login_as, september, monkeypatch):
    monkeypatch.setattr(
        "blueprints.tracking.routes.today_in", lambda tz, now=None: date(2026, 12, 6)
    )
    login_as("coordinator")
    page = web.get("/tracking/hours?month=2026-09")
    assert "The whole month" in page.html.find(id="hours-period").text
    assert page.html.find("a", string="Show the whole month") is None


@pytest.mark.parametrize("month", ["2026-13", "2026-9", "september", "1999-01", "2026-09-01"])
def test_a_bad_month_is_422_with_a_message(web, login_as, september, month):
    login_as("coordinator")
    page = web.get(f"/tracking/hours?month={month}", status=422)
    assert page.html.find(id="hours-month-error").text == (
        "Choose a month as YYYY-MM, e.g. 2026-09."
    )
    assert "YYYY-MM" in web.get(f"/tracking/hours.csv?month={month}", status=422).text


def test_the_hours_csv_is_an_attachment_with_neutralised_text_cells(web, login_as, september):
    login_as("coordinator")
    response = web.get("/tracking/hours.csv?month=2026-09")
    assert response.content_type == "text/csv" and response.charset == "utf-8"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="termtable-hours-2026-09.csv"'
    )
    text = response.body.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == [
        "month", "mentor", "email", "scheduled_sessions", "scheduled_hours",
        "completed_sessions", "actual_hours", "difference_hours",
    ]  # fmt: skip
    by_name = {row[1]: row for row in rows[1:]}
    assert by_name["Ms Curie"][3:] == ["3", "4.00", "2", "3.25", "-0.75"]
    sneaky = by_name['\'=HYPERLINK("http://evil.example","x")']
    assert sneaky[3:] == ["1", "1.00", "1", "0.75", "-0.25"]  # numbers stay numbers
    assert rows[-1][1:] == ["Total", "", "4", "5.00", "3", "4.00", "-1.00"]
    assert all(not row[1].startswith(("=", "+", "-", "@")) for row in rows[1:])


# --- No query per row ---------------------------------------------------------------------------


def _statements_of(web, url) -> int:
    found = []

    def counter(_conn, _cursor, statement, *_args):
        if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE")):
            found.append(statement)

    event.listen(db.engine, "before_cursor_execute", counter)
    try:
        web.get(url)
    finally:
        event.remove(db.engine, "before_cursor_execute", counter)
    return len(found)


def test_monitoring_and_hours_do_not_query_per_row(web, login_as, make_user, make_group):
    def add_mentor_with_sessions(n):
        group = make_group(f"Group {n}", mentor=make_user("mentor"))
        for day in (date(2026, 9, 14), date(2026, 9, 15)):
            occurrence = session_of(group, day=day)
            tracking.complete_session(occurrence, actual_start=time(10), actual_end=time(11),
                                      actor=group.mentor, tz=PARIS)  # fmt: skip
        session_of(group, day=date(2026, 9, 16))  # overdue
        db.session.commit()

    add_mentor_with_sessions(1)
    login_as("coordinator")
    urls = ("/tracking/?status=any", "/tracking/hours?month=2026-09")
    few = [_statements_of(web, url) for url in urls]
    for n in range(2, 7):
        add_mentor_with_sessions(n)
    many = [_statements_of(web, url) for url in urls]
    assert many == few


def test_a_month_that_is_not_one_is_a_422_not_a_500(web, login_as):
    login_as("coordinator")
    for month in ("\u00b2\u00b2\u00b2\u00b2-01", "9" * 5000, "%", "2026-00", "0000-01"):
        page = web.get("/tracking/hours", {"month": month}, status=422)
        assert page.html.find(id="hours-month-error") is not None, month
    assert web.get("/tracking/hours", {"month": " 2026-09 "}).status_int == 200


HX = {"HX-Request": "true", "HX-Request-Type": "partial"}


def hx_post(web, url, params, *, page="/sessions/today/", **kwargs):
    token = csrf_token_of(web.get(page))
    return web.post(url, params, headers={**HX, "X-CSRFToken": token}, **kwargs)


def test_fields_a_user_must_not_set_are_never_applied_to_notes_completions_or_files(
    web, login_as, yesterdays_lesson, upload_folder
):
    mentor, occurrence, other = (
        yesterdays_lesson["mentor"],
        yesterdays_lesson["session"],
        yesterdays_lesson["other"],
    )
    page = f"/sessions/{occurrence.id}"
    login_as(mentor)
    forged = {
        "author_id": str(yesterdays_lesson["other_mentor"].id),
        "occurrence_id": str(other.id),
        "id": "4242",
        "created_at": "2000-01-01T00:00:00",
    }
    hx_post(
        web,
        f"/notes/sessions/{occurrence.id}",
        {"kind": "general", "body": "Hi"} | forged,
        page=page,
    )
    [note] = db.session.scalars(select(SessionNote)).all()
    assert (note.author_id, note.occurrence_id) == (mentor.id, occurrence.id) and note.id != 4242
    assert note.created_at.year == datetime.now(UTC).year

    completion = {
        "completion-actual_start": "10:00",
        "completion-actual_end": "11:00",
        "completion-code": "",
        "completion-notes": "Done",
        "status": "cancelled",
        "completed_by_id": str(yesterdays_lesson["other_mentor"].id),
        "completion-completed_by_id": str(yesterdays_lesson["other_mentor"].id),
        "completed_at": "2000-01-01T00:00:00",
    }
    hx_post(web, f"/tracking/sessions/{occurrence.id}/complete", completion, page=page)
    db.session.expire_all()
    done = db.session.get(Occurrence, occurrence.id)
    assert (done.status, done.completed_by_id) == (OccurrenceStatus.COMPLETED, mentor.id)
    assert done.completed_at.year == datetime.now(UTC).year

    token = csrf_token_of(web.get(page))
    web.post(
        f"/attachments/sessions/{occurrence.id}",
        {
            "description": "x",
            "uploader_id": str(yesterdays_lesson["other_mentor"].id),
            "occurrence_id": str(other.id),
        },
        upload_files=[("file", "a.pdf", samples.pdf())],
        headers={**HX, "X-CSRFToken": token},
    )
    [attachment] = db.session.scalars(select(Attachment)).all()
    assert (attachment.uploader_id, attachment.occurrence_id) == (mentor.id, occurrence.id)


def test_completion_monitoring_and_overdue_are_local(web, login_as, auckland_term):
    """Two past sessions at 08:00, either side of the last DST change: one completed through
    the form (typed local times), the other overdue."""
    change = previous_dst_change(AKL, today_in(AKL) - timedelta(days=3))
    done_day, late_day = change - timedelta(days=1), change + timedelta(days=1)
    group, room = auckland_term["group"], auckland_term["room"]
    done, late = (
        create_one_time_session(
            group_id=group.id, day=day, start=time(8), end=time(9), room_id=room.id,
            actor=None, tz=AKL,
        ).occurrence
        for day in (done_day, late_day)
    )  # fmt: skip
    db.session.commit()
    login_as("coordinator")
    form = web.get(f"/tracking/sessions/{done.id}/complete").forms[f"completion-form-{done.id}"]
    assert (form["completion-actual_start"].value, form["completion-actual_end"].value) == (
        "08:00",
        "09:00",
    )
    form["completion-actual_start"], form["completion-actual_end"] = "08:05", "08:55"
    page = form.submit(status=302).follow()
    db.session.refresh(done)
    assert (done.actual_start_utc, done.actual_end_utc) == (
        auckland_at(done_day, time(8, 5)),
        auckland_at(done_day, time(8, 55)),
    )
    assert done.completion_code.startswith(f"MATHS7A-{done_day:%Y%m%d}-")
    actual = page.html.find(attrs={"data-field": "actual-time"})
    assert " ".join(actual.text.split()) == f"08:05{DASH}08:55 (planned 08:00{DASH}09:00)"

    monitor = web.get(f"/tracking/?status=any&start={done_day}&end={done_day}").html
    row = monitor.find(id=f"monitor-{done.id}")
    assert [td.text.strip() for td in row.find_all("td")[:3]] == [
        long_day(done_day),
        f"08:00{DASH}09:00",
        f"08:05{DASH}08:55",
    ]
    assert monitor.find(id=f"monitor-{late.id}") is None  # the typed dates are local dates
    overdue = monitor.find(id=f"overdue-{late.id}")
    assert [td.text.strip() for td in overdue.find_all("td")[:2]] == [
        long_day(late_day),
        f"08:00{DASH}09:00",
    ]
