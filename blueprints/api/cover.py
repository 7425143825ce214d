"""Cover for absent mentors over JSON: absences (staff record anyone's, confirmed at once; a
mentor reports their own, pending until staff confirm it), the sessions an absence touches
with their substitutes, the day's cover board, and assigning a substitute to a session.

A mentor sees and withdraws only their own absences (another's is 404); everything else is
for staff (403). Bad input is a 422 problem naming each field, and nothing changes.
"""

from __future__ import annotations

from datetime import date

import marshmallow as ma
from flask import url_for
from marshmallow import fields, validate

from blueprints.api.common import (
    ApiBlueprint,
    Id,
    Instant,
    LocalTime,
    PageArgs,
    QueryId,
    RefSchema,
    StrictSchema,
    abort_problem,
    api_user,
    load_or_404,
    load_visible_session,
    no_content,
    org_tz,
    page_schema,
    paged,
    paginate,
    ref,
    require_staff,
)
from models import AbsenceStatus, MentorAbsence, Role, db
from services.common.errors import ValidationError
from services.cover import (
    AbsenceData,
    CoverNeed,
    absence_needs,
    assign_cover,
    cover_board,
    decide_absence,
    delete_absence,
    describe_absence,
    record_absence,
)

blp = ApiBlueprint(
    "api_cover",
    __name__,
    description="Mentors' absences and cover: who teaches a session when its mentor is away",
)

STATUS_VALUES = [s.value for s in AbsenceStatus]


class AbsenceSchema(ma.Schema):
    id = fields.Integer()
    mentor = fields.Nested(RefSchema)
    start = Instant(metadata={"description": "When it starts (a whole day: its midnight)"})
    end = Instant(metadata={"description": "When it ends (excluded)"})
    all_day = fields.Boolean()
    days = fields.String(metadata={"description": "In words: Mon 11 Jan to Tue 12 Jan 2027"})
    reason = fields.String()
    status = fields.String(metadata={"description": " | ".join(STATUS_VALUES)})


def absence_json(absence: MentorAbsence) -> dict:
    tz = org_tz()
    return {
        "id": absence.id,
        "mentor": ref(absence.mentor),
        "start": absence.start_utc.astimezone(tz),
        "end": absence.end_utc.astimezone(tz),
        "all_day": absence.all_day,
        "days": describe_absence(absence, tz),
        "reason": absence.reason,
        "status": str(absence.status),
    }


class AbsenceListArgs(PageArgs):
    mentor = QueryId()
    status = fields.String(validate=validate.OneOf(STATUS_VALUES))


class AbsenceInput(StrictSchema):
    """Whole days (`first_day` to `last_day`, both included), or part of one day (`start`
    and `end`, local times)."""

    mentor = Id(metadata={"description": "Staff: whose absence; a mentor: their own (default)"})
    first_day = fields.Date(required=True)
    last_day = fields.Date(metadata={"description": "Included; default: the first day"})
    start = LocalTime(metadata={"description": "Part of a day: from (with `end`)"})
    end = LocalTime(metadata={"description": "Part of a day: to"})
    reason = fields.String(load_default="", validate=validate.Length(max=200))


class DecisionInput(StrictSchema):
    status = fields.String(
        required=True,
        validate=validate.OneOf([AbsenceStatus.CONFIRMED.value, AbsenceStatus.DECLINED.value]),
        metadata={"description": "confirmed or declined (a pending report only)"},
    )


class SubstituteSchema(ma.Schema):
    mentor = fields.Nested(RefSchema)
    teaches_subject = fields.Boolean()
    load = fields.Integer(metadata={"description": "Sessions they teach that week"})


class CoverNeedSchema(ma.Schema):
    session = fields.Integer()
    group = fields.Nested(RefSchema)
    start = Instant()
    end = Instant()
    absent = fields.Nested(RefSchema, metadata={"description": "The mentor away"})
    state = fields.String(metadata={"description": "open | covered | cancelled"})
    teacher = fields.Nested(RefSchema, metadata={"description": "Who teaches it now"})
    substitutes = fields.List(
        fields.Nested(SubstituteSchema), metadata={"description": "Open ones: best first"}
    )


def need_json(need: CoverNeed) -> dict:
    tz, session = org_tz(), need.session
    state = "cancelled" if need.cancelled else "covered" if need.covered else "open"
    return {
        "session": session.id,
        "group": ref(session.group),
        "start": session.start_utc.astimezone(tz),
        "end": session.end_utc.astimezone(tz),
        "absent": ref(need.absence.mentor) if need.absence else None,
        "state": state,
        "teacher": ref(session.mentor),
        "substitutes": [
            {"mentor": ref(s.mentor), "teaches_subject": s.teaches_subject, "load": s.load}
            for s in need.substitutes
        ],
    }


def _visible_absence(absence_id: int) -> MentorAbsence:
    absence = load_or_404(MentorAbsence, absence_id, "absence")
    user = api_user()
    if not user.is_staff and absence.mentor_id != user.id:
        abort_problem(404, "No such absence.")
    return absence


@blp.get("/absences")
@blp.arguments(AbsenceListArgs, location="query", as_kwargs=False)
@blp.response(200, page_schema(AbsenceSchema))
def list_absences(args):
    """Absences, by start: staff every mentor's (`mentor`, `status` filters), a mentor their
    own."""
    user = api_user()
    if not user.is_staff and user.role != Role.MENTOR:
        abort_problem(403, "Only staff and mentors have absences.")
    query = db.select(MentorAbsence)
    if not user.is_staff:
        query = query.where(MentorAbsence.mentor_id == user.id)
    elif args.get("mentor"):
        query = query.where(MentorAbsence.mentor_id == args["mentor"])
    if args.get("status"):
        query = query.where(MentorAbsence.status == args["status"])
    page = paginate(query, [MentorAbsence.start_utc, MentorAbsence.id], args)
    return paged(page, [absence_json(a) for a in page["items"]])


@blp.post("/absences")
@blp.arguments(AbsenceInput)
@blp.response(201, AbsenceSchema)
def create_absence(values):
    """Record an absence (staff: confirmed at once) or report one's own (a mentor: pending,
    staff are told)."""
    user = api_user()
    if not user.is_staff and user.role != Role.MENTOR:
        abort_problem(403, "Only staff and mentors record absences.")
    data = AbsenceData(
        values.get("mentor", user.id), values["first_day"], values.get("last_day"),
        values.get("start"), values.get("end"), values["reason"],
    )  # fmt: skip
    try:
        absence = record_absence(data, actor=user, tz=org_tz())
    except ValidationError as err:
        names = {"start_time": "start", "end_time": "end"}
        raise ValidationError({names.get(k, k): v for k, v in err.errors.items()}) from err
    db.session.commit()
    location = url_for("api_cover.get_absence", absence_id=absence.id)
    return absence_json(absence), 201, {"Location": location}


@blp.get("/absences/<id:absence_id>")
@blp.response(200, AbsenceSchema)
def get_absence(absence_id: int):
    """One absence (staff; a mentor their own)."""
    return absence_json(_visible_absence(absence_id))


@blp.patch("/absences/<id:absence_id>")
@blp.arguments(DecisionInput)
@blp.response(200, AbsenceSchema)
def decide(values, absence_id: int):
    """Confirm or decline a reported absence (staff); its mentor is told."""
    user = require_staff()
    absence = load_or_404(MentorAbsence, absence_id, "absence")
    decide_absence(
        absence, values["status"] == AbsenceStatus.CONFIRMED.value, actor=user, tz=org_tz()
    )
    db.session.commit()
    return absence_json(absence)


@blp.delete("/absences/<id:absence_id>")
@blp.response(204)
def delete(absence_id: int):
    """Remove an absence (staff), or withdraw one's own while pending (a mentor: 403 once
    confirmed). Cover already assigned stays."""
    absence = _visible_absence(absence_id)
    delete_absence(absence, actor=api_user())
    db.session.commit()
    return no_content()


@blp.get("/absences/<id:absence_id>/sessions")
@blp.response(200, CoverNeedSchema(many=True))
def absence_sessions(absence_id: int):
    """The sessions an absence touches from now on (staff), open ones with their
    substitutes: free then, those who teach the subject first, then the least loaded."""
    require_staff()
    absence = load_or_404(MentorAbsence, absence_id, "absence")
    return [need_json(n) for n in absence_needs(absence, org_tz())]


class BoardArgs(StrictSchema):
    date = fields.Date(required=True)


@blp.get("/cover")
@blp.arguments(BoardArgs, location="query", as_kwargs=False)
@blp.response(200, CoverNeedSchema(many=True))
def board(args):
    """The cover board of a day (staff): every session a confirmed absence touches."""
    require_staff()
    day: date = args["date"]
    return [need_json(n) for n in cover_board(day, org_tz())]


class CoverInput(StrictSchema):
    mentor = Id(
        required=True,
        allow_none=True,
        metadata={"description": "The substitute; null gives it back to its group's mentor"},
    )


@blp.put("/sessions/<id:occurrence_id>/cover")
@blp.arguments(CoverInput)
@blp.response(200, CoverNeedSchema)
def put_cover(values, occurrence_id: int):
    """Who covers a session (staff), for its date only (its exception keeps it through
    regeneration): 409 naming the other session if the substitute teaches then, 422 if
    away or not an active mentor. The mentor, the substitute and the students are told."""
    session = load_visible_session(occurrence_id)
    user = require_staff()
    assign_cover(session, values["mentor"], actor=user, tz=org_tz())
    db.session.commit()
    return need_json(CoverNeed(session, None))
