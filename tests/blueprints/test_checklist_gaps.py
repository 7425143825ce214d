"""Edge cases of /work/shared/CHECKLISTS.md that the rest of the suite did not cover yet, as a
user meets them in the pages and commands: a server whose clock zone is not the
organisation's, bad dates, times and numbers in the forms that had no test for them, fields
a user must not set, a GIF/HTML polyglot, markup in notes, spoofed client addresses against
the login limit, and formula-like names in exports."""

from __future__ import annotations

import csv
import io
import time as time_module
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from models import (
    Attachment,
    CourseGroup,
    DateOverride,
    MentorSubject,
    Occurrence,
    OccurrenceStatus,
    Series,
    SessionNote,
    SessionRequest,
    Subject,
    db,
)
from services.common.timeutil import today_in
from services.timetable.exceptions import find_occurrence
from services.timetable.generation import generate_occurrences
from tests import attachment_samples as samples
from tests.blueprints.test_security import scan
from tests.conftest import PINNED_TODAY, browser, csrf_token_of, make_app

PARIS = ZoneInfo("Europe/Paris")  # the test app's TIMEZONE
TODAY = PINNED_TODAY

# Dates are constants of the module: its clock is pinned, so they never go stale.
pytestmark = pytest.mark.usefixtures("pinned_clock")
MONDAY = TODAY + timedelta(days=14 - TODAY.weekday())  # a Monday two weeks or so ahead
HX = {"HX-Request": "true", "HX-Request-Type": "partial"}
FORMULA_STARTS = ("=", "+", "-", "@")


def hx_post(web, url, params, *, page="/sessions/today/", **kwargs):
    token = csrf_token_of(web.get(page))
    return web.post(url, params, headers={**HX, "X-CSRFToken": token}, **kwargs)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def error_next_to(response, field: str) -> str:
    """The message shown next to a field (ids may carry a form's prefix)."""
    found = response.html.select(f'[id$="{field}-error"]')
    assert found, f"no message next to {field}"
    return found[0].text.strip()


def schedule_state():
    """Everything a refused change must leave as it was."""
    db.session.expire_all()
    return (
        [(o.id, o.start_utc, o.end_utc, o.status) for o in db.session.scalars(select(Occurrence))],
        count(DateOverride),
        count(Series),
        count(SessionRequest),
    )


# --- The organisation's zone is not the server's ------------------------------------------------


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


# --- Dates, times and numbers in the forms ------------------------------------------------------


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


@pytest.fixture
def tutoring(make_user):
    maths = Subject(name="Mathematics")
    db.session.add(maths)
    mentor = make_user("mentor", name="Ada Lovelace")
    db.session.flush()
    db.session.add(MentorSubject(mentor_id=mentor.id, subject_id=maths.id))
    db.session.commit()
    return {"mentor": mentor, "maths": maths, "student": make_user("student")}


def ask(web, tutoring, **fields):
    params = {
        "mentor": str(tutoring["mentor"].id),
        "subject": str(tutoring["maths"].id),
        "title": "Algebra",
        "mode": "online",
        "schedule_kind": "single",
        "day": MONDAY.isoformat(),
        "start": "10:00",
        "duration": "60",
        "end": "11:00",
        "first_date": MONDAY.isoformat(),
        "weeks": "2",
        "weekdays": ["0"],
    }
    return hx_post(web, "/requests/new", params | fields, status="*", page="/requests/new")


REQUEST_BAD_VALUES = [
    ({"day": "2027-02-29"}, "day"),
    ({"day": "2026-13-01"}, "day"),
    ({"day": "0001-01-01"}, "day"),
    ({"day": "   "}, "day"),
    ({"schedule_kind": "dates", "dates": "2027-02-29"}, "dates"),
    ({"schedule_kind": "weekly", "first_date": "2026-13-01"}, "first_date"),
    ({"start": "-01:00"}, "start"),
    ({"start": "23:60"}, "start"),
    ({"start": "10.00"}, "start"),
    ({"schedule_kind": "dates", "dates": MONDAY.isoformat(), "end": "10:00"}, "end"),
    ({"schedule_kind": "weekly", "weeks": "0"}, "weeks"),
    ({"schedule_kind": "weekly", "weeks": "-1"}, "weeks"),
    ({"schedule_kind": "weekly", "weeks": str(2**63)}, "weeks"),
    ({"schedule_kind": "weekly", "weeks": "3.5"}, "weeks"),
    ({"duration": "-1"}, "duration"),
    ({"duration": "three"}, "duration"),
    ({"duration": str(2**63)}, "duration"),
]


def test_bad_dates_times_and_numbers_are_refused_next_to_their_field_on_the_request_form(
    web, login_as, tutoring
):
    login_as(tutoring["student"])
    for fields, field in REQUEST_BAD_VALUES:
        response = ask(web, tutoring, **fields)
        assert response.status_int == 422, (fields, response.status)
        assert error_next_to(response, field), fields
    assert count(SessionRequest) == 0


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"day": "9999-12-31", "start": "23:30"}, id="single-9999-12-31-23h30"),
        pytest.param(
            {"schedule_kind": "weekly", "first_date": "9999-12-25", "weeks": "2"},
            id="weekly-from-9999-12-25",
        ),
        pytest.param(
            {"schedule_kind": "dates", "dates": "0001-01-01", "start": "00:00", "end": "01:00"},
            id="dates-0001-01-01-midnight",
        ),
    ],
)
def test_a_request_at_the_edge_of_the_calendar_is_refused_not_a_crash(
    web, login_as, tutoring, fields
):
    login_as(tutoring["student"])
    response = ask(web, tutoring, **fields)
    assert response.status_int == 422
    assert count(SessionRequest) == 0


def test_a_request_for_the_year_9999_is_refused(web, login_as, tutoring):
    login_as(tutoring["student"])
    response = ask(web, tutoring, day="9999-12-31", start="10:00")
    assert response.status_int == 422
    assert count(SessionRequest) == 0


def test_generate_sessions_at_the_end_of_the_calendar_says_what_is_wrong(app, make_series):
    make_series()
    result = app.test_cli_runner().invoke(
        args=["generate-sessions", "--start", "9999-12-31", "--weeks", "1"]
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Error:" in result.output


# --- Fields a user must not set -----------------------------------------------------------------


@pytest.fixture
def lesson(make_user, make_group):
    """A Maths session that started yesterday (its mentor, a student) and an Art session."""
    mentor, student = make_user("mentor"), make_user("student")
    maths = make_group("Maths", mentor=mentor, students=[student])
    art = make_group("Art")
    start = datetime.combine(TODAY - timedelta(days=1), time(10), tzinfo=PARIS).astimezone(UTC)
    made = []
    for group in (maths, art):
        occurrence = Occurrence(
            group_id=group.id,
            start_utc=start,
            end_utc=start + timedelta(hours=1),
            room_id=group.default_room_id,
        )
        db.session.add(occurrence)
        made.append(occurrence)
    db.session.commit()
    return {
        "mentor": mentor,
        "student": student,
        "session": made[0],
        "other": made[1],
        "other_mentor": art.mentor,
    }


def test_fields_a_user_must_not_set_are_never_applied_to_notes_completions_or_files(
    web, login_as, lesson, upload_folder
):
    mentor, occurrence, other = lesson["mentor"], lesson["session"], lesson["other"]
    page = f"/sessions/{occurrence.id}"
    login_as(mentor)
    forged = {
        "author_id": str(lesson["other_mentor"].id),
        "occurrence_id": str(other.id),
        "id": "4242",
        "created_at": "2000-01-01T00:00:00",
    }
    hx_post(
        web,
        f"/notes/sessions/{occurrence.id}",
        {"kind": "general", "body": "Hi"} | forged,
        page=page,
    )
    [note] = db.session.scalars(select(SessionNote)).all()
    assert (note.author_id, note.occurrence_id) == (mentor.id, occurrence.id) and note.id != 4242
    assert note.created_at.year == datetime.now(UTC).year

    completion = {
        "completion-actual_start": "10:00",
        "completion-actual_end": "11:00",
        "completion-code": "",
        "completion-notes": "Done",
        "status": "cancelled",
        "completed_by_id": str(lesson["other_mentor"].id),
        "completion-completed_by_id": str(lesson["other_mentor"].id),
        "completed_at": "2000-01-01T00:00:00",
    }
    hx_post(web, f"/tracking/sessions/{occurrence.id}/complete", completion, page=page)
    db.session.expire_all()
    done = db.session.get(Occurrence, occurrence.id)
    assert (done.status, done.completed_by_id) == (OccurrenceStatus.COMPLETED, mentor.id)
    assert done.completed_at.year == datetime.now(UTC).year

    token = csrf_token_of(web.get(page))
    web.post(
        f"/attachments/sessions/{occurrence.id}",
        {
            "description": "x",
            "uploader_id": str(lesson["other_mentor"].id),
            "occurrence_id": str(other.id),
        },
        upload_files=[("file", "a.pdf", samples.pdf())],
        headers={**HX, "X-CSRFToken": token},
    )
    [attachment] = db.session.scalars(select(Attachment)).all()
    assert (attachment.uploader_id, attachment.occurrence_id) == (mentor.id, occurrence.id)


# --- Files --------------------------------------------------------------------------------------


def test_a_gif_html_polyglot_is_stored_and_served_as_a_gif_never_as_a_page(
    web, login_as, lesson, upload_folder
):
    polyglot = samples.gif() + b"<html><body><script>alert(document.cookie)</script></body></html>"
    login_as(lesson["mentor"])
    token = csrf_token_of(web.get(f"/sessions/{lesson['session'].id}"))
    web.post(
        f"/attachments/sessions/{lesson['session'].id}",
        {"description": ""},
        upload_files=[("file", "page.html", polyglot, "text/html")],
        headers={**HX, "X-CSRFToken": token},
    )
    [attachment] = db.session.scalars(select(Attachment)).all()
    assert (attachment.content_type, attachment.original_name) == ("image/gif", "page.html.gif")
    web.reset()
    login_as(lesson["student"])
    response = web.get(f"/attachments/{attachment.id}/download")
    assert response.body == polyglot
    assert response.content_type == "image/gif"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "page.html.gif" in disposition
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_a_deleted_or_hidden_file_is_404_in_fragments_and_downloads(
    web, htmx, login_as, lesson, make_user, upload_folder
):
    login_as(lesson["mentor"])
    page = f"/sessions/{lesson['session'].id}"
    token = csrf_token_of(web.get(page))
    web.post(
        f"/attachments/sessions/{lesson['session'].id}",
        {"description": ""},
        upload_files=[("file", "a.pdf", samples.pdf())],
        headers={**HX, "X-CSRFToken": token},
    )
    attachment = db.session.scalar(select(Attachment))
    web.reset()
    login_as(make_user("student"))  # sees nothing of that session
    htmx.get(f"/attachments/sessions/{lesson['session'].id}", status=404)
    htmx.get(f"/attachments/{attachment.id}/download", status=404)
    web.reset()
    login_as(lesson["mentor"])
    htmx.post(f"/attachments/{attachment.id}/delete", page=page)
    web.get(f"/attachments/{attachment.id}/download", status=404)
    htmx.post(f"/attachments/{attachment.id}/delete", page=page, status=404)


# --- Markup in notes ----------------------------------------------------------------------------

PAYLOAD = (
    '<a href="javascript:alert(1)">notes</a> '
    '<div hx-on::load="alert(2)" hx-get="/auth/logout" hx-trigger="load">x</div>'
)


def assert_shown_as_text(response):
    assert scan(response).problems == [], scan(response).problems
    assert not response.html.select('a[href^="javascript"]')
    assert not [
        tag
        for tag in response.html.find_all(True)
        if any(name.startswith("hx-on") for name in tag.attrs)
    ]
    assert not response.html.select('[hx-get="/auth/logout"]')
    assert "&lt;a href=&#34;javascript:alert(1)&#34;&gt;" in response.text or (
        "&lt;a href=&quot;javascript:alert(1)&quot;&gt;" in response.text
    )


def test_javascript_links_and_hx_on_in_notes_are_text_everywhere_a_note_is_shown(
    web, htmx, login_as, lesson
):
    occurrence = lesson["session"]
    login_as(lesson["mentor"])
    page = f"/sessions/{occurrence.id}"
    hx_post(
        web, f"/notes/sessions/{occurrence.id}", {"kind": "general", "body": PAYLOAD}, page=page
    )
    note = db.session.scalar(select(SessionNote))
    assert note.body == PAYLOAD
    hx_post(
        web,
        f"/tracking/sessions/{occurrence.id}/complete",
        {
            "completion-actual_start": "10:00",
            "completion-actual_end": "11:00",
            "completion-code": "",
            "completion-notes": PAYLOAD,
        },
        page=page,
    )
    for response in (
        web.get(page),
        htmx.get(f"/notes/sessions/{occurrence.id}"),
        htmx.get(f"/notes/{note.id}"),
        htmx.get(f"/notes/{note.id}/edit"),
        htmx.get(f"/tracking/sessions/{occurrence.id}/completion"),
        web.get("/dashboard/history"),
    ):
        assert_shown_as_text(response)
    web.reset()
    login_as(lesson["student"])
    assert_shown_as_text(web.get(page))


# --- Login limit against spoofed client addresses -----------------------------------------------


@pytest.fixture(scope="module")
def limited_app(tmp_path_factory):
    app = make_app(tmp_path_factory, RATELIMIT_ENABLED=True)
    yield app
    with app.app_context():
        db.engine.dispose()


def test_twenty_wrong_passwords_are_limited_even_from_ever_changing_forwarded_addresses(
    limited_app,
):
    web = browser(limited_app, extra_environ={"REMOTE_ADDR": "10.9.8.7"})
    statuses = []
    for n in range(20):
        form = web.get("/auth/login").forms[0]
        # A new account each time: the address's limit is the one reached, not the account's.
        form["email"], form["password"] = f"someone{n}@school.test", f"guess {n}"
        headers = {"X-Forwarded-For": f"203.0.113.{n}", "X-Real-IP": f"198.51.100.{n}"}
        statuses.append(form.submit(headers=headers, status="*").status_int)
    assert statuses[:10] == [422] * 10
    assert set(statuses[10:]) == {429}


# --- Formula-like names in exports --------------------------------------------------------------


@pytest.fixture
def formula_names(make_user, make_room, make_group, make_series):
    """A class whose every name would be a formula to a spreadsheet."""
    mentor = make_user("mentor", name="@Mentor")
    room = make_room('=HYPERLINK("http://evil.example","x")')
    group = make_group("+Group", mentor=mentor, room=room, subject="-Subject")
    make_series(group, weekdays=(0,), first_date=MONDAY)
    generate_occurrences(MONDAY, MONDAY + timedelta(weeks=1), tz=PARIS)
    db.session.commit()
    return group


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


def test_the_timetable_export_neutralises_formula_like_names_and_still_round_trips(
    app, formula_names, tmp_path
):
    runner = app.test_cli_runner()
    exported = runner.invoke(args=["export-timetable", "-"])
    assert exported.exit_code == 0, exported.output
    cells = [cell for row in csv.reader(io.StringIO(exported.output)) for cell in row]
    assert not [cell for cell in cells if cell.startswith(FORMULA_STARTS)], cells
    db.session.remove()
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())
    path = tmp_path / "timetable.csv"
    path.write_text(exported.output, encoding="utf-8")
    assert runner.invoke(args=["import-timetable", str(path)]).exit_code == 0
    assert db.session.scalar(select(CourseGroup.name)) == "+Group"
