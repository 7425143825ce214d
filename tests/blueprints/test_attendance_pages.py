"""Attendance pages: the register on the session page and on the mentor's dashboard card (in
place with htmx, and as plain forms without JavaScript), messages next to each student, a
student's own attendance, the staff report with its CSV, and the monitoring page's flag."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from models import AttendanceChange, AttendanceMark, Enrolment, OccurrenceStatus, db
from services.tracking.attendance import MarkInput, take_register
from tests.blueprints.test_security import scan
from tests.conftest import PINNED_TODAY, counted_statements, csrf_token_of

PARIS = ZoneInfo("Europe/Paris")  # the test app's TIMEZONE
TODAY = PINNED_TODAY
pytestmark = pytest.mark.usefixtures("pinned_clock")
PAST = TODAY - timedelta(days=2)
PARTIAL = {"HX-Request": "true", "HX-Request-Type": "partial"}


def at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=PARIS).astimezone(UTC)


@pytest.fixture
def school(make_user, make_group, make_session):
    mentor = make_user("mentor", name="Ada Mentor")
    students = [make_user("student", name=n) for n in ("Alice Ant", "Bob Bee", "Carol Cat")]
    group = make_group("Maths 7A", mentor=mentor, students=students)
    for enrolment in db.session.scalars(select(Enrolment).where(Enrolment.group_id == group.id)):
        enrolment.created_at = at(TODAY - timedelta(days=60), time(9))
    db.session.commit()
    past = make_session(group, at(PAST, time(10)))
    future = make_session(group, at(TODAY + timedelta(days=3), time(10)))
    return {"mentor": mentor, "students": students, "group": group, "past": past,
            "future": future}  # fmt: skip


def marks(occurrence) -> dict[str, tuple]:
    db.session.expire_all()
    rows = db.session.scalars(
        select(AttendanceMark).where(AttendanceMark.occurrence_id == occurrence.id)
    )
    return {r.student_id: (str(r.status), r.late_minutes, r.reason) for r in rows}


def token(web) -> str:
    return csrf_token_of(web.get("/notifications/"))


# --- In place (htmx) ----------------------------------------------------------------------------


def test_the_mentor_takes_the_register_in_place_from_the_session_page(web, login_as, school):
    login_as(school["mentor"])
    past, (alice, bob, carol) = school["past"], school["students"]
    page = web.get(f"/sessions/{past.id}")
    section = page.html.select_one(f"#register-{past.id}")
    assert "Not taken yet: 3 students" in section.text
    form_url = f"/attendance/sessions/{past.id}/register/take"
    fragment = web.get(form_url, headers=PARTIAL)
    assert fragment.html.select_one(f"section#register-{past.id} form#register-form-{past.id}")
    checked = fragment.html.select('input[type="radio"][checked]')
    assert [i["value"] for i in checked] == ["present"] * 3
    params = {f"status-{s.id}": "present" for s in (alice, carol)}
    params |= {f"status-{bob.id}": "late", f"late-{bob.id}": "12", f"reason-{bob.id}": "Bus"}
    response = web.post(form_url, params, headers=PARTIAL | {"X-CSRFToken": token(web)})
    assert response.status_int == 200 and "<html" not in response.text
    root = response.html.find(True)
    assert root.name == "section" and root["id"] == f"register-{past.id}"
    assert json.loads(response.headers["HX-Trigger"])["toast"]["message"] == (
        "Register taken: 2 present, 1 late."
    )
    assert "Taken by Ada Mentor" in response.text and "Late (12 min): Bus" in response.text
    assert marks(past)[bob.id] == ("late", 12, "Bus")


def test_all_present_is_one_click(web, login_as, school):
    login_as(school["mentor"])
    past = school["past"]
    page = web.get(f"/sessions/{past.id}")
    form = next(f for f in page.forms.values() if f.fields.get("all_present"))
    response = form.submit(headers=PARTIAL | {"X-CSRFToken": token(web)})
    assert "3 present" in response.html.select_one("[data-register='taken']").text
    assert set(marks(past).values()) == {("present", None, None)}


@pytest.mark.parametrize(
    ("late", "reason_status", "reason", "messages"),
    [
        ("ten", "present", "", ["whole number"]),
        ("-3", "present", "", ["not a negative number"]),
        ("90", "present", "", ["the session lasts 60 minutes"]),
        ("5", "excused", "", ["Say why the absence is excused"]),
    ],
)
def test_a_bad_mark_is_shown_next_to_that_student_and_nothing_changes(
    web, login_as, school, late, reason_status, reason, messages
):
    login_as(school["mentor"])
    past, (alice, bob, _carol) = school["past"], school["students"]
    params = {
        f"status-{alice.id}": "late",
        f"late-{alice.id}": late,
        f"status-{bob.id}": reason_status,
        f"reason-{bob.id}": reason,
    }
    response = web.post(
        f"/attendance/sessions/{past.id}/register/take",
        params,
        headers=PARTIAL | {"X-CSRFToken": token(web)},
        status=422,
    )
    errors = " ".join(e.text for e in response.html.select(".register-line .field-error"))
    for message in messages:
        assert message in errors
    wrong = response.html.select('fieldset[aria-invalid="true"]')
    assert {f["id"] for f in wrong} <= {f"register-line-{alice.id}", f"register-line-{bob.id}"}
    # What was typed is still there.
    assert response.html.select_one(f'input[name="late-{alice.id}"]')["value"] == late
    assert marks(past) == {}


def test_a_student_not_on_the_register_is_named_above_the_form(web, login_as, school, make_user):
    login_as(school["mentor"])
    stranger = make_user("student")
    response = web.post(
        f"/attendance/sessions/{school['past'].id}/register/take",
        {f"status-{stranger.id}": "absent"},
        headers=PARTIAL | {"X-CSRFToken": token(web)},
        status=422,
    )
    assert "Not on this session's register" in response.html.select_one('[role="alert"]').text
    assert marks(school["past"]) == {}


def test_a_future_session_says_when_and_refuses_a_post(web, login_as, school):
    login_as(school["mentor"])
    future = school["future"]
    section = web.get(f"/sessions/{future.id}").html.select_one(f"#register-{future.id}")
    assert "the register can be taken from" in section.text and not section.select("form")
    response = web.post(
        f"/attendance/sessions/{future.id}/register/take",
        {"all_present": "1"},
        headers=PARTIAL | {"X-CSRFToken": token(web)},
        status=409,
    )
    assert "has not started yet" in response.text
    assert marks(future) == {}


def test_a_cancelled_session_has_no_register(web, login_as, school):
    school["past"].status = OccurrenceStatus.CANCELLED
    db.session.commit()
    login_as(school["mentor"])
    section = web.get(f"/sessions/{school['past'].id}").html.select_one(".register")
    assert "cancelled: it has no register" in section.text and not section.select("form")


def test_a_correction_is_listed_with_who_and_when(web, login_as, school):
    past, bob = school["past"], school["students"][1]
    take_register(past, [MarkInput(bob.id, "absent")], actor=school["mentor"], tz=PARIS)
    db.session.commit()
    coordinator = login_as("coordinator")
    form_url = f"/attendance/sessions/{past.id}/register/take"
    form = web.get(form_url).forms[f"register-form-{past.id}"]
    assert form[f"status-{bob.id}"].value == "absent"
    form[f"status-{bob.id}"] = "excused"
    form[f"reason-{bob.id}"] = "Doctor"
    response = form.submit(headers=PARTIAL | {"X-CSRFToken": token(web)})
    assert "Register corrected: 1 mark changed." in response.text
    history = response.html.select_one(".register-history")
    assert "Corrections (1)" in history.text
    assert f"{coordinator.name}:" in history.text and "Bob Bee, Absent → Excused: Doctor" in (
        " ".join(history.text.split())
    )
    assert db.session.scalar(select(AttendanceChange.changed_by_id)) == coordinator.id


# --- Without JavaScript -------------------------------------------------------------------------


def test_without_javascript_the_form_has_its_page_and_redirects_back(web, login_as, school):
    login_as(school["mentor"])
    past, bob = school["past"], school["students"][1]
    page = web.get(f"/sessions/{past.id}")
    link = page.html.select_one(f"#register-{past.id} a[role=button]")
    assert link["href"] == f"/attendance/sessions/{past.id}/register/take"
    form_page = web.get(link["href"])
    assert "<html" in form_page.text
    form = form_page.forms[f"register-form-{past.id}"]
    form[f"status-{bob.id}"] = "absent"
    response = form.submit()
    assert response.status_int == 302
    assert response.headers["Location"].endswith(f"/sessions/{past.id}#register-{past.id}")
    assert "Register taken: 2 present, 1 absent." in response.follow().text
    # A mistake: the page again, 422, the message next to the student.
    form = web.get(link["href"]).forms[f"register-form-{past.id}"]
    form[f"status-{bob.id}"] = "late"
    form[f"late-{bob.id}"] = "x"
    refused = form.submit(status=422)
    assert "<html" in refused.text
    assert "whole number" in refused.html.select_one(f"#register-line-{bob.id}-error").text


def test_the_page_carries_nothing_the_csp_blocks(web, login_as, school):
    login_as(school["mentor"])
    for url in (f"/sessions/{school['past'].id}",
                f"/attendance/sessions/{school['past'].id}/register/take"):  # fmt: skip
        assert scan(web.get(url)).problems == [], url


# --- The dashboard card -------------------------------------------------------------------------


def test_the_mentors_card_takes_the_register_in_place(web, login_as, school):
    login_as(school["mentor"])
    past = school["past"]
    cards = web.get("/dashboard/past")
    card = cards.html.select_one(f"#session-dashboard-{past.id}")
    section = card.select_one(f"#dashboard-register-{past.id} #register-{past.id}")
    assert "Not taken yet" in section.text
    assert section.select_one("form")["hx-post"] == f"/attendance/sessions/{past.id}/register/take"
    # The future session's card has no register yet.
    assert not cards.html.select_one(f"#register-{school['future'].id}")
    response = web.post(
        f"/attendance/sessions/{past.id}/register/take",
        {"all_present": "1"},
        headers=PARTIAL | {"X-CSRFToken": token(web)},
    )
    assert response.html.find(True)["id"] == f"register-{past.id}"
    card = web.get("/dashboard/past").html.select_one(f"#session-dashboard-{past.id}")
    assert "3 present" in card.select_one("[data-register='taken']").text


def test_the_past_tab_reads_the_registers_of_its_cards_in_one_query(
    web, login_as, school, make_session
):
    for days in range(3, 13):
        make_session(school["group"], at(TODAY - timedelta(days=days), time(10)))
    login_as(school["mentor"])
    web.get("/dashboard/past")
    with counted_statements() as statements:
        web.get("/dashboard/past")
    register_queries = [s for s in statements if "attendance_mark" in s]
    assert len(register_queries) == 1


# --- Students -----------------------------------------------------------------------------------


def test_a_student_sees_only_their_own_attendance(web, login_as, school):
    past, (alice, bob, _carol) = school["past"], school["students"]
    take_register(past, [MarkInput(bob.id, "late", 7)], actor=school["mentor"], tz=PARIS)
    db.session.commit()
    login_as(bob)
    section = web.get(f"/sessions/{past.id}").html.select_one(f"#register-{past.id}")
    assert "Your attendance: Late (7 min)" in " ".join(section.text.split())
    assert "Alice" not in section.text and not section.select("form")
    mine = web.get("/attendance/mine")
    assert "Late (7 min)" in mine.html.select_one(f"#my-mark-{past.id}").text
    assert "Alice" not in mine.text
    assert mine.html.select_one("#my-groups [data-rate]")["data-rate"] == "100.0"
    web.get(f"/attendance/sessions/{past.id}/register/take", status=403)
    web.reset()
    login_as(alice)
    fragment = web.get(f"/attendance/sessions/{past.id}/register", headers=PARTIAL)
    assert "Your attendance: Present" in " ".join(fragment.html.text.split())
    assert "Bob" not in fragment.text


# --- Report -------------------------------------------------------------------------------------


def test_the_report_shows_rates_and_students_below_the_threshold_and_its_csv(web, login_as, school):
    past, (_alice, bob, carol) = school["past"], school["students"]
    take_register(
        past,
        [MarkInput(bob.id, "absent"), MarkInput(carol.id, "excused", None, "Trip")],
        actor=school["mentor"],
        tz=PARIS,
    )
    db.session.commit()
    login_as("coordinator")
    page = web.get("/attendance/")
    below = page.html.select_one("#below-list")
    assert [a.text for a in below.select("a")] == ["Bob Bee"]
    rates = {
        row.th.contents[0].strip(): row.select_one("[data-rate]")["data-rate"]
        for row in page.html.select("#by-student tbody tr")
    }
    assert rates == {"Alice Ant": "100.0", "Bob Bee": "0.0", "Carol Cat": ""}
    assert "50.0%" in page.html.select_one(f"#by-group-{school['group'].id}").text
    csv_link = page.html.select_one("#attendance-results a[download]")["href"]
    exported = web.get(csv_link)
    assert exported.content_type == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert [(r["student"], r["rate_percent"], r["below_threshold"]) for r in rows] == [
        ("Alice Ant", "100.0", "no"),
        ("Bob Bee", "0.0", "yes"),
        ("Carol Cat", "", "no"),
    ]
    # Filters by group (typed), student (id) and dates; the CSV follows them.
    narrowed = web.get(f"/attendance/?student={bob.id}&threshold=0")
    assert [r.th.contents[0].strip() for r in narrowed.html.select("#by-student tbody tr")] == [
        "Bob Bee"
    ]
    assert "Nobody is below 0%" in narrowed.text
    typed = web.get("/attendance/?group_q=Maths+7A&student_q=")
    assert typed.status_int == 303 and f"group={school['group'].id}" in typed.headers["Location"]
    later = (TODAY + timedelta(days=1)).isoformat()
    empty = web.get(f"/attendance/?start={later}")
    assert "No register taken for these filters." in empty.text
    assert "0 registers taken" in empty.text


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("start=2026-02-30", "start", "YYYY-MM-DD"),
        ("start=0001-01-01", "start", "between 2000 and 2100"),
        ("start=2027-03-10&end=2027-03-01", "end", "must not be before"),
        ("threshold=101", "threshold", "from 0 to 100"),
        ("threshold=-1", "threshold", "from 0 to 100"),
    ],
)
def test_bad_report_filters_are_named_next_to_their_field(web, login_as, school, query, field,
                                                          message):  # fmt: skip
    login_as("coordinator")
    page = web.get(f"/attendance/?{query}", status=422)
    assert message in page.html.select_one(f"#attendance-{field}-error").text
    refused = web.get(f"/attendance/report.csv?{query}", status=422)
    assert message in refused.text


def test_monitoring_flags_a_completed_session_without_a_register(web, login_as, school):
    past = school["past"]
    past.status = OccurrenceStatus.COMPLETED
    db.session.commit()
    login_as("coordinator")
    row = web.get("/tracking/").html.select_one(f"#unregistered-{past.id}")
    assert "Maths 7A" in row.text and row.a["href"].endswith(f"#register-{past.id}")
    take_register(past, [], actor=school["mentor"], tz=PARIS)
    db.session.commit()
    page = web.get("/tracking/")
    assert not page.html.select_one(f"#unregistered-{past.id}")
    assert "Every completed session has its register." in page.text


# --- Command line -------------------------------------------------------------------------------


def test_export_attendance_writes_the_reports_csv_with_its_filters(cli, school, tmp_path):
    past, (_alice, bob, _carol) = school["past"], school["students"]
    take_register(past, [MarkInput(bob.id, "absent")], actor=school["mentor"], tz=PARIS)
    db.session.commit()
    out = tmp_path / "attendance.csv"
    result = cli("export-attendance", str(out), "--group", "Maths 7A", "--threshold", "95")
    assert result.exit_code == 0, result.output
    assert "Exported the attendance of 3 students (1 registers, 1 below 95%)" in result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text("utf-8").lstrip("\ufeff"))))
    assert [(r["student"], r["absent"], r["below_threshold"]) for r in rows] == [
        ("Alice Ant", "0", "no"),
        ("Bob Bee", "1", "yes"),
        ("Carol Cat", "0", "no"),
    ]
    only_bob = cli("export-attendance", "-", "--student", bob.email.upper())
    assert only_bob.exit_code == 0
    assert [line.split(",")[0] for line in only_bob.output.splitlines()[1:]] == ["Bob Bee"]
    later = (TODAY + timedelta(days=1)).isoformat()
    empty = cli("export-attendance", "-", "--start", later)
    assert empty.output.splitlines()[1:] == []


def test_students_and_staff_find_their_attendance_pages(web, login_as, school):
    login_as(school["students"][0])
    assert web.get("/dashboard/").html.select_one('a[href="/attendance/mine"]')
    web.reset()
    login_as("coordinator")
    assert web.get("/tracking/").html.select_one('a[href="/attendance/"]')
    assert web.get("/attendance/mine").headers["Location"].endswith("/attendance/")
