"""A coordinator covers an absent mentor's session on the cover board in Chromium on a 390 px
phone (assigned in place, the row and the open count kept current without a reload), and a
make-up day is previewed then applied; screenshots at 390 and 1366 px are kept in
test-artifacts/ (cover-*.png)."""

from __future__ import annotations

from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from models import db
from services.cover import AbsenceData, record_absence
from services.timetable.generation import generate_occurrences
from tests.browser.helpers import screenshot
from tests.conftest import PINNED_TODAY

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
PARIS = ZoneInfo("Europe/Paris")
MONDAY = PINNED_TODAY + timedelta(days=7 - PINNED_TODAY.weekday())


@pytest.fixture
def away_school(make_user, make_group, make_series):
    ada = make_user("mentor", name="Ada Lovelace")
    dee = make_user("mentor", name="Dee Okonkwo-Featherstone")
    maths = make_group("Maths 7A", mentor=ada, subject="Maths")
    make_series(maths, weekdays=(0,), start=time(9), end=time(10), first_date=MONDAY)
    make_series(make_group("Maths 9C", mentor=dee, subject=maths.subject),
                weekdays=(1,), first_date=MONDAY)  # fmt: skip
    generate_occurrences(MONDAY, MONDAY + timedelta(weeks=1), tz=PARIS)
    record_absence(AbsenceData(ada.id, MONDAY, reason="Ill"), actor=None, tz=PARIS)
    db.session.commit()
    return {"ada": ada, "dee": dee}


def sideways_scroll(page) -> int:
    return page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def test_a_coordinator_covers_a_session_in_place_on_a_phone(page, log_in, away_school, make_user):
    page.set_viewport_size(PHONE)
    log_in(make_user("coordinator", name="Cora Coordinator"))
    page.goto(f"/cover/?date={MONDAY.isoformat()}")
    page.evaluate("window.notReloaded = true")
    expect(page.locator("#open-count")).to_have_text("1")
    row = page.locator("#cover-needs tbody tr").first
    expect(row).to_contain_text("Open")
    assert sideways_scroll(page) <= 0
    screenshot(page, "cover-390-board-open")
    row.get_by_role("button", name="Assign").click()
    expect(row).to_contain_text("Covered")
    expect(row).to_contain_text("by Dee Okonkwo-Featherstone")
    assert page.evaluate("window.notReloaded === true"), "the board was reloaded"
    assert sideways_scroll(page) <= 0
    screenshot(page, "cover-390-board-covered")
    page.set_viewport_size(DESKTOP)
    page.reload()
    expect(page.locator("#open-count")).to_have_text("0")
    screenshot(page, "cover-1366-board")


def test_a_make_up_day_is_previewed_then_applied(page, log_in, away_school, make_user):
    page.set_viewport_size(PHONE)
    log_in(make_user("coordinator", name="Cora Coordinator"))
    page.goto("/timetable/day-changes")
    page.get_by_label("Run another day's timetable on it (a make-up day)").check()
    page.get_by_label("Day", exact=True).fill((MONDAY + timedelta(days=2)).isoformat())
    page.get_by_label("Runs the timetable of").fill(MONDAY.isoformat())
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview-made")).to_contain_text("Maths 7A")
    assert sideways_scroll(page) <= 0
    screenshot(page, "cover-390-make-up-preview")
    page.get_by_role("button", name="Apply and tell the people concerned").click()
    expect(page.locator("main")).to_contain_text("1 session of its timetable on")
    screenshot(page, "cover-390-make-up-day")
