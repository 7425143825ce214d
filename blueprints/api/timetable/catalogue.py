"""Rooms and subjects: the catalogue every signed-in user may read."""

from __future__ import annotations

from marshmallow import fields
from sqlalchemy import select

from blueprints.api.common import PageArgs, page_schema, paged, paginate
from blueprints.api.timetable import blp
from blueprints.api.timetable.schemas import RoomSchema, SubjectSchema, room_json
from models import Room, Subject


class CatalogueArgs(PageArgs):
    active = fields.Boolean(metadata={"description": "Only active (true) or inactive (false)"})


@blp.get("/rooms")
@blp.arguments(CatalogueArgs, location="query", as_kwargs=False)
@blp.response(200, page_schema(RoomSchema))
def list_rooms(args):
    """Rooms, by name (every signed-in user may read them)."""
    query = select(Room)
    if args.get("active") is not None:
        query = query.where(Room.active.is_(args.get("active")))
    page = paginate(query, [Room.name, Room.id], args)
    return paged(page, [room_json(r) for r in page["items"]])


@blp.get("/subjects")
@blp.arguments(CatalogueArgs, location="query", as_kwargs=False)
@blp.response(200, page_schema(SubjectSchema))
def list_subjects(args):
    """Subjects, by name (every signed-in user may read them)."""
    query = select(Subject)
    if args.get("active") is not None:
        query = query.where(Subject.active.is_(args.get("active")))
    page = paginate(query, [Subject.name, Subject.id], args)
    return paged(page, [{"id": s.id, "name": s.name, "active": s.active} for s in page["items"]])
