"""The availability page: a mentor sets their weekly hours, booking rules and dates with hours
of their own; staff set any mentor's; every mistake is shown next to its field and nothing is
saved."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from sqlalchemy import func, select

from models import AvailabilityOverride, BookingRules, db
from services.availability import upcoming_overrides, weekly_hours
from tests.conftest import PINNED_TODAY, csrf_token_of

pytestmark = pytest.mark.usefixtures("pinned_clock")


def fill(form, **values):
    for name, value in values.items():
        form[name] = value
    return form


def test_a_mentor_sets_weekly_hours_and_rules_and_sees_them_again(web, login_as):
    mentor = login_as("mentor")
    page = web.get("/availability/")
    assert page.html.h1.text == "My availability"
    form = fill(page.forms["availability-form"], hours_0="9-12, 14:00\u201317:00",
                hours_2="10:00-11:30", timezone="Europe/Paris", buffer_before_minutes="10",
                minimum_notice_hours="12", max_sessions_per_day="4",
                slot_step_minutes="15")  # fmt: skip
    saved = form.submit().follow()
    assert "Availability saved" in saved.text
    again = saved.forms["availability-form"]
    assert again["hours_0"].value == "09:00-12:00, 14:00-17:00"
    assert again["hours_2"].value == "10:00-11:30"
    assert again["hours_1"].value == ""
    assert again["minimum_notice_hours"].value == "12"
    assert again["slot_step_minutes"].value == "15"
    rules = db.session.get(BookingRules, mentor.id)
    assert (rules.buffer_before_minutes, rules.minimum_notice_minutes) == (10, 720)
    assert (rules.max_sessions_per_day, rules.slot_step_minutes) == (4, 15)


def test_each_mistake_is_shown_next_to_its_field_and_nothing_is_saved(web, login_as):
    mentor = login_as("mentor")
    form = fill(web.get("/availability/").forms["availability-form"],
                hours_0="09:00-12:00", hours_1="14:00-13:00", hours_3="9-11, 10-12",
                timezone="Mars/Olympus", buffer_after_minutes="lots",
                booking_horizon_days="0")  # fmt: skip
    refused = form.submit(status=422)
    error = {e["id"]: e.text for e in refused.html.select(".field-error")}
    assert (
        error["hours_1-error"] == "14:00-13:00: the end must be after the start (within the day)."
    )
    assert error["hours_3-error"] == "09:00-11:00, 10:00-12:00: ranges overlap; make them one."
    assert error["timezone-error"] == "Choose a time zone from the list (like Europe/Paris)."
    assert error["buffer_after_minutes-error"] == "Give a whole number."
    assert "hours_0-error" not in error
    assert refused.forms["availability-form"]["hours_1"].value == "14:00-13:00"  # kept
    assert db.session.get(BookingRules, mentor.id) is None
    assert weekly_hours(mentor.id) == {day: [] for day in range(7)}


def test_a_date_gets_its_own_hours_or_a_day_off_and_goes_back_to_the_week(web, login_as):
    mentor = login_as("mentor")
    page = web.get("/availability/")
    day = PINNED_TODAY + timedelta(days=5)
    off = fill(page.forms["override-form"], day=day.isoformat(), hours="").submit().follow()
    item = off.html.select_one(f"#override-{day.isoformat()}")
    assert item.text.split(":", 1)[1].split("Back")[0].strip() == "day off"
    extra = fill(off.forms["override-form"], day=day.isoformat(), hours="16:00-18:00").submit()
    shown = extra.follow().html.select_one(f"#override-{day.isoformat()}").text
    assert "16:00-18:00" in shown and "day off" not in shown
    rows = db.session.scalar(select(func.count()).select_from(AvailabilityOverride))
    assert rows == 1  # replaced, not added to

    past = fill(
        extra.follow().forms["override-form"], day=(PINNED_TODAY - timedelta(days=1)).isoformat()
    ).submit(status=422)
    assert past.html.select_one("#day-error").text == "Choose today or a later date."

    token = csrf_token_of(page)
    cleared = web.post("/availability/overrides/clear", {"csrf_token": token, "day": str(day)})
    cleared = cleared.follow()
    assert "follows the weekly hours again" in cleared.text
    assert db.session.scalar(select(func.count()).select_from(AvailabilityOverride)) == 0
    assert upcoming_overrides(mentor.id, PINNED_TODAY) == []


def test_staff_choose_a_mentor_and_set_their_availability(web, login_as, make_user):
    ada = make_user("mentor", name="Ada Lovelace")
    make_user("student", name="Noah Student")
    login_as("coordinator")
    chooser = web.get("/availability/")
    names = [a.text for a in chooser.html.select(".mentor-availability-list a")]
    assert "Ada Lovelace" in names and "Noah Student" not in names
    page = chooser.click("Ada Lovelace")
    assert page.html.h1.text == "Availability of Ada Lovelace"
    saved = fill(page.forms["availability-form"], hours_4="13:00-15:00").submit()
    assert saved.location.endswith(f"/availability/?mentor={ada.id}")
    assert weekly_hours(ada.id)[4] == [(time(13), time(15))]
