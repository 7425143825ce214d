"""The timetable's representations: the schemas of what the API answers about rooms, subjects,
course groups, weekly series, sessions, exceptions and generation, and the functions that fill
them from the models (`session_detail` is also what the tracking endpoints answer)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from blueprints.api.common import Instant, LocalTime, RefSchema, api_user, org_tz, ref
from models import (
    CourseGroup,
    DateOverride,
    Occurrence,
    OccurrenceMode,
    OccurrenceStatus,
    Room,
    Series,
)
from models.series import mask_to_weekdays
from services.permissions import may_see_conflicts
from services.timetable.exceptions import find_occurrence
from services.timetable.sessions import cancellation_reason, session_conflicts

# Weekdays are written as these names in the API (never numbers: 0 = Monday or Sunday?).
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
STATUSES = [s.value for s in OccurrenceStatus]
MODES = [m.value for m in OccurrenceMode]


class RoomSchema(ma.Schema):
    id = fields.Integer()
    name = fields.String()
    capacity = fields.Integer(allow_none=True)
    active = fields.Boolean()


class SubjectSchema(ma.Schema):
    id = fields.Integer()
    name = fields.String()
    active = fields.Boolean()


class GroupSchema(ma.Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String(metadata={"description": "class or tutoring"})
    active = fields.Boolean()
    subject = fields.Nested(RefSchema)
    mentor = fields.Nested(RefSchema)
    default_room = fields.Nested(RefSchema, allow_none=True)


# How every end time of the API reads (services.common.timeutil.ends_next_day).
NEXT_DAY_END = (
    "an end earlier than the start is on the next day (23:30-00:30), "
    "at most 12 hours after the start"
)


class SeriesSchema(ma.Schema):
    id = fields.Integer()
    group = fields.Nested(RefSchema)
    weekdays = fields.List(fields.String(), metadata={"description": "Names: mon ... sun"})
    every_weeks = fields.Integer()
    start = LocalTime()
    end = LocalTime(metadata={"description": f"Local time HH:MM; {NEXT_DAY_END}"})
    room = fields.Nested(RefSchema, allow_none=True)
    mode = fields.String(metadata={"description": "in_person or online"})
    first_date = fields.Date()
    last_date = fields.Date(allow_none=True)
    term = fields.Nested(
        RefSchema,
        allow_none=True,
        metadata={"description": "The term it runs for (its dates are the term's); else null"},
    )


class GroupDetailSchema(GroupSchema):
    series = fields.List(fields.Nested(SeriesSchema))
    students = fields.List(
        fields.Nested(RefSchema),
        allow_none=True,
        metadata={"description": "Enrolled students (staff and the group's mentor; else null)"},
    )


class SessionSchema(ma.Schema):
    id = fields.Integer()
    group = fields.Nested(RefSchema)
    subject = fields.Nested(RefSchema)
    mentor = fields.Nested(
        RefSchema,
        metadata={"description": "Who teaches it: the substitute when covered, else the group's"},
    )
    cover = fields.Boolean(
        metadata={"description": "Taught by a substitute covering for the group's mentor"}
    )
    covered_for = fields.Nested(
        RefSchema,
        allow_none=True,
        metadata={"description": "The group's mentor the substitute covers for (null: no cover)"},
    )
    room = fields.Nested(RefSchema, allow_none=True)
    title = fields.String(allow_none=True)
    date = fields.Date(metadata={"description": "Local date of the start"})
    start = LocalTime()
    end = LocalTime(
        metadata={
            "description": "Local time HH:MM of the end; earlier than the start for a "
            "session past midnight, which ends the next day (see ends_at)"
        }
    )
    starts_at = Instant()
    ends_at = Instant()
    status = fields.String(metadata={"description": " | ".join(STATUSES)})
    mode = fields.String(metadata={"description": " | ".join(MODES)})
    one_time = fields.Boolean()
    series_id = fields.Integer(allow_none=True)
    original_date = fields.Date(
        allow_none=True, metadata={"description": "The series date it stems from"}
    )
    cancel_reason = fields.String(allow_none=True)
    video_room_id = fields.String(allow_none=True)
    conflict = fields.Boolean(
        allow_none=True,
        metadata={"description": "Double-booked (staff and the mentor; null for others)"},
    )


class SessionConflictSchema(ma.Schema):
    kind = fields.String(metadata={"description": "room, mentor or student"})
    shared = fields.List(fields.String())
    other = fields.Dict(
        metadata={
            "description": "id, group, date, start, end, end_date (the next day for a session"
            " past midnight), room"
        }
    )


class SessionDetailSchema(SessionSchema):
    conflicts = fields.List(fields.Nested(SessionConflictSchema), allow_none=True)
    adjustments = fields.List(
        fields.String(),
        metadata={"description": "How the times asked for were adjusted (a DST gap)"},
    )


class ExceptionSchema(ma.Schema):
    id = fields.Integer()
    series_id = fields.Integer()
    group = fields.Nested(RefSchema)
    original_date = fields.Date()
    kind = fields.String(metadata={"description": "cancel or override"})
    new_date = fields.Date(allow_none=True)
    start = LocalTime(allow_none=True)
    end = LocalTime(allow_none=True)
    room = fields.Nested(RefSchema, allow_none=True)
    notes = fields.String()
    session_id = fields.Integer(
        allow_none=True, metadata={"description": "The session of that date, once generated"}
    )


class ClosureSchema(ma.Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String(metadata={"description": "holiday, closed or staff_day"})
    first_day = fields.Date()
    last_day = fields.Date(metadata={"description": "Included"})
    whole_school = fields.Boolean()
    groups = fields.List(fields.Nested(RefSchema), metadata={"description": "Unless whole_school"})
    runs_as = fields.Date(
        allow_none=True,
        metadata={"description": "A make-up day: the day whose timetable runs on it; else null"},
    )
    cancelled = fields.List(
        fields.Integer(), metadata={"description": "When added: the sessions it cancelled"}
    )
    kept = fields.List(
        fields.Integer(),
        metadata={"description": "When added or changed: sessions on its days left as they are"},
    )
    restored = fields.List(
        fields.Integer(),
        metadata={"description": "When changed: the sessions back on, on days it no longer closes"},
    )
    clashing = fields.List(
        fields.Integer(),
        metadata={"description": "When changed: those back on that now clash with another session"},
    )


class GenerationSummarySchema(ma.Schema):
    """Exactly what `flask generate-sessions --json` prints."""

    start = fields.String()
    end = fields.String()
    force = fields.Boolean()
    dry_run = fields.Boolean()
    created = fields.Integer()
    updated = fields.Integer()
    removed = fields.Integer()
    unchanged = fields.Integer()
    kept = fields.Integer()
    out_of_date = fields.Integer()
    # Series dates on closed days (holidays, closures): no session made for them.
    closed = fields.Integer()
    conflicts = fields.List(fields.Dict())
    shifted = fields.List(fields.Dict())


def room_json(room: Room) -> dict:
    return {"id": room.id, "name": room.name, "capacity": room.capacity, "active": room.active}


def group_json(group: CourseGroup) -> dict:
    return {
        "id": group.id,
        "name": group.name,
        "kind": str(group.kind),
        "active": group.active,
        "subject": ref(group.subject),
        "mentor": ref(group.mentor),
        "default_room": ref(group.default_room),
    }


def series_json(series: Series) -> dict:
    return {
        "id": series.id,
        "group": ref(series.group),
        "weekdays": [WEEKDAY_NAMES[d] for d in mask_to_weekdays(series.weekday_mask)],
        "every_weeks": series.every_weeks,
        "start": series.start_time,
        "end": series.end_time,
        "room": ref(series.room),
        "mode": str(series.mode),
        "first_date": series.first_date,
        "last_date": series.last_date,
        "term": ref(series.term),
    }


def session_json(occurrence: Occurrence, tz, conflict: bool | None = None, override=None) -> dict:
    """`override`: the session's exception, when the caller loaded it (lists load those of a
    page at once, see `cancelling_exceptions`)."""
    start = occurrence.start_utc.astimezone(tz)
    end = occurrence.end_utc.astimezone(tz)
    group = occurrence.group
    return {
        "id": occurrence.id,
        "group": ref(group),
        "subject": ref(group.subject),
        "mentor": ref(occurrence.mentor),
        "cover": occurrence.cover_mentor_id is not None,
        "covered_for": ref(group.mentor) if occurrence.cover_mentor_id is not None else None,
        "room": ref(occurrence.room),
        "title": occurrence.title,
        "date": start.date(),
        "start": start.time(),
        "end": end.time(),
        "starts_at": occurrence.start_utc,
        "ends_at": occurrence.end_utc,
        "status": str(occurrence.status),
        "mode": str(occurrence.mode),
        "one_time": occurrence.is_one_time,
        "series_id": occurrence.series_id,
        "original_date": occurrence.original_date,
        "cancel_reason": cancellation_reason(occurrence, override) or None,
        "video_room_id": occurrence.video_room_id,
        "conflict": conflict,
    }


def session_detail(occurrence: Occurrence, adjustments=()) -> dict:
    tz = org_tz()
    user = api_user()
    conflicts = None
    if may_see_conflicts(user, occurrence):
        conflicts = [
            {"kind": c.kind, "shared": c.shared, "other": c.other}
            for c in session_conflicts(occurrence, tz)
        ]
    data = session_json(occurrence, tz, conflict=bool(conflicts) if conflicts is not None else None)
    data["conflicts"] = conflicts
    data["adjustments"] = list(adjustments)
    return data


class TermSchema(ma.Schema):
    id = fields.Integer()
    year = fields.Nested(RefSchema)
    name = fields.String()
    first_day = fields.Date()
    last_day = fields.Date(metadata={"description": "Included"})


class YearSchema(ma.Schema):
    id = fields.Integer()
    name = fields.String()
    first_day = fields.Date()
    last_day = fields.Date(metadata={"description": "Included"})
    terms = fields.List(fields.Nested(TermSchema), metadata={"description": "By first day"})


def term_json(term) -> dict:
    return {
        "id": term.id,
        "year": ref(term.year),
        "name": term.name,
        "first_day": term.first_day,
        "last_day": term.last_day,
    }


def year_json(year) -> dict:
    return {
        "id": year.id,
        "name": year.name,
        "first_day": year.first_day,
        "last_day": year.last_day,
        "terms": [term_json(t) for t in year.terms],
    }


def closure_json(closure) -> dict:
    return {
        "id": closure.id,
        "name": closure.name,
        "kind": str(closure.kind),
        "first_day": closure.first_day,
        "last_day": closure.last_day,
        "whole_school": closure.whole_school,
        "groups": [ref(g) for g in closure.groups],
        "runs_as": closure.runs_as,
    }


def exception_json(override: DateOverride) -> dict:
    occurrence = find_occurrence(override.series_id, override.original_date)
    return {
        "id": override.id,
        "series_id": override.series_id,
        "group": ref(override.series.group),
        "original_date": override.original_date,
        "kind": override.kind,
        "new_date": override.new_date,
        "start": override.start_time,
        "end": override.end_time,
        "room": ref(override.room),
        "notes": override.notes or "",
        "session_id": occurrence.id if occurrence else None,
    }
