"""The whole request-to-session path in two browsers: a student asks for weekly online
sessions, the mentor's bell rises without a reload, the mentor approves inline, and the
student finds the sessions in Upcoming with a video room id that the Copy button copies."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import expect

from models import MentorSubject, SessionRequest, Subject, db
from tests.browser.helpers import login, screenshot
from tests.conftest import PINNED_TODAY

_today = PINNED_TODAY
MONDAY = _today + timedelta(days=14 - _today.weekday())
POLL_MS = 15_000  # the bell polls every 10 s


def test_a_weekly_online_request_becomes_upcoming_sessions_with_a_video_room(open_page, make_user):
    maths = Subject(name="Mathematics")
    db.session.add(maths)
    ada = make_user("mentor", name="Ada Lovelace")
    noah = make_user("student", name="Noah Bernard")
    db.session.flush()
    db.session.add(MentorSubject(mentor_id=ada.id, subject_id=maths.id))
    db.session.commit()
    ada_email, noah_email, ada_id = ada.email, noah.email, ada.id

    # The mentor's dashboard is open, with no unread notification.
    mentor = open_page()
    login(mentor, ada_email)
    mentor.goto("/dashboard/")
    bell = mentor.locator("#notification-bell").get_by_role("link")
    expect(bell).to_have_accessible_name(re.compile("no unread notifications"))
    mentor.evaluate("window.notReloaded = true")

    # In another browser, the student asks for Mon and Wed, two weeks, online.
    student = open_page()
    login(student, noah_email)
    student.goto(f"/requests/new?mentor={ada_id}")
    student.get_by_label("Subject").select_option(label="Mathematics")
    student.get_by_label("Title").fill("Algebra")
    student.get_by_label("Online").check()
    student.get_by_label("Weekly").check()
    student.get_by_label("Mon", exact=True).check()
    student.get_by_label("Wed", exact=True).check()
    student.get_by_label("First date").fill(MONDAY.isoformat())
    student.get_by_label("Number of weeks").fill("2")
    student.get_by_label("Start").fill("16:00")
    student.get_by_label("End").fill("17:00")
    student.get_by_role("button", name="Send request").click()
    expect(student.locator(".flash-success")).to_contain_text("4 sessions asked for")
    request_id = db.session.query(SessionRequest.id).scalar()

    # The mentor's bell rises at its next poll, with a toast, and the page never reloads.
    expect(bell).to_have_accessible_name(re.compile("1 unread"), timeout=POLL_MS)
    expect(mentor.locator("#toasts .toast")).to_contain_text("New request from Noah Bernard")
    assert mentor.evaluate("window.notReloaded === true")

    # The mentor approves inline: only the request's row changes.
    mentor.goto("/requests/pending")
    card = mentor.locator(f"#request-{request_id}")
    expect(card).to_contain_text("no clash")
    mentor.evaluate("window.notReloaded = true")
    with mentor.expect_response(re.compile(r"/approve$")):
        card.get_by_role("button", name=re.compile("^Approve")).click()
    expect(mentor.locator(f"#request-{request_id}")).to_contain_text("4 sessions created")
    assert mentor.evaluate("window.notReloaded === true")

    # The student sees the four sessions in Upcoming, each with its own video room.
    student.goto("/dashboard/")
    cards = student.locator(".dashboard-card")
    expect(cards).to_have_count(4)
    room_ids = cards.locator("code").all_inner_texts()
    assert len(set(room_ids)) == 4 and all(re.fullmatch(r"room-[a-z0-9]{8}", r) for r in room_ids)
    expect(cards.first).to_contain_text("Ada Lovelace")

    # Copy puts the room id on the clipboard and says so.
    student.context.grant_permissions(["clipboard-read", "clipboard-write"])
    cards.first.get_by_role("button", name=re.compile("^Copy the video room id")).click()
    expect(student.locator("#toasts .toast").last).to_contain_text(f"Copied {room_ids[0]}")
    assert student.evaluate("navigator.clipboard.readText()") == room_ids[0]
    screenshot(student, "student-upcoming-after-approval")
