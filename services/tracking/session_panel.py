"""What a session's page shows to one viewer, decided before anything is drawn.

The session panel: the session's exception, how it stands against its series, why it is
cancelled, its conflicts (for those who may see them), what each staff action would refuse,
and its tracking sections (completion, register, notes, files). Each section is also drawn alone
after its own actions, from the same function here. Templates format these and call no
service (they may still read the session's own relationships, its group or room names).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from models import Attachment, DateOverride, Occurrence, SessionEvent, User, db
from services.permissions import (
    can_add_note,
    can_delete_attachment,
    can_track,
    can_upload,
    may_see_conflicts,
)
from services.timetable.generation import SeriesStanding, series_standing
from services.timetable.sessions import (
    SessionConflict,
    cancel_refusal,
    cancellation_reason,
    delete_refusal,
    edit_refusal,
    exception_of,
    restore_refusal,
    session_conflicts,
)
from services.tracking.attachments import (
    KIND_BY_CONTENT_TYPE,
    attachments_of,
    format_size,
)
from services.tracking.attendance import RegisterSection, register_section
from services.tracking.completion import completion_history, completion_refusal
from services.tracking.notes import NoteRow, notes_for


@dataclass(frozen=True)
class CompletionSection:
    """What the completion section shows to the viewer."""

    can_act: bool
    # Why Complete is not offered now (not started, cancelled, completed), or None.
    refusal: str | None
    can_cancel: bool
    completer: User | None
    history: list[SessionEvent]


def completion_section(
    viewer: User, occurrence: Occurrence, *, now: datetime | None = None
) -> CompletionSection:
    can_act = can_track(viewer, occurrence)
    history = completion_history(occurrence.id) if occurrence.is_completed else []
    completer = (
        db.session.get(User, occurrence.completed_by_id) if occurrence.completed_by_id else None
    )
    return CompletionSection(
        can_act=can_act,
        refusal=completion_refusal(occurrence, now),
        # Staff cancel from the session's Actions; the mentor from here.
        can_cancel=can_act and not viewer.is_staff and not cancel_refusal(occurrence),
        completer=completer,
        history=history,
    )


@dataclass(frozen=True)
class NotesSection:
    """The notes the viewer may read (newest first), and whether they may add one."""

    rows: list[NoteRow]
    can_add: bool


def notes_section(viewer: User, occurrence: Occurrence) -> NotesSection:
    return NotesSection(
        rows=notes_for(viewer, occurrence), can_add=can_add_note(viewer, occurrence)
    )


@dataclass(frozen=True)
class FileRow:
    attachment: Attachment
    kind_label: str
    size_label: str
    can_delete: bool


@dataclass(frozen=True)
class FilesSection:
    """The session's files (newest first), each with a delete button where allowed, and
    whether the viewer may upload."""

    rows: list[FileRow]
    can_upload: bool


def files_section(viewer: User, occurrence: Occurrence) -> FilesSection:
    rows = [
        FileRow(
            attachment=attachment,
            kind_label=(
                KIND_BY_CONTENT_TYPE[attachment.content_type].label
                if attachment.content_type in KIND_BY_CONTENT_TYPE
                else attachment.content_type
            ),
            size_label=format_size(attachment.size_bytes),
            can_delete=can_delete_attachment(viewer, attachment, occurrence),
        )
        for attachment in attachments_of(occurrence.id)
    ]
    return FilesSection(rows=rows, can_upload=can_upload(viewer, occurrence))


@dataclass(frozen=True)
class SessionPanel:
    """Everything the session panel shows to one viewer."""

    occurrence: Occurrence
    override: DateOverride | None
    cancel_reason: str
    # None for a viewer who may not see conflicts (the section is left out).
    conflicts: list[SessionConflict] | None
    edit_refusal: str | None
    cancel_refusal: str | None
    restore_refusal: str | None
    delete_refusal: str | None
    completion: CompletionSection
    notes: NotesSection
    files: FilesSection
    # The attendance register as the viewer sees it (None: not for them).
    register: RegisterSection | None
    # A series session against its series now (None for a one-time session).
    standing: SeriesStanding | None


def session_panel(
    viewer: User, occurrence: Occurrence, *, tz: ZoneInfo, now: datetime | None = None
) -> SessionPanel:
    now = now or datetime.now(UTC)
    override = exception_of(occurrence)
    return SessionPanel(
        occurrence=occurrence,
        override=override,
        cancel_reason=cancellation_reason(occurrence, override),
        conflicts=(
            session_conflicts(occurrence, tz) if may_see_conflicts(viewer, occurrence) else None
        ),
        edit_refusal=edit_refusal(occurrence),
        cancel_refusal=cancel_refusal(occurrence),
        restore_refusal=restore_refusal(occurrence),
        delete_refusal=delete_refusal(occurrence),
        completion=completion_section(viewer, occurrence, now=now),
        notes=notes_section(viewer, occurrence),
        files=files_section(viewer, occurrence),
        register=register_section(viewer, occurrence, tz=tz, now=now),
        standing=series_standing(occurrence, tz=tz, now=now),
    )
