"""Ratings: completed sessions only, participating students only, 1 to 5, once (the unique
constraint backs the check up), and mentors' averages in one query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

import services.tracking.ratings as ratings
from models import Occurrence, OccurrenceStatus, Rating, db
from services.common.errors import InvalidTransition, NotFoundError, ValidationError
from services.tracking.ratings import mentor_ratings, rate_session

START = datetime(2026, 9, 7, 8, tzinfo=UTC)


def add_session(group, *, status=OccurrenceStatus.COMPLETED, hours=0):
    occurrence = Occurrence(
        group_id=group.id,
        start_utc=START + timedelta(hours=hours),
        end_utc=START + timedelta(hours=hours + 1),
        room_id=group.default_room_id,
        status=status,
    )
    db.session.add(occurrence)
    db.session.commit()
    return occurrence


def stored() -> list[tuple[int, int, int]]:
    db.session.expire_all()
    return [
        (r.occurrence_id, r.student_id, r.score)
        for r in db.session.scalars(select(Rating).order_by(Rating.id))
    ]


@pytest.fixture
def people(make_user, make_group):
    ada, ben = make_user("mentor", name="Ada"), make_user("mentor", name="Ben")
    alice, bob, carol = (make_user("student", name=n) for n in ("Alice", "Bob", "Carol"))
    maths = make_group("Maths", mentor=ada, students=[alice, bob])
    art = make_group("Art", mentor=ben, students=[carol])
    return {
        "ada": ada, "ben": ben, "alice": alice, "bob": bob, "carol": carol,
        "maths": maths, "art": art,
    }  # fmt: skip


def test_a_participating_student_rates_a_completed_session(people):
    session = add_session(people["maths"])
    rating = rate_session(people["alice"], session, 4)
    db.session.commit()
    assert rating.id is not None
    assert stored() == [(session.id, people["alice"].id, 4)]


@pytest.mark.parametrize("status", [OccurrenceStatus.SCHEDULED, OccurrenceStatus.CANCELLED])
def test_only_a_completed_session_can_be_rated(people, status):
    session = add_session(people["maths"], status=status)
    with pytest.raises(InvalidTransition, match="Only a completed session can be rated"):
        rate_session(people["alice"], session, 4)
    assert stored() == []


@pytest.mark.parametrize("who", ["carol", "ada", "ben", "coordinator", "admin"])
def test_only_students_enrolled_in_the_group_may_rate(people, make_user, who):
    session = add_session(people["maths"])
    user = people.get(who) or make_user(who)
    with pytest.raises(NotFoundError):
        rate_session(user, session, 4)
    assert stored() == []


@pytest.mark.parametrize("score", [0, 6, -1, None, "3", 3.5, True, 2**63])
def test_a_score_is_a_whole_number_from_1_to_5(people, score):
    session = add_session(people["maths"])
    with pytest.raises(ValidationError) as refused:
        rate_session(people["alice"], session, score)
    assert refused.value.errors == {"score": "Choose a score from 1 to 5."}
    assert stored() == []


@pytest.mark.parametrize("score", [1, 5])
def test_both_ends_of_the_scale_are_accepted(people, score):
    session = add_session(people["maths"])
    rate_session(people["alice"], session, score)
    db.session.commit()
    assert stored() == [(session.id, people["alice"].id, score)]


def test_a_second_rating_is_refused_with_a_clear_message(people):
    session = add_session(people["maths"])
    rate_session(people["alice"], session, 4)
    db.session.commit()
    with pytest.raises(InvalidTransition, match=r"already rated this session \(4/5\)"):
        rate_session(people["alice"], session, 2)
    # Another student of the group still may.
    rate_session(people["bob"], session, 2)
    db.session.commit()
    assert stored() == [(session.id, people["alice"].id, 4), (session.id, people["bob"].id, 2)]


def test_the_unique_constraint_refuses_a_rating_that_slipped_past_the_check(people, monkeypatch):
    """Two submissions at once both find no rating; the database keeps one, the other is told."""
    session = add_session(people["maths"])
    rate_session(people["alice"], session, 4)
    db.session.commit()
    monkeypatch.setattr(ratings, "student_rating", lambda *_: None)
    with pytest.raises(InvalidTransition, match="already rated"):
        rate_session(people["alice"], session, 2)
    # The savepoint kept the transaction usable.
    assert db.session.scalar(select(func.count(Rating.id))) == 1
    db.session.commit()
    assert stored() == [(session.id, people["alice"].id, 4)]


def test_the_database_refuses_a_score_out_of_range(people):
    session = add_session(people["maths"])
    db.session.add(Rating(occurrence_id=session.id, student_id=people["alice"].id, score=6))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_mentor_ratings_are_averages_and_counts_in_one_query(people, make_user):
    first, second = add_session(people["maths"]), add_session(people["maths"], hours=2)
    art = add_session(people["art"])
    for session, student, score in [
        (first, "alice", 5), (first, "bob", 4), (second, "alice", 3), (art, "carol", 2),
    ]:  # fmt: skip
        rate_session(people[student], session, score)
    db.session.commit()
    nobody = make_user("mentor")
    ada, ben, nobody = people["ada"].id, people["ben"].id, nobody.id
    statements = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        found = mentor_ratings([ada, ben, nobody])
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert found == {ada: (4.0, 3), ben: (2.0, 1)}
    assert nobody not in found  # "no ratings yet"
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
    assert mentor_ratings([]) == {}
    assert mentor_ratings([ben]) == {ben: (2.0, 1)}
