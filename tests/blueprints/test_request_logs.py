"""JSON logs: one line per request (method, route rule, status, duration, request id, user,
client address), the request id from a sane X-Request-ID or made, returned in the response,
carried by every record logged during the request, and quoted on the 500 page."""

from __future__ import annotations

import json
import logging
import re

import pytest

from app import ConfigurationError, create_app
from blueprints.ops import stop_json_logs, use_json_logs
from models import db
from tests.conftest import browser, make_app

pytestmark = pytest.mark.usefixtures("pinned_clock")
CLIENT = {"REMOTE_ADDR": "10.0.0.2"}  # the proxy in front of the app (TRUSTED_PROXIES=1)
MADE_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The suite's app with JSON logs on, behind one trusted proxy, whose errors become the
    500 page as in production, and with a view that logs and then fails."""
    app = make_app(
        tmp_path_factory,
        LOG_FORMAT="json",
        TRUSTED_PROXIES=1,
        PROPAGATE_EXCEPTIONS=False,
        UPLOAD_FOLDER=str(tmp_path_factory.mktemp("uploads")),
    )

    @app.get("/test-only/fail")
    def fail():
        app.logger.warning("about to fail")
        logging.getLogger("services.example").warning("a service says so too")
        raise RuntimeError("this view always fails")

    # Migrating the test database ran Alembic's logging set-up (migrations/alembic.ini), which
    # replaced the root logger's handlers with its own console one (`flask db upgrade` does so
    # in its own process; a server never migrates): put it aside while these tests run.
    root = logging.getLogger()
    alembic_console = [h for h in root.handlers if type(h) is logging.StreamHandler]
    for handler in alembic_console:
        root.removeHandler(handler)
    use_json_logs(app)
    yield app
    stop_json_logs()
    for handler in alembic_console:
        root.addHandler(handler)
    with app.app_context():
        db.engine.dispose()


def log_lines(capsys) -> list[dict]:
    """What was logged since the last call: every line on standard error is a JSON object."""
    return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]


def request_lines(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line["logger"] == "termtable.requests"]


def test_a_request_is_one_json_line_with_the_id_it_came_with(web, capsys):
    capsys.readouterr()
    response = web.get(
        "/auth/login",
        headers={"X-Request-ID": "edge-4f2a9c1e-77b0", "X-Forwarded-For": "203.0.113.9"},
        extra_environ=CLIENT,
    )
    assert response.headers["X-Request-ID"] == "edge-4f2a9c1e-77b0"
    [line] = request_lines(log_lines(capsys))
    assert line["request_id"] == "edge-4f2a9c1e-77b0"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/auth/login", 200)
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["user_id"] is None
    # The client the trusted proxy saw, not the proxy.
    assert line["remote_addr"] == "203.0.113.9"
    assert line["level"] == "INFO" and line["time"].endswith("+00:00")
    assert line["message"].startswith("GET /auth/login 200 ")


def test_the_path_is_the_route_rule_without_ids_or_query(web, login_as, make_user, capsys):
    user = login_as(make_user("mentor"))
    capsys.readouterr()
    web.get("/sessions/424242", status=404, extra_environ=CLIENT)
    web.get("/schedule/mine?date=2027-03-10&token=s3cret-in-query", extra_environ=CLIENT)
    web.get("/no/such/page/s3cret-in-path", status=404, extra_environ=CLIENT)
    captured = capsys.readouterr().err
    lines = request_lines([json.loads(line) for line in captured.splitlines()])
    assert [(line["path"], line["status"]) for line in lines] == [
        ("/sessions/<id:occurrence_id>", 404),
        ("/schedule/mine", 200),
        ("<unmatched>", 404),
    ]
    assert {line["user_id"] for line in lines} == {user.id}
    assert "424242" not in captured and "s3cret" not in captured


@pytest.mark.parametrize(
    "given",
    ["short", "has spaces in it", "x" * 129, '"><script>alert(1)</script>', "ünïcode-ïd-1234"],
)
def test_an_unreasonable_request_id_is_replaced(web, capsys, given):
    capsys.readouterr()
    response = web.get("/auth/login", headers={"X-Request-ID": given}, extra_environ=CLIENT)
    made = response.headers["X-Request-ID"]
    assert MADE_ID.fullmatch(made)
    [line] = request_lines(log_lines(capsys))
    assert line["request_id"] == made


def test_without_a_request_id_one_is_made_per_request(web, capsys):
    first = web.get("/auth/login", extra_environ=CLIENT).headers["X-Request-ID"]
    second = web.get("/auth/login", extra_environ=CLIENT).headers["X-Request-ID"]
    assert MADE_ID.fullmatch(first) and MADE_ID.fullmatch(second) and first != second
    assert [line["request_id"] for line in request_lines(log_lines(capsys))] == [first, second]


def test_every_record_of_a_failing_request_carries_its_id_and_the_500_page_quotes_it(web, capsys):
    capsys.readouterr()
    page = web.get("/test-only/fail", headers={"X-Request-ID": "support-ticket-0042"}, status=500)
    assert page.headers["X-Request-ID"] == "support-ticket-0042"
    assert page.html.find(id="request-id").text == "support-ticket-0042"
    assert "this view always fails" not in page.text  # no traceback for the user
    lines = log_lines(capsys)
    assert {line["request_id"] for line in lines} == {"support-ticket-0042"}
    by_logger = {(line["logger"], line["level"]): line for line in lines}
    assert by_logger["app", "WARNING"]["message"] == "about to fail"
    assert by_logger["services.example", "WARNING"]["message"] == "a service says so too"
    error = by_logger["app", "ERROR"]
    assert "RuntimeError: this view always fails" in error["exception"]
    [line] = request_lines(lines)
    assert (line["path"], line["status"]) == ("/test-only/fail", 500)


def test_an_htmx_request_that_fails_gets_the_reference_in_its_fragment(web, capsys):
    fragment = web.get(
        "/test-only/fail",
        headers={"HX-Request": "true", "HX-Request-Type": "partial"},
        status=500,
    )
    reference = fragment.headers["X-Request-ID"]
    assert fragment.html.find(id="error-500") is not None
    assert f"Reference: {reference}" in fragment.html.text


def test_a_refused_request_is_logged_with_its_id_too(web, capsys):
    """Refused before the view (CSRF), the request still has its id and its line."""
    capsys.readouterr()
    response = web.post("/auth/login", {"email": "a@b.c"}, status=400, extra_environ=CLIENT)
    [line] = request_lines(log_lines(capsys))
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert (line["method"], line["status"]) == ("POST", 400)
    assert "a@b.c" not in json.dumps(line)


def test_health_probes_and_scrapes_are_left_out_unless_they_fail(web, capsys):
    capsys.readouterr()
    web.get("/healthz")
    web.get("/readyz")
    web.get("/metrics", extra_environ={"REMOTE_ADDR": "127.0.0.1"})
    assert request_lines(log_lines(capsys)) == []
    web.get("/metrics", extra_environ={"REMOTE_ADDR": "198.51.100.7"}, status=404)
    [line] = request_lines(log_lines(capsys))
    assert (line["path"], line["status"]) == ("/metrics", 404)


# --- When JSON logs are on ---------------------------------------------------------------------


def test_json_logs_are_the_default_under_a_server_and_cover_what_start_up_logs(tmp_path, capsys):
    """Built by a WSGI server (no `flask` command), not debug or testing: JSON, from the start
    (the memory:// rate-limit warning is logged while the app is built)."""
    capsys.readouterr()
    create_app(
        {
            "SECRET_KEY": "x",
            "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(tmp_path / "prod.db"),
            "SWEEP_UPLOADS_AT_START": False,
            "JOBS_URL": "memory://",
        }
    )
    [warning] = log_lines(capsys)
    assert warning["level"] == "WARNING" and "memory://" in warning["message"]


def test_tests_and_commands_log_text_unless_told(app, capsys, monkeypatch):
    stop_json_logs()
    try:
        config = {"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "JOBS_URL": "memory://"}
        app = create_app(config)
        assert app.config["LOG_FORMAT"] == "text"
        app.logger.warning("plain text here")
        assert "{" not in capsys.readouterr().err
        monkeypatch.setenv("FLASK_LOG_FORMAT", "json")
        app = create_app(config)
        app.logger.warning("now as JSON")
        assert log_lines(capsys)[-1]["message"] == "now as JSON"
    finally:
        monkeypatch.undo()
        use_json_logs(app)  # this module's app, as it was


def test_an_unknown_log_format_is_a_start_up_error():
    with pytest.raises(ConfigurationError, match="LOG_FORMAT='xml'"):
        create_app(
            {
                "TESTING": True,
                "SQLALCHEMY_DATABASE_URI": "sqlite://",
                "LOG_FORMAT": "xml",
                "JOBS_URL": "memory://",
            }
        )


def test_a_request_line_of_a_signed_in_api_client_names_its_user(app, make_user, capsys):
    from services.people import tokens as api_tokens

    user = make_user("mentor")
    _token, secret = api_tokens.create_token(user, "logs")
    db.session.commit()
    capsys.readouterr()
    browser(app).get(
        "/api/v1/sessions?start=2027-03-01&end=2027-03-08",
        headers={"Authorization": f"Bearer {secret}"},
        extra_environ=CLIENT,
    )
    [line] = request_lines(log_lines(capsys))
    assert line["user_id"] == user.id and line["path"] == "/api/v1/sessions"
