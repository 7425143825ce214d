"""What a closure does to the sessions already made: adding one cancels those on its days (by the
closure, not by per-series exceptions), removing it brings them back and makes the ones
generation skipped meanwhile; the people concerned are told, one message per group.

Protected sessions (completed, edited by hand, already started, or carrying notes or files)
are never touched: they are reported, as generation reports what it keeps.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from models import Attachment, Closure, Occurrence, OccurrenceStatus, SessionNote, User, db
from models.types import one_of
from services.common.timeutil import local_day_bounds
from services.common.wording import plural
from services.notifications.inbox import (
    SESSION_CANCELLED,
    SESSION_RESTORED,
    notify_each,
    participants_of_groups,
    with_covers,
)
from services.school_year import ClosureData, closed_days, save_closure_record
from services.timetable.clashes import sessions_in_conflict
from services.timetable.conflicts import lock_schedule
from services.timetable.generation import generate_occurrences

# Sessions named in a group's message; the rest are counted.
LISTED = 10


@dataclass
class ClosureOutcome:
    closure: Closure | None
    cancelled: list[Occurrence] = field(default_factory=list)
    restored: list[Occurrence] = field(default_factory=list)
    # Made by generation on days the closure no longer closes.
    created: int = 0
    # On its days and left as they are: completed, edited by hand, started, with records.
    kept: list[Occurrence] = field(default_factory=list)
    # Back on and clashing with another session (booked while they were cancelled).
    clashing: list[Occurrence] = field(default_factory=list)
    notified: int = 0


def add_closure(
    data: ClosureData, *, actor: User | None, tz: ZoneInfo, now: datetime | None = None
) -> ClosureOutcome:
    """Save a closure and cancel the sessions already made on its days (one transaction: the
    caller commits)."""
    lock_schedule()
    now = now or datetime.now(UTC)
    closure = save_closure_record(data, actor=actor)
    outcome = ClosureOutcome(closure)
    _cancel_on_days(closure, outcome, tz, now)
    db.session.flush()
    outcome.notified = _tell(outcome.cancelled, _Named.of(closure), tz, back=False)
    return outcome


def change_closure(
    closure: Closure, data: ClosureData, *, tz: ZoneInfo, now: datetime | None = None
) -> ClosureOutcome:
    """Change a closure's name, kind, days or groups: the sessions it no longer covers come
    back (and generation makes those it kept from being made), those it now covers are
    cancelled; sessions on days it still covers stay as they are."""
    lock_schedule()
    now = now or datetime.now(UTC)
    before = (closure.first_day, closure.last_day, _group_ids(closure))
    # A make-up day's sessions are not its series' dates: only a forced run removes them.
    swapped = closure.runs_as is not None or data.runs_as is not None
    save_closure_record(data, closure)
    outcome = ClosureOutcome(closure)
    covered = {s.id for s in _sessions_on_days(closure, tz)}
    leaving = [s for s in _cancelled_by(closure) if s.id not in covered]
    _bring_back(leaving, closure, outcome, tz)
    _cancel_on_days(closure, outcome, tz, now)
    db.session.flush()
    first, last, groups = before
    if swapped or (first, last, groups) != (
        closure.first_day,
        closure.last_day,
        _group_ids(closure),
    ):
        # Days the old closure kept from being made and the new one does not close.
        summary = generate_occurrences(
            first, last + timedelta(days=1), tz=tz, now=now, group_ids=groups, force=swapped
        )
        outcome.created = summary.created
    if closure.runs_as is not None:
        outcome.created += make_up_day(closure, tz=tz, now=now)
    named = _Named.of(closure)
    outcome.clashing = _clashing(outcome.restored)
    outcome.notified = _tell(outcome.cancelled, named, tz, back=False) + _tell(
        outcome.restored, named, tz, back=True, clashing=outcome.clashing
    )
    return outcome


def make_up_day(closure: Closure, *, tz: ZoneInfo, now: datetime) -> int:
    """Make the sessions of the timetable a make-up day runs (`closure.runs_as`) on it, or
    bring back those made before; how many were made."""
    day = closure.first_day
    summary = generate_occurrences(
        day, day + timedelta(days=1), tz=tz, now=now, group_ids=_group_ids(closure), force=True
    )
    return summary.created


def _group_ids(closure: Closure) -> list[int] | None:
    return None if closure.whole_school else sorted(g.id for g in closure.groups)


def _cancel_on_days(closure: Closure, outcome: ClosureOutcome, tz: ZoneInfo, now: datetime) -> None:
    """Cancel, by `closure`, the sessions on its days nothing protects (kept: completed,
    edited by hand, started, or with notes or files)."""
    sessions = _sessions_on_days(closure, tz)
    recorded = _with_records([s.id for s in sessions])
    for session in sessions:
        if session.status == OccurrenceStatus.CANCELLED:
            continue  # cancelled already: by this closure, by hand or by an exception
        if (
            session.status == OccurrenceStatus.COMPLETED
            or session.edited_by_hand
            or session.start_utc <= now
            or session.id in recorded
        ):
            outcome.kept.append(session)
            continue
        session.status = OccurrenceStatus.CANCELLED
        session.closure_id = closure.id
        session.sequence += 1
        outcome.cancelled.append(session)


def _cancelled_by(closure: Closure) -> list[Occurrence]:
    return list(db.session.scalars(select(Occurrence).where(Occurrence.closure_id == closure.id)))


def _bring_back(
    sessions: list[Occurrence], closure: Closure, outcome: ClosureOutcome, tz: ZoneInfo
) -> None:
    """Sessions `closure` cancelled and no longer closes: on again, unless edited by hand
    since or closed by another closure (which then holds them)."""
    if not sessions:
        return
    days = [s.start_utc.astimezone(tz).date() for s in sessions]
    others = closed_days(min(days), max(days) + timedelta(days=1), without=closure.id)
    for session, day in zip(sessions, days, strict=True):
        session.closure_id = others.closure_for(session.group_id, day)
        if session.closure_id is not None:
            continue  # still closed, by another closure
        if session.status == OccurrenceStatus.CANCELLED and not session.edited_by_hand:
            session.status = OccurrenceStatus.SCHEDULED
            session.sequence += 1
            outcome.restored.append(session)
        else:
            outcome.kept.append(session)


def _clashing(sessions: list[Occurrence]) -> list[Occurrence]:
    """Those of `sessions` (back on) that now clash with another session: something was
    booked in their place while they were cancelled."""
    in_conflict = sessions_in_conflict([s.id for s in sessions])
    return [s for s in sessions if s.id in in_conflict]


def remove_closure(
    closure: Closure, *, tz: ZoneInfo, now: datetime | None = None
) -> ClosureOutcome:
    """Remove a closure: the sessions it cancelled come back (unless edited since), and
    generation makes those its days kept from being made."""
    lock_schedule()
    now = now or datetime.now(UTC)
    outcome = ClosureOutcome(None)
    _bring_back(_cancelled_by(closure), closure, outcome, tz)
    named = _Named.of(closure)  # what the messages say, read before the row goes
    first, last = closure.first_day, closure.last_day
    groups = None if closure.whole_school else [g.id for g in closure.groups]
    # A make-up day's sessions are not their series' dates: a forced run removes them.
    swapped = closure.runs_as is not None
    db.session.delete(closure)
    db.session.flush()
    summary = generate_occurrences(
        first, last + timedelta(days=1), tz=tz, now=now, group_ids=groups, force=swapped
    )
    outcome.created = summary.created
    outcome.clashing = _clashing(outcome.restored)
    outcome.notified = _tell(outcome.restored, named, tz, back=True, clashing=outcome.clashing)
    return outcome


def _sessions_on_days(closure: Closure, tz: ZoneInfo) -> list[Occurrence]:
    """Sessions starting on the closure's days (local), of its groups (all: the whole
    school's), by start."""
    start_utc, end_utc = local_day_bounds(
        closure.first_day, closure.last_day + timedelta(days=1), tz
    )
    query = (
        select(Occurrence)
        .where(Occurrence.start_utc >= start_utc, Occurrence.start_utc < end_utc)
        .order_by(Occurrence.start_utc, Occurrence.id)
    )
    if not closure.whole_school:
        query = query.where(one_of(Occurrence.group_id, name="groups"))
    params = {} if closure.whole_school else {"groups": {g.id for g in closure.groups}}
    return list(db.session.scalars(query, params))


def _with_records(ids: list[int]) -> set[int]:
    """Those of the sessions `ids` carrying a teacher's notes or files (kept, as generation
    keeps them), in two statements."""
    if not ids:
        return set()
    found = set()
    for column in (SessionNote.occurrence_id, Attachment.occurrence_id):
        query = select(column).where(one_of(column, name="ids")).distinct()
        found |= set(db.session.scalars(query, {"ids": ids}))
    return found


@dataclass(frozen=True)
class _Named:
    name: str
    days: str

    @classmethod
    def of(cls, closure: Closure) -> _Named:
        first, last = closure.first_day, closure.last_day
        days = f"{first:%a %d %b}" if first == last else f"{first:%a %d %b} to {last:%a %d %b}"
        return cls(closure.name, days)


def _tell(
    sessions: list[Occurrence],
    closure: _Named,
    tz: ZoneInfo,
    *,
    back: bool,
    clashing: list[Occurrence] = (),
) -> int:
    """One message per group to its mentor and students: which of their sessions the
    closure cancelled (or, removed, brought back)."""
    if not sessions:
        return 0
    by_group: dict[int, list[Occurrence]] = defaultdict(list)
    for session in sessions:
        by_group[session.group_id].append(session)
    people = with_covers(
        participants_of_groups(by_group), ((s.group_id, s.cover_mentor_id) for s in sessions)
    )
    days = closure.days
    messages = []
    for group_id, group_sessions in by_group.items():
        name = group_sessions[0].group.name
        count = plural(len(group_sessions), "session")
        clash_ids = {s.id for s in clashing}
        lines = [
            f"{s.start_utc.astimezone(tz):%a %d %b %H:%M}"
            + (" (it now clashes with another session)" if s.id in clash_ids else "")
            for s in group_sessions[:LISTED]
        ]
        if len(group_sessions) > LISTED:
            lines.append(f"and {len(group_sessions) - LISTED} more")
        if back:
            title = f"{name}: {count} back on, {closure.name} ({days}) is no longer closed"
        else:
            title = f"{name}: {count} cancelled, {closure.name} ({days})"
        messages.append(
            (
                people.get(group_id, set()),
                SESSION_RESTORED if back else SESSION_CANCELLED,
                title,
                "\n".join(lines),
                "/schedule/mine",
            )
        )
    return notify_each(messages)
