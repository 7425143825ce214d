"""The schedule grid in Chromium: a coordinator cancels and moves single sessions inline, only
the touched cells change, errors stay in the editor, and navigation keeps the URL."""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from models import DateOverride, Occurrence, OccurrenceStatus, db
from services.timetable.exceptions import find_occurrence
from services.timetable.generation import generate_occurrences, resolve_window
from tests.browser.helpers import pick, screenshot
from tests.conftest import PINNED_TODAY

PARIS = ZoneInfo("Europe/Paris")  # the test app's TIMEZONE
# A Monday ahead, so that every session of the week is in the future.
TERM = PINNED_TODAY - timedelta(days=PINNED_TODAY.weekday()) + timedelta(weeks=4)
TUE, WED, THU = (TERM + timedelta(days=n) for n in (1, 2, 3))
GRID = f"/schedule/?date={TERM.isoformat()}"


def cell(page: Page, day: date, hour: int):
    return page.locator(f"#cell-{day:%Y%m%d}-{hour:02d}")


def remember_page(page: Page, *cell_ids: str) -> None:
    """Mark the window (gone on any reload) and keep the given cells' DOM nodes."""
    page.evaluate(
        "ids => { window.notReloaded = true;"
        " window.keptCells = ids.map(id => document.getElementById(id)); }",
        list(cell_ids),
    )


def assert_same_page_and_cells(page: Page) -> None:
    """No reload, and the remembered cells are the very same nodes (not redrawn)."""
    assert page.evaluate("window.notReloaded === true"), "the page was reloaded"
    assert page.evaluate(
        "window.keptCells.every(node => node && document.getElementById(node.id) === node)"
    ), "a cell that the change did not touch was redrawn"


@pytest.fixture
def school(make_user, make_room, make_group, make_series):
    """Maths (R101, Mon+Wed 09:00), Art (Lab, Tue 14:00), Music (Studio, Thu 11:00): ids."""
    r101, lab, studio = make_room("R101"), make_room("Lab"), make_room("Studio")
    maths = make_group("Maths 7A", room=r101, subject="Mathematics")
    art = make_group("Art 7A", room=lab, subject="Art")
    music = make_group("Music 7A", room=studio, subject="Music")
    maths_series = make_series(maths, weekdays=(0, 2), start=time(9), end=time(10), first_date=TERM)
    art_series = make_series(art, weekdays=(1,), start=time(14), end=time(15), first_date=TERM)
    make_series(music, weekdays=(3,), start=time(11), end=time(12), first_date=TERM)
    first, end = resolve_window(TERM, weeks=2)
    generate_occurrences(first, end, tz=PARIS)
    db.session.commit()
    # Plain ids: touching an expired ORM object while the browser waits would start a
    # transaction in the test (BEGIN IMMEDIATE on SQLite) and hold up the server's writes.
    ids = {
        "lab": lab.id,
        "studio": studio.id,
        "monday": find_occurrence(maths_series.id, TERM).id,
        "wednesday": find_occurrence(maths_series.id, WED).id,
        "tuesday": find_occurrence(art_series.id, TUE).id,
    }
    db.session.commit()
    return ids


def open_editor(page: Page, occurrence_id: int):
    page.locator(f"#session-card-{occurrence_id} a.session-open").click()
    editor = page.locator(f"form#session-card-{occurrence_id}.session-editor")
    expect(editor).to_be_visible()
    return editor


def test_cancel_one_session_inline_then_reload(page, log_in, school):
    log_in("coordinator")
    page.goto(GRID)
    monday = school["monday"]
    remember_page(page, f"cell-{TUE:%Y%m%d}-14", f"cell-{THU:%Y%m%d}-11")
    editor = open_editor(page, monday)
    # The editor takes the focus: the keyboard user is in it.
    expect(editor.locator(":focus")).to_have_count(1)
    editor.get_by_label("Cancel this date").check()
    editor.get_by_label("Notes").fill("Staff training")
    editor.get_by_role("button", name="Save").click()
    card = cell(page, TERM, 9).locator(f"#session-card-{monday}")
    expect(card).to_have_class(re.compile(r"\bis-cancelled\b"))
    expect(card).to_contain_text("Cancelled")
    expect(page.locator(".toast")).to_contain_text("Cancelled Maths 7A")
    assert_same_page_and_cells(page)
    page.reload()
    expect(cell(page, TERM, 9).locator(f"#session-card-{monday}")).to_contain_text("Cancelled")
    db.session.expire_all()
    assert db.session.get(Occurrence, monday).status == OccurrenceStatus.CANCELLED


def test_move_a_session_to_another_day_room_and_time_inline(page, log_in, school):
    log_in("coordinator")
    page.goto(GRID)
    wednesday = school["wednesday"]
    remember_page(page, f"cell-{TUE:%Y%m%d}-14", f"cell-{TERM:%Y%m%d}-09")
    editor = open_editor(page, wednesday)
    editor.get_by_label("Move this date").check()
    editor.get_by_label("Move to date").fill(THU.isoformat())
    editor.get_by_label("New start").fill("15:00")
    editor.get_by_label("New end").fill("16:30")
    pick(editor.get_by_label("New room"), "Stu", "Studio")
    editor.get_by_role("button", name="Save").click()
    # Gone from Wednesday 09:00, shown on Thursday 15:00 (an out-of-band swap), marked moved.
    moved = cell(page, THU, 15).locator(f"#session-card-{wednesday}")
    expect(moved).to_contain_text("15:00\u201316:30")
    expect(moved).to_contain_text("Studio")
    expect(moved).to_contain_text("Moved")
    expect(cell(page, WED, 9).locator("article")).to_have_count(0)
    assert_same_page_and_cells(page)
    screenshot(page, "schedule-week-after-move")
    page.reload()
    expect(cell(page, THU, 15).locator(f"#session-card-{wednesday}")).to_contain_text("Moved")
    override = db.session.query(DateOverride).one()
    assert override.original_date == WED and override.room_id == school["studio"]


def test_a_conflict_shows_in_the_editor_and_keeps_what_was_typed(page, log_in, school, console):
    console.allow_http_error(409)
    log_in("coordinator")
    page.goto(GRID)
    monday = school["monday"]
    editor = open_editor(page, monday)
    editor.get_by_label("Move this date").check()
    editor.get_by_label("Move to date").fill(TUE.isoformat())
    editor.get_by_label("New start").fill("14:30")
    editor.get_by_label("New end").fill("15:30")
    pick(editor.get_by_label("New room"), "La", "Lab")
    # The room's suggestions named Art 7A already ("busy: Art 7A"): wait for the answer itself.
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        editor.get_by_role("button", name="Save").click()
    assert answer.value.status == 409
    editor = page.locator(f"form#session-card-{monday}.session-editor")
    expect(editor).to_contain_text("Art 7A")  # the session in the way is named
    expect(editor.get_by_label("New start")).to_have_value("14:30")
    expect(editor.get_by_label("New room")).to_have_value("Lab")
    assert db.session.query(DateOverride).count() == 0


def test_end_before_start_is_refused_in_the_editor(page, log_in, school, console):
    console.allow_http_error(422)
    log_in("coordinator")
    page.goto(GRID)
    editor = open_editor(page, school["tuesday"])
    editor.get_by_label("New start").fill("15:00")
    editor.get_by_label("New end").fill("14:00")
    editor.get_by_role("button", name="Save").click()
    expect(page.locator(f"form#session-card-{school['tuesday']}")).to_contain_text(
        "must be after the start"
    )


def test_escape_and_close_put_the_card_back(page, log_in, school):
    log_in("coordinator")
    page.goto(GRID)
    monday = school["monday"]
    editor = open_editor(page, monday)
    editor.get_by_label("Notes").press("Escape")
    card = page.locator(f"article#session-card-{monday}")
    expect(card).to_be_visible()
    expect(card.locator("a.session-open")).to_be_focused()
    editor = open_editor(page, monday)
    editor.get_by_role("button", name="Close").click()
    expect(page.locator(f"article#session-card-{monday}")).to_be_visible()
    assert db.session.query(DateOverride).count() == 0


def overlaps(a: dict, b: dict) -> bool:
    """Whether two bounding boxes share any area."""
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


@pytest.mark.parametrize("weekday", ["wednesday", "sunday"])
def test_the_open_editor_covers_no_other_days_cards_on_a_desktop(
    request, page, log_in, school, make_group, make_series, make_room, weekday
):
    # Cards at 09:00 on every day: the editor of Wednesday's (mid-week) or Sunday's (the
    # last column, where it used to open leftwards over Saturday) has neighbours both sides.
    drama = make_group("Drama 7A", room=make_room("Hall"), subject="Drama")
    series = make_series(drama, weekdays=(1, 3, 4, 5, 6), start=time(9), end=time(10),
                         first_date=TERM)  # fmt: skip
    generate_occurrences(*resolve_window(TERM, weeks=1), tz=PARIS)
    db.session.commit()
    sunday = find_occurrence(series.id, TERM + timedelta(days=6)).id
    db.session.commit()
    page.set_viewport_size({"width": 1366, "height": 900})
    log_in("coordinator")
    page.goto(GRID)
    editor = open_editor(page, school["wednesday"] if weekday == "wednesday" else sunday)
    box = editor.bounding_box()
    cards = page.locator("article.session")
    assert cards.count() >= 6
    for n in range(cards.count()):
        card = cards.nth(n)
        assert not overlaps(box, card.bounding_box()), (
            f"the editor lies over {card.inner_text().splitlines()[0:3]}"
        )
    # The whole editor is on screen, nothing scrolls sideways.
    assert box["x"] >= 0 and box["x"] + box["width"] <= 1366
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # Closing is "Close"; "Cancel this date" is only the action.
    expect(editor.get_by_role("button", name="Cancel")).to_have_count(0)
    expect(editor.get_by_label("Cancel this date")).to_be_visible()
    screenshot(page, f"grid-editor-1366-{weekday}")
    editor.get_by_role("button", name="Close").click()
    expect(page.locator("form.session-editor")).to_have_count(0)


def test_week_navigation_swaps_the_grid_and_keeps_the_url(page, log_in, school):
    log_in("coordinator")
    page.goto(GRID)
    remember_page(page)
    page.get_by_role("button", name="Next week").click()
    next_monday = TERM + timedelta(weeks=1)
    expect(page).to_have_url(re.compile(rf"date={next_monday.isoformat()}"))
    expect(page.locator(".schedule-title")).to_contain_text(f"{next_monday:%d %b}")
    assert page.evaluate("window.notReloaded === true")
    assert_one_page(page)  # the grid was swapped, not the whole page into it
    page.go_back()
    expect(page.locator(".schedule-title")).to_contain_text(f"{TERM:%d %b}")
    assert_one_page(page)
    # Filters swap the grid and land in the URL too.
    pick(page.get_by_label("Room", exact=True), "la", "Lab")
    expect(page).to_have_url(re.compile(rf"room={school['lab']}"))
    expect(page.locator("#schedule")).to_contain_text("Art 7A")
    expect(page.locator("#schedule")).not_to_contain_text("Maths 7A")
    assert_one_page(page)
    screenshot(page, "schedule-week-filtered")


def test_on_a_phone_the_filters_fold_so_the_grid_comes_first(page, log_in, school):
    log_in("coordinator")
    page.wait_for_load_state("load")  # the landing page's scripts have run
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{GRID}&view=day")
    summary = page.locator("#schedule-filters-box > summary")
    expect(summary).to_have_text("Filters")
    expect(page.locator("#schedule-filters").get_by_label("Room", exact=True)).to_be_hidden()
    # The day's sessions start within the first screen, not below four fields.
    assert page.locator("#schedule").bounding_box()["y"] < 844
    summary.click()
    pick(page.locator("#schedule-filters").get_by_label("Room", exact=True), "la", "Lab")
    expect(page).to_have_url(re.compile(rf"room={school['lab']}"))
    # Filters that are on keep the disclosure open (and say so) when the page is reloaded.
    page.reload()
    expect(summary).to_have_text("Filters (on)")
    expect(page.locator("#schedule-filters").get_by_label("Room", exact=True)).to_be_visible()
    screenshot(page, "phone-390-schedule-filters-on")
    # A desktop always shows them, without the summary.
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(GRID)
    expect(summary).to_be_hidden()
    expect(page.locator("#schedule-filters").get_by_label("Room", exact=True)).to_be_visible()


def assert_one_page(page):
    """One navigation bar, heading, filter bar and grid: nothing nested in the grid."""
    for selector in (".site-header", "h1", "#schedule-filters", "#schedule", ".schedule-nav"):
        expect(page.locator(selector)).to_have_count(1)


def test_a_busy_week_prints_on_one_landscape_page(page, log_in, make_group, make_series, school):
    # Five more groups every weekday at four times: 100 more sessions in the week.
    for n in range(5):
        group = make_group(f"Group {n}")
        for hour in (8, 10, 13, 16):
            make_series(group, weekdays=(0, 1, 2, 3, 4), start=time(hour), end=time(hour, 50),
                        first_date=TERM)  # fmt: skip
    first, end = resolve_window(TERM, weeks=1)
    generate_occurrences(first, end, tz=PARIS)
    db.session.commit()
    log_in("coordinator")
    page.goto(GRID)
    page.emulate_media(media="print")
    expect(page.locator(".schedule-title")).to_be_visible()
    expect(page.locator("#schedule-filters")).to_be_hidden()
    expect(page.locator(".site-header")).to_be_hidden()
    pdf = page.pdf(landscape=True, format="A4")
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1
    screenshot(page, "schedule-week-print")


@pytest.mark.parametrize("width", [390, 1366])
def test_typing_a_room_into_the_filter_suggests_and_picks_with_the_keyboard(
    page, log_in, school, make_room, width
):
    for name in ("Lab annex", "Language lab", "Library"):
        make_room(name)
    db.session.commit()
    log_in("coordinator")
    page.wait_for_load_state("load")
    page.set_viewport_size({"width": width, "height": 844 if width < 768 else 900})
    page.goto(f"{GRID}&view=day")
    if width < 768:
        page.locator("#schedule-filters-box > summary").click()
    room = page.locator("#schedule-filters").get_by_label("Room", exact=True)
    expect(room).to_have_attribute("role", "combobox")
    room.press_sequentially("lab")
    listbox = page.locator("#filter-room-list")
    expect(listbox).to_be_visible()
    expect(room).to_have_attribute("aria-expanded", "true")
    names = listbox.get_by_role("option")
    expect(names).to_have_text(["Lab", "Lab annex", "Language lab"])
    # Down twice: the second suggestion is the active one (read out through the field).
    room.press("ArrowDown")
    room.press("ArrowDown")
    expect(names.nth(1)).to_have_attribute("aria-selected", "true")
    expect(room).to_have_attribute(
        "aria-activedescendant", f"filter-room-list-{names.nth(1).get_attribute('data-id')}"
    )
    screenshot(page, f"schedule-filter-suggestions-{width}")
    room.press("ArrowUp")
    room.press("Enter")  # picks "Lab", and the grid follows
    expect(page).to_have_url(re.compile(rf"room={school['lab']}"))
    expect(room).to_have_value("Lab")
    expect(listbox).to_be_hidden()
    expect(page.locator("#schedule-filters-box > summary")).to_have_text("Filters (on)")
    # The chosen room shows by name, with a button that removes it.
    remove = page.get_by_role("button", name="Remove the room filter (Lab)")
    expect(remove).to_be_visible()
    screenshot(page, f"schedule-filter-chosen-{width}")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    remove.click()
    expect(page).not_to_have_url(re.compile(r"room="))
    expect(room).to_have_value("")
    # Escape closes the suggestions, and a typed part names a room on Enter (no pick).
    room.fill("libr")
    expect(listbox).to_be_visible()
    room.press("Escape")
    expect(listbox).to_be_hidden()
    room.press("Enter")
    expect(page).to_have_url(re.compile(r"room=\d+"))
    expect(room).to_have_value("Library")


@pytest.mark.parametrize("width", [390, 1366])
def test_the_editors_room_suggests_free_rooms_first(page, log_in, school, width):
    log_in("coordinator")
    page.wait_for_load_state("load")
    page.set_viewport_size({"width": width, "height": 844 if width < 768 else 900})
    page.goto(f"{GRID}&view=day&date={TUE.isoformat()}")
    editor = open_editor(page, school["tuesday"])
    editor.get_by_label("Move this date").check()
    room = editor.get_by_label("New room")
    room.press("ArrowDown")  # the list for an empty field: its room, then free ones
    options = editor.get_by_role("listbox").get_by_role("option")
    expect(options).to_have_text([re.compile(r"^Lab\s+current room"), re.compile(r"^R101\s+free"),
                                  re.compile(r"^Studio\s+free")])  # fmt: skip
    # At another time the editor's fields say, a room in use there is marked busy.
    editor.get_by_label("Move to date").fill(THU.isoformat())
    editor.get_by_label("New start").fill("11:00")
    room.fill("stu")
    expect(options).to_have_text([re.compile(r"^Lab"), re.compile(r"^Studio\s+busy: Music 7A")])
    screenshot(page, f"schedule-editor-rooms-{width}")
    box = editor.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width


def test_a_week_too_big_for_one_page_is_shown_by_room_a_page_at_a_time(
    page, log_in, school, live_server, monkeypatch
):
    monkeypatch.setitem(live_server.app.config, "SCHEDULE_GRID_MAX_SESSIONS", 3)
    monkeypatch.setitem(live_server.app.config, "SCHEDULE_ROOMS_PER_PAGE", 2)
    page.set_viewport_size({"width": 1366, "height": 900})
    log_in("coordinator")
    page.goto(GRID)
    notice = page.locator(".grid-paged")
    expect(notice).to_contain_text("This week has 4 sessions, more than one page shows well")
    rows = page.locator("tbody th[scope=row]")
    expect(rows).to_have_text(["Lab", "R101"])
    screenshot(page, "schedule-week-paged-1366")
    remember_page(page)
    notice.get_by_role("link", name="Next").click()
    expect(rows).to_have_text(["Studio"])
    expect(page).to_have_url(re.compile(r"page=2"))
    assert page.evaluate("window.notReloaded === true")
    # The editor works on a page too: cancelling redraws the cell in place.
    thursday = page.locator("#schedule article.session").first
    thursday.locator("a.session-open").click()
    editor = page.locator("form.session-editor")
    editor.get_by_label("Cancel this date").check()
    editor.get_by_role("button", name="Save").click()
    expect(page.locator("#schedule article.session").first).to_contain_text("Cancelled")
    # The whole week is one link away.
    page.get_by_role("link", name="by time").click()
    expect(page.locator(".grid-paged")).to_have_count(0)
    expect(page.locator("#schedule article.session")).to_have_count(4)
