"""The live event log: what a page open elsewhere should show now, written in the transaction
of the change it reports (a rolled-back change tells nobody), read by `/events/stream`.

- `publish` adds the rows (for users, or for an audience: "staff", "all");
- the ORM hooks in `hooks.py` publish the sessions and requests a transaction changed;
- once the transaction has committed, the listeners are woken (`hub.wake_after_commit`).

Event ids only grow, in commit order, so a stream that has sent id N and resumes after N
(the browser's Last-Event-ID) misses nothing. SQLite writers are serialised (BEGIN
IMMEDIATE) and the table is AUTOINCREMENT. On PostgreSQL a sequence gives ids in the order
transactions *insert*, not commit: a later-committing transaction's lower id would land
behind a reader's cursor. So just before commit the transaction takes an advisory lock (held
to its end) and renumbers its own rows from the sequence: ids then follow commit order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, insert, or_, select

from models import LiveEvent, User, db
from models.types import utcnow

# Kinds, as sent (the browser dispatches each as a DOM event of that name).
NOTIFICATION = "notification-arrived"  # the bell refetches itself
REQUESTS = "requests-changed"  # lists of requests redraw themselves
SESSIONS = "sessions-changed"  # {"sessions": [ids]} or {"span": [first, last]} or {"all": true}
RESYNC = "resync"  # the events after the browser's last one were pruned: refetch everything
SIGNED_OUT = "signed-out"  # every login of the account ended: the bell says so, the stream ends

STAFF = "staff"
EVERYONE = "all"

# A change touching more sessions than this says "all" (the grid redraws itself) rather than
# list them: an event stays small.
MAX_SESSION_IDS = 200
# A notification to more people than this (a timetable update tells a whole school) is one
# event for everyone, whose bells then ask (a 204 when nothing is new for them).
MAX_RECIPIENTS = 1000

_PENDING_IDS = "live_event_ids"  # session.info: ids this transaction inserted
_BIND = "live_event_bind"
_ADVISORY_LOCK = 0x7E57_11FE  # pg_advisory_xact_lock key: live event numbering


@dataclass(frozen=True)
class Event:
    id: int
    user_id: int | None
    audience: str | None
    kind: str
    payload: dict


def publish(
    kind: str,
    payload: dict | None = None,
    *,
    users: int | Iterable[int] = (),
    audience: str | None = None,
) -> int:
    """Add the event (one row per user, or one for the audience) to the current transaction;
    returns how many rows. Listeners are woken once it commits."""
    users = [users] if isinstance(users, int) else sorted(set(users))
    stamp = utcnow()
    body = payload or {}
    if audience is None and len(users) > MAX_RECIPIENTS:
        users, audience = [], EVERYONE
    row = {"kind": kind, "payload": body, "created_at": stamp}
    rows = [{**row, "user_id": user_id, "audience": None} for user_id in users]
    if audience is not None:
        rows.append({**row, "user_id": None, "audience": audience})
    if not rows:
        return 0
    table = LiveEvent.__table__
    ids = db.session.execute(insert(table).returning(table.c.id), rows).scalars().all()
    db.session.info.setdefault(_PENDING_IDS, []).extend(ids)
    # The engine, for numbering at commit, which may run outside the app context.
    db.session.info[_BIND] = db.session.get_bind()
    return len(rows)


def published_in_transaction(session) -> bool:
    return bool(session.info.get(_PENDING_IDS))


def number_in_commit_order(session) -> None:
    """PostgreSQL: give this transaction's events their final ids under a lock held until it
    ends (see the module's docstring). Called just before the commit."""
    ids = session.info.get(_PENDING_IDS)
    bind = session.info.get(_BIND)
    if not ids or bind is None or bind.dialect.name != "postgresql":
        return
    connection = session.connection(bind_arguments={"bind": bind})
    connection.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (_ADVISORY_LOCK,))
    connection.exec_driver_sql(
        "UPDATE live_event AS e SET id = n.new_id FROM ("
        " SELECT id, nextval(pg_get_serial_sequence('live_event', 'id')) AS new_id"
        " FROM (SELECT id FROM live_event WHERE id = ANY(%s) ORDER BY id) AS mine"
        ") AS n WHERE e.id = n.id",
        (list(ids),),
    )


def forget_pending(session) -> None:
    session.info.pop(_PENDING_IDS, None)
    session.info.pop(_BIND, None)


# --- Reading ------------------------------------------------------------------------------------


def audiences_of(user: User) -> tuple[str, ...]:
    return (EVERYONE, STAFF) if user.is_staff else (EVERYONE,)


def reading(engine) -> Connection:
    """A connection for one short read (a plain BEGIN on SQLite, never BEGIN IMMEDIATE: the
    stream writes nothing and must not queue behind, or hold up, writers)."""
    return engine.connect().execution_options(termtable_reads_only=True)


_t = LiveEvent.__table__


def events_after(
    connection: Connection,
    after: int,
    *,
    user_id: int | None = None,
    audiences: Iterable[str] = (),
    limit: int = 500,
) -> list[Event]:
    """Events with an id above `after`, oldest first: all of them (the hub), or those for
    `user_id` and its `audiences` (a stream's replay). A range scan of the primary key."""
    query = select(_t.c.id, _t.c.user_id, _t.c.audience, _t.c.kind, _t.c.payload).where(
        _t.c.id > after
    )
    if user_id is not None:
        query = query.where(or_(_t.c.user_id == user_id, _t.c.audience.in_(list(audiences))))
    rows = connection.execute(query.order_by(_t.c.id).limit(limit))
    return [Event(*row) for row in rows]


def latest_event_id(connection: Connection | None = None) -> int:
    query = select(func.max(_t.c.id))
    found = (connection or db.session).scalar(query)
    return found or 0


def oldest_event_id(connection: Connection) -> int | None:
    return connection.scalar(select(func.min(_t.c.id)))


def is_for(event: Event, user_id: int, audiences: Iterable[str]) -> bool:
    return event.user_id == user_id if event.user_id is not None else event.audience in audiences


# --- Pruning ------------------------------------------------------------------------------------


# How long events are kept by default (LIVE_EVENT_KEEP_HOURS).
KEEP_HOURS = 24


def prune_events(*, keep: timedelta, now: datetime | None = None) -> int:
    """Delete events older than `keep` (flush only: the caller commits). A browser away for
    longer is told to refetch everything (`RESYNC`) when it reconnects. Returns how many."""
    if keep <= timedelta(0):
        raise ValueError("Keep events for a positive time.")
    cutoff = (now or utcnow()) - keep
    # The newest event is always kept: it is what tells a returning browser whether the
    # events after its last one are still all here.
    newest = latest_event_id()
    result = db.session.execute(
        delete(LiveEvent).where(LiveEvent.created_at < cutoff, LiveEvent.id < newest)
    )
    return result.rowcount
