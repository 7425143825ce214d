"""Tracking over JSON: completing a session, its notes and its files.

A session the user may not see is 404 everywhere here (and so is an attachment of one).
Completing is for the session's mentor and staff (403 for others who see it); a session
completed already, not started yet or cancelled is 409. Notes: everyone who sees the session
reads the kinds they may (students `general` and `achievement` only); its mentor and staff
write them. Files: everyone who sees the session lists and downloads them; its mentor and
staff upload (multipart, type decided from the content: 422 for a type not allowed, 413 past
the size limit).
"""

from __future__ import annotations

import marshmallow as ma
from flask import url_for
from flask_smorest.fields import Upload
from marshmallow import fields, validate
from sqlalchemy import select
from webargs.multidictproxy import MultiDictProxy
from werkzeug.datastructures import CombinedMultiDict

from blueprints.access import takes_uploads
from blueprints.api.common import (
    ApiBlueprint,
    Instant,
    LocalTime,
    PageArgs,
    RefSchema,
    StrictSchema,
    abort_problem,
    api_user,
    load_or_404,
    load_visible_session,
    org_tz,
    page_schema,
    paged,
    paginate,
    ref,
)
from blueprints.api.timetable.schemas import SessionDetailSchema, session_detail
from blueprints.attachments.files import max_upload_bytes, send_attachment, storage
from models import Attachment, NoteKind, Occurrence, SessionNote, User, db
from services.permissions import (
    can_add_note,
    can_track,
    can_upload,
    can_view_session,
    readable_kinds,
)
from services.tracking.attachments import (
    KIND_BY_CONTENT_TYPE,
    attach_upload,
)
from services.tracking.completion import complete_session
from services.tracking.notes import add_note, get_visible_note

blp = ApiBlueprint(
    "api_tracking",
    __name__,
    description="Completing sessions, their notes and their files",
)

NOTE_KINDS = [k.value for k in NoteKind]


# --- Completion ---------------------------------------------------------------------------------


class CompletionSchema(ma.Schema):
    actual_start = LocalTime()
    actual_end = LocalTime()
    actual_starts_at = Instant()
    actual_ends_at = Instant()
    code = fields.String()
    notes = fields.String(allow_none=True)
    completed_at = Instant()
    completed_by = fields.Nested(RefSchema, allow_none=True)


class CompletedSessionSchema(SessionDetailSchema):
    completion = fields.Nested(CompletionSchema)


def completion_json(occurrence: Occurrence) -> dict:
    tz = org_tz()
    by = db.session.get(User, occurrence.completed_by_id) if occurrence.completed_by_id else None
    return {
        "actual_start": occurrence.actual_start_utc.astimezone(tz).time(),
        "actual_end": occurrence.actual_end_utc.astimezone(tz).time(),
        "actual_starts_at": occurrence.actual_start_utc,
        "actual_ends_at": occurrence.actual_end_utc,
        "code": occurrence.completion_code,
        "notes": occurrence.completion_notes,
        "completed_at": occurrence.completed_at,
        "completed_by": ref(by),
    }


class CompleteInput(StrictSchema):
    actual_start = LocalTime(
        required=True,
        metadata={
            "description": "HH:MM local, taken nearest the scheduled start (the session's "
            "date, or the next day for a late session begun after midnight)"
        },
    )
    actual_end = LocalTime(
        required=True,
        metadata={
            "description": "HH:MM local, after the actual start; an end earlier than the "
            "start is on the next day (23:51-00:41), at most 12 hours after it"
        },
    )
    code = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"description": "3 to 40 letters, digits, dashes; null or blank: generated"},
    )
    notes = fields.String(load_default="", metadata={"description": "What happened"})


@blp.post("/sessions/<id:occurrence_id>/complete")
@blp.arguments(CompleteInput)
@blp.response(200, CompletedSessionSchema)
def complete(values, occurrence_id: int):
    """Record what actually happened and mark the session completed (its mentor or staff).
    409 if it is completed already, cancelled or not started yet; a code another session
    has is 422."""
    occurrence = load_visible_session(occurrence_id)
    user = api_user()
    if not can_track(user, occurrence):
        abort_problem(403, "Only the session's mentor or staff complete it.")
    complete_session(
        occurrence,
        actual_start=values["actual_start"],
        actual_end=values["actual_end"],
        code=values["code"],
        notes=values["notes"],
        actor=user,
        tz=org_tz(),
    )
    db.session.commit()
    data = session_detail(occurrence)
    data["completion"] = completion_json(occurrence)
    return data


# --- Notes --------------------------------------------------------------------------------------


class NoteSchema(ma.Schema):
    id = fields.Integer()
    session_id = fields.Integer()
    kind = fields.String(metadata={"description": " | ".join(NOTE_KINDS)})
    body = fields.String()
    author = fields.Nested(RefSchema, allow_none=True)
    created_at = Instant()
    updated_at = Instant()


def note_json(note: SessionNote) -> dict:
    return {
        "id": note.id,
        "session_id": note.occurrence_id,
        "kind": str(note.kind),
        "body": note.body,
        "author": ref(db.session.get(User, note.author_id)),
        "created_at": note.created_at,
        "updated_at": note.updated_at,
    }


@blp.get("/sessions/<id:occurrence_id>/notes")
@blp.arguments(PageArgs, location="query", as_kwargs=False)
@blp.response(200, page_schema(NoteSchema))
def list_notes(args, occurrence_id: int):
    """The session's notes the user may read, oldest first (students: general and
    achievement notes only)."""
    occurrence = load_visible_session(occurrence_id)
    kinds = sorted(readable_kinds(api_user(), occurrence))
    query = select(SessionNote).where(
        SessionNote.occurrence_id == occurrence.id, SessionNote.kind.in_(kinds)
    )
    page = paginate(query, [SessionNote.created_at, SessionNote.id], args)
    return paged(page, [note_json(n) for n in page["items"]])


class NoteInput(StrictSchema):
    kind = fields.String(required=True, validate=validate.OneOf(NOTE_KINDS))
    body = fields.String(required=True, metadata={"description": "At most 5,000 characters"})


@blp.post("/sessions/<id:occurrence_id>/notes")
@blp.arguments(NoteInput)
@blp.response(201, NoteSchema)
def create_note(values, occurrence_id: int):
    """Add a note to a session (its mentor or staff; students read notes)."""
    occurrence = load_visible_session(occurrence_id)
    user = api_user()
    if not can_add_note(user, occurrence):
        abort_problem(403, "Only the session's mentor and staff add notes.")
    note = add_note(user, occurrence, kind=values["kind"], body=values["body"])
    db.session.commit()
    location = url_for("api_tracking.get_note", note_id=note.id)
    return note_json(note), 201, {"Location": location}


@blp.get("/notes/<id:note_id>")
@blp.response(200, NoteSchema)
def get_note(note_id: int):
    """One note (404 if its session is hidden from the user or its kind is not for them)."""
    return note_json(get_visible_note(api_user(), note_id))


# --- Attachments --------------------------------------------------------------------------------


class AttachmentSchema(ma.Schema):
    id = fields.Integer()
    session_id = fields.Integer()
    name = fields.String(metadata={"description": "The file's name, cleaned"})
    content_type = fields.String(metadata={"description": "Decided from the content"})
    kind = fields.String(metadata={"description": "In words (PDF, MP4 video...)"})
    size_bytes = fields.Integer()
    sha256 = fields.String()
    description = fields.String()
    uploader = fields.Nested(RefSchema, allow_none=True)
    created_at = Instant()
    download = fields.String(metadata={"description": "URL of the file (GET)"})


def attachment_json(attachment: Attachment) -> dict:
    kind = KIND_BY_CONTENT_TYPE.get(attachment.content_type)
    return {
        "id": attachment.id,
        "session_id": attachment.occurrence_id,
        "name": attachment.original_name,
        "content_type": attachment.content_type,
        "kind": kind.label if kind else attachment.content_type,
        "size_bytes": attachment.size_bytes,
        "sha256": attachment.sha256,
        "description": attachment.description or "",
        "uploader": ref(db.session.get(User, attachment.uploader_id)),
        "created_at": attachment.created_at,
        "download": url_for("api_tracking.download", attachment_id=attachment.id),
    }


@blp.get("/sessions/<id:occurrence_id>/attachments")
@blp.arguments(PageArgs, location="query", as_kwargs=False)
@blp.response(200, page_schema(AttachmentSchema))
def list_attachments(args, occurrence_id: int):
    """The session's files (metadata; download each from its `download` URL), oldest first."""
    occurrence = load_visible_session(occurrence_id)
    query = select(Attachment).where(Attachment.occurrence_id == occurrence.id)
    page = paginate(query, [Attachment.created_at, Attachment.id], args)
    return paged(page, [attachment_json(a) for a in page["items"]])


_BaseParser = type(ApiBlueprint.ARGUMENTS_PARSER)


class MultipartParser(_BaseParser):
    """webargs' parser with a `multipart` location: the form's files and fields together, so
    one schema validates (and documents) an upload and its description."""

    __location_map__ = {**_BaseParser.__location_map__, "multipart": "load_multipart"}

    def load_multipart(self, req, schema):
        return MultiDictProxy(CombinedMultiDict([req.files, req.form]), schema)


blp.ARGUMENTS_PARSER = MultipartParser()
blp.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
    **ApiBlueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
    "multipart": "multipart/form-data",
}


class UploadInput(StrictSchema):
    file = Upload(required=True, metadata={"description": "The file (type from its content)"})
    description = fields.String(
        load_default="", metadata={"description": "One line, at most 500 characters"}
    )


@blp.post("/sessions/<id:occurrence_id>/attachments")
@takes_uploads
@blp.arguments(UploadInput, location="multipart")
@blp.response(201, AttachmentSchema)
def upload(values, occurrence_id: int):
    """Attach a file to a session (its mentor or staff), as `multipart/form-data` with `file`
    and an optional `description`. Allowed: PDF, video, audio, DOCX/XLSX/DOC/XLS and images,
    decided from the content (422 otherwise); 413 past the size limit."""
    occurrence = load_visible_session(occurrence_id)
    user = api_user()
    if not can_upload(user, occurrence):
        abort_problem(403, "Only the session's mentor or staff add files.")
    sent = values["file"]
    attachment = attach_upload(
        occurrence=occurrence,
        uploader=user,
        stream=sent.stream,
        original_name=sent.filename,
        description=values["description"],
        storage=storage(),
        max_bytes=max_upload_bytes(),
    )
    db.session.commit()
    location = url_for("api_tracking.download", attachment_id=attachment.id)
    return attachment_json(attachment), 201, {"Location": location}


@blp.get("/attachments/<id:attachment_id>")
@blp.doc(
    responses={
        "200": {
            "description": "The file, as a download (its type in Content-Type)",
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
)
def download(attachment_id: int):
    """Download a file (404 if the user may not see its session), with the headers of the
    pages' download: attachment disposition, ETag (its sha256), private, nosniff."""
    attachment = load_or_404(Attachment, attachment_id, "attachment")
    if not can_view_session(api_user(), db.session.get(Occurrence, attachment.occurrence_id)):
        abort_problem(404, "No such attachment.")
    response = send_attachment(attachment)
    if response is None:
        abort_problem(404, "This attachment's file is missing.")
    return response
