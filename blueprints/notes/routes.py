"""Typed notes on sessions: the notes section of a session, add, edit inline and delete.

`GET /notes/sessions/<id>` is the section (`notes/_notes_section.html`) to an htmx partial
request and a page of its own otherwise; the session page includes the same template with
the section's data (`services.tracking.session_panel.notes_section`), so it works without
JavaScript. `POST /notes/sessions/<id>` adds a note: htmx gets the section back (422 with the
messages next to the fields and what was typed), a plain form a redirect to the session.
`GET/POST /notes/<id>/edit` edits a note in place of its row (`notes/_note_edit.html`, back
to `notes/_note.html` once saved); `GET /notes/<id>` is the row (Cancel);
`POST /notes/<id>/delete` deletes it and answers the section.

Access: a session the user cannot see, or a note they may not read (a student and an
`issue` note), is 404; a note or session they can see but may not change is 403.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from blueprints.access import is_htmx_partial
from blueprints.feedback import form_action, page_or_fragment, toast
from models import NoteKind, Occurrence, SessionNote, db
from services.timetable.sessions import get_visible_session
from services.tracking.notes import (
    BODY_MAX_LENGTH,
    KIND_LABELS,
    add_note,
    delete_note,
    edit_note,
    get_visible_note,
    note_row,
)
from services.tracking.session_panel import NotesSection, notes_section

bp = Blueprint("notes", __name__, url_prefix="/notes")

KIND_CHOICES = [(kind.value, KIND_LABELS[kind]) for kind in NoteKind]


@dataclass
class NoteDraft:
    """What the note form shows: the values typed and the messages next to the fields."""

    kind: str = NoteKind.GENERAL.value
    body: str = ""
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class NotesView:
    """Everything the notes section shows: the section's data and the form's draft."""

    rows: list
    can_add: bool
    draft: NoteDraft


@bp.app_template_global("notes_view")
def notes_view(notes: NotesSection, draft: NoteDraft | None = None) -> NotesView:
    """The notes section's data with the form's draft (an empty form without one)."""
    return NotesView(rows=notes.rows, can_add=notes.can_add, draft=draft or NoteDraft())


@bp.app_template_global("note_kind_choices")
def note_kind_choices() -> list[tuple[str, str]]:
    return KIND_CHOICES


@bp.app_template_global("note_body_max_length")
def note_body_max_length() -> int:
    return BODY_MAX_LENGTH


# --- Helpers ------------------------------------------------------------------------------------


def _session_or_404(occurrence_id: int) -> Occurrence:
    return get_visible_session(current_user, occurrence_id)


def _note_or_404(note_id: int) -> SessionNote:
    return get_visible_note(current_user, note_id)


def _draft_from_form(errors: dict[str, str] | None = None) -> NoteDraft:
    return NoteDraft(
        kind=request.form.get("kind", ""),
        body=request.form.get("body", ""),
        errors=dict(errors or {}),
    )


def _session_url(occurrence_id: int, anchor: str) -> str:
    return url_for("sessions.detail", occurrence_id=occurrence_id, _anchor=anchor)


def _section(occurrence: Occurrence, *, status=200, headers=None, draft=None, notice=None):
    return page_or_fragment(
        "notes/notes.html",
        "notes/_notes_section.html",
        status,
        headers,
        occurrence=occurrence,
        notes=notes_section(current_user, occurrence),
        note_draft=draft,
        notes_notice=notice,
    )


# --- Routes -------------------------------------------------------------------------------------


@bp.get("/sessions/<id:occurrence_id>")
@login_required
def section(occurrence_id: int):
    return _section(_session_or_404(occurrence_id))


@bp.post("/sessions/<id:occurrence_id>")
@login_required
def add(occurrence_id: int):
    occurrence = _session_or_404(occurrence_id)
    with form_action() as outcome:
        note = add_note(
            current_user,
            occurrence,
            kind=request.form.get("kind"),
            body=request.form.get("body"),
        )
    if outcome.failed:
        occurrence = _session_or_404(occurrence_id)
        return _section(occurrence, status=422, draft=_draft_from_form(outcome.messages))
    message = f"{KIND_LABELS[NoteKind(note.kind)]} note added."
    if not is_htmx_partial():
        flash(message, "success")
        return redirect(_session_url(occurrence.id, f"notes-{occurrence.id}"))
    return _section(occurrence, headers=toast(message), notice=message)


@bp.get("/<id:note_id>")
@login_required
def row(note_id: int):
    note = _note_or_404(note_id)
    if not is_htmx_partial():
        return redirect(_session_url(note.occurrence_id, f"note-{note.id}"))
    return render_template("notes/_note.html", row=note_row(current_user, note))


@bp.route("/<id:note_id>/edit", methods=["GET", "POST"])
@login_required
def edit(note_id: int):
    note = _note_or_404(note_id)
    if note.author_id != current_user.id:
        abort(403)
    status, draft = 200, NoteDraft(kind=str(note.kind), body=note.body)
    if request.method == "POST":
        with form_action() as outcome:
            changed = edit_note(
                current_user, note, kind=request.form.get("kind"), body=request.form.get("body")
            )
        if outcome.failed:
            note = _note_or_404(note_id)
            status, draft = 422, _draft_from_form(outcome.messages)
        else:
            message = "Note saved." if changed else "Nothing changed."
            if not is_htmx_partial():
                flash(message, "success")
                return redirect(_session_url(note.occurrence_id, f"note-{note.id}"))
            return (
                render_template("notes/_note.html", row=note_row(current_user, note)),
                200,
                toast(message),
            )
    return page_or_fragment(
        "notes/edit.html", "notes/_note_edit.html", status, note=note, draft=draft
    )


@bp.post("/<id:note_id>/delete")
@login_required
def delete(note_id: int):
    note = _note_or_404(note_id)
    occurrence = db.session.get(Occurrence, note.occurrence_id)
    delete_note(current_user, note)
    db.session.commit()
    message = "Note deleted."
    if not is_htmx_partial():
        flash(message, "success")
        return redirect(_session_url(occurrence.id, f"notes-{occurrence.id}"))
    return _section(occurrence, headers=toast(message), notice=message)
