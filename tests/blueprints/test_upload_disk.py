"""An upload needs its own size of free disk, once: the request streams the file part into its
staging file in the upload folder, which is checked in place and renamed into place (no spool
plus copy)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from models import Attachment, db
from services.tracking import attachments as service
from tests import attachment_samples as samples
from tests.conftest import csrf_token_of

MB = 1024 * 1024
PROC_IO = Path("/proc/self/io")


@pytest.fixture
def mentor_on_session(web, login_as, session_and_mentor):
    """The mentor of a session, logged in; returns the upload address and a CSRF token."""
    occurrence, mentor = session_and_mentor
    login_as(mentor)
    token = csrf_token_of(web.get(f"/sessions/{occurrence.id}"))
    return f"/attachments/sessions/{occurrence.id}", token


def upload(web, address, token, data: bytes):
    return web.post(
        address,
        {"description": ""},
        upload_files=[("file", "slides.pdf", data)],
        headers={"HX-Request": "true", "HX-Request-Type": "partial", "X-CSRFToken": token},
        status=200,
    )


def bytes_written_by_this_process() -> int:
    for line in PROC_IO.read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise AssertionError("no wchar in /proc/self/io")


@pytest.mark.skipif(not PROC_IO.exists(), reason="needs Linux's /proc/self/io")
def test_an_upload_is_written_to_disk_once(app, web, mentor_on_session, upload_folder):
    address, token = mentor_on_session
    data = samples.pdf().ljust(8 * MB, b"\0")
    db.session.commit()
    if db.engine.dialect.name == "sqlite":
        # An empty write-ahead log: no checkpoint of earlier tests' pages lands in this request.
        raw = db.engine.raw_connection()
        try:
            busy, _log, _done = raw.driver_connection.execute(
                "PRAGMA wal_checkpoint(TRUNCATE)"
            ).fetchone()
            assert busy == 0
        finally:
            raw.close()
    before = bytes_written_by_this_process()
    upload(web, address, token, data)
    written = bytes_written_by_this_process() - before
    stored = db.session.scalar(sa.select(Attachment.stored_name))
    assert (upload_folder / stored).read_bytes() == data
    # The file once, plus the database's few pages (a spool and a copy would be twice).
    assert len(data) <= written < 1.25 * len(data), f"{written / MB:.1f} MB written"


def test_the_stored_file_is_the_staging_file_the_request_wrote(
    web, mentor_on_session, upload_folder, monkeypatch
):
    address, token = mentor_on_session
    staged = []

    class WatchedStagingFile(service.StagingFile):
        def __init__(self, folder):
            super().__init__(folder)
            staged.append((self.path, os.fstat(self.fileno()).st_ino))

    monkeypatch.setattr(service, "StagingFile", WatchedStagingFile)
    data = samples.pdf().ljust(2 * MB, b"\0")
    upload(web, address, token, data)
    assert len(staged) == 1, "one staging file, written by the request"
    staging_path, inode = staged[0]
    assert staging_path.parent == upload_folder
    stored = upload_folder / db.session.scalar(sa.select(Attachment.stored_name))
    assert os.stat(stored).st_ino == inode, "renamed into place, not copied"
    assert sorted(p.name for p in upload_folder.iterdir()) == [stored.name]


def test_a_refused_upload_leaves_no_staging_file(web, mentor_on_session, upload_folder):
    address, token = mentor_on_session
    response = web.post(
        address,
        {"description": ""},
        upload_files=[("file", "notes.pdf", b"MZ" + b"\0" * (2 * MB))],
        headers={"HX-Request": "true", "HX-Request-Type": "partial", "X-CSRFToken": token},
        status=422,
    )
    assert "not a type you can attach" in response.text
    assert list(upload_folder.iterdir()) == []
