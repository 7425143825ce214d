"""The conflicts named on the schedule's sessions, read from the stored clashes
(services/timetable/clashes.py): one index lookup per shown session, so a week filtered to
one room costs the same whatever the size of the school.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select

from models import CourseGroup, Occurrence, SessionClash, db
from models.types import instant_reader, one_of, raw_instant
from services.common.timeutil import span_label
from services.timetable.conflicts import MENTOR, ROOM, STUDENT

if TYPE_CHECKING:
    from services.timetable.schedule.entries import GridEntry


_CONFLICT_WORDS = {ROOM: "Room", MENTOR: "Mentor", STUDENT: "Student"}


class ConflictNote(NamedTuple):
    kind: str
    other_id: int
    other_label: str

    @property
    def text(self) -> str:
        return f"{_CONFLICT_WORDS[self.kind]} conflict with {self.other_label}"


# Table columns, not mapped attributes, as in entries.py.
_occ, _grp, _clash = Occurrence.__table__, CourseGroup.__table__, SessionClash.__table__


@lru_cache(maxsize=2)
def _notes_query(dialect: str) -> Select:
    """Each stored clash of the sessions `ids` (one bound list, `one_of`), with the other
    session's group and times."""
    return (
        select(
            _clash.c.occurrence_id,
            _clash.c.kind,
            _clash.c.other_id,
            _grp.c.name,
            raw_instant(_occ.c.start_utc, dialect),
            raw_instant(_occ.c.end_utc, dialect),
        )
        .join(_occ, _occ.c.id == _clash.c.other_id)
        .join(_grp, _grp.c.id == _occ.c.group_id)
        .where(one_of(_clash.c.occurrence_id, name="ids"))
    )


def attach_conflicts(entries: list[GridEntry], tz: ZoneInfo) -> None:
    """Name, on each entry, the sessions it conflicts with (shown or not), by kind then id."""
    shown = {e.id: e for e in entries if not e.cancelled}
    if not shown:
        return
    dialect = db.session.get_bind().dialect.name
    read = instant_reader(dialect)
    rows = db.session.execute(_notes_query(dialect), {"ids": set(shown)})
    for mine, kind, other, name, start, end in rows:
        label = _label(name, read(start).astimezone(tz), read(end).astimezone(tz))
        shown[mine].conflicts.append(ConflictNote(kind, other, label))
    for entry in shown.values():
        entry.conflicts.sort(key=lambda note: (note.kind, note.other_id))


def _label(group_name: str, start: datetime, end: datetime) -> str:
    """'Maths 7A Mon 07 Sep 10:00-11:00' ('23:30-00:30 (+1 day)' past midnight); local times."""
    return f"{group_name} {start:%a %d %b} {span_label(start, end, start.tzinfo, '-')}"
