"""Typed notes on sessions: reading, adding, editing and deleting them (who may do which is
services/permissions.py's).

Who writes: the session's mentor and staff (admins, coordinators). Students of the session
read notes but do not write them: notes are the teacher's record of the session (the
tracking issue: "mentors record what actually happened"), and a student's word would sit
among the mentor's with the same weight.

Who reads: staff and the session's mentor read every kind; a student enrolled in the
session's group reads `general` and `achievement` notes only (`issue` and `follow_up` are
staff-only and the mentor's). Anyone who may not see the session reads nothing, and a note
they may not read does not exist for them (`NotFoundError`, a 404 on pages).

Who changes: a note is edited by its author only, and deleted by its author or by staff
(coordinators and admins may delete any note). Every change writes an entry in the session's
history (`services.tracking.events`) in the same transaction.

The checks themselves are in `services.permissions`. Functions flush; the caller commits once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select

from models import NoteKind, Occurrence, SessionNote, User, db
from models.types import utcnow
from services.common.errors import NotAllowed, NotFoundError, ValidationError
from services.common.numbers import is_row_id
from services.permissions import (
    ALL_KINDS,
    can_add_note,
    can_delete_note,
    can_edit_note,
    can_view_session,
    readable_kinds,
)
from services.tracking import events

BODY_MAX_LENGTH = 5000
# How much of a note its history entry quotes.
SUMMARY_EXCERPT = 80

KIND_LABELS = {
    NoteKind.GENERAL: "General",
    NoteKind.FOLLOW_UP: "Follow-up",
    NoteKind.ISSUE: "Issue",
    NoteKind.ACHIEVEMENT: "Achievement",
}

MESSAGE_BODY_REQUIRED = "Write the note."
MESSAGE_BODY_TOO_LONG = f"Notes are limited to {BODY_MAX_LENGTH:,} characters."
MESSAGE_KIND_REQUIRED = "Choose the kind of note: general, follow-up, issue or achievement."
MESSAGE_CANNOT_ADD = "Only the session's mentor and coordinators add notes."
MESSAGE_CANNOT_EDIT = "Only its author can edit a note."
MESSAGE_CANNOT_DELETE = "Only its author or a coordinator can delete a note."
MESSAGE_NO_NOTE = "No such note."

# Control characters other than tab and newline: PostgreSQL refuses NUL in text, and the
# others are invisible traps in a note.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


# --- Kinds and bodies ---------------------------------------------------------------------------


def kind_label(kind: NoteKind | str) -> str:
    try:
        return KIND_LABELS[NoteKind(kind)]
    except ValueError:
        return str(kind)


def clean_body(raw: str | None) -> str:
    """Line ends as `\\n`, control characters dropped, surrounding blanks trimmed."""
    text = (raw or "").replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text).strip()


def validate_note(kind, body: str | None) -> tuple[NoteKind, str]:
    """The kind as a `NoteKind` and the cleaned body; ValidationError naming each bad field."""
    errors: dict[str, str] = {}
    parsed: NoteKind | None = None
    try:
        parsed = NoteKind(kind) if kind not in (None, "") else None
    except ValueError:
        parsed = None
    if parsed is None:
        errors["kind"] = MESSAGE_KIND_REQUIRED
    cleaned = clean_body(body if isinstance(body, str) else None)
    if not cleaned:
        errors["body"] = MESSAGE_BODY_REQUIRED
    elif len(cleaned) > BODY_MAX_LENGTH:
        errors["body"] = MESSAGE_BODY_TOO_LONG
    if errors:
        raise ValidationError(errors)
    return parsed, cleaned


def _summary(verb: str, kind: NoteKind, body: str) -> str:
    """'Issue note added: first words of the note…' (one line)."""
    line = " ".join(body.split())
    if len(line) > SUMMARY_EXCERPT:
        line = line[: SUMMARY_EXCERPT - 1].rstrip() + "\u2026"
    return f"{kind_label(kind)} note {verb}: {line}"


# --- Reading ------------------------------------------------------------------------------------


@dataclass
class NoteRow:
    """A note as one viewer sees it: the note and what they may do to it."""

    note: SessionNote
    can_edit: bool
    can_delete: bool

    @property
    def kind_label(self) -> str:
        return kind_label(self.note.kind)

    @property
    def edited(self) -> bool:
        return self.note.updated_at > self.note.created_at


def note_row(viewer: User, note: SessionNote) -> NoteRow:
    return NoteRow(note, can_edit_note(viewer, note), can_delete_note(viewer, note))


def notes_for(viewer: User | None, occurrence: Occurrence) -> list[NoteRow]:
    """The notes of `occurrence` that `viewer` may read, newest first (one query)."""
    kinds = readable_kinds(viewer, occurrence)
    if not kinds:
        return []
    query = (
        select(SessionNote)
        .where(SessionNote.occurrence_id == occurrence.id)
        .order_by(SessionNote.created_at.desc(), SessionNote.id.desc())
    )
    if kinds != ALL_KINDS:
        query = query.where(SessionNote.kind.in_(sorted(kinds)))
    return [note_row(viewer, note) for note in db.session.scalars(query).unique()]


def get_visible_note(viewer: User | None, note_id: int) -> SessionNote:
    """The note if `viewer` may read it (its session visible, its kind readable); otherwise
    NotFoundError, whether it does not exist or is hidden from them."""
    note = db.session.get(SessionNote, note_id) if is_row_id(note_id) else None
    if note is None:
        raise NotFoundError(MESSAGE_NO_NOTE)
    occurrence = db.session.get(Occurrence, note.occurrence_id)
    if NoteKind(note.kind) not in readable_kinds(viewer, occurrence):
        raise NotFoundError(MESSAGE_NO_NOTE)
    return note


# --- Writing ------------------------------------------------------------------------------------


def add_note(actor: User, occurrence: Occurrence, *, kind, body: str | None) -> SessionNote:
    """Add a note to a session. NotFoundError if `actor` cannot see the session,
    NotAllowed if they may not write notes on it, ValidationError for a blank or too
    long body or a missing kind."""
    if not can_view_session(actor, occurrence):
        raise NotFoundError("No such session.")
    if not can_add_note(actor, occurrence):
        raise NotAllowed(MESSAGE_CANNOT_ADD)
    parsed, cleaned = validate_note(kind, body)
    already = db.session.scalar(
        select(SessionNote.id).where(
            SessionNote.occurrence_id == occurrence.id,
            SessionNote.author_id == actor.id,
            SessionNote.kind == parsed,
            SessionNote.body == cleaned,
        )
    )
    if already is not None:
        # A double-clicked Add or a resubmitted form: the note is there once.
        raise ValidationError({"body": "You already added this note to the session."})
    now = utcnow()
    note = SessionNote(
        occurrence_id=occurrence.id,
        author_id=actor.id,
        kind=parsed,
        body=cleaned,
        created_at=now,
        updated_at=now,
    )
    db.session.add(note)
    db.session.flush()
    events.record_event(
        occurrence.id, events.NOTE_ADDED, actor=actor, summary=_summary("added", parsed, cleaned)
    )
    return note


def edit_note(actor: User, note: SessionNote, *, kind, body: str | None) -> bool:
    """Change a note's kind and body (its author only: NotAllowed for anyone else).
    Returns False, writing nothing, when both are what the note already says."""
    if not can_edit_note(actor, note):
        raise NotAllowed(MESSAGE_CANNOT_EDIT)
    parsed, cleaned = validate_note(kind, body)
    if (NoteKind(note.kind), note.body) == (parsed, cleaned):
        return False
    note.kind, note.body, note.updated_at = parsed, cleaned, utcnow()
    db.session.flush()
    events.record_event(
        note.occurrence_id,
        events.NOTE_EDITED,
        actor=actor,
        summary=_summary("edited", parsed, cleaned),
    )
    return True


def delete_note(actor: User, note: SessionNote) -> None:
    """Delete a note (its author, or staff: NotAllowed for anyone else)."""
    if not can_delete_note(actor, note):
        raise NotAllowed(MESSAGE_CANNOT_DELETE)
    occurrence_id, summary = note.occurrence_id, _summary("deleted", note.kind, note.body)
    db.session.delete(note)
    db.session.flush()
    events.record_event(occurrence_id, events.NOTE_DELETED, actor=actor, summary=summary)
