"""The feed URL serves an unchanged feed as built last (no rebuild), rebuilds a changed one, and
still answers 304 to a calendar app holding the current version."""

from __future__ import annotations

from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest

from models import Occurrence, OccurrenceStatus, db
from services.output import feeds
from services.output.feeds import FeedBodies, own_feed
from services.timetable.generation import generate_occurrences


@pytest.fixture
def student_feed(make_user, make_group, make_series, clock):
    today = clock.today()
    student = make_user("student")
    group = make_group("Maths 7A", students=[student], subject="Mathematics")
    make_series(group, weekdays=(0, 1, 2, 3, 4), start=time(10), end=time(11), first_date=today)
    generate_occurrences(today, today + timedelta(weeks=2), tz=ZoneInfo("Europe/Paris"))
    feed = own_feed(student)
    db.session.commit()
    return f"/calendar/{feed.token}.ics"


@pytest.fixture
def builds(monkeypatch):
    """How many times a feed was built."""
    built = []
    build = feeds.build_feed

    def counting(*args, **kwargs):
        built.append(1)
        return build(*args, **kwargs)

    monkeypatch.setattr(feeds, "build_feed", counting)
    return built


def test_an_unchanged_feed_is_served_as_built_last(web, student_feed, builds):
    first = web.get(student_feed)
    again = web.get(student_feed)
    assert len(builds) == 1
    assert again.body == first.body and again.headers["ETag"] == first.headers["ETag"]
    assert again.content_type == "text/calendar" and "BEGIN:VEVENT" in again.text


def test_a_changed_feed_is_built_again(web, student_feed, builds):
    first = web.get(student_feed)
    occurrence = db.session.query(Occurrence).order_by(Occurrence.start_utc).first()
    occurrence.status = OccurrenceStatus.CANCELLED
    occurrence.cancel_reason = "Heating broken"
    occurrence.sequence += 1
    db.session.commit()
    changed = web.get(student_feed)
    assert len(builds) == 2
    assert changed.headers["ETag"] != first.headers["ETag"]
    assert "Cancelled: Heating broken" in changed.text.replace("\r\n ", "")
    assert "Heating broken" not in first.text


def test_a_renamed_room_or_mentor_is_served_at_once(web, student_feed, builds):
    """The ETag follows the sessions; what else an event shows is checked before a body is
    served again."""
    first = web.get(student_feed)
    occurrence = db.session.query(Occurrence).first()
    occurrence.room.name = "Library"
    db.session.commit()
    renamed = web.get(student_feed)
    assert len(builds) == 2 and "LOCATION:Library" in renamed.text
    assert renamed.headers["ETag"] == first.headers["ETag"]
    occurrence.group.mentor.name = "Grace Hopper"
    db.session.commit()
    assert "Grace Hopper" in web.get(student_feed).text and len(builds) == 3


def test_a_calendar_app_holding_the_current_version_is_told_304(web, student_feed, builds):
    first = web.get(student_feed)
    again = web.get(student_feed, headers={"If-None-Match": first.headers["ETag"]}, status=304)
    assert again.body == b"" and again.headers["ETag"] == first.headers["ETag"]
    assert len(builds) == 1


def test_the_kept_bodies_are_bounded_one_per_feed_the_least_recent_going_first():
    bodies = FeedBodies(max_bytes=10)
    bodies.put(1, ("a",), b"1234")
    bodies.put(2, ("b",), b"5678")
    bodies.put(1, ("c",), b"abcd")  # feed 1 changed: its old body goes
    assert bodies.get(1, ("a",)) is None and bodies.get(1, ("c",)) == b"abcd"
    assert len(bodies) == 2
    bodies.put(3, ("d",), b"wxyz")  # over 10 bytes: feed 2, served least recently, goes
    assert bodies.get(2, ("b",)) is None
    assert bodies.get(1, ("c",)) == b"abcd" and bodies.get(3, ("d",)) == b"wxyz"
    bodies.put(4, ("e",), b"x" * 11)  # larger than the whole budget: not kept
    assert bodies.get(4, ("e",)) is None and len(bodies) == 2
