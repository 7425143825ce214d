"""Schedule pages: the week grid, day and month views, personal timetables, and the grid's
inline exception editor (fragments, out-of-band cells, errors in place, permissions)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from models import (
    DateOverride,
    Occurrence,
    OccurrenceStatus,
    db,
)
from services.timetable.exceptions import OverrideChange, find_occurrence, save_override
from services.timetable.generation import generate_occurrences, resolve_window
from tests.blueprints.conftest import long_day, toast_of
from tests.conftest import PINNED_TODAY, auckland_at, browser, csrf_token_of

PARIS = ZoneInfo("Europe/Paris")
TERM = date(2026, 9, 7)  # a Monday
WED = TERM + timedelta(days=2)
GRID = "/schedule/?date=2026-09-07"
CTX = "view=week&layout=time&date=2026-09-07"
DASH = "\u2013"


def generate(weeks=2):
    first, end = resolve_window(TERM, weeks=weeks)
    generate_occurrences(first, end, tz=PARIS)
    db.session.commit()


def fresh(occurrence: Occurrence) -> Occurrence:
    db.session.expire_all()
    return db.session.get(Occurrence, occurrence.id)


def override_count() -> int:
    return db.session.scalar(select(func.count(DateOverride.id)))


def grid_text(page) -> str:
    """What the grid shows (not the filter bar's options)."""
    return page.html.find(id="schedule").text


def cell_ids(html: str) -> list[str]:
    return re.findall(r'<div id="(cell-[^"]+)" class="cell"', html)


@pytest.fixture
def two_classes(make_user, make_room, make_group, make_series):
    """Maths (Ada, R101, Mon+Wed 09:00) and Art (Ben, Lab, Tue 14:00); Alice takes both."""
    alice = make_user("student", name="Alice Martin")
    ada, ben = make_user("mentor", name="Ada Lovelace"), make_user("mentor", name="Ben Okri")
    r101, lab = make_room("R101"), make_room("Lab")
    maths = make_group("Maths 7A", mentor=ada, room=r101, students=[alice], subject="Mathematics")
    art = make_group("Art 7A", mentor=ben, room=lab, students=[alice], subject="Art")
    maths_series = make_series(maths, weekdays=(0, 2), start=time(9), end=time(10))
    art_series = make_series(art, weekdays=(1,), start=time(14), end=time(15))
    generate()
    return {
        "alice": alice, "ada": ada, "ben": ben, "r101": r101, "lab": lab, "maths": maths,
        "art": art, "maths_series": maths_series, "art_series": art_series,
        "monday": find_occurrence(maths_series.id, TERM),
        "wednesday": find_occurrence(maths_series.id, WED),
        "tuesday": find_occurrence(art_series.id, TERM + timedelta(days=1)),
    }  # fmt: skip


# --- The grid ------------------------------------------------------------------------------


def test_week_grid_shows_days_as_columns_and_each_session_in_its_hour(web, login_as, two_classes):
    login_as("coordinator")
    page = web.get(GRID)
    assert "Week of 07 Sep to 13 Sep 2026" in page.text
    for day in ("Mon 07 Sep", "Tue 08 Sep", "Sun 13 Sep"):
        assert day in page.text
    monday = page.html.find(id="cell-20260907-09")
    assert f"09:00{DASH}10:00" in monday.text
    for text in ("Mathematics", "Maths 7A", "R101", "Ada Lovelace"):
        assert text in monday.text
    assert "Art 7A" in page.html.find(id="cell-20260908-14").text
    assert page.html.find(id="cell-20260907-07") is not None  # the school day is always shown


def test_navigation_swaps_only_the_grid_for_htmx_and_pages_stay_bookmarkable(
    web, htmx, login_as, two_classes
):
    login_as("coordinator")
    page = web.get(GRID)
    next_link = page.html.find("a", string=re.compile("Next"))
    assert next_link["hx-push-url"] == "true" and next_link["hx-target"] == "#schedule"
    assert next_link["href"] == next_link["hx-get"]
    fragment = htmx.get(next_link["href"])
    assert fragment.text.lstrip().startswith('<section id="schedule"')
    assert "<html" not in fragment.text and "Week of 14 Sep" in fragment.text
    assert fragment.headers["Vary"] == "HX-Request" or "HX-Request" in fragment.headers["Vary"]
    # The same URL loaded by the browser (a reload, a bookmark) is the whole page.
    full = web.get(next_link["href"])
    assert "<html" in full.text and "Week of 14 Sep" in full.text
    # A history restore asks htmx 4 for the whole page too.
    restore = web.get(
        next_link["href"], headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in restore.text


def test_today_link_and_previous_week(web, login_as, two_classes):
    login_as("coordinator")
    page = web.get("/schedule/?date=2026-09-16")
    previous = page.html.find("a", string=re.compile("Previous"))["href"]
    assert "date=2026-09-09" in previous
    assert "Week of 07 Sep" in web.get(previous).text


def test_filters_are_kept_in_the_url_and_combine(web, login_as, two_classes):
    login_as("coordinator")
    room = two_classes["r101"].id
    page = web.get(f"{GRID}&room={room}")
    assert "Maths 7A" in grid_text(page) and "Art 7A" not in grid_text(page)
    # The chosen room is shown by name, its id beside it, with a button that removes it.
    bar = page.html.find(id="schedule-filters")
    assert bar.find(id="filter-room")["value"] == "R101"
    assert bar.find("input", attrs={"name": "room", "type": "hidden"})["value"] == str(room)
    assert bar.find("button", attrs={"name": "clear", "value": "room"})["aria-label"] == (
        "Remove the room filter (R101)"
    )
    assert bar.find("option") is None  # no list of every room
    # Navigation links keep the filter.
    assert f"room={room}" in page.html.find("a", string=re.compile("Next"))["href"]
    both = web.get(f"{GRID}&room={room}&mentor={two_classes['ben'].id}")
    assert "No sessions this week for these filters." in both.text
    by_group = web.get(f"{GRID}&group={two_classes['art'].id}")
    assert "Art 7A" in grid_text(by_group) and "Maths 7A" not in grid_text(by_group)


def test_filter_bar_names_are_escaped_and_selected_options_marked(
    web, login_as, two_classes, make_room
):
    odd = make_room("Lab <b>\"A\" & 'B'</b>")
    login_as("coordinator")
    page = web.get(f"{GRID}&room={odd.id}")
    assert "<b>" not in page.html.find(id="schedule-filters").decode_contents()
    assert page.html.find(id="filter-room")["value"] == "Lab <b>\"A\" & 'B'</b>"


def test_student_filter_takes_a_name_and_keeps_a_canonical_url(web, htmx, login_as, two_classes):
    login_as("coordinator")
    student = two_classes["alice"]
    response = web.get(f"{GRID}&student_q=alice")
    assert response.status_int == 303
    assert f"student={student.id}" in response.location
    page = response.follow()
    assert 'value="Alice Martin"' in page.text and "Maths 7A" in page.text
    fragment = htmx.get(f"{GRID}&student_q=Alice+Martin&student={student.id}")
    assert f"student={student.id}" in fragment.headers["HX-Push-Url"]


def test_unknown_student_and_bad_parameters_are_said_not_ignored(web, login_as, two_classes):
    login_as("coordinator")
    page = web.get(f"{GRID}&student_q=nobody", status=422)
    error = page.html.find(id="filter-student-error")
    assert error.text.strip() == "No student matches 'nobody'."
    assert page.html.find(id="filter-student")["aria-describedby"] == "filter-student-error"
    assert page.html.find(id="filter-student")["value"] == "nobody"
    page = web.get("/schedule/?date=2026-13-01&room=abc")
    assert "is not a date (YYYY-MM-DD): showing today." in page.text
    assert "Unknown room: filter ignored." in page.text


def test_rooms_as_rows_layout(web, login_as, two_classes):
    login_as("coordinator")
    page = web.get(f"{GRID}&layout=rooms")
    rows = [th.text.strip() for th in page.html.select("tbody th[scope=row]")]
    assert rows == ["Lab", "R101"]
    r101_monday = page.html.find(id=f"cell-r{two_classes['r101'].id}-20260907")
    assert "Maths 7A" in r101_monday.text
    assert "Time as rows" in page.text


def test_day_view_and_month_view(web, login_as, two_classes):
    login_as("coordinator")
    day = web.get("/schedule/day?date=2026-09-08")
    assert "Tuesday 08 September 2026" in day.text
    assert "Art 7A" in grid_text(day) and "Maths 7A" not in grid_text(day)
    month = web.get("/schedule/month?date=2026-09-20")
    assert "September 2026" in month.text
    assert month.text.count("09:00 Maths 7A") == 4  # Mon+Wed, two generated weeks
    assert 'href="/schedule/day?layout=time&amp;date=2026-09-07"' in month.text


def test_cancelled_moved_and_conflicting_sessions_say_so_in_text(
    web, login_as, two_classes, make_group, make_series
):
    save_override(
        two_classes["maths_series"], TERM, OverrideChange(cancelled=True), actor=None, tz=PARIS
    )
    save_override(
        two_classes["maths_series"], WED, OverrideChange(start_time=time(11), end_time=time(12)),
        actor=None, tz=PARIS,
    )  # fmt: skip
    clash = make_group("Chess", room=two_classes["lab"])
    make_series(clash, weekdays=(1,), start=time(14, 30), end=time(15, 30))
    generate()
    login_as("coordinator")
    page = web.get(GRID)
    monday = page.html.find(id=f"session-card-{two_classes['monday'].id}")
    assert "is-cancelled" in monday["class"] and "Cancelled" in monday.text
    wednesday = page.html.find(id=f"session-card-{two_classes['wednesday'].id}")
    assert "is-moved" in wednesday["class"] and "Moved" in wednesday.text
    assert page.html.find(id="cell-20260909-11").find(
        id=f"session-card-{two_classes['wednesday'].id}"
    )
    art = page.html.find(id=f"session-card-{two_classes['tuesday'].id}")
    assert "Conflict" in art.text
    assert art["title"] == "Room conflict with Chess Tue 08 Sep 14:30-15:30"
    assert "Room conflict with Chess" in art.find(class_="conflict-text").text


def test_grid_pages_are_for_staff_others_use_their_own_timetable(web, login_as, two_classes):
    login_as(two_classes["ada"])
    for url in ("/schedule/", "/schedule/day", "/schedule/month"):
        web.get(url, status=403)
    mine = web.get("/schedule/mine?date=2026-09-07")
    assert "My sessions" in mine.text
    assert "Maths 7A" in mine.text and "Art 7A" not in mine.text
    assert mine.html.find(id="schedule-filters") is None  # no filters: it is theirs
    # A filter in the URL cannot show someone else's sessions.
    assert "Art 7A" not in web.get(f"/schedule/mine?date=2026-09-07&group={two_classes['art'].id}")


def test_student_timetable_shows_all_their_groups_and_links_to_session_pages(
    web, login_as, two_classes
):
    login_as(two_classes["alice"])
    page = web.get("/schedule/mine?date=2026-09-07")
    assert "My timetable" in page.text
    assert "Maths 7A" in page.text and "Art 7A" in page.text
    assert "/schedule/sessions/" not in page.text  # no editor for students
    assert f'href="/sessions/{two_classes["monday"].id}"' in page.text
    month = web.get("/schedule/mine?view=month&date=2026-09-07")
    assert "September 2026" in month.text and "Maths 7A" in month.text
    assert "/schedule/mine?view=day" in month.text


def test_staff_asking_for_mine_get_the_whole_schedule(web, login_as, two_classes):
    login_as("coordinator")
    response = web.get("/schedule/mine?date=2026-09-07")
    assert response.status_int == 302 and "/schedule/?date=2026-09-07" in response.location


def test_anonymous_visitors_are_sent_to_log_in(web, htmx, two_classes):
    assert "/auth/login" in web.get("/schedule/").location
    response = htmx.get(f"/schedule/sessions/{two_classes['monday'].id}/editor", status=401)
    assert "/auth/login" in response.headers["HX-Redirect"]


# --- The inline editor ----------------------------------------------------------------------


def editor_url(occurrence, action="editor"):
    return f"/schedule/sessions/{occurrence.id}/{action}?{CTX}"


def test_editor_opens_in_place_of_the_card(web, htmx, login_as, two_classes):
    login_as("coordinator")
    monday = two_classes["monday"]
    card = web.get(GRID).html.find(id=f"session-card-{monday.id}")
    link = card.find("a")
    assert link["hx-target"] == f"#session-card-{monday.id}" and link["hx-swap"] == "outerHTML"
    editor = htmx.get(link["hx-get"])
    form = editor.html.find("form")
    assert form["id"] == f"session-card-{monday.id}" and "session-editor" in form["class"]
    assert form["hx-target"] == "#cell-20260907-09"
    assert "<html" not in editor.text
    for label in ("Cancel this date", "Move this date", "Move to date", "New start", "New room"):
        assert label in editor.text
    # Close (and Escape, through app.js) puts the card back; "Cancel" is only ever the
    # "Cancel this date" action, never the button that closes the editor.
    close = editor.html.find("button", attrs={"data-close-editor": True})
    assert close.text.strip() == "Close"
    assert not [b for b in editor.html.find_all("button") if "Cancel" in b.text]
    assert htmx.get(close["hx-get"]).html.find("article")["id"] == f"session-card-{monday.id}"


def test_editor_without_javascript_is_a_page_and_saving_returns_to_the_grid(
    web, login_as, two_classes
):
    login_as("coordinator")
    monday = two_classes["monday"]
    page = web.get(editor_url(monday))
    assert "<html" in page.text and "Back to the schedule" in page.text
    form = page.forms[f"session-card-{monday.id}"]
    form["action"] = "cancel"
    response = form.submit()
    assert response.status_int == 302 and "/schedule/?" in response.location
    assert "date=2026-09-07" in response.location
    assert "Cancelled Maths 7A on Mon 07 Sep." in response.follow().text
    assert fresh(monday).status == OccurrenceStatus.CANCELLED


def test_cancel_inline_swaps_back_just_that_cell(web, htmx, login_as, two_classes):
    login_as("coordinator")
    monday = two_classes["monday"]
    response = htmx.post(
        editor_url(monday, "exception"), {"action": "cancel", "notes": "Staff training"}
    )
    assert response.status_int == 200
    assert cell_ids(response.text) == ["cell-20260907-09"]
    assert "hx-swap-oob" not in response.text
    card = response.html.find(id=f"session-card-{monday.id}")
    assert "is-cancelled" in card["class"] and "Cancelled" in card.text
    assert json.loads(response.headers["HX-Trigger"]) == {
        "toast": {"message": "Cancelled Maths 7A on Mon 07 Sep."}
    }
    assert fresh(monday).status == OccurrenceStatus.CANCELLED
    override = db.session.scalar(select(DateOverride))
    assert override.cancelled and override.notes == "Staff training"


def test_move_to_another_day_swaps_both_cells_out_of_band(web, htmx, login_as, two_classes):
    login_as("coordinator")
    monday = two_classes["monday"]
    response = htmx.post(
        editor_url(monday, "exception"),
        {"action": "override", "new_date": "2026-09-10", "start_time": "15:00",
         "end_time": "16:30", "room": str(two_classes["lab"].id), "notes": ""},
    )  # fmt: skip
    assert response.status_int == 200
    assert cell_ids(response.text) == ["cell-20260907-09", "cell-20260910-15"]
    origin, destination = response.html.find_all("div", class_="cell")
    assert origin.get("hx-swap-oob") is None and origin.find("article") is None
    assert destination["hx-swap-oob"] == "true"
    card = destination.find(id=f"session-card-{monday.id}")
    assert f"15:00{DASH}16:30" in card.text and "Lab" in card.text and "Moved" in card.text
    moved = fresh(monday)
    assert moved.original_date == TERM and moved.room_id == two_classes["lab"].id
    assert moved.start_utc.astimezone(PARIS).date() == date(2026, 9, 10)


def test_a_change_that_clears_a_conflict_redraws_the_other_session_too(
    web, htmx, login_as, two_classes, make_group, make_series
):
    chess = make_group("Chess", room=two_classes["lab"])
    make_series(chess, weekdays=(1,), start=time(14, 30), end=time(15, 30))
    generate()
    login_as("coordinator")
    tuesday = two_classes["tuesday"]
    chess_session = db.session.scalar(select(Occurrence).where(Occurrence.group_id == chess.id))
    assert "Conflict" in web.get(GRID).html.find(id=f"session-card-{chess_session.id}").text
    response = htmx.post(editor_url(tuesday, "exception"), {"action": "cancel"})
    # Both sessions start in the 14:00 cell: one cell, redrawn without the conflict.
    assert cell_ids(response.text) == ["cell-20260908-14"]
    assert "Conflict" not in response.html.find(id=f"session-card-{chess_session.id}").text


def test_move_outside_the_grid_hours_redraws_the_whole_grid(web, htmx, login_as, two_classes):
    login_as("coordinator")
    response = htmx.post(
        editor_url(two_classes["monday"], "exception"),
        {"action": "override", "start_time": "21:30", "end_time": "22:15"},
    )
    assert response.status_int == 200
    assert response.headers["HX-Retarget"] == "#schedule"
    assert response.text.lstrip().startswith('<section id="schedule"')
    assert "cell-20260907-21" in response.text


def test_validation_error_stays_in_the_editor_with_what_was_typed(web, htmx, login_as, two_classes):
    login_as("coordinator")
    monday = two_classes["monday"]
    response = htmx.post(
        editor_url(monday, "exception"),
        {"action": "override", "start_time": "11:00", "end_time": "10:30", "notes": "typed"},
        status=422,
    )
    assert response.headers["HX-Retarget"] == f"#session-card-{monday.id}"
    assert response.headers["HX-Reswap"] == "outerHTML"
    assert (
        "The end (10:30) must be after the start (11:00), or at most 12 hours later on the "
        "next day." in response.text
    )
    assert 'value="11:00"' in response.text and "typed</textarea>" in response.text
    assert override_count() == 0 and fresh(monday).status == OccurrenceStatus.SCHEDULED


def test_room_conflict_is_refused_in_the_editor_naming_the_other_session(
    web, htmx, login_as, two_classes
):
    login_as("coordinator")
    monday = two_classes["monday"]
    before = fresh(monday).start_utc
    response = htmx.post(
        editor_url(monday, "exception"),
        {"action": "override", "new_date": "2026-09-08", "start_time": "14:30",
         "end_time": "15:30", "room": str(two_classes["lab"].id)},
        status=409,
    )  # fmt: skip
    assert response.headers["HX-Retarget"] == f"#session-card-{monday.id}"
    assert "Art 7A" in response.text and "Lab" in response.text
    assert 'value="14:30"' in response.text
    assert response.html.find(id=f"occ{monday.id}-room_q")["value"] == "Lab"
    assert override_count() == 0 and fresh(monday).start_utc == before


def test_editor_refuses_a_post_without_the_csrf_token(web, login_as, two_classes):
    login_as("coordinator")
    response = web.post(
        editor_url(two_classes["monday"], "exception"),
        {"action": "cancel"},
        headers={"HX-Request": "true"},
        status=400,
    )
    assert "security token" in response.text
    assert override_count() == 0


def test_restore_deletes_the_exception_and_puts_the_session_back(web, htmx, login_as, two_classes):
    save_override(
        two_classes["maths_series"], TERM,
        OverrideChange(new_date=date(2026, 9, 11), start_time=time(15), end_time=time(16)),
        actor=None, tz=PARIS,
    )  # fmt: skip
    db.session.commit()
    login_as("coordinator")
    monday = two_classes["monday"]
    editor = htmx.get(editor_url(monday))
    restore = editor.html.find("button", string=re.compile("Restore series"))
    assert restore["hx-target"] == "#cell-20260911-15"
    response = htmx.post(restore["hx-post"])
    assert cell_ids(response.text) == ["cell-20260911-15", "cell-20260907-09"]
    assert response.html.find(id="cell-20260907-09").find(id=f"session-card-{monday.id}")
    assert override_count() == 0
    assert fresh(monday).start_utc.astimezone(PARIS).time() == time(9)


def test_editor_prefills_an_existing_exception(web, htmx, login_as, two_classes):
    save_override(
        two_classes["maths_series"], TERM,
        OverrideChange(room_id=two_classes["lab"].id, notes="Projector"), actor=None, tz=PARIS,
    )  # fmt: skip
    db.session.commit()
    login_as("coordinator")
    editor = htmx.get(editor_url(two_classes["monday"]))
    assert editor.html.find("input", value="override")["checked"] is not None
    room = editor.html.find(id=f"occ{two_classes['monday'].id}-room_q")
    assert room["value"] == "Lab" and room["role"] == "combobox"
    assert editor.html.find("input", attrs={"name": "room"})["value"] == str(two_classes["lab"].id)
    assert editor.html.find("option") is None  # no list of every room
    assert "Projector</textarea>" in editor.text


@pytest.mark.parametrize("role", ["mentor", "student"])
def test_only_staff_may_open_or_post_to_the_editor(web, htmx, login_as, two_classes, role):
    login_as(role)
    monday = two_classes["monday"]
    htmx.get(editor_url(monday), status=403)
    htmx.get(editor_url(monday, "card"), status=403)
    htmx.post(editor_url(monday, "exception"), {"action": "cancel"}, status=403)
    htmx.post(editor_url(monday, "restore"), status=403)
    assert override_count() == 0


def test_unknown_and_one_time_sessions_have_no_editor(web, htmx, login_as, two_classes):

    one_time = Occurrence(
        group_id=two_classes["art"].id,
        start_utc=datetime(2026, 9, 11, 12, tzinfo=UTC),
        end_utc=datetime(2026, 9, 11, 13, tzinfo=UTC),
    )
    db.session.add(one_time)
    db.session.commit()
    login_as("coordinator")
    htmx.get("/schedule/sessions/999999/editor", status=404)
    htmx.get(f"/schedule/sessions/{one_time.id}/editor", status=404)
    htmx.post(f"/schedule/sessions/{one_time.id}/exception", {"action": "cancel"}, status=404)
    # Without an exception there is nothing to restore.
    htmx.post(editor_url(two_classes["monday"], "restore"), status=404)
    # On the grid it links to its own page instead.
    card = web.get(GRID).html.find(id=f"session-card-{one_time.id}")
    assert card.find("a")["href"] == f"/sessions/{one_time.id}" and "One-time" in card.text


def test_completed_session_cannot_be_changed_from_the_grid(web, htmx, login_as, two_classes):
    monday = two_classes["monday"]
    monday.status = OccurrenceStatus.COMPLETED
    db.session.commit()
    login_as("coordinator")
    card = web.get(GRID).html.find(id=f"session-card-{monday.id}")
    assert "Completed" in card.text and "/schedule/sessions/" not in str(card)
    response = htmx.post(editor_url(monday, "exception"), {"action": "cancel"}, status=409)
    assert "already completed" in response.text
    assert fresh(monday).status == OccurrenceStatus.COMPLETED


def test_the_page_has_no_inline_script_and_a_print_stylesheet(web, login_as, two_classes):
    login_as("coordinator")
    page = web.get(GRID)
    assert all(script.get("src") for script in page.html.find_all("script"))
    assert "style=" not in page.text
    css = web.get("/static/app.css").text
    assert "@media print" in css and "size: A4 landscape" in css


def test_new_session_link_carries_the_day_and_filters(web, login_as, two_classes):
    login_as("coordinator")
    page = web.get(f"/schedule/day?date=2026-09-08&room={two_classes['lab'].id}")
    link = page.html.find("a", string="New session")["href"]
    assert link == f"/sessions/new?date=2026-09-08&room={two_classes['lab'].id}"
    assert "2026-09-08" in web.get(link).text


def test_two_open_editors_have_distinct_field_ids_and_labels(web, htmx, login_as, two_classes):
    login_as("coordinator")
    first = htmx.get(editor_url(two_classes["monday"])).html
    second = htmx.get(editor_url(two_classes["wednesday"])).html
    ids = lambda html: {tag["id"] for tag in html.select("form [id]")}  # noqa: E731
    assert ids(first).isdisjoint(ids(second))
    for label in first.select("label[for]"):
        assert first.find(id=label["for"]) is not None, label["for"]


# --- Exports -------------------------------------------------------------------------------------


def test_the_week_exports_to_csv_with_its_filters(web, login_as, two_classes):
    import csv
    import io

    login_as("coordinator")
    page = web.get(f"{GRID}&room={two_classes['r101'].id}")
    link = page.html.find("a", string="CSV")["href"]
    assert f"room={two_classes['r101'].id}" in link
    response = web.get(link)
    assert response.content_type == "text/csv"
    assert (
        'filename="termtable-2026-09-07-to-2026-09-13.csv"'
        in response.headers["Content-Disposition"]
    )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["group"] for r in rows] == ["Maths 7A", "Maths 7A"]
    assert rows[0]["date"] == "2026-09-07" and rows[0]["start"] == "09:00"


def test_a_range_exports_to_excel_one_sheet_per_week(web, login_as, two_classes):
    import io

    from openpyxl import load_workbook

    login_as("coordinator")
    response = web.get("/schedule/export.xlsx?start=2026-09-07&end=2026-09-21&layout=rooms")
    assert "spreadsheetml" in response.content_type
    book = load_workbook(io.BytesIO(response.body))
    assert book.sheetnames == ["Week 2026-09-07", "Week 2026-09-14"]
    sheet = book["Week 2026-09-07"]
    assert [c.value for c in sheet[1]][:3] == ["Room", "Mon 07 Sep", "Tue 08 Sep"]
    rows = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    assert rows["R101"][1].value.startswith("09:00-10:00 Mathematics · Maths 7A")
    assert "Art 7A" in rows["Lab"][2].value
    assert sheet.column_dimensions["B"].width >= 30


def test_exports_refuse_bad_ranges_and_students_get_only_their_own(
    app, web, login_as, two_classes, make_user
):
    from tests.conftest import TEST_PASSWORD

    login_as("coordinator")
    web.get("/schedule/export.csv?start=2026-09-07&end=2026-09-07", status=400)
    web.get("/schedule/export.csv?start=2026-01-01&end=2027-06-01", status=400)
    web.get("/schedule/export.csv?start=nope&end=2026-09-08", status=400)
    for edge in ("start=9999-12-01&end=9999-12-31", "start=0001-01-01&end=0001-01-05"):
        for fmt in ("csv", "xlsx"):
            page = web.get(f"/schedule/export.{fmt}?{edge}", status=400)
            assert "Choose a date between 01 Jan 2000 and 31 Dec 2100." in page.text
    web.get("/schedule/export.pdf", status=404)
    url = "/schedule/export.csv?start=2026-09-07&end=2026-09-14"
    for user, groups in (
        (two_classes["alice"], {"Maths 7A", "Art 7A"}),
        (make_user("student"), set()),
    ):
        them = browser(app)
        form = them.get("/auth/login").forms[0]
        form["email"], form["password"] = user.email, TEST_PASSWORD
        form.submit(status=302)
        rows = them.get(url).text.splitlines()[1:]
        assert {row.split(",")[1] for row in rows} == groups


TODAY = PINNED_TODAY


MONDAY = TODAY + timedelta(days=14 - TODAY.weekday())  # a Monday two weeks or so ahead


FORMULA_STARTS = ("=", "+", "-", "@")


@pytest.mark.usefixtures("pinned_clock")
def test_schedule_exports_neutralise_formula_like_names(web, login_as, formula_names):
    from openpyxl import load_workbook

    login_as("coordinator")
    week = f"start={MONDAY.isoformat()}&end={(MONDAY + timedelta(days=7)).isoformat()}"
    rows = list(csv.DictReader(io.StringIO(web.get(f"/schedule/export.csv?{week}").text)))
    [row] = rows
    for column, name in (("group", "+Group"), ("subject", "-Subject"), ("mentor", "@Mentor")):
        assert row[column] == "'" + name, column
    assert row["room"] == "'" + '=HYPERLINK("http://evil.example","x")'
    for layout in ("rooms", "time"):
        book = load_workbook(
            io.BytesIO(web.get(f"/schedule/export.xlsx?{week}&layout={layout}").body)
        )
        cells = [cell for sheet in book for line in sheet.iter_rows() for cell in line]
        assert not [c.coordinate for c in cells if c.data_type == "f"], layout
        texts = [c.value for c in cells if isinstance(c.value, str)]
        assert not [t for t in texts if t.startswith(FORMULA_STARTS)], layout
        assert any("+Group" in t for t in texts)


HX = {"HX-Request": "true", "HX-Request-Type": "partial"}


def hx_post(web, url, params=None, page="/sessions/today/", **kwargs):
    token = csrf_token_of(web.get(page))
    return web.post(url, params or {}, headers={**HX, "X-CSRFToken": token}, **kwargs)


def test_grid_cells_cards_month_and_rooms_layout_are_local(web, login_as, auckland_term):
    login_as("coordinator")
    room_id = auckland_term["room"].id
    for occurrence in auckland_term["sessions"]:
        day = occurrence.original_date
        week = web.get(f"/schedule/?date={day.isoformat()}")
        cell = week.html.find(id=f"cell-{day:%Y%m%d}-08")
        assert cell is not None and f"08:00{DASH}09:00" in cell.text
        assert f"Edit {day:%a %d %b}" in cell.text
        assert week.text.count(f'id="session-card-{occurrence.id}"') == 1  # only there
        card = web.get(f"/schedule/sessions/{occurrence.id}/card", headers=HX)
        assert f"08:00{DASH}09:00" in card.text and f"Edit {day:%a %d %b}" in card.text
        rooms = web.get(f"/schedule/?date={day.isoformat()}&layout=rooms")
        cell = rooms.html.find(id=f"cell-r{room_id}-{day:%Y%m%d}")
        assert cell is not None and f"08:00{DASH}09:00" in cell.text
        the_day = web.get(f"/schedule/day?date={day.isoformat()}")
        assert f"08:00{DASH}09:00" in the_day.html.find(id=f"session-card-{occurrence.id}").text
        month = web.get(f"/schedule/month?date={day.isoformat()}")
        link = month.html.find("a", href=f"/sessions/{occurrence.id}")
        assert link.text == "08:00 Maths 7A"
        assert link.find_parent("td").find("a", class_="month-day").text == str(day.day)


def test_csv_and_xlsx_exports_are_local(web, login_as, auckland_term):
    before, after = auckland_term["before"], auckland_term["after"]
    login_as("coordinator")
    span = f"start={before.isoformat()}&end={(after + timedelta(days=1)).isoformat()}"
    rows = list(csv.DictReader(io.StringIO(web.get(f"/schedule/export.csv?{span}").text)))
    assert [(r["date"], r["start"], r["end"]) for r in rows] == [
        (before.isoformat(), "08:00", "09:00"),
        (after.isoformat(), "08:00", "09:00"),
    ]
    assert [datetime.fromisoformat(r["start_utc"]) for r in rows] == [
        auckland_at(before, time(8)),
        auckland_at(after, time(8)),
    ]
    book = load_workbook(io.BytesIO(web.get(f"/schedule/export.xlsx?{span}").body))
    for day in (before, after):
        sheet = book[f"Week {day:%Y-%m-%d}"]
        header = [c.value for c in sheet[1]]
        column = header.index(f"{day:%a %d %b}")
        filled = {
            (row[0].value, header[i]): cell.value
            for row in sheet.iter_rows(min_row=2)
            for i, cell in enumerate(row)
            if i and cell.value
        }
        assert list(filled) == [("08:00", header[column])]
        assert filled["08:00", header[column]].startswith("08:00-09:00 Mathematics · Maths 7A")
    rooms = load_workbook(io.BytesIO(web.get(f"/schedule/export.xlsx?{span}&layout=rooms").body))
    sheet = rooms[f"Week {before:%Y-%m-%d}"]
    assert sheet["B2"].value.startswith("08:00-09:00")  # Monday's column, room R1's row


def test_grid_editor_toasts_and_prefill_are_local(web, login_as, auckland_term):
    before = auckland_term["before"]
    occurrence = auckland_term["sessions"][0]
    tuesday = before + timedelta(days=1)
    context = f"date={before.isoformat()}&view=week&layout=time"
    login_as("coordinator")
    editor = web.get(f"/schedule/sessions/{occurrence.id}/editor?{context}", headers=HX)
    assert (
        f"Series date {long_day(before)}; now {before:%a %d %b} 08:00{DASH}09:00, R1"
        in " ".join(editor.text.split())
    )
    moved = hx_post(
        web,
        f"/schedule/sessions/{occurrence.id}/exception?{context}",
        {"action": "override", "new_date": tuesday.isoformat(), "start_time": "07:30",
         "end_time": "08:30", "room": "0", "notes": ""},
        page=f"/schedule/?{context}",
    )  # fmt: skip
    assert toast_of(moved) == f"Moved: Maths 7A {tuesday:%a %d %b} 07:30."
    cell = moved.html.find(id=f"cell-{tuesday:%Y%m%d}-07")
    assert cell is not None and f"07:30{DASH}08:30" in cell.text
    restored = hx_post(
        web,
        f"/schedule/sessions/{occurrence.id}/restore?{context}",
        page=f"/schedule/?{context}",
    )
    assert toast_of(restored) == (
        f"Restored: Maths 7A {before:%a %d %b} 08:00 is back to its series' time and room."
    )
