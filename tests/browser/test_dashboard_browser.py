"""Dashboards in Chromium: a card's badge follows a completion made from the card itself, and
the filters fold behind a "Filters" disclosure on a phone while a wide screen shows them.

The sessions are placed on whole local dates away from today (yesterday 10:00-11:00, the day
after tomorrow), so neither the hour the suite runs at nor midnight changes what is shown."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import time_machine
from playwright.sync_api import expect

from models import Occurrence, OccurrenceStatus, db
from tests.browser.helpers import screenshot

PARIS = ZoneInfo("Europe/Paris")  # the test app's TIMEZONE


def _session_on(group, days_from_today: int, start=time(10), end=time(11)) -> Occurrence:
    day = datetime.now(PARIS).date() + timedelta(days=days_from_today)
    occurrence = Occurrence(
        group_id=group.id,
        start_utc=datetime.combine(day, start, tzinfo=PARIS).astimezone(UTC),
        end_utc=datetime.combine(day, end, tzinfo=PARIS).astimezone(UTC),
        room_id=group.default_room_id,
    )
    db.session.add(occurrence)
    db.session.commit()
    return occurrence


def test_completing_from_a_card_turns_its_badge_to_completed_at_once(
    page, log_in, make_user, make_group
):
    mentor = make_user("mentor", name="Ada Lovelace")
    group = make_group("Maths 9B", mentor=mentor, students=[make_user("student")])
    session_id = _session_on(group, -1).id  # ended yesterday, not completed: under Past
    log_in(mentor)
    page.wait_for_load_state("load")  # the landing page's scripts have run
    page.goto("/dashboard/past")
    page.evaluate("window.notReloaded = true")
    card = page.locator(f"#session-dashboard-{session_id}")
    badge = card.locator("header [data-status]")
    expect(badge).to_have_text("Scheduled")

    card.get_by_role("button", name="Complete…").click()
    card.get_by_role("button", name="Complete the session").click()
    expect(card.locator("[data-field=code]")).to_have_text(re.compile(r"^MATHS9B-"))
    expect(badge).to_have_text("Completed")
    expect(badge).to_have_attribute("data-status", "completed")
    assert page.evaluate("window.notReloaded === true"), "the dashboard was reloaded"
    db.session.expire_all()
    assert db.session.get(Occurrence, session_id).status == OccurrenceStatus.COMPLETED
    # A reload agrees with what the card said.
    page.reload()
    expect(page.locator(f"#session-dashboard-{session_id} header [data-status]")).to_have_text(
        "Completed"
    )


def test_filters_fold_behind_a_disclosure_on_a_phone_and_show_on_a_wide_screen(
    page, log_in, make_user, make_group
):
    student = make_user("student", name="Noah Bernard")
    group = make_group("Maths 9B", students=[student])
    _session_on(group, 2)
    log_in(student)
    page.wait_for_load_state("load")  # the landing page's scripts have run
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/dashboard/")
    filters = page.get_by_role("search", name="Filter upcoming")
    summary = page.locator("#dashboard-filters-box-upcoming > summary")
    expect(summary).to_have_text("Filters")
    expect(filters.get_by_label("Group")).to_be_hidden()
    expect(page.locator("#dashboard-sessions")).to_contain_text("Maths 9B")
    screenshot(page, "dashboard-phone-filters-folded")
    summary.click()
    expect(filters.get_by_label("Group")).to_be_visible()
    screenshot(page, "dashboard-phone-filters-open")

    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto("/dashboard/")
    expect(summary).to_be_hidden()
    expect(page.get_by_role("search", name="Filter upcoming").get_by_label("Group")).to_be_visible()
    # Filters that are on open the disclosure on a phone too.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/dashboard/?group={group.id}")
    expect(page.get_by_role("search", name="Filter upcoming").get_by_label("Group")).to_be_visible()


def test_the_minute_refresh_waits_while_a_card_s_completion_form_is_open(
    page, log_in, make_user, make_group
):
    """The session ends while its mentor fills in the completion form on Upcoming: the list's
    refresh waits (it would drop the card, now past), and completing still works."""
    mentor = make_user("mentor", name="Ada Lovelace")
    group = make_group("Maths 9B", mentor=mentor, students=[make_user("student")])
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    occurrence = Occurrence(
        group_id=group.id,
        start_utc=now - timedelta(minutes=50),
        end_utc=now + timedelta(minutes=2),
        room_id=group.default_room_id,
    )
    db.session.add(occurrence)
    db.session.commit()
    session_id = occurrence.id
    log_in(mentor)
    page.wait_for_load_state("load")  # the landing page's scripts have run
    page.clock.install()
    page.goto("/dashboard/")
    card = page.locator(f"#session-dashboard-{session_id}")
    expect(card.locator("header [data-status]")).to_have_text("Ongoing")
    card.get_by_role("button", name="Complete…").click()
    form = page.locator(f"#completion-form-{session_id}")
    form.get_by_label("Session notes (what was covered)").fill("Fractions.")

    # Three minutes later the session has ended (on the server too) and the poll is due.
    with time_machine.travel(now + timedelta(minutes=3), tick=True):
        page.clock.fast_forward("03:00")
        page.wait_for_timeout(500)  # time for a refresh to arrive, if one were sent
        expect(form.get_by_label("Session notes (what was covered)")).to_have_value("Fractions.")
        form.get_by_role("button", name="Complete the session").click()
        expect(card.locator("header [data-status]")).to_have_text("Completed")
    # With no form open, the next refresh runs: the ended session leaves Upcoming.
    with time_machine.travel(now + timedelta(minutes=5), tick=True):
        page.clock.fast_forward("01:01")
        expect(card).to_have_count(0)
