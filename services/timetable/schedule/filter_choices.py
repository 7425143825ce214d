"""Choosing a room, mentor, group or student by typing: suggestions for what is typed (a
few, never the whole list), the one a typed text names, and the names of the ones chosen.

The schedule's filter bar and the cell editor's room field list no options of their own: a
page's size must not follow the number of rooms, mentors and groups (a school of 5,000 groups
made the filter bar 248 KB). What is typed is matched on the server, with or without
JavaScript: as suggestions while typing (htmx), or resolved when the form is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    case,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)

from models import CourseGroup, Occurrence, Room, User, db
from models.enums import OccurrenceStatus, Role
from services.common.errors import ValidationError
from services.common.timeutil import date_outside
from services.timetable.conflicts import overlapping
from services.timetable.exceptions import rule_of
from services.timetable.recurrence import OverrideRule, plan_occurrence
from services.timetable.schedule.view import ScheduleFilters

# Table columns, not mapped attributes, as in entries.py.
_room, _grp, _user, _occ = (
    Room.__table__,
    CourseGroup.__table__,
    User.__table__,
    Occurrence.__table__,
)

KINDS = ("room", "mentor", "group", "student")
# What a kind is called in messages ("No room matches ...").
NOUNS = {"room": "room", "mentor": "mentor", "group": "group", "student": "student"}
SUGGESTION_LIMIT = 10
# How many names an "several match" message lists.
MATCHES_SHOWN = 5


class Choice(NamedTuple):
    """Something to choose: its id, its name, and for people their e-mail (`detail`)."""

    id: int
    name: str
    detail: str = ""


class AmbiguousChoice(ValidationError):
    """The text names several: `matches` are some of them (to offer as links)."""

    def __init__(self, message: str, *, field: str, matches: list[Choice]):
        super().__init__(message, field=field)
        self.matches = matches


def _like(text: str, *, prefix: bool = False) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%" if prefix else "%" + escaped + "%"


def _source(kind: str):
    """(id, name, e-mail or NULL) columns and the condition of what may be chosen."""
    if kind == "room":
        return _room.c.id, _room.c.name, null(), _room.c.active.is_(True)
    if kind == "group":
        return _grp.c.id, _grp.c.name, null(), _grp.c.active.is_(True)
    if kind == "mentor":
        condition = and_(_user.c.role == Role.MENTOR, _user.c.active.is_(True))
        return _user.c.id, _user.c.name, _user.c.email, condition
    if kind == "student":
        return _user.c.id, _user.c.name, _user.c.email, _user.c.role == Role.STUDENT
    raise ValueError(kind)


def _matching(kind: str, text: str) -> Select:
    """What `text` (a part of the name, or of the e-mail for people) matches, names that
    start with it first, then by name."""
    ident, name, email, condition = _source(kind)
    query = select(ident, name, email).where(condition)
    if text:
        found = name.ilike(_like(text), escape="\\")
        if kind in ("mentor", "student"):
            found = or_(found, email.ilike(_like(text), escape="\\"))
        query = query.where(found)
    starts = case((name.ilike(_like(text, prefix=True), escape="\\"), 0), else_=1)
    return query.order_by(starts, func.lower(name), ident)


def _choices(rows) -> list[Choice]:
    return [Choice(ident, name, email or "") for ident, name, email in rows]


def suggest(kind: str, text: str, limit: int = SUGGESTION_LIMIT) -> tuple[list[Choice], bool]:
    """At most `limit` of what `text` matches, and whether there are more (one statement)."""
    rows = db.session.execute(_matching(kind, text.strip()).limit(limit + 1)).all()
    return _choices(rows[:limit]), len(rows) > limit


def find_choice(kind: str, text: str) -> Choice:
    """The one `text` names: an exact e-mail (people), an exact name (any case), or a unique
    part of a name. Raises ValidationError (field `kind`) for none, AmbiguousChoice for
    several."""
    noun = NOUNS[kind]
    text = text.strip()
    if not text:
        raise ValidationError(f"Type a {noun}'s name.", field=kind)
    ident, name, email, condition = _source(kind)
    if kind in ("mentor", "student"):
        row = db.session.execute(
            select(ident, name, email).where(condition, email == text.lower())
        ).first()
        if row is not None:
            return Choice(row[0], row[1], row[2] or "")
    exact = _choices(
        db.session.execute(
            select(ident, name, email)
            .where(condition, func.lower(name) == func.lower(text))
            .order_by(ident)
            .limit(MATCHES_SHOWN + 1)
        )
    )
    if len(exact) == 1:
        return exact[0]
    if exact:
        raise AmbiguousChoice(
            f"Several {noun}s are named {text!r}: choose one, or type the e-mail.",
            field=kind,
            matches=exact[:MATCHES_SHOWN],
        )
    matches = _choices(db.session.execute(_matching(kind, text).limit(MATCHES_SHOWN + 1)))
    if not matches:
        raise ValidationError(f"No {noun} matches {text!r}.", field=kind)
    if len(matches) > 1:
        more = ", ..." if len(matches) > MATCHES_SHOWN else ""
        names = ", ".join(m.name for m in matches[:MATCHES_SHOWN]) + more
        raise AmbiguousChoice(
            f"Several {noun}s match {text!r}: {names}.", field=kind, matches=matches[:MATCHES_SHOWN]
        )
    return matches[0]


def resolve_choice(kind: str, text: str | None, chosen_id: int | None) -> int | None:
    """What a typed field and the id beside it (set when a suggestion was picked, or kept
    from the URL) mean together: no text sent, the id; empty text, nothing; the chosen one's
    own name, the id; other text, what it names (see find_choice)."""
    if text is None:
        return chosen_id
    if not text.strip():
        return None
    if chosen_id:
        current = selected_names(ScheduleFilters(**{f"{kind}_id": chosen_id})).get(kind)
        if current is not None and current.name.casefold() == text.strip().casefold():
            return chosen_id
    return find_choice(kind, text).id


@lru_cache(maxsize=1)
def _names_query() -> Select:
    """The names of the chosen room, mentor, group and student, in one statement."""
    parts = []
    for n, kind in enumerate(KINDS):
        ident, name, email, _condition = _source(kind)
        role = {"mentor": Role.MENTOR, "student": Role.STUDENT}.get(kind)
        where = [ident == bindparam(kind)]
        if role is not None:
            where.append(_user.c.role == role)
        parts.append(select(literal(n).label("kind"), ident, name, email).where(*where))
    return union_all(*parts)


def selected_names(filters: ScheduleFilters) -> dict[str, Choice | None]:
    """The chosen room, mentor, group and student by kind (None where none is chosen or the
    id names nothing of that kind)."""
    ids = {
        "room": filters.room_id,
        "mentor": filters.mentor_id,
        "group": filters.group_id,
        "student": filters.student_id,
    }
    found: dict[str, Choice | None] = dict.fromkeys(KINDS)
    if not any(ids.values()):
        return found
    rows = db.session.execute(_names_query(), {k: v or 0 for k, v in ids.items()})
    for n, ident, name, email in rows:
        found[KINDS[n]] = Choice(ident, name, email or "")
    return found


def find_student(text: str) -> User:
    """The student a filter's text names: an exact e-mail, or a unique part of a name."""
    return db.session.get(User, find_choice("student", text).id)


# --- The cell editor's rooms: free ones first ---------------------------------------------


@dataclass(frozen=True)
class RoomOption:
    id: int
    name: str
    busy_with: str  # a group meeting there at that time ("" when free)
    current: bool  # the session's room now

    @property
    def free(self) -> bool:
        return not self.busy_with


def room_options(
    text: str,
    *,
    start_utc: datetime,
    end_utc: datetime,
    occurrence_id: int,
    current_room_id: int | None,
    limit: int = SUGGESTION_LIMIT,
) -> tuple[list[RoomOption], bool]:
    """Active rooms matching `text` for a session at [start_utc, end_utc): its current room
    first (always, whatever is typed), then rooms free at that time, then busy ones (with a
    group meeting there), by name; at most `limit`, and whether there are more.

    Busy means another non-cancelled session overlaps in that room. One statement, whose
    sessions are those overlapping the window (an index range), not a query per room.
    """
    busy = (
        select(_occ.c.room_id, func.min(_grp.c.name).label("busy_with"))
        .join(_grp, _grp.c.id == _occ.c.group_id)
        .where(
            overlapping(_occ.c.start_utc, _occ.c.end_utc, start_utc, end_utc),
            _occ.c.status != OccurrenceStatus.CANCELLED,
            _occ.c.id != occurrence_id,
            _occ.c.room_id.is_not(None),
        )
        .group_by(_occ.c.room_id)
        .subquery()
    )
    text = text.strip()
    current = _room.c.id == (current_room_id or 0)
    matches = _room.c.active.is_(True)
    if text:
        matches = and_(matches, _room.c.name.ilike(_like(text), escape="\\"))
    starts = case((_room.c.name.ilike(_like(text, prefix=True), escape="\\"), 0), else_=1)
    rows = db.session.execute(
        select(_room.c.id, _room.c.name, busy.c.busy_with)
        .outerjoin(busy, busy.c.room_id == _room.c.id)
        .where(or_(matches, current))
        .order_by(
            case((current, 0), else_=1),
            case((busy.c.busy_with.is_(None), 0), else_=1),
            starts,
            func.lower(_room.c.name),
            _room.c.id,
        )
        .limit(limit + 1)
    ).all()
    options = [
        RoomOption(ident, name, busy_with or "", ident == current_room_id)
        for ident, name, busy_with in rows[:limit]
    ]
    return options, len(rows) > limit


def window_with_changes(
    occurrence: Occurrence,
    *,
    tz: ZoneInfo,
    new_date: date | None = None,
    start_time: time | None = None,
    end_time: time | None = None,
) -> tuple[datetime, datetime]:
    """When a series session would be with an exception's date and times (each None: as the
    series has it); when it is now if none is given or they make no session."""
    if new_date is None and start_time is None and end_time is None:
        return occurrence.start_utc, occurrence.end_utc
    if new_date is not None and date_outside(new_date):
        return occurrence.start_utc, occurrence.end_utc
    rule = rule_of(occurrence.series)
    change = OverrideRule(rule.id, occurrence.original_date, False, new_date, start_time, end_time)
    plan = plan_occurrence(rule, occurrence.original_date, change, tz)
    return plan.start_utc, plan.end_utc
