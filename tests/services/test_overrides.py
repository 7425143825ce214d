"""Per-date exceptions: validation, conflicts naming the other session, one per date."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from models import (
    DateOverride,
    Occurrence,
    OccurrenceStatus,
    db,
)
from services.common.errors import ConflictError, InvalidTransition, ValidationError
from services.timetable.exceptions import (
    OverrideChange,
    delete_override,
    find_override,
    save_override,
)
from services.timetable.generation import generate_occurrences
from tests.conftest import AKL
from tests.services.conftest import titles

PARIS = ZoneInfo("Europe/Paris")
TERM = date(2026, 9, 7)


def generate(weeks=2):
    generate_occurrences(
        TERM, TERM + timedelta(weeks=weeks), tz=PARIS, now=datetime(2026, 9, 1, tzinfo=UTC)
    )
    db.session.commit()


def override_count():
    return db.session.scalar(select(func.count(DateOverride.id)))


def test_date_that_is_not_an_occurrence_is_refused_clearly(make_series):
    series = make_series(weekdays=(0,))
    with pytest.raises(ValidationError) as caught:
        save_override(
            series, TERM + timedelta(days=1), OverrideChange(cancelled=True), actor=None, tz=PARIS
        )
    assert "is not an occurrence of" in caught.value.errors["original_date"]
    assert "Mon" in caught.value.errors["original_date"]
    db.session.rollback()
    assert override_count() == 0


def test_biweekly_off_week_and_after_last_date_are_not_occurrences(make_series):
    series = make_series(weekdays=(0,), every_weeks=2, last_date=TERM + timedelta(weeks=4))
    for day in (TERM + timedelta(weeks=1), TERM + timedelta(weeks=6), TERM - timedelta(weeks=2)):
        with pytest.raises(ValidationError):
            save_override(series, day, OverrideChange(cancelled=True), actor=None, tz=PARIS)
        db.session.rollback()


def test_override_must_change_something_and_end_after_start(make_series):
    series = make_series(weekdays=(0,), start=time(10), end=time(11))
    with pytest.raises(ValidationError) as nothing:
        save_override(series, TERM, OverrideChange(), actor=None, tz=PARIS)
    assert "start" in nothing.value.errors
    db.session.rollback()
    with pytest.raises(ValidationError) as backwards:
        save_override(series, TERM, OverrideChange(start_time=time(12)), actor=None, tz=PARIS)
    assert "must be after" in backwards.value.errors["end"]
    db.session.rollback()
    with pytest.raises(ValidationError):
        save_override(
            series,
            TERM,
            OverrideChange(start_time=time(11), end_time=time(11)),
            actor=None,
            tz=PARIS,
        )
    db.session.rollback()
    assert override_count() == 0


def test_second_exception_for_the_same_date_updates_the_first(make_series):
    series = make_series(weekdays=(0,))
    generate()
    first, _ = save_override(series, TERM, OverrideChange(cancelled=True), actor=None, tz=PARIS)
    db.session.commit()
    second, occurrence = save_override(
        series, TERM, OverrideChange(start_time=time(9), end_time=time(9, 45)), actor=None, tz=PARIS
    )
    db.session.commit()
    assert second.id == first.id and override_count() == 1
    assert occurrence.status == OccurrenceStatus.SCHEDULED
    assert occurrence.start_utc.astimezone(PARIS).time() == time(9)


def test_override_into_a_booked_room_is_refused_naming_the_other_session(
    make_group, make_series, make_room
):
    busy_room = make_room("Lab 2")
    other = make_series(
        make_group("Chemistry 9B", room=busy_room), weekdays=(0,), start=time(14), end=time(15)
    )
    mine = make_series(make_group("Physics 9A"), weekdays=(0,))
    generate(weeks=1)
    with pytest.raises(ConflictError) as caught:
        save_override(
            mine,
            TERM,
            OverrideChange(start_time=time(14, 30), end_time=time(15, 30), room_id=busy_room.id),
            actor=None,
            tz=PARIS,
        )
    assert "Lab 2" in caught.value.message and "Chemistry 9B" in caught.value.message
    assert caught.value.others[0].series_id == other.id
    db.session.rollback()
    mine_now = db.session.scalar(select(Occurrence).where(Occurrence.series_id == mine.id))
    assert mine_now.start_utc.astimezone(PARIS).time() == time(10)  # data exactly as it was
    assert override_count() == 0


def test_override_double_booking_the_mentor_is_refused(make_user, make_group, make_series):
    mentor = make_user("mentor", name="Ada Lovelace")
    make_series(make_group("Algebra", mentor=mentor), weekdays=(0,), start=time(14), end=time(15))
    mine = make_series(make_group("Geometry", mentor=mentor), weekdays=(0,))
    generate(weeks=1)
    with pytest.raises(ConflictError, match="Ada Lovelace already teaches Algebra"):
        save_override(
            mine,
            TERM,
            OverrideChange(start_time=time(14, 59), end_time=time(16)),
            actor=None,
            tz=PARIS,
        )


def test_back_to_back_override_is_allowed(make_group, make_series, make_room):
    room = make_room()
    make_series(make_group(room=room), weekdays=(0,), start=time(14), end=time(15))
    mine = make_series(make_group(), weekdays=(0,))
    generate(weeks=1)
    _, moved = save_override(
        mine,
        TERM,
        OverrideChange(start_time=time(15), end_time=time(16), room_id=room.id),
        actor=None,
        tz=PARIS,
    )
    assert moved.room_id == room.id


def test_completed_session_cannot_be_cancelled_or_moved(make_series):
    series = make_series(weekdays=(0,))
    generate(weeks=1)
    occurrence = db.session.scalar(select(Occurrence))
    occurrence.status = OccurrenceStatus.COMPLETED
    db.session.commit()
    with pytest.raises(InvalidTransition, match="already completed"):
        save_override(series, TERM, OverrideChange(cancelled=True), actor=None, tz=PARIS)
    db.session.rollback()
    assert db.session.get(Occurrence, occurrence.id).status == OccurrenceStatus.COMPLETED


def test_deleting_an_override_restores_the_series_values(make_series, make_room):
    series = make_series(weekdays=(0,))
    generate(weeks=1)
    room = make_room()
    override, moved = save_override(
        series,
        TERM,
        OverrideChange(room_id=room.id, start_time=time(16), end_time=time(17)),
        actor=None,
        tz=PARIS,
    )
    db.session.commit()
    sequence = moved.sequence
    restored = delete_override(override, tz=PARIS)
    db.session.commit()
    assert restored.id == moved.id
    assert restored.room_id == series.room_id
    assert restored.start_utc.astimezone(PARIS).time() == time(10)
    assert restored.sequence == sequence + 1
    assert override_count() == 0


def test_series_date_cancelled_and_restored_is_told_in_local_time(auckland_term):
    series, before, noah = auckland_term["series"], auckland_term["before"], auckland_term["noah"]
    save_override(series, before, OverrideChange(cancelled=True), actor=None, tz=AKL)
    delete_override(find_override(series.id, before), tz=AKL, actor=None)
    assert titles(noah) == [
        f"Maths 7A on {before:%a %d %b} 08:00 is cancelled",
        f"Maths 7A is back on {before:%a %d %b} 08:00 in R1",
    ]
