"""Generation at the scale of a large school: statements whose size grows with the run stay
within the database's limits (SQLite takes at most 32,766 bound parameters)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from models import db
from services.timetable.generation import generate_occurrences, resolve_window

PARIS = ZoneInfo("Europe/Paris")
AHEAD = date(2030, 9, 2)  # a Monday
BEFORE = datetime(2030, 9, 1, tzinfo=UTC)
EVERY_DAY = tuple(range(7))


def test_a_run_with_more_sessions_in_conflict_than_bound_parameters_allowed(
    make_group, make_series, make_room
):
    # 24 pairs of groups sharing a room at the same time every day for two years: 17,472 room
    # conflicts between 34,944 sessions, more ids than one statement may bind on SQLite.
    groups = []
    for n in range(24):
        room = make_room(f"Room {n}")
        for name in ("A", "B"):
            group = make_group(f"Group {n}{name}", room=room)
            make_series(group, weekdays=EVERY_DAY, first_date=AHEAD)
            groups.append(group.id)
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        # SQLite's own default; some distributions build it with a larger one.
        raw = connection.connection.driver_connection
        raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 32_766)
    start, end = resolve_window(AHEAD, weeks=104)
    summary = generate_occurrences(start, end, tz=PARIS, now=BEFORE, group_ids=groups)
    assert summary.created == 48 * 728
    assert len(summary.conflicts) == 24 * 728
    first = summary.conflicts[0]
    assert first["kind"] == "room" and first["shared"] == ["Room 0"]
    assert {s["group"] for s in first["sessions"]} == {"Group 0A", "Group 0B"}
