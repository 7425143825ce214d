"""Session tracking: completing a session (what actually happened), correcting a completion,
and the coordinators' monitoring queries (completions, overdue sessions, verifying a code).

Actual times are local wall-clock times (`datetime.time`), as a form with two time inputs
prefilled with the plan gives them: the start is read nearest the scheduled start (usually on
the session's local date), and an end earlier on the clock than the start is on the next day
(a late session, 23:51-00:41), up to 12 hours after it. A time in a DST gap moves forward, as
everywhere else (`services.common.timeutil.resolve_local`).

Like every service: plain values and the acting user in, `ValidationError` (one message per
field), `InvalidTransition` (the session's state refuses it) or `NotAllowed` (this user may
not act on it) out; flush only, the caller commits once.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError, InvalidRequestError

from models import CourseGroup, Occurrence, OccurrenceStatus, SessionEvent, User, db
from services.common.errors import InvalidTransition, NotAllowed, NotFoundError, ValidationError
from services.common.timeutil import (
    clock_span,
    end_before_start_message,
    ends_next_day,
    local_day_bounds,
    resolve_local,
    span_label,
    times_refused,
)
from services.permissions import can_track, taught_by
from services.timetable.conflicts import lock_schedule
from services.tracking import events
from services.tracking.attendance_report import completed_without_register

# Letters and digits nobody confuses when reading a code aloud or copying it by hand
# (no 0/O, 1/I/L).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
GROUP_CODE_MAX = 10
CODE_MIN, CODE_MAX = 3, 40
_CUSTOM_CODE = re.compile(r"[A-Za-z0-9-]+")
NOTES_MAX_LENGTH = 5000
# Generated codes collide once in 29,791 draws per group and day; a few draws settle it.
_MAX_DRAWS = 12
# A session that ended longer ago than this and is neither completed nor cancelled is overdue.
OVERDUE_AFTER = timedelta(hours=24)


@dataclass
class CorrectionOutcome:
    occurrence: Occurrence
    # What changed, as "what: old → new" lines (empty: nothing to change, nothing written).
    changes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.changes)


# --- When a session may be completed ------------------------------------------------------------


def completion_refusal(occurrence: Occurrence, now: datetime | None = None) -> str | None:
    """Why this session cannot be completed now, or None."""
    if occurrence.is_completed:
        return "This session is already completed: correct its record instead."
    if occurrence.is_cancelled:
        return "This session is cancelled: a cancelled session cannot be completed."
    now = now or datetime.now(UTC)
    if now < occurrence.start_utc:
        return "This session has not started yet: it can be completed once it has started."
    return None


def correction_refusal(occurrence: Occurrence) -> str | None:
    if not occurrence.is_completed:
        return "This session is not completed: there is no record to correct."
    return None


# --- Codes --------------------------------------------------------------------------------------


def group_code(name: str) -> str:
    """'Maths 101 (B)' -> 'MATHS101B': ASCII letters and digits, upper case, at most 10."""
    code = re.sub(r"[^A-Z0-9]", "", name.upper())[:GROUP_CODE_MAX]
    return code or "SESSION"


def _random_suffix() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(3))


def generated_code(occurrence: Occurrence, tz: ZoneInfo) -> str:
    """`<GROUPCODE>-<YYYYMMDD>-<3 chars>`, dated by the session's local scheduled date."""
    day = occurrence.start_utc.astimezone(tz).date()
    return f"{group_code(occurrence.group.name)}-{day:%Y%m%d}-{_random_suffix()}"


def normalise_code(code: str | None) -> str:
    return (code or "").strip().upper()


def _check_custom_code(code: str, errors: dict) -> None:
    if not CODE_MIN <= len(code) <= CODE_MAX or not _CUSTOM_CODE.fullmatch(code):
        errors["code"] = (
            f"A code has {CODE_MIN} to {CODE_MAX} characters: letters, digits and dashes "
            "(or leave it blank for a generated one)."
        )


def _code_taken_message(code: str) -> str:
    return (
        f"The code {code} is already used by another session: "
        "type another, or leave it blank for a generated one."
    )


def _code_taken(code: str, occurrence_id: int) -> bool:
    return (
        db.session.scalar(
            select(Occurrence.id).where(
                Occurrence.completion_code == code, Occurrence.id != occurrence_id
            )
        )
        is not None
    )


# --- Completing ---------------------------------------------------------------------------------


def _local_date(occurrence: Occurrence, tz: ZoneInfo) -> date:
    return occurrence.start_utc.astimezone(tz).date()


def _actual_instants(
    occurrence: Occurrence, start: time | None, end: time | None, tz: ZoneInfo, errors: dict
) -> tuple[datetime | None, datetime | None]:
    """The instants of typed actual times, read near the plan.

    The actual start is the typed time nearest the scheduled start (on the session's date, or
    the day before or after: a session planned for 23:30 that began at 00:05 began the next
    day). An actual end earlier on the clock than the actual start is on the next day, up to
    `LONGEST_OVERNIGHT` after it (23:51-00:41); equal times, or an end earlier by more, are
    refused. DST: each time is resolved on its own date (a time in a gap moves forward).
    """
    if start is None:
        errors["actual_start"] = "Enter the time the session actually started."
    if end is None:
        errors["actual_end"] = "Enter the time the session actually ended."
    if start is None or end is None:
        return None, None
    if times_refused(start, end):
        errors["actual_end"] = end_before_start_message(
            start, end, end_label="The actual end", start_label="the actual start"
        )
        return None, None
    planned = occurrence.start_utc
    day = _local_date(occurrence, tz)
    candidates = [
        (abs(instant - planned), offset != 0, instant, on)
        for offset in (-1, 0, 1)
        for on in [day + timedelta(days=offset)]
        for instant in [resolve_local(on, start, tz).utc]
    ]
    # Nearest the plan; on a tie (12 hours either way) the session's own date.
    _, _, start_utc, start_day = min(candidates, key=lambda c: c[:2])
    end_day = start_day + timedelta(days=1) if ends_next_day(start, end) else start_day
    end_utc = resolve_local(end_day, end, tz).utc
    if end_utc <= start_utc:  # a start moved out of a DST gap past the end
        end_utc = start_utc + clock_span(start, end)
    return start_utc, end_utc


def _clean_notes(notes: str | None, errors: dict) -> str:
    cleaned = (notes or "").strip()
    if len(cleaned) > NOTES_MAX_LENGTH:
        errors["notes"] = f"Session notes are limited to {NOTES_MAX_LENGTH:,} characters."
    return cleaned


def _lock_and_reload(occurrence: Occurrence) -> None:
    """Serialise with other writers, then re-read the session as they left it (it may have
    been completed, cancelled or deleted since the caller loaded it)."""
    lock_schedule()
    try:
        db.session.refresh(occurrence)
    except InvalidRequestError as err:
        raise NotFoundError("This session no longer exists.") from err


def _ensure_allowed(actor: User | None, occurrence: Occurrence) -> None:
    if not can_track(actor, occurrence):
        raise NotAllowed("Only the session's mentor or a coordinator may do this.")


def _write_code(occurrence: Occurrence, values: dict, code: str | None, tz: ZoneInfo) -> str:
    """Write `values` and a completion code in a savepoint, the unique constraint deciding.

    A typed `code` already taken is refused; a generated one that collides (two sessions of
    one group on one day drawing the same three characters, even in two transactions at
    once) is drawn again.
    """
    for _ in range(_MAX_DRAWS):
        candidate = code or generated_code(occurrence, tz)
        try:
            with db.session.begin_nested():
                for name, value in values.items():
                    setattr(occurrence, name, value)
                occurrence.completion_code = candidate
        except IntegrityError:
            # The savepoint is rolled back (and the session expired): only a code collision
            # is ours to handle.
            if not _code_taken(candidate, occurrence.id):
                raise
            if code:
                raise ValidationError({"code": _code_taken_message(code)}) from None
            continue
        return candidate
    raise ValidationError({"code": "No free code could be drawn: type one instead."})


def complete_session(
    occurrence: Occurrence,
    *,
    actual_start: time | None,
    actual_end: time | None,
    code: str | None = None,
    notes: str | None = "",
    actor: User | None,
    tz: ZoneInfo,
    now: datetime | None = None,
) -> Occurrence:
    """Record what actually happened in a session and mark it completed.

    `actual_start`/`actual_end` are local times on the session's local date. `code` blank:
    a generated one (`generated_code`); typed: 3 to 40 letters, digits and dashes, stored
    upper case, refused if another session has it. Only the session's mentor or staff
    (`NotAllowed`); not before its scheduled start, not a cancelled one, not twice
    (`InvalidTransition`). Records who and when, and a COMPLETED event.
    """
    now = now or datetime.now(UTC)
    _lock_and_reload(occurrence)
    _ensure_allowed(actor, occurrence)
    refusal = completion_refusal(occurrence, now)
    if refusal:
        raise InvalidTransition(refusal)
    errors: dict[str, str] = {}
    start_utc, end_utc = _actual_instants(occurrence, actual_start, actual_end, tz, errors)
    cleaned_notes = _clean_notes(notes, errors)
    typed = normalise_code(code)
    if typed:
        _check_custom_code(typed, errors)
        if "code" not in errors and _code_taken(typed, occurrence.id):
            errors["code"] = _code_taken_message(typed)
    if errors:
        raise ValidationError(errors)

    values = {
        "status": OccurrenceStatus.COMPLETED,
        "actual_start_utc": start_utc,
        "actual_end_utc": end_utc,
        "completion_notes": cleaned_notes or None,
        "completed_at": now,
        "completed_by_id": actor.id if actor is not None else None,
    }
    final_code = _write_code(occurrence, values, typed or None, tz)
    db.session.flush()
    events.record_event(
        occurrence.id,
        events.COMPLETED,
        actor=actor,
        summary=(f"Completed: {span_label(start_utc, end_utc, tz, '-')}, code {final_code}"),
    )
    return occurrence


def _shorten(text: str | None, limit: int = 200) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def correct_completion(
    occurrence: Occurrence,
    *,
    actual_start: time | None,
    actual_end: time | None,
    code: str | None = None,
    notes: str | None = "",
    actor: User | None,
    tz: ZoneInfo,
) -> CorrectionOutcome:
    """Correct a completed session's record (actual times, code, notes).

    A blank `code` keeps the current one. Who completed it and when stay as they were; the
    correction is a COMPLETION_CORRECTED event by `actor` listing each `old → new` value.
    Nothing changed: nothing is written.
    """
    _lock_and_reload(occurrence)
    _ensure_allowed(actor, occurrence)
    refusal = correction_refusal(occurrence)
    if refusal:
        raise InvalidTransition(refusal)
    errors: dict[str, str] = {}
    start_utc, end_utc = _actual_instants(occurrence, actual_start, actual_end, tz, errors)
    cleaned_notes = _clean_notes(notes, errors) or None
    typed = normalise_code(code) or occurrence.completion_code
    if typed != occurrence.completion_code:
        _check_custom_code(typed, errors)
        if "code" not in errors and _code_taken(typed, occurrence.id):
            errors["code"] = _code_taken_message(typed)
    if errors:
        raise ValidationError(errors)

    def clock(instant: datetime | None) -> str:
        return f"{instant.astimezone(tz):%H:%M}" if instant else "none"

    changes = []
    if start_utc != occurrence.actual_start_utc:
        changes.append(f"actual start: {clock(occurrence.actual_start_utc)} → {clock(start_utc)}")
    if end_utc != occurrence.actual_end_utc:
        changes.append(f"actual end: {clock(occurrence.actual_end_utc)} → {clock(end_utc)}")
    if typed != occurrence.completion_code:
        changes.append(f"code: {occurrence.completion_code} → {typed}")
    if cleaned_notes != occurrence.completion_notes:
        old, new = _shorten(occurrence.completion_notes), _shorten(cleaned_notes)
        changes.append(f'notes: "{old}" → "{new}"')
    if not changes:
        return CorrectionOutcome(occurrence)
    values = {
        "actual_start_utc": start_utc,
        "actual_end_utc": end_utc,
        "completion_notes": cleaned_notes,
    }
    if typed != occurrence.completion_code:
        _write_code(occurrence, values, typed, tz)
    else:
        for name, value in values.items():
            setattr(occurrence, name, value)
    db.session.flush()
    events.record_event(
        occurrence.id, events.COMPLETION_CORRECTED, actor=actor, summary="; ".join(changes)
    )
    return CorrectionOutcome(occurrence, changes)


def completion_history(occurrence_id: int) -> list[SessionEvent]:
    """The completion and its corrections, oldest first (the audit trail)."""
    return list(
        db.session.scalars(
            select(SessionEvent)
            .where(
                SessionEvent.occurrence_id == occurrence_id,
                SessionEvent.kind.in_([events.COMPLETED, events.COMPLETION_CORRECTED]),
            )
            .order_by(SessionEvent.created_at, SessionEvent.id)
        )
    )


# --- Monitoring ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MonitorFilters:
    """The monitoring page's filters; None means "any"."""

    mentor_id: int | None = None
    group_id: int | None = None
    start: date | None = None  # local dates, both included
    end: date | None = None
    status: OccurrenceStatus | None = OccurrenceStatus.COMPLETED


def _filtered(query: Select, filters: MonitorFilters, tz: ZoneInfo) -> Select:
    if filters.mentor_id is not None:
        # Who teaches it: a covered session is its substitute's (`models.occurrence.mentor_of`).
        query = query.where(taught_by(filters.mentor_id))
    if filters.group_id is not None:
        query = query.where(Occurrence.group_id == filters.group_id)
    if filters.start is not None:
        query = query.where(
            Occurrence.start_utc >= local_day_bounds(filters.start, filters.start, tz)[0]
        )
    if filters.end is not None:
        day_after = filters.end + timedelta(days=1)
        query = query.where(Occurrence.start_utc < local_day_bounds(day_after, day_after, tz)[0])
    return query


def people_by_id(ids) -> dict[int, User]:
    """The users with these ids, in one query (who completed each listed session)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(wanted)))}


def monitored_sessions(filters: MonitorFilters, tz: ZoneInfo) -> Select:
    """Sessions across mentors for the monitoring list, latest first."""
    query = select(Occurrence).join(CourseGroup, CourseGroup.id == Occurrence.group_id)
    query = _filtered(query, filters, tz)
    if filters.status is not None:
        query = query.where(Occurrence.status == filters.status)
    return query.order_by(Occurrence.start_utc.desc(), Occurrence.id.desc())


def overdue_sessions(filters: MonitorFilters, tz: ZoneInfo, now: datetime | None = None) -> Select:
    """Sessions that ended more than 24 hours ago and are neither completed nor cancelled,
    oldest first (the date range and status filters do not apply: overdue is overdue)."""
    now = now or datetime.now(UTC)
    query = select(Occurrence).join(CourseGroup, CourseGroup.id == Occurrence.group_id)
    query = _filtered(query, MonitorFilters(filters.mentor_id, filters.group_id), tz)
    query = query.where(
        Occurrence.status == OccurrenceStatus.SCHEDULED,
        Occurrence.end_utc < now - OVERDUE_AFTER,
    )
    return query.order_by(Occurrence.end_utc, Occurrence.id)


def sessions_without_register(filters: MonitorFilters, tz: ZoneInfo) -> Select:
    """Completed sessions whose register was never taken though their group has students,
    latest first (the status filter does not apply: these are completed)."""
    query = select(Occurrence).join(CourseGroup, CourseGroup.id == Occurrence.group_id)
    filters = MonitorFilters(filters.mentor_id, filters.group_id, filters.start, filters.end)
    query = completed_without_register(_filtered(query, filters, tz))
    return query.order_by(Occurrence.start_utc.desc(), Occurrence.id.desc())


def find_by_code(code: str | None) -> Occurrence | None:
    """The session with this completion code, ignoring case and surrounding spaces."""
    wanted = normalise_code(code)
    if not wanted or len(wanted) > CODE_MAX:
        return None
    return db.session.scalar(
        select(Occurrence).where(func.upper(Occurrence.completion_code) == wanted)
    )
