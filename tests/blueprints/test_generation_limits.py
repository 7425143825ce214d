"""Generate from the web page: a run too large to end within a request is refused before any
work, saying what fits and giving the command line (which has no limit); a large run's page
lists its first conflicts with their total."""

from __future__ import annotations

from datetime import date, time

import pytest
from sqlalchemy import func, select

from blueprints.timetable import routes as timetable_routes
from models import Notification, Occurrence, db
from services.timetable.generation import resolve_window, sessions_in_window

# Far enough ahead that no session of it has started whenever the suite runs.
AHEAD = date(2030, 9, 2)  # a Monday
LIMIT = 10


def occurrence_count() -> int:
    return db.session.scalar(select(func.count(Occurrence.id)))


def notification_count() -> int:
    return db.session.scalar(select(func.count(Notification.id)))


def count_in(page, key) -> int:
    return int(page.html.find(attrs={"data-count": key}).text)


@pytest.fixture
def small_limit(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_WEB_GENERATION_SESSIONS", LIMIT)


def submit(web, weeks, button="generate", *, group=0, force=False, status=200):
    form = web.get("/timetable/generate").forms["generate-form"]
    form["start"] = AHEAD.isoformat()
    form["weeks"] = str(weeks)
    form["group"] = str(group)
    form["force"] = force
    return form.submit(button, status=status)


def refusal_of(page) -> str:
    errors = [p.text for p in page.html.find_all("p", class_="form-error")]
    assert len(errors) == 1, errors
    assert "generation-summary" not in page.text
    return errors[0]


def test_a_run_over_the_limit_is_refused_with_what_to_do_and_writes_nothing(
    web, login_as, make_series, small_limit
):
    login_as("coordinator")
    make_series(weekdays=(0, 2, 4), first_date=AHEAD)
    # Four weeks of Mon/Wed/Fri hold 12 sessions, over the limit of 10.
    for button, flags in (("preview", " --dry-run"), ("generate", "")):
        message = refusal_of(submit(web, 4, button, status=422))
        assert "this window holds 12 sessions" in message
        assert "the web handles at most 10" in message
        assert "about 3 weeks of these groups fit" in message
        assert f"flask generate-sessions --start 2030-09-02 --end 2030-09-30{flags} " in message
        assert "Nothing was written." in message
    assert occurrence_count() == 0
    # Three weeks (9 sessions) fit.
    page = submit(web, 3)
    assert count_in(page, "created") == 9
    assert occurrence_count() == 9


def test_a_refused_forced_run_changes_and_notifies_nobody(
    web, login_as, make_user, make_group, make_series, make_room, small_limit
):
    login_as("coordinator")
    student = make_user("student")
    series = make_series(make_group("Maths 7A", students=[student]), weekdays=(0, 2, 4))
    series.first_date = AHEAD
    db.session.commit()
    submit(web, 3)
    rooms_before = sorted(db.session.scalars(select(Occurrence.room_id)))
    series.room_id = make_room("Lab").id
    db.session.commit()

    message = refusal_of(submit(web, 4, force=True, status=422))
    assert "--end 2030-09-30 --force " in message
    assert sorted(db.session.scalars(select(Occurrence.room_id))) == rooms_before
    assert notification_count() == 0
    # Within the limit the same forced run moves the sessions and tells the group.
    page = submit(web, 3, force=True)
    assert count_in(page, "updated") == 9
    assert notification_count() == 2  # the mentor and the student


def test_the_limit_counts_the_sessions_of_the_chosen_group_only(
    web, login_as, make_group, make_series, small_limit
):
    login_as("coordinator")
    maths = make_group("Maths 7A")
    make_series(maths, weekdays=(0, 2, 4), first_date=AHEAD)
    make_series(make_group("Art 7A"), weekdays=(0, 2, 4), first_date=AHEAD)
    message = refusal_of(submit(web, 3, status=422))  # 18 sessions of both groups
    assert "holds 18 sessions" in message and "about 1 week of these groups fit" in message
    page = submit(web, 3, group=maths.id)  # 9 of one group
    assert count_in(page, "created") == 9
    message = refusal_of(submit(web, 4, group=maths.id, status=422))
    assert "holds 12 sessions" in message and "of this group fit" in message


def test_the_count_is_read_from_the_series(make_group, make_series):
    maths = make_group("Maths 7A")
    make_series(maths, weekdays=(0, 2, 4), first_date=AHEAD)
    make_series(make_group("Art 7A"), weekdays=(1,), first_date=AHEAD, every_weeks=2)
    make_series(make_group("Old", active=False), weekdays=(0,), first_date=AHEAD)
    start, end = resolve_window(AHEAD, weeks=4)
    assert sessions_in_window(start, end) == 12 + 2
    assert sessions_in_window(start, end, [maths.id]) == 12


def test_the_command_line_has_no_limit(app, make_series, small_limit):
    make_series(weekdays=(0, 2, 4), first_date=AHEAD)
    result = app.test_cli_runner().invoke(
        args=["generate-sessions", "--start", AHEAD.isoformat(), "--weeks", "4"]
    )
    assert result.exit_code == 0, result.output
    assert occurrence_count() == 12


def test_a_limit_of_zero_turns_the_check_off(web, login_as, make_series, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_WEB_GENERATION_SESSIONS", 0)
    login_as("coordinator")
    make_series(weekdays=(0, 2, 4), first_date=AHEAD)
    assert count_in(submit(web, 4), "created") == 12


def test_a_run_with_many_conflicts_lists_the_first_ones_and_their_total(
    web, login_as, make_group, make_series, make_room, monkeypatch
):
    monkeypatch.setattr(timetable_routes, "CONFLICTS_LISTED", 2)
    login_as("coordinator")
    lab = make_room("Lab")
    make_series(make_group("Maths 7A", room=lab), weekdays=(0,), first_date=AHEAD)
    make_series(
        make_group("Physics 8B", room=lab), weekdays=(0,), first_date=AHEAD, start=time(10, 30)
    )
    page = submit(web, 3)  # a room conflict each Monday
    assert page.html.find("h3", string="Conflicts (3)") is not None
    assert len(page.html.find("ul", class_="conflicts").find_all("li")) == 2
    more = page.html.find(id="generation-conflicts-more").text
    assert "The first 2 of 3 conflicts are listed here" in more
    assert "flask generate-sessions --dry-run" in more
    # With few conflicts, every one is listed and nothing more is said.
    page = submit(web, 1)
    assert len(page.html.find("ul", class_="conflicts").find_all("li")) == 1
    assert page.html.find(id="generation-conflicts-more") is None
