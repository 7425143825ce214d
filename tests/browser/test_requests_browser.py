"""Requests in Chromium with the real htmx 4 and the real stylesheet: the schedule kind shows
only its fields (CSS :has), the mentor refreshes the subjects, "Add another date" appends an
input, the directory searches in place, and the mentor approves and rejects inline."""

from __future__ import annotations

import re
from datetime import time, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from models import MentorSubject, SessionRequest, Subject, db
from services.requests.lifecycle import RequestInput, create_request
from tests.conftest import PINNED_TODAY

_today = PINNED_TODAY
MONDAY = _today + timedelta(days=14 - _today.weekday())


def switch_to(page, log_in, user):
    """Log out (the real button), then log in as `user`."""
    page.get_by_role("button", name=re.compile(r"^Log out ")).click()
    # The logout lands on the login page: waited for, so that log_in's own navigation does
    # not interrupt it.
    expect(page.get_by_text("You are logged out.")).to_be_visible()
    log_in(user)


def seed(make_user):
    maths, art = Subject(name="Mathematics"), Subject(name="Art")
    db.session.add_all([maths, art])
    ada = make_user("mentor", name="Ada Lovelace")
    ben = make_user("mentor", name="Ben Okri")
    db.session.flush()
    db.session.add(MentorSubject(mentor_id=ada.id, subject_id=maths.id))
    db.session.add(MentorSubject(mentor_id=ben.id, subject_id=art.id))
    db.session.commit()
    return ada, ben


def test_a_student_asks_for_weekly_sessions_and_the_mentor_approves_inline(page, log_in, make_user):
    ada, _ben = seed(make_user)
    log_in("student")
    page.goto("/requests/mentors")
    page.get_by_label("Search by name").fill("okri")
    expect(page.locator(".mentor-card h3")).to_have_text(["Ben Okri"])
    assert "q=okri" in page.url
    page.get_by_label("Search by name").fill("")
    expect(page.locator(".mentor-card")).to_have_count(2)

    page.goto("/requests/new")
    # Only the chosen kind's fields are visible.
    expect(page.get_by_label("Date", exact=True)).to_be_visible()
    expect(page.get_by_label("End")).to_be_hidden()
    page.get_by_label("Specific dates").check()
    expect(page.get_by_label("Duration")).to_be_hidden()
    page.get_by_role("button", name="Add another date").click()
    expect(page.locator('input[name="dates"]')).to_have_count(2)
    page.get_by_label("Weekly").check()
    expect(page.get_by_label("Number of weeks")).to_be_visible()
    expect(page.locator('input[name="dates"]').first).to_be_hidden()

    # Choosing the mentor refreshes the subjects.
    page.get_by_label("Mentor").select_option(label="Ada Lovelace")
    expect(page.locator("#subject option")).to_have_text(["Choose a subject", "Mathematics"])
    page.get_by_label("Subject").select_option(label="Mathematics")
    page.get_by_label("Title").fill("Algebra")
    page.get_by_label("Mon", exact=True).check()
    page.get_by_label("Wed", exact=True).check()
    page.get_by_label("First date").fill(MONDAY.isoformat())
    page.get_by_label("Number of weeks").fill("2")
    page.get_by_label("Start").fill("16:00")
    page.get_by_label("End").fill("17:00")
    page.get_by_role("button", name="Send request").click()
    expect(page.locator(".flash-success")).to_contain_text("4 sessions asked for")
    request = db.session.query(SessionRequest).one()

    switch_to(page, log_in, ada)
    page.goto("/requests/pending")
    card = page.locator(f"#request-{request.id}")
    expect(card).to_contain_text("Dates to approve: 4 requested, no clash")
    with page.expect_response(re.compile(r"/approve$")):
        card.get_by_role("button", name=re.compile("^Approve")).click()
    expect(page.locator(f"#request-{request.id}")).to_contain_text("4 sessions created")
    expect(page.locator("#toasts .toast")).to_contain_text(
        "Approved “Algebra”: 4 sessions created."
    )


def test_rejecting_inline_asks_for_a_reason(page, log_in, make_user, console):
    ada, _ben = seed(make_user)
    student = log_in("student")
    page.goto(f"/requests/new?mentor={ada.id}")
    page.get_by_label("Subject").select_option(label="Mathematics")
    page.get_by_label("Title").fill("Geometry")
    page.get_by_label("Date", exact=True).fill(MONDAY.isoformat())
    page.get_by_label("Start").fill("10:00")
    page.get_by_role("button", name="Send request").click()
    expect(page.locator(".flash-success")).to_be_visible()
    request = db.session.query(SessionRequest).one()
    assert request.student_id == student.id

    switch_to(page, log_in, ada)
    page.goto("/requests/pending")
    card = page.locator(f"#request-{request.id}")
    with page.expect_response(re.compile(r"/reject\?view=pending$")):
        card.get_by_role("button", name=re.compile("^Reject")).click()
    reason = page.get_by_label("Reason (the student reads it)")
    expect(reason).to_be_focused()
    console.allow_http_error(422)
    with page.expect_response(re.compile(r"/reject$")):
        page.get_by_role("button", name="Reject request").click()
    expect(page.locator(f"#reason-{request.id}-error")).to_have_text(
        "Say why the request is rejected."
    )
    page.get_by_label("Reason (the student reads it)").fill("Fully booked.")
    with page.expect_response(re.compile(r"/reject$")):
        page.get_by_role("button", name="Reject request").click()
    expect(page.locator(f"#request-{request.id}")).to_contain_text("Rejected: Fully booked.")


def ask(student, mentor, days, title="Algebra"):
    subject = db.session.query(Subject).filter_by(name="Mathematics").one()
    data = RequestInput(
        mentor_id=mentor.id, subject_id=subject.id, title=title, schedule_kind="dates",
        dates=days, start=time(16), end=time(17),
    )  # fmt: skip
    request = create_request(student, data, tz=ZoneInfo("Europe/Paris"))
    db.session.commit()
    return request


def test_the_mentor_approves_in_part_in_place(page, log_in, make_user):
    ada, _ben = seed(make_user)
    days = [MONDAY, MONDAY + timedelta(days=2), MONDAY + timedelta(days=4)]
    request = ask(make_user("student", name="Noah Bernard"), ada, days)
    log_in(ada)
    page.goto("/requests/pending")
    card = page.locator(f"#request-{request.id}")
    boxes = card.get_by_role("checkbox")
    expect(boxes).to_have_count(3)
    for n in range(3):
        expect(boxes.nth(n)).to_be_checked()  # no clash: every date ticked
    boxes.nth(1).uncheck()
    card.get_by_text("Say why the unticked dates are declined").click()
    card.get_by_label("Reason (the student reads it)").fill("Not that Wednesday.")
    with page.expect_response(re.compile(r"/approve$")):
        card.get_by_role("button", name=re.compile("^Approve ticked dates")).click()
    expect(page.locator(f"#request-{request.id}")).to_contain_text(
        "2 sessions created; 1 date declined."
    )
    expect(page.locator("#toasts .toast")).to_contain_text(
        "Approved “Algebra”: 2 sessions created; 1 date declined."
    )
    db.session.expire_all()
    reasons = [s.declined_reason for s in db.session.get(SessionRequest, request.id).slots]
    assert reasons == [None, "Not that Wednesday.", None]


def test_the_pending_list_redraws_itself_when_a_request_arrives(page, log_in, make_user):
    ada, _ben = seed(make_user)
    first = ask(
        make_user("student", name="Noah Bernard"), ada, [MONDAY, MONDAY + timedelta(days=2)]
    )
    log_in(ada)
    page.clock.install()
    page.goto("/requests/pending")
    card = page.locator(f"#request-{first.id}")
    card.get_by_role("checkbox").nth(1).uncheck()  # the mentor is choosing dates
    second = ask(make_user("student", name="Lea Martin"), ada, [MONDAY + timedelta(days=1)],
                 title="Geometry")  # fmt: skip
    # The live stream brings it (or, without it, the bell's next poll).
    page.clock.run_for(11_000)
    expect(page.locator(f"#request-{second.id}")).to_contain_text("Geometry")
    # The card being edited kept the mentor's choice.
    expect(card.get_by_role("checkbox").nth(0)).to_be_checked()
    expect(card.get_by_role("checkbox").nth(1)).not_to_be_checked()
    # The toast is a button that POSTs (following a notification marks it read).
    toast = page.locator("#toasts .toast").get_by_role("button")
    expect(toast).to_have_text("New request from Lea Martin: Geometry")
    toast.click()
    expect(page).to_have_url(re.compile(rf"/requests/{second.id}$"))
    expect(page.locator("#notification-bell").get_by_role("link")).to_have_accessible_name(
        re.compile("^Notifications: 1 unread")
    )


def test_dates_to_approve_and_their_outcome_pass_the_accessibility_audit(
    page, log_in, make_user, make_group, make_series
):
    from services.timetable.generation import generate_occurrences
    from tests.browser.test_accessibility import FAILING_IMPACTS, describe, run_axe

    ada, _ben = seed(make_user)
    group = make_group("Maths 7A", mentor=ada)
    make_series(group, weekdays=(2,), start=time(16), end=time(17), first_date=MONDAY)
    generate_occurrences(MONDAY, MONDAY + timedelta(days=7), tz=ZoneInfo("Europe/Paris"))
    db.session.commit()
    noah = make_user("student", name="Noah Bernard")
    request = ask(noah, ada, [MONDAY, MONDAY + timedelta(days=2), MONDAY + timedelta(days=4)])
    log_in(ada)
    for url in ("/requests/pending", f"/requests/{request.id}"):
        page.goto(url)
        expect(page.locator(".slot-clash")).to_contain_text("Clash with Maths 7A")
        bad = [v for v in run_axe(page) if v["impact"] in FAILING_IMPACTS]
        assert not bad, f"{url}:\n{describe(bad)}"
    page.get_by_role("button", name=re.compile("^Approve ticked dates")).click()
    expect(page.locator(".flash-success")).to_contain_text("2 sessions created; 1 date declined")
    switch_to(page, log_in, noah)
    page.goto(f"/requests/{request.id}")
    expect(page.locator(".slot-declined")).to_contain_text("Ada Lovelace has another session")
    bad = [v for v in run_axe(page) if v["impact"] in FAILING_IMPACTS]
    assert not bad, describe(bad)
