"""The cover pages: staff record an absence and assign substitutes in place on the day's cover
board (or without JavaScript); a mentor reports their own absence; bad input is named next
to its field and changes nothing."""

from __future__ import annotations

from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from models import MentorAbsence, Occurrence, db
from services.cover import AbsenceData, record_absence
from services.timetable.generation import generate_occurrences
from tests.conftest import PINNED_TODAY, csrf_token_of

pytestmark = pytest.mark.usefixtures("clock")

PARIS = ZoneInfo("Europe/Paris")
MONDAY = PINNED_TODAY + timedelta(days=7 - PINNED_TODAY.weekday())


@pytest.fixture
def school(app, make_user, make_group, make_series):
    ada = make_user("mentor", name="Ada Away")
    dee = make_user("mentor", name="Dee Free")
    maths = make_group("Maths 7A", mentor=ada, subject="Maths")
    make_series(maths, weekdays=(0,), start=time(9), end=time(10), first_date=MONDAY)
    make_series(make_group("Maths 9C", mentor=dee, subject=maths.subject),
                weekdays=(1,), first_date=MONDAY)  # fmt: skip
    generate_occurrences(MONDAY, MONDAY + timedelta(weeks=1), tz=PARIS)
    db.session.commit()
    return ada, dee, maths


def the_session(group) -> Occurrence:
    db.session.expire_all()
    return db.session.scalars(
        select(Occurrence).where(Occurrence.group_id == group.id).order_by(Occurrence.start_utc)
    ).first()


def test_staff_record_an_absence_and_cover_it_from_the_board_in_place(web, login_as, school):
    ada, dee, maths = school
    login_as("coordinator")
    form = web.get("/cover/absences").forms["absence-form"]
    form["mentor"] = str(ada.id)
    form["first_day"] = MONDAY.isoformat()
    form["reason"] = "Training"
    page = form.submit().follow()
    assert f"Ada Away: away {MONDAY:%a %d %b %Y}." in page.text
    assert page.html.find(id="open-count").text == "1"

    board = web.get(f"/cover/?date={MONDAY.isoformat()}")
    row = board.html.find(id=f"need-{the_session(maths).id}")
    options = [o.text for o in row.select("select[name=mentor] option")]
    assert options == ["Dee Free · teaches Maths · 1 this week"]
    htmx = {"HX-Request": "true", "X-CSRFToken": csrf_token_of(board)}
    answer = web.post(
        f"/cover/sessions/{the_session(maths).id}/assign",
        {"mentor": str(dee.id), "back": f"/cover/?date={MONDAY}"},
        headers=htmx,
    )
    assert "Covered" in answer.html.find("tr").text and "Dee Free" in answer.html.find("tr").text
    assert "Maths 7A: taught by Dee Free (cover)." in answer.headers["HX-Trigger"]
    assert the_session(maths).cover_mentor_id == dee.id
    again = web.get(f"/cover/?date={MONDAY.isoformat()}")
    assert again.html.find(id="open-count").text == "0"


def test_without_javascript_cover_is_assigned_and_a_session_cancelled(web, login_as, school):
    ada, _, maths = school
    login_as("coordinator")
    form = web.get("/cover/absences").forms["absence-form"]
    form["mentor"], form["first_day"] = str(ada.id), MONDAY.isoformat()
    absence_page = form.submit().follow()
    (assign_form,) = [f for f in absence_page.forms.values() if f.action.endswith("/assign")]
    back = assign_form.submit().follow()
    assert "Maths 7A: taught by Dee Free (cover)." in back.text
    (remove_cover,) = [f for f in back.forms.values() if f.action.endswith("/assign")]
    remove_cover.submit().follow()
    assert the_session(maths).cover_mentor_id is None
    (cancel,) = [
        f for f in web.get(back.request.url).forms.values() if f.action.endswith("/cancel")
    ]
    done = cancel.submit().follow()
    assert "Maths 7A cancelled: Ada Away is away." in done.text
    assert str(the_session(maths).status) == "cancelled"


def test_a_mentor_reports_an_absence_staff_confirm_it(web, login_as, school):
    ada, _, _ = school
    login_as(ada)
    form = web.get("/cover/mine").forms["absence-form"]
    form["first_day"] = MONDAY.isoformat()
    form["start_time"], form["end_time"] = "08:00", "12:00"
    page = form.submit().follow()
    assert f"Absence reported ({MONDAY:%a %d %b %Y} 08:00-12:00)" in page.text
    assert "Pending" in page.html.find(class_="absences-table").text
    web.get("/auth/logout", expect_errors=True)
    web.reset()
    login_as("coordinator")
    listed = web.get("/cover/absences")
    (decide,) = [f for f in listed.forms.values() if f.action.endswith("/decision")]
    confirmed = decide.submit("decision", value="confirm").follow()
    assert "Ada Away's absence confirmed: its sessions need cover." in confirmed.html.text


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"first_day": ""}, "first_day", "Enter the first day (YYYY-MM-DD)."),
        ({"last_day": "PREVIOUS"}, "last_day", "The last day cannot be before the first day."),
        ({"start_time": "09:00"}, "end_time", "Give both times for part of a day"),
        ({"mentor": "0"}, "mentor", "Choose a mentor."),
        ({"reason": "x" * 201}, "reason", "Field cannot be longer than 200 characters."),
    ],
)
def test_bad_absences_are_named_next_to_their_field(web, login_as, school, fields, field, message):
    ada, _, _ = school
    login_as("coordinator")
    form = web.get("/cover/absences").forms["absence-form"]
    form["mentor"], form["first_day"] = str(ada.id), MONDAY.isoformat()
    for name, value in fields.items():
        form[name] = (MONDAY - timedelta(days=1)).isoformat() if value == "PREVIOUS" else value
    answer = form.submit(status=422)
    assert message in answer.html.find(id=f"{field}-error").text
    assert db.session.scalar(select(func.count()).select_from(MentorAbsence)) == 0


def test_absences_download_as_csv(web, login_as, school):
    ada, _, _ = school
    login_as("coordinator")
    form = web.get("/cover/absences").forms["absence-form"]
    form["mentor"], form["first_day"], form["reason"] = str(ada.id), MONDAY.isoformat(), "=cmd"
    form.submit()
    csv = web.get("/cover/absences.csv")
    assert csv.content_type == "text/csv"
    lines = csv.text.splitlines()
    assert lines[0] == "mentor,email,first_day,last_day,start,end,status,reason"
    assert lines[1].startswith(f"Ada Away,{ada.email},{MONDAY},{MONDAY},,,confirmed,'=cmd")


def test_staff_change_an_absence_and_bad_days_change_nothing(web, login_as, school):
    ada, _, _ = school
    login_as("coordinator")
    form = web.get("/cover/absences").forms["absence-form"]
    form["mentor"], form["first_day"] = str(ada.id), MONDAY.isoformat()
    form.submit()
    absence_id = db.session.scalar(select(MentorAbsence.id))
    edit = web.get(f"/cover/absences/{absence_id}/edit").forms["absence-edit-form"]
    assert (edit["first_day"].value, edit["last_day"].value) == (MONDAY.isoformat(),) * 2
    edit["last_day"] = (MONDAY - timedelta(days=3)).isoformat()
    refused = edit.submit(status=422)
    assert "The last day cannot be before" in refused.html.find(id="last_day-error").text
    edit = refused.forms["absence-edit-form"]
    edit["last_day"] = (MONDAY + timedelta(days=1)).isoformat()
    saved = edit.submit().follow()
    assert f"Ada Away: away {MONDAY:%a %d %b} to" in saved.text
    db.session.expire_all()
    assert db.session.get(MentorAbsence, absence_id).all_day


def test_a_substitute_who_teaches_then_is_refused_in_the_row(web, login_as, school, make_group):
    ada, dee, maths = school
    record_absence(AbsenceData(ada.id, MONDAY), actor=None, tz=PARIS)
    busy = make_group("Art", mentor=dee)
    start = the_session(maths).start_utc
    db.session.add(
        Occurrence(group_id=busy.id, start_utc=start, end_utc=start + timedelta(hours=1))
    )
    db.session.commit()
    login_as("coordinator")
    board = web.get(f"/cover/?date={MONDAY.isoformat()}")
    htmx = {"HX-Request": "true", "X-CSRFToken": csrf_token_of(board)}
    answer = web.post(
        f"/cover/sessions/{the_session(maths).id}/assign", {"mentor": str(dee.id)},
        headers=htmx, status=409,
    )  # fmt: skip
    error = answer.html.find(id=f"need-{the_session(maths).id}-error")
    assert error.text.startswith("Dee Free already teaches Art")
    assert the_session(maths).cover_mentor_id is None
