"""Choosing a room, mentor, group, student or series by typing: suggestions for what is
typed (a few, never the whole list), the one a typed text names, and the names of the ones
chosen.

Every page that picks one of a school-sized table uses this module (the schedule's filter
bar and cell editor, the monitoring filters, the one-time session form, a session's edit
form, the exceptions page): none lists options of its own, as a page's size must not follow
the number of rooms, mentors, groups and series (a school of 5,000 groups made the filter
bar 248 KB). What is typed is matched on the server, with or without JavaScript: as
suggestions while typing (htmx), or resolved when the form is sent.

A series has no name of its own: it is named by its group, weekdays, times and room
("Maths 1A: Mon 10:00-11:00 (Lab 1)"), and typed by its group's name (a group with several
series asks which one).
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

from models import CourseGroup, Occurrence, Room, Series, User, db
from models.enums import OccurrenceStatus, Role
from models.series import WEEKDAY_NAMES, mask_to_weekdays
from services.common.errors import ValidationError
from services.common.timeutil import clock_label, date_outside
from services.timetable.conflicts import overlapping
from services.timetable.exceptions import rule_of
from services.timetable.recurrence import OverrideRule, plan_occurrence
from services.timetable.schedule.view import ScheduleFilters

# Table columns, not mapped attributes, as in entries.py.
_room, _grp, _user, _occ, _ser = (
    Room.__table__,
    CourseGroup.__table__,
    User.__table__,
    Occurrence.__table__,
    Series.__table__,
)

# The schedule's filter bar's kinds; CHOOSABLE are all that can be typed somewhere.
KINDS = ("room", "mentor", "group", "student")
CHOOSABLE = (*KINDS, "series")
# What a kind is called in messages ("No room matches ...").
NOUNS = {"room": "room", "mentor": "mentor", "group": "group", "student": "student",
         "series": "series"}  # fmt: skip
PLURALS = {**{k: v + "s" for k, v in NOUNS.items()}, "series": "series"}
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
    if kind == "series":
        query = _series_matching(_group_part(text)).limit(limit + 1)
        rows = [_series_choice(row) for row in db.session.execute(query)]
        return rows[:limit], len(rows) > limit
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
    if kind == "series":
        return _find_series(text)
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
            f"Several {PLURALS[kind]} are named {text!r}: choose one, or type the e-mail."
            if kind in ("mentor", "student")
            else f"Several {PLURALS[kind]} are named {text!r}: choose one.",
            field=kind,
            matches=exact[:MATCHES_SHOWN],
        )
    matches = _choices(db.session.execute(_matching(kind, text).limit(MATCHES_SHOWN + 1)))
    return _the_one(kind, text, matches)


def _the_one(kind: str, text: str, matches: list[Choice]) -> Choice:
    if not matches:
        raise ValidationError(f"No {NOUNS[kind]} matches {text!r}.", field=kind)
    if len(matches) > 1:
        more = ", ..." if len(matches) > MATCHES_SHOWN else ""
        names = ", ".join(m.name for m in matches[:MATCHES_SHOWN]) + more
        raise AmbiguousChoice(
            f"Several {PLURALS[kind]} match {text!r}: {names}.",
            field=kind,
            matches=matches[:MATCHES_SHOWN],
        )
    return matches[0]


def choice_named(kind: str, ident: int | None) -> Choice | None:
    """The room, mentor, group, student or series `ident` names (inactive ones too: a
    session may keep a room since deactivated), or None."""
    if not ident:
        return None
    if kind == "series":
        row = db.session.execute(_series_rows().where(_ser.c.id == ident)).first()
        return _series_choice(row) if row is not None else None
    column, name, email, _condition = _source(kind)
    query = select(column, name, email).where(column == ident)
    role = {"mentor": Role.MENTOR, "student": Role.STUDENT}.get(kind)
    if role is not None:
        query = query.where(_user.c.role == role)
    row = db.session.execute(query).first()
    return Choice(row[0], row[1], row[2] or "") if row is not None else None


def resolve_choice(kind: str, text: str | None, chosen_id: int | None) -> int | None:
    """What a typed field and the id beside it (set when a suggestion was picked, or kept
    from the URL) mean together: no text sent, the id; empty text, nothing; the chosen one's
    own name, the id; other text, what it names (see find_choice)."""
    if text is None:
        return chosen_id
    if not text.strip():
        return None
    if chosen_id:
        current = choice_named(kind, chosen_id)
        if current is not None and current.name.casefold() == text.strip().casefold():
            return chosen_id
    return find_choice(kind, text).id


# --- Series: named by their group, weekdays, times and room ---------------------------------


def _series_rows() -> Select:
    return (
        select(
            _ser.c.id,
            _grp.c.name,
            _ser.c.weekday_mask,
            _ser.c.start_time,
            _ser.c.end_time,
            _room.c.name,
        )
        .join(_grp, _grp.c.id == _ser.c.group_id)
        .outerjoin(_room, _room.c.id == _ser.c.room_id)
    )


def _series_choice(row) -> Choice:
    ident, group, mask, start, end, room = row
    days = ", ".join(WEEKDAY_NAMES[d] for d in mask_to_weekdays(mask))
    label = f"{group}: {days} {clock_label(start, end, '-')}" + (f" ({room})" if room else "")
    return Choice(ident, label)


def _group_part(text: str) -> str:
    """The group's name in a series' label typed ("Maths 1A: Mon 10:00-11:00" -> "Maths 1A")."""
    return text.split(":", 1)[0].strip()


def _series_matching(group_text: str, *, exact: bool = False) -> Select:
    """Series of active groups whose name contains `group_text` (or is it, any case): those
    starting with it first, then by group name and first date."""
    query = _series_rows().where(_grp.c.active.is_(True))
    if exact:
        query = query.where(func.lower(_grp.c.name) == func.lower(group_text))
    elif group_text:
        query = query.where(_grp.c.name.ilike(_like(group_text), escape="\\"))
    starts = case((_grp.c.name.ilike(_like(group_text, prefix=True), escape="\\"), 0), else_=1)
    return query.order_by(starts, func.lower(_grp.c.name), _ser.c.first_date, _ser.c.id)


def _find_series(text: str) -> Choice:
    """A series' whole label, or a group name (or a unique part of one) with one series."""
    group_text = _group_part(text)
    found = [
        _series_choice(row)
        for row in db.session.execute(
            _series_matching(group_text, exact=True).limit(MATCHES_SHOWN + 1)
        )
    ]
    if not found:
        query = _series_matching(group_text).limit(MATCHES_SHOWN + 1)
        found = [_series_choice(row) for row in db.session.execute(query)]
    same = [c for c in found if c.name.casefold() == text.casefold()]
    return _the_one("series", text, same or found)


@lru_cache(maxsize=1)
def _names_query() -> Select:
    """The names of the chosen room, mentor, group and student, in one statement (the
    schedule's filter bar)."""
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
