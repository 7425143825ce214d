"""A generation too large for the page, in Chromium at 1366 and 390 px, JavaScript on and off:
the page says it is queued, and once a worker has run it the outcome appears without the
user doing anything (htmx asks every second; without JavaScript the page refreshes itself)."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import expect

from models import Occurrence, db
from services.jobs.queue import run_queued_jobs
from tests.browser.helpers import login, screenshot
from tests.browser.test_imports_browser import sized_page  # noqa: F401 (a fixture)

AHEAD = date(2030, 9, 2)  # a Monday, far from whatever today is


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_large_generation_is_queued_then_its_outcome_appears_by_itself(
    sized_page,  # noqa: F811
    app,
    make_user,
    make_group,
    make_series,
    monkeypatch,
    size,
    js,
):
    monkeypatch.setitem(app.config, "MAX_WEB_GENERATION_SESSIONS", 10)
    email = make_user("coordinator").email
    make_series(make_group("Maths 7A"), weekdays=(0, 1, 2, 3, 4), first_date=AHEAD)
    page = sized_page(size, js=js)  # the test reads nothing from the database until the job
    login(page, email)
    page.goto("/timetable/generate")
    form = page.locator("#generate-form")
    form.get_by_label("First date").fill(AHEAD.isoformat())
    form.get_by_label("Weeks", exact=True).fill("4")  # 20 sessions: more than the page's 10
    form.get_by_role("button", name="Generate").click()

    run = page.locator("#generation-run")
    expect(run).to_contain_text("Queued for the background")
    expect(run).to_contain_text("holds 20 sessions")
    screenshot(page, f"generation-queued-{size}-{'js' if js else 'no-js'}")

    assert db.session.query(Occurrence).count() == 0
    assert run_queued_jobs() == 1  # what the worker does
    db.session.commit()  # the test's transaction ends: the page's requests are not held up

    summary = page.locator("#generation-summary")
    expect(summary).to_contain_text("Generated in the background")
    expect(summary.locator('[data-count="created"]')).to_have_text("20")
    expect(page.locator("#generation-run")).to_have_attribute("data-run-status", "done")
    # The panel keeps its width on a phone: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, f"generation-done-{size}-{'js' if js else 'no-js'}")
