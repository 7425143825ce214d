"""Attendance registers: who is on a session's register, taking it, correcting it, and what
its section shows each viewer.

The roster: the students enrolled in the session's group by the end of the session's local
date (`Enrolment.created_at`), so a student who joined later is not marked absent for a
session held before they joined; and every student who already has a mark on it, so a
student who left the group since keeps their line. A register is taken once it has marks.

Taking it is one call with every student's mark (one request, one transaction): a student
left out is present on a first taking and keeps their mark on a correction. Late marks carry
their minutes (1 to the session's planned length), excused absences a reason. A mark that
changes after the first taking is an `AttendanceChange` (who, when, before and after); the
first taking is on the marks themselves (`taken_by_id`, `taken_at`). Students marked absent
or late are told, and so is each student whose mark a correction changes.

Like every service: plain values and the acting user in; `ValidationError` (one message per
field: `status-<student id>`, `late-<student id>`, `reason-<student id>`, or `__all__`),
`InvalidTransition` (a cancelled session, one not started yet, one with nobody on it) or
`NotAllowed` out; flush only, the caller commits once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select
from sqlalchemy.exc import InvalidRequestError

from models import (
    AttendanceChange,
    AttendanceMark,
    AttendanceStatus,
    Enrolment,
    Occurrence,
    Role,
    User,
    db,
)
from models.attendance_mark import REASON_MAX_LENGTH
from models.types import one_of
from services.common.errors import InvalidTransition, NotAllowed, NotFoundError, ValidationError
from services.common.numbers import whole_number
from services.common.timeutil import local_day_bounds
from services.common.wording import plural
from services.notifications.inbox import notify_each
from services.permissions import can_track

STATUS_LABELS = {
    AttendanceStatus.PRESENT: "Present",
    AttendanceStatus.LATE: "Late",
    AttendanceStatus.ABSENT: "Absent",
    AttendanceStatus.EXCUSED: "Excused",
}
STATUSES = tuple(STATUS_LABELS)
NOTIFICATION_KIND = "attendance"


# --- Words ---------------------------------------------------------------------------------------


def mark_label(status, late_minutes: int | None = None, reason: str | None = None) -> str:
    """'Present', 'Late (10 min)', 'Absent', 'Excused: ill'."""
    status = AttendanceStatus(status)
    text = STATUS_LABELS[status]
    if status == AttendanceStatus.LATE and late_minutes:
        text += f" ({late_minutes} min)"
    if reason:
        text += f": {reason}"
    return text


def counts_label(counts: Counter) -> str:
    """'27 present, 1 late, 2 absent' (statuses with nobody left out)."""
    parts = [f"{counts[s]} {STATUS_LABELS[s].lower()}" for s in STATUSES if counts[s]]
    return ", ".join(parts) or "nobody"


def planned_minutes(occurrence: Occurrence) -> int:
    return max(1, int((occurrence.end_utc - occurrence.start_utc).total_seconds() // 60))


# --- The roster ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RosterLine:
    student: User
    mark: AttendanceMark | None


def _day_after_bound(occurrence: Occurrence, tz: ZoneInfo) -> datetime:
    """The instant the session's local date ends (local midnight after it)."""
    day = occurrence.start_utc.astimezone(tz).date() + timedelta(days=1)
    return local_day_bounds(day, day, tz)[0]


def roster_of(occurrence: Occurrence, tz: ZoneInfo) -> list[RosterLine]:
    """The session's register, by name: students enrolled by its date, and anyone marked."""
    marks = {
        m.student_id: m
        for m in db.session.scalars(
            select(AttendanceMark).where(AttendanceMark.occurrence_id == occurrence.id)
        )
    }
    enrolled = select(Enrolment.student_id).where(
        Enrolment.group_id == occurrence.group_id,
        Enrolment.created_at < _day_after_bound(occurrence, tz),
    )
    students = db.session.scalars(
        select(User)
        .where(User.id.in_(enrolled) | one_of(User.id, sorted(marks)))
        .order_by(User.name, User.id)
    )
    return [RosterLine(student, marks.get(student.id)) for student in students]


def joined_later(occurrence: Occurrence, tz: ZoneInfo) -> int:
    """How many of the group's students joined it after the session's date (not on it)."""
    return (
        db.session.scalar(
            select(func.count(Enrolment.id)).where(
                Enrolment.group_id == occurrence.group_id,
                Enrolment.created_at >= _day_after_bound(occurrence, tz),
                ~Enrolment.student_id.in_(
                    select(AttendanceMark.student_id).where(
                        AttendanceMark.occurrence_id == occurrence.id
                    )
                ),
            )
        )
        or 0
    )


def register_refusal(occurrence: Occurrence, now: datetime | None = None) -> str | None:
    """Why this session's register cannot be taken now, or None."""
    if occurrence.is_cancelled:
        return "This session is cancelled: a cancelled session has no register."
    if (now or datetime.now(UTC)) < occurrence.start_utc:
        return "This session has not started yet: its register can be taken once it has started."
    return None


# --- Taking and correcting -----------------------------------------------------------------------


@dataclass(frozen=True)
class MarkInput:
    """One student's mark as sent: the status by value, the minutes late and the reason as
    typed (checked here)."""

    student_id: int
    status: object
    late_minutes: object = None
    reason: object = None


@dataclass
class RegisterOutcome:
    occurrence: Occurrence
    first_taking: bool
    marked: int = 0
    counts: Counter = field(default_factory=Counter)
    # (student, "old → new") of each mark a correction changed.
    changes: list[tuple[User, str]] = field(default_factory=list)
    notified: int = 0

    @property
    def message(self) -> str:
        if self.first_taking:
            return f"Register taken: {counts_label(self.counts)}."
        if not self.changes:
            return "Nothing to correct: the register already said this."
        return f"Register corrected: {plural(len(self.changes), 'mark')} changed."


def _lock_and_reload(occurrence: Occurrence) -> None:
    """Serialise two takings of one register (two tabs, a mentor and a coordinator): the
    session's row is locked on PostgreSQL (SQLite's BEGIN IMMEDIATE already serialises),
    then read again as the other left it."""
    try:
        db.session.execute(
            select(Occurrence.id).where(Occurrence.id == occurrence.id).with_for_update()
        )
        db.session.refresh(occurrence)
    except InvalidRequestError as err:
        raise NotFoundError("This session no longer exists.") from err


def _minutes(raw: object, longest: int) -> tuple[int | None, str | None]:
    """Minutes late as typed (text or a JSON number), or a message."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, f"Enter how many minutes late (1 to {longest})."
    if isinstance(raw, bool | float):
        return None, "Enter the minutes late as a whole number, like 10."
    value = raw if isinstance(raw, int) else whole_number(raw, 10**6)
    if value is None:
        if isinstance(raw, str) and raw.strip().startswith("-"):
            return None, f"Late by 1 to {longest} minutes: not a negative number."
        return None, "Enter the minutes late as a whole number, like 10."
    if not 1 <= value <= longest:
        return None, f"Late by 1 to {longest} minutes: the session lasts {longest} minutes."
    return value, None


def _checked(
    given: MarkInput, longest: int, errors: dict[str, str]
) -> tuple[AttendanceStatus, int | None, str | None] | None:
    sid = given.student_id
    try:
        status = AttendanceStatus(given.status)
    except ValueError:
        errors[f"status-{sid}"] = "Choose present, late, absent or excused."
        return None
    if given.reason is not None and not isinstance(given.reason, str):
        errors[f"reason-{sid}"] = "A reason is text."
        return None
    reason = " ".join((given.reason or "").split()) or None
    minutes = None
    if status == AttendanceStatus.LATE:
        minutes, message = _minutes(given.late_minutes, longest)
        if message:
            errors[f"late-{sid}"] = message
    if status == AttendanceStatus.PRESENT:
        reason = None  # a reason only says why someone was late or away
    elif status == AttendanceStatus.EXCUSED and not reason:
        errors[f"reason-{sid}"] = "Say why the absence is excused (ill, a school trip…)."
    if reason and len(reason) > REASON_MAX_LENGTH:
        errors[f"reason-{sid}"] = f"A reason has at most {REASON_MAX_LENGTH} characters."
    return status, minutes, reason


def take_register(
    occurrence: Occurrence,
    marks: Iterable[MarkInput],
    *,
    actor: User | None,
    tz: ZoneInfo,
    all_present: bool = False,
    now: datetime | None = None,
) -> RegisterOutcome:
    """Take (or correct) the session's register in one go.

    `marks`: the students' marks; a student left out is present on a first taking and keeps
    their mark on a correction. `all_present`: every student on the register present, the
    marks ignored. Only the session's mentor or staff (`NotAllowed`); not a cancelled session
    nor one that has not started (`InvalidTransition`). Every mark is checked before anything
    is written: one bad one and nothing changes.
    """
    now = now or datetime.now(UTC)
    _lock_and_reload(occurrence)
    if not can_track(actor, occurrence):
        raise NotAllowed("Only the session's mentor or a coordinator may take its register.")
    refusal = register_refusal(occurrence, now)
    if refusal:
        raise InvalidTransition(refusal)
    lines = roster_of(occurrence, tz)
    if not lines:
        raise InvalidTransition(
            "Nobody was enrolled in this group on the session's date: there is no register."
        )
    by_id = {line.student.id: line for line in lines}
    errors: dict[str, str] = {}
    given: dict[int, MarkInput] = {}
    strangers = []
    for mark in [] if all_present else marks:
        if mark.student_id not in by_id:
            strangers.append(str(mark.student_id))
        elif mark.student_id in given:
            errors["__all__"] = f"{by_id[mark.student_id].student.name} is marked twice."
        else:
            given[mark.student_id] = mark
    if strangers:
        errors["__all__"] = (
            f"Not on this session's register: student {', '.join(strangers)}. "
            "Only students enrolled in the group on its date can be marked."
        )
    longest = planned_minutes(occurrence)
    wanted: dict[int, tuple[AttendanceStatus, int | None, str | None]] = {}
    for sid, line in by_id.items():
        if sid in given:
            checked = _checked(given[sid], longest, errors)
            if checked is not None:
                wanted[sid] = checked
        elif line.mark is not None and not all_present:
            wanted[sid] = (line.mark.status, line.mark.late_minutes, line.mark.reason)
        else:
            wanted[sid] = (AttendanceStatus.PRESENT, None, None)
    if errors:
        raise ValidationError(errors)

    first_taking = all(line.mark is None for line in lines)
    outcome = RegisterOutcome(occurrence, first_taking=first_taking)
    actor_id = actor.id if actor is not None else None
    new_rows, corrections, told = [], [], []
    when = _session_words(occurrence, tz)
    for sid, (status, minutes, reason) in wanted.items():
        line = by_id[sid]
        outcome.counts[status] += 1
        mark = line.mark
        if mark is None:
            new_rows.append(
                {
                    "occurrence_id": occurrence.id,
                    "student_id": sid,
                    "status": status,
                    "late_minutes": minutes,
                    "reason": reason,
                    "taken_by_id": actor_id,
                    "taken_at": now,
                    "updated_by_id": actor_id,
                    "updated_at": now,
                }
            )
            if status in (AttendanceStatus.ABSENT, AttendanceStatus.LATE):
                told.append(
                    (sid, f"Marked {mark_label(status, minutes).lower()}: {when}", reason or "")
                )
            continue
        if (mark.status, mark.late_minutes, mark.reason) == (status, minutes, reason):
            continue
        before = mark_label(mark.status, mark.late_minutes, mark.reason)
        after = mark_label(status, minutes, reason)
        corrections.append(
            AttendanceChange(
                occurrence_id=occurrence.id,
                student_id=sid,
                changed_by_id=actor_id,
                changed_at=now,
                old_status=mark.status,
                old_late_minutes=mark.late_minutes,
                old_reason=mark.reason,
                new_status=status,
                new_late_minutes=minutes,
                new_reason=reason,
            )
        )
        mark.status, mark.late_minutes, mark.reason = status, minutes, reason
        mark.updated_by_id, mark.updated_at = actor_id, now
        outcome.changes.append((line.student, f"{before} → {after}"))
        told.append((sid, f"Attendance corrected: {when}", f"{before} → {after}"))
    if new_rows:
        # One executemany for the whole register (the ORM sent one INSERT per student).
        db.session.execute(insert(AttendanceMark), new_rows)
    db.session.add_all(corrections)
    db.session.flush()
    outcome.marked = len(wanted)
    link = "/attendance/mine"
    outcome.notified = notify_each(
        ([sid], NOTIFICATION_KIND, title, body, link) for sid, title, body in told
    )
    return outcome


def _session_words(occurrence: Occurrence, tz: ZoneInfo) -> str:
    start = occurrence.start_utc.astimezone(tz)
    return f"{occurrence.group.name}, {start:%a %d %b %Y %H:%M}"


# --- What the register section shows -------------------------------------------------------------


@dataclass(frozen=True)
class ChangeRow:
    change: AttendanceChange
    before: str
    after: str


@dataclass(frozen=True)
class RegisterSection:
    """The register as one viewer sees it: the whole register for its mentor and staff, only
    their own mark for a student of the group."""

    can_act: bool
    refusal: str | None
    lines: list[RosterLine] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    taken_by: User | None = None
    taken_at: datetime | None = None
    changes: list[ChangeRow] = field(default_factory=list)
    joined_later: int = 0
    longest: int = 60
    # A student's own line (None: not taken yet, or not on it).
    own: AttendanceMark | None = None
    student_view: bool = False

    # A dashboard card's: the counts only (read for a whole page of cards at once).
    compact: bool = False

    @property
    def taken(self) -> bool:
        return bool(self.counts) or self.own is not None

    @property
    def not_present(self) -> list[RosterLine]:
        return [
            line
            for line in self.lines
            if line.mark is not None and line.mark.status != AttendanceStatus.PRESENT
        ]

    @property
    def summary(self) -> str:
        return counts_label(self.counts)


def _users(ids) -> dict[int, User]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(one_of(User.id, wanted)))}


def register_section(
    viewer: User, occurrence: Occurrence, *, tz: ZoneInfo, now: datetime | None = None
) -> RegisterSection | None:
    """What the register section shows `viewer` (None: nothing, the section is left out)."""
    refusal = register_refusal(occurrence, now)
    if can_track(viewer, occurrence):
        if occurrence.is_cancelled:
            return RegisterSection(can_act=True, refusal=refusal)
        lines = roster_of(occurrence, tz) if not refusal else []
        marks = [line.mark for line in lines if line.mark is not None]
        first = min(marks, key=lambda m: (m.taken_at, m.id)) if marks else None
        changes = list(
            db.session.scalars(
                select(AttendanceChange)
                .where(AttendanceChange.occurrence_id == occurrence.id)
                .order_by(AttendanceChange.changed_at.desc(), AttendanceChange.id.desc())
            )
        )
        takers = _users([first.taken_by_id] if first else [])
        return RegisterSection(
            can_act=True,
            refusal=refusal,
            lines=lines,
            counts=Counter(m.status for m in marks),
            taken_by=takers.get(first.taken_by_id) if first else None,
            taken_at=first.taken_at if first else None,
            changes=[
                ChangeRow(
                    c,
                    mark_label(c.old_status, c.old_late_minutes, c.old_reason),
                    mark_label(c.new_status, c.new_late_minutes, c.new_reason),
                )
                for c in changes
            ],
            joined_later=joined_later(occurrence, tz) if not refusal else 0,
            longest=planned_minutes(occurrence),
        )
    if viewer.role == Role.STUDENT:
        own = db.session.scalar(
            select(AttendanceMark).where(
                AttendanceMark.occurrence_id == occurrence.id,
                AttendanceMark.student_id == viewer.id,
            )
        )
        return RegisterSection(can_act=False, refusal=refusal, own=own, student_view=True)
    return None


def register_summaries(occurrence_ids: Iterable[int]) -> dict[int, Counter]:
    """{session id: its marks counted by status} for the sessions that have a register, in
    one query (the dashboard's cards)."""
    ids = sorted(set(occurrence_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        select(AttendanceMark.occurrence_id, AttendanceMark.status, func.count())
        .where(one_of(AttendanceMark.occurrence_id, ids))
        .group_by(AttendanceMark.occurrence_id, AttendanceMark.status)
    )
    found: dict[int, Counter] = {}
    for occurrence_id, status, count in rows:
        found.setdefault(occurrence_id, Counter())[AttendanceStatus(status)] = count
    return found


def card_registers(
    viewer: User, occurrences: Iterable[Occurrence], *, now: datetime | None = None
) -> dict[int, RegisterSection]:
    """The compact register sections of a page of dashboard cards (the sessions `viewer`
    may take the register of, started and not cancelled), in one query."""
    now = now or datetime.now(UTC)
    takeable = [o for o in occurrences if can_track(viewer, o) and register_refusal(o, now) is None]
    summaries = register_summaries(o.id for o in takeable)
    return {
        o.id: RegisterSection(
            can_act=True,
            refusal=None,
            counts=summaries.get(o.id, Counter()),
            longest=planned_minutes(o),
            compact=True,
        )
        for o in takeable
    }
