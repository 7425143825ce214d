"""Timetable pages: role checks, the generate page, the exceptions page and today's sessions."""

from __future__ import annotations

import time as time_module
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from models import (
    DateOverride,
    Enrolment,
    Occurrence,
    OccurrenceStatus,
    Series,
    SessionRequest,
    db,
)
from services.common.timeutil import today_in
from services.timetable.exceptions import OverrideChange, find_occurrence, save_override
from services.timetable.generation import generate_occurrences, resolve_window
from tests.blueprints.conftest import error_next_to, long_day, switch_to, toast_of
from tests.conftest import PINNED_TODAY, auckland_at, csrf_token_of

PARIS = ZoneInfo("Europe/Paris")  # the test app's TIMEZONE
TERM = date(2026, 9, 7)  # a Monday
WED = TERM + timedelta(days=2)
DASH = "\u2013"  # the pages write time ranges with an en dash


def occurrence_count() -> int:
    return db.session.scalar(select(func.count(Occurrence.id)))


def override_count() -> int:
    return db.session.scalar(select(func.count(DateOverride.id)))


def generate(weeks=2, start=TERM):
    first, end = resolve_window(start, weeks=weeks)
    summary = generate_occurrences(first, end, tz=PARIS)
    db.session.commit()
    return summary


def local(occurrence: Occurrence) -> tuple[date, time, time]:
    start, end = occurrence.start_utc.astimezone(PARIS), occurrence.end_utc.astimezone(PARIS)
    return start.date(), start.time(), end.time()


def fresh_occurrence(series_id, original_date) -> Occurrence:
    db.session.expire_all()
    return find_occurrence(series_id, original_date)


@pytest.fixture
def override(make_series):
    """A generated Mon/Wed series with a cancellation on its first Wednesday."""
    series = make_series(weekdays=(0, 2))
    generate()
    saved, _ = save_override(series, WED, OverrideChange(cancelled=True), actor=None, tz=PARIS)
    db.session.commit()
    return saved


# --- Role checks --------------------------------------------------------------------------------


def routes(override_id: int) -> list[tuple[str, str]]:
    return [
        ("GET", "/timetable/groups"),
        ("GET", "/timetable/generate"),
        ("POST", "/timetable/generate"),
        ("GET", "/timetable/exceptions"),
        ("POST", "/timetable/exceptions"),
        ("GET", f"/timetable/exceptions/{override_id}/edit"),
        ("POST", f"/timetable/exceptions/{override_id}/edit"),
        ("GET", f"/timetable/exceptions/{override_id}"),
        ("POST", f"/timetable/exceptions/{override_id}/delete"),
    ]


def request(web, htmx, method, url, *, page="/sessions/today/", **kwargs):
    if method == "GET":
        return web.get(url, **kwargs)
    # A valid CSRF token, so that the refusal is about the role and not the token.
    return htmx.post(url, {"start": TERM.isoformat(), "weeks": "1", "action": "cancel"},
                     page=page, **kwargs)  # fmt: skip


@pytest.mark.parametrize("role", ["student", "mentor"])
def test_students_and_mentors_are_refused_every_timetable_route(
    web, htmx, login_as, override, role
):
    login_as(role)
    before = (occurrence_count(), override_count())
    for method, url in routes(override.id):
        response = request(web, htmx, method, url, status=403)
        assert "Not allowed" in response.text, (method, url)  # our words, not Werkzeug's
    assert (occurrence_count(), override_count()) == before
    assert db.session.get(DateOverride, override.id) is not None


def test_anonymous_users_are_sent_to_login(web, htmx, override):
    for method, url in routes(override.id):
        if method == "GET":
            target = web.get(url, status=302).headers["Location"]
        else:  # posted by htmx: the whole tab is sent to the login page
            target = request(web, htmx, method, url, page="/auth/login", status=401).headers[
                "HX-Redirect"
            ]
        assert urlsplit(target).path == "/auth/login", (method, url)
    assert db.session.get(DateOverride, override.id) is not None
    assert location_of(web.get("/sessions/today/", status=302)) == "/auth/login"


def location_of(response) -> str:
    return urlsplit(response.headers["Location"]).path


@pytest.mark.parametrize("role", ["coordinator", "admin"])
def test_coordinators_and_admins_see_every_timetable_page(web, htmx, login_as, override, role):
    login_as(role)
    for method, url in routes(override.id):
        if method == "GET":
            assert web.get(url).status_int == (301 if url == "/timetable/groups" else 200), url
    assert htmx.get(f"/timetable/exceptions/{override.id}/edit").status_int == 200


def test_staff_navigation_is_hidden_from_students(web, login_as):
    login_as("student")
    page = web.get("/sessions/today/")
    assert "/timetable/generate" not in page.text
    assert "Today" in page.text


# --- Course groups ------------------------------------------------------------------------------


def test_the_old_groups_page_sends_to_the_managed_list(web, login_as):
    login_as("coordinator")
    response = web.get("/timetable/groups", status=301)
    assert urlsplit(response.location).path == "/manage/groups"


# --- Generate -----------------------------------------------------------------------------------


def generate_form(web):
    form = web.get("/timetable/generate").forms["generate-form"]
    form["start"] = TERM.isoformat()
    return form


def count_in(page, key) -> int:
    return int(page.html.find(attrs={"data-count": key}).text)


def test_generate_page_defaults_to_today_and_weeks(web, login_as):
    login_as("coordinator")
    form = web.get("/timetable/generate").forms["generate-form"]
    assert form["start"].value == datetime.now(PARIS).date().isoformat()
    assert form["span"].value == "weeks"
    assert form["weeks"].value == "4"


def test_preview_shows_the_summary_and_writes_nothing(web, login_as, make_series):
    login_as("coordinator")
    make_series(weekdays=(0, 2, 4))
    form = generate_form(web)
    form["weeks"] = "8"
    page = form.submit("preview", status=200)
    assert "Preview (nothing written)" in page.text
    assert count_in(page, "created") == 24
    assert occurrence_count() == 0


def test_generate_by_weeks_writes_and_shows_the_created_count(web, login_as, make_series):
    login_as("coordinator")
    make_series(weekdays=(0, 2, 4))
    form = generate_form(web)
    form["weeks"] = "8"
    page = form.submit("generate", status=200)
    assert "Generated" in page.html.find(id="generation-summary").text
    assert count_in(page, "created") == 24
    assert occurrence_count() == 24
    # Running it again changes nothing.
    page = page.forms["generate-form"].submit("generate", status=200)
    assert count_in(page, "created") == 0 and count_in(page, "unchanged") == 24
    assert occurrence_count() == 24


def test_generate_by_date_range(web, login_as, make_series):
    login_as("coordinator")
    make_series(weekdays=(0,))
    form = generate_form(web)
    form["span"] = "range"
    form["end"] = (TERM + timedelta(days=21)).isoformat()  # excluded: three Mondays
    page = form.submit("generate", status=200)
    assert count_in(page, "created") == 3
    assert occurrence_count() == 3


def test_generation_conflicts_are_listed(web, login_as, make_group, make_series, make_room):
    login_as("coordinator")
    room = make_room("Lab 1")
    make_series(make_group("Maths 7A", room=room), weekdays=(0,))
    make_series(make_group("Physics 8B", room=room), weekdays=(0,), start=time(10, 59))
    form = generate_form(web)
    form["weeks"] = "1"
    preview = form.submit("preview", status=200).html.find("ul", class_="conflicts")
    assert "room conflict" in preview.text
    # A preview's sessions do not exist: only the week is linked.
    assert [a["href"] for a in preview.find_all("a")] == ["/schedule/?date=2026-09-07"]
    page = form.submit("generate", status=200)
    conflicts = page.html.find("ul", class_="conflicts")
    assert "room conflict" in conflicts.text
    assert "Maths 7A" in conflicts.text and "Physics 8B" in conflicts.text
    ids = sorted(o.id for o in db.session.scalars(select(Occurrence)))
    links = [a["href"] for a in conflicts.find_all("a")]
    assert links == [f"/sessions/{ids[0]}", f"/sessions/{ids[1]}", "/schedule/?date=2026-09-07"]
    assert "Maths 7A" in web.get(links[0]).text


@pytest.mark.parametrize(
    ("fields", "error_field", "message"),
    [
        ({"weeks": "0"}, "weeks", "between 1 and 104 weeks"),
        ({"weeks": "-1"}, "weeks", "between 1 and 104 weeks"),
        ({"weeks": "three"}, "weeks", "Not a valid integer value"),
        ({"weeks": "3.5"}, "weeks", "Not a valid integer value"),
        ({"weeks": ""}, "weeks", "Enter a number of weeks."),
        ({"weeks": str(2**63)}, "weeks", "between 1 and 104 weeks"),
        ({"span": "range", "end": "2026-09-01"}, "end", "must be after the start"),
        ({"span": "range", "end": "2026-09-07"}, "end", "must be after the start"),
        ({"span": "range", "end": ""}, "end", "Choose the end date."),
        ({"span": "range", "end": "2026-02-30"}, "end", "Not a valid date value"),
        ({"span": "range", "end": "2030-01-01"}, "end", "at most"),
        ({"start": "05/01/2026"}, "start", "Not a valid date value"),
        ({"start": ""}, "start", "Choose the first date."),
    ],
)
def test_bad_generate_input_is_shown_next_to_the_field_and_writes_nothing(
    web, login_as, make_series, fields, error_field, message
):
    login_as("coordinator")
    make_series(weekdays=(0,))
    form = generate_form(web)
    for name, value in fields.items():
        form[name] = value
    page = form.submit("generate", status=422)
    error = page.html.find(id=f"{error_field}-error")
    assert error is not None, page.html.find(id="generate-panel")
    assert message in error.text
    assert page.html.find(id=error_field)["aria-invalid"] == "true"
    assert "generation-summary" not in page.text
    assert occurrence_count() == 0


def test_an_unknown_span_is_refused(web, login_as, htmx, make_series):
    login_as("coordinator")
    make_series(weekdays=(0,))
    response = htmx.post(
        "/timetable/generate",
        {"start": TERM.isoformat(), "span": "forever", "weeks": "2"},
        page="/timetable/generate",
        status=422,
    )
    assert "Not a valid choice" in response.text
    assert occurrence_count() == 0


def test_htmx_generate_returns_only_the_panel(web, login_as, htmx, make_series):
    login_as("coordinator")
    make_series(weekdays=(0, 2))
    response = htmx.post(
        "/timetable/generate",
        {"start": TERM.isoformat(), "span": "weeks", "weeks": "2", "generate": "1"},
        page="/timetable/generate",
    )
    assert response.status_int == 200
    assert "<html" not in response.text and "<nav" not in response.text
    roots = response.html.find_all(recursive=False)
    assert [root.get("id") for root in roots] == ["generate-panel"]
    assert count_in(response, "created") == 4
    assert occurrence_count() == 4
    # Errors come back in the same fragment, with 422.
    response = htmx.post(
        "/timetable/generate",
        {"start": TERM.isoformat(), "span": "weeks", "weeks": "0"},
        page="/timetable/generate",
        status=422,
    )
    assert [r.get("id") for r in response.html.find_all(recursive=False)] == ["generate-panel"]
    assert "between 1 and 104 weeks" in response.html.find(id="weeks-error").text


# --- What Generate says it will do ---------------------------------------------------------------

# Far enough ahead that no session of it has started whenever the suite runs (generation
# keeps started sessions as history, and the page runs at the wall clock).
AHEAD = date(2030, 9, 2)  # a Monday


def generate_ahead(weeks, **kwargs):
    first, end = resolve_window(AHEAD, weeks=weeks)
    generate_occurrences(first, end, tz=PARIS, **kwargs)
    db.session.commit()


def preview_params(**fields) -> dict:
    return {"start": AHEAD.isoformat(), "span": "weeks", "weeks": "8", "preview": "1", **fields}


def rows_of(page, kind) -> list[list[str]]:
    section = page.html.find("details", id=f"generation-{kind}")
    assert section is not None, page.html.find(id="generation-summary")
    return [
        [" ".join(td.text.split()) for td in tr.find_all("td")]
        for tr in section.find("tbody").find_all("tr")
    ]


def test_the_preview_lists_the_sessions_it_would_create_folded_and_paged(
    web, login_as, htmx, make_group, make_series
):
    login_as("coordinator")
    make_series(make_group("Maths 7A"), weekdays=(0, 1, 2, 3, 4))  # 40 sessions in 8 weeks
    page = htmx.post("/timetable/generate", preview_params(), page="/timetable/generate")
    section = page.html.find("details", id="generation-create")
    assert not section.has_attr("open")  # a big list is folded
    assert " ".join(section.find("summary").text.split()) == "Would create: 40 sessions"
    rows = rows_of(page, "create")
    assert len(rows) == 25
    assert rows[0][:2] == ["Maths 7A", "Mon 02 Sep 2030"]
    assert rows[0][2].startswith(f"Mon 02 Sep 10:00{DASH}11:00 in Room ")
    next_button = section.find("button", attrs={"name": "page_create"})
    assert (next_button.text, next_button["value"], next_button["form"]) == (
        "Next", "2", "generate-form",
    )  # fmt: skip
    # The next page: the form posted again with the page (what the button sends).
    second = htmx.post(
        "/timetable/generate",
        {**preview_params(), "preview": "", "page_create": "2"},
        page="/timetable/generate",
    )
    assert "Preview (nothing written)" in second.text
    assert second.html.find("details", id="generation-create").has_attr("open")
    rows = rows_of(second, "create")
    assert len(rows) == 15 and rows[-1][1] == "Fri 25 Oct 2030"
    assert f"Showing 26{DASH}40 of 40." in second.html.find("details", id="generation-create").text
    assert occurrence_count() == 0


def test_the_preview_says_what_force_would_change_from_old_to_new_values(
    web, login_as, htmx, make_group, make_series, make_room
):
    login_as("coordinator")
    series = make_series(make_group("Maths 7A", room=make_room("R101")), weekdays=(0,))
    generate_ahead(2)
    series.start_time, series.end_time, series.room_id = time(14), time(15), make_room("Lab").id
    db.session.commit()
    page = htmx.post("/timetable/generate", preview_params(weeks="2"), page="/timetable/generate")
    assert rows_of(page, "out_of_date") == [
        ["Maths 7A", "Mon 02 Sep 2030", f"Mon 02 Sep 10:00{DASH}11:00 in R101",
         f"→ Mon 02 Sep 14:00{DASH}15:00 in Lab", "force would update it"],
        ["Maths 7A", "Mon 09 Sep 2030", f"Mon 09 Sep 10:00{DASH}11:00 in R101",
         f"→ Mon 09 Sep 14:00{DASH}15:00 in Lab", "force would update it"],
    ]  # fmt: skip
    forced = htmx.post(
        "/timetable/generate", preview_params(weeks="2", force="y"), page="/timetable/generate"
    )
    assert " ".join(forced.html.find("details", id="generation-update").summary.text.split()) == (
        "Would update: 2 sessions"
    )
    link = forced.html.find("details", id="generation-update").find("a")
    assert web.get(link["href"]).status_int == 200  # the session as it is now


def test_a_window_after_every_series_ended_says_so_instead_of_zeros(
    web, login_as, htmx, make_group, make_series
):
    login_as("coordinator")
    make_series(make_group("Maths 7A"), weekdays=(0,), last_date=date(2027, 3, 14))
    page = htmx.post(
        "/timetable/generate",
        preview_params(start="2027-03-15", weeks="4"),
        page="/timetable/generate",
    )
    assert page.html.find(id="generation-nothing").text == (
        "Nothing to generate: every series of these groups ends by 14 Mar 2027, before 15 Mar 2027."
    )


def test_without_javascript_the_summary_says_which_span_it_used(web, login_as, make_series):
    login_as("coordinator")
    make_series(weekdays=(0,))
    form = web.get("/timetable/generate").forms["generate-form"]
    form["start"], form["weeks"] = AHEAD.isoformat(), "2"
    form["end"] = "2030-12-30"  # typed, but "Number of weeks" stays chosen
    page = form.submit("preview", status=200)
    window = " ".join(page.html.find(id="generation-window").text.split())
    assert window == (
        "all active groups, Mon 02 Sep 2030 to Mon 16 Sep 2030 (end excluded), 2 weeks as chosen."
    )
    assert page.html.find(id="generation-span-note").text == (
        "The end date (30 Dec 2030) was not used: \u201cNumber of weeks\u201d is chosen."
    )
    form = page.forms["generate-form"]
    form["span"] = "range"
    page = form.submit("preview", status=200)
    assert "until the end date chosen" in page.html.find(id="generation-window").text
    assert page.html.find(id="generation-span-note").text == (
        "The number of weeks (2) was not used: \u201cUntil a date\u201d is chosen."
    )


def test_a_link_opens_a_forced_preview_for_one_group_and_dates(
    web, login_as, make_group, make_series
):
    login_as("coordinator")
    maths, art = make_group("Maths 7A"), make_group("Art 7A")
    make_series(maths, weekdays=(0,))
    make_series(art, weekdays=(0,))
    page = web.get(
        f"/timetable/generate?group={maths.id}&start=2030-09-02&end=2030-09-03&force=1&preview=1"
    )
    form = page.forms["generate-form"]
    assert (form["group"].value, form["span"].value, form["end"].value) == (
        str(maths.id), "range", "2030-09-03",
    )  # fmt: skip
    assert form["force"].checked
    window = " ".join(page.html.find(id="generation-window").text.split())
    assert window.startswith("Maths 7A, Mon 02 Sep 2030 to Tue 03 Sep 2030 (end excluded)")
    assert rows_of(page, "create")[0][0] == "Maths 7A"
    assert len(rows_of(page, "create")) == 1
    assert occurrence_count() == 0  # a GET never writes
    # Generate from there writes that group's date only.
    form.submit("generate", status=200)
    assert [o.group_id for o in db.session.scalars(select(Occurrence))] == [maths.id]


# --- Exceptions ---------------------------------------------------------------------------------


def exception_form(web, series, day, action="cancel"):
    form = web.get("/timetable/exceptions").forms["exception-form"]
    form["series"] = str(series.id)  # as a picked suggestion leaves it
    form["series_q"] = series.group.name  # the series is typed by its group's name
    form["original_date"] = day.isoformat()
    form["action"] = action
    return form


def test_exceptions_page_lists_groups_and_exceptions(web, login_as, override):
    login_as("coordinator")
    page = web.get("/timetable/exceptions")
    row = page.html.find(id=f"exception-{override.id}")
    assert "Cancelled" in row.text and "Wed 09 Sep 2026" in row.text
    # The group filter is typed (with suggestions), not a list of every group.
    assert page.html.find("select", attrs={"name": "group"}) is None
    assert page.html.find("input", attrs={"name": "group_q"}) is not None


def test_exceptions_can_be_filtered_by_group(web, login_as, override, make_series):
    login_as("coordinator")
    other_series = make_series(weekdays=(0,))
    other, _ = save_override(
        other_series, TERM, OverrideChange(cancelled=True), actor=None, tz=PARIS
    )
    db.session.commit()
    page = web.get(f"/timetable/exceptions?group={other_series.group_id}")
    assert page.html.find(id=f"exception-{other.id}") is not None
    assert page.html.find(id=f"exception-{override.id}") is None


def test_exceptions_can_be_filtered_by_kind_and_dates_in_place(
    web, htmx, login_as, override, make_series
):
    login_as("coordinator")
    series = override.series
    moved, _ = save_override(
        series,
        TERM + timedelta(days=7),
        OverrideChange(room_id=series.room_id),
        actor=None,
        tz=PARIS,
    )
    db.session.commit()
    ids = lambda page: [r["id"] for r in page.html.select("#exceptions-table tbody tr[id]")]  # noqa: E731
    assert ids(web.get("/timetable/exceptions")) == [
        f"exception-{moved.id}",
        f"exception-{override.id}",
    ]
    assert ids(web.get("/timetable/exceptions?kind=cancel")) == [f"exception-{override.id}"]
    assert ids(web.get("/timetable/exceptions?kind=override")) == [f"exception-{moved.id}"]
    assert ids(web.get("/timetable/exceptions?from=2026-09-10")) == [f"exception-{moved.id}"]
    assert ids(web.get("/timetable/exceptions?to=2026-09-09")) == [f"exception-{override.id}"]
    empty = web.get("/timetable/exceptions?from=2026-09-10&kind=cancel")
    assert "No exceptions match these filters." in empty.text
    # The filters swap only the list, and the URL keeps them.
    page = web.get("/timetable/exceptions")
    filters = page.html.find(id="exception-filters")
    assert filters["hx-target"] == "#exceptions-list" and filters["hx-push-url"] == "true"
    fragment = htmx.get("/timetable/exceptions?kind=cancel")
    assert fragment.text.lstrip().startswith('<section id="exceptions-list"')
    assert "Add an exception" not in fragment.text


def test_a_bad_date_filter_is_said_and_ignored(web, login_as, override):
    login_as("coordinator")
    page = web.get("/timetable/exceptions?from=2026-02-31")
    assert "&#39;2026-02-31&#39; is not a date (YYYY-MM-DD): filter ignored." in page.text
    assert page.html.find(id=f"exception-{override.id}") is not None


def test_long_exception_lists_are_paginated(web, login_as, make_series):
    login_as("coordinator")
    series = make_series(weekdays=(0,))
    for week in range(25):
        day = TERM + timedelta(weeks=week)
        save_override(series, day, OverrideChange(cancelled=True), actor=None, tz=PARIS)
    db.session.commit()
    first = web.get("/timetable/exceptions?kind=cancel")
    assert len(first.html.select("#exceptions-table tbody tr[id]")) == 20
    assert f"Showing 1{DASH}20 of 25." in first.text
    next_url = first.html.find("a", rel="next")["href"]
    assert "kind=cancel" in next_url and "page=2" in next_url
    second = web.get(next_url)
    assert len(second.html.select("#exceptions-table tbody tr[id]")) == 5
    assert "Mon 07 Sep 2026" in second.text  # the oldest come last


def test_add_a_cancellation_cancels_the_session_at_once(web, login_as, make_series):
    user = login_as("coordinator")
    series = make_series(weekdays=(0, 2))
    generate()
    form = exception_form(web, series, TERM)
    form["notes"] = "School trip"
    page = form.submit(status=302).follow()
    assert "Exception saved" in page.text
    occurrence = fresh_occurrence(series.id, TERM)
    assert occurrence.status == OccurrenceStatus.CANCELLED
    saved = db.session.scalar(select(DateOverride))
    assert saved.cancelled and saved.notes == "School trip" and saved.created_by_id == user.id
    assert page.html.find(id=f"exception-{saved.id}") is not None


def test_add_an_override_moving_time_and_room(web, login_as, make_series, make_room):
    login_as("coordinator")
    series = make_series(weekdays=(0, 2))
    generate()
    before = fresh_occurrence(series.id, TERM)
    occurrence_id, sequence = before.id, before.sequence
    hall = make_room("Great Hall")
    form = exception_form(web, series, TERM, action="override")
    form["start_time"], form["end_time"], form["room_q"] = "14:00", "15:30", "Great Hall"
    form.submit(status=302)
    occurrence = fresh_occurrence(series.id, TERM)
    assert occurrence.id == occurrence_id  # same session, moved in place
    assert occurrence.sequence == sequence + 1
    assert local(occurrence) == (TERM, time(14), time(15, 30))
    assert occurrence.room_id == hall.id
    assert occurrence.status == OccurrenceStatus.SCHEDULED
    # The other dates of the series are untouched.
    assert local(fresh_occurrence(series.id, WED))[1] == time(10)


def test_move_to_another_day_keeps_the_session_identity(web, login_as, make_series):
    login_as("coordinator")
    series = make_series(weekdays=(0,))
    generate()
    occurrence_id = fresh_occurrence(series.id, TERM).id
    form = exception_form(web, series, TERM, action="override")
    form["new_date"] = (TERM + timedelta(days=1)).isoformat()
    form.submit(status=302)
    occurrence = fresh_occurrence(series.id, TERM)
    assert occurrence.id == occurrence_id
    assert local(occurrence)[0] == TERM + timedelta(days=1)


def assert_refused(page, field, message, status_code):
    assert page.status_int == status_code
    error = page.html.find(id=f"{field}-error")
    assert error is not None and message in error.text, page.html.find(id="exception-form")
    # the form stays open with the errors
    assert page.html.find("details", id="add-exception").has_attr("open")
    assert override_count() == 0


def test_a_date_that_is_not_an_occurrence_is_refused(web, login_as, make_series):
    login_as("coordinator")
    series = make_series(weekdays=(0,))
    generate()
    page = exception_form(web, series, TERM + timedelta(days=1)).submit(status=422)
    assert_refused(page, "original_date", "is not an occurrence of", 422)
    assert page.forms["exception-form"]["series"].value == str(series.id)
    # The page with errors is the same page: the group filter is still there.
    assert page.html.find("input", attrs={"name": "group_q"}) is not None


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"start_time": "12:00", "end_time": "11:00"}, "end_time", "must be after the start"),
        ({"start_time": "12:00", "end_time": "12:00"}, "end_time", "must be after the start"),
        ({"end_time": "09:00"}, "end_time", "must be after the start"),
        ({}, "start_time", "Choose a new date, time or room"),
        ({"start_time": "24:00"}, "start_time", "Not a valid time"),
        ({"start_time": "10.00"}, "start_time", "Not a valid time"),
        ({"new_date": "2026-02-30"}, "new_date", "Not a valid date"),
    ],
)
def test_bad_override_input_is_refused_next_to_the_field(
    web, login_as, make_series, fields, field, message
):
    login_as("coordinator")
    series = make_series(weekdays=(0,))
    generate()
    form = exception_form(web, series, TERM, action="override")
    for name, value in fields.items():
        form[name] = value
    assert_refused(form.submit(status=422), field, message, 422)
    assert local(fresh_occurrence(series.id, TERM))[1] == time(10)


def test_bad_series_and_date_values_are_refused(web, login_as, htmx, make_series):
    login_as("coordinator")
    series = make_series(weekdays=(0,))
    for params, field in [
        ({"series": "0", "original_date": TERM.isoformat()}, "series_q"),
        ({"series": "999999", "original_date": TERM.isoformat()}, "series_q"),
        ({"series": "abc", "original_date": TERM.isoformat()}, "series_q"),
        ({"series_q": "No such group", "original_date": TERM.isoformat()}, "series_q"),
        ({"series": str(series.id), "original_date": ""}, "original_date"),
        ({"series": str(series.id), "original_date": "2027-02-29"}, "original_date"),
    ]:
        response = htmx.post(
            "/timetable/exceptions", {**params, "action": "cancel"}, page="/timetable/exceptions",
            status=422,
        )  # fmt: skip
        assert response.html.find(id=f"{field}-error") is not None, params
    assert override_count() == 0


def test_an_override_colliding_with_another_session_in_the_room_is_refused(
    web, login_as, make_group, make_series, make_room
):
    login_as("coordinator")
    room, hall = make_room("Lab 1"), make_room("Great Hall")
    maths = make_series(make_group("Maths 7A", room=room), weekdays=(0,))
    make_series(make_group("Physics 8B", room=hall), weekdays=(0,), start=time(14), end=time(15))
    generate()
    form = exception_form(web, maths, TERM, action="override")
    form["start_time"], form["end_time"], form["room_q"] = "14:30", "15:30", "Great Hall"
    page = form.submit(status=409)
    assert_refused(page, "room_q", "Physics 8B", 409)
    assert "Great Hall (room) is already booked" in page.html.find(id="room_q-error").text
    occurrence = fresh_occurrence(maths.id, TERM)
    assert local(occurrence)[1] == time(10) and occurrence.room_id == room.id


def test_an_override_colliding_with_the_mentors_other_session_is_refused(
    web, login_as, make_user, make_group, make_series
):
    login_as("coordinator")
    mentor = make_user("mentor", name="Ms Curie")
    maths = make_series(make_group("Maths 7A", mentor=mentor), weekdays=(0,))
    make_series(
        make_group("Physics 8B", mentor=mentor), weekdays=(0,), start=time(14), end=time(15)
    )
    generate()
    form = exception_form(web, maths, TERM, action="override")
    form["start_time"], form["end_time"] = "14:30", "15:30"
    page = form.submit(status=409)
    assert_refused(page, "start_time", "Physics 8B", 409)
    assert "Ms Curie already teaches" in page.text


def test_a_second_exception_for_the_same_date_updates_the_first(web, login_as, make_series):
    login_as("coordinator")
    series = make_series(weekdays=(0,))
    generate()
    exception_form(web, series, TERM).submit(status=302)
    form = exception_form(web, series, TERM, action="override")
    form["start_time"], form["end_time"] = "12:00", "13:00"
    form.submit(status=302)
    overrides = db.session.scalars(select(DateOverride)).all()
    assert len(overrides) == 1 and not overrides[0].cancelled
    occurrence = fresh_occurrence(series.id, TERM)
    assert occurrence.status == OccurrenceStatus.SCHEDULED
    assert local(occurrence)[1] == time(12)


def test_htmx_edit_returns_the_edit_row_and_save_returns_the_display_row(
    web, login_as, htmx, override
):
    login_as("coordinator")
    response = htmx.get(f"/timetable/exceptions/{override.id}/edit")
    roots = response.html.find_all(recursive=False)
    assert [(r.name, r.get("id")) for r in roots] == [("tr", f"exception-{override.id}")]
    assert "editing" in roots[0]["class"]
    assert roots[0].find("form")["hx-post"] == f"/timetable/exceptions/{override.id}/edit"

    response = htmx.post(
        f"/timetable/exceptions/{override.id}/edit",
        {"action": "override", "start_time": "08:00", "end_time": "09:00", "notes": "Early"},
        page="/timetable/exceptions",
    )
    assert response.status_int == 200
    (root,) = response.html.find_all(recursive=False)
    assert root.get("id") == f"exception-{override.id}" and "editing" not in root.get("class", [])
    assert "Moved" in root.text and f"08:00{DASH}09:00" in root.text and "Early" in root.text
    occurrence = fresh_occurrence(override.series_id, WED)
    assert occurrence.status == OccurrenceStatus.SCHEDULED
    assert local(occurrence)[1:] == (time(8), time(9))

    # Cancel editing: the display row again.
    response = htmx.get(f"/timetable/exceptions/{override.id}")
    (root,) = response.html.find_all(recursive=False)
    assert root.get("id") == f"exception-{override.id}"


def test_htmx_save_with_errors_returns_the_edit_row_with_422(web, login_as, htmx, override):
    login_as("coordinator")
    response = htmx.post(
        f"/timetable/exceptions/{override.id}/edit",
        {"action": "override", "start_time": "12:00", "end_time": "11:00"},
        page="/timetable/exceptions",
        status=422,
    )
    (root,) = response.html.find_all(recursive=False)
    assert root.get("id") == f"exception-{override.id}" and "editing" in root["class"]
    error = root.find(id=f"exception{override.id}-end_time-error")
    assert "must be after the start" in error.text
    db.session.expire_all()
    assert db.session.get(DateOverride, override.id).cancelled


def test_the_edit_page_without_htmx_saves_and_redirects(web, login_as, override):
    login_as("coordinator")
    form = web.get(f"/timetable/exceptions/{override.id}/edit").forms["exception-edit-form"]
    assert form["action"].value == "cancel"
    form["action"] = "override"
    form["start_time"], form["end_time"] = "16:00", "17:00"
    page = form.submit(status=302).follow()
    assert "Exception updated." in page.text
    assert local(fresh_occurrence(override.series_id, WED))[1] == time(16)


def test_editing_cannot_change_the_series_or_date(web, login_as, htmx, override, make_series):
    login_as("coordinator")
    other = make_series(weekdays=(1,))
    htmx.post(
        f"/timetable/exceptions/{override.id}/edit",
        {"series": str(other.id), "original_date": TERM.isoformat(), "action": "cancel"},
        page="/timetable/exceptions",
    )
    db.session.expire_all()
    saved = db.session.get(DateOverride, override.id)
    assert (saved.series_id, saved.original_date) == (override.series_id, WED)


def test_htmx_delete_removes_the_row_and_restores_the_session(web, login_as, htmx, make_series):
    login_as("coordinator")
    series = make_series(weekdays=(0,))
    generate()
    moved, _ = save_override(
        series, TERM, OverrideChange(start_time=time(15), end_time=time(16)), actor=None, tz=PARIS
    )
    db.session.commit()
    response = htmx.post(f"/timetable/exceptions/{moved.id}/delete", page="/timetable/exceptions")
    assert response.status_int == 200 and response.text.strip() == ""
    assert override_count() == 0
    occurrence = fresh_occurrence(series.id, TERM)
    assert local(occurrence) == (TERM, time(10), time(11))
    assert occurrence.room_id == series.room_id
    assert f"exception-{moved.id}" not in web.get("/timetable/exceptions").text


def test_delete_of_a_cancellation_without_htmx_restores_and_redirects(web, login_as, override):
    login_as("coordinator")
    page = web.get("/timetable/exceptions")
    row_form = page.forms[f"delete-exception-{override.id}"]
    page = row_form.submit(status=302).follow()
    assert "back to its series' time and room" in page.html.text
    assert fresh_occurrence(override.series_id, WED).status == OccurrenceStatus.SCHEDULED


@pytest.mark.parametrize("missing", [0, 999999])
def test_unknown_exception_ids_answer_404(web, login_as, htmx, override, missing):
    login_as("coordinator")
    web.get(f"/timetable/exceptions/{missing}/edit", status=404)
    web.get(f"/timetable/exceptions/{missing}", status=404)
    htmx.get(f"/timetable/exceptions/{missing}/edit", status=404)
    htmx.post(f"/timetable/exceptions/{missing}/edit", {"action": "cancel"}, status=404)
    response = htmx.post(f"/timetable/exceptions/{missing}/delete", status=404)
    assert "<html" not in response.text and 'id="error-404"' in response.text
    assert override_count() == 1


@pytest.mark.parametrize("bad", ["-1", "abc", str(2**63)])
def test_malformed_exception_ids_answer_404(web, login_as, bad):
    login_as("coordinator")
    web.get(f"/timetable/exceptions/{bad}/edit", status=404)


# --- Today's sessions ---------------------------------------------------------------------------


def running_now(group) -> Occurrence:
    """A one-time session of `group` that started a few minutes ago (today, local)."""
    now = datetime.now(UTC).replace(microsecond=0)
    midnight = datetime.combine(now.astimezone(PARIS).date(), time(), PARIS).astimezone(UTC)
    occurrence = Occurrence(
        group_id=group.id,
        start_utc=max(now - timedelta(minutes=5), midnight),
        end_utc=now + timedelta(hours=1),
        room_id=group.default_room_id,
    )
    db.session.add(occurrence)
    db.session.commit()
    return occurrence


def test_today_shows_a_session_running_now_for_the_coordinator(
    web, login_as, make_group, make_room
):
    login_as("coordinator")
    group = make_group("Maths 7A", room=make_room("Lab 1"))
    occurrence = running_now(group)
    page = web.get("/sessions/today/")
    board = page.html.find(class_="board").text
    assert "Lab 1" in board and "Maths 7A" in board and "Now" in board
    assert page.html.find(class_="now").find("a")["href"] == f"/sessions/{occurrence.id}"


def test_today_board_refreshes_itself_in_place(web, htmx, login_as, make_group):
    login_as("coordinator")
    page = web.get("/sessions/today/")
    board = page.html.find(id="today-board")
    assert board["hx-trigger"].startswith("every 60s, ") and board["hx-swap"] == "outerHTML"
    running_now(make_group("Maths 7A"))
    fragment = htmx.get(board["hx-get"])
    assert fragment.text.lstrip().startswith('<section id="today-board"')
    assert "Maths 7A" in fragment.text and "<html" not in fragment.text


def test_today_shows_a_student_only_their_own_groups(web, login_as, make_user, make_group):
    student = make_user("student")
    mine = make_group("Maths 7A", students=[student])
    theirs = make_group("Physics 8B")
    running_now(mine)
    running_now(theirs)
    login_as(student)
    page = web.get("/sessions/today/")
    assert "Maths 7A" in page.text
    assert "Physics 8B" not in page.text


def test_today_shows_a_mentor_the_groups_they_teach(web, login_as, make_user, make_group):
    mentor = make_user("mentor")
    running_now(make_group("Maths 7A", mentor=mentor))
    running_now(make_group("Physics 8B"))
    login_as(mentor)
    page = web.get("/sessions/today/")
    assert "Maths 7A" in page.text and "Physics 8B" not in page.text


def test_today_without_sessions_says_so(web, login_as, make_user, make_group):
    student = make_user("student")
    group = make_group("Maths 7A")
    db.session.add(Enrolment(group_id=group.id, student_id=student.id))
    db.session.commit()
    login_as(student)
    assert "No more sessions today." in web.get("/sessions/today/").text


def test_an_anonymous_htmx_request_sends_the_whole_tab_to_login(web, htmx, override):
    response = web.get(
        f"/timetable/exceptions/{override.id}/edit",
        headers={
            "HX-Request": "true",
            "HX-Current-URL": "http://localhost/timetable/exceptions?group=3",
        },
        status=401,
    )
    assert response.headers["HX-Redirect"] == (
        "/auth/login?next=%2Ftimetable%2Fexceptions%3Fgroup%3D3"
    )
    assert response.text == ""


def test_deleting_an_exception_whose_restored_session_would_collide_is_refused(
    web, login_as, htmx, make_group, make_series, make_room
):
    login_as("coordinator")
    room = make_room("Lab 1")
    maths = make_series(make_group("Maths 7A", room=room), weekdays=(0,))
    generate(weeks=1)
    moved, _ = save_override(
        maths, TERM, OverrideChange(start_time=time(15), end_time=time(16)), actor=None, tz=PARIS
    )
    db.session.commit()
    # Physics takes the freed 10:00 slot in Lab 1 as a one-time session.
    physics = make_group("Physics 8B", room=room)
    start = datetime.combine(TERM, time(10), PARIS).astimezone(UTC)
    db.session.add(
        Occurrence(
            group_id=physics.id, start_utc=start, end_utc=start + timedelta(hours=1),
            room_id=room.id,
        )
    )  # fmt: skip
    db.session.commit()
    response = htmx.post(
        f"/timetable/exceptions/{moved.id}/delete", page="/timetable/exceptions", status=409
    )
    (root,) = response.html.find_all(recursive=False)
    assert root.get("id") == f"exception-{moved.id}"
    assert "Physics 8B" in root.find(class_="field-error").text
    assert override_count() == 1
    assert local(fresh_occurrence(maths.id, TERM))[1] == time(15)


TODAY = PINNED_TODAY


MONDAY = TODAY + timedelta(days=14 - TODAY.weekday())  # a Monday two weeks or so ahead


HX = {"HX-Request": "true", "HX-Request-Type": "partial"}


def hx_post(web, url, params, *, page="/sessions/today/", **kwargs):
    token = csrf_token_of(web.get(page))
    return web.post(url, params, headers={**HX, "X-CSRFToken": token}, **kwargs)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def schedule_state():
    """Everything a refused change must leave as it was."""
    db.session.expire_all()
    return (
        [(o.id, o.start_utc, o.end_utc, o.status) for o in db.session.scalars(select(Occurrence))],
        count(DateOverride),
        count(Series),
        count(SessionRequest),
    )


@pytest.fixture
def server_far_from_the_school(app, monkeypatch):
    """The server's clock is in Kiritimati (UTC+14), the school in Pago Pago (UTC-11): their
    dates always differ."""
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time_module.tzset()
    monkeypatch.setitem(app.config, "TIMEZONE", "Pacific/Pago_Pago")
    yield ZoneInfo("Pacific/Pago_Pago")
    monkeypatch.undo()
    time_module.tzset()


@pytest.mark.usefixtures("pinned_clock")
def test_today_and_times_follow_the_organisation_zone_not_the_servers(
    web, login_as, make_series, server_far_from_the_school
):
    school_tz = server_far_from_the_school
    school_today = today_in(school_tz)
    assert date.today() != school_today  # the server's own idea of today is another day
    login_as("coordinator")
    form = web.get("/timetable/generate").forms["generate-form"]
    assert form["start"].value == school_today.isoformat()

    monday = school_today - timedelta(days=school_today.weekday()) + timedelta(weeks=1)
    make_series(weekdays=(0,), start=time(9), end=time(10), first_date=monday)
    form["start"], form["weeks"] = monday.isoformat(), "1"
    form.submit("generate", status=200)
    [session] = db.session.scalars(select(Occurrence)).all()
    assert session.start_utc == datetime.combine(monday, time(20), tzinfo=UTC)  # 09:00 at UTC-11
    grid = web.get(f"/schedule/?date={monday.isoformat()}")
    assert "09:00\u201310:00" in grid.html.find(id=f"cell-{monday:%Y%m%d}-09").text


@pytest.fixture
def timetable(make_user, make_group, make_series):
    """A weekly Monday 10:00 class with two generated weeks from MONDAY."""
    mentor = make_user("mentor", name="Ada Lovelace")
    group = make_group("Maths 7A", mentor=mentor, subject="Mathematics")
    series = make_series(group, weekdays=(0,), first_date=MONDAY)
    generate_occurrences(MONDAY, MONDAY + timedelta(weeks=2), tz=PARIS)
    db.session.commit()
    return {
        "group": group,
        "series": series,
        "mentor": mentor,
        "monday": find_occurrence(series.id, MONDAY),
    }


def editor_url(occurrence) -> str:
    return f"/schedule/sessions/{occurrence.id}/exception?view=week&date={MONDAY.isoformat()}"


def staff_post(web, timetable, form: str, field: str, value: str):
    """Post `value` in `field` of one of the staff forms (everything else valid)."""
    series, group = timetable["series"], timetable["group"]
    if form == "generate":
        params = {"start": MONDAY.isoformat(), "span": "weeks", "weeks": "1", "generate": "1"}
        return hx_post(
            web,
            "/timetable/generate",
            params | {field: value},
            status="*",
            page="/timetable/generate",
        )
    if form == "exceptions":
        params = {
            "series": str(series.id),
            "original_date": MONDAY.isoformat(),
            "action": "override",
            "start_time": "12:00",
            "end_time": "13:00",
        }
        return hx_post(
            web,
            "/timetable/exceptions",
            params | {field: value},
            status="*",
            page="/timetable/exceptions",
        )
    if form == "editor":
        params = {"action": "override", "start_time": "12:00", "end_time": "13:00"}
        return hx_post(web, editor_url(timetable["monday"]), params | {field: value}, status="*")
    if form == "series":
        params = {
            "weekdays": ["1"],
            "every_weeks": "1",
            "start_time": "10:00",
            "end_time": "11:00",
            "room": str(group.default_room_id),
            "mode": "in_person",
            "first_date": MONDAY.isoformat(),
            "last_date": "",
        }
        params = {f"new-{k}": v for k, v in (params | {field: value}).items()}
        return hx_post(web, f"/manage/groups/{group.id}/series", params, status="*")
    assert form == "new-session"
    params = {
        "group": str(group.id),
        "date": (MONDAY + timedelta(days=1)).isoformat(),
        "start": "10:00",
        "end": "11:00",
        "room": str(group.default_room_id),
        "mode": "in_person",
    }
    return hx_post(web, "/sessions/new", params | {field: value}, status="*", page="/sessions/new")


STAFF_BAD_VALUES = [
    # Dates the other tests did not try on these forms.
    ("generate", "start", "2026-02-30"),
    ("generate", "start", "2027-02-29"),
    ("generate", "start", "2026-13-01"),
    ("exceptions", "original_date", "2026-02-30"),
    ("exceptions", "original_date", "2026-13-01"),
    ("exceptions", "original_date", "05/01/2026"),
    ("exceptions", "new_date", "2027-02-29"),
    ("exceptions", "new_date", "2026-13-01"),
    ("exceptions", "new_date", "05/01/2026"),
    ("editor", "new_date", "2026-02-30"),
    ("editor", "new_date", "2027-02-29"),
    ("editor", "new_date", "2026-13-01"),
    ("editor", "new_date", "05/01/2026"),
    ("series", "first_date", "2027-02-29"),
    ("series", "first_date", "2026-13-01"),
    ("series", "first_date", "05/01/2026"),
    ("series", "first_date", "9999-12-31"),
    # Times.
    ("new-session", "start", "-01:00"),
    ("exceptions", "start_time", "-01:00"),
    ("exceptions", "start_time", "23:60"),
    ("editor", "start_time", "24:00"),
    ("editor", "start_time", "23:60"),
    ("editor", "start_time", "-01:00"),
    ("editor", "start_time", "10.00"),
    ("editor", "end_time", "12:00"),  # equal to the start
    ("series", "start_time", "-01:00"),
    ("series", "start_time", "23:60"),
    ("series", "start_time", "10.00"),
    # Numbers.
    ("series", "every_weeks", "-1"),
    ("series", "every_weeks", str(2**63)),
    ("series", "every_weeks", "3.5"),
]


@pytest.mark.usefixtures("pinned_clock")
def test_bad_dates_times_and_numbers_are_refused_next_to_their_field_on_staff_forms(
    web, login_as, timetable
):
    login_as("coordinator")
    before = schedule_state()
    for form, field, value in STAFF_BAD_VALUES:
        response = staff_post(web, timetable, form, field, value)
        assert response.status_int == 422, (form, field, value, response.status)
        assert error_next_to(response, field), (form, field, value)
        assert schedule_state() == before, (form, field, value)


@pytest.mark.usefixtures("pinned_clock")
def test_blank_dates_in_the_editor_and_generate_forms_are_refused(web, login_as, timetable):
    login_as("coordinator")
    before = schedule_state()
    editor = editor_url(timetable["monday"])
    responses = [
        staff_post(web, timetable, "generate", "start", "   "),
        hx_post(web, editor, {"action": "override", "new_date": ""}, status="*"),
        hx_post(web, editor, {"action": "override", "new_date": "   "}, status="*"),
    ]
    for response in responses:
        assert response.status_int == 422
        assert response.html.select(".field-error")  # said next to a field, nothing moved
    assert schedule_state() == before


@pytest.mark.usefixtures("pinned_clock")
@pytest.mark.parametrize(
    ("form", "field", "value"),
    [
        pytest.param("generate", "start", "0001-01-01", id="generate-0001-01-01"),
        pytest.param("generate", "start", "9999-12-31", id="generate-9999-12-31"),
        pytest.param("exceptions", "original_date", "9999-12-31", id="exceptions-date-9999"),
        pytest.param("exceptions", "new_date", "0001-01-01", id="exceptions-move-to-0001"),
        pytest.param("editor", "new_date", "0001-01-01", id="editor-move-to-0001-01-01"),
    ],
)
def test_dates_at_the_edge_of_the_calendar_are_refused_not_a_crash(
    web, login_as, timetable, form, field, value
):
    login_as("coordinator")
    before = schedule_state()
    response = staff_post(web, timetable, form, field, value)
    assert response.status_int == 422
    assert error_next_to(response, field)
    assert schedule_state() == before


@pytest.mark.usefixtures("pinned_clock")
@pytest.mark.parametrize(
    ("form", "value"),
    [("editor", "9999-12-31"), ("editor", "0001-01-02"), ("exceptions", "9999-12-31")],
)
def test_a_session_is_not_moved_to_a_date_out_of_range(web, login_as, timetable, form, value):
    login_as("coordinator")
    before = schedule_state()
    response = staff_post(web, timetable, form, "new_date", value)
    assert response.status_int == 422, "the session was moved"
    assert schedule_state() == before


def test_generating_from_a_typed_date_keeps_local_times_across_the_change(
    web, login_as, auckland_term, make_group, make_series
):
    tuesday = auckland_term["before"] + timedelta(days=1)
    group = make_group("Physics 8B", mentor=auckland_term["ada"], room=auckland_term["room"])
    make_series(group, weekdays=(1,), start=time(8, 30), end=time(9, 30), first_date=tuesday)
    login_as("coordinator")
    form = web.get("/timetable/generate").forms["generate-form"]
    form["start"], form["weeks"] = tuesday.isoformat(), "2"
    form.submit("generate", status=200)
    made = db.session.scalars(
        select(Occurrence).where(Occurrence.group_id == group.id).order_by(Occurrence.start_utc)
    ).all()
    days = [tuesday, tuesday + timedelta(weeks=1)]
    assert [o.original_date for o in made] == days
    assert [o.start_utc for o in made] == [auckland_at(d, time(8, 30)) for d in days]
    assert made[1].start_utc - made[0].start_utc != timedelta(weeks=1)  # the clocks changed


def test_an_exception_typed_moves_to_that_local_date_and_everyone_reads_it_locally(
    web, login_as, auckland_term
):
    after = auckland_term["after"]
    moved_to = after + timedelta(days=1)
    login_as("coordinator")
    form = web.get("/timetable/exceptions").forms["exception-form"]
    form["series_q"], form["original_date"] = "Maths 7A", after.isoformat()
    form["action"], form["new_date"] = "override", moved_to.isoformat()
    form["start_time"], form["end_time"] = "07:30", "08:30"
    form.submit(status=302)
    occurrence = db.session.get(Occurrence, auckland_term["sessions"][1].id)
    db.session.refresh(occurrence)
    assert occurrence.start_utc == auckland_at(moved_to, time(7, 30))
    assert occurrence.end_utc == auckland_at(moved_to, time(8, 30))

    listing_page = web.get("/timetable/exceptions")
    row = listing_page.html.find("td", string=long_day(after)).find_parent("tr")
    assert f"to {long_day(moved_to)}" in row.text and f"07:30{DASH}08:30" in row.text
    assert web.get(f"/sessions/{occurrence.id}").html.find(
        attrs={"data-field": "date"}
    ).text == long_day(moved_to)

    title = f"Maths 7A on {after:%a %d %b} 08:00 moves to {moved_to:%a %d %b} 07:30"
    switch_to(web, login_as, auckland_term["noah"])
    notes = web.get("/notifications/")
    item = notes.html.find(class_="notification-title")
    assert item.text.strip() == title
    bell = web.get("/notifications/bell?since=0&unread=0", headers=HX)
    assert toast_of(bell) == title
