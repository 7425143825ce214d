"""Single sessions: loading one its viewer may see, one-time sessions, and changing any one session.

A one-time session (no series) is created, edited, cancelled, restored and deleted directly.
A session of a weekly series is never edited in place: rescheduling or cancelling it records a
per-date exception (`services.timetable.exceptions`), so regeneration and the week grid
respect it, and it cannot be deleted (regeneration would bring it back; cancel the date
instead). A completed
session is history: it cannot be edited, cancelled, restored or deleted.

Every function here takes plain values and the acting user, validates (`ValidationError` with
one message per field), refuses a double booking (`ConflictError` naming the other session)
or a change the session's state does not allow (`InvalidTransition`), flushes, and leaves the
commit to the caller: a page, a command or the JSON API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import InvalidRequestError

from models import (
    CourseGroup,
    DateOverride,
    Occurrence,
    OccurrenceMode,
    OccurrenceStatus,
    Room,
    User,
    db,
)
from models.types import one_of, utcnow
from services.common.errors import InvalidTransition, NotFoundError, ValidationError
from services.common.numbers import is_row_id
from services.common.timeutil import (
    date_outside,
    end_before_start_message,
    ends_next_day,
    placement_range,
    resolve_local,
    resolve_span,
    span_label,
    times_refused,
    today_in,
)
from services.common.wording import describe_move, place_of
from services.notifications.inbox import (
    SESSION_CANCELLED,
    SESSION_MOVED,
    SESSION_REMOVED,
    SESSION_RESTORED,
    notify,
    notify_session_change,
    participants_of,
)
from services.permissions import can_view_session
from services.timetable.clashes import conflicts_of
from services.timetable.conflicts import (
    describe_conflicts,
    described_times,
    ensure_slot_free,
    lock_schedule,
)
from services.timetable.exceptions import (
    OverrideChange,
    delete_override,
    find_override,
    save_override,
)
from services.timetable.video_rooms import new_room_id
from services.tracking import events

TITLE_MAX_LENGTH = 200
REASON_MAX_LENGTH = 2000
NOTES_MAX_LENGTH = 2000


@dataclass
class SessionOutcome:
    """What a change did: the session, its exception (series sessions), and what was adjusted."""

    occurrence: Occurrence
    override: DateOverride | None = None
    # Sentences telling the user how typed times were adjusted (a DST gap), if they were.
    adjustments: list[str] = field(default_factory=list)
    # False when the request asked for what the session already was: nothing was written.
    changed: bool = True


@dataclass
class SessionConflict:
    """Another session this one overlaps with, and what they share (room, mentor, students)."""

    kind: str
    shared: list[str]
    other: dict

    @property
    def other_label(self) -> str:
        """'Physics 8B on Mon 07 Sep 2026 10:30-11:30 (Lab 1)'."""
        other = self.other
        day = date.fromisoformat(other["date"])
        room = f" ({other['room']})" if other["room"] else ""
        return f"{other['group']} on {day:%a %d %b %Y} {described_times(other)}{room}"


# --- Loading a session --------------------------------------------------------------------------


def get_visible_session(viewer: User | None, occurrence_id: int) -> Occurrence:
    """The session with this id if `viewer` may see it; otherwise NotFoundError (never a hint
    that a session exists which the viewer may not see)."""
    occurrence = db.session.get(Occurrence, occurrence_id) if is_row_id(occurrence_id) else None
    if occurrence is None or not can_view_session(viewer, occurrence):
        raise NotFoundError("No such session.")
    return occurrence


# --- What a session is --------------------------------------------------------------------------


def exception_of(occurrence: Occurrence) -> DateOverride | None:
    """The per-date exception applying to a series session (None for one-time sessions)."""
    if occurrence.is_one_time:
        return None
    return find_override(occurrence.series_id, occurrence.original_date)


def cancelling_exceptions(occurrences: list[Occurrence]) -> dict[tuple[int, date], DateOverride]:
    """The exceptions of the cancelled series sessions among `occurrences`, by (series,
    series date), in one statement (the series bound as one list, the dates as a range): a
    list of sessions names each one's cancellation reason without a query per session."""
    cancelled = [o for o in occurrences if o.is_cancelled and not o.is_one_time]
    if not cancelled:
        return {}
    dates = [o.original_date for o in cancelled]
    rows = db.session.scalars(
        select(DateOverride).where(
            one_of(DateOverride.series_id, name="series"),
            DateOverride.original_date >= min(dates),
            DateOverride.original_date <= max(dates),
        ),
        {"series": {o.series_id for o in cancelled}},
    )
    return {(row.series_id, row.original_date): row for row in rows}


def cancellation_reason(occurrence: Occurrence, override: DateOverride | None = None) -> str:
    """Why a cancelled session is cancelled: its own reason (one-time) or the notes of the
    exception that cancels its date (series). Empty for sessions that are not cancelled."""
    if not occurrence.is_cancelled:
        return ""
    if occurrence.is_one_time:
        return occurrence.cancel_reason or ""
    override = override or exception_of(occurrence)
    return override.notes if override is not None and override.cancelled else ""


def session_conflicts(occurrence: Occurrence, tz: ZoneInfo) -> list[SessionConflict]:
    """The other non-cancelled sessions overlapping this one in a room, a mentor or a student."""
    result = []
    for described in describe_conflicts(conflicts_of(occurrence), tz):
        first, second = described["sessions"]
        other = second if first["id"] == occurrence.id else first
        result.append(SessionConflict(described["kind"], described["shared"], other))
    return result


def edit_refusal(occurrence: Occurrence) -> str | None:
    """Why this session cannot be edited now, or None."""
    if occurrence.is_completed:
        return "This session is completed: its record cannot be edited."
    if occurrence.is_cancelled:
        return "This session is cancelled: restore it first, then edit it."
    return None


def cancel_refusal(occurrence: Occurrence) -> str | None:
    if occurrence.is_completed:
        return "This session is completed: its record cannot be cancelled."
    if occurrence.is_cancelled:
        return "This session is already cancelled."
    return None


def restore_refusal(occurrence: Occurrence) -> str | None:
    if not occurrence.is_cancelled:
        return "This session is not cancelled."
    return None


def delete_refusal(occurrence: Occurrence) -> str | None:
    if not occurrence.is_one_time:
        return (
            "A session of a weekly series cannot be deleted (the next generation would bring "
            "it back): cancel its date instead."
        )
    if occurrence.is_completed:
        return "This session is completed: its record is kept and cannot be deleted."
    return None


# --- Validation helpers -------------------------------------------------------------------------


def _check_date(day: date, today: date, errors: dict) -> None:
    if message := date_outside(day, *placement_range(today)):
        errors["date"] = message


def _check_times(start: time, end: time, errors: dict) -> None:
    """An end earlier on the clock is on the next day (23:30-00:30), up to 12 hours after."""
    if times_refused(start, end):
        errors["end"] = end_before_start_message(start, end)


def _check_room(room_id: int | None, current_room_id: int | None, errors: dict) -> None:
    """An active room; a room the session already has may stay even if since deactivated."""
    if room_id is None or room_id == current_room_id:
        return
    room = db.session.get(Room, room_id) if is_row_id(room_id) else None
    if room is None or not room.active:
        errors["room"] = "Choose an active room."


def _parse_mode(mode, errors: dict) -> OccurrenceMode | None:
    try:
        return OccurrenceMode(mode)
    except ValueError:
        errors["mode"] = "Choose in person or online."
        return None


def _clean_title(title: str | None, errors: dict) -> str | None:
    cleaned = (title or "").strip()
    if len(cleaned) > TITLE_MAX_LENGTH:
        errors["title"] = f"Titles are limited to {TITLE_MAX_LENGTH} characters."
    return cleaned or None


def _resolve(day: date, start: time, end: time, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """UTC instants of a local start and end, as the generation engine resolves them.

    An end earlier on the clock is on the next day (23:30-00:30). A time in a DST gap moves
    forward (`resolve_local`); should the start then pass the end (02:30-03:15 on the
    spring-forward night), the session keeps the length that was typed.
    """
    start_utc, end_utc, _ = resolve_span(day, start, end, tz)
    return start_utc, end_utc


def _adjustments(day: date, start: time, end: time, occurrence: Occurrence, tz) -> list[str]:
    """Say so when the stored times are not the local times that were asked for."""
    actual_start = occurrence.start_utc.astimezone(tz)
    actual_end = occurrence.end_utc.astimezone(tz)
    if (actual_start.date(), actual_start.time(), actual_end.time()) == (day, start, end):
        return []
    end_day = day + timedelta(days=1) if ends_next_day(start, end) else day
    gaps = [(t, on) for t, on in ((start, day), (end, end_day)) if resolve_local(on, t, tz).shifted]
    if gaps:
        verb = "does" if len(gaps) == 1 else "do"
        missing = " and ".join(f"{t:%H:%M}" for t, _ in gaps)
        cause = f"{missing} {verb} not exist on {gaps[0][1]:%a %d %b %Y} (clocks go forward)"
    else:
        cause = f"The times asked for on {day:%a %d %b %Y} could not be kept"
    runs = span_label(occurrence.start_utc, occurrence.end_utc, tz, "-")
    return [f"{cause}: the session runs {runs}."]


def _lock_and_reload(occurrence: Occurrence) -> None:
    """Serialise with other writers, then re-read the session as committed by them (it may
    have been completed, cancelled or deleted since the caller loaded it)."""
    lock_schedule()
    try:
        db.session.refresh(occurrence)
    except InvalidRequestError as err:
        raise NotFoundError("This session no longer exists.") from err


def _refuse(reason: str | None) -> None:
    if reason:
        raise InvalidTransition(reason)


# --- One-time sessions --------------------------------------------------------------------------


def create_one_time_session(
    *,
    group_id: int,
    day: date,
    start: time,
    end: time,
    room_id: int | None,
    mode: OccurrenceMode | str = OccurrenceMode.IN_PERSON,
    title: str | None = None,
    actor: User | None,
    tz: ZoneInfo,
    today: date | None = None,
) -> SessionOutcome:
    """Create a one-time session of an active course group on a local date and times.

    Refuses (ValidationError) an inactive or unknown group or room, an end not after the
    start, an in-person session without a room, a date outside the allowed range; refuses
    (ConflictError) a double booking of the room or the group's mentor.
    """
    today = today or today_in(tz)
    errors: dict[str, str] = {}
    group = db.session.get(CourseGroup, group_id) if is_row_id(group_id) else None
    if group is None or not group.active:
        errors["group"] = "Choose an active course group."
    _check_date(day, today, errors)
    _check_times(start, end, errors)
    mode_value = _parse_mode(mode, errors)
    if room_id is None and mode_value == OccurrenceMode.IN_PERSON:
        errors["room"] = "Choose a room for an in-person session, or make it online."
    _check_room(room_id, None, errors)
    cleaned_title = _clean_title(title, errors)
    if errors:
        raise ValidationError(errors)

    start_utc, end_utc = _resolve(day, start, end, tz)
    lock_schedule()
    ensure_slot_free(start_utc, end_utc, room_id=room_id, mentor_id=group.mentor_id, tz=tz)
    occurrence = Occurrence(
        group_id=group.id,
        start_utc=start_utc,
        end_utc=end_utc,
        room_id=room_id,
        mode=mode_value,
        video_room_id=new_room_id() if mode_value == OccurrenceMode.ONLINE else None,
        status=OccurrenceStatus.SCHEDULED,
        title=cleaned_title,
        edited_by_hand=False,
        sequence=0,
    )
    db.session.add(occurrence)
    db.session.flush()
    return SessionOutcome(occurrence, adjustments=_adjustments(day, start, end, occurrence, tz))


def update_one_time_session(
    occurrence: Occurrence,
    *,
    day: date,
    start: time,
    end: time,
    room_id: int | None,
    mode: OccurrenceMode | str,
    title: str | None,
    actor: User | None,
    tz: ZoneInfo,
    today: date | None = None,
) -> SessionOutcome:
    """Change a one-time session's date, times, room, mode and title (its group is fixed).

    Refused for series sessions (see `reschedule_session`), completed and cancelled ones.
    Bumps `sequence` when anything changed, so calendar clients pick the change up.
    """
    _lock_and_reload(occurrence)
    if not occurrence.is_one_time:
        raise InvalidTransition(
            "This session belongs to a weekly series: change it through an exception."
        )
    _refuse(edit_refusal(occurrence))
    today = today or today_in(tz)
    errors: dict[str, str] = {}
    _check_date(day, today, errors)
    _check_times(start, end, errors)
    mode_value = _parse_mode(mode, errors)
    if room_id is None and mode_value == OccurrenceMode.IN_PERSON:
        errors["room"] = "Choose a room for an in-person session, or make it online."
    _check_room(room_id, occurrence.room_id, errors)
    cleaned_title = _clean_title(title, errors)
    if errors:
        raise ValidationError(errors)

    start_utc, end_utc = _resolve(day, start, end, tz)
    wanted = (start_utc, end_utc, room_id, mode_value, cleaned_title)
    current = (
        occurrence.start_utc,
        occurrence.end_utc,
        occurrence.room_id,
        occurrence.mode,
        occurrence.title,
    )
    if wanted == current:
        return SessionOutcome(occurrence, changed=False)
    ensure_slot_free(
        start_utc,
        end_utc,
        room_id=room_id,
        mentor_id=occurrence.mentor_id,  # who teaches it: its cover, if any
        tz=tz,
        ignore_ids=[occurrence.id],
    )
    was = _name_and_time(occurrence, tz)
    moved = (start_utc, end_utc, room_id) != current[:3]
    mode_changed = mode_value != current[3]
    occurrence.start_utc, occurrence.end_utc = start_utc, end_utc
    occurrence.room_id = room_id
    if mode_value == OccurrenceMode.ONLINE and occurrence.video_room_id is None:
        # Before the mode changes: drawing the id queries, which flushes pending changes.
        occurrence.video_room_id = new_room_id()
    occurrence.mode = mode_value
    occurrence.title = cleaned_title
    occurrence.sequence += 1
    db.session.flush()
    if moved or mode_changed:

        def placement(start_at, end_at, room_at, mode_at) -> tuple:
            room = db.session.get(Room, room_at).name if room_at else None
            where = place_of(room, online=mode_at == OccurrenceMode.ONLINE)
            return start_at.astimezone(tz), end_at.astimezone(tz), where

        before = placement(*current[:4])
        after = placement(start_utc, end_utc, room_id, mode_value)
        # Say only what changed: "moves to Library (same time)", "moves to 10:30".
        title = f"{was} {describe_move(before, after)}" if moved else f"{was} is now {after[2]}"
        notify_session_change(occurrence, SESSION_MOVED, title, actor=actor)
        events.record_event(occurrence.id, events.MOVED, actor=actor, summary=title)
    return SessionOutcome(occurrence, adjustments=_adjustments(day, start, end, occurrence, tz))


def delete_one_time_session(occurrence: Occurrence, *, actor: User | None, tz: ZoneInfo) -> None:
    """Delete a one-time session (telling its participants, if it was still to come); series
    and completed sessions are refused."""
    _lock_and_reload(occurrence)
    _refuse(delete_refusal(occurrence))
    if occurrence.start_utc > utcnow():  # a session still to come leaves people's timetables
        recipients = participants_of(occurrence) - ({actor.id} if actor is not None else set())
        title = f"{_name_and_time(occurrence, tz)} is removed from the timetable"
        notify(recipients, SESSION_REMOVED, title, link="/dashboard/")
    db.session.delete(occurrence)
    db.session.flush()


# --- Any session: reschedule, cancel, restore ---------------------------------------------------


def reschedule_session(
    occurrence: Occurrence,
    *,
    day: date,
    start: time,
    end: time,
    room_id: int | None,
    notes: str | None = None,
    actor: User | None,
    tz: ZoneInfo,
    today: date | None = None,
) -> SessionOutcome:
    """Move one session to a local date, times and room.

    A one-time session is changed directly (`update_one_time_session`, keeping its mode and
    title). A series session gets an exception for its series date: each value equal to the
    series' own (date = its series date, `room_id` None = the series' room) is left to follow
    the series; asking for exactly the series' values removes an existing exception. `notes`
    (None: keep the exception's notes) are the exception's notes.
    """
    if occurrence.is_one_time:
        return update_one_time_session(
            occurrence,
            day=day,
            start=start,
            end=end,
            room_id=room_id,
            mode=occurrence.mode,
            title=occurrence.title,
            actor=actor,
            tz=tz,
            today=today,
        )
    _lock_and_reload(occurrence)
    _refuse(edit_refusal(occurrence))
    today = today or today_in(tz)
    errors: dict[str, str] = {}
    _check_date(day, today, errors)
    _check_times(start, end, errors)
    _check_room(room_id, occurrence.room_id, errors)
    if notes is not None and len(notes.strip()) > NOTES_MAX_LENGTH:
        errors["notes"] = f"Notes are limited to {NOTES_MAX_LENGTH:,} characters."
    if errors:
        raise ValidationError(errors)

    series = occurrence.series
    existing = find_override(series.id, occurrence.original_date)
    change = OverrideChange(
        new_date=day if day != occurrence.original_date else None,
        start_time=start if start != series.start_time else None,
        end_time=end if end != series.end_time else None,
        room_id=room_id if room_id not in (None, series.room_id) else None,
        notes=(notes if notes is not None else (existing.notes if existing else "")).strip(),
    )
    follows_series = not any([change.new_date, change.start_time, change.end_time, change.room_id])
    if follows_series:
        if existing is None:
            return SessionOutcome(occurrence, changed=False)
        # Back to the series' own date, time and room: the exception has nothing left to say.
        delete_override(existing, tz=tz, actor=actor)
        return SessionOutcome(occurrence, adjustments=_adjustments(day, start, end, occurrence, tz))
    if existing is not None and (
        (existing.cancelled, existing.new_date, existing.start_time, existing.end_time)
        == (False, change.new_date, change.start_time, change.end_time)
        and (existing.room_id, existing.notes) == (change.room_id, change.notes)
    ):
        return SessionOutcome(occurrence, override=existing, changed=False)
    override, _ = save_override(series, occurrence.original_date, change, actor=actor, tz=tz)
    return SessionOutcome(
        occurrence, override=override, adjustments=_adjustments(day, start, end, occurrence, tz)
    )


def _name_and_time(occurrence: Occurrence, tz: ZoneInfo) -> str:
    start = occurrence.start_utc.astimezone(tz)
    return f"{occurrence.title or occurrence.group.name} on {start:%a %d %b %H:%M}"


def cancel_session(
    occurrence: Occurrence, *, reason: str, actor: User | None, tz: ZoneInfo
) -> SessionOutcome:
    """Cancel a session with a reason.

    One-time: status `cancelled`, `cancel_reason` stored, `sequence` bumped. Series: an
    exception cancelling its date, with the reason as its notes (any move recorded for that
    date is replaced), so the date stays cancelled through every regeneration.
    """
    cleaned = (reason or "").strip()
    if not cleaned:
        raise ValidationError({"reason": "Give a reason for the cancellation."})
    if len(cleaned) > REASON_MAX_LENGTH:
        raise ValidationError(
            {"reason": f"Reasons are limited to {REASON_MAX_LENGTH:,} characters."}
        )
    _lock_and_reload(occurrence)
    _refuse(cancel_refusal(occurrence))
    if occurrence.is_one_time:
        occurrence.status = OccurrenceStatus.CANCELLED
        occurrence.cancel_reason = cleaned
        occurrence.sequence += 1
        db.session.flush()
        title = f"{_name_and_time(occurrence, tz)} is cancelled"
        notify_session_change(occurrence, SESSION_CANCELLED, title, cleaned, actor=actor)
        events.record_event(
            occurrence.id, events.CANCELLED, actor=actor, summary=f"{title}: {cleaned}"
        )
        return SessionOutcome(occurrence)
    override, _ = save_override(
        occurrence.series,
        occurrence.original_date,
        OverrideChange(cancelled=True, notes=cleaned),
        actor=actor,
        tz=tz,
    )
    return SessionOutcome(occurrence, override=override)


def restore_session(occurrence: Occurrence, *, actor: User | None, tz: ZoneInfo) -> SessionOutcome:
    """Bring a cancelled session back, if its slot is still free (else ConflictError).

    One-time: scheduled again at its time and room, reason cleared, `sequence` bumped.
    Series: the cancelling exception is removed, so the date takes the series' current time
    and room again.
    """
    _lock_and_reload(occurrence)
    _refuse(restore_refusal(occurrence))
    override = exception_of(occurrence)
    if override is not None and override.cancelled:
        delete_override(override, tz=tz, actor=actor)
        return SessionOutcome(occurrence)
    # A one-time session (or, defensively, a series session cancelled without an exception).
    ensure_slot_free(
        occurrence.start_utc,
        occurrence.end_utc,
        room_id=occurrence.room_id,
        mentor_id=occurrence.mentor_id,  # who teaches it: its cover, if any
        tz=tz,
        ignore_ids=[occurrence.id],
    )
    occurrence.status = OccurrenceStatus.SCHEDULED
    occurrence.cancel_reason = None
    occurrence.sequence += 1
    db.session.flush()
    title = f"{_name_and_time(occurrence, tz)} takes place again"
    notify_session_change(occurrence, SESSION_RESTORED, title, actor=actor)
    events.record_event(occurrence.id, events.RESTORED, actor=actor, summary=title)
    return SessionOutcome(occurrence)
