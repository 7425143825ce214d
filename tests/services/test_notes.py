"""Notes service: who reads which kinds, who adds, edits and deletes, every message, the
history entry each change writes, and bodies kept as typed text."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import NoteKind, SessionEvent, SessionNote, db
from services.common.errors import NotAllowed, NotFoundError, ValidationError
from services.permissions import can_add_note, readable_kinds
from services.tracking import events
from services.tracking.notes import (
    BODY_MAX_LENGTH,
    MESSAGE_BODY_REQUIRED,
    MESSAGE_BODY_TOO_LONG,
    MESSAGE_CANNOT_ADD,
    MESSAGE_CANNOT_DELETE,
    MESSAGE_CANNOT_EDIT,
    MESSAGE_KIND_REQUIRED,
    add_note,
    delete_note,
    edit_note,
    get_visible_note,
    notes_for,
)


def history(occurrence_id: int) -> list[tuple[str, int | None, str]]:
    rows = db.session.scalars(
        select(SessionEvent)
        .where(SessionEvent.occurrence_id == occurrence_id)
        .order_by(SessionEvent.id)
    )
    return [(e.kind, e.actor_id, e.summary) for e in rows]


def one_of_each(maths_session):
    """A note of every kind by the mentor, oldest first: general, follow-up, issue, achievement."""
    notes = []
    for kind in ("general", "follow_up", "issue", "achievement"):
        notes.append(
            add_note(
                maths_session["mentor"], maths_session["occurrence"], kind=kind, body=f"A {kind}"
            )
        )
    db.session.commit()
    return notes


# --- Reading ------------------------------------------------------------------------------------


def test_staff_and_the_mentor_read_every_kind_students_general_and_achievement(maths_session):
    o = maths_session["occurrence"]
    for role in ("mentor", "coordinator", "admin"):
        assert readable_kinds(maths_session[role], o) == set(NoteKind)
    assert readable_kinds(maths_session["student"], o) == {NoteKind.GENERAL, NoteKind.ACHIEVEMENT}
    assert readable_kinds(maths_session["outsider"], o) == set()
    assert readable_kinds(maths_session["other_mentor"], o) == set()
    assert readable_kinds(None, o) == set()


def test_notes_come_newest_first_filtered_by_kind_for_students(maths_session):
    notes = one_of_each(maths_session)
    o = maths_session["occurrence"]
    everything = [row.note.id for row in notes_for(maths_session["mentor"], o)]
    assert everything == [n.id for n in reversed(notes)]
    assert [row.note.kind for row in notes_for(maths_session["student"], o)] == [
        NoteKind.ACHIEVEMENT,
        NoteKind.GENERAL,
    ]
    assert notes_for(maths_session["outsider"], o) == []
    assert notes_for(maths_session["other_mentor"], o) == []


def test_a_note_the_viewer_may_not_read_does_not_exist_for_them(maths_session):
    general, follow_up, issue, _ = one_of_each(maths_session)
    assert get_visible_note(maths_session["student"], general.id) == general
    for note in (follow_up, issue):
        with pytest.raises(NotFoundError):
            get_visible_note(maths_session["student"], note.id)
    with pytest.raises(NotFoundError):
        get_visible_note(maths_session["outsider"], general.id)
    for bad in (0, -1, 2**63, 999_999):
        with pytest.raises(NotFoundError):
            get_visible_note(maths_session["coordinator"], bad)


# --- Adding -------------------------------------------------------------------------------------


def test_the_mentor_adds_a_note_with_its_history_entry(maths_session):
    o = maths_session["occurrence"]
    note = add_note(
        maths_session["mentor"], o, kind="achievement", body="  Solved every exercise \r\n"
    )
    db.session.commit()
    assert (note.kind, note.body, note.author_id) == (
        NoteKind.ACHIEVEMENT,
        "Solved every exercise",
        maths_session["mentor"].id,
    )
    assert note.created_at == note.updated_at
    assert history(o.id) == [
        (
            events.NOTE_ADDED,
            maths_session["mentor"].id,
            "Achievement note added: Solved every exercise",
        )
    ]


@pytest.mark.parametrize("role", ["coordinator", "admin"])
def test_staff_add_notes_too(maths_session, role):
    add_note(
        maths_session[role], maths_session["occurrence"], kind="issue", body="Projector broken"
    )
    assert can_add_note(maths_session[role], maths_session["occurrence"])


def test_students_read_but_do_not_write_and_strangers_do_not_see(maths_session):
    o = maths_session["occurrence"]
    assert not can_add_note(maths_session["student"], o)
    with pytest.raises(NotAllowed) as refused:
        add_note(maths_session["student"], o, kind="general", body="Hello")
    assert refused.value.message == MESSAGE_CANNOT_ADD
    for stranger in ("outsider", "other_mentor"):
        with pytest.raises(NotFoundError):
            add_note(maths_session[stranger], o, kind="general", body="Hello")
    assert db.session.scalars(select(SessionNote)).all() == []
    assert history(o.id) == []


@pytest.mark.parametrize(
    ("kind", "body", "errors"),
    [
        ("general", "", {"body": MESSAGE_BODY_REQUIRED}),
        ("general", " \n\t \r\n ", {"body": MESSAGE_BODY_REQUIRED}),
        ("general", None, {"body": MESSAGE_BODY_REQUIRED}),
        ("general", "\x00\x01", {"body": MESSAGE_BODY_REQUIRED}),
        ("general", "x" * (BODY_MAX_LENGTH + 1), {"body": MESSAGE_BODY_TOO_LONG}),
        ("", "Fine", {"kind": MESSAGE_KIND_REQUIRED}),
        (None, "Fine", {"kind": MESSAGE_KIND_REQUIRED}),
        ("secret", "Fine", {"kind": MESSAGE_KIND_REQUIRED}),
        ("ISSUE", "Fine", {"kind": MESSAGE_KIND_REQUIRED}),
        ("", "", {"kind": MESSAGE_KIND_REQUIRED, "body": MESSAGE_BODY_REQUIRED}),
    ],
)
def test_a_note_needs_a_kind_and_a_body_of_at_most_5000_characters(
    maths_session, kind, body, errors
):
    with pytest.raises(ValidationError) as refused:
        add_note(maths_session["mentor"], maths_session["occurrence"], kind=kind, body=body)
    assert refused.value.errors == errors
    db.session.rollback()
    assert db.session.scalars(select(SessionNote)).all() == []


def test_exactly_5000_characters_pass_and_line_ends_count_once(maths_session):
    o = maths_session["occurrence"]
    longest = add_note(maths_session["mentor"], o, kind="general", body="y" * BODY_MAX_LENGTH)
    assert len(longest.body) == BODY_MAX_LENGTH
    lines = "a\r\n" * 2000  # 6,000 characters as sent by a browser, 4,000 once normalised
    assert (
        add_note(maths_session["mentor"], o, kind="general", body=lines).body
        == ("a\n" * 2000).strip()
    )


def test_markup_is_stored_as_the_text_it_is(maths_session):
    body = '<script>alert(1)</script> "><img src=x onerror=alert(1)> javascript:alert(1)'
    note = add_note(maths_session["mentor"], maths_session["occurrence"], kind="general", body=body)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(SessionNote, note.id).body == body


def test_long_notes_are_quoted_briefly_in_the_history(maths_session):
    o = maths_session["occurrence"]
    add_note(maths_session["mentor"], o, kind="follow_up", body="word " * 100)
    (kind, _, summary) = history(o.id)[0]
    assert kind == events.NOTE_ADDED
    assert summary.startswith("Follow-up note added: word word") and summary.endswith("\u2026")
    assert len(summary) < 120


# --- Editing and deleting -----------------------------------------------------------------------


def test_the_author_edits_their_note_and_the_history_says_so(maths_session):
    o = maths_session["occurrence"]
    note = add_note(maths_session["mentor"], o, kind="general", body="Covered chapter 2")
    db.session.commit()
    assert (
        edit_note(maths_session["mentor"], note, kind="follow_up", body="Covered chapter 3") is True
    )
    db.session.commit()
    assert (note.kind, note.body) == (NoteKind.FOLLOW_UP, "Covered chapter 3")
    assert note.updated_at > note.created_at
    assert history(o.id)[-1] == (
        events.NOTE_EDITED,
        maths_session["mentor"].id,
        "Follow-up note edited: Covered chapter 3",
    )


def test_saving_a_note_unchanged_writes_nothing(maths_session):
    o = maths_session["occurrence"]
    note = add_note(maths_session["mentor"], o, kind="general", body="Same")
    db.session.commit()
    assert edit_note(maths_session["mentor"], note, kind="general", body=" Same ") is False
    assert [kind for kind, _, _ in history(o.id)] == [events.NOTE_ADDED]


def test_an_edit_is_validated_like_an_addition(maths_session):
    note = add_note(
        maths_session["mentor"], maths_session["occurrence"], kind="general", body="Keep me"
    )
    db.session.commit()
    with pytest.raises(ValidationError) as refused:
        edit_note(maths_session["mentor"], note, kind="nope", body="  ")
    assert refused.value.errors == {"kind": MESSAGE_KIND_REQUIRED, "body": MESSAGE_BODY_REQUIRED}
    db.session.rollback()
    assert db.session.get(SessionNote, note.id).body == "Keep me"


@pytest.mark.parametrize("who", ["coordinator", "admin", "student"])
def test_nobody_but_the_author_edits_a_note(maths_session, who):
    note = add_note(
        maths_session["mentor"], maths_session["occurrence"], kind="general", body="Mine"
    )
    db.session.commit()
    with pytest.raises(NotAllowed) as refused:
        edit_note(maths_session[who], note, kind="general", body="Theirs")
    assert refused.value.message == MESSAGE_CANNOT_EDIT


def test_the_mentor_cannot_edit_or_delete_a_coordinators_note(maths_session):
    note = add_note(
        maths_session["coordinator"], maths_session["occurrence"], kind="issue", body="Late again"
    )
    db.session.commit()
    with pytest.raises(NotAllowed):
        edit_note(maths_session["mentor"], note, kind="issue", body="Fine")
    with pytest.raises(NotAllowed) as refused:
        delete_note(maths_session["mentor"], note)
    assert refused.value.message == MESSAGE_CANNOT_DELETE
    rows = notes_for(maths_session["mentor"], maths_session["occurrence"])
    assert [(r.can_edit, r.can_delete) for r in rows] == [(False, False)]


def test_the_author_deletes_their_note_with_its_history_entry(maths_session):
    o = maths_session["occurrence"]
    note = add_note(maths_session["mentor"], o, kind="issue", body="Projector broken")
    db.session.commit()
    delete_note(maths_session["mentor"], note)
    db.session.commit()
    assert db.session.scalars(select(SessionNote)).all() == []
    assert history(o.id)[-1] == (
        events.NOTE_DELETED,
        maths_session["mentor"].id,
        "Issue note deleted: Projector broken",
    )


@pytest.mark.parametrize("who", ["coordinator", "admin"])
def test_coordinators_and_admins_delete_any_note(maths_session, who):
    note = add_note(
        maths_session["mentor"], maths_session["occurrence"], kind="general", body="Remove me"
    )
    db.session.commit()
    rows = notes_for(maths_session[who], maths_session["occurrence"])
    assert [(r.can_edit, r.can_delete) for r in rows] == [(False, True)]
    delete_note(maths_session[who], note)
    db.session.commit()
    assert db.session.get(SessionNote, note.id) is None


def test_a_student_cannot_delete_a_note(maths_session):
    note = add_note(
        maths_session["mentor"], maths_session["occurrence"], kind="general", body="Stay"
    )
    db.session.commit()
    with pytest.raises(NotAllowed):
        delete_note(maths_session["student"], note)
    rows = notes_for(maths_session["student"], maths_session["occurrence"])
    assert [(r.can_edit, r.can_delete) for r in rows] == [(False, False)]
