"""The stored clashes (session_clash) stay equal to a from-scratch computation whatever is
changed, by the ORM or by generation's bulk writes, and pages read them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from models import (
    CourseGroup,
    Enrolment,
    Occurrence,
    OccurrenceStatus,
    Room,
    Series,
    Subject,
    User,
    db,
)
from models.series import weekdays_to_mask
from models.user import Role
from services.common.errors import ConflictError, ValidationError
from services.timetable.clashes import (
    computed_clashes,
    conflicts_of,
    sessions_in_conflict,
    stored_clashes,
)
from services.timetable.conflicts import conflicts_in_window
from services.timetable.exceptions import OverrideChange, save_override
from services.timetable.generation import generate_occurrences
from services.timetable.timetable_import import import_timetable

TZ = ZoneInfo("Europe/Paris")
TERM = date(2026, 10, 19)  # a Monday; three weeks reach over the DST change of 25 October
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


def _reset():
    db.session.rollback()
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(sa.delete(table))
    db.session.commit()


def build_school():
    """Three groups (two with one mentor), two rooms, four students, a series each; the
    series all on Monday and Wednesday mornings, so moves make and break clashes."""
    subject = Subject(name="S")
    mentors = [User(email=f"m{i}@x.test", name=f"M{i}", role=Role.MENTOR) for i in range(2)]
    students = [User(email=f"s{i}@x.test", name=f"S{i}", role=Role.STUDENT) for i in range(4)]
    rooms = [Room(name="R0"), Room(name="R1")]
    db.session.add_all([subject, *mentors, *students, *rooms])
    db.session.flush()
    groups = []
    for i, mentor in enumerate([mentors[0], mentors[0], mentors[1]]):
        group = CourseGroup(name=f"G{i}", subject_id=subject.id, mentor_id=mentor.id)
        db.session.add(group)
        db.session.flush()
        groups.append(group)
        db.session.add(
            Series(
                group_id=group.id,
                weekday_mask=weekdays_to_mask([0, 2]),
                every_weeks=1,
                start_time=time(9 + i),
                end_time=time(10 + i, 30),
                room_id=rooms[i % 2].id,
                first_date=TERM,
                last_date=None,
            )
        )
    for student, group_ids in zip(students, [(0, 1), (1, 2), (0, 2), (2,)], strict=True):
        db.session.add_all(
            Enrolment(group_id=groups[g].id, student_id=student.id) for g in group_ids
        )
    db.session.commit()
    return groups, mentors, students, rooms


def generate_term(window_days=None, force=False):
    generate_occurrences(
        TERM, TERM + timedelta(weeks=3), tz=TZ, now=LONG_AGO, force=force, window_days=window_days
    )
    db.session.commit()


def _pick(items, n):
    return items[n % len(items)] if items else None


operations = st.lists(
    st.one_of(
        st.tuples(st.just("move"), st.integers(0, 99), st.integers(-180, 180)),
        st.tuples(st.just("room"), st.integers(0, 99), st.integers(0, 2)),
        st.tuples(st.just("cancel"), st.integers(0, 99)),
        st.tuples(st.just("delete"), st.integers(0, 99)),
        st.tuples(st.just("enrol"), st.integers(0, 3), st.integers(0, 2)),
        st.tuples(st.just("mentor"), st.integers(0, 2), st.integers(0, 1)),
        st.tuples(st.just("cover"), st.integers(0, 99), st.integers(0, 2)),
        st.tuples(st.just("one_time"), st.integers(0, 2), st.integers(0, 20), st.integers(7, 23)),
        st.tuples(st.just("series_time"), st.integers(0, 2), st.integers(7, 12)),
        st.tuples(st.just("exception"), st.integers(0, 2), st.integers(0, 20), st.integers(-9, 9)),
        st.tuples(st.just("generate"), st.sampled_from([None, 7]), st.booleans()),
    ),
    min_size=1,
    max_size=8,
)


def _apply(op, groups, mentors, students, rooms) -> None:
    kind, *args = op
    sessions = list(db.session.scalars(select(Occurrence).order_by(Occurrence.id)))
    if kind == "move" and (session := _pick(sessions, args[0])):
        shift = timedelta(minutes=args[1])
        session.start_utc, session.end_utc = session.start_utc + shift, session.end_utc + shift
    elif kind == "room" and (session := _pick(sessions, args[0])):
        session.room_id = rooms[args[1]].id if args[1] < len(rooms) else None
    elif kind == "cancel" and (session := _pick(sessions, args[0])):
        session.status = (
            OccurrenceStatus.SCHEDULED if session.is_cancelled else OccurrenceStatus.CANCELLED
        )
    elif kind == "delete" and (session := _pick(sessions, args[0])):
        db.session.delete(session)
    elif kind == "enrol":
        student, group = students[args[0]], groups[args[1]]
        found = db.session.scalar(
            select(Enrolment).filter_by(group_id=group.id, student_id=student.id)
        )
        if found:
            db.session.delete(found)
        else:
            db.session.add(Enrolment(group_id=group.id, student_id=student.id))
    elif kind == "mentor":
        groups[args[0]].mentor_id = mentors[args[1]].id
    elif kind == "cover" and (session := _pick(sessions, args[0])):
        # A substitute for one session (or none: its group's mentor again).
        session.cover_mentor_id = mentors[args[1]].id if args[1] < len(mentors) else None
    elif kind == "one_time":
        start = datetime.combine(TERM + timedelta(days=args[1]), time(args[2]), TZ)
        db.session.add(
            Occurrence(
                group_id=groups[args[0]].id,
                start_utc=start,
                end_utc=start + timedelta(minutes=90),
                room_id=rooms[0].id,
            )
        )
    elif kind == "series_time":
        series = groups[args[0]].series[0]
        series.start_time, series.end_time = time(args[1]), time(args[1] + 1, 15)
    elif kind == "exception":
        # Moves a series date by some days, maybe out of the generated weeks.
        series = groups[args[0]].series[0]
        day = TERM + timedelta(days=args[1])
        if series.weekday_mask & weekdays_to_mask([day.weekday()]):
            change = OverrideChange(new_date=day + timedelta(days=args[2]))
            try:
                save_override(series, day, change, actor=None, tz=TZ)
            except (ConflictError, ValidationError):  # refused: nothing changes
                db.session.rollback()
    elif kind == "generate":
        generate_term(window_days=args[0], force=args[1])
    db.session.commit()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=operations, first_window=st.sampled_from([None, 7]))
def test_stored_clashes_equal_a_fresh_computation_after_any_changes(app, ops, first_window):
    _reset()
    school = build_school()
    generate_term(window_days=first_window)
    assert stored_clashes() == computed_clashes() != set()
    for op in ops:
        _apply(op, *school)
        assert stored_clashes() == computed_clashes(), op


def test_a_dry_run_stores_nothing_and_a_rolled_back_change_leaves_the_clashes(app):
    _reset()
    build_school()
    generate_occurrences(TERM, TERM + timedelta(weeks=1), tz=TZ, now=LONG_AGO, dry_run=True)
    db.session.commit()
    assert stored_clashes() == set()
    generate_term()
    before = stored_clashes()
    db.session.delete(db.session.scalars(select(Enrolment)).first())
    db.session.flush()
    assert stored_clashes() != before  # kept within the transaction...
    db.session.rollback()
    assert stored_clashes() == before  # ...and undone with it


def test_importing_students_into_a_group_with_sessions_stores_their_clashes(app):
    _reset()
    groups, mentors, students, _ = build_school()
    generate_term()
    for enrolment in db.session.scalars(select(Enrolment).filter_by(group_id=groups[1].id)):
        db.session.delete(enrolment)
    db.session.commit()
    # G1 (10:00-11:30) overlaps G2 (11:00-12:30); nobody attends G1 now.
    first_of = {
        g.id: db.session.scalar(
            select(Occurrence.id).filter_by(group_id=g.id).order_by(Occurrence.start_utc)
        )
        for g in groups
    }
    clash = (first_of[groups[1].id], first_of[groups[2].id], "student")
    assert clash not in stored_clashes()
    header = "group,subject,mentor_email,room,weekdays,start,end,first_date,last_date,students"
    # The series as it is, with S1, who attends G2 too (a bulk insert of enrolments).
    row = f"G1,S,{mentors[0].email},R1,Mon;Wed,10:00,11:30,{TERM},,{students[1].email}"
    import_timetable(f"{header}\n{row}\n", tz=TZ, today=TERM - timedelta(days=7))
    db.session.commit()
    back = (clash[1], clash[0], "student")
    assert clash in stored_clashes() and back in stored_clashes()
    assert sessions_in_conflict([clash[0]]) == {clash[0]}


def test_a_session_generated_outside_the_run_by_its_exception_gets_its_clashes(app):
    _reset()
    groups, *_ = build_school()
    series = groups[0].series[0]
    # G0's first Monday moved to a Monday two weeks on, where G2's one-time session is.
    later = TERM + timedelta(weeks=2)
    save_override(series, TERM, OverrideChange(new_date=later), actor=None, tz=TZ)
    start = datetime.combine(later, time(9, 30), TZ)
    one_time = Occurrence(
        group_id=groups[2].id, start_utc=start, end_utc=start + timedelta(hours=1)
    )
    db.session.add(one_time)
    db.session.commit()
    # A run over the first week writes the moved session outside its own span.
    generate_occurrences(TERM, TERM + timedelta(weeks=1), tz=TZ, now=LONG_AGO)
    db.session.commit()
    moved = db.session.scalar(
        select(Occurrence.id).filter_by(series_id=series.id, original_date=TERM)
    )
    assert (moved, one_time.id, "student") in stored_clashes()
    assert stored_clashes() == computed_clashes()


def test_a_sessions_clashes_name_what_a_fresh_computation_names(app):
    groups, _, _, rooms = build_school()
    generate_term()
    start = datetime.combine(TERM, time(10), TZ)  # G1's first session's room and time
    db.session.add(
        Occurrence(
            group_id=groups[2].id,
            start_utc=start,
            end_utc=start + timedelta(minutes=30),
            room_id=rooms[1].id,
        )
    )
    db.session.flush()
    everything = conflicts_in_window(
        datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    )
    assert {c.kind for c in everything} == {"room", "mentor", "student"}
    for session in db.session.scalars(select(Occurrence)):
        expected = [
            (c.kind, c.first_id, c.second_id, sorted(c.shared))
            for c in everything
            if session.id in (c.first_id, c.second_id)
        ]
        found = [(c.kind, c.first_id, c.second_id, c.shared) for c in conflicts_of(session)]
        assert found == expected, session


def test_sessions_loaded_before_a_forced_run_read_what_it_wrote(app):
    groups, *_ = build_school()
    generate_term()
    loaded = db.session.scalars(select(Occurrence).filter_by(group_id=groups[0].id)).first()
    series = groups[0].series[0]
    series.start_time, series.end_time = time(14), time(15)
    generate_occurrences(TERM, TERM + timedelta(weeks=3), tz=TZ, now=LONG_AGO, force=True)
    # Written in bulk, in the same transaction: the object already loaded is not stale.
    assert loaded.start_utc.astimezone(TZ).time() == time(14)
    db.session.commit()
