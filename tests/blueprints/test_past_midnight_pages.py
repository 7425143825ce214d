"""Sessions past midnight as users meet them: a late online slot (23:30-00:30) is created on
the one-time form and as a weekly series, shown on its start day's grid cell and its page as
ending the next day, exported, and completed with an actual end after midnight. The wall clock
is pinned (`clock`), so the pages answer the same at any hour."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from sqlalchemy import select

from models import Occurrence, OccurrenceStatus, Series, db
from services.timetable.exceptions import find_occurrence
from services.timetable.generation import generate_occurrences
from tests.blueprints.test_manage_groups import hx_post, new, series_params

PARIS = ZoneInfo("Europe/Paris")  # the test app's TIMEZONE
# The pinned clock (conftest.PINNED_NOW) reads Wednesday 10 March 2027, 10:00 in Paris.
FRIDAY = date(2027, 3, 12)
MONDAY_BEFORE = date(2027, 3, 8)
DASH = "\u2013"


def at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=PARIS).astimezone(UTC)


def late_session(group, day=FRIDAY, **kwargs) -> Occurrence:
    occurrence = Occurrence(
        group_id=group.id,
        start_utc=at(day, time(23, 30)),
        end_utc=at(day + timedelta(days=1), time(0, 30)),
        room_id=group.default_room_id,
        **kwargs,
    )
    db.session.add(occurrence)
    db.session.commit()
    return occurrence


def test_the_one_time_form_creates_a_late_session_ending_the_next_day(
    web, login_as, make_group, clock
):
    login_as("coordinator")
    group = make_group("Night owls")
    form = web.get(f"/sessions/new?group={group.id}").forms["new-session-form"]
    form["date"], form["start"], form["end"] = FRIDAY.isoformat(), "23:30", "00:30"
    page = form.submit(status=302).follow()
    occurrence = db.session.scalar(select(Occurrence))
    assert (occurrence.start_utc, occurrence.end_utc) == (
        at(FRIDAY, time(23, 30)),
        at(FRIDAY + timedelta(days=1), time(0, 30)),
    )
    assert f"Night owls on {FRIDAY:%a %d %b %Y} 23:30-00:30 (+1 day)" in page.text
    shown = page.html.find(attrs={"data-field": "time"}).text
    assert shown == f"23:30{DASH}00:30 (+1 day)"


def test_an_end_too_early_stays_in_the_form_with_the_rule(web, login_as, make_group, clock):
    login_as("coordinator")
    form = web.get(f"/sessions/new?group={make_group().id}").forms["new-session-form"]
    form["date"], form["start"], form["end"] = FRIDAY.isoformat(), "17:00", "09:00"
    page = form.submit(status=422)
    assert page.html.find(id="end-error").text.strip() == (
        "The end (09:00) must be after the start (17:00), or at most 12 hours later on the "
        "next day."
    )
    assert db.session.scalar(select(Occurrence.id)) is None


def test_the_grid_shows_it_on_the_day_it_starts(web, login_as, make_group, clock):
    login_as("coordinator")
    occurrence = late_session(make_group("Night owls"))
    page = web.get(f"/schedule/?date={FRIDAY}")
    cell = page.html.find(id=f"cell-{FRIDAY:%Y%m%d}-23")
    card = cell.find(id=f"session-card-{occurrence.id}")
    assert card.find(class_="session-time").text == f"23:30{DASH}00:30 (+1 day)"
    assert len(page.html.find_all(id=f"session-card-{occurrence.id}")) == 1  # not again on Saturday


def test_a_weekly_series_past_midnight_from_the_group_page(web, login_as, make_group, clock):
    login_as("coordinator")
    group = make_group("Night owls")
    params = series_params(
        group.default_room_id, weekdays=["4"], start_time="23:30", end_time="00:30",
        first_date=FRIDAY.isoformat(),
    )  # fmt: skip
    section = hx_post(web, f"/manage/groups/{group.id}/series", new(params))
    series = db.session.scalar(select(Series))
    assert (series.start_time, series.end_time) == (time(23, 30), time(0, 30))
    row = section.html.find(id=f"series-{series.id}")
    assert f"23:30{DASH}00:30 (+1 day)" in row.text


def test_the_exports_say_when_it_ends(web, login_as, make_group, clock):
    login_as("coordinator")
    late_session(make_group("Night owls"))
    monday = FRIDAY - timedelta(days=4)
    window = f"start={monday}&end={monday + timedelta(days=7)}"
    text = web.get(f"/schedule/export.csv?{window}").body.decode("utf-8-sig")
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert (row["date"], row["start"], row["end"], row["end_date"]) == (
        FRIDAY.isoformat(),
        "23:30",
        "00:30",
        (FRIDAY + timedelta(days=1)).isoformat(),
    )
    book = load_workbook(io.BytesIO(web.get(f"/schedule/export.xlsx?{window}").body))
    cells = [c.value for row in book.active.iter_rows() for c in row if c.value]
    assert any(str(v).startswith("23:30-00:30 (+1 day) ") for v in cells), cells


def test_completing_with_an_actual_end_after_midnight(web, htmx, login_as, make_group, clock):
    group = make_group("Night owls")
    occurrence = late_session(group, day=MONDAY_BEFORE)
    login_as(group.mentor)
    response = htmx.post(
        f"/tracking/sessions/{occurrence.id}/complete",
        {
            "completion-actual_start": "23:51",
            "completion-actual_end": "00:41",
            "completion-code": "",
            "completion-notes": "Late slot",
        },
        page=f"/sessions/{occurrence.id}",
    )
    assert response.status_int == 200
    section = response.html.find(id=f"completion-{occurrence.id}")
    actual = section.find(attrs={"data-field": "actual-time"}).text
    assert f"23:51{DASH}00:41 (+1 day)" in actual
    assert set(json.loads(response.headers["HX-Trigger"])) == {"toast"}
    db.session.expire_all()
    saved = db.session.get(Occurrence, occurrence.id)
    assert saved.status == OccurrenceStatus.COMPLETED
    assert saved.actual_end_utc == at(MONDAY_BEFORE + timedelta(days=1), time(0, 41))


def test_the_completion_form_says_how_an_early_end_reads(web, htmx, login_as, make_group, clock):
    group = make_group("Night owls")
    occurrence = late_session(group, day=MONDAY_BEFORE)
    login_as(group.mentor)
    fragment = htmx.get(f"/tracking/sessions/{occurrence.id}/complete")
    hint = fragment.html.find("form").find(class_="hint").text
    assert f"planned 23:30{DASH}00:30 (+1 day)" in hint
    assert "an end earlier than the start is on the next day" in hint
    form = fragment.html.find("form")
    assert form.find(attrs={"name": "completion-actual_end"})["value"] == "00:30"


def test_the_grid_editor_moves_a_series_date_to_a_late_slot(
    web, htmx, login_as, make_group, make_series, clock
):
    series = make_series(make_group("Night owls"), weekdays=(4,), first_date=FRIDAY)
    generate_occurrences(FRIDAY, FRIDAY + timedelta(days=7), tz=PARIS, now=at(FRIDAY, time(0)))
    db.session.commit()
    occurrence = find_occurrence(series.id, FRIDAY)
    login_as("coordinator")
    response = htmx.post(
        f"/schedule/sessions/{occurrence.id}/exception?view=week&layout=time&date={FRIDAY}",
        {"action": "override", "start_time": "23:30", "end_time": "00:30", "notes": ""},
    )
    assert response.status_int == 200
    card = response.html.find(id=f"session-card-{occurrence.id}")
    assert f"23:30{DASH}00:30 (+1 day)" in card.find(class_="session-time").text
    db.session.expire_all()
    moved = db.session.get(Occurrence, occurrence.id)
    assert moved.end_utc == at(FRIDAY + timedelta(days=1), time(0, 30))


NEXT_DAY_HINT = f"Earlier than the start: the next day (23:30{DASH}00:30)."


def test_every_form_with_an_end_time_says_how_a_next_day_end_is_typed(
    web, login_as, make_user, make_group, clock
):
    mentor = make_user("mentor")
    group = make_group("Night owls", mentor=mentor)
    login_as("coordinator")
    pages = {
        "/sessions/new": "end",
        f"/manage/groups/{group.id}": "new-end_time",
        "/timetable/exceptions": "end_time",
    }

    def assert_hinted(url, name):
        field = web.get(url).html.find("input", attrs={"name": name})
        hint = field.find_parent("label").find_next_sibling("small", class_="hint")
        assert hint is not None and hint.text == NEXT_DAY_HINT, url
        # Read with the field by a screen reader, not only seen next to it.
        assert hint["id"] in field["aria-describedby"].split(), url

    for url, name in pages.items():
        assert_hinted(url, name)
    web.reset()
    login_as("student")
    assert_hinted("/requests/new", "end")
