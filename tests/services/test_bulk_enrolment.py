"""Enrolling many students from a pasted list or another group, and moving students between
groups: what the plan says per line, all-or-nothing enrolment, who is told, stored clashes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from models import Enrolment, Notification, db
from services.catalogue.bulk_enrolment import (
    ALREADY,
    ENROL,
    MAX_ENTRIES,
    REFUSED,
    TWICE,
    enrol_students,
    move_students,
    plan_enrolment,
    plan_from_students,
    split_entries,
)
from services.common.errors import ValidationError
from services.timetable.clashes import sessions_in_conflict
from tests.services.conftest import titles


@pytest.fixture
def school(make_user, make_group):
    people = {
        "ada": make_user("student", name="Ada Lovelace", email="ada@school.test"),
        "bob": make_user("student", name="Bob Stone", email="bob@school.test"),
        "cy": make_user("student", name="Cy Young", email="cy@school.test"),
        "émile": make_user("student", name="Émile Zola", email="emile@school.test"),
        "gone": make_user("student", name="Gone Away", email="gone@school.test", active=False),
        "kim1": make_user("student", name="Kim Lee", email="kim1@school.test"),
        "kim2": make_user("student", name="Kim Lee", email="kim2@school.test"),
        "mentor": make_user("mentor", name="Mo Mentor", email="mo@school.test"),
    }
    group = make_group("Maths 7A", students=[people["cy"]])
    other = make_group("Art 7B", students=[people["ada"], people["bob"]])
    return {"group": group, "other": other, **people}


def outcomes(plan) -> list[tuple[int, str, str]]:
    return [(e.line, e.text, e.outcome) for e in plan.entries]


def enrolled_names(group) -> list[str]:
    db.session.expire_all()
    return sorted(e.student.name for e in group.enrolments)


def test_entries_split_on_lines_commas_semicolons_and_tabs_with_spacing_tidied():
    text = "ada@school.test, bob@school.test\r\n\n  Cy   Young ;\tEve\n,,;\n"
    assert split_entries(text) == [
        (1, "ada@school.test"),
        (1, "bob@school.test"),
        (3, "Cy Young"),  # the blank line 2 counts, as the text box numbers lines
        (3, "Eve"),
    ]


def test_a_plan_says_per_line_who_is_enrolled_already_in_listed_twice_or_refused(school):
    text = "\n".join(
        [
            "  ADA@School.TEST ",  # case and spacing of an e-mail
            "Bob Stone <bob@school.test>",  # as a mail program copies it
            "cy@school.test",  # already in the group
            "ada@school.test",  # the same student again
            "nobody@school.test",
            "not-an-email@",
            "Kim Lee",  # two students have this name
            "mo@school.test",  # a mentor
            "gone@school.test",  # deactivated
            "émile zola",  # a name, any case, non-ASCII
            "Someone Unknown",
        ]
    )
    plan = plan_enrolment(school["group"], text)
    assert [(e.line, e.outcome) for e in plan.entries] == [
        (1, ENROL),
        (2, ENROL),
        (3, ALREADY),
        (4, TWICE),
        (5, REFUSED),
        (6, REFUSED),
        (7, REFUSED),
        (8, REFUSED),
        (9, REFUSED),
        (10, ENROL),
        (11, REFUSED),
    ]
    assert [e.student.name for e in plan.to_enrol] == ["Ada Lovelace", "Bob Stone", "Émile Zola"]
    assert plan.entries[3].reason == "listed on line 1 too"
    assert plan.refusals() == [
        "line 5: nobody@school.test: no account has this e-mail",
        "line 6: not-an-email@: not a valid e-mail address",
        "line 7: Kim Lee: 2 students have this name (kim1@school.test, kim2@school.test): "
        "give the e-mail",
        "line 8: mo@school.test: Mo Mentor is a mentor, not a student",
        "line 9: gone@school.test: Gone Away's account is deactivated",
        "line 11: Someone Unknown: no account has this name",
    ]
    # A plan writes nothing.
    assert enrolled_names(school["group"]) == ["Cy Young"]


def test_an_empty_or_huge_paste_is_refused_clearly(school):
    for empty in ("", "   \n ,; \n"):
        with pytest.raises(ValidationError) as err:
            plan_enrolment(school["group"], empty)
        assert err.value.errors == {"entries": "Paste at least one e-mail or name."}
    huge = "\n".join(f"s{n}@school.test" for n in range(MAX_ENTRIES + 1))
    with pytest.raises(ValidationError) as err:
        plan_enrolment(school["group"], huge)
    assert f"At most {MAX_ENTRIES}" in err.value.errors["entries"]
    assert f"(this list has {MAX_ENTRIES + 1})" in err.value.errors["entries"]


def test_a_plan_from_another_groups_students_names_each_by_id(school):
    ids = [school["ada"].id, school["cy"].id, school["gone"].id, 10**9]
    plan = plan_from_students(school["group"], ids)
    assert [(e.line, e.outcome) for e in plan.entries] == [
        (1, ENROL),
        (2, ALREADY),
        (3, REFUSED),
        (4, REFUSED),
    ]
    assert plan.entries[0].text == "Ada Lovelace <ada@school.test>"
    with pytest.raises(ValidationError, match="Tick at least one student"):
        plan_from_students(school["group"], [])


def test_enrolling_is_all_or_nothing_and_each_new_student_is_told(school):
    group = school["group"]
    with pytest.raises(ValidationError) as err:
        enrol_students(group, [school["ada"].id, school["mentor"].id], actor=school["mentor"])
    db.session.rollback()
    assert "Nothing was enrolled" in err.value.errors["students"]
    assert "Mo Mentor is a mentor, not a student" in err.value.errors["students"]
    assert enrolled_names(group) == ["Cy Young"]
    assert titles(school["ada"]) == []

    done = enrol_students(
        group, [school["ada"].id, school["bob"].id, school["cy"].id, school["ada"].id]
    )
    db.session.commit()
    assert [s.name for s in done.enrolled] == ["Ada Lovelace", "Bob Stone"]
    assert [s.name for s in done.already] == ["Cy Young"]
    assert enrolled_names(group) == ["Ada Lovelace", "Bob Stone", "Cy Young"]
    assert titles(school["ada"]) == ["You are now in Maths 7A"]
    assert titles(school["cy"]) == []  # already in: nothing new to tell


def test_moving_students_is_one_change_and_they_are_told(school):
    other, group = school["other"], school["group"]
    # Cy is in Maths already: Cy only leaves Art.
    db.session.add(Enrolment(group_id=other.id, student_id=school["cy"].id))
    db.session.commit()
    done = move_students(other, group, [school["ada"].id, school["cy"].id], actor=school["mentor"])
    db.session.commit()
    assert [s.name for s in done.moved] == ["Ada Lovelace"]
    assert [s.name for s in done.already] == ["Cy Young"]
    assert enrolled_names(other) == ["Bob Stone"]
    assert enrolled_names(group) == ["Ada Lovelace", "Cy Young"]
    assert titles(school["ada"]) == ["You moved from Art 7B to Maths 7A"]
    assert titles(school["bob"]) == []


def test_a_move_naming_a_student_not_in_the_group_moves_nobody(school):
    other, group = school["other"], school["group"]
    with pytest.raises(ValidationError) as err:
        move_students(other, group, [school["ada"].id, school["émile"].id])
    db.session.rollback()
    assert err.value.errors["students"] == "Nothing was moved: Émile Zola is no longer in Art 7B."
    assert enrolled_names(other) == ["Ada Lovelace", "Bob Stone"]
    with pytest.raises(ValidationError, match="other than Art 7B"):
        move_students(other, other, [school["ada"].id])
    with pytest.raises(ValidationError, match="Tick the students"):
        move_students(other, group, [])
    assert db.session.scalar(select(Notification.id)) is None


def test_enrolling_and_moving_keep_the_stored_clashes_of_students(school, make_session):
    """A student in two groups whose sessions overlap is a student conflict: enrolling adds
    it, moving away removes it (the conftest also compares every stored clash after this)."""
    start = datetime(2027, 3, 15, 9, 0, tzinfo=UTC)
    maths = make_session(school["group"], start)
    art = make_session(school["other"], start + timedelta(minutes=30))
    enrol_students(school["group"], [school["ada"].id])
    db.session.commit()
    assert sessions_in_conflict([maths.id, art.id]) == {maths.id, art.id}
    move_students(school["group"], school["other"], [school["cy"].id])
    db.session.commit()
    move_students(school["other"], school["group"], [school["ada"].id, school["bob"].id])
    db.session.commit()
    # Maths has Ada and Bob, Art only Cy: nobody is in both any more.
    assert enrolled_names(school["other"]) == ["Cy Young"]
    assert enrolled_names(school["group"]) == ["Ada Lovelace", "Bob Stone"]
    assert sessions_in_conflict([maths.id, art.id]) == set()
