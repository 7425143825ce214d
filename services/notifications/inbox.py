"""Notifications: written in the transaction of the change they report (an outbox), so a
rolled-back change notifies nobody; mailed by a background job once it has committed, when a
mail server is configured.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from flask import current_app, has_app_context
from sqlalchemy import func, insert, select, union_all, update

from models import CourseGroup, EmailStatus, Enrolment, Notification, Occurrence, User, db
from models.types import one_of, utcnow
from services.jobs.queue import enqueue_after_commit
from services.jobs.tasks import deliver_mail
from services.live.events import NOTIFICATION, REQUESTS, publish

# Kinds, as stored (and shown as the notification's badge).
REQUEST_NEW = "request_new"
REQUEST_APPROVED = "request_approved"
REQUEST_REJECTED = "request_rejected"
REQUEST_DECLINED = "request_declined"
# Some dates of a pending request were taken by another approval; it stays pending.
REQUEST_DATES_TAKEN = "request_dates_taken"
REQUEST_WITHDRAWN = "request_withdrawn"
SESSION_CANCELLED = "session_cancelled"
SESSION_MOVED = "session_moved"
SESSION_RESTORED = "session_restored"
SESSION_REMOVED = "session_removed"
TITLE_MAX = 200


def _mail_configured() -> bool:
    return has_app_context() and bool(current_app.config.get("MAIL_SERVER"))


def notify(
    user_ids: int | Iterable[int],
    kind: str,
    title: str,
    body: str = "",
    link: str | None = None,
) -> list[Notification]:
    """Add a notification for each user (flush only: the caller's transaction decides).

    A title too long for its column is shortened, and given whole at the top of the body:
    what changed (a new date, time or room) is never cut off.
    """
    ids = [user_ids] if isinstance(user_ids, int) else sorted(set(user_ids))
    title, body = _fitted(title, body)
    status = EmailStatus.PENDING if _mail_configured() else EmailStatus.NONE
    notes = [
        Notification(
            user_id=user_id,
            kind=kind,
            title=title,
            body=body,
            link=link,
            email_status=status,
        )
        for user_id in ids
    ]
    db.session.add_all(notes)
    db.session.flush()
    _publish_live(kind, ids)
    if notes and status is EmailStatus.PENDING:
        # A worker mails them once this transaction has committed.
        enqueue_after_commit(deliver_mail)
    return notes


def _publish_live(kind: str, user_ids) -> None:
    """Live events for the recipients' open pages: their bells (and toasts), and their lists
    of requests when the news is about a request."""
    publish(NOTIFICATION, users=user_ids)
    if kind.startswith("request_"):
        publish(REQUESTS, users=user_ids)


def _fitted(title: str, body: str) -> tuple[str, str]:
    """A title too long for its column, shortened, and given whole at the top of the body."""
    if len(title) > TITLE_MAX:
        body = title + (f"\n\n{body}" if body else "")
        title = title[: TITLE_MAX - 1] + "…"
    return title, body


def notify_each(messages: Iterable[tuple[Iterable[int], str, str, str, str | None]]) -> int:
    """`notify` for many messages at once: (user ids, kind, title, body, link) each, added in
    one INSERT (no ORM objects), flushed in the caller's transaction. A timetable update
    tells thousands of people at once. Returns how many notifications were added."""
    status = EmailStatus.PENDING if _mail_configured() else EmailStatus.NONE
    stamp = utcnow()
    fitted, recipients = [], []
    for user_ids, kind, title, body, link in messages:
        title, body = _fitted(title, body or "")
        fitted.append((kind, title, body, link))
        recipients.append(sorted(set(user_ids)))
    added = sum(map(len, recipients))
    if not added:
        return 0
    publish(NOTIFICATION, users={user for users in recipients for user in users})
    about_requests = {
        user
        for (kind, *_), users in zip(fitted, recipients, strict=True)
        if kind.startswith("request_")
        for user in users
    }
    if about_requests:
        publish(REQUESTS, users=about_requests)
    if db.session.get_bind().dialect.name == "postgresql":
        _insert_from_arrays(fitted, recipients, stamp, status)
    else:
        # SQLite's executemany runs the rows in one call.
        db.session.execute(
            insert(Notification.__table__),
            [
                {
                    "user_id": user_id,
                    "kind": kind,
                    "title": title,
                    "body": body,
                    "link": link,
                    "created_at": stamp,
                    "read_at": None,
                    "email_status": status,
                    "email_attempts": 0,
                }
                for (kind, title, body, link), user_ids in zip(fitted, recipients, strict=True)
                for user_id in user_ids
            ],
        )
    if status is EmailStatus.PENDING:
        enqueue_after_commit(deliver_mail)
    return added


# PostgreSQL: the messages as one array per column and their recipients as (user, message)
# arrays, joined by the server in one statement. psycopg's executemany sends one INSERT per
# recipient (105,000 for a forced run at 5,000 series), and multi-row INSERTs of the same rows
# spent most of their time having psycopg parse their placeholders.
_NOTIFY_FROM_ARRAYS = (
    "INSERT INTO notification (user_id, kind, title, body, link, created_at, read_at, "
    "email_status, email_attempts) "
    "SELECT r.user_id, m.kind, m.title, m.body, m.link, %(stamp)s, NULL, %(status)s, 0 "
    "FROM unnest(%(users)b::integer[], %(messages)b::integer[]) WITH ORDINALITY "
    "AS r(user_id, message, n) "
    "JOIN unnest(%(kinds)b::text[], %(titles)b::text[], %(bodies)b::text[], %(links)b::text[]) "
    "WITH ORDINALITY AS m(kind, title, body, link, message) USING (message) ORDER BY r.n"
)


def _insert_from_arrays(fitted: list[tuple], recipients: list[list[int]], stamp, status) -> None:
    kinds, titles, bodies, links = (list(column) for column in zip(*fitted, strict=True))
    db.session.connection().exec_driver_sql(
        _NOTIFY_FROM_ARRAYS,
        {
            "users": [user_id for user_ids in recipients for user_id in user_ids],
            "messages": [n for n, user_ids in enumerate(recipients, 1) for _ in user_ids],
            "kinds": kinds,
            "titles": titles,
            "bodies": bodies,
            "links": links,
            "stamp": stamp,
            "status": status.value,
        },
    )


def participants_of(occurrence: Occurrence) -> set[int]:
    """The mentor and the enrolled students of a session's group, and the substitute
    covering it if any (active accounts)."""
    people = participants_of_groups([occurrence.group_id]).get(occurrence.group_id, set())
    return people | active_users([occurrence.cover_mentor_id])


def active_users(user_ids: Iterable[int | None]) -> set[int]:
    """Those of `user_ids` (None skipped) with an active account, in one statement (none
    without ids)."""
    ids = {i for i in user_ids if i is not None}
    if not ids:
        return set()
    return set(
        db.session.scalars(
            select(User.id).where(User.id.in_(sorted(ids)), User.is_active_account.is_(True))
        )
    )


def with_covers(
    people: dict[int, set[int]], covers: Iterable[tuple[int, int | None]]
) -> dict[int, set[int]]:
    """`people` by group (`participants_of_groups`) with the substitutes covering some of
    their sessions added, from (group id, cover mentor id or None) pairs: a message about a
    group's sessions reaches whoever teaches one of them (active accounts, one statement)."""
    pairs = [(group_id, cover) for group_id, cover in covers if cover is not None]
    active = active_users(cover for _, cover in pairs)
    for group_id, cover in pairs:
        if cover in active:
            people.setdefault(group_id, set()).add(cover)
    return people


def participants_of_groups(group_ids: Iterable[int]) -> dict[int, set[int]]:
    """Each group's mentor and enrolled students with an active account, in one statement."""
    ids = set(group_ids)
    if not ids:
        return {}
    mentors = select(CourseGroup.id.label("group_id"), CourseGroup.mentor_id.label("user_id"))
    students = select(Enrolment.group_id, Enrolment.student_id)
    # A timetable update can concern every group: their ids bound as one list (`one_of`).
    members = union_all(
        mentors.where(one_of(CourseGroup.id, name="groups")),
        students.where(one_of(Enrolment.group_id, name="groups")),
    ).subquery()
    rows = db.session.execute(
        select(members.c.group_id, members.c.user_id)
        .join(User, User.id == members.c.user_id)
        .where(User.is_active_account.is_(True)),
        {"groups": ids},
    )
    found: dict[int, set[int]] = {}
    for group_id, user_id in rows:
        found.setdefault(group_id, set()).add(user_id)
    return found


def notify_session_change(
    occurrence: Occurrence, kind: str, title: str, body: str = "", *, actor: User | None
) -> list[Notification]:
    """Tell a session's participants (not the person who made the change) what happened."""
    recipients = participants_of(occurrence) - ({actor.id} if actor is not None else set())
    if not recipients:
        return []
    return notify(recipients, kind, title, body, link=f"/sessions/{occurrence.id}")


def bell_state(user_id: int) -> tuple[int, int]:
    """(unread count, newest id) in one statement: what the bell shows and compares."""
    unread, latest = db.session.execute(
        select(
            func.count(Notification.id).filter(Notification.read_at.is_(None)),
            func.max(Notification.id),
        ).where(Notification.user_id == user_id)
    ).one()
    return unread, latest or 0


def unread_count(user_id: int) -> int:
    return db.session.scalar(
        select(func.count(Notification.id)).where(
            Notification.user_id == user_id, Notification.read_at.is_(None)
        )
    )


def latest_id(user_id: int) -> int:
    """The id of the user's newest notification (0 without any): what the bell compares."""
    return (
        db.session.scalar(select(func.max(Notification.id)).where(Notification.user_id == user_id))
        or 0
    )


def mark_read(user_id: int, notification_ids: Iterable[int] | None = None) -> int:
    """Mark the user's notifications (all, or the given ones) read; returns how many."""
    query = update(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    if notification_ids is not None:
        query = query.where(Notification.id.in_(list(notification_ids)))
    result = db.session.execute(query.values(read_at=datetime.now(UTC)))
    return result.rowcount
