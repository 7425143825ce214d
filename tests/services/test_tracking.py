"""Completing sessions and correcting completions: every rule, the generated codes, the
audit trail, monitoring queries, and two completions at once."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from models import Occurrence, OccurrenceStatus, SessionEvent, db
from services.common.errors import InvalidTransition, NotAllowed, ValidationError
from services.tracking import completion as tracking
from services.tracking.completion import (
    MonitorFilters,
    complete_session,
    correct_completion,
    events,
    find_by_code,
    group_code,
    monitored_sessions,
    overdue_sessions,
)
from tests.services.test_concurrency import run_together

PARIS = ZoneInfo("Europe/Paris")
DAY = date(2026, 9, 7)


def at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=PARIS).astimezone(UTC)


AFTER = at(DAY, time(11, 30))


def session_of(group, day=DAY, start=time(10), end=time(11), **kwargs) -> Occurrence:
    occurrence = Occurrence(
        group_id=group.id,
        start_utc=at(day, start),
        end_utc=at(day, end),
        room_id=group.default_room_id,
        **kwargs,
    )
    db.session.add(occurrence)
    db.session.commit()
    return occurrence


def fresh(occurrence_id: int) -> Occurrence:
    db.session.expire_all()
    return db.session.get(Occurrence, occurrence_id)


def complete(occurrence, actor, *, start=time(10, 5), end=time(11), now=AFTER, **kwargs):
    done = complete_session(
        occurrence, actual_start=start, actual_end=end, actor=actor, tz=PARIS, now=now, **kwargs
    )
    db.session.commit()
    return done


def events_of(occurrence_id: int) -> list[SessionEvent]:
    return list(
        db.session.scalars(
            select(SessionEvent)
            .where(SessionEvent.occurrence_id == occurrence_id)
            .order_by(SessionEvent.id)
        )
    )


@pytest.fixture
def maths(make_user, make_group):
    mentor = make_user("mentor", name="Ms Curie")
    student = make_user("student", name="Noah Bernard")
    group = make_group("Math 101", mentor=mentor, students=[student])
    return {"mentor": mentor, "student": student, "group": group, "session": session_of(group)}


# --- Completing ---------------------------------------------------------------------------------


def test_the_mentor_completes_with_actual_times_and_a_generated_code(maths, monkeypatch):
    monkeypatch.setattr(tracking, "_random_suffix", lambda: "7QX")
    occurrence = complete(maths["session"], maths["mentor"], notes="  Fractions, ch. 3  ")
    saved = fresh(occurrence.id)
    assert saved.status == OccurrenceStatus.COMPLETED
    assert saved.completion_code == "MATH101-20260907-7QX"
    assert (saved.actual_start_utc, saved.actual_end_utc) == (
        at(DAY, time(10, 5)),
        at(DAY, time(11)),
    )
    assert saved.completion_notes == "Fractions, ch. 3"
    assert (saved.completed_by_id, saved.completed_at) == (maths["mentor"].id, AFTER)
    [event] = events_of(saved.id)
    assert (event.kind, event.actor_id) == (events.COMPLETED, maths["mentor"].id)
    assert "10:05-11:00" in event.summary and "MATH101-20260907-7QX" in event.summary


def test_generated_codes_are_readable_and_unambiguous(maths):
    code = complete(maths["session"], maths["mentor"]).completion_code
    prefix, day, suffix = code.split("-")
    assert (prefix, day) == ("MATH101", "20260907")
    assert len(suffix) == 3 and set(suffix) <= set(tracking.CODE_ALPHABET)
    assert not set("0O1IL") & set(tracking.CODE_ALPHABET)


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Math 101", "MATH101"),
        ("Physique-Chimie 2nde (groupe B)", "PHYSIQUECH"),
        ("Été 7ᵉ", "T7"),
        ("——", "SESSION"),
        ("=cmd|' /C calc'!A0", "CMDCCALCA0"),
    ],
)
def test_group_codes_keep_ascii_letters_and_digits_up_to_ten(name, code):
    assert group_code(name) == code


def test_the_code_is_dated_by_the_local_date_not_the_utc_one(make_group, make_user):
    group = make_group("Late")
    # 00:30 in Paris is the previous day in UTC.
    occurrence = session_of(group, start=time(0, 30), end=time(1, 30))
    code = complete(occurrence, group.mentor, start=time(0, 30), end=time(1, 30)).completion_code
    assert code.startswith("LATE-20260907-")


def test_a_collision_of_generated_codes_draws_again(maths, monkeypatch):
    other = session_of(maths["group"], start=time(14), end=time(15))
    draws = iter(["7QX", "7QX", "ABC"])
    monkeypatch.setattr(tracking, "_random_suffix", lambda: next(draws))
    complete(maths["session"], maths["mentor"])
    second = complete(other, maths["mentor"], start=time(14), end=time(15), now=at(DAY, time(16)))
    assert fresh(maths["session"].id).completion_code == "MATH101-20260907-7QX"
    assert fresh(second.id).completion_code == "MATH101-20260907-ABC"
    assert fresh(second.id).status == OccurrenceStatus.COMPLETED


def test_a_typed_code_is_kept_upper_case(maths):
    occurrence = complete(maths["session"], maths["mentor"], code="  club-day-1 ")
    assert fresh(occurrence.id).completion_code == "CLUB-DAY-1"


@pytest.mark.parametrize("code", ["ab", "x" * 41, "with space", "semi;colon", "émoji", "a_b"])
def test_a_badly_typed_code_is_refused(maths, code):
    with pytest.raises(ValidationError) as err:
        complete(maths["session"], maths["mentor"], code=code)
    assert "letters, digits and dashes" in err.value.errors["code"]
    db.session.rollback()
    assert fresh(maths["session"].id).status == OccurrenceStatus.SCHEDULED


def test_a_taken_code_is_refused_ignoring_case(maths):
    other = session_of(maths["group"], start=time(14), end=time(15))
    complete(maths["session"], maths["mentor"], code="CLUB-1")
    with pytest.raises(ValidationError) as err:
        complete(other, maths["mentor"], code="club-1", start=time(14), end=time(15),
                 now=at(DAY, time(16)))  # fmt: skip
    assert err.value.errors["code"] == (
        "The code CLUB-1 is already used by another session: type another, or leave it blank "
        "for a generated one."
    )
    db.session.rollback()
    assert fresh(other.id).completion_code is None


@pytest.mark.parametrize(
    ("start", "end", "hint"),
    [
        (time(11), time(11), ""),
        (time(11), time(10), ", or at most 12 hours later on the next day"),
        (time(10), time(9, 59), ", or at most 12 hours later on the next day"),
    ],
)
def test_the_actual_end_must_be_after_the_actual_start(maths, start, end, hint):
    with pytest.raises(ValidationError) as err:
        complete(maths["session"], maths["mentor"], start=start, end=end)
    assert err.value.errors["actual_end"] == (
        f"The actual end ({end:%H:%M}) must be after the actual start ({start:%H:%M}){hint}."
    )
    assert fresh(maths["session"].id).status == OccurrenceStatus.SCHEDULED


def test_missing_actual_times_are_named(maths):
    with pytest.raises(ValidationError) as err:
        complete(maths["session"], maths["mentor"], start=None, end=None)
    assert set(err.value.errors) == {"actual_start", "actual_end"}


def test_notes_are_limited(maths):
    with pytest.raises(ValidationError) as err:
        complete(maths["session"], maths["mentor"], notes="x" * 5001)
    assert "5,000" in err.value.errors["notes"]


def test_a_session_is_not_completed_before_it_starts(maths):
    for now in (at(DAY, time(9)), at(DAY, time(9, 59, 59))):
        with pytest.raises(InvalidTransition) as err:
            complete(maths["session"], maths["mentor"], now=now)
        assert "has not started yet" in err.value.message
    # From its start on (an ongoing session), it may be.
    complete(maths["session"], maths["mentor"], now=at(DAY, time(10)))
    assert fresh(maths["session"].id).is_completed


def test_a_cancelled_session_is_not_completed(maths, make_group):
    maths["session"].status = OccurrenceStatus.CANCELLED
    db.session.commit()
    with pytest.raises(InvalidTransition) as err:
        complete(maths["session"], maths["mentor"])
    assert err.value.message == (
        "This session is cancelled: a cancelled session cannot be completed."
    )


def test_completing_twice_is_refused_and_keeps_the_first_record(maths, make_user):
    first = complete(maths["session"], maths["mentor"], code="FIRST")
    with pytest.raises(InvalidTransition) as err:
        complete(first, make_user("coordinator"), code="SECOND", start=time(9))
    assert "already completed" in err.value.message
    db.session.rollback()
    saved = fresh(first.id)
    assert (saved.completion_code, saved.completed_by_id) == ("FIRST", maths["mentor"].id)
    assert len(events_of(saved.id)) == 1


def test_a_stale_copy_is_re_read_before_completing(maths):
    """A second tab still holding the scheduled session: the completion is refused."""
    stale = maths["session"]
    # Another request completed it in between...
    db.session.execute(
        update(Occurrence)
        .where(Occurrence.id == stale.id)
        .values(status="completed", completion_code="OTHER-TAB")
    )
    db.session.commit()
    # ...while this copy still says scheduled.
    set_committed_value(stale, "status", OccurrenceStatus.SCHEDULED)
    set_committed_value(stale, "completion_code", None)
    with pytest.raises(InvalidTransition):
        complete(stale, maths["mentor"], code="MINE")
    db.session.rollback()
    assert fresh(stale.id).completion_code == "OTHER-TAB"


@pytest.mark.parametrize("role", ["student", "other mentor", "enrolled student"])
def test_only_the_mentor_or_staff_may_complete(maths, make_user, role):
    actor = {
        "student": lambda: make_user("student"),
        "other mentor": lambda: make_user("mentor"),
        "enrolled student": lambda: maths["student"],
    }[role]()
    with pytest.raises(NotAllowed):
        complete(maths["session"], actor)
    db.session.rollback()
    assert fresh(maths["session"].id).status == OccurrenceStatus.SCHEDULED


@pytest.mark.parametrize("role", ["coordinator", "admin"])
def test_staff_may_complete(maths, make_user, role):
    actor = make_user(role)
    assert fresh(complete(maths["session"], actor).id).completed_by_id == actor.id


def test_actual_times_in_a_dst_gap_move_forward(make_group):
    group = make_group("Night")
    spring = date(2026, 3, 29)
    occurrence = session_of(group, day=spring, start=time(1), end=time(4))
    done = complete(occurrence, group.mentor, start=time(2, 30), end=time(4),
                    now=at(spring, time(5)))  # fmt: skip
    assert done.actual_start_utc.astimezone(PARIS).time() == time(3, 30)


# --- Correcting ---------------------------------------------------------------------------------


def correct(occurrence, actor, *, start=time(10, 5), end=time(11), **kwargs):
    outcome = correct_completion(
        occurrence, actual_start=start, actual_end=end, actor=actor, tz=PARIS, **kwargs
    )
    db.session.commit()
    return outcome


def test_a_correction_keeps_who_changed_what_and_when(maths, make_user, monkeypatch):
    monkeypatch.setattr(tracking, "_random_suffix", lambda: "7QX")
    complete(maths["session"], maths["mentor"], notes="Fractions")
    coordinator = make_user("coordinator", name="Mr Dean")
    outcome = correct(
        maths["session"], coordinator, start=time(10, 15), end=time(11, 20),
        code="math-fix", notes="Fractions and decimals",
    )  # fmt: skip
    assert outcome.changed
    saved = fresh(maths["session"].id)
    assert (saved.completion_code, saved.completion_notes) == (
        "MATH-FIX",
        "Fractions and decimals",
    )
    # Who completed it stays; the correction is its own entry.
    assert saved.completed_by_id == maths["mentor"].id and saved.completed_at == AFTER
    completed, corrected = events_of(saved.id)
    assert completed.kind == events.COMPLETED
    assert (corrected.kind, corrected.actor_id) == (events.COMPLETION_CORRECTED, coordinator.id)
    assert corrected.summary == (
        "actual start: 10:05 → 10:15; actual end: 11:00 → 11:20; "
        'code: MATH101-20260907-7QX → MATH-FIX; notes: "Fractions" → "Fractions and decimals"'
    )
    assert tracking.completion_history(saved.id) == [completed, corrected]


def test_a_blank_code_keeps_the_current_one_and_nothing_changed_writes_nothing(maths):
    code = complete(maths["session"], maths["mentor"], notes="Same").completion_code
    outcome = correct(maths["session"], maths["mentor"], code="", notes="Same")
    assert not outcome.changed
    assert fresh(maths["session"].id).completion_code == code
    assert len(events_of(maths["session"].id)) == 1


def test_a_correction_only_names_what_changed(maths):
    complete(maths["session"], maths["mentor"])
    outcome = correct(maths["session"], maths["mentor"], end=time(11, 10))
    assert outcome.changes == ["actual end: 11:00 → 11:10"]


def test_a_correction_is_validated_like_a_completion(maths):
    other = session_of(maths["group"], start=time(14), end=time(15))
    complete(other, maths["mentor"], code="TAKEN", start=time(14), end=time(15),
             now=at(DAY, time(16)))  # fmt: skip
    complete(maths["session"], maths["mentor"])
    with pytest.raises(ValidationError) as err:
        correct(maths["session"], maths["mentor"], code="taken", start=time(11), end=time(10))
    assert set(err.value.errors) == {"code", "actual_end"}
    assert "already used" in err.value.errors["code"]


def test_only_a_completed_session_is_corrected_and_only_by_its_mentor_or_staff(maths, make_user):
    with pytest.raises(InvalidTransition) as err:
        correct(maths["session"], maths["mentor"])
    assert err.value.message == "This session is not completed: there is no record to correct."
    db.session.rollback()
    complete(maths["session"], maths["mentor"])
    for actor in (make_user("mentor"), maths["student"]):
        with pytest.raises(NotAllowed):
            correct(maths["session"], actor, end=time(12))
        db.session.rollback()
    assert fresh(maths["session"].id).actual_end_utc == at(DAY, time(11))


# --- Monitoring ---------------------------------------------------------------------------------


def test_overdue_sessions_ended_more_than_a_day_ago_and_not_closed(maths, make_group):
    now = at(DAY + timedelta(days=1), time(11, 30))  # 24 h 30 after the session's end
    group = maths["group"]
    just_ended = session_of(group, day=DAY + timedelta(days=1), start=time(9), end=time(10))
    exactly_a_day = session_of(group, start=time(11, 30), end=time(11, 31))
    cancelled = session_of(group, start=time(8), end=time(9), status=OccurrenceStatus.CANCELLED)
    done = session_of(group, start=time(6), end=time(7))
    complete(done, maths["mentor"], start=time(6), end=time(7))
    other_mentor = session_of(make_group("Art"), start=time(8), end=time(9))
    overdue = list(db.session.scalars(overdue_sessions(MonitorFilters(), PARIS, now=now)))
    assert [o.id for o in overdue] == [other_mentor.id, maths["session"].id]
    assert just_ended not in overdue and exactly_a_day not in overdue and cancelled not in overdue
    mine = MonitorFilters(mentor_id=maths["mentor"].id)
    assert list(db.session.scalars(overdue_sessions(mine, PARIS, now=now))) == [maths["session"]]


def test_the_monitoring_list_filters_by_mentor_group_dates_and_status(maths, make_group):
    art = make_group("Art")
    tuesday = session_of(maths["group"], day=DAY + timedelta(days=1))
    art_session = session_of(art)
    complete(maths["session"], maths["mentor"])
    complete(tuesday, maths["mentor"], now=at(DAY + timedelta(days=1), time(12)))
    complete(art_session, art.mentor)

    def ids(**filters):
        return [
            o.id for o in db.session.scalars(monitored_sessions(MonitorFilters(**filters), PARIS))
        ]

    assert ids() == [tuesday.id, art_session.id, maths["session"].id] or ids() == [
        tuesday.id, maths["session"].id, art_session.id,
    ]  # fmt: skip
    assert ids(mentor_id=art.mentor_id) == [art_session.id]
    assert ids(group_id=maths["group"].id) == [tuesday.id, maths["session"].id]
    assert set(ids(start=DAY, end=DAY)) == {art_session.id, maths["session"].id}
    assert ids(start=DAY + timedelta(days=1)) == [tuesday.id]
    assert ids(status=OccurrenceStatus.SCHEDULED) == []
    assert len(ids(status=None)) == 3


def test_find_by_code_ignores_case_and_spaces(maths):
    code = complete(maths["session"], maths["mentor"]).completion_code
    assert find_by_code(f"  {code.lower()} ") == maths["session"]
    assert find_by_code("NOPE-20260907-AAA") is None
    assert find_by_code("") is None and find_by_code("x" * 500) is None


# --- Two completions at once --------------------------------------------------------------------


def _two_sessions_same_group_and_day(maths):
    other = session_of(maths["group"], start=time(10), end=time(11))
    ids = maths["session"].id, other.id
    mentor_id = maths["mentor"].id
    db.session.remove()
    return ids, mentor_id


def _completion_job(occurrence_id, mentor_id, code=None):
    def job():
        from models import User

        occurrence = db.session.get(Occurrence, occurrence_id)
        actor = db.session.get(User, mentor_id)
        done = complete_session(occurrence, actual_start=time(10), actual_end=time(11),
                                code=code, actor=actor, tz=PARIS, now=AFTER)  # fmt: skip
        return done.completion_code

    return job


def test_two_completions_at_once_drawing_the_same_code_both_succeed(app, maths, monkeypatch):
    """Each thread's first draw is the same: the unique constraint catches it, the savepoint
    lets the loser draw again, and both sessions end up completed with distinct codes."""
    local = threading.local()

    def forced_draw():
        local.draws = getattr(local, "draws", 0) + 1
        return "7QX" if local.draws == 1 else f"A{local.draws}{threading.get_ident() % 7 + 2}"

    monkeypatch.setattr(tracking, "_random_suffix", forced_draw)
    (first, second), mentor_id = _two_sessions_same_group_and_day(maths)
    results = run_together(
        app, _completion_job(first, mentor_id), _completion_job(second, mentor_id)
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    codes = {fresh(first).completion_code, fresh(second).completion_code}
    assert len(codes) == 2 and "MATH101-20260907-7QX" in codes
    assert {fresh(i).status for i in (first, second)} == {OccurrenceStatus.COMPLETED}


def test_two_completions_at_once_typing_the_same_code_one_is_refused(app, maths):
    (first, second), mentor_id = _two_sessions_same_group_and_day(maths)
    results = run_together(
        app,
        _completion_job(first, mentor_id, code="club-1"),
        _completion_job(second, mentor_id, code="CLUB-1"),
    )
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], ValidationError), results
    assert "already used by another session" in errors[0].errors["code"]
    saved = [fresh(first), fresh(second)]
    assert sorted(o.completion_code or "" for o in saved) == ["", "CLUB-1"]
    assert sorted(str(o.status) for o in saved) == ["completed", "scheduled"]


# --- Sessions past midnight ---------------------------------------------------------------------

NEXT = DAY + timedelta(days=1)


def late_session(group, start=time(23, 30), end=time(0, 30), day=DAY) -> Occurrence:
    occurrence = Occurrence(
        group_id=group.id,
        start_utc=at(day, start),
        end_utc=at(day + timedelta(days=1), end),
        room_id=group.default_room_id,
    )
    db.session.add(occurrence)
    db.session.commit()
    return occurrence


def test_an_actual_end_after_midnight_is_the_next_day(maths):
    occurrence = late_session(maths["group"])
    done = complete(occurrence, maths["mentor"], start=time(23, 51), end=time(0, 41),
                    now=at(NEXT, time(1)))  # fmt: skip
    saved = fresh(done.id)
    assert (saved.actual_start_utc, saved.actual_end_utc) == (
        at(DAY, time(23, 51)),
        at(NEXT, time(0, 41)),
    )
    assert saved.status == OccurrenceStatus.COMPLETED
    assert "23:51-00:41 (+1 day)" in events_of(saved.id)[0].summary


def test_a_late_session_begun_after_midnight_began_the_next_day(maths):
    occurrence = late_session(maths["group"])
    done = complete(occurrence, maths["mentor"], start=time(0, 5), end=time(0, 50),
                    now=at(NEXT, time(1)))  # fmt: skip
    assert (done.actual_start_utc, done.actual_end_utc) == (
        at(NEXT, time(0, 5)),
        at(NEXT, time(0, 50)),
    )


def test_a_session_after_midnight_begun_early_began_the_day_before(maths):
    occurrence = session_of(maths["group"], start=time(0, 15), end=time(1, 15))
    done = complete(occurrence, maths["mentor"], start=time(23, 58), end=time(1, 10),
                    now=at(DAY, time(2)))  # fmt: skip
    assert (done.actual_start_utc, done.actual_end_utc) == (
        at(DAY - timedelta(days=1), time(23, 58)),
        at(DAY, time(1, 10)),
    )


def test_an_actual_end_more_than_twelve_hours_later_is_refused(maths):
    occurrence = late_session(maths["group"])
    with pytest.raises(ValidationError) as err:
        complete(occurrence, maths["mentor"], start=time(23, 30), end=time(11, 45),
                 now=at(NEXT, time(12)))  # fmt: skip
    assert err.value.errors["actual_end"] == (
        "The actual end (11:45) must be after the actual start (23:30), or at most 12 hours "
        "later on the next day."
    )
    db.session.rollback()
    assert fresh(occurrence.id).status == OccurrenceStatus.SCHEDULED


def test_a_correction_across_midnight(maths):
    occurrence = late_session(maths["group"])
    complete(
        occurrence, maths["mentor"], start=time(23, 30), end=time(0, 30), now=at(NEXT, time(1))
    )
    outcome = correct(occurrence, maths["mentor"], start=time(23, 45), end=time(0, 55))
    assert outcome.changes[:2] == ["actual start: 23:30 → 23:45", "actual end: 00:30 → 00:55"]
    saved = fresh(occurrence.id)
    assert saved.actual_end_utc == at(NEXT, time(0, 55))


def test_a_completion_across_the_night_clocks_go_forward(make_group):
    # Paris, Sat 27 Mar 2027: 02:00 becomes 03:00 in the night.
    saturday = date(2027, 3, 27)
    group = make_group("Night")
    occurrence = late_session(group, start=time(23), end=time(3, 30), day=saturday)
    done = complete(occurrence, group.mentor, start=time(23), end=time(2, 30),
                    now=at(saturday + timedelta(days=1), time(5)))  # fmt: skip
    # 02:30 does not exist that night: it moves forward to 03:30, 3 1/2 hours after 23:00.
    assert done.actual_end_utc.astimezone(PARIS) == datetime(2027, 3, 28, 3, 30, tzinfo=PARIS)
    assert done.actual_end_utc - done.actual_start_utc == timedelta(hours=3, minutes=30)
