"""Reading requests for the pages: filtered by the status a user reads, all pending ones for
an admin, and the sessions an approval created."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Select, and_, or_, select

from models import Occurrence, RequestStatus, SessionRequest, User, db
from services.requests import requests_visible_to

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


def requests_of(user: User, status: str | None = None, now: datetime | None = None) -> Select:
    """The requests `user` may see, newest first, optionally of one (effective) status."""
    return with_effective_status(requests_visible_to(user), status, now)


def all_pending(now: datetime | None = None) -> list[SessionRequest]:
    """Every pending, unexpired request (for an admin), the soonest first."""
    now = now or datetime.now(UTC)
    return list(
        db.session.scalars(
            select(SessionRequest)
            .where(
                SessionRequest.status == RequestStatus.PENDING,
                SessionRequest.first_start_utc > now,
            )
            .order_by(SessionRequest.first_start_utc, SessionRequest.id)
        ).unique()
    )


def sessions_of_request(request: SessionRequest) -> list[Occurrence]:
    """The sessions an approved request created (wherever they have been moved since)."""
    if request.status != RequestStatus.APPROVED:
        return []
    query = (
        select(Occurrence)
        .where(Occurrence.request_id == request.id)
        .order_by(Occurrence.start_utc, Occurrence.id)
    )
    return list(db.session.scalars(query).unique())
