"""Generation window by window (the command line's way: one window's sessions in memory at a
time, one transaction) gives what one run over the whole range gives: the same sessions, the
same notifications, the same conflicts. On PostgreSQL a bulk run refreshes the statistics of
what it wrote."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select, text, update

from models import DateOverride, Notification, Occurrence, Series, db
from services.timetable import generation
from services.timetable.generation import generate_occurrences, resolve_window
from services.timetable.recurrence import plan_occurrences

PARIS = ZoneInfo("Europe/Paris")
TERM = date(2026, 9, 7)  # a Monday; the term crosses the end of summer time (25 Oct)
BEFORE_TERM = datetime(2026, 9, 1, tzinfo=UTC)
WEEKS = 8


@pytest.fixture
def school(make_user, make_group, make_series, make_room):
    """Groups that clash on a room, a mentor and a student; two series past midnight in one
    room (Sunday 23:30 and 23:00 to Monday 00:30 and 00:15: a conflict across every window
    edge that falls on a Monday); an exception
    moving a session of the third week into the first, one cancelling a date, one moving a
    session to another room."""
    shared, other = make_room("Shared room"), make_room("Other room")
    ada = make_user("mentor", name="Ada Mentor")
    alice = make_user("student", name="Alice Student")
    maths = make_group("Maths", mentor=ada, room=shared, students=[alice])
    physics = make_group("Physics", room=shared, students=[alice])
    art = make_group("Art", mentor=ada, room=other)
    night = make_group("Night class", mentor=ada, room=other)
    late = make_group("Late club", room=other)
    series = {
        "maths": make_series(maths, weekdays=(0, 2), start=time(10), end=time(11)),
        "physics": make_series(physics, weekdays=(0,), start=time(10, 30), end=time(11, 30)),
        "art": make_series(art, weekdays=(2,), start=time(10), end=time(12)),
        "night": make_series(night, weekdays=(6,), start=time(23, 30), end=time(0, 30)),
        # The same room from 23:00 to 00:15: a conflict on both sides of midnight.
        "late": make_series(late, weekdays=(6,), start=time(23), end=time(0, 15)),
    }
    db.session.add_all(
        [
            DateOverride(
                series_id=series["physics"].id,
                original_date=TERM + timedelta(days=14),
                new_date=TERM + timedelta(days=2),
                start_time=time(10),
                end_time=time(11),
            ),
            DateOverride(
                series_id=series["maths"].id,
                original_date=TERM + timedelta(days=23),
                cancelled=True,
            ),
            DateOverride(
                series_id=series["art"].id,
                original_date=TERM + timedelta(days=30),
                room_id=shared.id,
            ),
        ]
    )
    db.session.commit()
    return {"series": series, "rooms": (shared, other)}


def run(window_days, *, force=False):
    start, end = resolve_window(TERM, weeks=WEEKS)
    given = []
    summary = generate_occurrences(
        start,
        end,
        tz=PARIS,
        now=BEFORE_TERM,
        force=force,
        window_days=window_days,
        on_conflicts=given.extend,
    )
    db.session.commit()
    counts = (summary.created, summary.updated, summary.removed, summary.unchanged)
    return counts, _comparable(given)


def _comparable(described: list[dict]) -> list[str]:
    """Described conflicts without the sessions' ids (two runs make different ids)."""
    return sorted(
        json.dumps(
            {
                **c,
                "sessions": sorted(
                    ({k: v for k, v in s.items() if k != "id"} for s in c["sessions"]),
                    key=json.dumps,
                ),
            },
            sort_keys=True,
        )
        for c in described
    )


def stored():
    sessions = sorted(
        db.session.execute(
            select(
                Occurrence.series_id,
                Occurrence.original_date,
                Occurrence.start_utc,
                Occurrence.end_utc,
                Occurrence.room_id,
                Occurrence.status,
                Occurrence.sequence,
            )
        ).all()
    )
    notes = sorted(
        db.session.execute(
            select(Notification.user_id, Notification.kind, Notification.title, Notification.body)
        ).all()
    )
    return sessions, notes


def term_then_forced(school, window_days):
    """A first run, then a forced run after Maths moved room; what each gave and left."""
    first = run(window_days)
    after_first = stored()
    maths = school["series"]["maths"]
    db.session.execute(
        update(Series).where(Series.id == maths.id).values(room_id=school["rooms"][1].id)
    )
    db.session.commit()
    forced = run(window_days, force=True)
    return first, after_first, forced, stored()


def start_again(school):
    db.session.execute(delete(Notification))
    db.session.execute(delete(Occurrence))
    maths = school["series"]["maths"]
    db.session.execute(
        update(Series).where(Series.id == maths.id).values(room_id=school["rooms"][0].id)
    )
    db.session.commit()


@pytest.mark.parametrize("window_days", [1, 3, 7])
def test_a_run_in_windows_gives_what_one_run_gives(school, window_days):
    in_windows = term_then_forced(school, window_days)
    start_again(school)
    at_once = term_then_forced(school, None)

    assert in_windows == at_once
    (first_counts, first_conflicts), (sessions, _), (forced_counts, _), (_, notes) = at_once
    assert first_counts[0] == len(sessions) == 6 * WEEKS  # moved and cancelled ones too
    assert forced_counts[1] > 0 and notes  # Maths moved room: its people are told
    kinds = {json.loads(c)["kind"] for c in first_conflicts}
    assert kinds == {"room", "mentor", "student"}
    # The session moved from the third week into the first clashes with Maths there.
    moved_day = (TERM + timedelta(days=2)).isoformat()
    assert any(
        {s["group"] for s in json.loads(c)["sessions"]} == {"Maths", "Physics"}
        and all(s["date"] == moved_day for s in json.loads(c)["sessions"])
        for c in first_conflicts
    )


def test_an_unchanged_run_in_windows_changes_nothing(school):
    run(3)
    counts, conflicts = run(3)
    assert counts == (0, 0, 0, 6 * WEEKS)
    assert conflicts == run(None)[1]


def test_the_stored_sessions_are_those_the_series_plan(school):
    # Whatever path writes them (SQLite's executemany, PostgreSQL's COPY into a staging table
    # then one INSERT ... SELECT), the stored sessions are exactly the planned ones.
    run(None)
    start, end = resolve_window(TERM, weeks=WEEKS)
    rules = generation._load_rules(start, end)
    planned = sorted(
        (p.series_id, p.original_date, p.start_utc, p.end_utc, p.room_id, p.cancelled)
        for p in plan_occurrences(
            rules, generation.load_override_rules(start, end), start, end, PARIS
        )
    )
    sessions, _ = stored()
    assert [
        (series_id, day, start_utc, end_utc, room_id, status == "cancelled")
        for series_id, day, start_utc, end_utc, room_id, status, _ in sessions
    ] == planned


def test_a_bulk_run_on_postgresql_refreshes_the_statistics(school, monkeypatch):
    if db.session.get_bind().dialect.name != "postgresql":
        pytest.skip("ANALYZE after a bulk run is PostgreSQL's")
    monkeypatch.setattr(generation, "ANALYZE_AFTER_ROWS", 5)
    run(None)
    rows = db.session.scalar(text("SELECT count(*) FROM occurrence"))
    # ANALYZE read every row of so small a table: the planner's row count is exact.
    estimated = db.session.scalar(
        text("SELECT reltuples FROM pg_class WHERE relname = 'occurrence'")
    )
    assert estimated == rows == 6 * WEEKS
    assert db.session.scalar(
        text(
            "SELECT count(*) FROM pg_stats WHERE tablename = 'occurrence' AND attname = 'start_utc'"
        )
    )
    # A forced run after every series moved tells every group's people: analysed too.
    db.session.execute(update(Series).values(start_time=time(9)))
    db.session.commit()
    run(None, force=True)
    notes = db.session.scalar(text("SELECT count(*) FROM notification"))
    estimated = db.session.scalar(
        text("SELECT reltuples FROM pg_class WHERE relname = 'notification'")
    )
    assert estimated == notes == 7  # every group's mentor and students


def test_postgresql_connections_run_without_jit(app):
    # With a large school's statistics, short page queries were estimated costly enough for
    # JIT compilation, which took longer than the queries themselves.
    if db.session.get_bind().dialect.name != "postgresql":
        pytest.skip("JIT is PostgreSQL's")
    assert db.session.scalar(text("SHOW jit")) == "off"


@pytest.mark.parametrize("days", [None, 0, -3, 56, 1000])
def test_a_window_of_no_days_or_more_than_the_range_is_one_run(days):
    start, end = resolve_window(TERM, weeks=WEEKS)
    assert generation._windows(start, end, days) == [(start, end)]


def test_windows_cover_the_range_once_in_order():
    start, end = resolve_window(TERM, weeks=WEEKS)
    windows = generation._windows(start, end, 5)
    assert windows[0][0] == start and windows[-1][1] == end
    assert all(a[1] == b[0] for a, b in pairwise(windows))
    assert [b - a for a, b in windows] == [timedelta(days=5)] * 11 + [timedelta(days=1)]
