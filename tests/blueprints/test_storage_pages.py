"""Attachments through the pages with either storage: a 20 MB file up in parts and back
byte-identical, a download streamed from the bucket in chunks, ranges, the same headers from
both storages, a missing file, a bucket out of reach, presigned downloads, and a bucket that
does not exist stopping the app at start-up."""

from __future__ import annotations

import hashlib
import random
import tracemalloc
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine
from werkzeug.test import EnvironBuilder, run_wsgi_app

from app import ConfigurationError, create_app
from blueprints.attachments.routes import MISSING_FILE
from models import Attachment, db
from services.storage import storage_for
from services.tracking.attachments import CHUNK_SIZE
from tests import attachment_samples as samples
from tests.conftest import csrf_token_of
from tests.object_storage import ACCESS_KEY, SECRET_KEY, files_in, use_s3_server

MB = 1024 * 1024
# Headers whose values are times (of the request, or of the file's last change).
# What differs between two answers whatever the storage: the times, and each request's id.
TIMES = {"Date", "Last-Modified", "Expires", "X-Request-ID"}


@pytest.fixture
def lesson(make_user, make_group, make_session):
    student = make_user("student")
    group = make_group("Maths", students=[student])
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    return {
        "session": make_session(group, start),
        "next_session": make_session(group, start + timedelta(days=7)),
        "mentor": group.mentor,
        "student": student,
        "stranger": make_user("student"),
    }


def big_pdf(size: int) -> bytes:
    head = samples.pdf()
    return head + random.Random(size).randbytes(size - len(head))


def upload(web, lesson, data: bytes, name="slides.pdf", **kwargs):
    """The signed-in mentor uploads through the page (htmx); returns the response."""
    occurrence = lesson["session"]
    token = csrf_token_of(web.get(f"/sessions/{occurrence.id}"))
    return web.post(
        f"/attachments/sessions/{occurrence.id}",
        {"description": ""},
        upload_files=[("file", name, data)],
        headers={"HX-Request": "true", "HX-Request-Type": "partial", "X-CSRFToken": token},
        **kwargs,
    )


def latest_attachment() -> Attachment:
    return db.session.scalars(sa.select(Attachment).order_by(Attachment.id.desc())).first()


def record(storage, operation: str, key: str | None = None) -> list:
    """The calls to the bucket of `operation` from now on (their `key` parameter, or True)."""
    calls = []
    storage.client.meta.events.register(
        f"before-parameter-build.s3.{operation}",
        lambda params, **kwargs: calls.append(params.get(key) if key else True),
    )
    return calls


# --- Up and down, streamed ----------------------------------------------------------------------


def test_a_20_mb_file_goes_up_in_parts_and_comes_back_byte_identical(
    app, web, login_as, lesson, s3_storage, monkeypatch
):
    monkeypatch.setitem(app.config, "S3_PART_MB", 5)
    storage = storage_for(app)
    parts = record(storage, "UploadPart", "PartNumber")
    data = big_pdf(20 * MB)
    login_as(lesson["mentor"])
    upload(web, lesson, data)
    attachment = latest_attachment()
    assert sorted(parts) == [1, 2, 3, 4], "a multipart upload of four 5 MB parts"
    assert files_in(storage) == [attachment.stored_name], "no staging file left on this host"
    assert storage.open(attachment.stored_name).size_bytes == 20 * MB
    web.reset()
    login_as(lesson["student"])
    download = web.get(f"/attachments/{attachment.id}/download")
    assert download.body == data
    assert download.headers["Content-Length"] == str(20 * MB)


def _environ(web, path: str, headers=None) -> dict:
    cookie = "; ".join(f"{k}={v}" for k, v in web.cookies.items())
    return EnvironBuilder(path=path, headers={"Cookie": cookie, **(headers or {})}).get_environ()


def test_a_download_is_streamed_from_the_bucket_in_chunks(app, web, login_as, lesson, s3_storage):
    data = big_pdf(20 * MB)
    login_as(lesson["mentor"])
    upload(web, lesson, data)
    attachment = latest_attachment()
    gets = record(s3_storage, "GetObject", "Range")
    environ = _environ(web, f"/attachments/{attachment.id}/download")
    tracemalloc.start()
    try:
        app_iter, status, _headers = run_wsgi_app(app.wsgi_app, environ)
        sizes, received = [], 0
        digest = hashlib.sha256()
        for chunk in app_iter:
            sizes.append(len(chunk))
            received += len(chunk)
            digest.update(chunk)
        app_iter.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == "200 OK"
    assert received == 20 * MB and digest.hexdigest() == attachment.sha256
    assert max(sizes) <= CHUNK_SIZE and len(sizes) >= 20 * MB // CHUNK_SIZE
    assert peak < 2 * MB, f"peak {peak / MB:.1f} MB for a 20 MB download"
    assert gets == [f"bytes=0-{20 * MB - 1}"], "one GET, read as it is sent"


def test_a_range_is_answered_from_either_storage(web, login_as, lesson, storage):
    data = big_pdf(MB)
    login_as(lesson["mentor"])
    upload(web, lesson, data)
    attachment = latest_attachment()
    gets = record(storage, "GetObject", "Range") if hasattr(storage, "client") else None
    url = f"/attachments/{attachment.id}/download"
    part = web.get(url, headers={"Range": "bytes=1000-1999"}, status=206)
    assert part.body == data[1000:2000]
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{MB}"
    assert part.headers["Accept-Ranges"] == "bytes"
    if gets is not None:
        assert gets == ["bytes=1000-1999"], "the bucket was asked for that range alone"
    tail = web.get(url, headers={"Range": "bytes=-10"}, status=206)
    assert tail.body == data[-10:]
    web.get(url, headers={"Range": f"bytes={MB}-"}, status=416)
    etag = web.get(url).headers["ETag"]
    assert web.get(url, headers={"If-None-Match": etag}, status=304).body == b""


def test_both_storages_send_a_download_with_the_same_headers(
    app, web, login_as, lesson, upload_folder, s3_server, monkeypatch
):
    data = samples.png()
    login_as(lesson["mentor"])
    answers = []
    for backend, session in (("local", lesson["session"]), ("s3", lesson["next_session"])):
        if backend == "s3":
            use_s3_server(monkeypatch, app, s3_server)
        upload(web, {"session": session}, data, name="Résumé été.png")
        answers.append(web.get(f"/attachments/{latest_attachment().id}/download"))
    assert answers[0].body == answers[1].body == data
    headers = [dict(a.headers) for a in answers]
    assert set(headers[0]) == set(headers[1])
    assert {k: v for k, v in headers[0].items() if k not in TIMES} == {
        k: v for k, v in headers[1].items() if k not in TIMES
    }
    assert headers[1]["Content-Disposition"].startswith("attachment; filename=")
    assert headers[1]["X-Content-Type-Options"] == "nosniff"


# --- When it goes wrong -------------------------------------------------------------------------


def test_a_missing_file_is_a_clear_404_page_not_a_server_error(web, login_as, lesson, storage):
    login_as(lesson["mentor"])
    upload(web, lesson, samples.pdf())
    attachment = latest_attachment()
    storage.remove(attachment.stored_name)  # gone behind the app's back
    web.reset()
    login_as(lesson["student"])
    page = web.get(f"/attachments/{attachment.id}/download", status=404)
    assert "<html" in page.text and MISSING_FILE in " ".join(page.html.get_text().split())
    assert "Traceback" not in page.text


def test_a_bucket_out_of_reach_is_a_503_page_and_keeps_nothing(
    app, web, login_as, lesson, s3_storage, monkeypatch
):
    login_as(lesson["mentor"])
    upload(web, lesson, samples.pdf())
    kept = latest_attachment()
    monkeypatch.setitem(app.config, "S3_ENDPOINT_URL", "http://127.0.0.1:9")  # closed
    page = upload(web, lesson, samples.png(), name="b.png", status=503)
    assert "The file storage cannot be reached just now, so nothing was changed." in page.text
    assert page.headers["Retry-After"] == "30"
    assert db.session.scalars(sa.select(Attachment.id)).all() == [kept.id]
    assert list(s3_storage.staging_folder.iterdir()) == [], "no staging file left"
    download = web.get(f"/attachments/{kept.id}/download", status=503)
    assert "cannot be reached" in download.text


# --- Presigned downloads (S3_PRESIGNED_DOWNLOADS) -----------------------------------------------


def test_presigned_downloads_send_those_allowed_to_a_short_lived_link(
    app, web, login_as, lesson, s3_storage, monkeypatch
):
    monkeypatch.setitem(app.config, "S3_PRESIGNED_DOWNLOADS", True)
    data = samples.pdf()
    login_as(lesson["mentor"])
    upload(web, lesson, data, name="notes.pdf")
    attachment = latest_attachment()
    web.reset()
    login_as(lesson["student"])
    response = web.get(f"/attachments/{attachment.id}/download", status=303)
    assert "no-store" in response.headers["Cache-Control"]
    link = response.headers["Location"]
    assert link.startswith(s3_storage.client.meta.endpoint_url)
    assert "X-Amz-Expires=60" in link
    with urllib.request.urlopen(link) as fetched:  # noqa: S310 (the test's own server)
        assert fetched.read() == data
        assert fetched.headers["Content-Disposition"] == "attachment; filename=notes.pdf"
        assert fetched.headers["Content-Type"] == "application/pdf"
    web.reset()
    login_as(lesson["stranger"])
    refused = web.get(f"/attachments/{attachment.id}/download", status=404)
    assert "Location" not in refused.headers, "checked before any link is made"


# --- Start-up -----------------------------------------------------------------------------------


def _start(tmp_path, **settings):
    return create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'start.db'}",
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
            "STORAGE_CHECK_AT_START": True,
            **settings,
        }
    )


def test_a_bucket_that_does_not_exist_stops_the_app_from_starting(tmp_path, s3_server, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    settings = s3_server.settings("no-such-bucket")
    with pytest.raises(ConfigurationError) as refused:
        _start(tmp_path, **settings)
    assert str(refused.value) == (
        f"The bucket 'no-such-bucket' does not exist at {s3_server.endpoint_url}: create it, or "
        "set S3_BUCKET to an existing one."
    )
    bucket = s3_server.create_bucket()
    assert _start(tmp_path, **s3_server.settings(bucket))


def test_a_storage_out_of_reach_at_start_is_logged_not_fatal(
    tmp_path, s3_server, caplog, monkeypatch
):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    settings = {**s3_server.settings("any-bucket"), "S3_ENDPOINT_URL": "http://127.0.0.1:9"}
    assert _start(tmp_path, **settings)
    assert "cannot be reached to open the bucket" in caplog.text


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"STORAGE_BACKEND": "disk"}, "STORAGE_BACKEND='disk' is not a storage"),
        ({"STORAGE_BACKEND": "s3"}, "STORAGE_BACKEND=s3 needs S3_BUCKET"),
    ],
)
def test_bad_storage_settings_stop_the_app_from_starting(tmp_path, settings, message):
    with pytest.raises(ConfigurationError, match=message):
        _start(tmp_path, STORAGE_CHECK_AT_START=False, **settings)


# --- flask sweep-uploads with a bucket ----------------------------------------------------------


def test_the_sweep_command_removes_unreferenced_objects_from_the_bucket(
    app, web, login_as, lesson, s3_storage
):
    login_as(lesson["mentor"])
    upload(web, lesson, samples.pdf())
    kept = latest_attachment().stored_name
    orphan = "f" * 32
    s3_storage.client.put_object(
        Bucket=s3_storage.bucket, Key=s3_storage.prefix + orphan, Body=b"x" * 2048
    )
    # Times from the bucket's clock (the object's own stamp), whatever the test's clock says.
    written = s3_storage.client.head_object(
        Bucket=s3_storage.bucket, Key=s3_storage.prefix + orphan
    )["LastModified"]
    runner = app.test_cli_runner()
    with time_machine.travel(written + timedelta(minutes=30), tick=True):
        young = runner.invoke(args=["sweep-uploads"])
    assert young.exit_code == 0, young.output
    assert young.output == (
        f"Nothing to remove in {s3_storage.staging_folder} or {s3_storage.description}.\n"
    )
    with time_machine.travel(written + timedelta(hours=2), tick=True):
        result = runner.invoke(args=["sweep-uploads"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Removed {orphan}: stored file no attachment refers to, ")
    assert result.output.endswith("Removed 1 file (2.0 KB).\n")
    assert files_in(s3_storage) == [kept]
