"""Attendance registers: the roster (enrolled by the session's date, marked students kept),
taking it in one call (present by default), corrections kept with who and when, every bad
mark refused with nothing written, who is told, the report's rates and its CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from models import (
    AttendanceChange,
    AttendanceMark,
    Enrolment,
    Notification,
    Occurrence,
    OccurrenceStatus,
    db,
)
from services.common.errors import InvalidTransition, NotAllowed, ValidationError
from services.tracking.attendance import MarkInput, register_section, roster_of, take_register
from services.tracking.attendance_report import (
    ReportFilters,
    attendance_csv,
    attendance_report,
)
from services.tracking.completion import MonitorFilters, sessions_without_register
from tests.conftest import PINNED_NOW

PARIS = ZoneInfo("Europe/Paris")
pytestmark = pytest.mark.usefixtures("clock")


def enrolled_since(group, when: datetime) -> None:
    """Date the group's enrolments back to `when` (they are made at the pinned now)."""
    for enrolment in db.session.scalars(select(Enrolment).where(Enrolment.group_id == group.id)):
        enrolment.created_at = when
    db.session.commit()


@pytest.fixture
def school(make_user, make_group, make_session):
    mentor, other_mentor = make_user("mentor", name="Ada"), make_user("mentor", name="Ben")
    alice, bob, carol = (make_user("student", name=n) for n in ("Alice", "Bob", "Carol"))
    maths = make_group("Maths 7A", mentor=mentor, students=[alice, bob, carol])
    enrolled_since(maths, PINNED_NOW - timedelta(days=60))
    # Yesterday 10:00-11:00 in Paris (the pinned now is Wednesday 10:00 there).
    yesterday = make_session(maths, PINNED_NOW - timedelta(days=1))
    return {
        "mentor": mentor,
        "other_mentor": other_mentor,
        "alice": alice,
        "bob": bob,
        "carol": carol,
        "maths": maths,
        "session": yesterday,
    }


def marks(occurrence) -> dict[int, tuple]:
    db.session.expire_all()
    rows = db.session.scalars(
        select(AttendanceMark).where(AttendanceMark.occurrence_id == occurrence.id)
    )
    return {r.student_id: (str(r.status), r.late_minutes, r.reason) for r in rows}


def told(user) -> list[tuple[str, str]]:
    return [
        (n.title, n.body)
        for n in db.session.scalars(
            select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
        )
    ]


def take(school, given, *, actor=None, all_present=False, now=None):
    outcome = take_register(
        school["session"],
        given,
        actor=actor or school["mentor"],
        tz=PARIS,
        all_present=all_present,
        now=now,
    )
    db.session.commit()
    return outcome


# --- Taking -------------------------------------------------------------------------------------


def test_everyone_is_present_unless_marked_and_the_absent_and_late_are_told(school):
    alice, bob, carol = school["alice"], school["bob"], school["carol"]
    outcome = take(
        school,
        [MarkInput(bob.id, "absent", None, "  no  word "), MarkInput(carol.id, "late", "10")],
    )
    assert (
        outcome.first_taking and outcome.message == "Register taken: 1 present, 1 late, 1 absent."
    )
    assert marks(school["session"]) == {
        alice.id: ("present", None, None),
        bob.id: ("absent", None, "no word"),
        carol.id: ("late", 10, None),
    }
    mark = db.session.scalar(select(AttendanceMark).where(AttendanceMark.student_id == bob.id))
    assert mark.taken_by_id == school["mentor"].id
    assert abs(mark.taken_at - PINNED_NOW) < timedelta(minutes=1)
    assert told(alice) == []
    assert told(bob) == [("Marked absent: Maths 7A, Tue 09 Mar 2027 10:00", "no word")]
    assert told(carol) == [("Marked late (10 min): Maths 7A, Tue 09 Mar 2027 10:00", "")]
    assert outcome.notified == 2


def test_all_present_takes_the_whole_register_in_one_click(school):
    outcome = take(school, [MarkInput(school["bob"].id, "absent")], all_present=True)
    assert set(marks(school["session"]).values()) == {("present", None, None)}
    assert outcome.counts["present"] == 3


def test_a_correction_keeps_who_changed_what_and_when_and_tells_that_student(
    school, make_user, clock
):
    alice, bob = school["alice"], school["bob"]
    take(school, [MarkInput(bob.id, "absent")])
    coordinator = make_user("coordinator", name="Cora")
    later = PINNED_NOW + timedelta(hours=2)
    outcome = take(
        school, [MarkInput(bob.id, "excused", None, "Ill")], actor=coordinator, now=later
    )
    assert not outcome.first_taking and outcome.message == "Register corrected: 1 mark changed."
    # Students left out of a correction keep their mark (Alice stays present).
    assert marks(school["session"])[alice.id] == ("present", None, None)
    change = db.session.scalar(select(AttendanceChange))
    assert (change.student_id, change.changed_by_id, change.changed_at) == (
        bob.id,
        coordinator.id,
        later,
    )
    assert (str(change.old_status), str(change.new_status), change.new_reason) == (
        "absent",
        "excused",
        "Ill",
    )
    mark = db.session.scalar(select(AttendanceMark).where(AttendanceMark.student_id == bob.id))
    assert mark.taken_by_id == school["mentor"].id and mark.updated_by_id == coordinator.id
    assert told(bob)[-1] == (
        "Attendance corrected: Maths 7A, Tue 09 Mar 2027 10:00",
        "Absent → Excused: Ill",
    )
    section = register_section(coordinator, school["session"], tz=PARIS)
    assert [(r.before, r.after) for r in section.changes] == [("Absent", "Excused: Ill")]
    assert section.taken_by.id == school["mentor"].id


def test_the_same_register_again_changes_nothing(school):
    given = [MarkInput(school["bob"].id, "late", 5)]
    take(school, given)
    outcome = take(school, given)
    assert outcome.changes == [] and outcome.message.startswith("Nothing to correct")
    assert db.session.scalar(select(func.count(AttendanceChange.id))) == 0


@pytest.mark.parametrize(
    ("mark", "field", "message"),
    [
        (("late", "abc", None), "late", "whole number"),
        (("late", "3.5", None), "late", "whole number"),
        (("late", 3.5, None), "late", "whole number"),
        (("late", True, None), "late", "whole number"),
        (("late", "-5", None), "late", "not a negative number"),
        (("late", "0", None), "late", "1 to 60"),
        (("late", "61", None), "late", "the session lasts 60 minutes"),
        (("late", "9" * 40, None), "late", "whole number"),
        (("late", "", None), "late", "how many minutes"),
        (("late", None, None), "late", "how many minutes"),
        (("excused", None, "   "), "reason", "Say why"),
        (("absent", None, "x" * 201), "reason", "at most 200"),
        (("sick", None, None), "status", "Choose present"),
        ((None, None, None), "status", "Choose present"),
    ],
)
def test_a_bad_mark_is_refused_next_to_its_field_and_nothing_is_written(
    school, mark, field, message
):
    bob = school["bob"]
    given = [MarkInput(school["alice"].id, "absent"), MarkInput(bob.id, *mark)]
    with pytest.raises(ValidationError) as refused:
        take(school, given)
    db.session.rollback()
    assert message in refused.value.errors[f"{field}-{bob.id}"]
    assert marks(school["session"]) == {}
    assert db.session.scalar(select(func.count(Notification.id))) == 0


def test_a_student_not_on_the_register_is_refused(school, make_user):
    stranger = make_user("student", name="Zed")
    with pytest.raises(ValidationError) as refused:
        take(school, [MarkInput(stranger.id, "absent"), MarkInput(99_999_999, "present")])
    db.session.rollback()
    assert f"student {stranger.id}, 99999999" in refused.value.errors["__all__"]
    assert marks(school["session"]) == {}


def test_late_minutes_up_to_the_whole_session_are_accepted(school):
    take(school, [MarkInput(school["bob"].id, "late", 60)])
    assert marks(school["session"])[school["bob"].id] == ("late", 60, None)


# --- When and who -------------------------------------------------------------------------------


def test_a_cancelled_session_has_no_register(school):
    school["session"].status = OccurrenceStatus.CANCELLED
    db.session.commit()
    with pytest.raises(InvalidTransition, match="cancelled session has no register"):
        take(school, [])


def test_a_future_session_is_taken_from_its_start_not_before(school, make_session):
    school["session"] = make_session(school["maths"], PINNED_NOW + timedelta(hours=1))
    with pytest.raises(InvalidTransition, match="has not started yet"):
        take(school, [])
    db.session.rollback()
    take(school, [], now=PINNED_NOW + timedelta(hours=1))
    assert len(marks(school["session"])) == 3


@pytest.mark.parametrize("who", ["other_mentor", "alice"])
def test_only_the_mentor_and_staff_take_it(school, who):
    with pytest.raises(NotAllowed):
        take(school, [], actor=school[who])
    db.session.rollback()
    assert marks(school["session"]) == {}


def test_a_student_who_joined_after_the_session_is_not_on_it_and_one_who_left_keeps_a_line(
    school, make_user
):
    newcomer = make_user("student", name="Dan")
    db.session.add(Enrolment(group_id=school["maths"].id, student_id=newcomer.id))
    db.session.commit()
    names = [line.student.name for line in roster_of(school["session"], PARIS)]
    assert names == ["Alice", "Bob", "Carol"]
    section = register_section(school["mentor"], school["session"], tz=PARIS)
    assert section.joined_later == 1
    take(school, [MarkInput(school["bob"].id, "absent")])
    db.session.execute(Enrolment.__table__.delete().where(Enrolment.student_id == school["bob"].id))
    db.session.commit()
    lines = roster_of(school["session"], PARIS)
    assert [(line.student.name, str(line.mark.status)) for line in lines][1] == ("Bob", "absent")


def test_a_session_nobody_was_enrolled_in_has_no_register(school, make_group, make_session):
    empty = make_group("Empty", mentor=school["mentor"])
    school["session"] = make_session(empty, PINNED_NOW - timedelta(days=1))
    with pytest.raises(InvalidTransition, match="Nobody was enrolled"):
        take(school, [])


def test_a_student_sees_only_their_own_mark(school):
    take(school, [MarkInput(school["bob"].id, "late", 7)])
    section = register_section(school["bob"], school["session"], tz=PARIS)
    assert section.student_view and section.lines == []
    assert (str(section.own.status), section.own.late_minutes) == ("late", 7)


# --- Report and monitoring ----------------------------------------------------------------------


def test_rates_leave_excused_absences_out_and_flag_students_below_the_threshold(
    school, make_session
):
    alice, bob, carol = school["alice"], school["bob"], school["carol"]
    take(school, [MarkInput(bob.id, "absent"), MarkInput(carol.id, "excused", None, "Trip")])
    school["session"] = make_session(school["maths"], PINNED_NOW - timedelta(days=8))
    take(school, [MarkInput(bob.id, "late", 5), MarkInput(carol.id, "absent")])
    # A cancelled session's register no longer counts.
    cancelled = make_session(school["maths"], PINNED_NOW - timedelta(days=15))
    school["session"] = cancelled
    take(school, [MarkInput(alice.id, "absent")])
    cancelled.status = OccurrenceStatus.CANCELLED
    db.session.commit()

    report = attendance_report(ReportFilters(), PARIS)
    rates = {r.name: (r.sessions, r.rate) for r in report.students}
    assert rates == {"Alice": (2, 100.0), "Bob": (2, 50.0), "Carol": (2, 0.0)}
    assert [r.name for r in report.below] == ["Carol", "Bob"]
    assert [(g.name, g.sessions, round(g.rate, 1)) for g in report.groups] == [
        ("Maths 7A", 6, 60.0)
    ]
    assert report.registers == 2
    # Dates are local and both included: only yesterday's register.
    day = (PINNED_NOW - timedelta(days=1)).astimezone(PARIS).date()
    narrow = attendance_report(ReportFilters(start=day, end=day, threshold=40), PARIS)
    assert {r.name: r.rate for r in narrow.students} == {"Alice": 100.0, "Bob": 0.0, "Carol": None}
    assert [r.name for r in narrow.below] == ["Bob"]
    only_bob = attendance_report(ReportFilters(student_id=bob.id), PARIS)
    assert [r.name for r in only_bob.students] == ["Bob"]


def test_the_csv_neutralises_formulas_and_keeps_numbers(school, make_user):
    school["alice"].name = "=HYPERLINK(1)"
    db.session.commit()
    take(school, [MarkInput(school["bob"].id, "absent")])
    text = attendance_csv(attendance_report(ReportFilters(), PARIS))
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert [r["student"] for r in rows] == ["'=HYPERLINK(1)", "Bob", "Carol"]
    assert (rows[1]["rate_percent"], rows[1]["below_threshold"], rows[1]["absent"]) == (
        "0.0",
        "yes",
        "1",
    )
    assert rows[0]["rate_percent"] == "100.0" and rows[0]["below_threshold"] == "no"


def test_the_report_refuses_reversed_dates_and_a_threshold_over_100(school):
    day = PINNED_NOW.date()
    with pytest.raises(ValidationError) as refused:
        attendance_report(
            ReportFilters(start=day, end=day - timedelta(days=1), threshold=101), PARIS
        )
    assert set(refused.value.errors) == {"end", "threshold"}


def test_monitoring_lists_completed_sessions_without_a_register(school, make_session, make_group):
    done = school["session"]
    done.status = OccurrenceStatus.COMPLETED
    taken = make_session(school["maths"], PINNED_NOW - timedelta(days=2))
    taken.status = OccurrenceStatus.COMPLETED
    nobody = make_session(make_group("No students"), PINNED_NOW - timedelta(days=2))
    nobody.status = OccurrenceStatus.COMPLETED
    db.session.commit()
    school["session"] = taken
    take(school, [])
    found = db.session.scalars(sessions_without_register(MonitorFilters(), PARIS)).all()
    assert [o.id for o in found] == [done.id]


def test_a_register_goes_with_its_session(school):
    take(school, [MarkInput(school["bob"].id, "absent")])
    db.session.delete(db.session.get(Occurrence, school["session"].id))
    db.session.commit()
    assert db.session.scalar(select(func.count(AttendanceMark.id))) == 0
