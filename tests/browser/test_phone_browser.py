"""Phones, 390x844 (an iPhone 12-15): every page of every role fits the screen, with JavaScript
on and off, and a full-page screenshot of each is kept in test-artifacts/ (phone-390-*.png).

"Fits" means: the page does not scroll sideways, and no element reaches past the screen's
edges, except inside a box that scrolls sideways on its own and itself fits (a week grid or a
wide data table may scroll in its box: WCAG 1.4.10 exempts them). Besides every page:

- the navigation takes one row: the name, the bell and a "Menu" disclosure (a <details>, so it
  opens without JavaScript); the full row of entries comes back on a desktop (1366 px);
- a session's files read as blocks, long file names wrapping at the end of a line rather than
  letter by letter;
- the grid's inline editor, opened on the day view, fits the screen;
- the schedule opened from the menu shows the day (JavaScript on), and its Week link keeps
  the week.

The pages are listed from the app's URL map (every GET page, ids filled in with the seeded
school's), so a page added later is checked too; fragments and downloads are left out by name.
The school is seeded once for the module (as in test_accessibility.py); dates are counted from
the organisation's today when the module is loaded and every checked URL that shows a date
range names it, so a run across midnight checks the same pages.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from models import (
    Attachment,
    CourseGroup,
    DateOverride,
    Enrolment,
    GenerationRun,
    GenerationRunStatus,
    MentorSubject,
    NoteKind,
    Room,
    SessionNote,
    Subject,
    User,
    db,
)
from models.series import Series, weekdays_to_mask
from services.common.timeutil import today_in
from services.cover import AbsenceData, record_absence
from services.people.accounts import create_user
from services.requests.lifecycle import RequestInput, create_request
from services.school_year import (
    ClosureData,
    TermData,
    YearData,
    save_closure_record,
    save_term,
    save_year,
)
from services.timetable.exceptions import OverrideChange, find_occurrence, save_override
from services.timetable.generation import generate_occurrences, resolve_window
from services.timetable.sessions import create_one_time_session
from services.tracking.completion import complete_session
from tests.browser.conftest import TIMEOUT_MS, ErrorGuard
from tests.browser.helpers import login, module_school, safe_name, screenshot
from tests.conftest import FAST_HASH, TEST_PASSWORD

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
PARIS = ZoneInfo("Europe/Paris")  # the test app's TIMEZONE
ROLES = ("admin", "coordinator", "mentor", "student", "anonymous")

# File names as people save them: one long word, and a long sentence.
LONG_NAMES = (
    "Revision_worksheet_fractions_decimals_percentages_week_12_final_version_v3.pdf",
    "Notes from the parents evening about Noah and the plan for the spring term.pdf",
)


# --- The school ----------------------------------------------------------------------------


def _user(role: str, name: str) -> User:
    email = name.lower().replace(" ", ".") + "@phone.school.test"
    user = create_user(email, name, role, password=TEST_PASSWORD, hash_method=FAST_HASH)
    db.session.flush()
    return user


def _seed() -> dict:
    """A school with a bit of everything each page shows: weekly sessions with an exception,
    one-time sessions (past and completed with files and a note, past to complete, coming),
    a pending request and its notification. Dates count from the organisation's today as the
    app sees it when the module starts (the browser package pins the clock)."""
    today = today_in(PARIS)
    monday = today - timedelta(days=today.weekday())
    next_monday = monday + timedelta(weeks=1)
    admin = _user("admin", "Alex Admin")
    coordinator = _user("coordinator", "Claire Dubois")
    ada = _user("mentor", "Ada Lovelace-Byron")
    noah = _user("student", "Noah Bernard-Fontaine")
    room, library = Room(name="Room 101", capacity=30), Room(name="Library", capacity=40)
    maths = Subject(name="Mathematics")
    db.session.add_all([room, library, maths])
    db.session.flush()
    group = CourseGroup(name="Maths 7A", subject=maths, mentor=ada, default_room=room)
    db.session.add(group)
    db.session.flush()
    db.session.add(Enrolment(group_id=group.id, student_id=noah.id))
    db.session.add(MentorSubject(mentor_id=ada.id, subject_id=maths.id))
    series = Series(
        group_id=group.id,
        weekday_mask=weekdays_to_mask((0, 2)),
        every_weeks=1,
        start_time=time(9),
        end_time=time(10),
        room_id=room.id,
        first_date=monday,
        mode="in_person",
    )
    db.session.add(series)
    db.session.flush()
    generate_occurrences(*resolve_window(monday, weeks=3), tz=PARIS)
    wednesday = next_monday + timedelta(days=2)
    save_override(
        series, wednesday, OverrideChange(room_id=library.id, notes="Exams in Room 101"),
        actor=coordinator, tz=PARIS,
    )  # fmt: skip

    def one_time(day, start, end):
        return create_one_time_session(
            group_id=group.id, day=day, start=start, end=end, room_id=room.id,
            actor=coordinator, tz=PARIS, today=today,
        ).occurrence  # fmt: skip

    completed = one_time(today - timedelta(days=2), time(10), time(11))
    to_complete = one_time(today - timedelta(days=1), time(14), time(15))
    coming = one_time(next_monday + timedelta(days=3), time(16), time(17))
    complete_session(
        completed, actual_start=time(10), actual_end=time(10, 50),
        notes="Fractions, then decimals; percentages next time.", actor=ada, tz=PARIS,
        now=completed.end_utc + timedelta(hours=1),
    )  # fmt: skip
    for n, name in enumerate(LONG_NAMES):
        db.session.add(
            Attachment(
                occurrence_id=completed.id, uploader_id=ada.id, original_name=name,
                stored_name=f"phone-test-{n}-{completed.id}", content_type="application/pdf",
                size_bytes=123_456 * (n + 1), sha256="0" * 64,
                description="Worksheet_and_answers_for_the_whole_class" if n else "",
            )
        )  # fmt: skip
    db.session.add(
        SessionNote(
            occurrence_id=completed.id, author_id=ada.id, kind=NoteKind.GENERAL,
            body="Noah understood equivalent fractions; see the worksheet.",
        )
    )  # fmt: skip
    request = create_request(
        noah,
        RequestInput(
            mentor_id=ada.id, subject_id=maths.id, title="Algebra revision before the exam",
            description="Chapters 3 and 4, please.", schedule_kind="single",
            day=next_monday + timedelta(days=4), start=time(17), duration=60,
        ),
        tz=PARIS,
    )  # fmt: skip
    year = save_year(
        YearData("This year", today - timedelta(days=100), today + timedelta(days=200))
    )
    term = save_term(
        year, TermData("Spring term", today - timedelta(days=30), today + timedelta(days=60))
    )
    closure = save_closure_record(
        ClosureData(
            "Staff training day", next_monday + timedelta(days=14), next_monday + timedelta(days=14)
        )
    )
    absence = record_absence(
        AbsenceData(ada.id, next_monday + timedelta(days=1), reason="Course"),
        actor=coordinator,
        tz=PARIS,
    )
    # A generation a worker ran (its page shows the outcome).
    finished = datetime.now(UTC)
    run = GenerationRun(
        start=next_monday, end=next_monday + timedelta(weeks=4), sessions=30_000,
        status=GenerationRunStatus.DONE, attempts=1, started_at=finished, finished_at=finished,
        summary={"created": 120, "updated": 0, "removed": 0, "unchanged": 0, "kept": 0,
                 "out_of_date": 0, "closed": 4, "conflicts": [], "shifted": [],
                 "conflict_count": 0, "nothing_because": None},
    )  # fmt: skip
    db.session.add(run)
    db.session.flush()
    ids = {
        "run_id": run.id,
        "year_id": year.id,
        "term_id": term.id,
        "closure_id": closure.id,
        "absence_id": absence.id,
        "emails": {
            "admin": admin.email,
            "coordinator": coordinator.email,
            "mentor": ada.email,
            "student": noah.email,
        },
        "group_id": group.id,
        "room_id": room.id,
        "subject_id": maths.id,
        "user_id": noah.id,
        "series_id": series.id,
        "request_id": request.id,
        "override_id": db.session.scalar(sa.select(DateOverride.id)),
        "note_id": db.session.scalar(sa.select(SessionNote.id)),
        "occurrence_id": completed.id,
        "files_session": completed.id,
        "series_session": find_occurrence(series.id, next_monday).id,
        "today": today,
        "next_monday": next_monday,
        "to_complete": to_complete.id,
        "coming": coming.id,
    }
    db.session.commit()
    return ids


@pytest.fixture(scope="module")
def school(live_server):
    with module_school(live_server.app, _seed) as ids:
        yield ids


@pytest.fixture(scope="module")
def role_page(chromium, live_server, school):
    """`role_page("mentor", js=False)`: one phone-sized page per role and JS setting."""
    contexts, pages = [], {}

    def get(role: str, *, js: bool = True) -> Page:
        key = (role, js)
        if key not in pages:
            context = chromium.new_context(
                base_url=live_server.url,
                viewport=PHONE,
                locale="en-GB",
                timezone_id=live_server.app.config["TIMEZONE"],
                java_script_enabled=js,
            )
            context.set_default_timeout(TIMEOUT_MS)
            contexts.append(context)
            pages[key] = context.new_page()
            if role != "anonymous":
                login(pages[key], school["emails"][role])
                visit(pages[key], "/profile/", js=js)  # past the page logging in led to
        return pages[key]

    yield get
    for context in contexts:
        with contextlib.suppress(PlaywrightError):
            context.close()


@pytest.fixture
def guarded(console, live_server):
    """Attach the console guard (CSP violations, errors) to a module-scoped page for one test."""
    attached = []

    def attach(page: Page) -> Page:
        page.on("console", console.on_console)
        page.on("pageerror", console.on_page_error)
        attached.append(page)
        return page

    live_server.errors.clear()
    yield attach
    for page in attached:
        page.remove_listener("console", console.on_console)
        page.remove_listener("pageerror", console.on_page_error)


# --- Which pages ---------------------------------------------------------------------------

# Endpoints that are not pages: the API, files and exports, and the fragments htmx swaps in.
NOT_PAGES = re.compile(
    r"^(api|api_\w+|api-docs)\.|^static$|\.(feed|download|export|hours_csv|report_csv|bell|open_link|accept"
    r"|date_input|subject_options|card|search_group_students|row|\w+_row|section"
    r"|completion_section|choices|editor_rooms|year_heading|\w+_export|stream|live_cells)$"
)
# The session that each session page is best seen with (the rest show the files' session).
SESSION_FOR = {
    "sessions.cancel": "series_session",
    "sessions.edit": "coming",
    "sessions.delete": "coming",
    "schedule.editor": "series_session",
    "tracking.complete": "to_complete",
    "attendance.take": "to_complete",
}
# Pages showing a date range open on the seeded weeks (the others show today).
DATED = ("schedule.day", "schedule.month")


def page_urls(app, school: dict) -> list[tuple[str, str]]:
    """(endpoint, URL) of every GET page of the app, with the school's ids."""
    urls = []
    with app.test_request_context():
        from flask import url_for

        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if "GET" not in rule.methods or NOT_PAGES.search(rule.endpoint):
                continue
            values = {}
            for argument in rule.arguments:
                key = SESSION_FOR.get(rule.endpoint, argument)
                values[argument] = school[key if key in school else argument]
            if rule.endpoint in DATED:
                values["date"] = school["next_monday"].isoformat()
            urls.append((rule.endpoint, url_for(rule.endpoint, **values)))
    return urls


def visit(page: Page, url: str, *, js: bool = True):
    """Open `url`; a schedule opened bare on a narrow screen goes on to the day (app.js): wait
    for it, so that the next visit is not cut short by that redirect."""
    try:
        response = page.goto(url)
    except PlaywrightError as err:  # cut short by the previous page's redirect: once more
        if "ERR_ABORTED" not in str(err) and "interrupted by another navigation" not in str(err):
            raise
        page.wait_for_load_state()
        response = page.goto(url)
    if js and page.locator("[data-narrow-url]").count():
        page.wait_for_url(re.compile(r"/schedule/day\?|/schedule/mine\?(.*&)?view=day"))
    return response


# --- Measuring -----------------------------------------------------------------------------

# Elements past the screen's edges, unless inside a box that scrolls sideways and fits.
TOO_WIDE = """() => {
  const width = document.documentElement.clientWidth;
  const fits = r => r.left >= -0.5 && r.right <= width + 0.5;
  const scrollBox = el => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (['auto', 'scroll'].includes(getComputedStyle(p).overflowX)) return p;
    }
    return null;
  };
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.classList.length ? '.' + [...el.classList].join('.') : '');
  const found = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width <= 1 || r.height <= 1 || fits(r)) continue;  // nothing drawn, or inside
    if (getComputedStyle(el).visibility === 'hidden') continue;
    const box = scrollBox(el);
    if (box && fits(box.getBoundingClientRect())) continue;
    const path = [];
    for (let p = el; p && p !== document.body && path.length < 4; p = p.parentElement) {
      path.unshift(name(p));
    }
    found.push(path.join(' > ') + ` [${Math.round(r.left)}, ${Math.round(r.right)}]`);
  }
  return found;
}"""


def sideways_scroll(page: Page) -> int:
    return page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def misfits(page: Page) -> list[str]:
    """What makes the page wider than the screen (empty when it fits)."""
    problems = [f"the page scrolls sideways by {px}px" for px in [sideways_scroll(page)] if px > 0]
    return problems + page.evaluate(TOO_WIDE)


def settled_misfits(page: Page) -> list[str]:
    """`misfits` once a swap has settled: while htmx replaces the week by the day, the old
    grid may still be measured for a moment; what must fit is the page the user is left
    with (given up to 5 s to get there, then measured as it is)."""
    with contextlib.suppress(PlaywrightTimeoutError):  # then measured below, and reported
        page.wait_for_function(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth",
            timeout=5000,
        )
    return misfits(page)


def header_rows(page: Page) -> int:
    """How many rows the visible entries of the site header take."""
    tops = page.evaluate(
        """() => [...document.querySelectorAll('.site-header nav > ul > li')]
            .map(li => li.getBoundingClientRect())
            .filter(r => r.width > 0 && r.height > 0)
            .map(r => Math.round(r.top + r.height / 2))"""
    )
    rows: list[int] = []
    for middle in sorted(tops):
        if not rows or middle - rows[-1] > 8:
            rows.append(middle)
    return len(rows)


# --- Every page ----------------------------------------------------------------------------


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
@pytest.mark.parametrize("role", ROLES)
def test_every_page_fits_a_phone(
    request, role_page, school, live_server, guarded, console, role, js
):
    page = guarded(role_page(role, js=js))
    # A role sees its refusals as pages too (403, 404: they must fit as well).
    console.allow_http_error(403, 404)
    failures, seen = [], 0
    for endpoint, url in page_urls(live_server.app, school):
        response = visit(page, url, js=js)
        assert response is not None
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        if not page.locator("main").count():
            continue  # a fragment served on its own URL: checked inside its page
        seen += 1
        # One row of header on every logged-in page.
        logged_in = role != "anonymous" and response.ok and page.locator(".site-header").count()
        if logged_in and (rows := header_rows(page)) != 1:
            failures.append(f"{url}: the header takes {rows} rows")
        problems = misfits(page)
        name = f"phone-390-{'js' if js else 'nojs'}-{role}-{endpoint}"
        screenshot(page, safe_name(name))
        if problems:
            failures.append(f"{url} ({response.status}): " + "; ".join(problems[:6]))
    assert seen >= (2 if role == "anonymous" else 20)
    assert not failures, "\n".join(failures)


# --- The parts the issue named -------------------------------------------------------------


@pytest.mark.parametrize("role", ["coordinator", "mentor", "student"])
def test_a_sessions_files_read_as_blocks_with_names_wrapping_at_line_ends(
    role_page, school, guarded, role
):
    page = guarded(role_page(role))
    visit(page, f"/sessions/{school['files_session']}")
    names = page.locator(".files-table td.file-name a")
    expect(names).to_have_count(len(LONG_NAMES))
    line_height = float(
        page.evaluate(
            "parseFloat(getComputedStyle(document.querySelector('.files-table td')).lineHeight)"
        )
    )
    for n in range(names.count()):
        box = names.nth(n).bounding_box()
        text = names.nth(n).inner_text()
        # Most of the screen's width for the name: at most a few lines, not one per letter.
        assert box["width"] >= 0.7 * PHONE["width"], f"{text!r} is {box['width']}px wide"
        assert box["height"] <= 4 * line_height, f"{text!r} takes {box['height']}px"
    table = page.locator(".files-table")
    assert table.evaluate("t => t.scrollWidth <= t.clientWidth"), "the files table scrolls"
    # The labels say what each line is.
    size = page.locator(".files-table tbody tr").first.locator("td[data-label='Size']")
    assert "Size" in size.evaluate("td => getComputedStyle(td, '::before').content")
    assert not misfits(page)
    screenshot(page, f"phone-390-files-{role}")


def test_the_grid_editor_fits_the_screen_on_the_day_view(role_page, school, guarded):
    page = guarded(role_page("coordinator"))
    visit(page, f"/schedule/day?date={school['next_monday'].isoformat()}")
    occurrence = school["series_session"]
    page.locator(f"#session-card-{occurrence} a.session-open").click()
    editor = page.locator(f"form#session-card-{occurrence}.session-editor")
    expect(editor).to_be_visible()
    box = editor.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    for field in ("Move to date", "New start", "New end", "New room", "Notes"):
        field_box = editor.get_by_label(field).bounding_box()
        assert field_box["x"] >= 0 and field_box["x"] + field_box["width"] <= PHONE["width"]
    assert not misfits(page)
    screenshot(page, "phone-390-grid-editor")
    editor.get_by_role("button", name="Close").click()
    expect(page.locator(f"article#session-card-{occurrence}")).to_be_visible()


def test_on_a_phones_week_the_editor_opens_whole_in_sight(role_page, school, guarded):
    page = guarded(role_page("coordinator"))
    visit(page, f"/schedule/?date={school['next_monday'].isoformat()}")
    # Wednesday's session (the exception's), well right of the screen's edge in the grid.
    occurrence = page.locator(".schedule-grid td:nth-child(4) article.session").first
    occurrence_id = occurrence.get_attribute("id").removeprefix("session-card-")
    occurrence.locator("a.session-open").click()
    editor = page.locator(f"form#session-card-{occurrence_id}.session-editor")
    expect(editor).to_be_visible()
    box = editor.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], box
    expect(editor.get_by_role("button", name="Save")).to_be_in_viewport()
    assert sideways_scroll(page) <= 0
    screenshot(page, "phone-390-week-editor-sheet")
    editor.get_by_role("button", name="Close").click()
    expect(page.locator(f"article#session-card-{occurrence_id}")).to_be_visible()


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_the_navigation_is_one_row_with_a_menu_that_opens(role_page, school, guarded, js):
    page = guarded(role_page("coordinator", js=js))
    visit(page, "/sessions/today/")
    assert header_rows(page) == 1
    menu = page.locator(".site-header details.nav-menu")
    expect(menu.locator("summary")).to_have_text("Menu")
    expect(page.get_by_role("link", name="Monitoring")).to_be_hidden()
    menu.locator("summary").click()
    for name in ("Schedule", "Today", "Generate", "Exceptions", "Monitoring", "Manage"):
        link = menu.get_by_role("link", name=name, exact=True)
        expect(link).to_be_visible()
        box = link.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], name
    expect(menu.get_by_role("button", name=re.compile("^Log out "))).to_be_visible()
    assert not misfits(page)
    screenshot(page, f"phone-390-menu-open-{'js' if js else 'nojs'}")
    # The current page is marked in the menu too.
    expect(menu.get_by_role("link", name="Today", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    menu.locator("summary").click()  # closes again
    expect(menu.get_by_role("link", name="Schedule", exact=True)).to_be_hidden()
    if js:  # a click elsewhere, or Escape, closes it as well
        menu.locator("summary").click()
        page.locator("main h1").click()
        expect(menu.get_by_role("link", name="Schedule", exact=True)).to_be_hidden()
        menu.locator("summary").click()
        menu.get_by_role("link", name="Schedule", exact=True).focus()
        page.keyboard.press("Escape")
        expect(menu.get_by_role("link", name="Schedule", exact=True)).to_be_hidden()
        expect(menu.locator("summary")).to_be_focused()


def test_the_schedule_opens_on_the_day_on_a_phone_and_the_week_stays_a_tap_away(
    role_page, school, guarded
):
    page = guarded(role_page("coordinator"))
    visit(page, "/sessions/today/")
    page.locator(".site-header details.nav-menu summary").click()
    page.locator(".site-header details.nav-menu").get_by_role("link", name="Schedule").click()
    expect(page).to_have_url(re.compile(r"/schedule/day\?"))
    expect(page.locator("#schedule h2.schedule-title")).to_contain_text(
        school["today"].strftime("%A")
    )  # the day of today, whatever the hour
    assert not settled_misfits(page)
    screenshot(page, "phone-390-schedule-opens-on-day")
    # The week, chosen, stays the week (its link carries its parameters).
    page.locator(".schedule-nav").get_by_role("link", name="Week", exact=True).click()
    expect(page.locator("#schedule h2.schedule-title")).to_contain_text("Week of")
    page.reload()
    expect(page.locator("#schedule h2.schedule-title")).to_contain_text("Week of")
    assert sideways_scroll(page) <= 0  # the grid scrolls inside its own box
    # A student's own timetable opens on the day as well.
    student = guarded(role_page("student"))
    student.goto("/schedule/mine")
    expect(student).to_have_url(re.compile(r"/schedule/mine\?(.*&)?view=day"))


def test_without_javascript_the_schedule_stays_on_the_week_and_fits(role_page, school, guarded):
    page = guarded(role_page("coordinator", js=False))
    visit(page, "/schedule/", js=False)
    expect(page.locator("#schedule h2.schedule-title")).to_contain_text("Week of")
    expect(
        page.locator(".schedule-nav").get_by_role("link", name="Day", exact=True)
    ).to_be_visible()
    assert not misfits(page)


@pytest.mark.parametrize("width", [1200, 1280, DESKTOP["width"]])
@pytest.mark.parametrize("role", ["admin", "coordinator", "mentor", "student"])
def test_a_desktop_keeps_the_whole_navigation_in_one_row(
    chromium, live_server, school, role, width
):
    context = chromium.new_context(
        base_url=live_server.url, viewport={"width": width, "height": 900}, locale="en-GB",
        timezone_id=live_server.app.config["TIMEZONE"],
    )  # fmt: skip
    guard = ErrorGuard(live_server)
    try:
        page = context.new_page()
        page.on("console", guard.on_console)
        page.on("pageerror", guard.on_page_error)
        login(page, school["emails"][role])
        page.goto("/profile/")
        assert header_rows(page) == 1
        expect(page.locator(".site-header details.nav-menu")).to_be_hidden()
        expect(
            page.locator(".site-header .nav-wide").get_by_role("link", name="Profile")
        ).to_be_visible()
        assert sideways_scroll(page) <= 0
        screenshot(page, f"desktop-{width}-nav-{role}")
        # The schedule stays on the week on a desktop.
        page.goto("/schedule/mine" if role in ("mentor", "student") else "/schedule/")
        expect(page.locator("#schedule h2.schedule-title")).to_contain_text("Week of")
    finally:
        context.close()
    guard.check()


@pytest.mark.parametrize("role", ["coordinator", "student"])
def test_a_desktop_without_javascript_keeps_the_row_and_the_week(
    chromium, live_server, school, role
):
    context = chromium.new_context(
        base_url=live_server.url, viewport=DESKTOP, locale="en-GB",
        timezone_id=live_server.app.config["TIMEZONE"], java_script_enabled=False,
    )  # fmt: skip
    try:
        page = context.new_page()
        login(page, school["emails"][role])
        page.goto("/schedule/mine" if role == "student" else "/schedule/")
        assert header_rows(page) == 1
        expect(page.locator(".site-header details.nav-menu")).to_be_hidden()
        expect(page.locator("#schedule h2.schedule-title")).to_contain_text("Week of")
        assert sideways_scroll(page) <= 0
        screenshot(page, f"desktop-1366-nojs-schedule-{role}")
    finally:
        context.close()
