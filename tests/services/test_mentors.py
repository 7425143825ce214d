"""The mentor directory (subjects, rating, sessions taught, sorting, filter, search, two
statements whatever the number of mentors) and the subjects staff list for a mentor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select

from models import (
    MentorSubject,
    Occurrence,
    OccurrenceStatus,
    Rating,
    Subject,
    db,
)
from services.catalogue.mentors import (
    mentor_directory,
    offered_subjects,
    set_mentor_subjects,
    subjects_of_mentor,
)
from services.common.errors import ValidationError

START = datetime(2026, 3, 2, 9, tzinfo=UTC)


@pytest.fixture
def rated_mentors(make_user, make_group):
    """Three mentors: Ben rated 5 and 4, Ada rated 3, Cy never rated; Dee is deactivated."""
    maths, art, music = Subject(name="Mathematics"), Subject(name="Art"), Subject(name="Music")
    db.session.add_all([maths, art, music])
    ada = make_user("mentor", name="Ada Lovelace")
    ben = make_user("mentor", name="Ben Okri")
    cy = make_user("mentor", name="Cy Twombly")
    dee = make_user("mentor", name="Dee Inactive", active=False)
    students = [make_user("student") for _ in range(2)]
    db.session.add_all(
        [
            MentorSubject(mentor_id=ada.id, subject_id=maths.id),
            MentorSubject(mentor_id=cy.id, subject_id=music.id),
            MentorSubject(mentor_id=dee.id, subject_id=maths.id),
        ]
    )
    db.session.commit()
    art_class = make_group("Art 7A", mentor=ben, subject=art, students=students)
    maths_class = make_group("Maths 7A", mentor=ada, subject=maths, students=students)
    make_group("Old music", mentor=ben, subject=music, active=False)  # inactive: not offered

    def completed(group, n):
        occurrence = Occurrence(
            group_id=group.id,
            start_utc=START + timedelta(days=n),
            end_utc=START + timedelta(days=n, hours=1),
            status=OccurrenceStatus.COMPLETED,
        )
        db.session.add(occurrence)
        db.session.flush()
        return occurrence

    first, second = completed(art_class, 0), completed(art_class, 1)
    db.session.add_all(
        [
            Rating(occurrence_id=first.id, student_id=students[0].id, score=5),
            Rating(occurrence_id=second.id, student_id=students[1].id, score=4),
        ]
    )
    maths_done = completed(maths_class, 2)
    completed(maths_class, 3)
    db.session.add(Rating(occurrence_id=maths_done.id, student_id=students[0].id, score=3))
    db.session.add(  # a scheduled session is not "taught" yet
        Occurrence(
            group_id=maths_class.id,
            start_utc=START + timedelta(days=9),
            end_utc=START + timedelta(days=9, hours=1),
        )
    )
    db.session.commit()
    return {"ada": ada, "ben": ben, "cy": cy, "dee": dee, "maths": maths, "art": art,
            "music": music}  # fmt: skip


def names(page) -> list[str]:
    return [card.mentor.name for card in page.items]


def test_best_rated_first_unrated_last_inactive_mentors_left_out(rated_mentors):
    page = mentor_directory()
    assert names(page) == ["Ben Okri", "Ada Lovelace", "Cy Twombly"]
    ben, ada, cy = page.items
    assert (ben.rating, ben.ratings, ben.sessions_taught) == (4.5, 2, 2)
    assert (ada.rating, ada.ratings, ada.sessions_taught) == (3.0, 1, 2)
    assert (cy.rating, cy.ratings, cy.sessions_taught) == (None, 0, 0)
    assert page.total == 3


def test_subjects_are_the_listed_ones_and_those_of_active_classes(rated_mentors):
    cards = {card.mentor.name: card for card in mentor_directory().items}
    assert [s.name for s in cards["Ben Okri"].subjects] == ["Art"]  # not the inactive class
    assert [s.name for s in cards["Ada Lovelace"].subjects] == ["Mathematics"]  # once
    assert [s.name for s in cards["Cy Twombly"].subjects] == ["Music"]
    rated_mentors["music"].active = False
    db.session.commit()
    cards = {card.mentor.name: card for card in mentor_directory().items}
    assert cards["Cy Twombly"].subjects == []  # a deactivated subject cannot be requested
    assert [s.name for s in offered_subjects()] == ["Art", "Mathematics"]
    assert [s.name for s in subjects_of_mentor(rated_mentors["ada"].id)] == ["Mathematics"]
    assert subjects_of_mentor(0) == [] and subjects_of_mentor(2**63) == []


def test_filter_by_subject_and_search_by_name(rated_mentors):
    assert names(mentor_directory(subject_id=rated_mentors["maths"].id)) == ["Ada Lovelace"]
    assert names(mentor_directory(subject_id=rated_mentors["art"].id)) == ["Ben Okri"]
    assert names(mentor_directory(q="  okri ")) == ["Ben Okri"]
    assert names(mentor_directory(q="%")) == []  # typed wildcards match literally
    assert names(mentor_directory(q="o", subject_id=rated_mentors["music"].id)) == ["Cy Twombly"]
    assert mentor_directory(subject_id=999).total == 0


def test_pages_of_mentors_and_a_page_past_the_end_shows_the_last(rated_mentors):
    page = mentor_directory(per_page=2, page=2)
    assert names(page) == ["Cy Twombly"] and page.number == 2 and page.pages == 2
    assert mentor_directory(per_page=2, page=9).number == 2


def test_two_statements_whatever_the_number_of_mentors(app, rated_mentors, make_user):
    for n in range(15):
        make_user("mentor", name=f"Extra {n}")
    statements = []

    def count(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):  # not SQLite's BEGIN
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        page = mentor_directory()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(page.items) == 18
    assert len(statements) == 2


# --- Staff set a mentor's subjects --------------------------------------------------------------


def listed(mentor) -> set[str]:
    return {
        s.name
        for s in db.session.scalars(
            select(Subject).join(MentorSubject).where(MentorSubject.mentor_id == mentor.id)
        )
    }


def test_staff_set_exactly_the_listed_subjects(rated_mentors, make_user):
    coordinator = make_user("coordinator")
    set_mentor_subjects(
        coordinator, rated_mentors["ada"], [rated_mentors["art"].id, rated_mentors["music"].id]
    )
    db.session.commit()
    assert listed(rated_mentors["ada"]) == {"Art", "Music"}
    set_mentor_subjects(coordinator, rated_mentors["ada"], [])
    db.session.commit()
    assert listed(rated_mentors["ada"]) == set()


def test_bad_subject_lists_are_refused_and_nothing_changes(rated_mentors, make_user):
    coordinator = make_user("coordinator")
    rated_mentors["music"].active = False
    db.session.commit()
    cases = [
        (coordinator, rated_mentors["ada"], [999], "Choose subjects from the list."),
        (coordinator, rated_mentors["ada"], [0, -1], "Choose subjects from the list."),
        (coordinator, rated_mentors["ada"], [rated_mentors["music"].id], "Music is deactivated"),
        (
            coordinator,
            make_user("student"),
            [rated_mentors["art"].id],
            "Only mentors offer subjects.",
        ),
        (make_user("mentor"), rated_mentors["ada"], [rated_mentors["art"].id], "Only staff"),
    ]
    for actor, mentor, ids, message in cases:
        with pytest.raises(ValidationError) as caught:
            set_mentor_subjects(actor, mentor, ids)
        db.session.rollback()
        assert caught.value.errors["subjects"].startswith(message)
    assert listed(rated_mentors["ada"]) == {"Mathematics"}
    # A deactivated subject already listed may stay.
    set_mentor_subjects(
        coordinator, rated_mentors["cy"], [rated_mentors["music"].id, rated_mentors["art"].id]
    )
    db.session.commit()
    assert listed(rated_mentors["cy"]) == {"Art", "Music"}
