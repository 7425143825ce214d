"""Course groups: those the user may see, one with its series (and its students, for staff
and its mentor)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate
from sqlalchemy.orm import joinedload

from blueprints.api.common import (
    QueryId,
    RefSchema,
    StrictSchema,
    abort_problem,
    api_user,
    load_or_404,
    page_schema,
    paged,
    paginate,
    ref,
    require_staff,
)
from blueprints.api.timetable import blp
from blueprints.api.timetable.catalogue import CatalogueArgs
from blueprints.api.timetable.schemas import GroupDetailSchema, GroupSchema, group_json, series_json
from models import CourseGroup, db
from services.catalogue.bulk_enrolment import (
    ENTRY_LENGTH,
    MAX_ENTRIES,
    enrol_students,
    plan_entries,
)
from services.common.errors import ValidationError
from services.permissions import can_view_group, may_see_group_students, visible_groups


def load_visible_group(group_id: int) -> CourseGroup:
    group = load_or_404(CourseGroup, group_id, "course group")
    ensure_group_visible(group.id, "course group")
    return group


def ensure_group_visible(group_id: int, what: str) -> None:
    """404 (as for a missing row) unless the user may see this group."""
    if not can_view_group(api_user(), group_id):
        abort_problem(404, f"No such {what}.")


class GroupListArgs(CatalogueArgs):
    subject = QueryId()
    mentor = QueryId()


@blp.get("/groups")
@blp.arguments(GroupListArgs, location="query", as_kwargs=False)
@blp.response(200, page_schema(GroupSchema))
def list_groups(args):
    """Course groups the user may see, by name."""
    # Each group's default room is named: loaded with it, not one query per group.
    query = visible_groups(api_user()).options(joinedload(CourseGroup.default_room))
    if args.get("active") is not None:
        query = query.where(CourseGroup.active.is_(args.get("active")))
    if args.get("subject"):
        query = query.where(CourseGroup.subject_id == args.get("subject"))
    if args.get("mentor"):
        query = query.where(CourseGroup.mentor_id == args.get("mentor"))
    page = paginate(query, [CourseGroup.name, CourseGroup.id], args)
    return paged(page, [group_json(g) for g in page["items"]])


@blp.get("/groups/<id:group_id>")
@blp.response(200, GroupDetailSchema)
def get_group(group_id: int):
    """A course group with its weekly series (and its students, for staff and its mentor)."""
    group = load_visible_group(group_id)
    user = api_user()
    data = group_json(group)
    data["series"] = [series_json(s) for s in group.series]
    data["students"] = None
    if may_see_group_students(user, group):
        enrolments = sorted(group.enrolments, key=lambda e: (e.student.name, e.student_id))
        data["students"] = [ref(e.student) for e in enrolments]
    return data


class BulkEnrolmentInput(StrictSchema):
    """Students to enrol, each by e-mail or name, and whether only to preview."""

    students = fields.List(
        fields.String(validate=validate.Length(max=ENTRY_LENGTH)),
        required=True,
        validate=validate.Length(min=1, max=MAX_ENTRIES),
        metadata={"description": "E-mails or full names; `Name <e-mail>` is read too."},
    )
    dry_run = fields.Boolean(
        load_default=False,
        metadata={"description": "Say what would happen; enrol nobody (refusals are not 422)."},
    )


class EnrolmentEntrySchema(ma.Schema):
    position = fields.Integer(metadata={"description": "1 for the first item of `students`"})
    entry = fields.String()
    outcome = fields.String(metadata={"description": "enrol, already, twice or refused"})
    student = fields.Nested(RefSchema, allow_none=True)
    reason = fields.String()


class BulkEnrolmentSchema(ma.Schema):
    group = fields.Nested(RefSchema)
    dry_run = fields.Boolean()
    enrolled = fields.List(fields.Nested(RefSchema))
    already = fields.List(fields.Nested(RefSchema))
    entries = fields.List(fields.Nested(EnrolmentEntrySchema))


@blp.post("/groups/<id:group_id>/enrolments")
@blp.arguments(BulkEnrolmentInput)
@blp.response(200, BulkEnrolmentSchema)
def add_group_students(values, group_id: int):
    """Enrol many students in a group (staff), all or nothing: one entry that names nobody,
    a name two students share, a non-student or a deactivated account refuses them all (422,
    `errors` by position); students already in the group are left as they are. Each new
    student is told. With `dry_run`, the plan only."""
    user = require_staff()
    group = load_or_404(CourseGroup, group_id, "course group")
    plan = plan_entries(group, list(enumerate(values["students"], start=1)))
    body = {
        "group": ref(group),
        "dry_run": values["dry_run"],
        "entries": [
            {
                "position": e.line,
                "entry": e.text,
                "outcome": e.outcome,
                "student": ref(e.student),
                "reason": e.reason,
            }
            for e in plan.entries
        ],
        "already": [ref(e.student) for e in plan.already],
        "enrolled": [],
    }
    if values["dry_run"]:
        db.session.rollback()
        body["enrolled"] = [ref(e.student) for e in plan.to_enrol]
        return body
    if plan.refused:
        raise ValidationError(
            {f"students.{e.line - 1}": f"{e.text}: {e.reason}" for e in plan.refused}
        )
    done = enrol_students(group, [e.student.id for e in plan.to_enrol], actor=user)
    db.session.commit()
    body["enrolled"] = [ref(s) for s in done.enrolled]
    return body
