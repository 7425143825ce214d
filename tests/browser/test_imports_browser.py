"""Bulk enrolment and the timetable import in Chromium, at 1366 and 390 px, with JavaScript
on (htmx swaps in place) and off (plain forms and pages): a coordinator pastes e-mails,
previews, enrols; uploads a timetable CSV, reads its preview, applies it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from models import db
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.helpers import login, screenshot

HEADER = (
    "group,subject,mentor_email,room,weekdays,start,end,first_date,last_date,every_weeks,mode,"
    "students"
)
ROWS = (
    "Physics 9C,Physics,pia@school.test,Lab 2,Tue;Thu,09:00,10:00,2027-03-16,,,,"
    "ada@school.test;bob@school.test\n"
    "Physics 9C,Physics,pia@school.test,Lab 2,Fri,14:00,15:00,2027-03-19,,,,\n"
)
SIZES = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def sized_page(chromium, live_server, app, tmp_path, monkeypatch, console):
    """`sized_page("phone", js=False)`: a new browser context of that size and JS setting."""
    monkeypatch.setitem(app.config, "IMPORT_FOLDER", str(tmp_path / "imports"))
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(tmp_path / "uploads"))
    contexts = []
    test_session = db.session()

    def end_test_transaction(route):
        try:
            test_session.commit()
        except Exception:
            test_session.rollback()
        route.fallback()

    def make(size: str, *, js: bool):
        context = chromium.new_context(
            base_url=live_server.url,
            viewport=SIZES[size],
            locale="en-GB",
            timezone_id=app.config["TIMEZONE"],
            java_script_enabled=js,
        )
        context.set_default_timeout(TIMEOUT_MS)
        if js:
            context.route(re.compile(re.escape(live_server.url) + "/.*"), end_test_transaction)
        else:
            # No route handler is needed: the data is committed before the page opens and
            # the test reads nothing meanwhile (it would take SQLite's write lock).
            test_session.commit()
        if js:  # the guard's settling script would wait forever in a page without JavaScript
            console.watch(context)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_paste_emails_preview_and_enrol(sized_page, make_user, make_group, size, js):
    coordinator = make_user("coordinator")
    make_user("student", name="Ada Lovelace", email="ada@school.test")
    make_user("student", name="Bob Stone", email="bob@school.test")
    make_user("mentor", name="Mo Mentor", email="mo@school.test")
    url, email = f"/manage/groups/{make_group('Maths 7A').id}", coordinator.email
    page = sized_page(size, js=js)  # the test reads nothing from the database from here on
    login(page, email)
    page.goto(url)
    panel = page.locator("#bulk-enrol")
    panel.locator("summary").click()
    panel.get_by_label("E-mails or names").fill(
        "ada@school.test, Bob Stone\nmo@school.test\nnobody@school.test"
    )
    panel.get_by_role("button", name="Preview").first.click()
    plan = page.locator("#bulk-plan")
    expect(plan.locator("tbody tr")).to_have_count(4)
    expect(page.locator("#bulk-refused")).to_contain_text("2 lines are refused (line 2, line 3)")
    expect(plan).to_contain_text("Mo Mentor is a mentor, not a student")
    screenshot(page, f"bulk-enrol-preview-{size}-{'js' if js else 'nojs'}")
    expect(page.locator("#students-heading")).to_contain_text("(0)")  # a preview enrols nobody
    page.get_by_role("button", name="Enrol the ticked students in Maths 7A").click()
    table = page.locator("#enrolments-table")
    expect(table).to_contain_text("Ada Lovelace")
    expect(table).to_contain_text("Bob Stone")
    expect(
        page.get_by_text("2 students enrolled in Maths 7A: Ada Lovelace, Bob Stone.")
    ).to_be_visible()
    screenshot(page, f"bulk-enrol-done-{size}-{'js' if js else 'nojs'}")
    expect(page.locator("#students-heading")).to_contain_text("(2)")


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_upload_a_timetable_see_the_preview_and_apply(sized_page, make_user, tmp_path, size, js):
    coordinator = make_user("coordinator")
    make_user("student", name="Ada Lovelace", email="ada@school.test")
    csv_file = tmp_path / "timetable.csv"
    csv_file.write_bytes(("\ufeff" + HEADER + "\r\n" + ROWS.replace("\n", "\r\n")).encode())
    email = coordinator.email
    page = sized_page(size, js=js)  # the test reads nothing from the database from here on
    login(page, email)
    page.goto("/timetable/imports")
    panel = page.locator("#import-timetable")
    panel.get_by_label("Timetable CSV file").set_input_files(str(csv_file))
    panel.get_by_role("button", name="Preview").click()
    lines = page.locator("#import-timetable .import-lines tbody tr")
    expect(lines.first).to_contain_text("mentor account pia@school.test")
    expect(page.locator("#import-timetable")).to_contain_text(
        "series Physics 9C Tue;Thu 09:00-10:00 from 2027-03-16"
    )
    expect(page.locator("#import-timetable")).to_contain_text(
        "Physics 9C: enrols ada@school.test, bob@school.test"
    )
    screenshot(page, f"import-preview-{size}-{'js' if js else 'nojs'}")
    page.get_by_role("button", name="Apply: import timetable.csv").click()
    expect(
        page.get_by_text(re.compile(r"Imported timetable\.csv: 7 created, 1 changed\."))
    ).to_be_visible()
    screenshot(page, f"import-applied-{size}-{'js' if js else 'nojs'}")
    page.goto("/manage/groups")
    expect(page.locator("main")).to_contain_text("Physics 9C")
