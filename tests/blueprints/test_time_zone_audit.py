"""Time-zone audit, end to end: every surface a person reads shows the organisation's local
time and local date, across a DST change, whatever the server's own TZ.

The organisation is in Pacific/Auckland (UTC+12/+13) and the server in America/Los_Angeles.
A weekly series meets on Mondays at 08:00, on the Monday before and the Monday after the next
Auckland DST change: the two sessions have different UTC offsets, and both start on the
*previous* UTC date (08:00 in Auckland is 19:00 or 20:00 UTC the day before), so a surface
that formats a UTC (or naive, or server-local) datetime shows the wrong hour and the wrong day.
"""

from __future__ import annotations

import csv
import io
import json
import time as time_module
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from models import MentorSubject, Notification, Occurrence, SessionRequest, Subject, db
from services.common import timeutil
from services.common.timeutil import today_in
from services.output.feeds import own_feed
from services.people.tokens import create_token
from services.timetable import listing
from services.timetable.generation import generate_occurrences
from services.timetable.sessions import create_one_time_session
from services.tracking import dashboard as dashboard_service
from tests.conftest import csrf_token_of

AKL = ZoneInfo("Pacific/Auckland")
SERVER_TZ = "America/Los_Angeles"
DASH = "\u2013"
HX = {"HX-Request": "true", "HX-Request-Type": "partial"}


def next_dst_change(tz: ZoneInfo, after: date) -> date:
    """The first local date after `after` on which the zone's UTC offset changes."""
    day = after
    while True:
        if (
            datetime.combine(day, time(12), tz).utcoffset()
            != datetime.combine(day + timedelta(days=1), time(12), tz).utcoffset()
        ):
            return day + timedelta(days=1)
        day += timedelta(days=1)


def previous_dst_change(tz: ZoneInfo, before: date) -> date:
    """The last local date before `before` on which the zone's UTC offset changed."""
    day = before
    while (
        datetime.combine(day, time(12), tz).utcoffset()
        == datetime.combine(day - timedelta(days=1), time(12), tz).utcoffset()
    ):
        day -= timedelta(days=1)
    return day


def at(day: date, clock: time, tz: ZoneInfo = AKL) -> datetime:
    """The UTC instant of a local wall-clock time."""
    return datetime.combine(day, clock, tzinfo=tz).astimezone(UTC)


def long_day(day: date) -> str:
    return f"{day:%a %d %b %Y}"


def toast_of(response) -> str:
    return json.loads(response.headers["HX-Trigger"])["toast"]["message"]


def hx_post(web, url, params=None, page="/sessions/today/", **kwargs):
    token = csrf_token_of(web.get(page))
    return web.post(url, params or {}, headers={**HX, "X-CSRFToken": token}, **kwargs)


def switch_to(web, login_as, user):
    web.reset()
    return login_as(user)


@pytest.fixture
def auckland(app, monkeypatch):
    """The organisation in Auckland, the server's own TZ in Los Angeles (almost a day apart)."""
    monkeypatch.setitem(app.config, "TIMEZONE", "Pacific/Auckland")
    monkeypatch.setenv("TZ", SERVER_TZ)
    time_module.tzset()
    yield AKL
    monkeypatch.undo()
    time_module.tzset()


def freeze(monkeypatch, instant: datetime) -> None:
    """`datetime.now()` is `instant` where "now" and "today" are decided (today_in, today's
    board, the dashboard's tabs)."""

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return instant.astimezone(tz) if tz else instant.astimezone().replace(tzinfo=None)

    for module in (timeutil, listing, dashboard_service):
        monkeypatch.setattr(module, "datetime", Frozen)


@pytest.fixture
def term(auckland, make_user, make_room, make_group, make_series):
    """Maths 7A (mentor Ada, student Noah, room R1) on Mondays 08:00-09:00, the Monday before
    (`before`) and the Monday after (`after`) the next Auckland DST change."""
    change = next_dst_change(AKL, today_in(AKL) + timedelta(days=14))
    assert change.weekday() == 6  # New Zealand changes its clocks on Sundays
    before, after = change - timedelta(days=6), change + timedelta(days=1)
    ada = make_user("mentor", name="Ada Lovelace")
    noah = make_user("student", name="Noah Bernard")
    room = make_room("R1")
    maths = Subject(name="Mathematics")
    db.session.add(maths)
    group = make_group("Maths 7A", mentor=ada, subject=maths, room=room, students=[noah])
    series = make_series(
        group, weekdays=(0,), start=time(8), end=time(9), first_date=before, last_date=after
    )
    generate_occurrences(before, after + timedelta(days=1), tz=AKL)
    db.session.commit()
    sessions = db.session.scalars(
        select(Occurrence).where(Occurrence.series_id == series.id).order_by(Occurrence.start_utc)
    ).all()
    assert [o.original_date for o in sessions] == [before, after]
    # The data is what the audit needs: two offsets, and UTC dates a day behind.
    offsets = {datetime.combine(d, time(8), AKL).utcoffset() for d in (before, after)}
    assert len(offsets) == 2
    assert all(o.start_utc.date() == o.original_date - timedelta(days=1) for o in sessions)
    assert [o.start_utc for o in sessions] == [at(before, time(8)), at(after, time(8))]
    return {
        "before": before,
        "after": after,
        "change": change,
        "ada": ada,
        "noah": noah,
        "room": room,
        "maths": maths,
        "group": group,
        "series": series,
        "sessions": sessions,
    }


# --- Session page, grid, dashboard ---------------------------------------------------------------


def test_session_page_and_its_fragment_show_the_local_date_and_time(web, login_as, term):
    login_as("coordinator")
    for occurrence in term["sessions"]:
        day = occurrence.original_date
        page = web.get(f"/sessions/{occurrence.id}")
        assert page.html.find(attrs={"data-field": "date"}).text == long_day(day)
        assert page.html.find(attrs={"data-field": "time"}).text == f"08:00{DASH}09:00"
        assert page.html.title.text.startswith(f"Mathematics, {long_day(day)} ")
        fragment = web.get(f"/sessions/{occurrence.id}", headers=HX)
        assert f"Maths 7A · {long_day(day)}, 08:00{DASH}09:00" in fragment.text


def test_grid_cells_cards_month_and_rooms_layout_are_local(web, login_as, term):
    login_as("coordinator")
    room_id = term["room"].id
    for occurrence in term["sessions"]:
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


def test_dashboard_cards_show_the_local_day_and_time(web, login_as, term):
    login_as(term["ada"])
    page = web.get("/dashboard/")
    this_year = today_in(AKL).year
    for occurrence in term["sessions"]:
        day = occurrence.original_date
        shown = f"{day:%a %d %b}" + (f" {day:%Y}" if day.year != this_year else "")
        card = page.html.find(id=f"session-dashboard-{occurrence.id}")
        assert card.find("time").text == f"{shown} 08:00{DASH}09:00 (1 h)"


# --- Today, upcoming and past, default dates -----------------------------------------------------


def test_today_board_dashboard_tabs_and_default_dates_follow_the_organisations_day(
    web, login_as, term, monkeypatch
):
    """Now is 09:30 in Auckland on `today`: the day before in UTC and in the server's zone."""
    today = term["before"] + timedelta(days=1)  # a Tuesday, clear of the series
    now = at(today, time(9, 30))
    assert now.date() == today - timedelta(days=1)
    assert now.astimezone(ZoneInfo(SERVER_TZ)).date() == today - timedelta(days=1)
    freeze(monkeypatch, now)
    group, room = term["group"], term["room"]

    def session(day, start, end, title):
        return create_one_time_session(
            group_id=group.id, day=day, start=start, end=end, room_id=room.id,
            title=title, actor=None, tz=AKL,
        ).occurrence  # fmt: skip

    yesterday = session(today - timedelta(days=1), time(22), time(23), "Yesterday late")
    early = session(today, time(7), time(8), "Early")
    running = session(today, time(9), time(10), "Running")
    afternoon = session(today, time(14), time(15), "Afternoon")  # the next UTC date
    evening = session(today, time(18), time(19), "Evening")
    db.session.commit()

    login_as(term["ada"])
    board = web.get("/sessions/today/").html.find(id="today-board")
    assert board.find("p", class_="now").text.split()[1] == f"09:00{DASH}10:00"
    assert f"14:00{DASH}15:00" in board.find("p", class_="next").text
    assert f"18:00{DASH}19:00" in board.text
    assert "22:00" not in board.text and "07:00" not in board.text

    upcoming = web.get("/dashboard/").html
    for shown in (running, afternoon, evening):  # not ended yet
        assert upcoming.find(id=f"session-dashboard-{shown.id}") is not None
    for ended in (yesterday, early):  # ended (today's too): under Past only, never both
        assert upcoming.find(id=f"session-dashboard-{ended.id}") is None
    running_card = upcoming.find(id=f"session-dashboard-{running.id}")
    assert running_card.find(attrs={"data-status": True})["data-status"] == "ongoing"
    past = web.get("/dashboard/past").html
    assert past.find(id=f"session-dashboard-{yesterday.id}") is not None
    assert past.find(id=f"session-dashboard-{early.id}") is not None
    assert past.find(id=f"session-dashboard-{afternoon.id}") is None

    switch_to(web, login_as, "coordinator")
    assert web.get("/sessions/new").forms["new-session-form"]["date"].value == today.isoformat()
    generate = web.get("/timetable/generate").forms["generate-form"]
    assert generate["start"].value == today.isoformat()
    grid = web.get("/schedule/").html
    marked = grid.find("th", class_="is-today")
    assert marked is not None and marked.text.strip() == f"{today:%a %d %b}"


# --- Typed dates ----------------------------------------------------------------------------------


def test_a_one_time_session_typed_lands_on_that_local_date(web, login_as, term):
    login_as("coordinator")
    day = term["after"] + timedelta(days=2)  # a Wednesday after the change
    for start, end in (("08:00", "09:00"), ("00:15", "00:45")):
        form = web.get("/sessions/new").forms["new-session-form"]
        form["group"], form["room"] = str(term["group"].id), str(term["room"].id)
        form["date"], form["start"], form["end"] = day.isoformat(), start, end
        page = form.submit(status=302).follow()
        created = db.session.scalars(
            select(Occurrence).where(Occurrence.series_id.is_(None)).order_by(Occurrence.id.desc())
        ).first()
        assert created.start_utc == at(day, time.fromisoformat(start))
        assert created.end_utc == at(day, time.fromisoformat(end))
        assert created.start_utc.date() == day - timedelta(days=1)  # UTC is a day behind
        assert f"Session created: Maths 7A on {long_day(day)} {start}-{end}." in page.text
        assert page.html.find(attrs={"data-field": "date"}).text == long_day(day)


def test_generating_from_a_typed_date_keeps_local_times_across_the_change(
    web, login_as, term, make_group, make_series
):
    tuesday = term["before"] + timedelta(days=1)
    group = make_group("Physics 8B", mentor=term["ada"], room=term["room"])
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
    assert [o.start_utc for o in made] == [at(d, time(8, 30)) for d in days]
    assert made[1].start_utc - made[0].start_utc != timedelta(weeks=1)  # the clocks changed


def test_an_exception_typed_moves_to_that_local_date_and_everyone_reads_it_locally(
    web, login_as, term
):
    series, after = term["series"], term["after"]
    moved_to = after + timedelta(days=1)
    login_as("coordinator")
    form = web.get("/timetable/exceptions").forms["exception-form"]
    form["series"], form["original_date"] = str(series.id), after.isoformat()
    form["action"], form["new_date"] = "override", moved_to.isoformat()
    form["start_time"], form["end_time"] = "07:30", "08:30"
    form.submit(status=302)
    occurrence = db.session.get(Occurrence, term["sessions"][1].id)
    db.session.refresh(occurrence)
    assert occurrence.start_utc == at(moved_to, time(7, 30))
    assert occurrence.end_utc == at(moved_to, time(8, 30))

    listing_page = web.get("/timetable/exceptions")
    row = listing_page.html.find("td", string=long_day(after)).find_parent("tr")
    assert f"to {long_day(moved_to)}" in row.text and f"07:30{DASH}08:30" in row.text
    assert web.get(f"/sessions/{occurrence.id}").html.find(
        attrs={"data-field": "date"}
    ).text == long_day(moved_to)

    title = f"Maths 7A on {after:%a %d %b} 08:00 moves to {moved_to:%a %d %b} 07:30"
    switch_to(web, login_as, term["noah"])
    notes = web.get("/notifications/")
    item = notes.html.find(class_="notification-title")
    assert item.text.strip() == title
    bell = web.get("/notifications/bell?since=0&unread=0", headers=HX)
    assert toast_of(bell) == title


def test_notification_times_are_local(web, login_as, term):
    noah = term["noah"]
    created = at(term["after"], time(6, 45))  # 18:45 or 17:45 UTC the day before
    note = Notification(user_id=noah.id, kind="session_moved", title="Something moved")
    db.session.add(note)
    db.session.flush()
    note.created_at = created
    db.session.commit()
    login_as(noah)
    shown = web.get("/notifications/").html.find(id=f"notification-{note.id}").find("time")
    assert shown.text == f"{long_day(term['after'])}, 06:45"


# --- Requests -------------------------------------------------------------------------------------


def test_request_pages_pending_list_and_notifications_are_local(web, login_as, term):
    """A student asks (typed dates) for a free slot and for the two series dates (clashes)."""
    ada, noah, before, after = term["ada"], term["noah"], term["before"], term["after"]
    db.session.add(MentorSubject(mentor_id=ada.id, subject_id=term["maths"].id))
    db.session.commit()
    free_day = after + timedelta(days=1)
    login_as(noah)
    for title, fields in (
        ("Free slot", {"schedule_kind": "single", "day": free_day.isoformat(), "start": "08:00"}),
        ("Clashing", {"schedule_kind": "dates", "dates_text": f"{before}\n{after}",
                      "start": "08:00", "end": "09:00"}),
    ):  # fmt: skip
        form = web.get("/requests/new").forms["request-form"]
        form["mentor"], form["subject"], form["title"] = str(ada.id), str(term["maths"].id), title
        for name, value in fields.items():
            form[name] = value
        form.submit(status=302)
    free, clashing = db.session.scalars(select(SessionRequest).order_by(SessionRequest.id)).all()
    assert [s.start_utc for s in free.slots] == [at(free_day, time(8))]
    assert sorted(s.start_utc for s in clashing.slots) == [at(before, time(8)), at(after, time(8))]

    mine = web.get("/requests/").html.find(id=f"request-{free.id}")
    assert f"from {long_day(free_day)} 08:00" in mine.text
    detail = web.get(f"/requests/{free.id}")
    asked = free.created_at.astimezone(AKL)
    assert f"{long_day(asked.date())} {asked:%H:%M}" in detail.text
    slot = detail.html.find(id=f"slot-{free.slots[0].id}")
    # Pending: the student reads whether the date clashes with the mentor's sessions.
    assert " ".join(slot.text.split()) == f"{long_day(free_day)} 08:00{DASH}09:00 No clash"

    switch_to(web, login_as, ada)
    pending = web.get("/requests/pending").html
    card = pending.find(id=f"request-{clashing.id}")
    for slot in clashing.slots:
        text = " ".join(card.find(id=f"slot-{slot.id}").text.split())
        day = slot.start_utc.astimezone(AKL).date()
        assert text.startswith(f"{long_day(day)} 08:00{DASH}09:00 Clash with Maths 7A ")
        assert f"Maths 7A 08:00{DASH}09:00" in text
    titles = web.get("/notifications/").html.find_all("p", class_="notification-body")
    assert f"1 session, from {long_day(free_day)} 08:00." in [t.text for t in titles]

    hx_post(web, f"/requests/{free.id}/approve", {"view": "pending"}, page="/requests/pending")
    created = db.session.scalars(select(Occurrence).where(Occurrence.request_id == free.id)).one()
    assert created.start_utc == at(free_day, time(8))
    detail = web.get(f"/requests/{free.id}").html.find(id="created-sessions")
    assert f"{long_day(free_day)} 08:00{DASH}09:00" in " ".join(detail.text.split())
    switch_to(web, login_as, noah)
    bodies = [p.text for p in web.get("/notifications/").html.find_all("p", "notification-body")]
    assert f"1 session created, the first on {long_day(free_day)} 08:00." in bodies


# --- Exports, API, calendar feed ------------------------------------------------------------------


def test_csv_and_xlsx_exports_are_local(web, login_as, term):
    before, after = term["before"], term["after"]
    login_as("coordinator")
    span = f"start={before.isoformat()}&end={(after + timedelta(days=1)).isoformat()}"
    rows = list(csv.DictReader(io.StringIO(web.get(f"/schedule/export.csv?{span}").text)))
    assert [(r["date"], r["start"], r["end"]) for r in rows] == [
        (before.isoformat(), "08:00", "09:00"),
        (after.isoformat(), "08:00", "09:00"),
    ]
    assert [datetime.fromisoformat(r["start_utc"]) for r in rows] == [
        at(before, time(8)),
        at(after, time(8)),
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


def test_api_local_fields_local_day_windows_and_typed_dates(web, term, make_user):
    _row, token = create_token(term["ada"], "tests")
    db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    for occurrence in term["sessions"]:
        day = occurrence.original_date
        body = web.get(f"/api/v1/sessions/{occurrence.id}", headers=headers).json
        assert (body["date"], body["start"], body["end"]) == (day.isoformat(), "08:00", "09:00")
        expected = datetime.combine(day, time(8), AKL).isoformat()
        assert body["starts_at"] == expected
        assert datetime.fromisoformat(body["starts_at"]) == occurrence.start_utc
        window = f"start={day.isoformat()}&end={(day + timedelta(days=1)).isoformat()}"
        listed = web.get(f"/api/v1/sessions?{window}", headers=headers).json
        assert [item["id"] for item in listed["items"]] == [occurrence.id]

    _row, staff_token = create_token(make_user("coordinator"), "tests")
    db.session.commit()
    wednesday = term["after"] + timedelta(days=2)
    created = web.post_json(
        "/api/v1/sessions",
        {"group": term["group"].id, "date": wednesday.isoformat(), "start": "00:15",
         "end": "00:45", "room": term["room"].id},
        headers={"Authorization": f"Bearer {staff_token}"},
        status=201,
    ).json  # fmt: skip
    assert (created["date"], created["start"]) == (wednesday.isoformat(), "00:15")
    stored = db.session.get(Occurrence, created["id"])
    assert stored.start_utc == at(wednesday, time(0, 15))
    assert created["starts_at"] == datetime.combine(wednesday, time(0, 15), AKL).isoformat()


def test_ics_feed_events_are_at_the_right_instants_and_local_wall_times(web, term):
    """DTSTART/DTEND either carry TZID=Pacific/Auckland (with a VTIMEZONE whose rules give the
    right instants on both sides of the change) or are UTC instants."""
    feed = own_feed(term["noah"])
    db.session.commit()
    calendar = icalendar.Calendar.from_ical(web.get(f"/calendar/{feed.token}.ics").body)
    events = sorted(calendar.walk("VEVENT"), key=lambda e: e["DTSTART"].dt)
    assert len(events) == 2
    zones = {str(z["TZID"]): z.to_tz() for z in calendar.walk("VTIMEZONE")}
    for event, occurrence in zip(events, term["sessions"], strict=True):
        day = occurrence.original_date
        for stamp in ("DTSTAMP", "CREATED", "LAST-MODIFIED"):  # UTC, as RFC 5545 requires
            assert event[stamp].to_ical().endswith(b"Z")
        for name, clock, instant in (
            ("DTSTART", time(8), occurrence.start_utc),
            ("DTEND", time(9), occurrence.end_utc),
        ):
            prop = event[name]
            if "TZID" in prop.params:
                assert str(prop.params["TZID"]) == "Pacific/Auckland"
                wall = prop.dt.replace(tzinfo=None)
                assert wall == datetime.combine(day, clock)
                # What a client without the IANA database computes from the VTIMEZONE:
                rules = zones["Pacific/Auckland"]
                assert wall.replace(tzinfo=rules).astimezone(UTC) == instant
            else:
                assert prop.dt.utcoffset() == timedelta(0) and prop.dt == instant
                assert prop.to_ical().endswith(b"Z")


# --- Tracking: completion, monitoring, overdue ---------------------------------------------------


def test_completion_monitoring_and_overdue_are_local(web, login_as, term):
    """Two past sessions at 08:00, either side of the last DST change: one completed through
    the form (typed local times), the other overdue."""
    change = previous_dst_change(AKL, today_in(AKL) - timedelta(days=3))
    done_day, late_day = change - timedelta(days=1), change + timedelta(days=1)
    group, room = term["group"], term["room"]
    done, late = (
        create_one_time_session(
            group_id=group.id, day=day, start=time(8), end=time(9), room_id=room.id,
            actor=None, tz=AKL,
        ).occurrence
        for day in (done_day, late_day)
    )  # fmt: skip
    db.session.commit()
    login_as("coordinator")
    form = web.get(f"/tracking/sessions/{done.id}/complete").forms[f"completion-form-{done.id}"]
    assert (form["completion-actual_start"].value, form["completion-actual_end"].value) == (
        "08:00",
        "09:00",
    )
    form["completion-actual_start"], form["completion-actual_end"] = "08:05", "08:55"
    page = form.submit(status=302).follow()
    db.session.refresh(done)
    assert (done.actual_start_utc, done.actual_end_utc) == (
        at(done_day, time(8, 5)),
        at(done_day, time(8, 55)),
    )
    assert done.completion_code.startswith(f"MATHS7A-{done_day:%Y%m%d}-")
    actual = page.html.find(attrs={"data-field": "actual-time"})
    assert " ".join(actual.text.split()) == f"08:05{DASH}08:55 (planned 08:00{DASH}09:00)"

    monitor = web.get(f"/tracking/?status=any&start={done_day}&end={done_day}").html
    row = monitor.find(id=f"monitor-{done.id}")
    assert [td.text.strip() for td in row.find_all("td")[:3]] == [
        long_day(done_day),
        f"08:00{DASH}09:00",
        f"08:05{DASH}08:55",
    ]
    assert monitor.find(id=f"monitor-{late.id}") is None  # the typed dates are local dates
    overdue = monitor.find(id=f"overdue-{late.id}")
    assert [td.text.strip() for td in overdue.find_all("td")[:2]] == [
        long_day(late_day),
        f"08:00{DASH}09:00",
    ]


def test_grid_editor_toasts_and_prefill_are_local(web, login_as, term):
    before = term["before"]
    occurrence = term["sessions"][0]
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
