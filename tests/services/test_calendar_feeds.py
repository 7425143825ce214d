"""Calendar feeds parsed back with icalendar and expanded with recurring-ical-events: the same
sessions as the database, across a DST change, with a cancellation and a moved session."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import recurring_ical_events
from icalendar import Calendar

from models import Occurrence, OccurrenceStatus, db
from services.calendar_feeds import (
    build_feed,
    feed_by_token,
    fingerprint,
    own_feed,
    regenerate,
    staff_feed,
)
from services.errors import ValidationError
from services.generation import generate_occurrences
from services.overrides import OverrideChange, find_occurrence, save_override

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 10, 1, 8, tzinfo=UTC)
# Mondays on both sides of the end of summer time (Sunday 25 October 2026 in Paris).
FIRST = date(2026, 10, 12)


def parse(feed) -> Calendar:
    return Calendar.from_ical(build_feed(feed, tz=PARIS, base_url="https://tt.test", now=NOW))


@pytest.fixture
def lessons(make_user, make_group, make_series, make_room):
    mentor = make_user("mentor", name="Ada")
    student, other = make_user("student"), make_user("student")
    maths = make_group("Maths 7A", mentor=mentor, students=[student], room=make_room("R101"),
                       subject="Mathematics")  # fmt: skip
    physics = make_group("Physics 8B", students=[other])
    series = make_series(maths, weekdays=(0,), start=time(10), end=time(11), first_date=FIRST)
    make_series(physics, weekdays=(0,), start=time(10), end=time(11), first_date=FIRST)
    generate_occurrences(FIRST, FIRST + timedelta(weeks=3), tz=PARIS, now=NOW)
    db.session.commit()
    return {"mentor": mentor, "student": student, "other": other, "series": series,
            "maths": maths}  # fmt: skip


def test_a_students_feed_holds_their_sessions_at_local_time_across_dst(lessons):
    calendar = parse(own_feed(lessons["student"]))
    events = recurring_ical_events.of(calendar).between(FIRST, FIRST + timedelta(weeks=3))
    assert len(events) == 3
    starts = sorted(e["DTSTART"].dt for e in events)
    assert [s.astimezone(PARIS).time() for s in starts] == [time(10)] * 3
    # 10:00 local is 08:00 UTC in summer time and 09:00 UTC after it ends.
    assert [s.astimezone(UTC).hour for s in starts] == [8, 8, 9]
    assert (
        starts[0].tzinfo is not None and str(events[0]["DTSTART"].params["TZID"]) == "Europe/Paris"
    )
    assert calendar.walk("VTIMEZONE"), "a VTIMEZONE matching the TZID"
    ids = sorted(o.id for o in db.session.query(Occurrence).filter_by(group_id=lessons["maths"].id))
    assert sorted(str(e["UID"]) for e in events) == [f"session-{i}@termtable" for i in ids]
    first = min(events, key=lambda e: e["DTSTART"].dt)
    assert str(first["SUMMARY"]) == "Mathematics · Maths 7A"
    assert str(first["LOCATION"]) == "R101"
    assert str(first["STATUS"]) == "CONFIRMED"
    assert str(first["URL"]).startswith("https://tt.test/sessions/")
    # Another student's group is not in it.
    assert "Physics" not in build_feed(own_feed(lessons["student"]), tz=PARIS, now=NOW).decode()


def test_cancelled_and_moved_sessions_update_rather_than_duplicate(lessons):
    feed = own_feed(lessons["mentor"])
    before = {str(e["UID"]): e for e in parse(feed).walk("VEVENT")}
    tag = fingerprint(feed, NOW)
    series = lessons["series"]
    save_override(series, FIRST, OverrideChange(cancelled=True), actor=None, tz=PARIS)
    later = OverrideChange(start_time=time(14), end_time=time(15))
    save_override(series, FIRST + timedelta(weeks=1), later, actor=None, tz=PARIS)
    db.session.commit()
    after = {str(e["UID"]): e for e in parse(feed).walk("VEVENT")}
    assert after.keys() == before.keys()  # same UIDs: updates, not new events
    cancelled = after[f"session-{find_occurrence(series.id, FIRST).id}@termtable"]
    moved_occurrence = find_occurrence(series.id, FIRST + timedelta(weeks=1))
    moved = after[f"session-{moved_occurrence.id}@termtable"]
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert moved["DTSTART"].dt.astimezone(PARIS).time() == time(14)
    for uid in (cancelled["UID"], moved["UID"]):
        assert int(after[str(uid)]["SEQUENCE"]) > int(before[str(uid)]["SEQUENCE"])
    assert fingerprint(feed, NOW) != tag


def test_the_fingerprint_holds_while_nothing_changes(lessons):
    feed = own_feed(lessons["student"])
    assert fingerprint(feed, NOW) == fingerprint(feed, NOW)


def test_online_sessions_give_the_video_link_to_participants_only(lessons, make_series, make_user):
    make_series(lessons["maths"], weekdays=(2,), start=time(16), end=time(17), room=None,
                mode="online", first_date=FIRST)  # fmt: skip
    generate_occurrences(FIRST, FIRST + timedelta(weeks=1), tz=PARIS, now=NOW)
    db.session.commit()
    online = db.session.query(Occurrence).filter_by(mode="online").first()
    mine = [e for e in parse(own_feed(lessons["student"])).walk("VEVENT")
            if str(e["UID"]) == f"session-{online.id}@termtable"]  # fmt: skip
    assert str(mine[0]["LOCATION"]) == f"https://meet.jit.si/{online.video_room_id}"
    coordinator = make_user("coordinator")
    group_feed = staff_feed(coordinator, group_id=lessons["maths"].id)
    theirs = [e for e in parse(group_feed).walk("VEVENT")
              if str(e["UID"]) == f"session-{online.id}@termtable"]  # fmt: skip
    assert str(theirs[0]["LOCATION"]) == "Online"
    assert online.video_room_id not in build_feed(group_feed, tz=PARIS, now=NOW).decode()


def test_regenerating_invalidates_the_old_address(lessons):
    feed = own_feed(lessons["student"])
    old = feed.token
    fresh = regenerate(feed)
    db.session.commit()
    assert feed_by_token(old) is None and feed_by_token(fresh.token) == fresh
    assert own_feed(lessons["student"]) == fresh


def test_room_and_group_feeds_are_for_staff_and_hold_that_room_or_group(lessons, make_user):
    with pytest.raises(ValidationError, match="Only staff"):
        staff_feed(lessons["mentor"], group_id=lessons["maths"].id)
    coordinator = make_user("coordinator")
    room_feed = staff_feed(coordinator, room_id=lessons["maths"].default_room_id)
    assert staff_feed(coordinator, room_id=lessons["maths"].default_room_id) == room_feed
    events = parse(room_feed).walk("VEVENT")
    assert len(events) == 3 and all("Maths 7A" in str(e["SUMMARY"]) for e in events)
    with pytest.raises(ValidationError, match="room or a group"):
        staff_feed(coordinator)


def test_a_deactivated_owner_s_feed_stops_working(lessons):
    feed = own_feed(lessons["student"])
    lessons["student"].is_active_account = False
    db.session.commit()
    assert feed_by_token(feed.token) is None


def test_a_session_cancelled_on_its_own_says_why(lessons):
    occurrence = find_occurrence(lessons["series"].id, FIRST)
    occurrence.status = OccurrenceStatus.CANCELLED
    occurrence.cancel_reason = "Heating broken"
    occurrence.sequence += 1
    db.session.commit()
    text = build_feed(own_feed(lessons["student"]), tz=PARIS, now=NOW).decode()
    assert "Cancelled: Heating broken" in text.replace("\r\n ", "")


def test_commas_semicolons_backslashes_and_newlines_parse_back(lessons):
    group = lessons["maths"]
    group.name = "Maths; 7A, \\set"
    occurrence = find_occurrence(lessons["series"].id, FIRST)
    occurrence.status = OccurrenceStatus.CANCELLED
    occurrence.cancel_reason = "Line one,\nline two; done"
    db.session.commit()
    events = {str(e["UID"]): e for e in parse(own_feed(lessons["student"])).walk("VEVENT")}
    event = events[f"session-{occurrence.id}@termtable"]
    assert str(event["SUMMARY"]) == "Mathematics · Maths; 7A, \\set"
    assert "Cancelled: Line one,\nline two; done" in str(event["DESCRIPTION"])
