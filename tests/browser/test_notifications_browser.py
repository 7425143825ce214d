"""The notification bell in Chromium with the real htmx 4: with the live stream blocked, a quiet
poll (204) leaves the page alone, a new notification raises the count without a reload and
shows a toast, marking read
updates the bell out of band, and a bell whose user logged out in another tab stops polling
without taking the tab to the login page."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from models import db
from services.notifications.inbox import notify
from tests.browser.test_live_browser import stream_refused

POLL_MS = 15_000  # the bell polls every 10 s


def is_bell_poll(response, status: int) -> bool:
    return "/notifications/bell" in response.url and response.status == status


def test_a_new_notification_raises_the_count_and_toasts_without_a_reload(page, log_in, console):
    user = log_in("student")
    # The bell's own polling: the live stream (test_live_browser.py) is blocked here.
    page.route(re.compile(r"/events/stream"), lambda route: route.abort())
    page.goto("/sessions/today/")
    bell = page.locator("#notification-bell")
    expect(bell.get_by_role("link")).to_have_accessible_name(
        "Notifications: no unread notifications"
    )
    page.evaluate("window.notReloaded = true")
    with page.expect_response(lambda r: is_bell_poll(r, 204), timeout=POLL_MS):
        pass
    expect(bell.get_by_role("link")).to_have_accessible_name(
        "Notifications: no unread notifications"
    )

    notify(user.id, "session_cancelled", "Maths 7A on Mon 07 Sep 10:00 is cancelled")
    db.session.commit()
    link = page.locator("#notification-bell").get_by_role("link")
    expect(link).to_have_accessible_name("Notifications: 1 unread", timeout=POLL_MS)
    expect(page.locator("#toasts .toast")).to_have_text("Maths 7A on Mon 07 Sep 10:00 is cancelled")
    assert page.evaluate("window.notReloaded === true"), "the page was reloaded"
    console.messages[:] = [m for m in console.messages if not stream_refused(m)]


def test_marking_read_updates_the_bell_and_a_logged_out_bell_stops_quietly(page, log_in):
    user = log_in("mentor")
    notify(user.id, "request_new", "Alice asks for Maths", body="Mondays at 10:00")
    db.session.commit()
    page.goto("/notifications/")
    link = page.locator("#notification-bell").get_by_role("link")
    expect(link).to_have_accessible_name("Notifications: 1 unread")
    item = page.locator("li.notification")
    expect(item.locator(".badge-unread")).to_have_text("Unread")
    item.get_by_role("button", name=re.compile("^Mark read")).click()
    expect(item.locator(".badge-unread")).to_have_count(0)
    expect(page.locator("#notification-bell").get_by_role("link")).to_have_accessible_name(
        "Notifications: no unread notifications"
    )
    expect(page.locator("#notifications-summary")).to_contain_text("No unread notifications.")

    # Log out in another tab: this tab's next poll turns the bell into a login link.
    other = page.context.new_page()
    other.goto("/sessions/today/")
    other.get_by_role("button", name=re.compile("^Log out ")).click()
    expect(other).to_have_url(re.compile("/auth/login"))
    signed_out = page.locator("#notification-bell").get_by_role(
        "link", name="Logged out: log in again"
    )
    expect(signed_out).to_be_visible(timeout=POLL_MS)
    expect(page.locator("#notification-bell[hx-trigger]")).to_have_count(0)
    assert page.url.endswith("/notifications/")  # the tab stayed where it was
    signed_out.click()
    expect(page).to_have_url(re.compile(r"/auth/login\?next=%2Fnotifications%2F$"))
