"""Dashboards of mentors and students: their own sessions as cards, with the status of the
moment, the other participant, the video room and its join window, and ratings.

Whose sessions: a mentor's are those of the groups they teach and those they cover for an
absent mentor, a student's those of the groups they are enrolled in (the participants). A
covered session says so on its card: "Cover for" the group's mentor to the substitute,
"Covered by" the substitute to the group's mentor, and students read who teaches it. Other
roles have no dashboard (nothing is listed).

Which sessions: `UPCOMING` lists the sessions that have not ended yet, nearest first; `PAST`
lists the ended ones, the most recent first. The two split at the same instant (`now`), so a
session is in exactly one of them: one that ended this morning is past (it is rated or
completed from there). Both include cancelled sessions (with their badge, so nobody waits for
them) and come in pages of `PER_PAGE`.

Status of the moment: `cancelled` and `completed` as stored; a scheduled session is `ongoing`
while now is in [start, end), else `scheduled` (also once it ended without being completed).

Join window: the "Join video call" link is given only for online, non-cancelled, not yet
completed sessions, and only from `JOIN_OPENS_BEFORE` (15 minutes) before the start until the
end, decided here on the server; cards are only built for participants, so nobody else ever
receives it. The room id itself (with its Copy button) is shown to participants at any time.

Queries: one for the page's sessions with everything the cards show (group, subject, mentor
and room are eagerly joined; the student's own score, or a mentor's group size and rating
summary, are correlated subqueries), one more for the names of tutoring students (mentors
only), one for the counts of the registers of the page's started sessions (mentors only),
and one to count the rows for the pager.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.orm import joinedload

from models import (
    CourseGroup,
    Enrolment,
    GroupKind,
    Occurrence,
    OccurrenceMode,
    OccurrenceStatus,
    Rating,
    Role,
    User,
    db,
)
from services.common.pagination import Page
from services.permissions import takes_part_in_session
from services.timetable.video_rooms import join_url
from services.tracking.attendance import RegisterSection, card_registers
from services.tracking.history import DashboardFilters, filter_sessions
from services.tracking.session_panel import CompletionSection, completion_section

JOIN_OPENS_BEFORE = timedelta(minutes=15)
PER_PAGE = 20


class DashboardTab(enum.StrEnum):
    UPCOMING = "upcoming"
    PAST = "past"


# --- Pure rules ---------------------------------------------------------------------------------


def status_at(occurrence: Occurrence, now: datetime) -> str:
    """`scheduled`, `ongoing` (scheduled and now in [start, end)), `completed` or `cancelled`."""
    if occurrence.status != OccurrenceStatus.SCHEDULED:
        return str(occurrence.status)
    if occurrence.start_utc <= now < occurrence.end_utc:
        return "ongoing"
    return "scheduled"


def join_window_open(occurrence: Occurrence, now: datetime) -> bool:
    """Whether the video call may be joined now: an online session that is neither cancelled
    nor completed, from 15 minutes before its start until its end (excluded)."""
    return (
        occurrence.mode == OccurrenceMode.ONLINE
        and occurrence.video_room_id is not None
        and occurrence.status == OccurrenceStatus.SCHEDULED
        and occurrence.start_utc - JOIN_OPENS_BEFORE <= now < occurrence.end_utc
    )


def duration_label(minutes: int) -> str:
    """'45 min', '1 h', '1 h 30', '2 h 05'."""
    hours, rest = divmod(max(minutes, 0), 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" if not rest else f"{hours} h {rest:02d}"


def when_label(occurrence: Occurrence, tz: ZoneInfo, now: datetime) -> str:
    """'Mon 07 Sep 10:00-11:30 (1 h 30)' (with an en dash) in the organisation's zone; the year
    is added when it is not the current one, and the end's day when it ends on another day."""
    start, end = occurrence.start_utc.astimezone(tz), occurrence.end_utc.astimezone(tz)
    day_format = "%a %d %b" if start.year == now.astimezone(tz).year else "%a %d %b %Y"
    end_text = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%a %d %b %H:%M}"
    minutes = int((occurrence.end_utc - occurrence.start_utc).total_seconds() // 60)
    return f"{start.strftime(day_format)} {start:%H:%M}\u2013{end_text} ({duration_label(minutes)})"


def _students_label(count: int) -> str:
    return "1 student" if count == 1 else f"{count} students"


# --- Cards --------------------------------------------------------------------------------------


@dataclass
class SessionCard:
    """What one dashboard card shows, decided for one viewer at one moment."""

    occurrence: Occurrence
    status: str
    when: str
    # Who the viewer meets: "Mentor", "Student" (tutoring) or "Group" (a class), and the name.
    other_label: str
    other_name: str
    # Set only inside the join window (and only ever for participants).
    join_url: str | None = None
    # Students: their own score, and whether they may rate now.
    my_score: int | None = None
    can_rate: bool = False
    # Mentors: the session's ratings, and whether it is theirs to complete now (started,
    # still scheduled): the card then carries the completion form.
    rating_average: float | None = None
    rating_count: int = 0
    can_complete: bool = False
    # What the card's completion section shows (only when `can_complete`).
    completion: CompletionSection | None = None
    # Mentors: the register of a started session that is not cancelled (its counts).
    register: RegisterSection | None = None
    # A covered session: "Cover for Ada Lovelace" (the substitute, and students), or
    # "Covered by Bob Brown" (the group's mentor); None when the group's mentor teaches it.
    cover_note: str | None = None

    @property
    def title(self) -> str:
        return self.occurrence.title or self.occurrence.group.name

    @property
    def video_room_id(self) -> str | None:
        o = self.occurrence
        return o.video_room_id if o.mode == OccurrenceMode.ONLINE else None

    @property
    def join_opens_later(self) -> bool:
        """An online session whose call is not open yet (the card says when it will be)."""
        return self.video_room_id is not None and self.status == "scheduled" and not self.join_url


def _sessions_of(viewer: User) -> Select:
    return (
        select(Occurrence)
        .join(CourseGroup, CourseGroup.id == Occurrence.group_id)
        .where(takes_part_in_session(viewer))
        .options(joinedload(Occurrence.cover_mentor))
    )


def cover_note(viewer: User, occurrence: Occurrence) -> str | None:
    """What a card says of a covered session, in the words of `viewer` (None: not covered)."""
    if occurrence.cover_mentor_id is None:
        return None
    if viewer.role == Role.MENTOR and occurrence.cover_mentor_id != viewer.id:
        return f"Covered by {occurrence.mentor.name}"
    return f"Cover for {occurrence.group.mentor.name}"


def _tab_filter(tab: DashboardTab, now: datetime):
    # Complementary conditions on the same instant: a session is in exactly one tab.
    if tab == DashboardTab.PAST:
        return Occurrence.end_utc <= now
    return Occurrence.end_utc > now


def _tab_order(tab: DashboardTab):
    if tab == DashboardTab.PAST:
        return (Occurrence.start_utc.desc(), Occurrence.id.desc())
    return (Occurrence.start_utc, Occurrence.id)


def _with_card_columns(query: Select, viewer: User) -> Select:
    """Add what the cards need beyond the session: the student's score, or for a mentor the
    group's size and the session's rating average and count."""
    if viewer.role == Role.STUDENT:
        my_score = (
            select(Rating.score)
            .where(Rating.occurrence_id == Occurrence.id, Rating.student_id == viewer.id)
            .scalar_subquery()
        )
        return query.add_columns(my_score)
    students = (
        select(func.count(Enrolment.id))
        .where(Enrolment.group_id == Occurrence.group_id)
        .scalar_subquery()
    )
    average = (
        select(func.avg(Rating.score)).where(Rating.occurrence_id == Occurrence.id)
    ).scalar_subquery()
    ratings = (
        select(func.count(Rating.id)).where(Rating.occurrence_id == Occurrence.id)
    ).scalar_subquery()
    return query.add_columns(students, average, ratings)


def _tutoring_students(group_ids: set[int]) -> dict[int, str]:
    """{group id: its student's name (names joined if ever several)} in one query."""
    if not group_ids:
        return {}
    names: dict[int, list[str]] = {}
    rows = db.session.execute(
        select(Enrolment.group_id, User.name)
        .join(User, User.id == Enrolment.student_id)
        .where(Enrolment.group_id.in_(sorted(group_ids)))
        .order_by(User.name, User.id)
    )
    for group_id, name in rows:
        names.setdefault(group_id, []).append(name)
    return {group_id: ", ".join(found) for group_id, found in names.items()}


def _cards(viewer: User, rows, *, tz: ZoneInfo, now: datetime) -> list[SessionCard]:
    rows = list(rows)
    tutoring = {}
    if viewer.role == Role.MENTOR:
        tutoring = _tutoring_students(
            {row[0].group_id for row in rows if row[0].group.kind == GroupKind.TUTORING}
        )
    cards = []
    for row in rows:
        o = row[0]
        card = SessionCard(
            occurrence=o,
            status=status_at(o, now),
            when=when_label(o, tz, now),
            other_label="Mentor",
            other_name=o.mentor.name,
            join_url=join_url(o.video_room_id) if join_window_open(o, now) else None,
            cover_note=cover_note(viewer, o),
        )
        if viewer.role == Role.STUDENT:
            card.my_score = row[1]
            card.can_rate = o.status == OccurrenceStatus.COMPLETED and row[1] is None
        else:
            card.can_complete = o.status == OccurrenceStatus.SCHEDULED and o.start_utc <= now
            if card.can_complete:
                card.completion = completion_section(viewer, o, now=now)
            students, average, count = row[1], row[2], row[3]
            if o.group.kind == GroupKind.TUTORING and o.group_id in tutoring:
                card.other_label, card.other_name = "Student", tutoring[o.group_id]
            else:
                card.other_label = "Group"
                card.other_name = f"{o.group.name} ({_students_label(students)})"
            card.rating_average = float(average) if average is not None else None
            card.rating_count = count
        cards.append(card)
    if viewer.role == Role.MENTOR:
        registers = card_registers(viewer, [card.occurrence for card in cards], now=now)
        for card in cards:
            card.register = registers.get(card.occurrence.id)
    return cards


def dashboard_page(
    viewer: User,
    *,
    tz: ZoneInfo,
    tab: DashboardTab = DashboardTab.UPCOMING,
    page: int = 1,
    per_page: int = PER_PAGE,
    now: datetime | None = None,
    filters: DashboardFilters | None = None,
) -> Page:
    """One page of `viewer`'s session cards for `tab` (a page past the end shows the last),
    narrowed by `filters` (group, dates, status, text in notes: `services.tracking.history`)."""
    now = now or datetime.now(UTC)
    base = filter_sessions(_sessions_of(viewer).where(_tab_filter(tab, now)), filters, viewer, tz)
    total = db.session.scalar(select(func.count()).select_from(base.subquery())) or 0
    pages = max(1, -(-total // per_page))
    number = min(max(page, 1), pages)
    rows = db.session.execute(
        _with_card_columns(base, viewer)
        .order_by(*_tab_order(tab))
        .limit(per_page)
        .offset((number - 1) * per_page)
    )
    items = _cards(viewer, rows, tz=tz, now=now)
    return Page(items=items, number=number, per_page=per_page, total=total)


def session_card(
    viewer: User, occurrence_id: int, *, tz: ZoneInfo, now: datetime | None = None
) -> SessionCard | None:
    """The card of one session for a participant `viewer` (None for anyone else)."""
    now = now or datetime.now(UTC)
    query = _with_card_columns(_sessions_of(viewer).where(Occurrence.id == occurrence_id), viewer)
    cards = _cards(viewer, db.session.execute(query), tz=tz, now=now)
    return cards[0] if cards else None
