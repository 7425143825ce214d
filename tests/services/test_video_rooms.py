"""Video room ids: format, uniqueness (even when a draw collides), and every online session
has one, whichever way it was made."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from models import Occurrence, OccurrenceMode, db
from services.timetable.generation import generate_occurrences, resolve_window
from services.timetable.sessions import create_one_time_session, update_one_time_session
from services.timetable.video_rooms import ROOM_ID, join_url, new_room_id, new_room_ids

PARIS = ZoneInfo("Europe/Paris")
TERM = date(2026, 9, 7)


def generate(weeks=2, force=False):
    first, end = resolve_window(TERM, weeks=weeks)
    summary = generate_occurrences(
        first, end, tz=PARIS, force=force, now=datetime(2026, 9, 1, tzinfo=UTC)
    )
    db.session.commit()
    return summary


def test_ids_have_the_documented_format_and_differ(app):
    ids = new_room_ids(500)
    assert len(set(ids)) == 500
    assert all(ROOM_ID.match(room_id) for room_id in ids)
    assert ROOM_ID.match(new_room_id())


def test_a_draw_that_collides_with_a_used_id_is_drawn_again(make_group):
    group = make_group()
    taken = Occurrence(
        group_id=group.id,
        start_utc=datetime(2026, 9, 7, 8, tzinfo=UTC),
        end_utc=datetime(2026, 9, 7, 9, tzinfo=UTC),
        mode=OccurrenceMode.ONLINE,
        video_room_id="room-aaaaaaaa",
    )
    db.session.add(taken)
    db.session.commit()
    draws = iter(["room-aaaaaaaa", "room-aaaaaaaa", "room-bbbbbbbb"])
    assert new_room_id(draw=lambda: next(draws)) == "room-bbbbbbbb"


def test_the_database_refuses_an_online_session_without_a_room_or_a_duplicate(make_group):
    group = make_group()

    def online(room_id):
        return Occurrence(
            group_id=group.id,
            start_utc=datetime(2026, 9, 7, 8, tzinfo=UTC),
            end_utc=datetime(2026, 9, 7, 9, tzinfo=UTC),
            mode=OccurrenceMode.ONLINE,
            video_room_id=room_id,
        )

    db.session.add(online(None))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
    db.session.add_all([online("room-cccccccc"), online("room-cccccccc")])
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_generated_online_sessions_get_their_own_rooms(make_series):
    make_series(weekdays=(0, 2), mode="online", room=None)
    make_series(weekdays=(1,))
    generate()
    rows = db.session.scalars(select(Occurrence)).all()
    online = [o.video_room_id for o in rows if o.mode == OccurrenceMode.ONLINE]
    assert len(online) == 4 and len(set(online)) == 4 and all(map(ROOM_ID.match, online))
    assert [o.video_room_id for o in rows if o.mode == OccurrenceMode.IN_PERSON] == [None, None]


def test_a_series_turned_online_gives_its_sessions_rooms_and_keeps_them(make_series):
    series = make_series(weekdays=(0,))
    generate()
    series.mode = OccurrenceMode.ONLINE
    db.session.commit()
    assert generate(force=True).updated == 2
    rooms = {o.id: o.video_room_id for o in db.session.scalars(select(Occurrence))}
    assert all(map(ROOM_ID.match, rooms.values()))
    # Back to in person and online again: each session keeps the room it had.
    series.mode = OccurrenceMode.IN_PERSON
    db.session.commit()
    generate(force=True)
    series.mode = OccurrenceMode.ONLINE
    db.session.commit()
    generate(force=True)
    db.session.expire_all()
    assert {o.id: o.video_room_id for o in db.session.scalars(select(Occurrence))} == rooms


def test_one_time_online_sessions_get_a_room_when_made_or_switched(make_group):
    group = make_group()
    outcome = create_one_time_session(
        group_id=group.id, day=date(2030, 1, 7), start=time(10), end=time(11), room_id=None,
        mode="online", actor=None, tz=PARIS, today=date(2030, 1, 1),
    )  # fmt: skip
    assert ROOM_ID.match(outcome.occurrence.video_room_id)
    in_person = create_one_time_session(
        group_id=group.id, day=date(2030, 1, 8), start=time(10), end=time(11),
        room_id=group.default_room_id, actor=None, tz=PARIS, today=date(2030, 1, 1),
    ).occurrence  # fmt: skip
    assert in_person.video_room_id is None
    update_one_time_session(
        in_person, day=date(2030, 1, 8), start=time(10), end=time(11), room_id=None,
        mode="online", title=None, actor=None, tz=PARIS, today=date(2030, 1, 1),
    )  # fmt: skip
    db.session.commit()
    assert ROOM_ID.match(in_person.video_room_id)


def test_join_url_is_the_setting_followed_by_the_room(app):
    assert join_url("room-abcdefgh") == "https://meet.jit.si/room-abcdefgh"
    app.config["VIDEO_BASE_URL"] = "https://video.school.test/join?room="
    try:
        assert join_url("room-abcdefgh") == "https://video.school.test/join?room=room-abcdefgh"
    finally:
        del app.config["VIDEO_BASE_URL"]
