"""Sessions: those the user may see in a date range, one with its conflicts; one-time
sessions created and any session moved, cancelled, restored or deleted by staff."""

from __future__ import annotations

from datetime import time

import marshmallow as ma
from flask import url_for
from marshmallow import fields, validate

from blueprints.api.common import (
    Id,
    LocalTime,
    PageArgs,
    QueryId,
    StrictSchema,
    api_user,
    load_visible_session,
    no_content,
    org_tz,
    page_schema,
    paged,
    paginate,
    require_staff,
)
from blueprints.api.timetable import blp
from blueprints.api.timetable.schemas import (
    MODES,
    NEXT_DAY_END,
    STATUSES,
    SessionDetailSchema,
    SessionSchema,
    session_detail,
    session_json,
)
from models import Occurrence, OccurrenceMode, OccurrenceStatus, db
from services.permissions import may_see_conflicts
from services.timetable.clashes import sessions_in_conflict
from services.timetable.listing import sessions_in_range
from services.timetable.schedule.view import ScheduleFilters
from services.timetable.sessions import (
    cancel_session,
    cancelling_exceptions,
    create_one_time_session,
    delete_one_time_session,
    reschedule_session,
    restore_session,
)

MAX_RANGE_DAYS = 366


class SessionListArgs(PageArgs):
    start = fields.Date(required=True, metadata={"description": "First local date (included)"})
    end = fields.Date(
        required=True,
        metadata={"description": f"Last local date, excluded; at most {MAX_RANGE_DAYS} days"},
    )
    group = QueryId()
    room = QueryId()
    mentor = QueryId(
        metadata={
            "description": "A mentor's sessions: their groups' (also those someone covers) and"
            " those they cover for another mentor"
        }
    )
    student = QueryId()
    status = fields.String(validate=validate.OneOf(STATUSES))

    @ma.validates_schema
    def _range(self, data, **kwargs):
        if "start" in data and "end" in data:
            days = (data["end"] - data["start"]).days
            if days <= 0:
                raise ma.ValidationError("The end must be after the start.", "end")
            if days > MAX_RANGE_DAYS:
                raise ma.ValidationError(f"At most {MAX_RANGE_DAYS} days at a time.", "end")


@blp.get("/sessions")
@blp.arguments(SessionListArgs, location="query", as_kwargs=False)
@blp.response(200, page_schema(SessionSchema))
def list_sessions(args):
    """Sessions the user may see starting in [start, end) (local dates), cancelled ones
    included, by start."""
    user, tz = api_user(), org_tz()
    filters = ScheduleFilters(
        room_id=args.get("room"),
        mentor_id=args.get("mentor"),
        group_id=args.get("group"),
        student_id=args.get("student"),
    )
    query = sessions_in_range(
        args.get("start"), args.get("end"), tz=tz, viewer=user, filters=filters
    )
    if args.get("status"):
        query = query.where(Occurrence.status == OccurrenceStatus(args.get("status")))
    page = paginate(query, [Occurrence.start_utc, Occurrence.id], args)
    told = [o for o in page["items"] if may_see_conflicts(user, o)]
    # This page's sessions only, each against the sessions that could clash with it.
    in_conflict = sessions_in_conflict(o.id for o in told)
    told_ids = {o.id for o in told}
    exceptions = cancelling_exceptions(page["items"])
    return paged(
        page,
        [
            session_json(
                o,
                tz,
                (o.id in in_conflict) if o.id in told_ids else None,
                exceptions.get((o.series_id, o.original_date)),
            )
            for o in page["items"]
        ],
    )


class SessionCreate(StrictSchema):
    group = Id(required=True)
    date = fields.Date(required=True)
    start = LocalTime(required=True)
    end = LocalTime(required=True, metadata={"description": f"Local time HH:MM; {NEXT_DAY_END}"})
    room = Id(allow_none=True, load_default=None, metadata={"description": "null: no room"})
    mode = fields.String(
        load_default=OccurrenceMode.IN_PERSON.value, validate=validate.OneOf(MODES)
    )
    title = fields.String(load_default=None, allow_none=True)


@blp.post("/sessions")
@blp.arguments(SessionCreate)
@blp.response(201, SessionDetailSchema)
def create_session(values):
    """Create a one-time session (staff). A room or mentor double booking is refused (409)."""
    user = require_staff()
    outcome = create_one_time_session(
        group_id=values["group"],
        day=values["date"],
        start=values["start"],
        end=values["end"],
        room_id=values["room"],
        mode=values["mode"],
        title=values["title"],
        actor=user,
        tz=org_tz(),
    )
    db.session.commit()
    occurrence = outcome.occurrence
    location = url_for("api_timetable.get_session", occurrence_id=occurrence.id)
    return session_detail(occurrence, outcome.adjustments), 201, {"Location": location}


@blp.get("/sessions/<id:occurrence_id>")
@blp.response(200, SessionDetailSchema)
def get_session(occurrence_id: int):
    """One session, with the sessions it conflicts with (staff and its mentor)."""
    return session_detail(load_visible_session(occurrence_id))


class SessionReschedule(StrictSchema):
    """The fields left out keep the session's current values."""

    date = fields.Date()
    start = LocalTime()
    end = LocalTime(metadata={"description": f"Local time HH:MM; {NEXT_DAY_END}"})
    room = Id(
        allow_none=True,
        metadata={"description": "null: the series' room (series session) or no room"},
    )
    notes = fields.String(metadata={"description": "Notes of the exception (series session)"})


@blp.patch("/sessions/<id:occurrence_id>")
@blp.arguments(SessionReschedule)
@blp.response(200, SessionDetailSchema)
def reschedule(values, occurrence_id: int):
    """Move a session (staff). A one-time session changes; a series session records an
    exception for its date (values equal to the series' follow the series)."""
    occurrence = load_visible_session(occurrence_id)
    user = require_staff()
    tz = org_tz()
    start = occurrence.start_utc.astimezone(tz)
    end = occurrence.end_utc.astimezone(tz)
    outcome = reschedule_session(
        occurrence,
        day=values.get("date", start.date()),
        start=values.get("start", _clock(start.time())),
        end=values.get("end", _clock(end.time())),
        room_id=values.get("room", occurrence.room_id),
        notes=values.get("notes"),
        actor=user,
        tz=tz,
    )
    db.session.commit()
    return session_detail(outcome.occurrence, outcome.adjustments)


def _clock(value: time) -> time:
    return value.replace(second=0, microsecond=0, tzinfo=None)


class CancelInput(StrictSchema):
    reason = fields.String(required=True, metadata={"description": "Why (shown to attendees)"})


@blp.post("/sessions/<id:occurrence_id>/cancel")
@blp.arguments(CancelInput)
@blp.response(200, SessionDetailSchema)
def cancel(values, occurrence_id: int):
    """Cancel a session with a reason (staff); a series date gets a cancelling exception."""
    occurrence = load_visible_session(occurrence_id)
    user = require_staff()
    cancel_session(occurrence, reason=values["reason"], actor=user, tz=org_tz())
    db.session.commit()
    return session_detail(occurrence)


@blp.post("/sessions/<id:occurrence_id>/restore")
@blp.response(200, SessionDetailSchema)
def restore(occurrence_id: int):
    """Bring a cancelled session back (staff), if its slot is still free (else 409)."""
    occurrence = load_visible_session(occurrence_id)
    user = require_staff()
    restore_session(occurrence, actor=user, tz=org_tz())
    db.session.commit()
    return session_detail(occurrence)


@blp.delete("/sessions/<id:occurrence_id>")
@blp.response(204)
def delete_session(occurrence_id: int):
    """Delete a one-time session (staff); series and completed sessions are refused (409)."""
    occurrence = load_visible_session(occurrence_id)
    user = require_staff()
    delete_one_time_session(occurrence, actor=user, tz=org_tz())
    db.session.commit()
    return no_content()
