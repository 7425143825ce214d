"""API test helpers: a token-authenticated WebTest client per user, and a small timetable."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models import db
from services.common.timeutil import week_start
from services.people.tokens import create_token
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
