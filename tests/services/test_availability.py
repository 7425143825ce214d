"""A mentor's free slots and why a time cannot be booked (services/availability.py): weekly
hours and date overrides in the mentor's zone (across a DST change), closures, absences,
sessions and their buffers, minimum notice, how far ahead, full days. Every `now` is given."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from models import (
    AbsenceStatus,
    AvailabilityOverride,
    BookingRules,
    Closure,
    MentorAbsence,
    OccurrenceStatus,
    WorkingHours,
    db,
)
from services.availability import MentorCalendar

PARIS = ZoneInfo("Europe/Paris")
HOUR = timedelta(hours=1)
# Monday 22 March 2027 (CET, UTC+1); Europe moves to CEST (UTC+2) on Sunday 28 March.
MONDAY = date(2027, 3, 22)
BEFORE = datetime(2027, 3, 1, 9, tzinfo=UTC)  # "now", three weeks earlier


def at(day: date, clock: str, tz=PARIS) -> datetime:
    hours, minutes = map(int, clock.split(":"))
    return datetime.combine(day, time(hours, minutes), tzinfo=tz).astimezone(UTC)


def local(slots, tz=PARIS) -> list[str]:
    return [slot.start.astimezone(tz).strftime("%a %d %H:%M") for slot in slots]


@pytest.fixture
def mentor(make_user):
    return make_user("mentor", name="Ada Lovelace")


def rules(mentor, **settings):
    db.session.add(BookingRules(mentor_id=mentor.id, timezone="Europe/Paris", **settings))
    db.session.commit()


def hours(mentor, weekday: int, *ranges: str):
    for text in ranges:
        start, end = (time.fromisoformat(part) for part in text.split("-"))
        db.session.add(
            WorkingHours(mentor_id=mentor.id, weekday=weekday, start_time=start, end_time=end)
        )
    db.session.commit()


def calendar(mentor, first: date, days: int = 1, now=BEFORE) -> MentorCalendar:
    start = at(first, "00:00")
    return MentorCalendar.build(
        mentor.id, start, at(first + timedelta(days=days), "00:00"), now=now, org_tz=PARIS
    )


def test_weekly_hours_in_several_ranges_give_slots_on_the_step(mentor):
    rules(mentor, minimum_notice_minutes=0)
    hours(mentor, 0, "09:00-12:00", "14:00-16:00")
    slots = calendar(mentor, MONDAY).free_slots(HOUR)
    assert local(slots) == [
        "Mon 22 09:00", "Mon 22 09:30", "Mon 22 10:00", "Mon 22 10:30", "Mon 22 11:00",
        "Mon 22 14:00", "Mon 22 14:30", "Mon 22 15:00",
    ]  # fmt: skip
    assert all(slot.end - slot.start == HOUR for slot in slots)
    assert calendar(mentor, MONDAY + timedelta(days=1)).free_slots(HOUR) == []  # no Tuesday


def test_the_hours_stay_on_the_wall_clock_across_the_dst_change(mentor):
    rules(mentor, minimum_notice_minutes=0, slot_step_minutes=60)
    hours(mentor, 0, "09:00-11:00")
    before = calendar(mentor, MONDAY).free_slots(HOUR)
    after = calendar(mentor, MONDAY + timedelta(days=7)).free_slots(HOUR)
    assert local(before) == ["Mon 22 09:00", "Mon 22 10:00"]
    assert local(after) == ["Mon 29 09:00", "Mon 29 10:00"]
    assert [s.start.hour for s in before] == [8, 9]  # UTC+1
    assert [s.start.hour for s in after] == [7, 8]  # UTC+2


def test_a_range_across_the_spring_gap_is_an_hour_shorter(mentor):
    rules(mentor, minimum_notice_minutes=0, slot_step_minutes=60)
    hours(mentor, 6, "01:00-05:00")  # Sundays; 02:00-03:00 does not exist on 28 March
    slots = calendar(mentor, date(2027, 3, 28)).free_slots(HOUR)
    assert local(slots) == ["Sun 28 01:00", "Sun 28 03:00", "Sun 28 04:00"]


def test_a_date_override_replaces_the_weekday_or_takes_the_day_off(mentor):
    rules(mentor, minimum_notice_minutes=0, slot_step_minutes=60)
    hours(mentor, 0, "09:00-12:00")
    tuesday, next_monday = MONDAY + timedelta(days=1), MONDAY + timedelta(days=7)
    db.session.add_all([
        AvailabilityOverride(mentor_id=mentor.id, day=MONDAY, start_time=time(16),
                             end_time=time(18)),
        AvailabilityOverride(mentor_id=mentor.id, day=tuesday, start_time=time(10),
                             end_time=time(11)),  # extra hours on a day without any
        AvailabilityOverride(mentor_id=mentor.id, day=next_monday),  # a day off
    ])  # fmt: skip
    db.session.commit()
    assert local(calendar(mentor, MONDAY, days=8).free_slots(HOUR)) == [
        "Mon 22 16:00", "Mon 22 17:00", "Tue 23 10:00",
    ]  # fmt: skip
    week = calendar(mentor, MONDAY, days=8)
    assert week.why_not(at(next_monday, "09:00"), at(next_monday, "10:00")) == (
        "it is outside the mentor's working hours"
    )


def test_closures_and_absences_are_unavailable(mentor, make_user):
    rules(mentor, minimum_notice_minutes=0, slot_step_minutes=60)
    for weekday in range(5):
        hours(mentor, weekday, "09:00-11:00")
    tuesday, wednesday, thursday = (MONDAY + timedelta(days=n) for n in (1, 2, 3))
    db.session.add_all([
        Closure(name="Spring bank holiday", first_day=MONDAY, last_day=MONDAY),
        Closure(name="Make-up day", first_day=tuesday, last_day=tuesday, runs_as=MONDAY),
        Closure(name="Year 9 trip", first_day=tuesday, last_day=tuesday, whole_school=False),
        MentorAbsence(mentor_id=mentor.id, start_utc=at(wednesday, "00:00"),
                      end_utc=at(thursday, "00:00"), status=AbsenceStatus.PENDING),
        MentorAbsence(mentor_id=mentor.id, start_utc=at(thursday, "09:00"),
                      end_utc=at(thursday, "10:00"), status=AbsenceStatus.CONFIRMED),
        MentorAbsence(mentor_id=mentor.id, start_utc=at(thursday, "10:00"),
                      end_utc=at(thursday, "11:00"), status=AbsenceStatus.DECLINED),
    ])  # fmt: skip
    db.session.commit()
    week = calendar(mentor, MONDAY, days=5)
    assert local(week.free_slots(HOUR)) == [
        "Tue 23 09:00", "Tue 23 10:00", "Thu 25 10:00", "Fri 26 09:00", "Fri 26 10:00",
    ]  # fmt: skip
    assert week.why_not(at(MONDAY, "09:00"), at(MONDAY, "10:00")) == (
        "the school is closed (Spring bank holiday)"
    )
    assert week.why_not(at(wednesday, "09:00"), at(wednesday, "10:00")) == "the mentor is away"


def test_sessions_and_the_buffers_around_them_are_taken(mentor, make_group, make_session):
    rules(mentor, minimum_notice_minutes=0, buffer_before_minutes=15, buffer_after_minutes=15)
    hours(mentor, 0, "09:00-13:00")
    make_session(make_group(mentor=mentor), at(MONDAY, "10:00"))
    make_session(make_group(mentor=mentor), at(MONDAY, "09:00"), status=OccurrenceStatus.CANCELLED)
    monday = calendar(mentor, MONDAY)
    # 09:00-10:00 would leave no 15 minutes before 10:00; 10:30, 11:00 clash or crowd it.
    assert local(monday.free_slots(HOUR)) == ["Mon 22 11:30", "Mon 22 12:00"]
    assert monday.why_not(at(MONDAY, "10:30"), at(MONDAY, "11:30")) == (
        "the mentor has another session then"
    )
    assert monday.why_not(at(MONDAY, "09:00"), at(MONDAY, "10:00")) == (
        "it is too close to another of the mentor's sessions"
    )
    assert monday.why_not(at(MONDAY, "11:15"), at(MONDAY, "12:15")) is None


def test_a_covered_session_is_its_substitutes_not_its_mentors(
    mentor, make_user, make_group, make_session
):
    rules(mentor, minimum_notice_minutes=0, slot_step_minutes=60)
    hours(mentor, 0, "09:00-12:00")
    other = make_user("mentor")
    make_session(make_group(mentor=other), at(MONDAY, "09:00"), cover_mentor_id=mentor.id)
    make_session(make_group(mentor=mentor), at(MONDAY, "10:00"), cover_mentor_id=other.id)
    assert local(calendar(mentor, MONDAY).free_slots(HOUR)) == ["Mon 22 10:00", "Mon 22 11:00"]


def test_minimum_notice_and_how_far_ahead(mentor):
    rules(mentor, minimum_notice_minutes=24 * 60, booking_horizon_days=7, slot_step_minutes=60)
    for weekday in range(7):
        hours(mentor, weekday, "09:00-11:00")
    now = at(MONDAY, "09:30")
    slots = calendar(mentor, MONDAY, days=10, now=now).free_slots(HOUR)
    # Monday is too soon, Tuesday 09:00 is 23.5 hours away; 7 days ahead is all of the next
    # Monday (calendar days: the DST change in between makes no difference).
    assert local(slots)[0] == "Tue 23 10:00"
    assert local(slots)[-1] == "Mon 29 10:00"
    week = calendar(mentor, MONDAY, days=10, now=now)
    tuesday = MONDAY + timedelta(days=1)
    assert week.why_not(at(tuesday, "09:00"), at(tuesday, "10:00")) == (
        "it is less than 1 day away"
    )
    later = MONDAY + timedelta(days=8)
    assert week.why_not(at(later, "09:00"), at(later, "10:00")) == "it is more than 7 days ahead"


def test_a_day_with_the_most_sessions_offers_nothing_more(mentor, make_group, make_session):
    rules(mentor, minimum_notice_minutes=0, max_sessions_per_day=2, slot_step_minutes=60)
    hours(mentor, 0, "09:00-18:00")
    hours(mentor, 1, "09:00-11:00")
    group = make_group(mentor=mentor)
    make_session(group, at(MONDAY, "09:00"))
    make_session(group, at(MONDAY, "15:00"))
    week = calendar(mentor, MONDAY, days=2)
    assert local(week.free_slots(HOUR)) == ["Tue 23 09:00", "Tue 23 10:00"]
    assert week.why_not(at(MONDAY, "12:00"), at(MONDAY, "13:00")) == (
        "the mentor already has 2 sessions that day"
    )


def test_outside_the_hours_is_refused_and_a_mentor_without_rules_offers_nothing(mentor):
    week = calendar(mentor, MONDAY, days=7)
    assert week.free_slots(HOUR) == []
    sunday = MONDAY + timedelta(days=6)
    assert week.why_not(at(sunday, "03:00"), at(sunday, "04:00")) == (
        "it is outside the mentor's working hours"
    )


def test_slots_are_only_those_inside_the_span_asked_for(mentor):
    rules(mentor, minimum_notice_minutes=0, slot_step_minutes=60)
    hours(mentor, 0, "09:00-12:00")
    span = MentorCalendar.build(
        mentor.id, at(MONDAY, "10:00"), at(MONDAY, "11:30"), now=BEFORE, org_tz=PARIS
    )
    assert local(span.free_slots(HOUR)) == ["Mon 22 10:00"]
