"""Property tests: generation matches an independent day-by-day oracle and is idempotent."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from models import CourseGroup, DateOverride, Occurrence, Room, Series, Subject, User, db
from models.series import weekdays_to_mask
from models.user import Role
from services.timetable.exceptions import OverrideChange, save_override
from services.timetable.generation import generate_occurrences

TZ = ZoneInfo("Europe/Paris")
EPOCH = date(2026, 1, 5)  # a Monday; windows cover both DST changes of 2026


def oracle_dates(weekdays, every, first, last, start, end):
    """Occurrence dates by brute force: walk every day, keep matching weekday and week phase."""
    first_monday = first - timedelta(days=first.weekday())
    day, found = max(first, start), []
    while day < end:
        in_phase = ((day - first_monday).days // 7) % every == 0
        if day.weekday() in weekdays and in_phase and (last is None or day <= last):
            found.append(day)
        day += timedelta(days=1)
    return found


series_specs = st.lists(
    st.fixed_dictionaries(
        {
            "weekdays": st.sets(st.integers(0, 6), min_size=1, max_size=3),
            "every": st.integers(1, 3),
            "first_offset": st.integers(0, 300),
            "length": st.one_of(st.none(), st.integers(0, 120)),
            "start_minute": st.integers(0, 22 * 60 - 1).map(lambda m: m - m % 15),
            "duration": st.sampled_from([30, 45, 60, 90, 120]),
        }
    ),
    min_size=1,
    max_size=4,
)


def _reset():
    db.session.rollback()
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(sa.delete(table))
    db.session.commit()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    specs=series_specs,
    window_offset=st.integers(0, 330),
    window_days=st.integers(1, 120),
    cancel_picks=st.lists(st.integers(0, 10_000), max_size=4),
    move_picks=st.lists(st.integers(0, 10_000), max_size=3),
)
def test_generation_equals_oracle_minus_cancellations_with_overrides(
    app, specs, window_offset, window_days, cancel_picks, move_picks
):
    _reset()
    subject, spare = Subject(name="S"), Room(name="Spare")
    db.session.add_all([subject, spare])
    db.session.flush()
    series_list = []
    for i, spec in enumerate(specs):
        # A mentor per group and no rooms: moving a session to the spare room can then only
        # collide with another session of the same series, which the oracle never creates.
        mentor = User(email=f"m{i}@x.test", name=f"M{i}", role=Role.MENTOR)
        db.session.add(mentor)
        db.session.flush()
        group = CourseGroup(name=f"G{i}", subject_id=subject.id, mentor_id=mentor.id)
        db.session.add(group)
        db.session.flush()
        first = EPOCH + timedelta(days=spec["first_offset"])
        start_clock = time(spec["start_minute"] // 60, spec["start_minute"] % 60)
        end_minute = spec["start_minute"] + spec["duration"]
        series = Series(
            group_id=group.id,
            weekday_mask=weekdays_to_mask(spec["weekdays"]),
            every_weeks=spec["every"],
            start_time=start_clock,
            end_time=time(
                min(end_minute // 60, 23), end_minute % 60 if end_minute < 24 * 60 else 59
            ),
            room_id=None,
            first_date=first,
            last_date=None if spec["length"] is None else first + timedelta(days=spec["length"]),
        )
        db.session.add(series)
        series_list.append(series)
    db.session.commit()

    start = EPOCH + timedelta(days=window_offset)
    end = start + timedelta(days=window_days)
    expected = {}
    for s in series_list:
        for day in oracle_dates(
            set(s.weekdays), s.every_weeks, s.first_date, s.last_date, start, end
        ):
            expected[(s.id, day)] = (day, s.start_time, s.end_time, None, "scheduled")

    # Exceptions on some of the expected dates (cancel some, move others to the spare room).
    keys = sorted(expected)
    for pick in cancel_picks:
        if keys:
            sid, day = keys[pick % len(keys)]
            save_override(
                db.session.get(Series, sid), day, OverrideChange(cancelled=True), actor=None, tz=TZ
            )
            expected[(sid, day)] = (*expected[(sid, day)][:4], "cancelled")
    for pick in move_picks:
        if keys:
            sid, day = keys[pick % len(keys)]
            if expected[(sid, day)][4] == "cancelled" or db.session.scalar(
                select(DateOverride.id).where(
                    DateOverride.series_id == sid, DateOverride.original_date == day
                )
            ):
                continue
            save_override(
                db.session.get(Series, sid),
                day,
                OverrideChange(room_id=spare.id),
                actor=None,
                tz=TZ,
            )
            d, st_, en, _, status = expected[(sid, day)]
            expected[(sid, day)] = (d, st_, en, spare.id, status)
    db.session.commit()

    before_now = datetime(2025, 1, 1, tzinfo=UTC)
    first_run = generate_occurrences(start, end, tz=TZ, now=before_now)
    db.session.commit()
    assert first_run.created == len(expected)

    actual = {}
    for o in db.session.scalars(select(Occurrence)):
        local_start, local_end = o.start_utc.astimezone(TZ), o.end_utc.astimezone(TZ)
        actual[(o.series_id, o.original_date)] = (
            local_start.date(),
            local_start.time(),
            local_end.time(),
            o.room_id,
            str(o.status),
        )
    # Wall-clock times survive DST except inside a gap, where they move forward one hour.
    for key, (day, st_, en, room_id, status) in expected.items():
        got = actual[key]
        assert got[0] == day and got[3] == room_id and got[4] == status
        if key not in {(s["series_id"], date.fromisoformat(s["date"])) for s in first_run.shifted}:
            assert (got[1], got[2]) == (st_, en)
    assert set(actual) == set(expected)

    second_run = generate_occurrences(start, end, tz=TZ, force=True, now=before_now)
    db.session.commit()
    assert (second_run.created, second_run.updated, second_run.removed) == (0, 0, 0)
    assert second_run.unchanged == len(expected)
