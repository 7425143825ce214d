"""Session requests over JSON: students ask a mentor for sessions, the mentor (or an admin)
approves or rejects, the student may withdraw.

Who sees what is `services.permissions.requests_visible_to`: a student their own requests, a
mentor those addressed to them, staff all; anything else is 404. Deciding is for the
addressed mentor or an admin (`can_decide`; 403 for others who can see the request),
withdrawing for the requesting student (403 for others). A request already decided (or
expired) is 409, and so is an approval whose dates clash with the mentor's sessions (the
`detail` names the dates, `conflicts` the sessions in the way). An approval may name the
`dates` it approves: the others are declined (with `reason`, or why), as in the pages.

A request's schedule is one object, `schedule`, whose `kind` says which other members it
takes:

- `single`: `date`, `start`, `duration` (30, 60, 90 or 120 minutes);
- `dates`: `dates` (a list), `start`, `end`;
- `weekly`: `weekdays` (names, `mon` ... `sun`), `start`, `end`, `first_date`, `weeks`.
"""

from __future__ import annotations

import marshmallow as ma
from flask import url_for
from marshmallow import fields, validate

from blueprints.api.common import (
    ApiBlueprint,
    Id,
    Instant,
    LocalTime,
    PageArgs,
    RefSchema,
    StrictSchema,
    abort_problem,
    api_user,
    org_tz,
    page_schema,
    paged,
    paginate,
    ref,
)
from models import CourseGroup, RequestStatus, Role, ScheduleKind, SessionRequest, User, db
from models.series import mask_to_weekdays
from services.common.errors import ValidationError
from services.permissions import can_decide
from services.requests.lifecycle import (
    DURATIONS,
    MAX_SESSIONS,
    MAX_WEEKS,
    REASON_MAX,
    RequestInput,
    SlotClash,
    approve_request,
    create_request,
    effective_status,
    get_visible_request,
    reject_request,
    slot_clashes,
    withdraw_request,
)
from services.requests.lists import STATUS_FILTERS, requests_of, sessions_of_request

blp = ApiBlueprint(
    "api_requests",
    __name__,
    description="Session requests: ask a mentor for sessions; approve, reject, withdraw",
)

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
KINDS = [k.value for k in ScheduleKind]
MODES = ["online", "in_person"]
# The members each kind of schedule takes (others are refused, as unknown fields are).
SCHEDULE_MEMBERS = {
    ScheduleKind.SINGLE.value: {"kind", "date", "start", "duration"},
    ScheduleKind.DATES.value: {"kind", "dates", "start", "end"},
    ScheduleKind.WEEKLY.value: {"kind", "weekdays", "start", "end", "first_date", "weeks"},
}
# The service's field names, as the API spells them.
SERVICE_FIELDS = {
    "schedule_kind": "schedule.kind",
    "day": "schedule.date",
    "start": "schedule.start",
    "duration": "schedule.duration",
    "end": "schedule.end",
    "dates": "schedule.dates",
    "weekdays": "schedule.weekdays",
    "first_date": "schedule.first_date",
    "weeks": "schedule.weeks",
}


# --- Representations ----------------------------------------------------------------------------


class SlotSchema(ma.Schema):
    date = fields.Date(metadata={"description": "Local date"})
    start = LocalTime()
    end = LocalTime()
    starts_at = Instant()
    ends_at = Instant()
    clash = fields.Boolean(
        allow_none=True,
        metadata={
            "description": "Pending requests: whether the mentor has a session at that time "
            "(such a date can be approved only by leaving it out); null once decided"
        },
    )
    clashing_session_ids = fields.List(
        fields.Integer(), metadata={"description": "Pending requests: the sessions in the way"}
    )
    declined_reason = fields.String(
        allow_none=True,
        metadata={"description": "A date left out of an approval in part: why; else null"},
    )


class ScheduleSchema(ma.Schema):
    kind = fields.String(metadata={"description": " | ".join(KINDS)})
    start = LocalTime()
    end = LocalTime()
    duration = fields.Integer(allow_none=True, metadata={"description": "single: minutes"})
    weekdays = fields.List(fields.String(), allow_none=True, metadata={"description": "weekly"})
    first_date = fields.Date(allow_none=True, metadata={"description": "weekly"})
    weeks = fields.Integer(allow_none=True, metadata={"description": "weekly"})


class RequestSchema(ma.Schema):
    id = fields.Integer()
    status = fields.String(
        metadata={
            "description": " | ".join(STATUS_FILTERS)
            + " (a pending request whose first session has started reads expired; rejected "
            "is the mentor's decision, declined the automatic one when an approval took "
            "every date it could still have had)"
        }
    )
    student = fields.Nested(RefSchema)
    mentor = fields.Nested(RefSchema)
    subject = fields.Nested(RefSchema)
    title = fields.String()
    description = fields.String()
    mode = fields.String(metadata={"description": " | ".join(MODES)})
    schedule = fields.Nested(ScheduleSchema)
    slots = fields.List(fields.Nested(SlotSchema), metadata={"description": "Sessions asked for"})
    rejection_reason = fields.String(
        allow_none=True,
        metadata={"description": "Rejected or declined: why (the words the student reads)"},
    )
    created_at = Instant()
    decided_at = Instant(allow_none=True)
    decided_by = fields.Nested(RefSchema, allow_none=True)
    group = fields.Nested(
        RefSchema, allow_none=True, metadata={"description": "The tutoring group (approved)"}
    )
    series_id = fields.Integer(allow_none=True, metadata={"description": "Approved weekly"})
    session_ids = fields.List(
        fields.Integer(), metadata={"description": "The sessions approval created"}
    )


class DeclinedDateSchema(ma.Schema):
    date = fields.Date(metadata={"description": "Local date"})
    start = LocalTime()
    end = LocalTime()
    reason = fields.String(metadata={"description": "Why it was declined (the student reads it)"})


class ApprovalSchema(RequestSchema):
    declined_dates = fields.List(
        fields.Nested(DeclinedDateSchema),
        metadata={"description": "The requested dates left out of this approval (in part)"},
    )
    declined_request_ids = fields.List(
        fields.Integer(),
        metadata={
            "description": "The mentor's other pending requests declined automatically: none "
            "of their dates is free any more"
        },
    )
    now_clashing_request_ids = fields.List(
        fields.Integer(),
        metadata={
            "description": "The mentor's other pending requests that stay pending with some "
            "dates now clashing"
        },
    )


def request_json(request: SessionRequest, clashes: list[SlotClash] | None = None) -> dict:
    """A request as the API gives it; `clashes` (of a pending request) when already known."""
    tz = org_tz()
    pending = effective_status(request) == RequestStatus.PENDING
    if pending and clashes is None:
        clashes = slot_clashes([request])[request.id]
    in_the_way = {c.slot.id: [o.id for o in c.sessions] for c in clashes or []} if pending else {}
    kind = str(request.schedule_kind)
    duration = None
    if request.schedule_kind == ScheduleKind.SINGLE and request.slots:
        slot = request.slots[0]
        duration = int((slot.end_utc - slot.start_utc).total_seconds() // 60)
    weekly = request.schedule_kind == ScheduleKind.WEEKLY
    decided_by = db.session.get(User, request.decided_by_id) if request.decided_by_id else None
    return {
        "id": request.id,
        "status": str(effective_status(request)),
        "student": ref(request.student),
        "mentor": ref(request.mentor),
        "subject": ref(request.subject),
        "title": request.title,
        "description": request.description or "",
        "mode": str(request.mode),
        "schedule": {
            "kind": kind,
            "start": request.start_time,
            "end": request.end_time,
            "duration": duration,
            "weekdays": [WEEKDAY_NAMES[d] for d in mask_to_weekdays(request.weekday_mask)]
            if weekly
            else None,
            "first_date": request.first_date if weekly else None,
            "weeks": request.weeks if weekly else None,
        },
        "slots": [
            {
                "date": slot.local_date,
                "start": slot.start_utc.astimezone(tz).time(),
                "end": slot.end_utc.astimezone(tz).time(),
                "starts_at": slot.start_utc,
                "ends_at": slot.end_utc,
                "clash": bool(in_the_way.get(slot.id)) if pending else None,
                "clashing_session_ids": in_the_way.get(slot.id, []),
                "declined_reason": slot.declined_reason,
            }
            for slot in request.slots
        ],
        "rejection_reason": request.rejection_reason,
        "created_at": request.created_at,
        "decided_at": request.decided_at,
        "decided_by": ref(decided_by),
        "group": ref(db.session.get(CourseGroup, request.group_id)) if request.group_id else None,
        "series_id": request.series_id,
        "session_ids": [s.id for s in sessions_of_request(request)],
    }


# --- Reading ------------------------------------------------------------------------------------


class RequestListArgs(PageArgs):
    status = fields.String(
        validate=validate.OneOf(STATUS_FILTERS),
        metadata={"description": "Only requests of this status (as users read it)"},
    )


@blp.get("/requests")
@blp.arguments(RequestListArgs, location="query", as_kwargs=False)
@blp.response(200, page_schema(RequestSchema))
def list_requests(args):
    """The requests the user may see, oldest first: a student's own, those addressed to a
    mentor, every request for staff."""
    query = requests_of(api_user(), args.get("status"))
    page = paginate(query, [SessionRequest.id], args)
    clashes = slot_clashes(page["items"])  # one query per mentor, not one per request
    return paged(page, [request_json(r, clashes[r.id]) for r in page["items"]])


def load_visible_request(request_id: int) -> SessionRequest:
    """The request, or 404 (also for one the user may not see)."""
    return get_visible_request(api_user(), request_id)


@blp.get("/requests/<id:request_id>")
@blp.response(200, RequestSchema)
def get_request(request_id: int):
    """One request, with its requested slots and (once approved) the sessions created."""
    return request_json(load_visible_request(request_id))


# --- Asking -------------------------------------------------------------------------------------


class ScheduleInput(StrictSchema):
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    date = fields.Date(metadata={"description": "single: the date"})
    start = LocalTime(metadata={"description": "Every kind: the start, HH:MM local"})
    duration = fields.Integer(
        strict=True,
        validate=validate.OneOf(DURATIONS),
        metadata={"description": "single: minutes (30, 60, 90 or 120)"},
    )
    end = LocalTime(
        metadata={
            "description": "dates and weekly: the end, HH:MM local; an end earlier than the "
            "start is on the next day (23:30-00:30), at most 12 hours after the start"
        }
    )
    dates = fields.List(
        fields.Date(),
        validate=validate.Length(max=366),
        metadata={"description": "dates: the local dates"},
    )
    weekdays = fields.List(
        fields.String(validate=validate.OneOf(WEEKDAY_NAMES)),
        validate=validate.Length(max=7),
        metadata={"description": "weekly: weekday names, mon ... sun"},
    )
    first_date = fields.Date(metadata={"description": "weekly: the first date"})
    weeks = fields.Integer(
        strict=True,
        validate=validate.Range(1, MAX_WEEKS),
        metadata={"description": f"weekly: 1 to {MAX_WEEKS}"},
    )

    @ma.validates_schema(skip_on_field_errors=True)
    def _members_of_the_kind(self, data, **kwargs):
        extra = sorted(set(data) - SCHEDULE_MEMBERS[data["kind"]])
        if extra:
            raise ma.ValidationError(
                {name: [f"Not part of a {data['kind']} schedule."] for name in extra}
            )


class RequestCreate(StrictSchema):
    mentor = Id(required=True, metadata={"description": "The mentor's user id"})
    subject = Id(required=True)
    title = fields.String(required=True)
    description = fields.String(load_default="")
    mode = fields.String(load_default="online", validate=validate.OneOf(MODES))
    schedule = fields.Nested(ScheduleInput, required=True)


def request_input(values: dict) -> RequestInput:
    schedule = values["schedule"]
    return RequestInput(
        mentor_id=values["mentor"],
        subject_id=values["subject"],
        title=values["title"],
        description=values["description"],
        mode=values["mode"],
        schedule_kind=schedule["kind"],
        day=schedule.get("date"),
        start=schedule.get("start"),
        duration=schedule.get("duration"),
        dates=schedule.get("dates") or [],
        end=schedule.get("end"),
        weekdays=[WEEKDAY_NAMES.index(d) for d in schedule.get("weekdays") or []],
        first_date=schedule.get("first_date"),
        weeks=schedule.get("weeks"),
    )


@blp.post("/requests")
@blp.arguments(RequestCreate)
@blp.response(201, RequestSchema)
def create(values):
    """Ask a mentor for sessions (students). The mentor must teach the subject and every
    session must be in the future (422 per field otherwise); the mentor is notified."""
    user = api_user()
    if user.role != Role.STUDENT:
        abort_problem(403, "Only students request sessions.")
    try:
        created = create_request(user, request_input(values), tz=org_tz())
    except ValidationError as err:
        raise ValidationError({SERVICE_FIELDS.get(k, k): v for k, v in err.errors.items()}) from err
    db.session.commit()
    location = url_for("api_requests.get_request", request_id=created.id)
    return request_json(created), 201, {"Location": location}


# --- Deciding -----------------------------------------------------------------------------------


def load_decidable(request_id: int) -> SessionRequest:
    """A request the user may approve or reject: 404 if unseen, 403 if seen but not theirs."""
    request = load_visible_request(request_id)
    if not can_decide(api_user(), request):
        abort_problem(403, "Only the mentor asked (or an admin) decides this request.")
    return request


class ApproveInput(StrictSchema):
    dates = fields.List(
        fields.Date(),
        validate=validate.Length(min=1, max=MAX_SESSIONS),
        metadata={
            "description": "The requested dates (local) to approve; the others are declined. "
            "Omitted: every date (refused if one clashes)"
        },
    )
    reason = fields.String(
        validate=validate.Length(max=REASON_MAX),
        metadata={
            "description": "Why the dates left out are declined (the student reads it); "
            "without it, why is said for each (a clash, or not chosen)"
        },
    )


@blp.post("/requests/<id:request_id>/approve")
@blp.arguments(ApproveInput, required=False)
@blp.response(200, ApprovalSchema)
def approve(values, request_id: int):
    """Approve a pending request (its mentor or an admin): the student joins the tutoring
    group and the sessions are created. With `dates`, only those (in part): the other dates
    are declined with `reason` and the student is told which. Other pending requests of the
    mentor are declined automatically only when none of their dates is free any more. 409
    if it is decided already or expired, or if an approved date clashes with the mentor's
    sessions (nothing is created then); 422 for a date that was not requested."""
    request = load_decidable(request_id)
    values = values or {}
    approval = approve_request(
        request,
        actor=api_user(),
        tz=org_tz(),
        dates=values.get("dates"),
        reason=values.get("reason", ""),
    )
    db.session.commit()
    tz = org_tz()
    data = request_json(approval.request)
    data["declined_dates"] = [
        {
            "date": slot.local_date,
            "start": slot.start_utc.astimezone(tz).time(),
            "end": slot.end_utc.astimezone(tz).time(),
            "reason": slot.declined_reason,
        }
        for slot in approval.declined_slots
    ]
    data["declined_request_ids"] = [r.id for r in approval.declined]
    data["now_clashing_request_ids"] = [r.id for r in approval.now_clashing]
    return data


class RejectInput(StrictSchema):
    reason = fields.String(required=True, metadata={"description": "Why (sent to the student)"})


@blp.post("/requests/<id:request_id>/reject")
@blp.arguments(RejectInput)
@blp.response(200, RequestSchema)
def reject(values, request_id: int):
    """Reject a pending request with a reason (its mentor or an admin); 409 if decided."""
    request = load_decidable(request_id)
    reject_request(request, values["reason"], actor=api_user())
    db.session.commit()
    return request_json(request)


@blp.post("/requests/<id:request_id>/withdraw")
@blp.response(200, RequestSchema)
def withdraw(request_id: int):
    """Withdraw a pending request (the student who asked); 409 if decided already."""
    request = load_visible_request(request_id)
    if api_user().id != request.student_id:
        abort_problem(403, "Only the student who asked withdraws a request.")
    withdraw_request(request, actor=api_user())
    db.session.commit()
    return request_json(request)
