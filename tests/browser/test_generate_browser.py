"""Generate in Chromium: the span's two fields switch each other off (static/app.js, no inline
script), and the preview lists the sessions it would create, folded and paged in place."""

from __future__ import annotations

from datetime import date

from playwright.sync_api import expect

from models import Occurrence, db
from tests.browser.helpers import screenshot

AHEAD = date(2030, 9, 2)  # a Monday, far from whatever today is


def test_the_span_fields_switch_each_other_off_and_the_preview_pages_in_place(
    page, log_in, make_group, make_series
):
    make_series(make_group("Maths 7A"), weekdays=(0, 1, 2, 3, 4))  # 40 sessions in 8 weeks
    log_in("coordinator")
    page.wait_for_load_state("load")  # the landing page's scripts have run
    page.goto("/timetable/generate")
    form = page.locator("#generate-form")
    weeks, end = form.get_by_label("Weeks", exact=True), form.get_by_label("End date (excluded)")
    expect(weeks).to_be_enabled()
    expect(end).to_be_disabled()
    form.get_by_label("Until a date").check()
    expect(weeks).to_be_disabled()
    expect(end).to_be_enabled()
    form.get_by_label("Number of weeks").check()
    expect(end).to_be_disabled()

    form.get_by_label("First date").fill(AHEAD.isoformat())
    weeks.fill("8")
    form.get_by_role("button", name="Preview").click()
    created = page.locator("#generation-create")
    expect(created.locator("summary")).to_have_text("Would create: 40 sessions")
    # After the swap the new form's fields are switched as its span says.
    expect(page.locator("#generate-form").get_by_label("End date (excluded)")).to_be_disabled()
    created.locator("summary").click()
    expect(created.locator("tbody tr")).to_have_count(25)
    created.get_by_role("button", name="Next").click()
    created = page.locator("#generation-create")
    expect(created).to_contain_text("Showing 26\u201340 of 40.")
    expect(created.locator("tbody tr")).to_have_count(15)
    expect(created.locator("tbody tr").last).to_contain_text("Fri 25 Oct 2030")
    screenshot(page, "generate-preview-page-2")
    assert db.session.query(Occurrence).count() == 0  # a preview writes nothing
