"""Attendance registers over JSON: a session's register, taking or correcting it, and the
staff report.

A session the user may not see is 404. Its register is read by its mentor and staff (every
student) and by a student of the group (their own line only); taking it is for its mentor
and staff (403 for a student), and refused (409) for a cancelled session, one not started
yet, or one nobody was enrolled in on its date. Bad marks are a 422 with one message per
student field (`status-<student id>`, `late-<student id>`, `reason-<student id>`) and nothing
is written. The report is for staff.
"""

from __future__ import annotations

from datetime import date

import marshmallow as ma
from marshmallow import fields, validate

from blueprints.api.common import (
    ApiBlueprint,
    Id,
    Instant,
    QueryId,
    RefSchema,
    StrictSchema,
    abort_problem,
    api_user,
    load_visible_session,
    org_tz,
    ref,
    require_staff,
)
from models import Occurrence, db
from services.common.timeutil import EARLIEST_DATE, LATEST_DATE
from services.permissions import can_track
from services.tracking.attendance import (
    STATUSES,
    MarkInput,
    RegisterSection,
    register_section,
    take_register,
)
from services.tracking.attendance_report import (
    DEFAULT_THRESHOLD,
    AttendanceRow,
    ReportFilters,
    attendance_report,
)

blp = ApiBlueprint(
    "api_attendance",
    __name__,
    description="Attendance registers of sessions, and the attendance report",
)

STATUS_VALUES = [str(s) for s in STATUSES]
STATUS_WORDS = " | ".join(STATUS_VALUES)


# --- A session's register -----------------------------------------------------------------------


class RegisterLineSchema(ma.Schema):
    student = fields.Nested(RefSchema)
    marked = fields.Boolean(metadata={"description": "False: not taken yet for this student"})
    status = fields.String(allow_none=True, metadata={"description": STATUS_WORDS})
    late_minutes = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)


class CorrectionSchema(ma.Schema):
    student = fields.Nested(RefSchema)
    changed_by = fields.Nested(RefSchema, allow_none=True)
    changed_at = Instant()
    before = fields.String(metadata={"description": "The mark before, in words"})
    after = fields.String(metadata={"description": "The mark after, in words"})


class CountsSchema(ma.Schema):
    present = fields.Integer()
    late = fields.Integer()
    absent = fields.Integer()
    excused = fields.Integer()


class RegisterSchema(ma.Schema):
    session_id = fields.Integer()
    taken = fields.Boolean()
    taken_at = Instant(allow_none=True)
    taken_by = fields.Nested(RefSchema, allow_none=True)
    refusal = fields.String(
        allow_none=True,
        metadata={"description": "Why the register cannot be taken now (null: it can)"},
    )
    counts = fields.Nested(CountsSchema)
    students = fields.List(
        fields.Nested(RegisterLineSchema),
        metadata={"description": "By name; a student sees only their own line"},
    )
    corrections = fields.List(
        fields.Nested(CorrectionSchema), metadata={"description": "Latest first"}
    )


def _line(student, mark) -> dict:
    return {
        "student": ref(student),
        "marked": mark is not None,
        "status": str(mark.status) if mark else None,
        "late_minutes": mark.late_minutes if mark else None,
        "reason": mark.reason if mark else None,
    }


def register_json(occurrence: Occurrence, register: RegisterSection) -> dict:
    if register.student_view:
        lines = [_line(api_user(), register.own)]
        counts = {str(register.own.status): 1} if register.own else {}
    else:
        lines = [_line(line.student, line.mark) for line in register.lines]
        counts = {str(status): n for status, n in register.counts.items()}
    return {
        "session_id": occurrence.id,
        "taken": register.taken,
        "taken_at": register.taken_at,
        "taken_by": ref(register.taken_by),
        "refusal": register.refusal,
        "counts": {value: counts.get(value, 0) for value in STATUS_VALUES},
        "students": lines,
        "corrections": [
            {
                "student": ref(row.change.student),
                "changed_by": ref(row.change.changed_by),
                "changed_at": row.change.changed_at,
                "before": row.before,
                "after": row.after,
            }
            for row in register.changes
        ],
    }


def _register_of(occurrence: Occurrence) -> dict:
    register = register_section(api_user(), occurrence, tz=org_tz())
    if register is None:
        abort_problem(404, "No such session.")
    return register_json(occurrence, register)


@blp.get("/sessions/<id:occurrence_id>/register")
@blp.response(200, RegisterSchema)
def get_register(occurrence_id: int):
    """The session's register: every student on it for its mentor and staff (present by
    default until taken), a student's own line for a student of the group."""
    return _register_of(load_visible_session(occurrence_id))


class MarkInputSchema(StrictSchema):
    student_id = Id(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUS_VALUES))
    late_minutes = fields.Integer(
        strict=True,
        allow_none=True,
        load_default=None,
        metadata={"description": "Late only: 1 to the session's planned length in minutes"},
    )
    reason = fields.String(
        allow_none=True,
        load_default=None,
        metadata={"description": "Why (at most 200 characters); required when excused"},
    )


class RegisterInput(StrictSchema):
    marks = fields.List(
        fields.Nested(MarkInputSchema),
        load_default=list,
        validate=validate.Length(max=2000),
        metadata={
            "description": "Students left out: present on a first taking, unchanged after it"
        },
    )
    all_present = fields.Boolean(
        load_default=False, metadata={"description": "Everyone present (marks ignored)"}
    )


@blp.put("/sessions/<id:occurrence_id>/register")
@blp.arguments(RegisterInput)
@blp.response(200, RegisterSchema)
def put_register(values, occurrence_id: int):
    """Take or correct the session's register in one call (its mentor or staff). Every
    change after the first taking is kept with who and when (`corrections`)."""
    occurrence = load_visible_session(occurrence_id)
    user = api_user()
    if not can_track(user, occurrence):
        abort_problem(403, "Only the session's mentor or staff take its register.")
    marks = [
        MarkInput(m["student_id"], m["status"], m["late_minutes"], m["reason"])
        for m in values["marks"]
    ]
    take_register(occurrence, marks, actor=user, tz=org_tz(), all_present=values["all_present"])
    db.session.commit()
    return _register_of(occurrence)


# --- The report ---------------------------------------------------------------------------------

DATES = validate.Range(
    min=EARLIEST_DATE,
    max=LATEST_DATE,
    error=f"Choose a date between {EARLIEST_DATE:%d %b %Y} and {LATEST_DATE:%d %b %Y}.",
)


class ReportArgs(StrictSchema):
    group = QueryId()
    student = QueryId()
    start = fields.Date(validate=DATES, metadata={"description": "First local date (included)"})
    end = fields.Date(validate=DATES, metadata={"description": "Last local date (included)"})
    threshold = fields.Integer(
        strict=False,
        load_default=DEFAULT_THRESHOLD,
        validate=validate.Range(0, 100),
        metadata={"description": f"Percent (default {DEFAULT_THRESHOLD})"},
    )

    @ma.validates_schema
    def _range(self, data, **kwargs):
        start, end = data.get("start"), data.get("end")
        if isinstance(start, date) and isinstance(end, date) and end < start:
            raise ma.ValidationError("The last date must not be before the first.", "end")


class RateRowSchema(ma.Schema):
    id = fields.Integer()
    name = fields.String()
    email = fields.String(allow_none=True)
    sessions = fields.Integer()
    present = fields.Integer()
    late = fields.Integer()
    absent = fields.Integer()
    excused = fields.Integer()
    rate = fields.Float(
        allow_none=True,
        metadata={"description": "Percent attending of present, late and absent (null: none)"},
    )
    below_threshold = fields.Boolean()


class ReportSchema(ma.Schema):
    threshold = fields.Integer()
    registers = fields.Integer(metadata={"description": "Registers taken for the filters"})
    students = fields.List(fields.Nested(RateRowSchema))
    groups = fields.List(fields.Nested(RateRowSchema))
    below = fields.List(
        fields.Nested(RateRowSchema), metadata={"description": "Students under the threshold"}
    )


def _row_json(row: AttendanceRow, threshold: int, *, email: bool) -> dict:
    return {
        "id": row.id,
        "name": row.name,
        "email": row.email if email else None,
        "sessions": row.sessions,
        "present": row.present,
        "late": row.late,
        "absent": row.absent,
        "excused": row.excused,
        "rate": round(row.rate, 1) if row.rate is not None else None,
        "below_threshold": row.below(threshold),
    }


@blp.get("/attendance/report")
@blp.arguments(ReportArgs, location="query", as_kwargs=False)
@blp.response(200, ReportSchema)
def report(args):
    """Attendance rates by student and by group, and the students below the threshold
    (staff). Present and late attend; excused absences are left out of the rate."""
    require_staff()
    filters = ReportFilters(
        group_id=args.get("group"),
        student_id=args.get("student"),
        start=args.get("start"),
        end=args.get("end"),
        threshold=args["threshold"],
    )
    found = attendance_report(filters, org_tz())
    threshold = filters.threshold
    return {
        "threshold": threshold,
        "registers": found.registers,
        "students": [_row_json(r, threshold, email=True) for r in found.students],
        "groups": [_row_json(r, threshold, email=False) for r in found.groups],
        "below": [_row_json(r, threshold, email=True) for r in found.below],
    }
