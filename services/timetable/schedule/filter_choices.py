"""What the schedule's filter bar offers: rooms, mentors and groups to choose from, and the
student a typed name or e-mail names.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import Select, bindparam, literal, or_, select, union_all

from models import CourseGroup, Room, User, db
from models.enums import Role
from services.common.errors import ValidationError
from services.timetable.schedule.view import ScheduleFilters

# Table columns, not mapped attributes, as in entries.py.
_room, _grp = Room.__table__, CourseGroup.__table__


@dataclass
class FilterChoices:
    rooms: list[tuple[int, str]]
    mentors: list[tuple[int, str]]
    groups: list[tuple[int, str]]
    student: User | None


_ROOMS, _MENTORS, _GROUPS = 0, 1, 2


@lru_cache(maxsize=1)
def _choices_query() -> Select:
    """The filter bar's three lists in one statement (built once: the page is drawn at
    every navigation)."""
    room, user, group = _room.c, User.__table__.c, _grp.c
    rooms = select(literal(_ROOMS).label("list"), room.id, room.name).where(
        or_(room.active.is_(True), room.id == bindparam("room"))
    )
    mentors = select(literal(_MENTORS), user.id, user.name).where(
        user.role == Role.MENTOR,
        or_(user.active.is_(True), user.id == bindparam("mentor")),
    )
    groups = select(literal(_GROUPS), group.id, group.name).where(
        or_(group.active.is_(True), group.id == bindparam("group"))
    )
    combined = union_all(rooms, mentors, groups).subquery()
    return select(combined.c.list, combined.c.id, combined.c.name).order_by(
        combined.c.list, combined.c.name, combined.c.id
    )


def filter_choices(filters: ScheduleFilters) -> FilterChoices:
    """The options of the filter bar (active ones, plus whatever is selected)."""
    lists: tuple[list, list, list] = ([], [], [])
    params = {
        "room": filters.room_id or 0,
        "mentor": filters.mentor_id or 0,
        "group": filters.group_id or 0,
    }
    for which, ident, name in db.session.execute(_choices_query(), params):
        lists[which].append((ident, name))
    student = None
    if filters.student_id:
        student = db.session.scalar(
            select(User).where(User.id == filters.student_id, User.role == Role.STUDENT)
        )
    return FilterChoices(*lists, student)


def find_student(text: str) -> User:
    """The student a filter's text names: an exact e-mail, or a unique part of a name."""
    text = text.strip()
    if not text:
        raise ValidationError("Type a student's name or e-mail.", field="student")
    query = select(User).where(User.role == Role.STUDENT)
    exact = db.session.scalar(query.where(User.email == text.lower()))
    if exact is not None:
        return exact
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    matches = db.session.scalars(
        query.where(User.name.ilike(pattern, escape="\\")).order_by(User.name).limit(6)
    ).all()
    if not matches:
        raise ValidationError(f"No student matches {text!r}.", field="student")
    if len(matches) > 1:
        names = ", ".join(m.name for m in matches[:5]) + (", ..." if len(matches) > 5 else "")
        raise ValidationError(f"Several students match {text!r}: {names}.", field="student")
    return matches[0]
