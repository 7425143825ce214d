"""Course groups: those the user may see, one with its series (and its students, for staff
and its mentor)."""

from __future__ import annotations

from sqlalchemy.orm import joinedload

from blueprints.api.common import (
    QueryId,
    abort_problem,
    api_user,
    load_or_404,
    page_schema,
    paged,
    paginate,
    ref,
)
from blueprints.api.timetable import blp
from blueprints.api.timetable.catalogue import CatalogueArgs
from blueprints.api.timetable.schemas import GroupDetailSchema, GroupSchema, group_json, series_json
from models import CourseGroup
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
