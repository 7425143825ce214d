"""The API holds JSON bodies to MAX_REQUEST_KB (413 problem details, the body unread), while
its upload endpoint takes a file up to MAX_UPLOAD_MB, streamed once to its staging file."""

from __future__ import annotations

import os

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from models import Attachment, db
from services.tracking import attachments as service
from tests import attachment_samples as samples
from tests.api.conftest import PROBLEM, assert_problem

pytestmark = pytest.mark.usefixtures("upload_folder")

MB = 1024 * 1024


def test_a_json_body_over_the_limit_is_a_413_problem_unread(app, api_as):
    coordinator = api_as("coordinator")
    payload = samples.PatternStream(2 * MB, b'{"name": "')
    environ = EnvironBuilder(
        path="/api/v1/sessions", method="POST", headers=coordinator.headers()
    ).get_environ()
    environ.update(
        {
            "wsgi.input": payload,
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(2 * MB),
        }
    )
    app_iter, status, headers = run_wsgi_app(app.wsgi_app, environ, buffered=True)
    assert status.startswith("413")
    assert dict(headers)["Content-Type"] == PROBLEM
    assert b"more than this endpoint takes (at most 1 MB)" in b"".join(app_iter)
    assert payload.position == 0


def test_a_json_body_under_the_limit_is_read_as_before(api_as):
    coordinator = api_as("coordinator")
    body = b'{"colour": "' + b"x" * (900 * 1024) + b'"}'
    response = coordinator.raw("POST", "/api/v1/sessions", body, status=422)
    assert_problem(response, 422)


def test_the_upload_endpoint_takes_a_file_over_the_json_limit_streamed_once(
    app, api_as, session_and_mentor, upload_folder, monkeypatch
):
    occurrence, mentor = session_and_mentor
    staged = []

    class WatchedStagingFile(service.StagingFile):
        def __init__(self, folder):
            super().__init__(folder)
            staged.append(os.fstat(self.fileno()).st_ino)

    monkeypatch.setattr(service, "StagingFile", WatchedStagingFile)
    client = api_as(mentor)
    data = samples.pdf().ljust(3 * MB, b"\0")
    response = client.web.post(
        f"/api/v1/sessions/{occurrence.id}/attachments",
        {"description": ""},
        headers=client.headers(),
        upload_files=[("file", "slides.pdf", data)],
        status=201,
    )
    attachment = db.session.get(Attachment, response.json["id"])
    assert attachment.size_bytes == 3 * MB
    assert staged == [os.stat(upload_folder / attachment.stored_name).st_ino]
