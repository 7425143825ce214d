"""A session's history: who did what, and when (written in the change's transaction)."""

from __future__ import annotations

from models import SessionEvent, User, db

# Kinds, as stored (the history timeline words them).
COMPLETED = "completed"
COMPLETION_CORRECTED = "completion_corrected"
CANCELLED = "cancelled"
RESTORED = "restored"
MOVED = "moved"
NOTE_ADDED = "note_added"
NOTE_EDITED = "note_edited"
NOTE_DELETED = "note_deleted"
FILE_ADDED = "file_added"
FILE_DELETED = "file_deleted"


def record_event(
    occurrence_id: int, kind: str, *, actor: User | None, summary: str = ""
) -> SessionEvent:
    """Append one entry to a session's history (flush only)."""
    event = SessionEvent(
        occurrence_id=occurrence_id,
        kind=kind,
        actor_id=actor.id if actor is not None else None,
        summary=summary,
    )
    db.session.add(event)
    db.session.flush()
    return event
