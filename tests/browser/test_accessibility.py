"""Accessibility audit with axe-core in Chromium: the main pages of every role (and the login
page) are checked against the WCAG 2.0/2.1 A and AA rules, and no violation of impact
"serious" or "critical" is allowed. Moderate and minor ones are printed (`pytest -s`) only.

axe-core is vendored for the tests only (tests/browser/vendor/, MPL-2.0; never served by the
app). It is injected with `page.evaluate(source)`: Playwright evaluates through the DevTools
protocol, which the page's Content-Security-Policy (`script-src 'self'`) does not govern, and
axe needs no eval, so the audited page keeps its real CSP (the console guard would report any
violation). `page.add_script_tag` is refused by that CSP, and a `bypass_csp=True` context
would audit a page the app never serves.

One school is seeded for the module and one logged-in page is kept per role, so the data is
made here with the services the factories use: the factories are function-scoped, and a test
that requests them (through `app`) empties the database when it ends. No test here requests
`app`; the `school` fixture empties the tables at the end of the module instead.

Today's sessions: the school has sessions in every state on today's date (a cancelled one, a
moved one, a one-time one, the two of them in conflict), at fixed local times, so the month,
week, day, rooms-as-rows and "mine" views are audited with today's column or cell full
whatever the hour the suite runs at. "Today" is the suite's pinned date (`PINNED_TODAY`, the
app's today too); the pages are asked for that date explicitly. The colour-contrast rule is checked
on today's cell in light and dark mode, at rest, hovered and focused.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from models import (
    CourseGroup,
    Enrolment,
    MentorSubject,
    Occurrence,
    Room,
    Series,
    Subject,
    User,
    db,
)
from models.series import weekdays_to_mask
from services.people.accounts import create_user
from services.requests.lifecycle import RequestInput, create_request
from services.timetable.exceptions import OverrideChange, find_occurrence, save_override
from services.timetable.generation import generate_occurrences, resolve_window
from services.tracking.completion import complete_session
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.helpers import login, module_school, safe_name, screenshot
from tests.conftest import FAST_HASH, PINNED_TODAY, TEST_PASSWORD

AXE_VERSION = "4.14.1"
AXE_SOURCE = (
    Path(__file__).resolve().parent / "vendor" / f"axe-core-{AXE_VERSION}.min.js"
).read_text(encoding="utf-8")
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    # Listed to say it: text contrast (WCAG 1.4.3, in the wcag2aa tag) is checked everywhere.
    "rules": {"color-contrast": {"enabled": True}},
    "resultTypes": ["violations"],
}
CONTRAST_ONLY = {"runOnly": {"type": "rule", "values": ["color-contrast"]}}
FAILING_IMPACTS = ("serious", "critical")
TARGETS_SHOWN = 4

PARIS = ZoneInfo("Europe/Paris")  # the test app's TIMEZONE
TODAY = PINNED_TODAY  # the one date every case and the seed are relative to
THIS_MONDAY = TODAY - timedelta(days=TODAY.weekday())
NEXT_MONDAY = THIS_MONDAY + timedelta(weeks=1)


# --- The school ----------------------------------------------------------------------------


def _user(role: str, name: str) -> User:
    email = name.lower().replace(" ", ".") + "@a11y.school.test"
    user = create_user(email, name, role, password=TEST_PASSWORD, hash_method=FAST_HASH)
    db.session.flush()
    return user


def _weekly(group: CourseGroup, weekdays: tuple[int, ...], start: time, end: time) -> Series:
    series = Series(
        group_id=group.id,
        weekday_mask=weekdays_to_mask(weekdays),
        every_weeks=1,
        start_time=start,
        end_time=end,
        room_id=group.default_room_id,
        first_date=THIS_MONDAY,
        mode="in_person",
    )
    db.session.add(series)
    db.session.flush()
    return series


def _seed_today(mentor: User, students, *, chess: Subject, room: Room, actor: User) -> None:
    """Today, at fixed local times: Chess club's 16:00 series date cancelled, its 18:00 one
    moved to 11:00 in R101, and a one-time session at 11:30 in R101 (a room and mentor
    conflict with the moved one)."""
    club = CourseGroup(name="Chess club", subject=chess, mentor=mentor, default_room=room)
    db.session.add(club)
    db.session.flush()
    db.session.add_all(Enrolment(group_id=club.id, student_id=s.id) for s in students)
    weekday = (TODAY.weekday(),)
    cancelled = _weekly(club, weekday, time(16), time(17))
    moved = _weekly(club, weekday, time(18), time(19))
    generate_occurrences(*resolve_window(TODAY, weeks=1), tz=PARIS)
    db.session.flush()
    off = OverrideChange(cancelled=True, notes="Teacher ill")
    save_override(cancelled, TODAY, off, actor=actor, tz=PARIS)
    earlier = OverrideChange(start_time=time(11), end_time=time(12), room_id=room.id)
    save_override(moved, TODAY, earlier, actor=actor, tz=PARIS)
    start = datetime.combine(TODAY, time(11, 30), tzinfo=PARIS).astimezone(UTC)
    db.session.add(
        Occurrence(
            group_id=club.id,
            start_utc=start,
            end_utc=start + timedelta(hours=1),
            room_id=room.id,
            title="Chess tournament",
        )
    )
    db.session.flush()


def _seed() -> dict:
    """Two mentors' groups with weekly sessions this week and the next two, an exception, a
    session to complete (started an hour ago), a completed one and a pending request."""
    coordinator = _user("coordinator", "Claire Dubois")
    ada, ben = _user("mentor", "Ada Lovelace"), _user("mentor", "Ben Okri")
    noah, emma = _user("student", "Noah Bernard"), _user("student", "Emma Martin")
    r101, lab = Room(name="R101", capacity=30), Room(name="Lab", capacity=20)
    maths, art = Subject(name="Mathematics"), Subject(name="Art")
    db.session.add_all([r101, lab, maths, art])
    db.session.flush()
    maths_7a = CourseGroup(name="Maths 7A", subject=maths, mentor=ada, default_room=r101)
    art_7a = CourseGroup(name="Art 7A", subject=art, mentor=ben, default_room=lab)
    db.session.add_all([maths_7a, art_7a])
    db.session.flush()
    for group in (maths_7a, art_7a):
        db.session.add_all(Enrolment(group_id=group.id, student_id=s.id) for s in (noah, emma))
    db.session.add(MentorSubject(mentor_id=ada.id, subject_id=maths.id))
    db.session.add(MentorSubject(mentor_id=ben.id, subject_id=art.id))
    maths_series = _weekly(maths_7a, (0, 2), time(9), time(10))
    _weekly(art_7a, (1, 3), time(14), time(15, 30))
    generate_occurrences(*resolve_window(THIS_MONDAY, weeks=3), tz=PARIS)
    db.session.flush()
    # An exception: next Wednesday's maths moves to 16:00 in the lab.
    wednesday = NEXT_MONDAY + timedelta(days=2)
    change = OverrideChange(
        new_date=wednesday, start_time=time(16), end_time=time(17), room_id=lab.id, notes="Exams"
    )
    save_override(maths_series, wednesday, change, actor=coordinator, tz=PARIS)
    _seed_today(ada, (noah, emma), chess=art, room=r101, actor=coordinator)
    # Extra sessions: one that started an hour ago (to complete), one completed two days ago.
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    extra = [
        Occurrence(
            group_id=maths_7a.id,
            start_utc=now - timedelta(days=days, hours=1),
            end_utc=now - timedelta(days=days, minutes=10),
            room_id=r101.id,
        )
        for days in (0, 2)
    ]
    db.session.add_all(extra)
    db.session.flush()
    to_complete, completed = extra
    started = completed.start_utc.astimezone(PARIS)
    complete_session(
        completed,
        actual_start=started.time(),
        actual_end=(started + timedelta(minutes=50)).time(),
        notes="Fractions, then decimals.",
        actor=ada,
        tz=PARIS,
    )
    request = RequestInput(
        mentor_id=ada.id,
        subject_id=maths.id,
        title="Algebra revision",
        description="Before the exam, please.",
        schedule_kind="single",
        day=NEXT_MONDAY + timedelta(days=4),
        start=time(17),
        duration=60,
    )
    create_request(noah, request, tz=PARIS)
    db.session.flush()
    ids = {
        "emails": {"coordinator": coordinator.email, "mentor": ada.email, "student": noah.email},
        "group": maths_7a.id,
        "r101": r101.id,
        "user": noah.id,
        "next_monday_maths": find_occurrence(maths_series.id, NEXT_MONDAY).id,
        "to_complete": to_complete.id,
        "completed": completed.id,
    }
    db.session.commit()
    return ids


@pytest.fixture(scope="module")
def school(live_server):
    with module_school(live_server.app, _seed) as ids:
        yield ids


@pytest.fixture(scope="module")
def role_page(chromium, live_server, school):
    """`role_page("mentor")`: one page per role for the module, logged in on first use."""
    contexts, pages = [], {}

    def get(role: str) -> Page:
        if role not in pages:
            context = chromium.new_context(
                base_url=live_server.url,
                viewport={"width": 1280, "height": 900},
                locale="en-GB",
                timezone_id=live_server.app.config["TIMEZONE"],
            )
            context.set_default_timeout(TIMEOUT_MS)
            contexts.append(context)
            pages[role] = context.new_page()
            if role != "anonymous":
                login(pages[role], school["emails"][role])
        return pages[role]

    yield get
    for context in contexts:
        with contextlib.suppress(PlaywrightError):
            context.close()


# --- Running axe ---------------------------------------------------------------------------


def run_axe(page: Page) -> list[dict]:
    """axe's violations on the page as it is now (injected again after each navigation)."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE_SOURCE)
    return page.evaluate("options => axe.run(document, options)", AXE_OPTIONS)["violations"]


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        targets = [" ".join(map(str, node["target"])) for node in v["nodes"]]
        shown = "; ".join(targets[:TARGETS_SHOWN])
        more = f" (+{len(targets) - TARGETS_SHOWN} more)" if len(targets) > TARGETS_SHOWN else ""
        lines.append(f"- {v['id']} [{v['impact']}] {v['help']}: {shown}{more}")
    return "\n".join(lines)


# --- What each page needs before it is audited ---------------------------------------------


def open_grid_editor(page: Page, school: dict) -> None:
    occurrence = school["next_monday_maths"]
    page.locator(f"#session-card-{occurrence} a.session-open").click()
    expect(page.locator(f"form#session-card-{occurrence}.session-editor")).to_be_visible()


def open_filter_suggestions(page: Page, school: dict) -> None:
    room = page.locator("#schedule-filters").get_by_label("Room", exact=True)
    room.press_sequentially("r")
    expect(page.locator("#filter-room-list")).to_be_visible()
    room.press("ArrowDown")


def open_editor_rooms(page: Page, school: dict) -> None:
    open_grid_editor(page, school)
    room = page.locator("form.session-editor").get_by_label("New room")
    room.press("ArrowDown")
    expect(page.locator("form.session-editor [role=listbox]")).to_be_visible()


def open_completion_form(page: Page, school: dict) -> None:
    occurrence = school["to_complete"]
    page.locator(f"#completion-{occurrence}").get_by_role("button", name="Complete…").click()
    expect(page.locator(f"#completion-form-{occurrence}")).to_be_visible()


def run_preview(page: Page, school: dict) -> None:
    """A forced preview of the coming weeks: its folded lists, tables and pagers."""
    form = page.locator("#generate-form")
    form.get_by_label("Update out-of-date sessions and remove stale ones (force)").check()
    form.get_by_role("button", name="Preview").click()
    expect(page.locator("#generation-sessions")).to_be_visible()
    page.locator("#generation-sessions details summary").first.click()


def case(role, url, shows=None, action=None, *, id):
    """`shows`: a text the page's <main> must contain (the audit is of a page with data)."""
    return pytest.param(role, url, shows, action, id=f"{role}-{id}")


NEXT_WEEK = f"date={NEXT_MONDAY.isoformat()}"
ON_TODAY = f"date={TODAY.isoformat()}"
CASES = [
    # Today's sessions in every state, in every view (see the module's docstring).
    case("coordinator", f"/schedule/month?{ON_TODAY}", "Chess club", id="month-today"),
    case("coordinator", f"/schedule/?{ON_TODAY}", "Chess club", id="week-today"),
    case("coordinator", f"/schedule/day?{ON_TODAY}", "Chess club", id="day-today"),
    case("coordinator", f"/schedule/?{ON_TODAY}&layout=rooms", "Chess club", id="rooms-today"),
    case("mentor", f"/schedule/mine?view=month&{ON_TODAY}", "Chess club", id="mine-month-today"),
    case("student", f"/schedule/mine?{ON_TODAY}", "Chess club", id="mine-week-today"),
    case("coordinator", f"/schedule/?{NEXT_WEEK}", "Maths 7A", id="week"),
    case(
        "coordinator",
        f"/schedule/?{NEXT_WEEK}",
        "Maths 7A",
        open_grid_editor,
        id="week-editor",
    ),
    case(
        "coordinator",
        f"/schedule/?{NEXT_WEEK}",
        "Maths 7A",
        open_filter_suggestions,
        id="week-filter-suggestions",
    ),
    case(
        "coordinator",
        f"/schedule/?{NEXT_WEEK}",
        "Maths 7A",
        open_editor_rooms,
        id="week-editor-rooms",
    ),
    case("coordinator", f"/schedule/?{NEXT_WEEK}&room={{r101}}", "Maths 7A", id="week-room"),
    case("coordinator", f"/schedule/month?{NEXT_WEEK}", "Maths 7A", id="month"),
    case("coordinator", "/sessions/today/", "Today's sessions", id="today"),
    case("coordinator", "/timetable/generate", id="generate"),
    case("coordinator", "/timetable/generate", None, run_preview, id="generate-preview"),
    case("coordinator", "/timetable/exceptions", "Exams", id="exceptions"),
    case("coordinator", "/manage/", id="manage"),
    case("coordinator", "/manage/rooms", "R101", id="rooms"),
    case("coordinator", "/manage/subjects", "Mathematics", id="subjects"),
    case("coordinator", "/manage/groups", "Maths 7A", id="groups"),
    case("coordinator", "/manage/groups/{group}", "Noah Bernard", id="group"),
    case("coordinator", "/manage/users", "Ada Lovelace", id="users"),
    case("coordinator", "/tracking/", "Maths 7A", id="tracking"),
    case("coordinator", "/sessions/{completed}", "Fractions, then decimals.", id="session"),
    case("mentor", "/dashboard/", "Maths 7A", id="dashboard"),
    case("mentor", "/requests/pending", "Algebra revision", id="pending"),
    case("mentor", f"/schedule/mine?{NEXT_WEEK}", "Maths 7A", id="mine"),
    case("mentor", "/sessions/{to_complete}", None, open_completion_form, id="session-complete"),
    case(
        "mentor",
        "/attendance/sessions/{to_complete}/register/take",
        "Save the register",
        id="register-form",
    ),
    case("coordinator", "/attendance/", "Below 90%", id="attendance-report"),
    case("mentor", "/availability/", "Weekly hours", id="availability"),
    case("mentor", "/profile/", "Reminders", id="profile"),
    case("student", "/dashboard/", "Maths 7A", id="dashboard"),
    case("student", "/requests/new", id="new-request"),
    case("student", "/requests/mentors", "Ada Lovelace", id="mentors"),
    case("student", f"/schedule/mine?{NEXT_WEEK}", "Art 7A", id="mine"),
    case("anonymous", "/auth/login", id="login"),
]


@pytest.mark.parametrize(("role", "url", "shows", "action"), CASES)
def test_no_serious_or_critical_wcag_violations(
    request, role_page, school, console, live_server, role, url, shows, action
):
    live_server.errors.clear()
    page = role_page(role)
    console.attach(page)  # console errors, page errors and CSP violation events
    try:
        response = page.goto(url.format(**school))
        assert response is not None and response.ok, f"{url}: {response and response.status}"
        if shows is not None:
            expect(page.locator("main")).to_contain_text(shows)
        if action is not None:
            action(page, school)
        violations = run_axe(page)
    finally:
        console.detach(page)
    failing = [v for v in violations if v["impact"] in FAILING_IMPACTS]
    others = [v for v in violations if v["impact"] not in FAILING_IMPACTS]
    if others:
        print(f"\n{request.node.name}: other WCAG violations (not failed on)\n{describe(others)}")
    if failing:
        screenshot(page, "a11y-" + safe_name(request.node.nodeid))
    assert not failing, f"{page.url}:\n{describe(failing)}"


PHONE = {"width": 320, "height": 640}  # WCAG 1.4.10 Reflow: 320 CSS pixels wide


@pytest.mark.parametrize(
    ("role", "url", "shows"),
    [pytest.param(*p.values[:3], id=p.id) for p in CASES if p.values[3] is None],
)
def test_every_page_reflows_to_a_phone_without_scrolling_sideways(
    role_page, school, live_server, role, url, shows
):
    # The grids and tables may scroll inside their own box (a data table is exempt); the page
    # itself, its navigation, forms and text fit the screen.
    live_server.errors.clear()
    page = role_page(role)
    page.set_viewport_size(PHONE)
    try:
        page.goto(url.format(**school))
        if shows is not None:
            expect(page.locator("main")).to_contain_text(shows)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        if overflow > 0:
            screenshot(page, "phone-" + safe_name(f"{role}-{url}"))
        assert overflow <= 0, f"{url} as {role} is {overflow}px wider than a 320px screen"
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})


# --- Today's cell, as readable as any other ------------------------------------------------


def run_contrast(page: Page, selector: str) -> dict:
    """axe's colour-contrast rule on the elements under `selector`: its passes, violations
    and the nodes it could not decide (incomplete), each a list of CSS selectors."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE_SOURCE)
    results = page.evaluate(
        "([selector, options]) => axe.run(selector, options)", [selector, CONTRAST_ONLY]
    )
    return {
        kind: [" ".join(map(str, n["target"])) for r in results[kind] for n in r["nodes"]]
        for kind in ("passes", "violations", "incomplete")
    }


TODAY_CELL = "table.schedule-month td.is-today"
TODAY_STATES = {  # what each of today's sessions says about itself in the month view
    "11:00 Chess club": "Moved",
    "11:30 Chess club": "One-time",
    "16:00 Chess club": "(cancelled)",
}


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize(
    ("role", "url"),
    [
        ("coordinator", f"/schedule/month?{ON_TODAY}"),
        ("mentor", f"/schedule/mine?view=month&{ON_TODAY}"),
    ],
    ids=["month", "mine-month"],
)
def test_today_s_sessions_in_the_month_view_are_readable(
    request, role_page, school, live_server, role, url, scheme
):
    live_server.errors.clear()
    page = role_page(role)
    page.emulate_media(color_scheme=scheme)
    try:
        page.goto(url)
        today = page.locator(TODAY_CELL)
        expect(today).to_have_count(1)
        expect(today.locator(".month-day")).to_have_text(f"{TODAY.day} (today)")
        for text, state in TODAY_STATES.items():
            entry = today.locator("li", has_text=text)
            expect(entry.get_by_role("link")).to_be_visible()
            expect(entry).to_contain_text(state)
        expect(today.locator("li", has_text="11:00 Chess club")).to_contain_text("Conflict")
        screenshot(page, f"month-today-{safe_name(request.node.callspec.id)}")
        # Every link and badge in today's cell, at rest, hovered, then focused.
        link = today.locator("li", has_text="11:00 Chess club").get_by_role("link")
        moments = {"at rest": None, "hovered": link.hover, "focused": link.focus}
        moments["day focused"] = today.locator(".month-day").focus
        for moment, action in moments.items():
            if action is not None:
                action()
            found = run_contrast(page, TODAY_CELL)
            label = f"{url} ({scheme}, {moment})"
            if found["violations"] or found["incomplete"]:
                screenshot(page, f"contrast-{safe_name(request.node.name)}-{moment}")
            assert not found["violations"], f"{label}: too little contrast: {found['violations']}"
            assert not found["incomplete"], f"{label}: contrast undecided: {found['incomplete']}"
            # Each session's link (and the day number) was measured, not skipped.
            assert len(found["passes"]) >= len(TODAY_STATES) + 1, f"{label}: {found['passes']}"
    finally:
        page.emulate_media(color_scheme="light")


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize(
    ("role", "url"),
    [
        ("coordinator", f"/schedule/?{ON_TODAY}"),
        ("coordinator", f"/schedule/?{ON_TODAY}&layout=rooms"),
        ("coordinator", f"/schedule/day?{ON_TODAY}"),
        ("student", f"/schedule/mine?{ON_TODAY}"),
    ],
    ids=["week", "rooms", "day", "mine-week"],
)
def test_today_s_sessions_in_the_grids_are_readable(
    request, role_page, school, live_server, role, url, scheme
):
    """Today's column header and today's cards (cancelled, moved, one-time, in conflict), at
    rest, then the header's link and a cancelled card hovered and focused."""
    live_server.errors.clear()
    page = role_page(role)
    page.emulate_media(color_scheme=scheme)
    try:
        page.goto(url)
        grid = page.locator("table.schedule-grid")
        expect(grid.locator("th.is-today")).to_have_count(1)
        cancelled = grid.locator(".session.is-cancelled", has_text="16:00").first
        expect(cancelled).to_contain_text("Cancelled")
        expect(grid.locator(".session.is-moved", has_text="11:00")).to_contain_text("Moved")
        one_time = grid.locator(".session:not(.is-moved)", has_text="11:30\u201312:30")
        expect(one_time).to_contain_text("One-time")
        header_link = grid.locator("th.is-today a")
        moments = {"at rest": None, "card hovered": cancelled.locator("a").hover}
        moments["card focused"] = cancelled.locator("a").focus
        if header_link.count():  # the day view's header is text, not a link
            moments["header hovered"] = header_link.hover
            moments["header focused"] = header_link.focus
        for moment, action in moments.items():
            if action is not None:
                action()
            found = run_contrast(page, "table.schedule-grid")
            label = f"{url} ({scheme}, {moment})"
            if found["violations"]:
                screenshot(page, f"contrast-{safe_name(request.node.name)}-{moment}")
            assert not found["violations"], f"{label}: too little contrast: {found['violations']}"
            assert found["passes"], f"{label}: nothing measured"
    finally:
        page.emulate_media(color_scheme="light")
