"""Reading requests for the pages: filtered by the status a user reads (and, for staff, by
mentor and student), the pending ones a user oversees, and the sessions an approval created."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Select, and_, or_, select

from models import Occurrence, OccurrenceStatus, RequestStatus, Role, SessionRequest, User, db
from services.permissions import requests_visible_to

STATUS_FILTERS = tuple(s.value for s in RequestStatus)


def with_effective_status(query: Select, status: str | None, now: datetime | None = None):
    """`query` (of SessionRequest) narrowed to the status users read (`effective_status`):
    a pending request whose first session has started counts as expired."""
    if status not in STATUS_FILTERS:
        return query
    now = now or datetime.now(UTC)
    stale = and_(
        SessionRequest.status == RequestStatus.PENDING, SessionRequest.first_start_utc <= now
    )
    if status == RequestStatus.PENDING:
        return query.where(
            SessionRequest.status == RequestStatus.PENDING, SessionRequest.first_start_utc > now
        )
    if status == RequestStatus.EXPIRED:
        return query.where(or_(SessionRequest.status == RequestStatus.EXPIRED, stale))
    return query.where(SessionRequest.status == status)


def requests_of(
    user: User,
    status: str | None = None,
    now: datetime | None = None,
    *,
    mentor_id: int | None = None,
    student_id: int | None = None,
) -> Select:
    """The requests `user` may see, newest first, optionally of one (effective) status, one
    mentor and one student."""
    query = with_effective_status(requests_visible_to(user), status, now)
    if mentor_id:
        query = query.where(SessionRequest.mentor_id == mentor_id)
    if student_id:
        query = query.where(SessionRequest.student_id == student_id)
    return query


def pending_query(
    user: User,
    now: datetime | None = None,
    *,
    mentor_id: int | None = None,
    student_id: int | None = None,
) -> Select:
    """The pending, unexpired requests `user` oversees (a mentor's own, every mentor's for
    staff), the soonest first."""
    query = requests_of(
        user, RequestStatus.PENDING, now, mentor_id=mentor_id, student_id=student_id
    )
    return query.order_by(None).order_by(SessionRequest.first_start_utc, SessionRequest.id)


def people_in_requests(user: User, role: Role) -> list[User]:
    """The mentors (or students) of the requests `user` may see, by name: what the lists'
    filters offer."""
    column = SessionRequest.mentor_id if role == Role.MENTOR else SessionRequest.student_id
    ids = requests_visible_to(user).order_by(None).with_only_columns(column).distinct()
    return list(
        db.session.scalars(select(User).where(User.id.in_(ids)).order_by(User.name, User.id))
    )


def sessions_of_request(request: SessionRequest) -> list[Occurrence]:
    """The sessions an approved request created (wherever they have been moved since); not
    the cancelled dates of a weekly series that stand for dates declined at approval."""
    if request.status != RequestStatus.APPROVED:
        return []
    declined = {slot.local_date for slot in request.slots if slot.declined_reason}
    query = (
        select(Occurrence)
        .where(Occurrence.request_id == request.id)
        .order_by(Occurrence.start_utc, Occurrence.id)
    )
    return [
        o
        for o in db.session.scalars(query).unique()
        if not (o.status == OccurrenceStatus.CANCELLED and o.original_date in declined)
    ]
