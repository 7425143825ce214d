"""Rooms: list, create, edit, deactivate and reactivate (rooms are never deleted).

Sessions, series, exceptions and course groups refer to rooms, and a room's history must keep
its name, so a room that is no longer used is deactivated: it stays on past sessions and is
no longer offered for new series or exceptions.

The helpers for named records (`clean_name`, `name_taken`, `flush_unique`) are shared with
subjects and course groups, whose names are unique in the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from models import Room, db
from services.common.errors import ValidationError
from services.common.pagination import DEFAULT_PER_PAGE, Page, contains, paginate

NAME_LENGTH = 80
MAX_CAPACITY = 10_000
STATUSES = ("active", "inactive")


def clean_name(raw: str | None, *, what: str, length: int = NAME_LENGTH) -> tuple[str, str | None]:
    """The stripped name and the message that refuses it (None when it is fine)."""
    name = " ".join((raw or "").split())
    if not name:
        return name, f"Enter the {what}'s name."
    if len(name) > length:
        return name, f"A {what}'s name has at most {length} characters."
    return name, None


def name_taken(model, name: str, *, exclude_id: int | None = None) -> bool:
    """Another row of `model` already has this name (ignoring case: "Lab 1" and "lab 1")."""
    query = select(model.id).where(func.lower(model.name) == name.lower())
    if exclude_id is not None:
        query = query.where(model.id != exclude_id)
    return db.session.scalar(query.limit(1)) is not None


def flush_unique(errors: dict[str, str]) -> None:
    """Flush; a unique constraint hit by a concurrent writer becomes these field messages.

    The transaction is then unusable: the caller rolls back, as it does for any ValidationError.
    """
    try:
        db.session.flush()
    except IntegrityError as err:
        raise ValidationError(errors) from err


def filter_status(query, column, status: str | None):
    if status == "active":
        return query.where(column.is_(True))
    if status == "inactive":
        return query.where(column.is_(False))
    return query


@dataclass
class RoomData:
    """What a user types for a room; `capacity` None means unknown."""

    name: str
    capacity: int | None = None
    active: bool = True


def list_rooms(
    search: str = "", *, status: str | None = None, page: int = 1, per_page=DEFAULT_PER_PAGE
) -> Page:
    """Rooms whose name contains `search`, active ones first, then by name."""
    query = select(Room).order_by(Room.active.desc(), Room.name)
    if search.strip():
        query = query.where(contains(Room.name, search))
    return paginate(filter_status(query, Room.active, status), page, per_page)


def active_rooms() -> list[Room]:
    return list(db.session.scalars(select(Room).where(Room.active.is_(True)).order_by(Room.name)))


def _validate(data: RoomData, room: Room | None) -> str:
    name, problem = clean_name(data.name, what="room")
    errors = {}
    if problem:
        errors["name"] = problem
    elif name_taken(Room, name, exclude_id=room.id if room else None):
        errors["name"] = f"A room named {name} already exists."
    if data.capacity is not None and not 1 <= data.capacity <= MAX_CAPACITY:
        errors["capacity"] = (
            f"The capacity is a number of seats from 1 to {MAX_CAPACITY}, or empty if unknown."
        )
    if errors:
        raise ValidationError(errors)
    return name


def create_room(data: RoomData) -> Room:
    name = _validate(data, None)
    room = Room(name=name, capacity=data.capacity, active=data.active)
    db.session.add(room)
    flush_unique({"name": f"A room named {name} already exists."})
    return room


def update_room(room: Room, data: RoomData) -> Room:
    name = _validate(data, room)
    room.name, room.capacity, room.active = name, data.capacity, data.active
    flush_unique({"name": f"A room named {name} already exists."})
    return room


def set_room_active(room: Room, active: bool) -> Room:
    """Deactivate (or bring back) a room; its past and planned sessions keep it."""
    room.active = active
    db.session.flush()
    return room
