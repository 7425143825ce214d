"""Whole-day changes: a snow day cancels every session of a date, a make-up day runs another
day's timetable; each previewed (nothing kept) before it is applied, and undone by removing
its closure."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from models import Closure, Notification, Occurrence, db
from services.closures import remove_closure
from services.common.errors import ValidationError
from services.day_changes import cancel_day, run_day_as
from services.school_year import ClosureData, save_closure_record
from services.timetable.generation import generate_occurrences

PARIS = ZoneInfo("Europe/Paris")
MONDAY = date(2027, 1, 11)
WEDNESDAY = MONDAY + timedelta(days=2)
NOW = datetime(2027, 1, 4, 8, tzinfo=UTC)


@pytest.fixture
def school(app, make_user, make_group, make_series):
    ada = make_user("student", name="Ada")
    maths = make_group("Maths", students=[ada])
    art = make_group("Art")
    music = make_group("Music")
    make_series(maths, weekdays=(0,), start=time(9), end=time(10), first_date=MONDAY)
    make_series(art, weekdays=(2,), start=time(9), end=time(10), first_date=MONDAY)
    # Music meets on Mondays and Wednesdays: on the make-up day it meets once.
    make_series(music, weekdays=(0, 2), start=time(14), end=time(15), first_date=MONDAY)
    generate()
    return maths, art, music, ada


def generate(weeks=2, **kwargs):
    summary = generate_occurrences(
        MONDAY, MONDAY + timedelta(weeks=weeks), tz=PARIS, now=NOW, **kwargs
    )
    db.session.commit()
    return summary


def on(day: date) -> list[tuple[str, str, str]]:
    db.session.expire_all()
    start = datetime.combine(day, time(), PARIS)
    rows = db.session.scalars(
        select(Occurrence)
        .where(Occurrence.start_utc >= start, Occurrence.start_utc < start + timedelta(days=1))
        .order_by(Occurrence.start_utc, Occurrence.group_id)
    )
    found = [(o.group.name, f"{o.start_utc.astimezone(PARIS):%H:%M}", str(o.status)) for o in rows]
    return sorted(found, key=lambda row: (row[1], row[0]))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_snow_day_is_previewed_then_cancels_every_session_of_the_day(school):
    preview = cancel_day(MONDAY, "Snow day", actor=None, tz=PARIS, now=NOW, preview=True)
    assert [(line.group, line.when) for line in preview.cancelled] == [
        ("Maths", "Mon 11 Jan 09:00-10:00"),
        ("Music", "Mon 11 Jan 14:00-15:00"),
    ]
    assert (count(Closure), count(Notification)) == (0, 0)
    assert [status for *_, status in on(MONDAY)] == ["scheduled", "scheduled"]

    done = cancel_day(MONDAY, "Snow day", actor=None, tz=PARIS, now=NOW)
    db.session.commit()
    assert len(done.cancelled) == 2 and done.closure.name == "Snow day"
    assert [status for *_, status in on(MONDAY)] == ["cancelled", "cancelled"]
    assert count(Notification) > 0


def test_a_make_up_day_runs_another_days_timetable_and_goes_away_cleanly(school):
    *_, ada = school
    preview = run_day_as(WEDNESDAY, MONDAY, actor=None, tz=PARIS, now=NOW, preview=True)
    assert [line.group for line in preview.cancelled] == ["Art", "Music"]
    assert [(line.group, line.when) for line in preview.made] == [
        ("Maths", "Wed 13 Jan 09:00-10:00"),
        ("Music", "Wed 13 Jan 14:00-15:00"),
    ]
    assert on(WEDNESDAY) == [("Art", "09:00", "scheduled"), ("Music", "14:00", "scheduled")]
    assert count(Closure) == 0

    done = run_day_as(WEDNESDAY, MONDAY, actor=None, tz=PARIS, now=NOW)
    db.session.commit()
    assert done.closure.name == "Monday 11 Jan's timetable"
    assert on(WEDNESDAY) == [
        ("Art", "09:00", "cancelled"),
        ("Maths", "09:00", "scheduled"),
        ("Music", "14:00", "scheduled"),
    ]
    assert on(MONDAY) == [("Maths", "09:00", "scheduled"), ("Music", "14:00", "scheduled")]
    titles = db.session.scalars(select(Notification.title).where(Notification.user_id == ada.id))
    assert "Maths: 1 session on Wed 13 Jan, which runs Monday 11 Jan's timetable" in set(titles)
    # Generation keeps to it: nothing to change, nothing out of date.
    again = generate()
    assert (again.out_of_date, again.created, again.updated) == (0, 0, 0)

    remove_closure(db.session.get(Closure, done.closure.id), tz=PARIS, now=NOW)
    db.session.commit()
    assert on(WEDNESDAY) == [("Art", "09:00", "scheduled"), ("Music", "14:00", "scheduled")]


def test_a_make_up_day_names_the_sessions_it_would_double_book(school, make_group, make_series):
    maths, *_ = school
    # Drama takes Maths' room on Wednesdays at 09:00: Monday's Maths there would clash.
    drama = make_group("Drama", room=maths.default_room)
    make_series(drama, weekdays=(2,), start=time(9), end=time(10), first_date=MONDAY)
    generate()
    preview = run_day_as(
        WEDNESDAY, MONDAY, "Make-up day", group_ids=[maths.id], actor=None, tz=PARIS, now=NOW,
        preview=True,
    )  # fmt: skip
    assert [(line.group, line.clashes_with) for line in preview.clashing] == [
        ("Maths", "Drama 09:00 (room)")
    ]


def test_bad_whole_day_changes_are_named_and_change_nothing(school):
    save_closure_record(ClosureData("Snow day", WEDNESDAY, WEDNESDAY))
    db.session.commit()
    before = on(WEDNESDAY)
    cases = [
        (lambda: run_day_as(WEDNESDAY, MONDAY, actor=None, tz=PARIS, now=NOW),
         {"first_day": "Wed 13 Jan 2027 is already closed (Snow day): remove that closure first."}),
        (lambda: run_day_as(MONDAY, MONDAY, actor=None, tz=PARIS, now=NOW),
         {"runs_as": "Choose another day than the one it runs on."}),
        (lambda: run_day_as(MONDAY, None, actor=None, tz=PARIS, now=NOW),
         {"name": "Enter the closure's name."}),
        (lambda: cancel_day(None, "Snow", actor=None, tz=PARIS, now=NOW),
         {"first_day": "Enter the first day (YYYY-MM-DD).",
          "last_day": "Enter the last day (YYYY-MM-DD)."}),
    ]  # fmt: skip
    for action, errors in cases:
        with pytest.raises(ValidationError) as caught:
            action()
        db.session.rollback()
        assert caught.value.errors == errors
    assert on(WEDNESDAY) == before and count(Closure) == 1
