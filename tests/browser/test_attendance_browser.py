"""A mentor takes a 30-student register in Chromium on a 390 px phone, in place on the session
page (big choices, the minutes field appearing for Late), then "All present" in one click on
a dashboard card; without JavaScript the same register works as a plain form. Screenshots at
390 and 1366 px of the session page, the card and the staff report (JavaScript on and off)
are kept in test-artifacts/ (attendance-*.png)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from models import Enrolment, Occurrence, db
from services.tracking.attendance import MarkInput, take_register
from tests.browser.helpers import ARTIFACTS, login, screenshot
from tests.conftest import PINNED_NOW

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
NAMES = [
    "Amara Okafor", "Bruno Silva", "Chloé Martin", "Dmitri Volkov", "Elif Yilmaz", "Farah Haddad",
    "Gustav Berg", "Hana Sato", "Ines Duarte", "Jonah Levi", "Kofi Mensah", "Lena Fischer",
    "Mateo Rossi", "Nadia Petrova", "Oskar Nilsson", "Priya Nair", "Quentin Roux", "Rosa Alves",
    "Sami Khan", "Tara Byrne", "Umar Farouk", "Vera Novak", "Wen Li", "Ximena Cruz",
    "Yusuf Demir", "Zoe Clarke", "Aarav Shah", "Bea Lindqvist", "Cyrus Tehrani",
    "Maximiliana Featherstonehaugh-Worthington",
]  # fmt: skip


def sideways_scroll(page) -> int:
    return page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


@pytest.fixture
def register_class(make_user, make_group):
    """Maths 9B: a mentor, 30 students (enrolled a month ago), a session that started an
    hour ago and one that ended yesterday."""
    mentor = make_user("mentor", name="Ada Lovelace")
    students = [make_user("student", name=name) for name in NAMES]
    group = make_group("Maths 9B", mentor=mentor, students=students)
    for enrolment in group.enrolments:
        enrolment.created_at = PINNED_NOW - timedelta(days=30)
    sessions = []
    for started in (PINNED_NOW - timedelta(hours=1), PINNED_NOW - timedelta(days=1)):
        occurrence = Occurrence(
            group_id=group.id,
            start_utc=started,
            end_utc=started + timedelta(minutes=50),
            room_id=group.default_room_id,
        )
        db.session.add(occurrence)
        sessions.append(occurrence)
    db.session.commit()
    assert db.session.query(Enrolment).count() == 30
    return {"mentor": mentor, "students": students, "now": sessions[0], "yesterday": sessions[1]}


def test_a_mentor_takes_a_30_student_register_in_place_on_a_phone(
    page, log_in, register_class, console
):
    console.allow_http_error(422)  # the excused absence sent without a reason
    mentor, students = register_class["mentor"], register_class["students"]
    session_id = register_class["now"].id
    page.set_viewport_size(PHONE)
    log_in(mentor)
    page.goto(f"/sessions/{session_id}")
    page.evaluate("window.notReloaded = true")
    register = page.locator(f"#register-{session_id}")
    expect(register).to_contain_text("Not taken yet: 30 students")
    register.get_by_role("button", name="Take the register…").click()
    form = page.locator(f"#register-form-{session_id}")
    expect(form.locator("fieldset.register-line")).to_have_count(30)
    assert sideways_scroll(page) <= 0

    bruno, chloe, dmitri = students[1], students[2], students[3]
    line = form.locator(f"#register-line-{bruno.id}")
    late_field = line.get_by_label("Minutes late")
    expect(late_field).to_be_hidden()
    choice = line.locator(".register-choice-late")
    box = choice.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 70, box  # a thumb's tap target
    choice.click()
    expect(late_field).to_be_visible()
    late_field.fill("12")
    form.locator(f"#register-line-{chloe.id} .register-choice-absent").click()
    form.locator(f"#register-line-{chloe.id}").get_by_label("Reason").fill("Ill")
    form.locator(f"#register-line-{dmitri.id} .register-choice-excused").click()
    screenshot(page, "attendance-390-session-form")
    line.scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / "attendance-390-session-form-viewport.png", caret="initial")
    # Excused without a reason: named next to Dmitri, nothing written.
    form.get_by_role("button", name="Save the register").click()
    error = page.locator(f"#register-line-{dmitri.id}-error")
    expect(error).to_contain_text("Say why the absence is excused")
    screenshot(page, "attendance-390-session-form-error")
    page.locator(f"#register-line-{dmitri.id}").get_by_label("Reason").fill("School trip")
    page.locator(f"#register-form-{session_id}").get_by_role(
        "button", name="Save the register"
    ).click()
    expect(register.locator("[data-register=taken]")).to_have_text(
        "27 present, 1 late, 1 absent, 1 excused of 30"
    )
    expect(register).to_contain_text("Taken by Ada Lovelace")
    expect(register.locator(".register-absentees")).to_contain_text("Late (12 min)")
    assert page.evaluate("window.notReloaded === true"), "the session page was reloaded"
    assert sideways_scroll(page) <= 0
    screenshot(page, "attendance-390-session-taken")
    page.set_viewport_size(DESKTOP)
    screenshot(page, "attendance-1366-session-taken")


def test_all_present_from_a_dashboard_card_in_one_click(page, log_in, register_class):
    yesterday = register_class["yesterday"].id
    page.set_viewport_size(PHONE)
    log_in(register_class["mentor"])
    page.goto("/dashboard/past")
    card = page.locator(f"#session-dashboard-{yesterday}")
    expect(card).to_contain_text("Not taken yet")
    screenshot(page, "attendance-390-dashboard-card")
    card.get_by_role("button", name="All present").click()
    expect(card.locator("[data-register=taken]")).to_have_text("30 present of 30")
    assert sideways_scroll(page) <= 0
    screenshot(page, "attendance-390-dashboard-card-taken")
    page.set_viewport_size(DESKTOP)
    screenshot(page, "attendance-1366-dashboard")


def test_the_register_and_the_report_work_without_javascript(
    chromium, live_server, register_class, make_user
):
    mentor, students = register_class["mentor"], register_class["students"]
    session_id = register_class["yesterday"].id
    coordinator = make_user("coordinator", name="Cora Coordinator")
    take_register(
        register_class["now"],
        [MarkInput(students[0].id, "absent"), MarkInput(students[4].id, "late", 5)],
        actor=mentor,
        tz=ZoneInfo(live_server.app.config["TIMEZONE"]),
    )
    # Read everything the browser steps need now: the test's transaction must be over (on
    # SQLite it holds the write lock) before the browser posts.
    late_id, absent_name = students[5].id, students[0].name
    emails = {"mentor": mentor.email, "coordinator": coordinator.email}
    db.session.commit()
    base = live_server.url
    for width in (390, 1366):
        context = chromium.new_context(
            base_url=base, viewport={"width": width, "height": 900}, locale="en-GB",
            timezone_id=live_server.app.config["TIMEZONE"], java_script_enabled=False,
        )  # fmt: skip
        try:
            page = context.new_page()
            login(page, emails["mentor"])
            page.goto(f"/sessions/{session_id}")
            register = page.locator(f"#register-{session_id}")
            # Taken on the first pass: corrected on the second.
            name = "Take the register…" if width == 390 else "Correct the register…"
            register.get_by_role("button", name=name).click()
            expect(page).to_have_url(f"{base}/attendance/sessions/{session_id}/register/take")
            if width == 390:
                line = page.locator(f"#register-line-{late_id}")
                line.locator(".register-choice-late").click()
                expect(line.get_by_label("Minutes late")).to_be_visible()  # CSS, not script
                line.get_by_label("Minutes late").fill("99")
                page.get_by_role("button", name="Save the register").click()
                error = page.locator(f"#register-line-{late_id}-error")
                expect(error).to_contain_text("the session lasts 50 minutes")
                assert sideways_scroll(page) <= 0
                screenshot(page, "attendance-390-nojs-form-error")
                page.locator(f"#register-line-{late_id}").get_by_label("Minutes late").fill("9")
                page.get_by_role("button", name="Save the register").click()
                expect(page).to_have_url(f"{base}/sessions/{session_id}#register-{session_id}")
                taken = page.locator(f"#register-{session_id} [data-register=taken]")
                expect(taken).to_have_text("29 present, 1 late of 30")
                screenshot(page, "attendance-390-nojs-session-taken")
            else:
                screenshot(page, "attendance-1366-nojs-form")
            context.clear_cookies()
            login(page, emails["coordinator"])
            page.goto("/attendance/")
            expect(page.locator("#below-list")).to_contain_text(absent_name)
            assert sideways_scroll(page) <= 0
            screenshot(page, f"attendance-{width}-nojs-report")
        finally:
            context.close()


def test_the_staff_report_at_both_widths(page, log_in, register_class, app):
    students = register_class["students"]
    take_register(
        register_class["yesterday"],
        [MarkInput(s.id, "absent") for s in students[:3]],
        actor=register_class["mentor"],
        tz=ZoneInfo(app.config["TIMEZONE"]),
    )
    db.session.commit()
    log_in("coordinator")
    for width in (390, 1366):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto("/attendance/")
        expect(page.locator("#below-list li")).to_have_count(3)
        assert sideways_scroll(page) <= 0
        screenshot(page, f"attendance-{width}-report")
