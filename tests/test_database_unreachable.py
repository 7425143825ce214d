"""A PostgreSQL restart: pooled connections the server closed are replaced before use (the next
request succeeds), and while the database cannot be reached every request that needs it is
answered 503 with Retry-After and a page in plain words (a fragment to htmx, problem+json to
the API), never a 500."""

from __future__ import annotations

import os
import sqlite3

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from app import create_app
from blueprints.database_unreachable import is_unreachable
from models import Room, db
from services.people.tokens import create_token
from tests.conftest import FAST_HASH, TEST_PASSWORD, browser, csrf_token_of

# Nothing listens on port 1: connecting is refused at once (connect_timeout bounds the rest).
UNREACHABLE_URL = "postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=1"
PLAIN_WORDS = "Termtable cannot reach its database just now"
ON_POSTGRESQL = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")


def unreachable_app(**overrides):
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": UNREACHABLE_URL,
        "PASSWORD_HASH_METHOD": FAST_HASH,
        "RATELIMIT_ENABLED": False,
        "TIMEZONE": "Europe/Paris",
        "SERVER_NAME": None,
    }
    return create_app(config | overrides)


@pytest.fixture
def down():
    """An app whose database is unreachable."""
    app = unreachable_app()
    yield app
    with app.app_context():
        db.engine.dispose()


def logged_in_browser(app, user_id: int = 1):
    """A browser holding the session cookie of a logged-in user (made without the database:
    signed as the app signs it)."""
    web = browser(app)
    serializer = app.session_interface.get_signing_serializer(app)
    web.set_cookie("session", serializer.dumps({"_user_id": f"{user_id}:token", "_fresh": True}))
    return web


def assert_unreachable_page(response):
    assert response.status_int == 503
    assert 5 <= int(response.headers["Retry-After"]) <= 30
    assert PLAIN_WORDS in response.text
    assert "Traceback" not in response.text


def test_logging_in_while_the_database_is_down_is_a_503_page(down):
    web = browser(down)
    form = web.get("/auth/login").forms[0]  # the form itself needs no database
    form["email"] = "mentor@school.test"
    form["password"] = TEST_PASSWORD
    response = form.submit(status=503)
    assert_unreachable_page(response)
    assert response.content_type == "text/html"
    assert "Database unreachable" in response.html.title.text


@pytest.mark.parametrize("path", ["/", "/auth/login", "/timetable/groups", "/notifications/"])
def test_a_logged_in_visitor_gets_the_503_page_not_a_500(down, path):
    """Loading the user from the session cookie is the first query of every page."""
    response = logged_in_browser(down).get(path, status=503)
    assert_unreachable_page(response)
    assert "Log out" not in response.text  # drawn without the user it could not load


def test_an_htmx_request_gets_the_message_as_a_fragment(down):
    headers = {"HX-Request": "true", "HX-Request-Type": "partial"}
    response = logged_in_browser(down).get("/timetable/groups", headers=headers, status=503)
    assert_unreachable_page(response)
    assert response.text.startswith('<div class="error-fragment"')


def test_the_api_answers_a_503_problem(down):
    response = browser(down).get(
        "/api/v1/rooms", headers={"Authorization": "Bearer tt_" + "x" * 43}, status=503
    )
    assert response.content_type == "application/problem+json"
    assert 5 <= int(response.headers["Retry-After"]) <= 30
    body = response.json
    assert body["status"] == 503 and PLAIN_WORDS in body["detail"]


def test_an_error_page_drawn_while_the_database_is_down_is_a_503_too():
    """A 404 for a logged-in visitor loads the user only while drawing the error page."""
    app = unreachable_app(PROPAGATE_EXCEPTIONS=False)
    try:
        response = logged_in_browser(app).get("/no/such/page", status=503)
        assert_unreachable_page(response)
    finally:
        with app.app_context():
            db.engine.dispose()


def test_engine_options_given_by_a_deployment_keep_the_pre_ping():
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "SQLALCHEMY_ENGINE_OPTIONS": {"echo_pool": False},
        }
    )
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"] == {"pool_pre_ping": True, "echo_pool": False}
    with app.app_context():
        assert db.engine.pool._pre_ping


def test_a_database_that_answers_with_an_error_is_still_a_500_page(tmp_path):
    """An SQLite file without its tables: a fault to fix, not a wait; the 500 page is drawn
    (the visitor anonymous) rather than failing again while loading them for its header."""
    app = unreachable_app(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'empty.db'}", PROPAGATE_EXCEPTIONS=False
    )
    try:
        response = logged_in_browser(app).get("/timetable/groups", status=500)
        assert "Internal Server Error" in response.text
        assert "Retry-After" not in response.headers and PLAIN_WORDS not in response.text
    finally:
        with app.app_context():
            db.engine.dispose()


def test_only_an_absent_database_counts_as_unreachable():
    """SQLite's lock and a failing statement stay what they were (500s to fix at their cause)."""
    locked = OperationalError(None, None, sqlite3.OperationalError("database is locked"))
    assert not is_unreachable(locked)
    refused = OperationalError(None, None, Exception("connection refused"))
    assert is_unreachable(refused)
    failing = OperationalError("SELECT 1/0", {}, Exception("division by zero"))
    assert not is_unreachable(failing)
    lost = OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    lost.connection_invalidated = True
    assert is_unreachable(lost)


@pytest.mark.skipif(not ON_POSTGRESQL, reason="a server-side kill needs PostgreSQL")
def test_pooled_connections_killed_by_the_server_are_replaced(app, make_user):
    """What a PostgreSQL restart does to the pool: every connection it holds is closed by the
    server. The next requests still succeed."""
    db.session.add(Room(name="Lab"))
    user = make_user("coordinator")
    _row, token = create_token(user)
    db.session.commit()
    api = browser(app)
    api_headers = {"Authorization": f"Bearer {token}"}
    web = browser(app)
    form = web.get("/auth/login").forms[0]
    form["email"], form["password"] = user.email, TEST_PASSWORD
    form.submit(status=302)
    assert api.get("/api/v1/rooms", headers=api_headers).json["items"][0]["name"] == "Lab"
    db.session.remove()  # the test's own session gives its connection back to the pool too

    killer = sa.create_engine(db.engine.url, isolation_level="AUTOCOMMIT")
    with killer.connect() as conn:
        killed = conn.scalar(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    killer.dispose()
    assert killed >= 1

    assert api.get("/api/v1/rooms", headers=api_headers).json["items"][0]["name"] == "Lab"
    page = web.get("/manage/rooms")
    assert "Lab" in page.text
    # A state change too: the room form, through a fresh pooled connection.
    token_field = csrf_token_of(page)
    web.post("/manage/rooms", {"new-name": "Hall", "csrf_token": token_field}, status=302)
    assert {r.name for r in db.session.scalars(sa.select(Room))} == {"Lab", "Hall"}
