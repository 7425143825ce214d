"""Cover for an absent mentor, on the read side's services: who is told of a covered session's
changes, who may act on it, and how the listings, exports and hours name its mentor. The
school is `covered_maths` (tests/conftest.py)."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from models import Notification, db
from services.closures import add_closure
from services.notifications.inbox import participants_of
from services.output.reports import mentor_hours
from services.permissions import can_track, can_view_session, is_session_mentor, may_see_conflicts
from services.school_year import ClosureData
from services.timetable.listing import list_occurrences
from services.timetable.sessions import cancel_session

PARIS = ZoneInfo("Europe/Paris")


def told(user) -> list[str]:
    return list(
        db.session.scalars(
            select(Notification.title)
            .where(Notification.user_id == user.id)
            .order_by(Notification.id)
        )
    )


def test_the_substitute_is_the_sessions_mentor_and_the_group_mentor_stays_one(covered_maths):
    w = covered_maths
    covered, own = w["covered"], w["own"]
    for rule in (is_session_mentor, can_track, may_see_conflicts, can_view_session):
        assert rule(w["bob"], covered) and rule(w["ada"], covered), rule.__name__
        assert not rule(w["cleo"], covered), rule.__name__
    assert not can_view_session(w["bob"], own) and not can_track(w["bob"], own)


def test_a_covered_sessions_changes_reach_its_substitute(covered_maths):
    w = covered_maths
    assert participants_of(w["covered"]) == {w["ada"].id, w["bob"].id, w["sam"].id}
    assert participants_of(w["own"]) == {w["ada"].id, w["sam"].id}
    cancel_session(w["covered"], reason="Flooded", actor=w["cora"], tz=PARIS)
    db.session.commit()
    assert len(told(w["bob"])) == 1 and len(told(w["ada"])) == 1
    # An inactive substitute is told nothing.
    w["bob"].is_active_account = False
    db.session.commit()
    assert w["bob"].id not in participants_of(w["moved"])


def test_a_closure_cancelling_a_covered_session_tells_its_substitute(covered_maths):
    w = covered_maths
    day = w["moved"].start_utc.astimezone(PARIS).date()
    add_closure(ClosureData("Snow day", day, day), actor=w["cora"], tz=PARIS)
    db.session.commit()
    assert told(w["bob"]) == told(w["ada"]) != []
    # A closure of a day without a covered session leaves him out.
    other = w["own"].start_utc.astimezone(PARIS).date()
    add_closure(ClosureData("Staff day", other, other), actor=w["cora"], tz=PARIS)
    db.session.commit()
    assert len(told(w["ada"])) == 2 and len(told(w["bob"])) == 1


def test_listings_name_who_teaches(covered_maths):
    w = covered_maths
    rows = list_occurrences(date(2027, 3, 8), date(2027, 4, 5), tz=PARIS, viewer=w["bob"])
    assert [row.occurrence.id for row in rows] == [w[k].id for k in ("past", "covered", "moved")]
    assert {row.as_dict(PARIS)["mentor"] for row in rows} == {"Bob Brown"}
    ada = list_occurrences(date(2027, 3, 8), date(2027, 4, 5), tz=PARIS, viewer=w["ada"])
    assert [row.as_dict(PARIS)["mentor"] for row in ada] == [
        "Bob Brown", "Bob Brown", "Bob Brown", "Ada Lovelace",
    ]  # fmt: skip


@pytest.mark.usefixtures("covered_maths")
def test_scheduled_hours_count_for_the_substitute():
    report = mentor_hours(date(2027, 3, 1), PARIS)  # the whole month
    rows = {row.name: row for row in report.rows}
    # Bob: yesterday's, 15 and 22 March; Ada: 29 March only.
    assert rows["Bob Brown"].scheduled_sessions == 3
    assert rows["Bob Brown"].scheduled_seconds == 3 * 3600
    assert rows["Ada Lovelace"].scheduled_sessions == 1
    assert report.total.scheduled_seconds == timedelta(hours=4).total_seconds()
