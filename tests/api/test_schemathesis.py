"""Schemathesis against /api/v1/openapi.json, as a coordinator over a small school: every
operation gets its coverage phase (every boundary value, wrong type, missing, unexpected or
repeated parameter, malformed body and content type, unexpected method the document implies:
what `schemathesis run` sends first) and a bounded number of generated requests (fuzzing,
deterministic). No response may be a 5xx, and every response must match the document
(status, content type, headers, body).

Runs in the default suite (`make test`, `.ci/run`); `-m schemathesis` runs it alone.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.drivers import CoverageGenerator
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.generation.modes import GenerationMode
from schemathesis.generation.overrides import with_config_headers
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app import create_app
from models import Attachment, Occurrence, db
from services.people.tokens import create_token
from services.timetable.generation import generate_occurrences
from tests import attachment_samples as samples
from tests.api.conftest import MONDAY
from tests.conftest import FreshGlobals

PARIS = ZoneInfo("Europe/Paris")
MAX_EXAMPLES = 25
# No 5xx, and responses as documented. Not "positive data acceptance": the document cannot
# say that a cursor must be one the API gave out or that a date must be in the future, so
# the API's 422 for such schema-valid bodies is right.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

pytestmark = pytest.mark.schemathesis


class ClosingResponses:
    """Closes every response once read, as a WSGI server does: schemathesis' WSGI transport
    reads the body but never closes it, so an attachment sent (an open file) would be left
    for the garbage collector, which pytest reports as an error of the test."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        body = self.app(environ, start_response)
        try:
            return [b"".join(body)]
        finally:
            if hasattr(body, "close"):
                body.close()


@pytest.fixture
def api_schema(app, make_user, make_group, make_series, tmp_path, monkeypatch):
    """A school (two groups with weekly series and sessions, a note, a file, a request) and the
    app's document, loaded from the app itself."""
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(tmp_path / "uploads"))
    coordinator = make_user("coordinator")
    mentor, student = make_user("mentor"), make_user("student")
    group = make_group("Maths", mentor=mentor, subject="Maths", students=[student])
    make_series(group, weekdays=(0, 2), first_date=MONDAY)
    make_series(make_group("Art"), weekdays=(1,), first_date=MONDAY)
    generate_occurrences(MONDAY, MONDAY + timedelta(weeks=2), tz=PARIS)
    occurrence = db.session.scalars(db.select(Occurrence).order_by(Occurrence.id)).first()
    upload = tmp_path / "uploads"
    upload.mkdir()
    (upload / ("a" * 32)).write_bytes(samples.pdf())
    db.session.add(
        Attachment(
            occurrence_id=occurrence.id,
            uploader_id=mentor.id,
            original_name="notes.pdf",
            stored_name="a" * 32,
            content_type="application/pdf",
            size_bytes=len(samples.pdf()),
            sha256="0" * 64,
        )
    )
    _row, token = create_token(coordinator, "schemathesis")
    db.session.commit()
    schema = schemathesis.openapi.from_wsgi(
        "/api/v1/openapi.json", ClosingResponses(FreshGlobals(app))
    )
    schema.config.headers = {"Authorization": f"Bearer {token}"}
    schema.config.phases.coverage.generate_duplicate_query_parameters = True
    return schema


def _operations() -> list[tuple[str, str]]:
    """Every (method, path) of the document, read from an app made for this (the pytest
    plugin's lazy loader does not work with pytest 9, so operations are parametrized here)."""
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    paths = app.test_client().get("/api/v1/openapi.json").get_json()["paths"]
    return [
        (method.upper(), path)
        for path, item in sorted(paths.items())
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    ]


@pytest.mark.parametrize(
    ("method", "path"), [pytest.param(m, p, id=f"{m} {p}") for m, p in _operations()]
)
def test_the_api_matches_its_document(api_schema, method, path):
    operation = api_schema[path][method]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case):
        case.call_and_validate(checks=CHECKS)

    check()


def coverage_cases(schema, operation):
    """The requests of schemathesis' coverage phase for one operation, valid and invalid, with
    the configured headers, as `schemathesis run` and `schema.parametrize()` build them (the
    same drivers: the operations here are parametrized by hand, see `_operations`)."""
    return CoverageGenerator(
        operation=operation,
        generation_modes=list(GenerationMode),
        generation_config=schema.config.generation_for(operation=operation, phase="coverage"),
        auth_storage=None,
        override=with_config_headers(schema.config, operation=operation),
        feedback=FeedbackSources(),
    )


@pytest.mark.parametrize(
    ("method", "path"), [pytest.param(m, p, id=f"{m} {p}") for m, p in _operations()]
)
def test_the_coverage_phase_finds_nothing(api_schema, method, path):
    operation = api_schema[path][method]
    failures, count = [], 0
    for case in coverage_cases(api_schema, operation):
        count += 1
        try:
            case.call_and_validate(checks=CHECKS)
        except Exception as failure:  # every failing case is reported, not only the first
            description = case._meta.phase.data.description if case._meta else ""
            failures.append(f"{description}: {case.as_curl_command()}\n{failure}")
    assert count, "the coverage phase made no request"
    assert not failures, "\n\n".join(failures)
