"""Live updates in Chromium with htmx 4's hx-sse extension: a change made by someone else
through the app reaches an open page within 2 seconds, without a reload (the bell and its
toast, today's board, the staff week grid's cell); with the stream blocked the bell polls
as before."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from models import db
from services.notifications.inbox import notify
from tests.browser.helpers import login
from tests.conftest import PINNED_TODAY

PARIS = ZoneInfo("Europe/Paris")  # the test app's TIMEZONE
LIVE_MS = 2_000  # "within 2 seconds of someone else's change"
POLL_MS = 15_000  # the bell's fallback poll: every 10 s


def stream_refused(message: str) -> bool:
    """The console errors of a refused stream connection (what a blocking proxy does):
    Chromium's, and htmx's own for the failed request."""
    return "ERR_FAILED" in message or ("Failed to fetch" in message and "live-events" in message)


def wait_until_live(page) -> None:
    expect(page.locator("body[data-live=on]")).to_have_count(1)


def cancel_through_the_app(page, occurrence_id: int, reason: str) -> None:
    page.goto(f"/sessions/{occurrence_id}/cancel")
    page.get_by_label("Reason").fill(reason)
    with page.expect_response(re.compile(rf"/sessions/{occurrence_id}/cancel$")):
        page.get_by_role("button", name="Cancel the session").click()


def test_a_session_cancelled_by_someone_else_reaches_the_bell_and_board_within_2s(
    page, log_in, open_page, make_user, make_group, make_session
):
    student = make_user("student", name="Zoe Petit")
    group = make_group("Maths 7A", students=[student])
    later_today = make_session(group, datetime.combine(PINNED_TODAY, time(15), tzinfo=PARIS))
    coordinator = make_user("coordinator")
    log_in(student)
    page.goto("/sessions/today/")
    expect(page.locator("#today-board")).to_contain_text("Maths 7A")
    bell = page.locator("#notification-bell").get_by_role("link")
    expect(bell).to_have_accessible_name("Notifications: no unread notifications")
    page.evaluate("window.notReloaded = true")
    wait_until_live(page)

    other = open_page()
    login(other, coordinator.email)
    cancel_through_the_app(other, later_today.id, "The mentor is ill")

    expect(bell).to_have_accessible_name("Notifications: 1 unread", timeout=LIVE_MS)
    expect(page.locator("#toasts .toast")).to_contain_text("cancelled", timeout=LIVE_MS)
    expect(page.locator("#today-board")).not_to_contain_text("Maths 7A", timeout=LIVE_MS)
    assert page.evaluate("window.notReloaded === true"), "the page was reloaded"


def test_the_week_grid_redraws_the_cell_someone_else_changed_within_2s(
    page, log_in, open_page, make_user, make_group, make_session
):
    group = make_group("Physics 8B")
    session = make_session(
        group, datetime.combine(PINNED_TODAY + timedelta(days=1), time(10), tzinfo=PARIS)
    )
    watcher = log_in("coordinator")
    page.goto(f"/schedule/?date={PINNED_TODAY}")
    card = page.locator(f"#session-card-{session.id}")
    expect(card).to_contain_text("Physics 8B")
    expect(card.locator(".badge-cancelled")).to_have_count(0)
    page.evaluate("window.notReloaded = true")
    wait_until_live(page)
    assert watcher.is_staff

    other = open_page()
    login(other, make_user("coordinator").email)
    with page.expect_response(re.compile(r"/schedule/live-cells\?")) as cells:
        cancel_through_the_app(other, session.id, "Lab closed")

    expect(card.locator(".badge-cancelled")).to_have_count(1, timeout=LIVE_MS)
    assert f"session={session.id}" in cells.value.url
    assert page.evaluate("window.notReloaded === true"), "the page was reloaded"


def test_the_month_and_a_students_own_timetable_redraw_when_a_session_is_cancelled(
    page, log_in, open_page, make_user, make_group, make_session
):
    """Staff watching the month, and a student watching their own timetable (who hears of
    the change by a notification), see the cancellation without reloading."""
    student = make_user("student", name="Zoe Petit")
    group = make_group("Chemistry 9C", students=[student])
    session = make_session(
        group, datetime.combine(PINNED_TODAY + timedelta(days=1), time(11), tzinfo=PARIS)
    )
    log_in("coordinator")
    page.goto(f"/schedule/month?date={PINNED_TODAY}")
    month_entry = page.locator(".month-sessions li", has_text="Chemistry 9C")
    expect(month_entry).not_to_have_class(re.compile("is-cancelled"))
    page.evaluate("window.notReloaded = true")
    wait_until_live(page)

    own = open_page()
    login(own, student.email)
    own.goto(f"/schedule/mine?date={PINNED_TODAY}")
    own_card = own.locator(f"#session-card-{session.id}")
    expect(own_card).to_contain_text("Chemistry 9C")
    expect(own_card.locator(".badge-cancelled")).to_have_count(0)
    own.evaluate("window.notReloaded = true")
    wait_until_live(own)

    other = open_page()
    login(other, make_user("coordinator").email)
    cancel_through_the_app(other, session.id, "Lab closed")

    expect(month_entry).to_have_class(re.compile("is-cancelled"), timeout=LIVE_MS)
    expect(own_card.locator(".badge-cancelled")).to_have_count(1, timeout=LIVE_MS)
    assert page.evaluate("window.notReloaded === true"), "the month page was reloaded"
    assert own.evaluate("window.notReloaded === true"), "the student's page was reloaded"


def test_with_the_stream_blocked_the_bell_still_polls(page, log_in, console):
    user = log_in("student")
    blocked = []

    def abort(route):
        blocked.append(route.request.url)
        route.abort()

    page.route(re.compile(r"/events/stream"), abort)
    page.goto("/sessions/today/")
    expect(page.locator("#notification-bell").get_by_role("link")).to_have_accessible_name(
        "Notifications: no unread notifications"
    )
    assert blocked, "the page did not try the stream"

    notify(user.id, "session_cancelled", "Maths 7A on Mon 07 Sep 10:00 is cancelled")
    db.session.commit()
    link = page.locator("#notification-bell").get_by_role("link")
    expect(link).to_have_accessible_name("Notifications: 1 unread", timeout=POLL_MS)
    expect(page.locator("body[data-live=on]")).to_have_count(0)
    console.messages[:] = [m for m in console.messages if not stream_refused(m)]
