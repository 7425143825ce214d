"""The mentor's tracking dashboard: filters shared by every tab, the Completed table and
the History timeline.

Filters (`DashboardFilters`, parsed from plain values by `parse_filters`): a course group,
a range of local dates (both ends included), a status (sessions: `scheduled`, `cancelled`,
`completed`) or a kind of event (History), and `q`, text searched in notes. On the session
tabs the dates are the sessions' dates and `q` matches the bodies of the notes the viewer
may read (a student: general and achievement notes only, so a search never reveals a
staff-only note) and, for mentors, the completion notes; on History the dates are when
things happened and `q` matches the entries' summaries.

Completed: the mentor's completed sessions, latest first, each with its number of notes and
of files (correlated subqueries: one statement for the page, one for the count).

History: everything that happened to the mentor's sessions, newest first: every
`SessionEvent` (moved, cancelled, restored, completed, completion corrected, notes and files
added, edited or deleted) plus each session's creation (its `created_at`; not an event). One
UNION ALL statement gives the page, one counts it, one loads the page's sessions and one the
actors: four, however long the page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)

from models import (
    Attachment,
    CourseGroup,
    Occurrence,
    OccurrenceStatus,
    Role,
    SessionEvent,
    SessionNote,
    User,
    db,
)
from services.common.numbers import row_id
from services.common.pagination import DEFAULT_PER_PAGE, Page, contains
from services.common.timeutil import local_day_bounds
from services.permissions import (
    STUDENT_KINDS,
    groups_covered_by,
    takes_part_in,
    teaches_session,
)
from services.tracking import events

CREATED = "created"
Q_MAX_LENGTH = 200
# Dates outside these are typos (and would overflow the conversion to instants).
EARLIEST_DATE, LATEST_DATE = date(1900, 1, 1), date(2199, 12, 31)

SESSION_STATUSES = [
    (OccurrenceStatus.SCHEDULED.value, "Scheduled"),
    (OccurrenceStatus.CANCELLED.value, "Cancelled"),
    (OccurrenceStatus.COMPLETED.value, "Completed"),
]
EVENT_LABELS = {
    CREATED: "Created",
    events.MOVED: "Moved",
    events.CANCELLED: "Cancelled",
    events.RESTORED: "Restored",
    events.COMPLETED: "Completed",
    events.COMPLETION_CORRECTED: "Completion corrected",
    events.NOTE_ADDED: "Note added",
    events.NOTE_EDITED: "Note edited",
    events.NOTE_DELETED: "Note deleted",
    events.FILE_ADDED: "File added",
    events.FILE_DELETED: "File deleted",
}
EVENT_KINDS = list(EVENT_LABELS.items())

MESSAGE_BAD_DATE = "Enter a date as YYYY-MM-DD."
MESSAGE_DATE_RANGE = "Choose a date between 1900 and 2199."
MESSAGE_REVERSED = "The end date is before the start date: it was left out."

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


# --- Filters ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardFilters:
    """What one tab is filtered by. `errors` say which typed values were left out, and why."""

    group_id: int | None = None
    start: date | None = None
    end: date | None = None
    status: str | None = None
    q: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    def as_args(self, status_name: str = "status") -> dict[str, str]:
        """The non-empty filters as query-string arguments (for pager and poll URLs)."""
        args = {
            "group": str(self.group_id) if self.group_id else "",
            "from": self.start.isoformat() if self.start else "",
            "to": self.end.isoformat() if self.end else "",
            status_name: self.status or "",
            "q": self.q,
        }
        return {key: value for key, value in args.items() if value}

    @property
    def active(self) -> bool:
        return bool(self.group_id or self.start or self.end or self.status or self.q)


def _parse_date(raw, key: str, errors: dict[str, str]) -> date | None:
    text = str(raw or "").strip()
    if not text:
        return None
    try:
        if not _ISO_DATE.fullmatch(text):
            raise ValueError(text)
        day = date.fromisoformat(text)
    except ValueError:
        errors[key] = MESSAGE_BAD_DATE
        return None
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        errors[key] = MESSAGE_DATE_RANGE
        return None
    return day


def parse_filters(
    args: Mapping, *, statuses: list[tuple[str, str]] | None = None, status_name: str = "status"
) -> DashboardFilters:
    """Filters from query-string values. A group that is not a positive number and a status
    not offered are ignored; a bad or reversed date is left out with a message."""
    errors: dict[str, str] = {}
    group_text = str(args.get("group") or "").strip()
    group_id = row_id(group_text)
    start = _parse_date(args.get("from"), "from", errors)
    end = _parse_date(args.get("to"), "to", errors)
    if start and end and end < start:
        errors["to"] = MESSAGE_REVERSED
        end = None
    status = str(args.get(status_name) or "").strip()
    allowed = {value for value, _ in statuses or []}
    q = " ".join(str(args.get("q") or "").split())[:Q_MAX_LENGTH]
    return DashboardFilters(
        group_id=group_id,
        start=start,
        end=end,
        status=status if status in allowed else None,
        q=q,
        errors=errors,
    )


def _instant_bounds(filters: DashboardFilters, tz: ZoneInfo):
    """UTC instants of the range's first local midnight and of the midnight after its end."""
    start = end = None
    if filters.start:
        start = local_day_bounds(filters.start, filters.start, tz)[0]
    if filters.end:
        end = local_day_bounds(filters.end + timedelta(days=1), filters.end, tz)[0]
    return start, end


def note_text_match(viewer: User, q: str) -> ColumnElement:
    """The session has a note `viewer` may read containing `q` (mentors: or its completion
    notes do). Students match only general and achievement notes."""
    in_notes = SessionNote.occurrence_id == Occurrence.id
    note_filter = [in_notes, contains(SessionNote.body, q)]
    if viewer.role == Role.STUDENT:
        note_filter.append(SessionNote.kind.in_(sorted(STUDENT_KINDS)))
    matched = exists().where(*note_filter)
    if viewer.role == Role.STUDENT:
        return matched
    return or_(matched, contains(func.coalesce(Occurrence.completion_notes, ""), q))


def filter_sessions(
    query: Select, filters: DashboardFilters | None, viewer: User, tz: ZoneInfo
) -> Select:
    """Apply the filters to a query of sessions joined to their course group."""
    if filters is None:
        return query
    if filters.group_id:
        query = query.where(CourseGroup.id == filters.group_id)
    start, end = _instant_bounds(filters, tz)
    if start is not None:
        query = query.where(Occurrence.start_utc >= start)
    if end is not None:
        query = query.where(Occurrence.start_utc < end)
    if filters.status:
        query = query.where(Occurrence.status == OccurrenceStatus(filters.status))
    if filters.q:
        query = query.where(note_text_match(viewer, filters.q))
    return query


def group_choices(viewer: User) -> list[tuple[int, str]]:
    """The course groups a mentor teaches (or covers a session of) or a student is enrolled
    in, by name (one query)."""
    query = select(CourseGroup.id, CourseGroup.name).order_by(CourseGroup.name, CourseGroup.id)
    if viewer.role not in (Role.MENTOR, Role.STUDENT):
        return []
    mine = takes_part_in(viewer, CourseGroup.id)
    if viewer.role == Role.MENTOR:
        mine = or_(mine, CourseGroup.id.in_(groups_covered_by(viewer.id)))
    query = query.where(mine)
    return [(row.id, row.name) for row in db.session.execute(query)]


def _page(total: int, number: int, per_page: int) -> tuple[int, int]:
    pages = max(1, -(-total // per_page))
    number = min(max(number, 1), pages)
    return number, (number - 1) * per_page


# --- Completed ----------------------------------------------------------------------------------


@dataclass
class CompletedRow:
    occurrence: Occurrence
    notes: int
    files: int

    @property
    def title(self) -> str:
        return self.occurrence.title or self.occurrence.group.name


def completed_page(
    mentor: User,
    *,
    tz: ZoneInfo,
    filters: DashboardFilters | None = None,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> Page:
    """One page of `mentor`'s completed sessions, latest first, with their counts of notes
    and files (two statements: the count and the page)."""
    base = filter_sessions(
        select(Occurrence)
        .join(CourseGroup, CourseGroup.id == Occurrence.group_id)
        .where(
            teaches_session(mentor.id),
            Occurrence.status == OccurrenceStatus.COMPLETED,
        ),
        filters,
        mentor,
        tz,
    )
    total = db.session.scalar(select(func.count()).select_from(base.subquery())) or 0
    number, offset = _page(total, page, per_page)
    notes = (
        select(func.count(SessionNote.id))
        .where(SessionNote.occurrence_id == Occurrence.id)
        .scalar_subquery()
    )
    files = (
        select(func.count(Attachment.id))
        .where(Attachment.occurrence_id == Occurrence.id)
        .scalar_subquery()
    )
    rows = db.session.execute(
        base.add_columns(notes, files)
        .order_by(Occurrence.start_utc.desc(), Occurrence.id.desc())
        .limit(per_page)
        .offset(offset)
    )
    items = [CompletedRow(o, n, f) for o, n, f in rows]
    return Page(items=items, number=number, per_page=per_page, total=total)


# --- History ------------------------------------------------------------------------------------


@dataclass
class HistoryEntry:
    """One line of the timeline: what happened to which session, when, and who did it."""

    kind: str
    at: datetime
    occurrence: Occurrence
    actor: User | None
    summary: str
    event_id: int | None = None

    @property
    def label(self) -> str:
        return EVENT_LABELS.get(self.kind, self.kind.replace("_", " ").capitalize())

    @property
    def session_title(self) -> str:
        return self.occurrence.title or self.occurrence.group.name


def _creation_summary() -> ColumnElement:
    """What a session's creation entry says, in SQL so that the text filter finds it too."""
    return case(
        (Occurrence.series_id.is_not(None), "Generated from the weekly schedule."),
        (Occurrence.request_id.is_not(None), "Created when a request was approved."),
        else_="One-time session created.",
    )


def _timeline(mentor: User):
    """Every event and creation of `mentor`'s sessions, as one UNION ALL subquery."""
    taught = teaches_session(mentor.id)  # their groups' sessions and those they cover
    happened = (
        select(
            SessionEvent.id.label("event_id"),
            SessionEvent.occurrence_id.label("occurrence_id"),
            Occurrence.group_id.label("group_id"),
            SessionEvent.kind.label("kind"),
            SessionEvent.actor_id.label("actor_id"),
            SessionEvent.created_at.label("at"),
            SessionEvent.summary.label("summary"),
        )
        .join(Occurrence, Occurrence.id == SessionEvent.occurrence_id)
        .join(CourseGroup, CourseGroup.id == Occurrence.group_id)
        .where(taught)
    )
    created = (
        select(
            cast(null(), Integer).label("event_id"),
            Occurrence.id.label("occurrence_id"),
            Occurrence.group_id.label("group_id"),
            cast(literal(CREATED), String(30)).label("kind"),
            cast(null(), Integer).label("actor_id"),
            Occurrence.created_at.label("at"),
            cast(_creation_summary(), String).label("summary"),
        )
        .join(CourseGroup, CourseGroup.id == Occurrence.group_id)
        .where(taught)
    )
    return union_all(happened, created).subquery("timeline")


def history_page(
    mentor: User,
    *,
    tz: ZoneInfo,
    filters: DashboardFilters | None = None,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> Page:
    """One page of the timeline of `mentor`'s sessions, newest first. `filters.status` is a
    kind of entry (`created`, `moved`, `note_added`...), the dates are when it happened."""
    timeline = _timeline(mentor)
    conditions = []
    if filters is not None:
        if filters.group_id:
            conditions.append(timeline.c.group_id == filters.group_id)
        start, end = _instant_bounds(filters, tz)
        if start is not None:
            conditions.append(timeline.c.at >= start)
        if end is not None:
            conditions.append(timeline.c.at < end)
        if filters.status:
            conditions.append(timeline.c.kind == filters.status)
        if filters.q:
            conditions.append(contains(timeline.c.summary, filters.q))
    where = and_(*conditions) if conditions else None
    counted = select(func.count()).select_from(timeline)
    listed = select(timeline)
    if where is not None:
        counted, listed = counted.where(where), listed.where(where)
    total = db.session.scalar(counted) or 0
    number, offset = _page(total, page, per_page)
    rows = db.session.execute(
        listed.order_by(
            timeline.c.at.desc(),
            func.coalesce(timeline.c.event_id, 0).desc(),
            timeline.c.occurrence_id.desc(),
        )
        .limit(per_page)
        .offset(offset)
    ).all()
    sessions = _by_id(Occurrence, {row.occurrence_id for row in rows})
    actors = _by_id(User, {row.actor_id for row in rows if row.actor_id is not None})
    items = []
    for row in rows:
        occurrence = sessions[row.occurrence_id]
        items.append(
            HistoryEntry(
                kind=row.kind,
                at=row.at,
                occurrence=occurrence,
                actor=actors.get(row.actor_id),
                summary=row.summary,
                event_id=row.event_id,
            )
        )
    return Page(items=items, number=number, per_page=per_page, total=total)


def _by_id(model, ids: set[int]) -> dict:
    if not ids:
        return {}
    return {row.id: row for row in db.session.scalars(select(model).where(model.id.in_(ids)))}
