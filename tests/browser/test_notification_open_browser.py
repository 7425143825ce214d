"""Following a notification from the list in Chromium: the title is a button that reads as a
link; clicking it opens what it is about and marks it read (a POST, since a GET must not)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from models import db
from services.notifications.inbox import notify


def test_clicking_a_notification_title_opens_it_and_marks_it_read(page, log_in):
    user = log_in("student")
    notify(user.id, "session_cancelled", "Maths 7A is cancelled", link="/schedule/mine")
    db.session.commit()
    page.goto("/notifications/")
    bell = page.locator("#notification-bell").get_by_role("link")
    expect(bell).to_have_accessible_name("Notifications: 1 unread")
    page.locator("li.notification").get_by_role(
        "button", name="Maths 7A is cancelled", exact=True
    ).click()
    expect(page).to_have_url(re.compile(r"/schedule/mine$"))
    expect(bell).to_have_accessible_name("Notifications: no unread notifications")
    page.goto("/notifications/")
    expect(page.locator("li.notification .badge-unread")).to_have_count(0)
