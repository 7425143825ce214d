"""The Generate and Exceptions pages in Chromium: fragments swap in place, errors show where
the user is looking, and a request without its CSRF token is refused visibly."""

from __future__ import annotations

import re
from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import func, select

from models import DateOverride, Occurrence, OccurrenceStatus, db
from services.timetable.exceptions import OverrideChange, find_occurrence, save_override
from services.timetable.generation import generate_occurrences, resolve_window
from tests.browser.helpers import pick, screenshot
from tests.conftest import PINNED_TODAY

PARIS = ZoneInfo("Europe/Paris")  # the test app's TIMEZONE
# A Monday well ahead, so that no session is in the past (started sessions are protected).
TERM = PINNED_TODAY - timedelta(days=PINNED_TODAY.weekday()) + timedelta(weeks=4)
WED = TERM + timedelta(days=2)
NEXT_MON = TERM + timedelta(weeks=1)


def occurrence_count() -> int:
    return db.session.scalar(select(func.count(Occurrence.id)))


def field(row: Locator, name: str) -> Locator:
    """An input of the inline editor by its name (the add form, closed on the same page, has
    fields of the same names and labels)."""
    return row.locator(f"[name={name}]")


def mark_window(page: Page) -> None:
    """A property on `window` survives fragment swaps and disappears on any page load."""
    page.evaluate("window.notReloaded = true")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.notReloaded === true"), "the page was reloaded"


@pytest.fixture
def exceptions(make_series):
    """A generated Mon/Wed series with two cancellations: its first Wednesday and next Monday."""
    series = make_series(weekdays=(0, 2), start=time(10), end=time(11), first_date=TERM)
    first, end = resolve_window(TERM, weeks=2)
    generate_occurrences(first, end, tz=PARIS)
    saved = [
        save_override(series, day, OverrideChange(cancelled=True), actor=None, tz=PARIS)[0]
        for day in (WED, NEXT_MON)
    ]
    db.session.commit()
    return series, saved[0].id, saved[1].id


def test_preview_swaps_the_summary_in_place_and_generate_writes(page, log_in, make_series):
    make_series(weekdays=(0, 2), first_date=TERM)
    log_in("coordinator")
    page.get_by_role("link", name="Generate").click()
    expect(page.get_by_role("heading", name="Generate sessions")).to_be_visible()
    mark_window(page)

    page.get_by_label("First date").fill(TERM.isoformat())
    page.get_by_label("Weeks", exact=True).fill("2")
    page.get_by_role("button", name="Preview").click()

    summary = page.locator("#generation-summary")
    expect(summary).to_contain_text("Preview (nothing written)")
    expect(summary.locator("[data-count=created]")).to_have_text("4")
    assert_not_reloaded(page)
    assert occurrence_count() == 0

    # The swapped-in panel keeps what was typed; Generate writes this time.
    expect(page.get_by_label("Weeks", exact=True)).to_have_value("2")
    page.get_by_role("button", name="Generate", exact=True).click()
    expect(summary).to_contain_text("Generated")
    expect(summary).not_to_contain_text("nothing written")
    expect(summary.locator("[data-count=created]")).to_have_text("4")
    assert_not_reloaded(page)
    assert occurrence_count() == 4


def test_inline_edit_swaps_only_that_row(page, log_in, make_room, exceptions):
    series, edited_id, other_id = exceptions
    make_room("Lab 7")
    log_in("coordinator")
    page.get_by_role("link", name="Exceptions").click()
    expect(page.get_by_role("heading", name="Exceptions")).to_be_visible()
    mark_window(page)
    page.evaluate(
        "ids => ids.forEach(id => { document.getElementById(id).probe = true; })",
        [f"exception-{edited_id}", f"exception-{other_id}"],
    )

    row = page.locator(f"#exception-{edited_id}")
    row.get_by_role("button", name="Edit").click()
    expect(row.get_by_role("button", name="Save")).to_be_visible()
    row.get_by_label("Move this date").check()
    field(row, "start_time").fill("14:00")
    field(row, "end_time").fill("15:30")
    pick(field(row, "room_q"), "lab 7", "Lab 7")  # typed, with suggestions
    field(row, "notes").fill("Lab day")
    row.get_by_role("button", name="Save").click()

    expect(row.get_by_text("Moved")).to_be_visible()
    expect(row).to_contain_text("14:00\u201315:30 in Lab 7")
    expect(row).to_contain_text("Lab day")
    expect(row.get_by_role("button", name="Edit")).to_be_visible()
    assert_not_reloaded(page)
    # The edited row is a new element; the other row is the very same one, untouched.
    probes = page.evaluate(
        "ids => ids.map(id => document.getElementById(id).probe === true)",
        [f"exception-{edited_id}", f"exception-{other_id}"],
    )
    assert probes == [False, True]
    expect(page.locator(f"#exception-{other_id}").get_by_text("Cancelled")).to_be_visible()

    moved = find_occurrence(series.id, WED)
    assert moved.status == OccurrenceStatus.SCHEDULED
    start = moved.start_utc.astimezone(PARIS)
    assert (start.date(), start.time()) == (WED, time(14))
    assert moved.room.name == "Lab 7"


def test_a_validation_error_shows_in_the_editor_keeping_the_input_and_cancel_restores(
    page, log_in, console, exceptions
):
    _, edited_id, _ = exceptions
    console.allow_http_error(422)
    log_in("coordinator")
    page.goto("/timetable/exceptions")
    mark_window(page)

    row = page.locator(f"#exception-{edited_id}")
    row.get_by_role("button", name="Edit").click()
    row.get_by_label("Move this date").check()
    field(row, "start_time").fill("15:00")
    field(row, "end_time").fill("14:00")
    field(row, "notes").fill("Typed, not lost")
    row.get_by_role("button", name="Save").click()

    refused = "The end (14:00) must be after the start (15:00), or at most 12 hours later"
    expect(row.get_by_text(refused)).to_be_visible()
    expect(row.get_by_label("Move this date")).to_be_checked()
    expect(field(row, "start_time")).to_have_value("15:00")
    expect(field(row, "end_time")).to_have_value("14:00")
    expect(field(row, "notes")).to_have_value("Typed, not lost")
    assert_not_reloaded(page)
    screenshot(page, "exceptions-inline-editor-validation-error")

    row.get_by_role("button", name="Cancel").click()
    expect(row.get_by_role("button", name="Edit")).to_be_visible()
    expect(row.get_by_text("Cancelled")).to_be_visible()
    expect(row.get_by_role("button", name="Save")).to_have_count(0)
    assert_not_reloaded(page)
    override = db.session.get(DateOverride, edited_id)
    assert override.cancelled and override.notes == ""


def test_a_save_without_the_csrf_token_is_refused_with_a_visible_error(
    page, log_in, console, exceptions
):
    series, edited_id, _ = exceptions
    console.allow_http_error(400)
    log_in("coordinator")
    page.goto("/timetable/exceptions")
    row = page.locator(f"#exception-{edited_id}")
    row.get_by_role("button", name="Edit").click()
    row.get_by_label("Move this date").check()
    field(row, "start_time").fill("16:00")

    # htmx sends the token from <body hx-headers:inherited> and the form carries it too:
    # take both away, as a forged cross-site request would lack them.
    page.evaluate(
        """editorId => {
            document.body.removeAttribute("hx-headers:inherited");
            document.querySelectorAll(`#${editorId} input[name=csrf_token]`)
                .forEach(input => input.remove());
        }""",
        f"exception-{edited_id}",
    )
    assert page.evaluate("document.body.hasAttribute('hx-headers:inherited')") is False
    row.get_by_role("button", name="Save").click()

    expect(page.get_by_role("alert")).to_contain_text(re.compile("sent without its security token"))
    occurrence = find_occurrence(series.id, WED)
    assert occurrence.status == OccurrenceStatus.CANCELLED
    assert db.session.get(DateOverride, edited_id).start_time is None


def test_htmx_and_app_js_load_under_the_csp_and_inline_code_is_caught(page, log_in, console):
    """The guard itself: the app's scripts run under its CSP, and an inline handler, which the
    CSP blocks, is reported as a console error (so every test here proves there is none)."""
    log_in("coordinator")
    page.get_by_role("link", name="Exceptions").click()
    expect(page.get_by_role("heading", name="Exceptions")).to_be_visible()
    page.wait_for_function("() => typeof window.htmx === 'object'")
    assert console.messages == []

    # Chromium reports the blocked handler as soon as the element is inserted.
    with page.expect_console_message(lambda m: "Content Security Policy" in m.text):
        page.evaluate(
            """() => document.querySelector("main").insertAdjacentHTML("beforeend",
                '<button type="button" onclick="window.inlineRan = true">Inline</button>')"""
        )
    page.get_by_role("button", name="Inline").click()
    assert page.evaluate("window.inlineRan") is None
    assert any("Content Security Policy" in m for m in console.messages)
    console.messages.clear()  # caught as intended; the test itself passes


def test_inline_editor_fields_are_labelled(page, log_in, exceptions):
    _, edited_id, _ = exceptions
    log_in("coordinator")
    page.goto("/timetable/exceptions")
    row = page.locator(f"#exception-{edited_id}")
    row.get_by_role("button", name="Edit").click()
    expect(row.get_by_role("button", name="Save")).to_be_visible()
    # Each label names the editor's own input (the add form has fields of the same names).
    for label, name in [
        ("Move to date", "new_date"),
        ("New start", "start_time"),
        ("New end", "end_time"),
        ("New room", "room_q"),  # typed, with suggestions
        ("Notes", "notes"),
    ]:
        expect(row.get_by_label(label)).to_have_attribute("name", name)
        assert field(row, name).evaluate("el => el.labels.length") == 1
