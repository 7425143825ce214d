"""The Whole-day changes page: staff preview a snow day or a make-up day, then apply it; bad
input is named next to its field and changes nothing."""

from __future__ import annotations

from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from models import Closure, Occurrence, db
from services.timetable.generation import generate_occurrences
from tests.conftest import PINNED_TODAY, csrf_token_of

pytestmark = pytest.mark.usefixtures("clock")

MONDAY = PINNED_TODAY + timedelta(days=7 - PINNED_TODAY.weekday())
WEDNESDAY = MONDAY + timedelta(days=2)


@pytest.fixture
def school(app, make_group, make_series):
    maths, art = make_group("Maths 7A"), make_group("Art 8B")
    make_series(maths, weekdays=(0,), start=time(9), end=time(10), first_date=MONDAY)
    make_series(art, weekdays=(2,), start=time(9), end=time(10), first_date=MONDAY)
    generate_occurrences(MONDAY, MONDAY + timedelta(weeks=1), tz=ZoneInfo("Europe/Paris"))
    db.session.commit()
    return maths, art


def statuses() -> dict[str, str]:
    db.session.expire_all()
    rows = db.session.scalars(select(Occurrence).order_by(Occurrence.start_utc))
    return {f"{o.group.name} {o.start_utc.date():%a}": str(o.status) for o in rows}


def test_a_make_up_day_is_previewed_then_applied_without_javascript(web, login_as, school):
    login_as("coordinator")
    form = web.get("/timetable/closures").click("Snow day or make-up day").forms["day-change-form"]
    form["action"] = "run_as"
    form["first_day"], form["runs_as"] = WEDNESDAY.isoformat(), MONDAY.isoformat()
    preview = form.submit()
    made = preview.html.find(id="preview-made")
    assert "Maths 7A" in made.text and "09:00-10:00" in made.text
    assert "Art 8B" in preview.html.find(id="preview-cancelled").text
    assert statuses() == {"Maths 7A Mon": "scheduled", "Art 8B Wed": "scheduled"}

    day = preview.forms["day-change-confirm"].submit().follow()
    assert "1 session cancelled, 1 session of its timetable on" in day.text
    assert statuses() == {
        "Maths 7A Mon": "scheduled",
        "Art 8B Wed": "cancelled",
        "Maths 7A Wed": "scheduled",
    }
    listed = web.get("/timetable/closures")
    assert f"Runs {MONDAY:%a %d %b}'s timetable" in listed.text


def test_a_snow_day_with_htmx_previews_in_place_and_loads_the_day(web, login_as, school):
    login_as("coordinator")
    page = web.get("/timetable/day-changes")
    htmx = {"HX-Request": "true", "X-CSRFToken": csrf_token_of(page)}
    fields = {"action": "cancel", "first_day": MONDAY.isoformat(), "name": "Snow day"}
    preview = web.post("/timetable/day-changes", fields, headers=htmx)
    assert preview.html.find(id="day-change") is not None and "<html" not in preview.text
    assert "Maths 7A" in preview.html.find(id="preview-cancelled").text
    done = web.post("/timetable/day-changes", {**fields, "confirm": "yes"}, headers=htmx)
    assert done.headers["HX-Redirect"] == f"/schedule/day?date={MONDAY.isoformat()}"
    assert statuses()["Maths 7A Mon"] == "cancelled"
    assert "Snow day: 1 session cancelled" in web.get(done.headers["HX-Redirect"]).text


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"first_day": ""}, "first_day", "Enter the day (YYYY-MM-DD)."),
        ({"action": "run_as", "runs_as": ""}, "name", "Enter the closure's name."),
        ({"action": "run_as", "runs_as": "SAME"}, "runs_as", "Choose another day than the one"),
        ({"runs_as": "nope", "action": "run_as"}, "runs_as", "Not a valid date value."),
    ],
)
def test_bad_day_changes_are_named_and_change_nothing(
    web, login_as, school, fields, field, message
):
    login_as("coordinator")
    form = web.get("/timetable/day-changes").forms["day-change-form"]
    form["first_day"] = WEDNESDAY.isoformat()
    for name, value in fields.items():
        form[name] = WEDNESDAY.isoformat() if value == "SAME" else value
    answer = form.submit(status=422)
    assert message in answer.html.find(id=f"{field}-error").text
    assert db.session.scalar(select(func.count()).select_from(Closure)) == 0
    assert set(statuses().values()) == {"scheduled"}
