"""Whole-day changes: every session of a day cancelled at once (a snow day), or a day that
runs another day's timetable (a make-up day: "Wednesday 14 Jan runs Monday 12 Jan's
timetable"). Both are closures of that day, so generation keeps to them and removing one
undoes it (see services/closures.py); each is previewed first (the same action, rolled back)
and then applied in one transaction, with the people concerned told.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from models import Closure, ClosureKind, Occurrence, OccurrenceStatus, User, db
from services.closures import ClosureOutcome, add_closure, make_up_day
from services.common.errors import ValidationError
from services.common.timeutil import local_day_bounds
from services.common.wording import plural
from services.notifications.inbox import (
    SESSION_MOVED,
    notify_each,
    participants_of_groups,
    with_covers,
)
from services.school_year import ClosureData, closed_days
from services.timetable.clashes import conflicts_of, sessions_in_conflict
from services.timetable.conflicts import lock_schedule


@dataclass(frozen=True)
class SessionLine:
    """A session as the preview and the messages say it, read before a preview's rollback."""

    id: int
    group: str
    when: str
    room: str
    clashes_with: str = ""


@dataclass
class DayChange:
    closure: Closure | None
    cancelled: list[SessionLine] = field(default_factory=list)
    # A make-up day's sessions: made, or back on.
    made: list[SessionLine] = field(default_factory=list)
    kept: list[SessionLine] = field(default_factory=list)
    notified: int = 0
    preview: bool = False

    @property
    def clashing(self) -> list[SessionLine]:
        return [line for line in self.made if line.clashes_with]


def cancel_day(
    day: date | None,
    name: str,
    *,
    actor: User | None,
    tz: ZoneInfo,
    now: datetime | None = None,
    preview: bool = False,
) -> DayChange:
    """Cancel every session of `day` for the whole school (a closure of the day: completed,
    started, hand-edited sessions and those with notes or files are kept)."""
    return _previewed(
        preview, lambda: _cancel_day(day, name, actor=actor, tz=tz, now=now or datetime.now(UTC))
    )


def run_day_as(
    day: date | None,
    source: date | None,
    name: str = "",
    *,
    group_ids: list[int] | None = None,
    actor: User | None,
    tz: ZoneInfo,
    now: datetime | None = None,
    preview: bool = False,
) -> DayChange:
    """Make `day` run the timetable of `source`: its own sessions are cancelled and those
    `source`'s timetable has are made on it, for the whole school or `group_ids`."""
    now = now or datetime.now(UTC)
    return _previewed(
        preview,
        lambda: _run_day_as(day, source, name, group_ids, actor=actor, tz=tz, now=now),
    )


def _previewed(preview: bool, action) -> DayChange:
    """The action's outcome; with `preview`, the same action rolled back (what it would do,
    read before the rollback)."""
    if not preview:
        return action()
    savepoint = db.session.begin_nested()
    try:
        change = action()
        change.closure, change.preview = None, True
        return change
    finally:
        savepoint.rollback()


def _cancel_day(day, name, *, actor, tz, now) -> DayChange:
    data = ClosureData(name.strip() or "Closed", day, day, ClosureKind.CLOSED)
    outcome = add_closure(data, actor=actor, tz=tz, now=now)
    return _described(outcome, [], tz)


def _run_day_as(day, source, name, group_ids, *, actor, tz, now) -> DayChange:
    lock_schedule()
    if day is not None and source is not None and day != source:
        _refuse_if_closed(day, group_ids)
    label = name.strip() or (f"{source:%A %d %b}'s timetable" if source else "")
    data = ClosureData(label, day, day, ClosureKind.CLOSED, group_ids, runs_as=source)
    outcome = add_closure(data, actor=actor, tz=tz, now=now)
    make_up_day(outcome.closure, tz=tz, now=now)
    made = _made_on(outcome, tz)
    change = _described(outcome, made, tz)
    change.notified += _tell_made(made, outcome.closure, tz)
    return change


def _refuse_if_closed(day: date, group_ids: list[int] | None) -> None:
    """A day another closure already closes (for the whole school, or for one of the groups)
    cannot also run another day's timetable."""
    closed = closed_days(day, day + timedelta(days=1))
    closure_id = closed.whole_school.get(day)
    if closure_id is None and group_ids:
        closure_id = next(
            (closed.by_group[g][day] for g in group_ids if day in closed.by_group.get(g, {})), None
        )
    if closure_id is not None:
        other = db.session.get(Closure, closure_id)
        raise ValidationError(
            f"{day:%a %d %b %Y} is already closed ({other.name}): remove that closure first.",
            field="first_day",
        )


def _made_on(outcome: ClosureOutcome, tz: ZoneInfo) -> list[Occurrence]:
    """The sessions on the make-up day after it was made, of the groups it concerns: those
    its timetable runs (the ones the closure kept aside are not its)."""
    day = outcome.closure.first_day
    start_utc, end_utc = local_day_bounds(day, day + timedelta(days=1), tz)
    kept = {s.id for s in outcome.kept}
    groups = None if outcome.closure.whole_school else {g.id for g in outcome.closure.groups}
    sessions = db.session.scalars(
        select(Occurrence)
        .where(
            Occurrence.start_utc >= start_utc,
            Occurrence.start_utc < end_utc,
            Occurrence.status != OccurrenceStatus.CANCELLED,
        )
        .order_by(Occurrence.start_utc, Occurrence.id)
    )
    return [s for s in sessions if s.id not in kept and (groups is None or s.group_id in groups)]


def _line(session: Occurrence, tz: ZoneInfo, clashes_with: str = "") -> SessionLine:
    start, end = session.start_utc.astimezone(tz), session.end_utc.astimezone(tz)
    room = session.room.name if session.room else "online"
    return SessionLine(
        session.id, session.group.name, f"{start:%a %d %b %H:%M}-{end:%H:%M}", room, clashes_with
    )


def _clash_text(session: Occurrence, tz: ZoneInfo) -> str:
    """'Art 8B 09:00 (room)': what a made session clashes with."""
    words = []
    for conflict in conflicts_of(session):
        other_id = conflict.second_id if conflict.first_id == session.id else conflict.first_id
        other = db.session.get(Occurrence, other_id)
        words.append(f"{other.group.name} {other.start_utc.astimezone(tz):%H:%M} ({conflict.kind})")
    return ", ".join(dict.fromkeys(words))


def _described(outcome: ClosureOutcome, made: list[Occurrence], tz: ZoneInfo) -> DayChange:
    in_conflict = sessions_in_conflict([s.id for s in made])
    return DayChange(
        outcome.closure,
        cancelled=[_line(s, tz) for s in outcome.cancelled],
        made=[_line(s, tz, _clash_text(s, tz) if s.id in in_conflict else "") for s in made],
        kept=[_line(s, tz) for s in outcome.kept],
        notified=outcome.notified,
    )


def _tell_made(made: list[Occurrence], closure: Closure, tz: ZoneInfo) -> int:
    """One message per group: its sessions on the make-up day."""
    by_group: dict[int, list[Occurrence]] = defaultdict(list)
    for session in made:
        by_group[session.group_id].append(session)
    people = with_covers(
        participants_of_groups(by_group), ((s.group_id, s.cover_mentor_id) for s in made)
    )
    messages = []
    for group_id, sessions in by_group.items():
        title = (
            f"{sessions[0].group.name}: {plural(len(sessions), 'session')} on"
            f" {closure.first_day:%a %d %b}, which runs {closure.runs_as:%A %d %b}'s timetable"
        )
        body = "\n".join(_line(s, tz).when + f" ({_line(s, tz).room})" for s in sessions)
        messages.append((people.get(group_id, set()), SESSION_MOVED, title, body, "/schedule/mine"))
    return notify_each(messages) if messages else 0
