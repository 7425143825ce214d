"""The strict CSP (`style-src 'self'`, no inline style) holds through htmx swaps, and the
console guard of these tests fails on every kind of CSP violation report.

Inline styles reached the console ("Refused to apply inline style", 21 on Generate, 11 on
mentor pages, in some runs): elements that something else had given a `style` attribute
(Playwright's caret hiding for screenshots, axe's colour checks, a browser extension) had it
copied onto their replacements by htmx's settle step, with `setAttribute("style", ...)`,
which the CSP refuses. htmx is configured without that step (`defaultSettleDelay: 0` in the
`htmx-config` meta of templates/base.html): the app animates nothing through it.
"""

from __future__ import annotations

import json
from datetime import time, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from services.timetable.generation import generate_occurrences
from tests.browser.conftest import ErrorGuard
from tests.conftest import PINNED_TODAY

# A Monday four weeks ahead: sessions there are upcoming whatever the hour.
TERM = PINNED_TODAY - timedelta(days=PINNED_TODAY.weekday()) + timedelta(weeks=4)

# What Playwright's caret hiding, axe or an extension does: an inline style set through the
# DOM (allowed by the CSP), which leaves a `style` attribute on the element.
STYLE_EVERY_FIELD = """() => {
  const fields = document.querySelectorAll("main [id]");
  fields.forEach((element) => element.style.setProperty("caret-color", "transparent"));
  return fields.length;
}"""


def test_htmx_config_turns_off_injected_indicator_styles_and_the_settle_step(page, log_in):
    log_in("coordinator")
    config = json.loads(page.locator('meta[name="htmx-config"]').get_attribute("content"))
    assert config["includeIndicatorCSS"] is False
    assert config["defaultSettleDelay"] == 0
    assert page.evaluate("htmx.config.defaultSettleDelay") == 0


def test_generate_swaps_its_panel_without_reapplying_inline_styles(page, log_in, make_series):
    make_series(weekdays=(0, 2), first_date=TERM)
    log_in("coordinator")
    page.goto("/timetable/generate")
    page.get_by_label("First date").fill(TERM.isoformat())
    page.get_by_label("Weeks", exact=True).fill("2")
    assert page.evaluate(STYLE_EVERY_FIELD) >= 10
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#generation-summary")).to_contain_text("Preview (nothing written)")
    page.get_by_role("button", name="Generate", exact=True).click()
    expect(page.locator("#generation-summary")).to_contain_text("Generated")
    # The panel is the server's: no style attribute came back with it. (The guard then
    # fails the test on any CSP violation the swaps caused.)
    assert page.locator("#generate-panel [style]").count() == 0


def test_a_mentors_dashboard_redraw_keeps_the_csp(page, log_in, make_group, make_series):
    mentor = log_in("mentor")
    group = make_group("Maths 7A", mentor=mentor, subject="Mathematics")
    make_series(group, weekdays=(0, 1, 2, 3, 4), start=time(10), end=time(11),
                first_date=TERM)  # fmt: skip
    generate_occurrences(TERM, TERM + timedelta(weeks=1), tz=ZoneInfo("Europe/Paris"))
    page.goto("/dashboard/")
    expect(page.locator("#dashboard-sessions article").first).to_be_visible()
    assert page.evaluate(STYLE_EVERY_FIELD) >= 5
    # The tab redraws the list in place, as its refresh every minute does; so do the others.
    for tab in ("Upcoming", "Past sessions", "Completed", "Upcoming"):
        page.evaluate("document.getElementById('dashboard-sessions').probe = true")
        page.locator(".dashboard-tabs").get_by_role("link", name=tab).click()
        page.wait_for_function("() => !document.getElementById('dashboard-sessions').probe")
    expect(page.locator("#dashboard-sessions article").first).to_be_visible()
    assert page.locator("#dashboard-sessions [style]").count() == 0


def test_the_guard_fails_on_csp_violations_however_they_are_reported(page, log_in, console):
    """The guard itself: Chromium's own console error for a refused inline style, a CSP
    message logged as a warning, and a `securitypolicyviolation` event are each caught."""
    log_in("coordinator")
    page.wait_for_function("() => typeof window.htmx === 'object'")
    console.settle()
    assert console.messages == []

    page.evaluate("() => document.querySelector('main').setAttribute('style', 'color: red')")
    assert page.evaluate("getComputedStyle(document.querySelector('main')).color") != (
        "rgb(255, 0, 0)"
    ), "the CSP refused the inline style"
    console.settle()
    refused = [m for m in console.messages if m.startswith("CSP violation")]
    assert any("(securitypolicyviolation)" in m and "style-src-attr" in m for m in refused)
    assert any(m.startswith("CSP violation (error)") and "style" in m for m in refused)
    console.messages.clear()

    page.evaluate(
        """() => console.warn("Refused to apply inline style because it violates the "
            + "following Content Security Policy directive: \\"style-src 'self'\\".")"""
    )
    page.evaluate(
        """() => document.dispatchEvent(new SecurityPolicyViolationEvent(
            "securitypolicyviolation", {violatedDirective: "style-src-elem",
            effectiveDirective: "style-src-elem", originalPolicy: "style-src 'self'",
            disposition: "report", blockedURI: "inline", statusCode: 200}))"""
    )
    console.settle()
    assert any(m.startswith("CSP violation (warning): Refused to") for m in console.messages)
    assert any("style-src-elem | report" in m for m in console.messages)
    console.messages.clear()  # caught as intended; the test itself passes


def test_an_attached_page_is_guarded_too(chromium, live_server):
    """A page of a context made outside `open_page` (a module's shared page) gets the same
    guard with `attach`."""
    context = chromium.new_context(base_url=live_server.url)
    try:
        page = context.new_page()
        page.goto("/auth/login")
        guard = ErrorGuard(live_server)
        guard.attach(page)
        page.evaluate("() => document.body.setAttribute('style', 'color: red')")
        guard.settle()
        assert any("securitypolicyviolation" in m for m in guard.messages)
        guard.detach(page)
    finally:
        context.close()
