"""Scenarios and helpers shared by several page modules, composed from the factories of
tests/conftest.py: yesterday's lesson, names that would be spreadsheet formulas, toasts."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from models import db
from services.timetable.generation import generate_occurrences
from tests.conftest import PINNED_TODAY, make_app

PARIS = ZoneInfo("Europe/Paris")  # the test app's TIMEZONE


@pytest.fixture
def yesterdays_lesson(make_user, make_group, make_session):
    """A Maths session that started yesterday (its mentor, a student) and an Art session."""
    mentor, student = make_user("mentor"), make_user("student")
    maths = make_group("Maths", mentor=mentor, students=[student])
    art = make_group("Art")
    start = datetime.combine(PINNED_TODAY - timedelta(days=1), time(10), tzinfo=PARIS)
    return {
        "mentor": mentor,
        "student": student,
        "session": make_session(maths, start),
        "other": make_session(art, start),
        "other_mentor": art.mentor,
    }


@pytest.fixture
def formula_names(make_user, make_room, make_group, make_series):
    """A class whose every name would be a formula to a spreadsheet, a week of it generated."""
    monday = PINNED_TODAY + timedelta(days=14 - PINNED_TODAY.weekday())
    mentor = make_user("mentor", name="@Mentor")
    room = make_room('=HYPERLINK("http://evil.example","x")')
    group = make_group("+Group", mentor=mentor, room=room, subject="-Subject")
    make_series(group, weekdays=(0,), first_date=monday)
    generate_occurrences(monday, monday + timedelta(weeks=1), tz=PARIS)
    db.session.commit()
    return group


@pytest.fixture
def cli(app):
    """`cli("command", "--option", "value", input=...)`: the app's command, as `flask` runs it."""
    runner = app.test_cli_runner()

    def invoke(*args, **kwargs):
        return runner.invoke(args=list(args), **kwargs)

    return invoke


@pytest.fixture(scope="module")
def limited_app(tmp_path_factory):
    """An app of its own with the rate limits on (the shared one turns them off)."""
    app = make_app(tmp_path_factory, RATELIMIT_ENABLED=True)
    yield app
    with app.app_context():
        db.engine.dispose()


def error_next_to(response, field: str) -> str:
    """The message shown next to a field (ids may carry a form's prefix)."""
    found = response.html.select(f'[id$="{field}-error"]')
    assert found, f"no message next to {field}"
    return found[0].text.strip()


def long_day(day: date) -> str:
    return f"{day:%a %d %b %Y}"


def toast_of(response) -> str:
    """The message of the toast an htmx answer triggers."""
    return json.loads(response.headers["HX-Trigger"])["toast"]["message"]


def switch_to(web, login_as, user):
    """Log `web` out and in again as `user`."""
    web.reset()
    return login_as(user)
