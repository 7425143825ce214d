"""Choosing by typing in Chromium beyond the schedule: the monitoring filters, the one-time
session form, a session's edit form and the exceptions page suggest as you type, pick with a
click or the keyboard, and show the chosen one (removable where it is a filter), at a phone's
width and a desktop's."""

from __future__ import annotations

import re
from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from models import DateOverride, Occurrence, db
from services.timetable.exceptions import find_occurrence
from services.timetable.generation import generate_occurrences, resolve_window
from tests.browser.helpers import pick, screenshot
from tests.conftest import PINNED_TODAY

PARIS = ZoneInfo("Europe/Paris")  # the test app's TIMEZONE
# A Monday ahead, so that every session is in the future (editable).
TERM = PINNED_TODAY - timedelta(days=PINNED_TODAY.weekday()) + timedelta(weeks=4)
WIDTHS = [390, 1366]


@pytest.fixture
def school(make_user, make_room, make_group, make_series):
    """Maths 7A and 7B (Ada), Art 7A (Ben) with two series; rooms R101, Lab 1, Lab 2."""
    ada = make_user("mentor", name="Ada Lovelace", email="ada@school.test")
    ben = make_user("mentor", name="Ben Okri", email="ben@school.test")
    r101, lab1, lab2 = (make_room(n) for n in ("R101", "Lab 1", "Lab 2"))
    maths_a = make_group("Maths 7A", mentor=ada, room=r101)
    maths_b = make_group("Maths 7B", mentor=ada, room=lab1)
    art = make_group("Art 7A", mentor=ben, room=lab2)
    maths_series = make_series(maths_a, weekdays=(0,), start=time(9), end=time(10), first_date=TERM)
    make_series(maths_b, weekdays=(1,), start=time(9), end=time(10), first_date=TERM)
    art_mon = make_series(art, weekdays=(0,), start=time(14), end=time(15), first_date=TERM)
    make_series(art, weekdays=(2,), start=time(14), end=time(15), first_date=TERM)
    first, end = resolve_window(TERM, weeks=2)
    generate_occurrences(first, end, tz=PARIS)
    db.session.commit()
    ids = {
        "ben": ben.id,
        "art": art.id,
        "lab1": lab1.id,
        "art_mon": art_mon.id,
        "maths_monday": find_occurrence(maths_series.id, TERM).id,
    }
    db.session.commit()
    return ids


def at_width(page: Page, width: int) -> None:
    page.wait_for_load_state("load")
    page.set_viewport_size({"width": width, "height": 844 if width < 768 else 900})


def fits(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("width", WIDTHS)
def test_monitoring_filters_by_a_typed_mentor_and_removes_it(page, log_in, console, school, width):
    console.allow_http_error(422)  # the group typed names several: said beside the field
    log_in("coordinator")
    at_width(page, width)
    page.goto("/tracking/?status=any")
    mentor = page.locator("#monitor-filters").get_by_label("Mentor", exact=True)
    expect(mentor).to_have_attribute("role", "combobox")
    mentor.press_sequentially("okri")
    listbox = page.locator("#filter-mentor-list")
    expect(listbox.get_by_role("option")).to_have_text([re.compile(r"^Ben Okri")])
    screenshot(page, f"monitor-suggestions-{width}")
    mentor.press("ArrowDown")
    mentor.press("Enter")  # picks Ben Okri: the lists follow, the URL carries his id
    expect(page).to_have_url(re.compile(rf"mentor={school['ben']}"))
    expect(mentor).to_have_value("Ben Okri")
    remove = page.get_by_role("button", name="Remove the mentor filter (Ben Okri)")
    expect(remove).to_be_visible()
    screenshot(page, f"monitor-chosen-{width}")
    assert fits(page)
    remove.click()
    expect(page).not_to_have_url(re.compile(r"mentor="))
    expect(mentor).to_have_value("")
    # A part that names several: said beside the field, with each to pick.
    group = page.locator("#monitor-filters").get_by_label("Course group", exact=True)
    group.fill("maths")
    group.press("Escape")
    page.locator("#monitor-filters").get_by_role("button", name="Filter").click()
    error = page.locator("#filter-group-error")
    expect(error).to_contain_text("Several groups match 'maths': Maths 7A, Maths 7B.")
    screenshot(page, f"monitor-several-{width}")
    error.get_by_role("link", name="Maths 7B").click()
    expect(group).to_have_value("Maths 7B")


@pytest.mark.parametrize("width", WIDTHS)
def test_a_one_time_session_with_its_group_and_room_picked(page, log_in, school, width):
    log_in("coordinator")
    at_width(page, width)
    page.goto("/sessions/new")
    group = page.get_by_label("Course group", exact=True)
    group.press_sequentially("7b")
    expect(page.locator("#group_q-list").get_by_role("option")).to_have_text(["Maths 7B"])
    screenshot(page, f"session-new-suggestions-{width}")
    page.locator("#group_q-list").get_by_role("option", name="Maths 7B").click()
    expect(group).to_have_value("Maths 7B")
    page.get_by_label("Date").fill((TERM + timedelta(days=3)).isoformat())
    page.get_by_label("Start").fill("16:00")
    page.get_by_label("End").fill("17:00")
    pick(page.get_by_label("Room", exact=True), "r1", "R101")
    assert fits(page)
    page.get_by_role("button", name="Create the session").click()
    expect(page.get_by_text("Session created: Maths 7B")).to_be_visible()
    created = db.session.scalar(select(Occurrence).where(Occurrence.series_id.is_(None)))
    assert created.group.name == "Maths 7B" and created.room.name == "R101"
    db.session.commit()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_session_moved_to_a_typed_room_on_its_edit_page(page, log_in, school, width):
    log_in("coordinator")
    at_width(page, width)
    page.goto(f"/sessions/{school['maths_monday']}/edit")
    room = page.get_by_label("Room", exact=True)
    expect(room).to_have_value("")  # follows the series' room
    room.press_sequentially("lab")
    expect(page.locator("#room_q-list").get_by_role("option")).to_have_text(["Lab 1", "Lab 2"])
    screenshot(page, f"session-edit-suggestions-{width}")
    page.locator("#room_q-list").get_by_role("option", name="Lab 2").click()
    assert fits(page)
    page.get_by_role("button", name=re.compile("^Save")).click()
    expect(page.get_by_text(re.compile(r"Exception saved"))).to_be_visible()
    override = db.session.scalar(select(DateOverride))
    assert override.room.name == "Lab 2"
    db.session.commit()


@pytest.mark.parametrize("width", WIDTHS)
def test_an_exception_added_for_a_picked_series_and_the_list_filtered_by_group(
    page, log_in, school, width
):
    log_in("coordinator")
    at_width(page, width)
    page.goto("/timetable/exceptions")
    page.locator("#add-exception > summary").click()
    series = page.get_by_label("Series", exact=True)
    series.press_sequentially("art")
    options = page.locator("#series_q-list").get_by_role("option")
    expect(options).to_have_text(
        ["Art 7A: Mon 14:00-15:00 (Lab 2)", "Art 7A: Wed 14:00-15:00 (Lab 2)"]
    )
    screenshot(page, f"exceptions-series-suggestions-{width}")
    options.first.click()
    expect(series).to_have_value("Art 7A: Mon 14:00-15:00 (Lab 2)")
    page.locator("#exception-form").get_by_label("Date", exact=True).fill(TERM.isoformat())
    page.locator("#exception-form").get_by_label("Move this date").check()
    page.locator("#exception-form").get_by_label("New start").fill("16:00")
    page.locator("#exception-form").get_by_label("New end").fill("17:00")
    pick(page.locator("#exception-form").get_by_label("New room", exact=True), "lab 1", "Lab 1")
    page.get_by_role("button", name="Save exception").click()
    expect(page.get_by_text("Exception saved for Art 7A")).to_be_visible()
    page.wait_for_load_state("load")  # htmx listens to the new page's fields
    saved = db.session.scalar(select(DateOverride))
    assert saved.series_id == school["art_mon"] and saved.room_id == school["lab1"]
    db.session.commit()
    # The list's group filter: typed, picked, shown with its remove button.
    group = page.locator("#exception-filters").get_by_label("Group", exact=True)
    pick(group, "art", "Art 7A")
    expect(page).to_have_url(re.compile(rf"group={school['art']}"))
    remove = page.get_by_role("button", name="Remove the group filter (Art 7A)")
    expect(remove).to_be_visible()
    expect(page.locator("#exceptions-list")).to_contain_text("Art 7A")
    screenshot(page, f"exceptions-filtered-{width}")
    assert fits(page)
    remove.click()
    expect(page).not_to_have_url(re.compile(r"group="))


@pytest.mark.parametrize("width", WIDTHS)
def test_a_group_made_with_its_mentor_and_room_picked_then_a_series(page, log_in, school, width):
    log_in("coordinator")
    at_width(page, width)
    page.goto("/manage/groups/new")
    page.get_by_label("Name", exact=True).fill("Maths 8A")
    page.get_by_label("Subject").select_option(index=1)
    mentor = page.get_by_label("Mentor", exact=True)
    mentor.press_sequentially("ada@")
    expect(page.locator("#mentor_q-list").get_by_role("option")).to_have_text(
        [re.compile(r"^Ada Lovelace\s+ada@school.test")]
    )
    screenshot(page, f"group-form-suggestions-{width}")
    mentor.press("ArrowDown")
    mentor.press("Enter")
    expect(mentor).to_have_value("Ada Lovelace")
    pick(page.get_by_label("Default room", exact=True), "lab", "Lab 2")
    assert fits(page)
    page.get_by_role("button", name=re.compile("^(Create|Save)")).click()
    expect(page.get_by_text("Maths 8A (group) created.")).to_be_visible()
    page.wait_for_load_state("load")
    page.get_by_role("button", name="Add a series").click()
    room = page.locator("#series-form").get_by_label("Room", exact=True)
    expect(room).to_have_value("Lab 2")  # the group's default room
    room.fill("")
    room.press_sequentially("r1")
    expect(page.locator("#new-room_q-list").get_by_role("option")).to_have_text(["R101"])
    screenshot(page, f"group-series-room-suggestions-{width}")
    assert fits(page)


@pytest.mark.parametrize("width", WIDTHS)
def test_staff_filter_the_requests_by_a_typed_mentor(page, log_in, school, width):
    log_in("coordinator")
    at_width(page, width)
    page.goto("/requests/")
    mentor = page.locator("#requests-filters").get_by_label("Mentor", exact=True)
    mentor.press_sequentially("ben")
    expect(page.locator("#requests-filter-mentor-list").get_by_role("option")).to_have_text(
        [re.compile(r"^Ben Okri")]
    )
    screenshot(page, f"requests-filter-suggestions-{width}")
    mentor.press("ArrowDown")
    mentor.press("Enter")
    expect(page).to_have_url(re.compile(rf"mentor={school['ben']}"))
    remove = page.get_by_role("button", name="Remove the mentor filter (Ben Okri)")
    expect(remove).to_be_visible()
    screenshot(page, f"requests-filter-chosen-{width}")
    assert fits(page)
    remove.click()
    expect(page).not_to_have_url(re.compile(r"mentor="))


@pytest.mark.parametrize("width", WIDTHS)
def test_a_room_feed_added_with_its_room_picked(page, log_in, school, width):
    log_in("coordinator")
    at_width(page, width)
    page.goto("/profile/")
    room = page.locator("#staff-feed-form").get_by_label("Room", exact=True)
    room.press_sequentially("lab")
    expect(page.locator("#room_q-list").get_by_role("option")).to_have_text(["Lab 1", "Lab 2"])
    screenshot(page, f"profile-feed-suggestions-{width}")
    page.locator("#room_q-list").get_by_role("option", name="Lab 1").click()
    assert fits(page)
    page.get_by_role("button", name="Add a room or group feed").click()
    expect(page.get_by_text("Feed added.")).to_be_visible()
    expect(page.get_by_text("Lab 1 (room)")).to_be_visible()
