"""Generate from the web page: a run holding more sessions than the page waits for goes to a
background worker, its progress shown in place (htmx) or by a self-refreshing page, then its
outcome; a large run's page lists its first conflicts with their total."""

from __future__ import annotations

from datetime import date, time

import pytest
from sqlalchemy import func, select

from blueprints.timetable import routes as timetable_routes
from models import Notification, Occurrence, db
from services.jobs.queue import run_queued_jobs
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


def run_status(page) -> str:
    return page.html.find(id="generation-run")["data-run-status"]


def test_a_run_over_the_limit_goes_to_a_worker_and_shows_its_progress_then_its_outcome(
    web, login_as, make_series, small_limit
):
    login_as("coordinator")
    make_series(weekdays=(0, 2, 4), first_date=AHEAD)
    # Four weeks of Mon/Wed/Fri hold 12 sessions, over the page's 10: queued, nothing yet.
    queued = submit(web, 4, status=303).follow()
    assert run_status(queued) == "queued"
    assert "holds 12 sessions, more than a page waits for" in queued.text
    assert "generation-summary" not in queued.text
    assert occurrence_count() == 0
    # Without JavaScript the page refreshes itself while the run is not done.
    assert '<meta http-equiv="refresh" content="3">' in queued.text
    # htmx asks for the panel every second until the run is done.
    poll = queued.html.find(id="generation-run")
    assert poll["hx-trigger"] == "every 1s" and poll["hx-get"] == queued.request.path

    assert run_queued_jobs() == 1
    done = web.get(queued.request.path)
    assert run_status(done) == "done"
    assert count_in(done, "created") == 12
    assert "Generated in the background" in done.text
    assert "refresh" not in done.text and "hx-trigger" not in str(
        done.html.find(id="generation-run")
    )
    assert occurrence_count() == 12
    # Three weeks (9 sessions) fit: the page runs them itself.
    page = submit(web, 3)
    assert page.html.find(id="generation-run") is None
    assert count_in(page, "unchanged") == 9


def test_a_background_preview_writes_nothing(web, login_as, make_series, small_limit):
    login_as("coordinator")
    make_series(weekdays=(0, 2, 4), first_date=AHEAD)
    queued = submit(web, 4, "preview", status=303).follow()
    run_queued_jobs()
    done = web.get(queued.request.path)
    assert "Preview (nothing written) in the background" in done.text
    assert count_in(done, "created") == 12
    assert occurrence_count() == 0


def test_htmx_gets_the_panel_in_place_with_its_progress(web, login_as, make_series, small_limit):
    login_as("coordinator")
    make_series(weekdays=(0, 2, 4), first_date=AHEAD)
    form = web.get("/timetable/generate").forms["generate-form"]
    form["start"], form["weeks"] = AHEAD.isoformat(), "4"
    panel = form.submit("generate", headers={"HX-Request": "true"}, status=202)
    assert panel.html.find("section")["id"] == "generate-panel"
    assert run_status(panel) == "queued"


def test_a_forced_background_run_moves_the_sessions_and_tells_the_group(
    web, login_as, make_user, make_group, make_series, make_room, small_limit
):
    login_as("coordinator")
    student = make_user("student")
    series = make_series(make_group("Maths 7A", students=[student]), weekdays=(0, 2, 4))
    series.first_date = AHEAD
    db.session.commit()
    submit(web, 3)
    series.room_id = make_room("Lab").id
    db.session.commit()
    queued = submit(web, 4, force=True, status=303).follow()
    assert notification_count() == 0
    run_queued_jobs()
    done = web.get(queued.request.path)
    assert count_in(done, "updated") == 9 and count_in(done, "created") == 3
    assert notification_count() == 2  # the mentor and the student


def test_the_limit_counts_the_sessions_of_the_chosen_group_only(
    web, login_as, make_group, make_series, small_limit
):
    login_as("coordinator")
    maths = make_group("Maths 7A")
    make_series(maths, weekdays=(0, 2, 4), first_date=AHEAD)
    make_series(make_group("Art 7A"), weekdays=(0, 2, 4), first_date=AHEAD)
    submit(web, 3, status=303)  # 18 sessions of both groups: queued
    page = submit(web, 3, group=maths.id)  # 9 of one group: in the page
    assert count_in(page, "created") == 9


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
