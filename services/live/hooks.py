"""Where live events come from without each service having to say so: an ORM hook notes the
sessions a flush added, changed or deleted, and just before the transaction commits they are
published (one event per transaction, for staff), the events are numbered in commit order,
and after the commit the listeners are woken.

Writes outside the ORM publish for themselves (generation's bulk writes:
`services/timetable/generation.py`). Notifications publish theirs as they are written
(`services/notifications/inbox.py`), and a request's news with them: every change to a
request that the other party should see notifies them (never the person who made it, whose
own page has already redrawn what it changed).
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

from models import Occurrence
from services.live import events
from services.live.hub import wake_after_commit

_SESSIONS = "live_sessions"


@event.listens_for(Session, "after_flush")
def _note_changes(session: Session, _context) -> None:
    sessions: set[int] = session.info.get(_SESSIONS) or set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Occurrence):
            if obj in session.dirty and not session.is_modified(obj):
                continue
            sessions.add(obj.id)
    if sessions:
        session.info[_SESSIONS] = sessions


@event.listens_for(Session, "before_commit")
def _publish_changes(session: Session) -> None:
    if session.new or session.dirty or session.deleted:
        session.flush()  # what is still pending is part of this commit, and may add to the notes
    sessions = session.info.pop(_SESSIONS, set())
    if sessions:
        payload = (
            {"sessions": sorted(sessions)}
            if len(sessions) <= events.MAX_SESSION_IDS
            else {"all": True}
        )
        events.publish(events.SESSIONS, payload, audience=events.STAFF)
    if not session.in_nested_transaction():
        events.number_in_commit_order(session)


@event.listens_for(Session, "after_commit")
def _wake_listeners(session: Session) -> None:
    if session.in_nested_transaction():
        return
    if events.published_in_transaction(session):
        events.forget_pending(session)
        wake_after_commit()


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction) -> None:
    """A transaction that ended without committing (rolled back) published nothing."""
    if transaction.parent is not None:
        return
    events.forget_pending(session)
    session.info.pop(_SESSIONS, None)
