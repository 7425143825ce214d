"""Per-date exceptions ("date overrides"): cancel one date of a series, or move it.

Saving or deleting an exception updates the affected occurrence at once, in the caller's
transaction, so no regeneration is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time

from sqlalchemy import Select, select

from models import CourseGroup, DateOverride, Occurrence, OccurrenceStatus, Room, Series, User, db
from services.common.errors import InvalidTransition, ValidationError
from services.common.timeutil import (
    date_outside,
    end_before_start_message,
    placement_range,
    times_refused,
    today_in,
)
from services.common.wording import describe_move, place_of
from services.timetable.conflicts import ensure_slot_free
from services.timetable.recurrence import OverrideRule, SeriesRule, is_series_date, plan_occurrence
from services.tracking import events


def rule_of(series: Series) -> SeriesRule:
    return SeriesRule(
        id=series.id,
        group_id=series.group_id,
        weekday_mask=series.weekday_mask,
        every_weeks=series.every_weeks,
        start_time=series.start_time,
        end_time=series.end_time,
        room_id=series.room_id,
        mode=str(series.mode),
        first_date=series.first_date,
        last_date=series.last_date,
    )


def rule_of_override(override: DateOverride) -> OverrideRule:
    return OverrideRule(
        series_id=override.series_id,
        original_date=override.original_date,
        cancelled=override.cancelled,
        new_date=override.new_date,
        start_time=override.start_time,
        end_time=override.end_time,
        room_id=override.room_id,
        mentor_id=override.mentor_id,
    )


@dataclass
class OverrideChange:
    """What the user asks for one date of a series."""

    cancelled: bool = False
    new_date: date | None = None
    start_time: time | None = None
    end_time: time | None = None
    room_id: int | None = None
    notes: str = ""


def find_occurrence(series_id: int, original_date: date) -> Occurrence | None:
    return db.session.scalar(
        select(Occurrence).where(
            Occurrence.series_id == series_id, Occurrence.original_date == original_date
        )
    )


def find_override(series_id: int, original_date: date) -> DateOverride | None:
    return db.session.scalar(
        select(DateOverride).where(
            DateOverride.series_id == series_id, DateOverride.original_date == original_date
        )
    )


def _validate(series: Series, original_date: date, change: OverrideChange, today: date) -> None:
    errors = {}
    if message := date_outside(original_date):
        errors["original_date"] = message
    elif not is_series_date(rule_of(series), original_date):
        errors["original_date"] = (
            f"{original_date:%a %d %b %Y} is not an occurrence of {series.group.name} "
            f"(it meets {series.weekday_label}"
            + (f" every {series.every_weeks} weeks" if series.every_weeks > 1 else "")
            + f" from {series.first_date:%d %b %Y}"
            + (f" to {series.last_date:%d %b %Y}" if series.last_date else "")
            + ")."
        )
    if not change.cancelled:
        if change.new_date is not None and (
            message := date_outside(change.new_date, *placement_range(today))
        ):
            errors["new_date"] = message
        if not any([change.new_date, change.start_time, change.end_time, change.room_id]):
            errors["start"] = "Choose a new date, time or room, or cancel the date."
        start = change.start_time or series.start_time
        end = change.end_time or series.end_time
        if times_refused(start, end):  # an end earlier on the clock may be the next day
            errors["end"] = end_before_start_message(start, end)
        if change.room_id is not None:
            room = db.session.get(Room, change.room_id)
            if room is None or not room.active:
                errors["room"] = "Choose an active room."
    if len(change.notes) > 2000:
        errors["notes"] = "Notes are limited to 2,000 characters."
    if errors:
        raise ValidationError(errors)


def _apply_to_occurrence(
    series: Series, override: DateOverride | None, original_date: date, tz
) -> Occurrence | None:
    """Make the existing occurrence of (series, date) reflect its exception (or the series)."""
    occurrence = find_occurrence(series.id, original_date)
    if occurrence is not None and occurrence.status == OccurrenceStatus.COMPLETED:
        raise InvalidTransition(
            "This session is already completed; its record cannot be moved or cancelled.",
            field="date",
        )
    plan = plan_occurrence(
        rule_of(series), original_date, rule_of_override(override) if override else None, tz
    )
    if not plan.cancelled:
        ensure_slot_free(
            plan.start_utc,
            plan.end_utc,
            room_id=plan.room_id,
            mentor_id=plan.cover_id or series.group.mentor_id,
            tz=tz,
            ignore_ids=[occurrence.id] if occurrence else [],
        )
    if occurrence is None:
        return None  # not generated yet: generation will create it with the exception applied
    occurrence.status = OccurrenceStatus.CANCELLED if plan.cancelled else OccurrenceStatus.SCHEDULED
    occurrence.start_utc, occurrence.end_utc = plan.start_utc, plan.end_utc
    occurrence.room_id = plan.room_id
    occurrence.cover_mentor_id = plan.cover_id
    occurrence.sequence += 1
    return occurrence


def save_override(
    series: Series, original_date: date, change: OverrideChange, *, actor: User | None, tz
) -> tuple[DateOverride, Occurrence | None]:
    """Create or update the exception for (series, date) and apply it to its occurrence.

    A second exception for the same date updates the first. Raises ValidationError (bad
    input, date not an occurrence), ConflictError (the moved session would double-book a
    room or the mentor) or InvalidTransition (the session is completed).
    """
    _validate(series, original_date, change, today_in(tz))
    override = find_override(series.id, original_date)
    if override is None:
        override = DateOverride(
            series_id=series.id,
            original_date=original_date,
            created_by_id=actor.id if actor else None,
        )
        db.session.add(override)
    override.cancelled = change.cancelled
    override.new_date = None if change.cancelled else change.new_date
    override.start_time = None if change.cancelled else change.start_time
    override.end_time = None if change.cancelled else change.end_time
    override.room_id = None if change.cancelled else change.room_id
    override.notes = change.notes.strip()
    db.session.flush()
    before = _when_and_where(find_occurrence(series.id, original_date), tz)
    occurrence = _apply_to_occurrence(series, override, original_date, tz)
    db.session.flush()
    if occurrence is not None:
        _tell_participants(occurrence, before, tz, actor=actor, notes=override.notes)
    return override, occurrence


def delete_override(override: DateOverride, *, tz, actor: User | None = None) -> Occurrence | None:
    """Remove an exception and restore its occurrence to the series' current values."""
    series, original_date = override.series, override.original_date
    before = _when_and_where(find_occurrence(series.id, original_date), tz)
    db.session.delete(override)
    db.session.flush()
    occurrence = _apply_to_occurrence(series, None, original_date, tz)
    db.session.flush()
    if occurrence is not None:
        _tell_participants(occurrence, before, tz, actor=actor, restored=True)
    return occurrence


def _when_and_where(occurrence: Occurrence | None, tz) -> tuple | None:
    """(status, local start, local end, place as `place_of` writes it)."""
    if occurrence is None:
        return None
    # By id: the relationship may still hold the room from before the change.
    room = db.session.get(Room, occurrence.room_id).name if occurrence.room_id else None
    # An exception's session without a room is an online one.
    place = place_of(room, online=room is None)
    start, end = occurrence.start_utc.astimezone(tz), occurrence.end_utc.astimezone(tz)
    return (occurrence.status, start, end, place)


def _tell_participants(
    occurrence: Occurrence, before, tz, *, actor: User | None, notes: str = "", restored=False
) -> None:
    """Notify the session's mentor and students that this date was cancelled, moved or
    restored (nothing when nothing they would notice changed)."""
    from services.notifications.inbox import (
        SESSION_CANCELLED,
        SESSION_MOVED,
        SESSION_RESTORED,
        notify_session_change,
    )

    after = _when_and_where(occurrence, tz)
    if before == after:
        return
    name = occurrence.title or occurrence.group.name
    was = f"{name} on {before[1]:%a %d %b %H:%M}" if before else name
    start, where = after[1], after[3]
    if occurrence.status == OccurrenceStatus.CANCELLED:
        kind, title, event = SESSION_CANCELLED, f"{was} is cancelled", events.CANCELLED
    elif restored or (before and before[0] == OccurrenceStatus.CANCELLED):
        # Back from the series or from a cancellation: it takes place (again).
        kind, title = SESSION_RESTORED, f"{name} is back on {start:%a %d %b %H:%M} {where}"
        event = events.RESTORED
    else:
        # Say only what changed: "moves to Library (same time)", "moves to 10:30".
        moved = describe_move(before[1:], after[1:]) if before else ""
        kind, title = SESSION_MOVED, f"{was} {moved or f'moves to {start:%a %d %b %H:%M} {where}'}"
        event = events.MOVED
    notify_session_change(occurrence, kind, title, notes, actor=actor)
    events.record_event(
        occurrence.id, event, actor=actor, summary=title + (f": {notes}" if notes else "")
    )


OVERRIDE_KINDS = ("cancel", "override")


def overrides_query(
    *,
    group_id: int | None = None,
    kind: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> Select:
    """Exceptions, newest series date first, narrowed to a group, a kind ("cancel" or
    "override") and series dates in [start, end]."""
    query = (
        select(DateOverride)
        .join(Series, Series.id == DateOverride.series_id)
        .join(CourseGroup, CourseGroup.id == Series.group_id)
        .order_by(DateOverride.original_date.desc(), CourseGroup.name, DateOverride.id)
    )
    if group_id:
        query = query.where(CourseGroup.id == group_id)
    if kind in OVERRIDE_KINDS:
        query = query.where(DateOverride.cancelled.is_(kind == "cancel"))
    if start is not None:
        query = query.where(DateOverride.original_date >= start)
    if end is not None:
        query = query.where(DateOverride.original_date <= end)
    return query
