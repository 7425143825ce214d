"""Service test helpers: a school in Auckland whose Mondays straddle a DST change, for the
texts and local-date windows that must be read in the organisation's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from models import Notification, Occurrence, Subject, db
from services.common.timeutil import today_in
from services.timetable.generation import generate_occurrences
from services.timetable.sessions import create_one_time_session

AKL = ZoneInfo("Pacific/Auckland")


def next_dst_change(tz: ZoneInfo, after: date) -> date:
    """The first local date after `after` on which the zone's UTC offset changes."""
    day = after
    while (
        datetime.combine(day, time(12), tz).utcoffset()
        == datetime.combine(day + timedelta(days=1), time(12), tz).utcoffset()
    ):
        day += timedelta(days=1)
    return day + timedelta(days=1)


def auckland_at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=AKL).astimezone(UTC)


def titles(user) -> list[str]:
    return list(
        db.session.scalars(
            select(Notification.title)
            .where(Notification.user_id == user.id)
            .order_by(Notification.id)
        )
    )


def bodies(user) -> list[str]:
    return list(
        db.session.scalars(
            select(Notification.body)
            .where(Notification.user_id == user.id)
            .order_by(Notification.id)
        )
    )


@pytest.fixture
def auckland_term(app, make_user, make_room, make_group, make_series, monkeypatch):
    """Maths 7A (mentor Ada, student Noah, room R1) on Mondays 08:00-09:00, the Monday before
    and the Monday after the next Auckland DST change; a one-time session on the Tuesday after."""
    monkeypatch.setitem(app.config, "TIMEZONE", "Pacific/Auckland")
    change = next_dst_change(AKL, today_in(AKL) + timedelta(days=14))
    before, after = change - timedelta(days=6), change + timedelta(days=1)
    ada = make_user("mentor", name="Ada Lovelace", email="ada@school.test")
    noah = make_user("student", name="Noah Bernard", email="noah@school.test")
    room = make_room("R1")
    maths = Subject(name="Mathematics")
    db.session.add(maths)
    group = make_group("Maths 7A", mentor=ada, subject=maths, room=room, students=[noah])
    series = make_series(
        group, weekdays=(0,), start=time(8), end=time(9), first_date=before, last_date=after
    )
    generate_occurrences(before, after + timedelta(days=1), tz=AKL)
    tuesday = after + timedelta(days=1)
    one_time = create_one_time_session(
        group_id=group.id, day=tuesday, start=time(8), end=time(9), room_id=room.id,
        actor=None, tz=AKL,
    ).occurrence  # fmt: skip
    db.session.commit()
    sessions = db.session.scalars(
        select(Occurrence).where(Occurrence.series_id == series.id).order_by(Occurrence.start_utc)
    ).all()
    offsets = {datetime.combine(d, time(8), AKL).utcoffset() for d in (before, after)}
    assert len(offsets) == 2
    assert all(o.start_utc.date() == o.original_date - timedelta(days=1) for o in sessions)
    return {
        "before": before,
        "after": after,
        "tuesday": tuesday,
        "ada": ada,
        "noah": noah,
        "room": room,
        "maths": maths,
        "group": group,
        "series": series,
        "sessions": sessions,
        "one_time": one_time,
    }
