"""Single sessions: visibility, one-time sessions, rescheduling, cancelling, restoring, deleting."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from models import (
    DateOverride,
    Enrolment,
    Occurrence,
    OccurrenceMode,
    OccurrenceStatus,
    SessionEvent,
    db,
)
from services.common.errors import ConflictError, InvalidTransition, NotFoundError, ValidationError
from services.common.timeutil import week_start
from services.permissions import can_view_session, visible_sessions
from services.timetable.exceptions import (
    OverrideChange,
    find_occurrence,
    save_override,
)
from services.timetable.generation import generate_occurrences
from services.timetable.sessions import (
    cancel_session,
    cancellation_reason,
    create_one_time_session,
    delete_one_time_session,
    exception_of,
    get_visible_session,
    reschedule_session,
    restore_session,
    session_conflicts,
    update_one_time_session,
)
from tests.conftest import AKL, PINNED_TODAY, auckland_at
from tests.services.conftest import titles
from tests.services.test_concurrency import run_together

PARIS = ZoneInfo("Europe/Paris")
TODAY = PINNED_TODAY

# Dates are constants of the module: its clock is pinned, so they never go stale.
pytestmark = pytest.mark.usefixtures("pinned_clock")
# A Monday two weeks ahead: far enough that generation does not treat it as history.
MONDAY = week_start(TODAY) + timedelta(weeks=2)


def at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=PARIS).astimezone(UTC)


def local(occurrence: Occurrence) -> tuple[date, time, time]:
    start, end = occurrence.start_utc.astimezone(PARIS), occurrence.end_utc.astimezone(PARIS)
    return start.date(), start.time(), end.time()


def occurrence_count() -> int:
    return db.session.scalar(select(func.count(Occurrence.id)))


def override_count() -> int:
    return db.session.scalar(select(func.count(DateOverride.id)))


def clock_change(forward: bool) -> date:
    """The next day on which Paris clocks go forward (or back)."""
    day = TODAY
    while True:
        day += timedelta(days=1)
        before = datetime.combine(day - timedelta(days=1), time(12), tzinfo=PARIS).utcoffset()
        after = datetime.combine(day, time(12), tzinfo=PARIS).utcoffset()
        if (after > before) if forward else (after < before):
            return day


def create(group, day=MONDAY, start=time(10), end=time(11), **kwargs):
    kwargs.setdefault("room_id", group.default_room_id)
    outcome = create_one_time_session(
        group_id=group.id, day=day, start=start, end=end, actor=None, tz=PARIS, **kwargs
    )
    db.session.commit()
    return outcome


def generate(weeks=2, force=False):
    summary = generate_occurrences(MONDAY, MONDAY + timedelta(weeks=weeks), tz=PARIS, force=force)
    db.session.commit()
    return summary


def fresh(occurrence_id: int) -> Occurrence:
    db.session.expire_all()
    return db.session.get(Occurrence, occurrence_id)


def refused(error_type, function, *args, **kwargs):
    with pytest.raises(error_type) as caught:
        function(*args, **kwargs)
    db.session.rollback()
    return caught.value


# --- Creating a one-time session ----------------------------------------------------------------


def test_create_stores_local_times_as_utc_instants(make_group):
    group = make_group("Maths 7A")
    outcome = create(group, title="  Exam revision  ", mode="online")
    occurrence = fresh(outcome.occurrence.id)
    assert occurrence.series_id is None and occurrence.original_date is None
    assert occurrence.start_utc == at(MONDAY, time(10)) and occurrence.end_utc == at(
        MONDAY, time(11)
    )
    assert local(occurrence) == (MONDAY, time(10), time(11))
    assert occurrence.status == OccurrenceStatus.SCHEDULED
    assert occurrence.mode == OccurrenceMode.ONLINE
    assert occurrence.title == "Exam revision"
    assert occurrence.sequence == 0 and not occurrence.edited_by_hand
    assert outcome.adjustments == []


def test_an_online_session_needs_no_room(make_group):
    outcome = create(make_group(), room_id=None, mode="online")
    assert fresh(outcome.occurrence.id).room_id is None


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"start": time(11), "end": time(10)}, "end", "The end (10:00) must be after the start"),
        ({"start": time(11), "end": time(11)}, "end", "must be after the start (11:00)"),
        ({"room_id": None}, "room", "Choose a room for an in-person session"),
        ({"room_id": 999_999}, "room", "Choose an active room."),
        ({"mode": "hybrid"}, "mode", "Choose in person or online."),
        ({"title": "x" * 201}, "title", "limited to 200 characters"),
        ({"day": TODAY - timedelta(days=367)}, "date", "Choose a date between"),
        ({"day": TODAY + timedelta(days=733)}, "date", "Choose a date between"),
        ({"day": date(1, 1, 1)}, "date", "Choose a date between"),
        ({"day": date(9999, 12, 31)}, "date", "Choose a date between"),
    ],
)
def test_bad_input_is_refused_field_by_field(make_group, changes, field, message):
    group = make_group()
    values = {"day": MONDAY, "start": time(10), "end": time(11), "room_id": group.default_room_id}
    values |= changes
    error = refused(
        ValidationError,
        create_one_time_session,
        group_id=group.id,
        actor=None,
        tz=PARIS,
        **values,
    )
    assert message in error.errors[field]
    assert occurrence_count() == 0


def test_an_inactive_or_unknown_group_is_refused(make_group, make_room):
    inactive = make_group(active=False)
    room = make_room()
    for group_id in (inactive.id, 999_999, 0, -1, 2**63):
        error = refused(
            ValidationError,
            create_one_time_session,
            group_id=group_id, day=MONDAY, start=time(10), end=time(11), room_id=room.id,
            actor=None, tz=PARIS,
        )  # fmt: skip
        assert error.errors["group"] == "Choose an active course group."
    assert occurrence_count() == 0


def test_an_inactive_room_is_refused(make_group, make_room):
    closed = make_room("Old lab", active=False)
    error = refused(ValidationError, create, make_group(), room_id=closed.id)
    assert error.errors["room"] == "Choose an active room."


def test_a_room_double_booking_is_refused_naming_the_other_session(make_group, make_room):
    room = make_room("Lab 1")
    create(make_group("Physics 8B", room=room), start=time(10), end=time(11))
    error = refused(ConflictError, create, make_group("Maths 7A", room=room), start=time(10, 59))
    assert "Lab 1 (room) is already booked by Physics 8B" in error.message
    assert error.field == "room"
    assert occurrence_count() == 1


def test_a_mentor_double_booking_is_refused_naming_the_other_session(make_user, make_group):
    mentor = make_user("mentor", name="Ms Curie")
    create(make_group("Physics 8B", mentor=mentor), start=time(10), end=time(11))
    error = refused(
        ConflictError, create, make_group("Maths 7A", mentor=mentor), room_id=None, mode="online"
    )
    assert "Ms Curie already teaches Physics 8B" in error.message
    assert occurrence_count() == 1


def test_back_to_back_and_cancelled_sessions_do_not_conflict(make_group, make_room):
    room = make_room("Lab 1")
    physics = make_group("Physics 8B", room=room)
    first = create(physics, start=time(9), end=time(10)).occurrence
    cancel_session(first, reason="Trip", actor=None, tz=PARIS)
    create(physics, start=time(10), end=time(11))
    maths = make_group("Maths 7A", room=room)
    create(maths, start=time(11), end=time(12))  # back to back: 11:00 is free
    create(maths, start=time(9), end=time(10))  # the cancelled 09:00 slot is free
    assert occurrence_count() == 4


def test_a_conflict_with_a_series_session_is_refused_too(make_group, make_series, make_room):
    room = make_room("Lab 1")
    make_series(make_group("Physics 8B", room=room), first_date=MONDAY)
    generate(weeks=1)
    error = refused(ConflictError, create, make_group("Maths 7A", room=room), start=time(10, 30))
    assert "Physics 8B" in error.message


# --- Time zone and DST --------------------------------------------------------------------------


def test_a_start_in_the_spring_forward_gap_moves_forward_and_is_reported(make_group):
    day = clock_change(forward=True)
    outcome = create(make_group(), day=day, start=time(2, 30), end=time(4))
    assert local(fresh(outcome.occurrence.id)) == (day, time(3, 30), time(4))
    (sentence,) = outcome.adjustments
    assert "02:30 does not exist" in sentence and "03:30-04:00" in sentence


def test_a_start_pushed_past_its_end_keeps_the_typed_length(make_group):
    day = clock_change(forward=True)
    outcome = create(make_group(), day=day, start=time(2, 30), end=time(3, 15))
    occurrence = fresh(outcome.occurrence.id)
    assert local(occurrence) == (day, time(3, 30), time(4, 15))
    assert occurrence.end_utc - occurrence.start_utc == timedelta(minutes=45)
    assert "03:30-04:15" in outcome.adjustments[0]


def test_a_time_that_happens_twice_takes_the_first_instant(make_group):
    day = clock_change(forward=False)
    outcome = create(make_group(), day=day, start=time(2, 30), end=time(3, 30))
    occurrence = fresh(outcome.occurrence.id)
    # 02:30 summer time (UTC+2) is 00:30 UTC; 03:30 is only winter time (UTC+1).
    assert occurrence.start_utc == datetime.combine(day, time(0, 30), tzinfo=UTC)
    assert occurrence.end_utc == datetime.combine(day, time(2, 30), tzinfo=UTC)
    assert outcome.adjustments == []


def test_overlap_is_decided_on_instants_across_the_fall_back_night(make_group, make_room):
    day = clock_change(forward=False)
    room = make_room("Lab 1")
    # 01:30-02:30 (first 02:30) ends at 00:30 UTC; 02:45-03:30 starts 00:45 UTC: no overlap.
    create(make_group(room=room), day=day, start=time(1, 30), end=time(2, 30))
    create(make_group(room=room), day=day, start=time(2, 45), end=time(3, 30))
    assert occurrence_count() == 2


# --- Editing a one-time session -----------------------------------------------------------------


def update(occurrence, **changes):
    values = {
        "day": MONDAY,
        "start": time(10),
        "end": time(11),
        "room_id": occurrence.room_id,
        "mode": occurrence.mode,
        "title": occurrence.title,
    } | changes
    outcome = update_one_time_session(occurrence, actor=None, tz=PARIS, **values)
    db.session.commit()
    return outcome


def test_update_changes_the_session_and_bumps_its_sequence(make_group, make_room):
    occurrence = create(make_group("Maths 7A")).occurrence
    hall = make_room("Great Hall")
    outcome = update(
        occurrence, day=MONDAY + timedelta(days=1), start=time(14), end=time(15, 30),
        room_id=hall.id, title="Mock exam",
    )  # fmt: skip
    assert outcome.changed
    saved = fresh(occurrence.id)
    assert local(saved) == (MONDAY + timedelta(days=1), time(14), time(15, 30))
    assert (saved.room_id, saved.title, saved.sequence) == (hall.id, "Mock exam", 1)
    assert saved.group_id == occurrence.group_id and saved.series_id is None


def test_an_update_that_changes_nothing_writes_nothing(make_group):
    occurrence = create(make_group()).occurrence
    assert not update(occurrence).changed
    assert fresh(occurrence.id).sequence == 0


def test_an_update_may_overlap_its_own_old_slot_but_not_another_session(make_group, make_room):
    room = make_room("Lab 1")
    mine = create(make_group("Maths 7A", room=room)).occurrence
    update(mine, start=time(10, 30), end=time(11, 30))  # overlaps only itself
    create(make_group("Physics 8B", room=room), start=time(12), end=time(13))
    error = refused(ConflictError, update, fresh(mine.id), start=time(11, 30), end=time(12, 30))
    assert "Lab 1 (room) is already booked by Physics 8B" in error.message
    assert local(fresh(mine.id))[1] == time(10, 30)


def test_update_validates_like_create(make_group):
    occurrence = create(make_group()).occurrence
    error = refused(ValidationError, update, occurrence, start=time(12), end=time(11))
    assert "must be after the start" in error.errors["end"]
    error = refused(ValidationError, update, fresh(occurrence.id), room_id=None)
    assert "Choose a room" in error.errors["room"]
    assert fresh(occurrence.id).sequence == 0


def test_a_room_deactivated_since_may_be_kept_but_not_chosen(make_group, make_room):
    old = make_room("Old lab")
    occurrence = create(make_group(room=old)).occurrence
    old.active = False
    db.session.commit()
    update(fresh(occurrence.id), start=time(9), end=time(10))
    assert fresh(occurrence.id).room_id == old.id
    other = create(make_group(room=make_room())).occurrence
    error = refused(ValidationError, update, fresh(other.id), room_id=old.id)
    assert error.errors["room"] == "Choose an active room."


def test_completed_cancelled_and_series_sessions_are_not_edited_directly(make_group, make_series):
    occurrence = create(make_group()).occurrence
    occurrence.status = OccurrenceStatus.COMPLETED
    db.session.commit()
    error = refused(InvalidTransition, update, fresh(occurrence.id), start=time(9))
    assert "completed" in error.message
    fresh(occurrence.id).status = OccurrenceStatus.CANCELLED
    db.session.commit()
    error = refused(InvalidTransition, update, fresh(occurrence.id), start=time(9))
    assert "restore it first" in error.message
    series = make_series(first_date=MONDAY)
    generate(weeks=1)
    error = refused(InvalidTransition, update, find_occurrence(series.id, MONDAY), start=time(9))
    assert "weekly series" in error.message


# --- Rescheduling a series session (an exception) -----------------------------------------------


def reschedule(occurrence, **changes):
    values = {
        "day": MONDAY,
        "start": time(10),
        "end": time(11),
        "room_id": occurrence.room_id,
    } | changes
    outcome = reschedule_session(occurrence, actor=None, tz=PARIS, **values)
    db.session.commit()
    return outcome


def test_rescheduling_a_series_session_records_an_exception_for_its_date(
    make_group, make_series, make_room, make_user
):
    coordinator = make_user("coordinator")
    series = make_series(make_group("Maths 7A"), weekdays=(0, 2), first_date=MONDAY)
    generate()
    occurrence = find_occurrence(series.id, MONDAY)
    hall = make_room("Great Hall")
    outcome = reschedule_session(
        occurrence, day=MONDAY, start=time(14), end=time(15), room_id=hall.id,
        notes="Hall booked for the mock exam", actor=coordinator, tz=PARIS,
    )  # fmt: skip
    db.session.commit()
    override = db.session.scalar(select(DateOverride))
    assert outcome.override.id == override.id
    # Only what differs from the series is recorded; the date follows the series.
    assert (override.original_date, override.new_date) == (MONDAY, None)
    assert (override.start_time, override.end_time, override.room_id) == (
        time(14),
        time(15),
        hall.id,
    )
    assert override.notes == "Hall booked for the mock exam"
    assert override.created_by_id == coordinator.id and not override.cancelled
    saved = fresh(occurrence.id)
    assert local(saved) == (MONDAY, time(14), time(15)) and saved.room_id == hall.id
    assert saved.sequence == 1 and not saved.edited_by_hand
    # The other dates are untouched.
    assert local(find_occurrence(series.id, MONDAY + timedelta(days=2)))[1] == time(10)


def test_a_rescheduled_series_session_survives_forced_regeneration(make_series):
    series = make_series(weekdays=(0,), first_date=MONDAY)
    generate()
    occurrence = find_occurrence(series.id, MONDAY)
    reschedule(occurrence, day=MONDAY + timedelta(days=1), start=time(16), end=time(17))
    summary = generate(force=True)
    assert (summary.created, summary.updated, summary.removed) == (0, 0, 0)
    assert summary.unchanged == 2
    saved = fresh(occurrence.id)
    assert local(saved) == (MONDAY + timedelta(days=1), time(16), time(17))
    assert saved.original_date == MONDAY


def test_rescheduling_back_to_the_series_values_removes_the_exception(make_series):
    series = make_series(weekdays=(0,), first_date=MONDAY)
    generate()
    occurrence = find_occurrence(series.id, MONDAY)
    reschedule(occurrence, start=time(12), end=time(13), notes="Moved")
    assert override_count() == 1
    outcome = reschedule(fresh(occurrence.id), start=time(10), end=time(11))
    assert outcome.changed and outcome.override is None
    assert override_count() == 0
    saved = fresh(occurrence.id)
    assert local(saved) == (MONDAY, time(10), time(11)) and saved.sequence == 2


def test_rescheduling_to_what_it_already_is_writes_nothing(make_series):
    series = make_series(weekdays=(0,), first_date=MONDAY)
    generate()
    occurrence = find_occurrence(series.id, MONDAY)
    assert not reschedule(occurrence).changed
    reschedule(fresh(occurrence.id), start=time(12), end=time(13))
    assert not reschedule(fresh(occurrence.id), start=time(12), end=time(13)).changed
    assert fresh(occurrence.id).sequence == 1 and override_count() == 1


def test_a_rescheduled_series_session_that_collides_is_refused(make_group, make_series, make_room):
    room = make_room("Lab 1")
    maths = make_series(make_group("Maths 7A", room=room), first_date=MONDAY)
    make_series(
        make_group("Physics 8B", room=room), first_date=MONDAY, start=time(14), end=time(15)
    )
    generate(weeks=1)
    occurrence = find_occurrence(maths.id, MONDAY)
    error = refused(ConflictError, reschedule, occurrence, start=time(14, 30), end=time(15, 30))
    assert "Physics 8B" in error.message
    assert override_count() == 0
    assert local(fresh(occurrence.id))[1] == time(10)


def test_rescheduling_a_one_time_session_changes_it_directly(make_group):
    occurrence = create(make_group(), title="Make-up").occurrence
    outcome = reschedule(occurrence, start=time(15), end=time(16))
    assert outcome.override is None and override_count() == 0
    saved = fresh(occurrence.id)
    assert local(saved)[1:] == (time(15), time(16))
    assert (saved.title, saved.sequence) == ("Make-up", 1)


def test_a_completed_series_session_cannot_be_rescheduled(make_series):
    series = make_series(weekdays=(0,), first_date=MONDAY)
    generate()
    occurrence = find_occurrence(series.id, MONDAY)
    occurrence.status = OccurrenceStatus.COMPLETED
    db.session.commit()
    error = refused(InvalidTransition, reschedule, occurrence, start=time(12), end=time(13))
    assert "completed" in error.message
    assert override_count() == 0


# --- Cancel and restore -------------------------------------------------------------------------


def test_cancelling_a_one_time_session_keeps_the_reason_and_bumps_the_sequence(make_group):
    occurrence = create(make_group()).occurrence
    cancel_session(occurrence, reason="  Mentor ill  ", actor=None, tz=PARIS)
    db.session.commit()
    saved = fresh(occurrence.id)
    assert saved.status == OccurrenceStatus.CANCELLED
    assert saved.cancel_reason == "Mentor ill" and cancellation_reason(saved) == "Mentor ill"
    assert saved.sequence == 1


@pytest.mark.parametrize(("reason", "message"), [("", "Give a reason"), ("   ", "Give a reason"),
                                                 ("x" * 2001, "limited to 2,000")])  # fmt: skip
def test_a_cancellation_needs_a_reason(make_group, reason, message):
    occurrence = create(make_group()).occurrence
    error = refused(
        ValidationError, cancel_session, occurrence, reason=reason, actor=None, tz=PARIS
    )
    assert message in error.errors["reason"]
    assert fresh(occurrence.id).status == OccurrenceStatus.SCHEDULED


def test_cancelling_twice_or_a_completed_session_is_refused(make_group):
    occurrence = create(make_group()).occurrence
    cancel_session(occurrence, reason="Trip", actor=None, tz=PARIS)
    db.session.commit()
    error = refused(InvalidTransition, cancel_session, fresh(occurrence.id), reason="Again",
                    actor=None, tz=PARIS)  # fmt: skip
    assert error.message == "This session is already cancelled."
    done = create(make_group(), start=time(12), end=time(13)).occurrence
    done.status = OccurrenceStatus.COMPLETED
    db.session.commit()
    error = refused(InvalidTransition, cancel_session, done, reason="x", actor=None, tz=PARIS)
    assert "completed" in error.message


def test_cancelling_a_series_session_records_a_cancelling_exception(make_series):
    series = make_series(weekdays=(0,), first_date=MONDAY)
    generate()
    occurrence = find_occurrence(series.id, MONDAY)
    reschedule(occurrence, start=time(12), end=time(13))  # a move, replaced by the cancellation
    outcome = cancel_session(fresh(occurrence.id), reason="Strike", actor=None, tz=PARIS)
    db.session.commit()
    override = db.session.scalar(select(DateOverride))
    assert outcome.override.id == override.id
    assert override.cancelled and override.notes == "Strike" and override.start_time is None
    saved = fresh(occurrence.id)
    assert saved.status == OccurrenceStatus.CANCELLED and cancellation_reason(saved) == "Strike"
    assert saved.cancel_reason is None  # the exception holds a series session's reason
    summary = generate(force=True)
    assert summary.unchanged == 2
    assert fresh(occurrence.id).status == OccurrenceStatus.CANCELLED


def test_restoring_a_one_time_session(make_group):
    occurrence = create(make_group()).occurrence
    cancel_session(occurrence, reason="Trip", actor=None, tz=PARIS)
    db.session.commit()
    restore_session(fresh(occurrence.id), actor=None, tz=PARIS)
    db.session.commit()
    saved = fresh(occurrence.id)
    assert saved.status == OccurrenceStatus.SCHEDULED
    assert saved.cancel_reason is None and saved.sequence == 2


def test_restoring_into_a_slot_taken_meanwhile_is_refused(make_group, make_room):
    room = make_room("Lab 1")
    occurrence = create(make_group("Maths 7A", room=room)).occurrence
    cancel_session(occurrence, reason="Trip", actor=None, tz=PARIS)
    db.session.commit()
    create(make_group("Physics 8B", room=room))
    error = refused(ConflictError, restore_session, fresh(occurrence.id), actor=None, tz=PARIS)
    assert "Lab 1 (room) is already booked by Physics 8B" in error.message
    assert fresh(occurrence.id).status == OccurrenceStatus.CANCELLED


def test_restoring_a_series_session_removes_its_cancelling_exception(make_series):
    series = make_series(weekdays=(0,), first_date=MONDAY)
    generate()
    occurrence = find_occurrence(series.id, MONDAY)
    cancel_session(occurrence, reason="Strike", actor=None, tz=PARIS)
    db.session.commit()
    restore_session(fresh(occurrence.id), actor=None, tz=PARIS)
    db.session.commit()
    assert override_count() == 0
    saved = fresh(occurrence.id)
    assert saved.status == OccurrenceStatus.SCHEDULED and local(saved)[1] == time(10)


def test_restoring_a_session_that_is_not_cancelled_is_refused(make_group):
    occurrence = create(make_group()).occurrence
    error = refused(InvalidTransition, restore_session, occurrence, actor=None, tz=PARIS)
    assert error.message == "This session is not cancelled."


# --- Delete -------------------------------------------------------------------------------------


def test_deleting_a_one_time_session(make_group):
    occurrence = create(make_group()).occurrence
    other = create(make_group(), start=time(12), end=time(13)).occurrence
    cancel_session(other, reason="Not needed", actor=None, tz=PARIS)
    delete_one_time_session(occurrence, actor=None, tz=PARIS)
    delete_one_time_session(other, actor=None, tz=PARIS)  # a cancelled one-time session may go too
    db.session.commit()
    assert occurrence_count() == 0


def test_a_series_or_completed_session_cannot_be_deleted(make_group, make_series):
    series = make_series(weekdays=(0,), first_date=MONDAY)
    generate(weeks=1)
    error = refused(
        InvalidTransition,
        delete_one_time_session,
        find_occurrence(series.id, MONDAY),
        actor=None,
        tz=PARIS,
    )
    assert "cancel its date instead" in error.message
    done = create(make_group(), start=time(12), end=time(13)).occurrence
    done.status = OccurrenceStatus.COMPLETED
    db.session.commit()
    error = refused(
        InvalidTransition, delete_one_time_session, fresh(done.id), actor=None, tz=PARIS
    )
    assert "completed" in error.message
    assert occurrence_count() == 2


# --- Visibility ---------------------------------------------------------------------------------


def test_who_may_see_a_session(make_user, make_group):
    mentor, other_mentor = make_user("mentor"), make_user("mentor")
    student, other_student = make_user("student"), make_user("student")
    group = make_group(mentor=mentor, students=[student])
    occurrence = create(group).occurrence
    for role in ("admin", "coordinator"):
        assert can_view_session(make_user(role), occurrence)
    assert can_view_session(mentor, occurrence) and can_view_session(student, occurrence)
    assert not can_view_session(other_mentor, occurrence)
    assert not can_view_session(other_student, occurrence)
    assert not can_view_session(None, occurrence)
    assert get_visible_session(student, occurrence.id).id == occurrence.id
    with pytest.raises(NotFoundError):
        get_visible_session(other_student, occurrence.id)
    for bad in (0, -1, 2**63, 999_999):
        with pytest.raises(NotFoundError):
            get_visible_session(mentor, bad)
    # Enrolment is what counts: once removed, the student no longer sees the group's sessions.
    db.session.execute(Enrolment.__table__.delete())
    db.session.commit()
    assert not can_view_session(student, occurrence)


def test_the_visible_sessions_query_filters_rows(make_user, make_group):
    student = make_user("student")
    mine = create(make_group(students=[student])).occurrence
    create(make_group(), start=time(12), end=time(13))
    assert [o.id for o in db.session.scalars(visible_sessions(student)).unique()] == [mine.id]
    assert len(db.session.scalars(visible_sessions(None)).unique().all()) == 2


# --- Conflicts and exceptions, as shown on the session page -------------------------------------


def test_session_conflicts_name_the_other_session_and_what_they_share(
    make_user, make_group, make_room
):
    room = make_room("Lab 1")
    student = make_user("student", name="Noah Bernard")
    maths = create(make_group("Maths 7A", room=room, students=[student])).occurrence
    # Sessions created before the interactive checks (an import, a generation) may clash.
    physics = Occurrence(
        group_id=make_group("Physics 8B", room=room, students=[student]).id,
        start_utc=at(MONDAY, time(10, 30)), end_utc=at(MONDAY, time(11, 30)), room_id=room.id,
    )  # fmt: skip
    db.session.add(physics)
    db.session.commit()
    conflicts = session_conflicts(fresh(maths.id), PARIS)
    assert sorted((c.kind, tuple(c.shared)) for c in conflicts) == [
        ("room", ("Lab 1",)),
        ("student", ("Noah Bernard",)),
    ]
    assert {c.other["group"] for c in conflicts} == {"Physics 8B"}
    assert conflicts[0].other["start"] == "10:30"
    cancel_session(fresh(physics.id), reason="Trip", actor=None, tz=PARIS)
    db.session.commit()
    assert session_conflicts(fresh(maths.id), PARIS) == []


def test_exception_of_a_session(make_group, make_series):
    series = make_series(weekdays=(0,), first_date=MONDAY)
    generate(weeks=1)
    occurrence = find_occurrence(series.id, MONDAY)
    assert exception_of(occurrence) is None
    saved, _ = save_override(
        series, MONDAY, OverrideChange(start_time=time(8), end_time=time(9)), actor=None, tz=PARIS
    )
    db.session.commit()
    assert exception_of(fresh(occurrence.id)).id == saved.id
    assert exception_of(create(make_group()).occurrence) is None


# --- Two writers at once ------------------------------------------------------------------------


def test_two_bookings_of_the_same_slot_at_once_only_one_succeeds(app, make_group, make_room):
    room = make_room("Hall")
    group_ids = [make_group(room=room).id, make_group(room=room).id]
    room_id = room.id
    db.session.remove()

    def book(group_id):
        def job():
            return create_one_time_session(
                group_id=group_id, day=MONDAY, start=time(9), end=time(10), room_id=room_id,
                actor=None, tz=PARIS,
            )  # fmt: skip

        return job

    results = run_together(app, *(book(g) for g in group_ids))
    assert sum(isinstance(r, ConflictError) for r in results) == 1, results
    assert occurrence_count() == 1


def test_a_restore_and_a_booking_of_the_same_slot_at_once_only_one_succeeds(
    app, make_group, make_room
):
    room = make_room("Hall")
    cancelled = create(make_group(room=room), start=time(9), end=time(10)).occurrence
    cancel_session(cancelled, reason="Trip", actor=None, tz=PARIS)
    db.session.commit()
    cancelled_id, other_group_id, room_id = cancelled.id, make_group(room=room).id, room.id
    db.session.remove()

    def restore():
        return restore_session(db.session.get(Occurrence, cancelled_id), actor=None, tz=PARIS)

    def book():
        return create_one_time_session(
            group_id=other_group_id, day=MONDAY, start=time(9, 30), end=time(10, 30),
            room_id=room_id, actor=None, tz=PARIS,
        )  # fmt: skip

    results = run_together(app, restore, book)
    assert sum(isinstance(r, ConflictError) for r in results) == 1, results
    live = db.session.scalar(
        select(func.count(Occurrence.id)).where(Occurrence.status == OccurrenceStatus.SCHEDULED)
    )
    assert live == 1


def test_acting_on_a_session_deleted_meanwhile_is_not_found(make_group):
    occurrence = create(make_group()).occurrence
    stale = fresh(occurrence.id)
    # Another request deletes it (a plain statement: this session's object stays as loaded).
    db.session.execute(Occurrence.__table__.delete().where(Occurrence.id == stale.id))
    with pytest.raises(NotFoundError):
        cancel_session(stale, reason="Trip", actor=None, tz=PARIS)
    db.session.rollback()


# --- Sessions past midnight ---------------------------------------------------------------------

LATE_DAY = date(2027, 1, 15)  # a Friday; `today` is passed, so the wall clock never matters
SANTIAGO = ZoneInfo("America/Santiago")  # its clocks change at midnight


def create_late(group, start=time(23, 30), end=time(0, 30), day=LATE_DAY, tz=PARIS, **kwargs):
    kwargs.setdefault("room_id", group.default_room_id)
    outcome = create_one_time_session(
        group_id=group.id, day=day, start=start, end=end, actor=None, tz=tz,
        today=day - timedelta(days=7), **kwargs,
    )  # fmt: skip
    db.session.commit()
    return outcome


def test_a_late_session_ends_the_next_day(make_group):
    outcome = create_late(make_group(), mode="online", room_id=None)
    saved = db.session.get(Occurrence, outcome.occurrence.id)
    assert (saved.start_utc, saved.end_utc) == (
        at(LATE_DAY, time(23, 30)),
        at(LATE_DAY + timedelta(days=1), time(0, 30)),
    )
    assert outcome.adjustments == []


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (time(17), time(9), "The end (09:00) must be after the start (17:00), or at most "
         "12 hours later on the next day."),
        (time(23, 30), time(23, 30), "The end (23:30) must be after the start (23:30)."),
    ],
)  # fmt: skip
def test_an_end_too_early_for_a_night_session_is_still_refused(make_group, start, end, message):
    with pytest.raises(ValidationError) as error:
        create_late(make_group(), start=start, end=end)
    assert error.value.errors["end"] == message
    db.session.rollback()
    assert occurrence_count() == 0


def test_twelve_hours_past_midnight_is_the_longest(make_group):
    outcome = create_late(make_group(), start=time(20), end=time(8))
    occurrence = outcome.occurrence
    assert occurrence.end_utc - occurrence.start_utc == timedelta(hours=12)


def test_conflicts_across_midnight_are_found_half_open(make_group, make_room):
    room = make_room("Studio")
    create_late(make_group("Late owls", room=room))
    after_midnight = make_group("Early birds", room=room)
    with pytest.raises(ConflictError) as clash:
        create_late(after_midnight, start=time(0), end=time(1), day=LATE_DAY + timedelta(days=1))
    assert "Late owls" in clash.value.message and "23:30-00:30 (+1 day)" in clash.value.message
    db.session.rollback()
    # Back to back is no clash: the late session ends at 00:30, the next one starts then.
    create_late(after_midnight, start=time(0, 30), end=time(1, 30), day=LATE_DAY + timedelta(1))
    assert occurrence_count() == 2


def test_moving_a_series_date_to_a_late_slot(make_series):
    series = make_series(weekdays=(4,), first_date=LATE_DAY)
    generate_occurrences(LATE_DAY, LATE_DAY + timedelta(days=7), tz=PARIS,
                         now=at(LATE_DAY - timedelta(days=7), time(12)))  # fmt: skip
    db.session.commit()
    occurrence = find_occurrence(series.id, LATE_DAY)
    reschedule_session(occurrence, day=LATE_DAY, start=time(23, 30), end=time(0, 30),
                       room_id=None, actor=None, tz=PARIS, today=LATE_DAY)  # fmt: skip
    db.session.commit()
    moved = find_occurrence(series.id, LATE_DAY)
    assert (moved.start_utc, moved.end_utc) == (
        at(LATE_DAY, time(23, 30)),
        at(LATE_DAY + timedelta(days=1), time(0, 30)),
    )


def test_a_late_session_on_the_night_clocks_go_forward_at_midnight(make_group):
    # Santiago: Sat 05 Sep 2026 23:59:59 is followed by Sun 06 Sep 01:00.
    saturday = date(2026, 9, 5)
    outcome = create_late(make_group(), day=saturday, tz=SANTIAGO)
    occurrence = outcome.occurrence
    assert occurrence.start_utc == datetime(2026, 9, 6, 3, 30, tzinfo=UTC)  # 23:30 -04
    assert occurrence.end_utc == datetime(2026, 9, 6, 4, 30, tzinfo=UTC)  # 01:30 -03: an hour
    assert outcome.adjustments == [
        "00:30 does not exist on Sun 06 Sep 2026 (clocks go forward): the session runs "
        "23:30-01:30 (+1 day)."
    ]


def test_a_late_session_on_the_night_clocks_go_back_at_midnight(make_group):
    # Santiago: Sun 04 Apr 2027 00:00 -03 is Sat 03 Apr 23:00 -04: 23:30 happens twice.
    saturday = date(2027, 4, 3)
    occurrence = create_late(make_group(), day=saturday, tz=SANTIAGO).occurrence
    assert occurrence.start_utc == datetime(2027, 4, 4, 2, 30, tzinfo=UTC)  # the first 23:30
    assert occurrence.end_utc == datetime(2027, 4, 4, 4, 30, tzinfo=UTC)


def test_one_time_session_cancelled_restored_and_moved_is_told_in_local_time(auckland_term):
    occurrence, tuesday, noah = (
        auckland_term["one_time"],
        auckland_term["tuesday"],
        auckland_term["noah"],
    )
    cancel_session(occurrence, reason="Ill", actor=None, tz=AKL)
    restore_session(occurrence, actor=None, tz=AKL)
    wednesday = tuesday + timedelta(days=1)
    update_one_time_session(
        occurrence, day=wednesday, start=time(7, 30), end=time(8, 30),
        room_id=auckland_term["room"].id, mode=occurrence.mode, title=None, actor=None, tz=AKL,
    )  # fmt: skip
    db.session.commit()
    assert occurrence.start_utc == auckland_at(wednesday, time(7, 30))
    was = f"Maths 7A on {tuesday:%a %d %b} 08:00"
    expected = [
        f"{was} is cancelled",
        f"{was} takes place again",
        f"{was} moves to {wednesday:%a %d %b} 07:30",  # same room: not repeated
    ]
    assert titles(noah) == expected
    history = db.session.scalars(
        select(SessionEvent.summary)
        .where(SessionEvent.occurrence_id == occurrence.id)
        .order_by(SessionEvent.id)
    ).all()
    assert history == [f"{expected[0]}: Ill", *expected[1:]]
