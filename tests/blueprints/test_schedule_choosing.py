"""Choosing by typing on the schedule (the filter bar's room, mentor, group and student; the
cell editor's room, free rooms first), with and without JavaScript, and a grid too big for
one page shown by room, a page of rooms at a time."""

from __future__ import annotations

import re
from datetime import time

import pytest
from sqlalchemy import select

from models import DateOverride, Occurrence, db
from services.timetable.exceptions import find_occurrence
from tests.blueprints.test_schedule_pages import CTX, GRID, TERM, fresh, generate, grid_text
from tests.conftest import counted_statements

ANCHOR = "layout=time&date=2026-09-07"  # a week page's canonical URL (its path says "week")


@pytest.fixture
def school(make_user, make_room, make_group, make_series):
    """Maths (Ada, R101, Mon 09:00), Art (Ben, Lab 1, Mon 09:30) and Music (Ada, no clash,
    Studio, Tue 09:00); rooms Lab 2 and Lab 3 are free all week."""
    ada = make_user("mentor", name="Ada Lovelace", email="ada@school.test")
    ben = make_user("mentor", name="Ben Okri")
    alice = make_user("student", name="Alice Martin")
    r101, lab1, lab2, lab3, studio = (
        make_room(n) for n in ("R101", "Lab 1", "Lab 2", "Lab 3", "Studio")
    )
    maths = make_group("Maths 7A", mentor=ada, room=r101, students=[alice])
    art = make_group("Art 7A", mentor=ben, room=lab1)
    music = make_group("Music 7A", mentor=ada, room=studio)
    maths_series = make_series(maths, weekdays=(0,), start=time(9), end=time(10))
    make_series(art, weekdays=(0,), start=time(9, 30), end=time(10, 30))
    make_series(music, weekdays=(1,), start=time(9), end=time(10))
    generate()
    return {
        "ada": ada, "ben": ben, "alice": alice, "r101": r101, "lab1": lab1, "lab2": lab2,
        "lab3": lab3, "studio": studio, "maths": maths, "art": art, "music": music,
        "monday": find_occurrence(maths_series.id, TERM),
    }  # fmt: skip


def options(fragment) -> list[tuple[str, str]]:
    return [
        (li["data-name"], li.small.text.strip() if li.small else "")
        for li in fragment.html.find_all("li", role="option")
    ]


# --- The filter bar ------------------------------------------------------------------------


def test_suggestions_list_a_few_matches_names_starting_with_the_text_first(
    web, htmx, login_as, school, make_room
):
    for n in range(1, 15):
        make_room(f"Annex {n:02d}")
    make_room("Old lab")
    login_as("coordinator")
    fragment = htmx.get("/schedule/choices/room?room_q=lab")
    root = fragment.html.find("ul")
    assert root["id"] == "filter-room-list" and root["role"] == "listbox"
    names = [name for name, _ in options(fragment)]
    assert names == ["Lab 1", "Lab 2", "Lab 3", "Old lab"]
    many = htmx.get("/schedule/choices/room?room_q=annex")
    assert len(options(many)) == 10 and "More match" in many.text
    nothing = htmx.get("/schedule/choices/group?group_q=zzz")
    assert options(nothing) == [] and "No group matches “zzz”." in nothing.text
    # Mentors by e-mail too, shown with it; the ids are the options' data.
    mentors = htmx.get("/schedule/choices/mentor?mentor_q=ada@")
    assert options(mentors) == [("Ada Lovelace", "ada@school.test")]
    assert mentors.html.find("li")["data-id"] == str(school["ada"].id)
    htmx.get("/schedule/choices/teacher?teacher_q=a", status=404)


def test_a_typed_room_is_resolved_on_submit_without_javascript(web, login_as, school):
    login_as("coordinator")
    page = web.get(GRID)
    form = page.forms["schedule-filters"]
    form["room_q"] = "r10"  # a unique part of a name
    response = form.submit()
    assert response.status_int == 303
    assert f"room={school['r101'].id}" in response.location and "room_q" not in response.location
    page = response.follow()
    assert "Maths 7A" in grid_text(page) and "Art 7A" not in grid_text(page)
    assert page.html.find(id="filter-room")["value"] == "R101"
    # Several match: said next to the field, with links to each; nothing filtered anew.
    form = page.forms["schedule-filters"]
    form["room_q"] = "lab"
    refused = form.submit(status=422)
    error = refused.html.find(id="filter-room-error")
    assert "Several rooms match 'lab': Lab 1, Lab 2, Lab 3." in error.text
    links = {a.text: a["href"] for a in error.find_all("a")}
    assert f"room={school['lab2'].id}" in links["Lab 2"]
    assert refused.html.find(id="filter-room")["aria-invalid"] == "true"
    assert refused.html.find(id="filter-room")["value"] == "lab"
    # None: said too.
    form["room_q"] = "Attic"
    refused = form.submit(status=422)
    assert "No room matches 'Attic'." in refused.html.find(id="filter-room-error").text


def test_exact_name_wins_over_a_part_and_mentors_groups_students_resolve_alike(
    web, login_as, school, make_room
):
    make_room("Lab 1 annex")
    login_as("coordinator")
    response = web.get(f"{GRID}&room_q=lab+1")  # exact (any case), though "Lab 1 annex" too
    assert f"room={school['lab1'].id}" in response.location
    response = web.get(f"{GRID}&mentor_q=ada@school.test&group_q=music&student_q=alice")
    assert f"mentor={school['ada'].id}" in response.location
    assert f"group={school['music'].id}" in response.location
    assert f"student={school['alice'].id}" in response.location


def test_an_htmx_filter_swaps_the_grid_pushes_the_canonical_url_and_redraws_the_bar(
    web, htmx, login_as, school
):
    login_as("coordinator")
    room = school["lab1"]
    # What app.js sends when "Lab 1" is picked from the suggestions: the name and its id.
    response = htmx.get(f"{GRID}&room_q=Lab+1&room={room.id}&mentor_q=&group_q=&student_q=")
    assert response.status_int == 200
    assert response.headers["HX-Push-Url"] == f"/schedule/?{ANCHOR}&room={room.id}"
    assert response.text.lstrip().startswith('<section id="schedule"')
    bar = response.html.find("form", id="schedule-filters")
    assert bar["hx-swap-oob"] == "true"
    assert bar.find(id="filter-room")["value"] == "Lab 1"
    assert bar.find("button", attrs={"name": "clear", "value": "room"}) is not None
    assert "Art 7A" in response.html.find(id="schedule").text
    assert "Maths 7A" not in response.html.find(id="schedule").text
    # An error is answered in place too (422: htmx 4 swaps it), beside the field.
    refused = htmx.get(f"{GRID}&room_q=nowhere&room={room.id}", status=422)
    assert "No room matches 'nowhere'." in refused.html.find(id="filter-room-error").text
    # The remove button: the filter goes, the others stay.
    both = f"{GRID}&room={room.id}&mentor={school['ben'].id}"
    cleared = htmx.get(f"{both}&room_q=Lab+1&mentor_q=Ben+Okri&clear=room")
    assert cleared.headers["HX-Push-Url"] == f"/schedule/?{ANCHOR}&mentor={school['ben'].id}"
    assert cleared.html.find(id="filter-room")["value"] == ""
    # Without JavaScript the same button redirects to the URL without that filter.
    plain = web.get(f"{both}&room_q=Lab+1&mentor_q=Ben+Okri&clear=room")
    assert plain.status_int == 303 and plain.location.endswith(f"mentor={school['ben'].id}")


def test_bookmarked_filter_urls_still_work_and_name_what_they_filter(web, login_as, school):
    login_as("coordinator")
    url = f"{GRID}&room={school['r101'].id}&mentor={school['ada'].id}&group={school['maths'].id}"
    page = web.get(url)
    assert "Maths 7A" in grid_text(page)
    for kind, name in (("room", "R101"), ("mentor", "Ada Lovelace"), ("group", "Maths 7A")):
        assert page.html.find(id=f"filter-{kind}")["value"] == name


def test_the_page_does_not_grow_with_the_rooms_mentors_and_groups(
    web, login_as, school, make_room, make_user, make_group
):
    login_as("coordinator")
    web.get(GRID)  # the welcome message shown once
    before = len(web.get(GRID).body)
    for n in range(150):
        make_room(f"Extra room {n:03d}")
        make_group(f"Extra group {n:03d}", mentor=make_user("mentor", name=f"Extra {n:03d}"))
    after = web.get(GRID).body
    assert len(after) == before


# --- The cell editor's room ----------------------------------------------------------------


def test_editor_rooms_current_first_then_free_then_busy_marked(web, htmx, login_as, school):
    login_as("coordinator")
    monday = school["monday"]
    fragment = htmx.get(f"/schedule/sessions/{monday.id}/rooms?room_q=")
    assert fragment.html.find("ul")["id"] == f"occ{monday.id}-room_q-list"
    assert options(fragment) == [
        ("R101", "current room"),
        ("Lab 2", "free"),
        ("Lab 3", "free"),
        ("Studio", "free"),
        ("Lab 1", "busy: Art 7A"),
    ]
    # Typed: narrowed, the current room still shown.
    assert options(htmx.get(f"/schedule/sessions/{monday.id}/rooms?room_q=lab")) == [
        ("R101", "current room"),
        ("Lab 2", "free"),
        ("Lab 3", "free"),
        ("Lab 1", "busy: Art 7A"),
    ]
    # At the time the editor's fields say: Tuesday 09:00, the Studio is Music's.
    tuesday = htmx.get(
        f"/schedule/sessions/{monday.id}/rooms?room_q=studio&new_date=2026-09-08"
        "&start_time=09:15&end_time="
    )
    assert options(tuesday) == [("R101", "current room"), ("Studio", "busy: Music 7A")]


def test_editor_rooms_are_limited_and_cost_the_same_whatever_the_school(
    web, htmx, login_as, school, make_room, make_group, make_series
):
    login_as("coordinator")
    monday = school["monday"]
    url = f"/schedule/sessions/{monday.id}/rooms?room_q="
    htmx.get(url)
    db.session.expire_all()  # as in a request of its own: the session read again
    with counted_statements() as small:
        htmx.get(url)
    for n in range(40):
        room = make_room(f"Busy {n:02d}")
        make_series(make_group(f"Club {n:02d}", room=room), weekdays=(0,), start=time(9))
    generate()
    db.session.expire_all()
    with counted_statements() as big:
        fragment = htmx.get(url)
    assert len(big) == len(small), "\n\n".join(big)
    assert len(options(fragment)) == 10 and "More rooms match" in fragment.text


def test_editor_room_typed_picked_or_wrong(web, htmx, login_as, school):
    login_as("coordinator")
    monday = school["monday"]
    save = f"/schedule/sessions/{monday.id}/exception?{CTX}"
    # Typed without JavaScript: a unique part of a name.
    response = web.get(f"/schedule/sessions/{monday.id}/editor?{CTX}")
    form = response.forms[f"session-card-{monday.id}"]
    form["action"] = "override"
    form["room_q"] = "lab 3"
    assert form.submit().status_int == 302
    assert fresh(monday).room_id == school["lab3"].id
    # Picked from the suggestions (its id beside its name), with htmx.
    response = htmx.post(save, {"action": "override", "room_q": "Lab 2", "room": school["lab2"].id})
    assert response.status_int == 200 and "Lab 2" in response.text
    assert fresh(monday).room_id == school["lab2"].id
    # Several or none: refused beside the field, nothing changed.
    for typed, message in (
        ("lab", "Several rooms match 'lab': Lab 1, Lab 2, Lab 3."),
        ("Attic", "No room matches 'Attic'."),
    ):
        refused = htmx.post(save, {"action": "override", "room_q": typed}, status=422)
        error = refused.html.find(id=f"occ{monday.id}-room_q-error")
        assert error is not None and message in error.text
        assert refused.html.find(id=f"occ{monday.id}-room_q")["value"] == typed
        assert fresh(monday).room_id == school["lab2"].id
    # Emptied: back to the series' room (the exception keeps no room).
    htmx.post(save, {"action": "override", "room_q": "", "room": school["lab2"].id,
                     "start_time": "09:05"})  # fmt: skip
    assert fresh(monday).room_id == school["r101"].id
    override = db.session.scalar(select(DateOverride))
    assert override.room_id is None


# --- A grid too big for one page -----------------------------------------------------------


@pytest.fixture
def small_pages(app, monkeypatch):
    monkeypatch.setitem(app.config, "SCHEDULE_GRID_MAX_SESSIONS", 2)
    monkeypatch.setitem(app.config, "SCHEDULE_ROOMS_PER_PAGE", 2)


def test_a_week_past_the_limit_is_shown_by_room_a_page_of_rooms_at_a_time(
    web, htmx, login_as, school, small_pages
):
    login_as("coordinator")
    page = web.get(GRID)
    notice = page.html.find(class_="grid-paged")
    assert "This week has 3 sessions, more than one page shows well" in notice.text
    assert "2 rooms a page (rather than by time)" in notice.text
    rows = [th.text.strip() for th in page.html.select("tbody th[scope=row]")]
    assert rows == ["Lab 1", "R101"]
    assert "Page 1 of 2" in notice.text and "Showing rooms 1\u20132 of 3." in notice.text
    second = notice.find("a", rel="next")
    assert second["hx-target"] == "#schedule" and "page=2" in second["href"]
    page2 = htmx.get(second["href"])
    assert [th.text.strip() for th in page2.html.select("tbody th[scope=row]")] == ["Studio"]
    # Every session is on some page; the whole week stays one link away.
    whole = web.get(page.html.find("a", string="by time")["href"])
    assert whole.html.find(class_="grid-paged") is None
    assert {"Maths 7A", "Art 7A", "Music 7A"} <= set(re.findall(r"\w+ 7A", grid_text(whole)))
    assert whole.html.find(id="cell-20260907-09") is not None
    # Filtered under the limit: as asked.
    mentor = web.get(f"{GRID}&mentor={school['ben'].id}")
    assert mentor.html.find(class_="grid-paged") is None


def test_editing_on_a_paged_grid_redraws_the_cells_of_that_page(
    web, htmx, login_as, school, small_pages
):
    login_as("coordinator")
    monday = school["monday"]
    ctx = "view=week&layout=rooms&date=2026-09-07&page=1"
    response = htmx.post(f"/schedule/sessions/{monday.id}/exception?{ctx}", {"action": "cancel"})
    assert response.status_int == 200
    cell = response.html.find(id=f"cell-r{school['r101'].id}-20260907")
    assert "is-cancelled" in cell.find(id=f"session-card-{monday.id}")["class"]
    assert db.session.get(Occurrence, monday.id).status == "cancelled"


def test_a_big_month_reads_only_the_sessions_it_shows_and_looks_the_same(
    web, app, login_as, school, make_group, make_series, monkeypatch
):
    for n in range(8):
        make_series(make_group(f"Club {n}"), weekdays=(0,), start=time(12), end=time(13))
    generate()
    login_as("coordinator")
    month = "/schedule/month?date=2026-09-07"
    whole = web.get(month).html.find(id="schedule")
    monkeypatch.setitem(app.config, "SCHEDULE_GRID_MAX_SESSIONS", 2)
    with counted_statements() as statements:
        paged = web.get(month).html.find(id="schedule")
    assert str(paged) == str(whole)
    monday = paged.find("a", class_="month-day", string=re.compile(r"^7")).parent
    assert len(monday.select("ul.month-sessions > li")) == 6
    assert monday.find("a", class_="month-more").text == "4 more"
    # The month's sessions read once as ids and starts, then only the shown ones in full.
    shown = [s for s in statements if "occurrence.original_date" in s]
    by_ids = ("occurrence.id IN (SELECT value FROM json_each", "occurrence.id = ANY(")
    assert len(shown) == 1 and any(form in shown[0] for form in by_ids)
    assert any(s.startswith("SELECT occurrence.id, occurrence.start_utc") for s in statements)


def test_two_mentors_of_one_name_are_told_apart_by_e_mail(web, login_as, school, make_user):
    twin = make_user("mentor", name="Ada Lovelace", email="ada.l@school.test")
    login_as("coordinator")
    refused = web.get(f"{GRID}&mentor_q=ada+lovelace", status=422)
    error = refused.html.find(id="filter-mentor-error")
    assert "Several mentors are named 'ada lovelace': choose one, or type the e-mail." in error.text
    links = [a.text for a in error.find_all("a")]
    assert links == ["Ada Lovelace (ada@school.test)", "Ada Lovelace (ada.l@school.test)"]
    response = web.get(f"{GRID}&mentor_q=ada.l@school.test")
    assert response.location.endswith(f"mentor={twin.id}")
