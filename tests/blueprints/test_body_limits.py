"""Request bodies are held to what the address takes: a form (anonymous or not) sending more
than MAX_REQUEST_KB is refused with 413 before a byte of it is read or parsed, while the upload
address still takes a signed-in user's file up to MAX_UPLOAD_MB."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from werkzeug.formparser import FormDataParser
from werkzeug.test import EnvironBuilder, run_wsgi_app

from models import Attachment, db
from tests import attachment_samples as samples
from tests.conftest import csrf_token_of

pytestmark = pytest.mark.usefixtures("upload_folder")

MB = 1024 * 1024


@pytest.fixture
def parsed_forms(monkeypatch):
    """The bodies Werkzeug's form parser was given during the test."""
    calls = []
    parse = FormDataParser.parse

    def spy(self, stream, mimetype, content_length, options=None):
        calls.append((mimetype, content_length))
        return parse(self, stream, mimetype, content_length, options)

    monkeypatch.setattr(FormDataParser, "parse", spy)
    return calls


def post_stream(app, web, path, body, *, content_type, content_length, headers=None):
    """POST `body` (a stream, read only as the app reads it) with the browser's cookies;
    `content_length=None` sends it chunked (no length announced)."""
    cookie = "; ".join(f"{k}={v}" for k, v in web.cookies.items())
    environ = EnvironBuilder(
        path=path, method="POST", headers={"Cookie": cookie, **(headers or {})}
    ).get_environ()
    environ["wsgi.input"] = body
    environ["CONTENT_TYPE"] = content_type
    if content_length is None:
        environ.pop("CONTENT_LENGTH", None)
        environ["wsgi.input_terminated"] = True
    else:
        environ["CONTENT_LENGTH"] = str(content_length)
    app_iter, status, _headers = run_wsgi_app(app.wsgi_app, environ, buffered=True)
    return int(status.split()[0]), b"".join(app_iter).decode()


FORM = "application/x-www-form-urlencoded"


def test_an_anonymous_5_mb_post_to_the_login_form_is_413_unread(app, web, parsed_forms):
    payload = samples.PatternStream(5 * MB, b"email=a%40b.test&password=")
    status, text = post_stream(
        app, web, "/auth/login", payload, content_type=FORM, content_length=5 * MB
    )
    assert status == 413
    assert "more than this page takes (at most 1 MB)" in text
    assert "nothing was saved" in text
    assert "security token" not in text, "refused before the CSRF check parsed it"
    assert payload.position == 0, "not a byte read"
    assert parsed_forms == []


def test_a_chunked_body_is_cut_off_at_the_limit(app, web):
    payload = samples.PatternStream(5 * MB, samples.pdf())
    body = samples.multipart_stream({"email": "a@b.test"}, "file", "big.pdf", payload, "XB")
    status, text = post_stream(
        app,
        web,
        "/auth/login",
        body,
        content_type="multipart/form-data; boundary=XB",
        content_length=None,
    )
    assert status == 413
    assert "more than this page takes (at most 1 MB)" in text
    assert payload.position <= MB, "read only up to the limit"


def test_a_signed_in_users_oversized_form_is_413_and_changes_nothing(app, web, login_as):
    login_as("mentor")
    token = csrf_token_of(web.get("/notifications/"))
    response = web.post(
        "/auth/logout", {"csrf_token": token, "padding": "x" * (2 * MB)}, status=413
    )
    assert "more than this page takes (at most 1 MB)" in response.text
    assert "<html" in response.text
    web.get("/notifications/", status=200)  # still signed in: the logout was never read


def test_an_oversized_htmx_post_gets_the_error_as_a_fragment(app, web, login_as):
    login_as("mentor")
    token = csrf_token_of(web.get("/notifications/"))
    response = web.post(
        "/auth/logout",
        {"padding": "x" * (2 * MB)},
        headers={"HX-Request": "true", "HX-Request-Type": "partial", "X-CSRFToken": token},
        status=413,
    )
    assert "more than this page takes (at most 1 MB)" in response.text
    assert "<html" not in response.text


def test_max_request_kb_sets_the_limit(app, web, monkeypatch, parsed_forms):
    monkeypatch.setitem(app.config, "MAX_REQUEST_KB", 64)
    body = b"email=a%40b.test&password=" + b"x" * (100 * 1024)
    status, text = post_stream(
        app,
        web,
        "/auth/login",
        samples.PatternStream(len(body), body),
        content_type=FORM,
        content_length=len(body),
    )
    assert status == 413
    assert "(at most 64 KB)" in text
    assert parsed_forms == []


@pytest.mark.parametrize("htmx", [False, True], ids=["form", "upload-script"])
def test_a_signed_out_upload_is_held_to_the_small_limit_and_sent_to_log_in(
    app, web, session_and_mentor, upload_folder, htmx
):
    occurrence, _mentor = session_and_mentor
    payload = samples.PatternStream(5 * MB, samples.pdf())
    body = samples.multipart_stream({}, "file", "big.pdf", payload, "XBOUNDARY")
    status, _text = post_stream(
        app,
        web,
        f"/attachments/sessions/{occurrence.id}",
        body,
        content_type="multipart/form-data; boundary=XBOUNDARY",
        content_length=5 * MB + 200,
        headers={"HX-Request": "true"} if htmx else None,
    )
    # Not "larger than 100 MB": what a smaller file from a logged-out tab gets.
    assert status == (401 if htmx else 302)
    assert payload.position == 0
    assert not upload_folder.exists() or list(upload_folder.iterdir()) == []


def test_the_upload_address_still_takes_a_file_up_to_max_upload_mb(
    app, web, login_as, session_and_mentor, upload_folder, monkeypatch
):
    monkeypatch.setitem(app.config, "MAX_UPLOAD_MB", 3)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 3 * MB + 64 * 1024)
    occurrence, mentor = session_and_mentor
    login_as(mentor)
    token = csrf_token_of(web.get(f"/sessions/{occurrence.id}"))
    exact = samples.pdf().ljust(3 * MB, b"\0")

    def upload(data: bytes, status: int):
        return web.post(
            f"/attachments/sessions/{occurrence.id}",
            {"description": ""},
            upload_files=[("file", "big.pdf", data)],
            headers={"HX-Request": "true", "HX-Request-Type": "partial", "X-CSRFToken": token},
            status=status,
        )

    upload(exact, 200)
    assert db.session.scalar(sa.select(Attachment.size_bytes)) == 3 * MB
    assert "The file is larger than 3 MB." in upload(exact + b"\0", 413).text
