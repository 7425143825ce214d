"""Reminders before sessions (issue 17): in the app and by e-mail (a notification, mailed by
the delivery job), a day and an hour before by default; each person chooses when, or none.

The worker runs `send_due_reminders` each minute. A reminder is due once its time has come and
the session has not started; each is recorded in `session_reminder` (session, person, minutes
before, the session's start) in the same transaction as its notification, inserted with "on
conflict do nothing" so that two workers running at once send it once. A cancelled session
gets none; a moved one is reminded again for its new time. A worker that was down sends, for
each person and session, only the nearest reminder due (a day's and an hour's both due: the
hour's), and records the other as skipped.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from models import (
    CourseGroup,
    Occurrence,
    OccurrenceMode,
    OccurrenceStatus,
    SessionReminder,
    User,
    db,
)
from models.types import one_of, utcnow
from services.common.errors import ValidationError
from services.common.wording import duration_words
from services.notifications.inbox import notify_each, participants_of_groups
from services.timetable.video_rooms import join_url

SESSION_REMINDER = "session_reminder"
# The times a person may choose, in minutes before the session.
REMINDER_CHOICES = (15, 60, 120, 24 * 60, 48 * 60)
DEFAULT_REMINDER_MINUTES = (24 * 60, 60)


def reminder_minutes(user: User) -> tuple[int, ...]:
    """When `user` is reminded, earliest first."""
    return _earliest_first(user.reminder_minutes)


def _earliest_first(chosen: list[int] | None) -> tuple[int, ...]:
    """A person's stored choice (None: the defaults), earliest first."""
    return tuple(sorted(set(DEFAULT_REMINDER_MINUTES if chosen is None else chosen), reverse=True))


def set_reminder_minutes(user: User, minutes: list[int]) -> None:
    """Change when `user` is reminded (an empty list: never). Raises ValidationError for a
    time that is not one of REMINDER_CHOICES."""
    wrong = [m for m in minutes if m not in REMINDER_CHOICES]
    if wrong:
        raise ValidationError(
            f"Choose reminders among {', '.join(describe_minutes(m) for m in REMINDER_CHOICES)}.",
            field="reminders",
        )
    user.reminder_minutes = sorted(set(minutes), reverse=True)


def describe_minutes(minutes: int) -> str:
    """`1440` is "1 day before"... as a person chooses it."""
    return f"{duration_words(minutes)} before"


def send_due_reminders(now: datetime, tz: ZoneInfo) -> int:
    """Send the reminders due at `now` (times said in `tz`); returns how many were sent.
    Flushes in the caller's transaction (the job commits)."""
    horizon = now + timedelta(minutes=max(REMINDER_CHOICES))
    sessions = db.session.execute(
        select(Occurrence, CourseGroup)
        .join(CourseGroup, CourseGroup.id == Occurrence.group_id)
        .where(
            Occurrence.status != OccurrenceStatus.CANCELLED,
            Occurrence.start_utc > now,
            Occurrence.start_utc <= horizon,
        )
        .order_by(Occurrence.start_utc)
    ).all()
    if not sessions:
        return 0
    people = participants_of_groups({group.id for _, group in sessions})
    user_ids = set().union(*people.values()) | {
        o.cover_mentor_id for o, _ in sessions if o.cover_mentor_id is not None
    }
    # Only each person's choice (this runs every minute, over two days of sessions).
    chosen = {
        row.id: _earliest_first(row.reminder_minutes)
        for row in db.session.execute(
            select(User.id, User.reminder_minutes).where(
                one_of(User.id, user_ids), User.is_active_account.is_(True)
            )
        )
    }
    # What each person was already reminded of (or skipped), per session and start.
    done: dict[tuple[int, int, datetime], set[int]] = {}
    for row in db.session.execute(
        select(
            SessionReminder.occurrence_id,
            SessionReminder.user_id,
            SessionReminder.minutes_before,
            SessionReminder.session_start_utc,
        ).where(one_of(SessionReminder.occurrence_id, [o.id for o, _ in sessions]))
    ):
        key = (row.occurrence_id, row.user_id, row.session_start_utc)
        done.setdefault(key, set()).add(row.minutes_before)

    # (occurrence, user): the minutes of the reminder to send, and those to skip.
    due: dict[tuple[int, int], tuple[int, list[int]]] = {}
    for occurrence, group in sessions:
        taught_by = occurrence.cover_mentor_id or group.mentor_id
        audience = set(people.get(group.id, ())) - {group.mentor_id}
        audience.add(taught_by)
        for user_id in audience:
            if user_id not in chosen:
                continue  # an account no longer active
            already = done.get((occurrence.id, user_id, occurrence.start_utc), set())
            nearest_done = min(already, default=None)
            come = [
                m
                for m in chosen[user_id]
                if occurrence.start_utc - timedelta(minutes=m) <= now
                and m not in already
                # A reminder further ahead than one already sent would come late (a time
                # chosen since): never after a nearer one.
                and (nearest_done is None or m < nearest_done)
            ]
            if come:  # the nearest one is sent; the earlier ones are skipped
                due[occurrence.id, user_id] = (come[-1], come[:-1])

    if not due:
        return 0
    by_id = {occurrence.id: (occurrence, group) for occurrence, group in sessions}
    rows = []
    for (occurrence_id, user_id), (minutes, skipped) in due.items():
        start = by_id[occurrence_id][0].start_utc
        rows.append(_row(occurrence_id, user_id, minutes, start, sent=True))
        rows.extend(_row(occurrence_id, user_id, m, start, sent=False) for m in skipped)
    won = _insert_once(rows)
    messages = []
    for occurrence_id, user_id in sorted(won):
        occurrence, group = by_id[occurrence_id]
        messages.append(([user_id], *_message(occurrence, group, now, tz)))
    return notify_each(messages) if messages else 0


def _row(occurrence_id: int, user_id: int, minutes: int, start: datetime, *, sent: bool) -> dict:
    return {
        "occurrence_id": occurrence_id,
        "user_id": user_id,
        "minutes_before": minutes,
        "session_start_utc": start,
        "sent": sent,
        "created_at": utcnow(),
    }


def _insert_once(rows: list[dict]) -> set[tuple[int, int]]:
    """Insert the reminder rows another worker has not inserted meanwhile; the (session,
    person) of the sent ones this call inserted."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    table = SessionReminder.__table__
    inserted = db.session.execute(
        insert(table)
        .on_conflict_do_nothing(
            index_elements=["occurrence_id", "user_id", "minutes_before", "session_start_utc"]
        )
        .returning(table.c.occurrence_id, table.c.user_id, table.c.sent),
        rows,
    )
    return {(o, u) for o, u, sent in inserted if sent}


def _message(
    occurrence: Occurrence, group: CourseGroup, now: datetime, tz: ZoneInfo
) -> tuple[str, str, str, str]:
    start = occurrence.start_utc.astimezone(tz)
    end = occurrence.end_utc.astimezone(tz)
    today = now.astimezone(tz).date()
    if start.date() == today:
        when = f"today at {start:%H:%M}"
    elif start.date() == today + timedelta(days=1):
        when = f"tomorrow at {start:%H:%M}"
    else:
        when = f"on {start:%a %d %b} at {start:%H:%M}"
    name = occurrence.title or group.name
    title = f"Reminder: {name} {when}"
    details = [f"{start:%a %d %b %Y}, {start:%H:%M}\u2013{end:%H:%M}."]
    if occurrence.mode == OccurrenceMode.ONLINE and occurrence.video_room_id:
        details.append(f"Join: {join_url(occurrence.video_room_id)}")
    elif occurrence.room is not None:
        details.append(f"Room: {occurrence.room.name}.")
    return SESSION_REMINDER, title, " ".join(details), f"/sessions/{occurrence.id}"
