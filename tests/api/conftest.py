"""API test helpers: a token-authenticated WebTest client per user, and a small timetable."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from models import DateOverride, MentorSubject, Occurrence, SessionRequest, db
from services.common.timeutil import week_start
from services.people.tokens import create_token
from services.timetable.generation import generate_occurrences
from tests.conftest import PINNED_TODAY, browser

PROBLEM = "application/problem+json"
# A Monday two weeks ahead: inside the allowed date range and not yet history.
MONDAY = week_start(PINNED_TODAY) + timedelta(weeks=2)


@pytest.fixture(scope="module", autouse=True)
def _pinned_api_clock(pinned_clock):
    """The API modules' dates are constants computed at import: every module runs on the
    pinned clock, so they never go stale when the run crosses midnight."""
    yield


class ApiClient:
    """WebTest with `Authorization: Bearer <token>` on every request; `status` as in WebTest
    (default: any 2xx or 3xx)."""

    def __init__(self, app, user, token: str | None):
        self.web = browser(app)
        self.user = user
        self.token = token

    def headers(self, extra=None) -> dict:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return headers | (extra or {})

    def get(self, url, params=None, *, status=None, headers=None):
        return self.web.get(url, params, headers=self.headers(headers), status=status)

    def post(self, url, body=None, *, status=None, headers=None):
        return self.web.post_json(url, body or {}, headers=self.headers(headers), status=status)

    def patch(self, url, body=None, *, status=None, headers=None):
        return self.web.patch_json(url, body or {}, headers=self.headers(headers), status=status)

    def put(self, url, body=None, *, status=None, headers=None):
        return self.web.put_json(url, body or {}, headers=self.headers(headers), status=status)

    def delete(self, url, *, status=None, headers=None):
        return self.web.delete(url, headers=self.headers(headers), status=status)

    def raw(self, method, url, body: bytes, content_type="application/json", status=None):
        return self.web.request(
            url,
            method=method,
            body=body,
            headers=self.headers({"Content-Type": content_type}),
            status=status,
            expect_errors=True,
        )


@pytest.fixture
def api_as(app, make_user):
    """`api_as("coordinator")` or `api_as(user)`: a client holding a fresh token of that user."""

    def factory(role_or_user="coordinator") -> ApiClient:
        user = make_user(role_or_user) if isinstance(role_or_user, str) else role_or_user
        _row, token = create_token(user)  # a fresh token per client (labels are unique)
        db.session.commit()
        return ApiClient(app, user, token)

    return factory


@pytest.fixture
def anonymous(app):
    return ApiClient(app, None, None)


@pytest.fixture
def maths_class(make_user, make_group, make_series):
    """A mentor teaching Maths (a Monday class with two generated weeks), two students."""
    mentor = make_user("mentor")
    group = make_group("Maths class", mentor=mentor, subject="Maths")
    db.session.add(MentorSubject(mentor_id=mentor.id, subject_id=group.subject_id))
    series = make_series(group, weekdays=(0,), first_date=MONDAY)
    generate_occurrences(MONDAY, MONDAY + timedelta(weeks=2), tz=ZoneInfo("Europe/Paris"))
    db.session.commit()
    return {
        "mentor": mentor,
        "group": group,
        "series": series,
        "student": make_user("student"),
        "other_student": make_user("student"),
    }


def request_body(maths_class, **schedule):
    """A student's request for one session with the class's mentor (`schedule` changes it)."""
    return {
        "mentor": maths_class["mentor"].id,
        "subject": maths_class["group"].subject_id,
        "title": "Help with fractions",
        "mode": "online",
        "schedule": {
            "kind": "single",
            "date": (MONDAY + timedelta(days=1)).isoformat(),
            "start": "16:00",
            "duration": 60,
        }
        | schedule,
    }


def timetable_state():
    """The sessions (id, start, status), and how many exceptions and requests there are."""
    db.session.expire_all()
    return (
        [(o.id, o.start_utc, o.status) for o in db.session.scalars(select(Occurrence))],
        db.session.scalar(select(func.count()).select_from(DateOverride)),
        db.session.scalar(select(func.count()).select_from(SessionRequest)),
    )


def assert_problem(response, status: int, *, field: str | None = None) -> dict:
    """A problem+json body with the RFC 9457 members; returns it."""
    assert response.status_int == status, response.text
    assert response.content_type == PROBLEM, response.content_type
    body = response.json
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["type"]
    if field is not None:
        assert field in body["errors"], body
    return body
