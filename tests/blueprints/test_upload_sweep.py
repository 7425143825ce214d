"""Uploads killed at either crash point leave only what the sweep recognises and removes: a
process killed (SIGKILL) while receiving an upload, and one killed between renaming the file
into place and committing its row. The sweep runs when a server starts the app and by
`flask sweep-uploads`, printing what it removed; it keeps young files and files with a row."""

from __future__ import annotations

import io
import logging
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
import sqlalchemy as sa

from app import _started_by_a_server, create_app
from models import Attachment, db
from services.storage.local import LocalStorage
from services.tracking.attachments import add_attachment, receive_upload
from tests import attachment_samples as samples
from tests.conftest import TEST_PASSWORD

MB = 1024 * 1024
STAGING_NAME = re.compile(r"\.upload-[0-9a-f]{32}\.part")
STORED_NAME = re.compile(r"[0-9a-f]{32}")

# A separate process that logs in as the mentor and uploads through the real page, then is
# killed: "receiving" reads the body from its stdin (the test stops sending and kills it
# mid-upload); "committing" kills itself as the upload's transaction is about to commit.
UPLOADER = r"""
import io, os, signal, sys
import sqlalchemy as sa
from app import create_app

url, folder, email, password, occurrence_id, mode = sys.argv[1:]
app = create_app({
    "TESTING": True, "SECRET_KEY": "test-secret", "SQLALCHEMY_DATABASE_URI": url,
    "UPLOAD_FOLDER": folder, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False,
    "TIMEZONE": "Europe/Paris",
})
client = app.test_client()
response = client.post("/auth/login", data={"email": email, "password": password})
assert response.status_code == 302, response.status
target = f"/attachments/sessions/{occurrence_id}"
if mode == "receiving":
    client.post(
        target,
        environ_overrides={
            "wsgi.input": sys.stdin.buffer,
            "CONTENT_TYPE": "multipart/form-data; boundary=XBOUNDARY",
            "CONTENT_LENGTH": os.environ["BODY_LENGTH"],
        },
    )
else:
    sa.event.listen(
        sa.orm.Session, "before_commit", lambda session: os.kill(os.getpid(), signal.SIGKILL)
    )
    data = b"%PDF-1.4\n" + b"\0" * 200_000
    client.post(target, data={"file": (io.BytesIO(data), "slides.pdf"), "description": ""})
print("not killed")
"""


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def age(path: Path, ago: timedelta) -> None:
    """Stamp `path` as last written `ago` before now. Files the test means as just written get
    it too: under a shifted clock (CI's midnight pass) the kernel's own stamp is not "now"."""
    stamp = (datetime.now(UTC) - ago).timestamp()
    os.utime(path, (stamp, stamp))


def start_uploader(app, folder: Path, occurrence, mentor, mode: str, body_length: int = 0):
    args = [mentor.email, TEST_PASSWORD, str(occurrence.id), mode]
    # No transaction of this test (on SQLite, a write lock) in the other process's way.
    db.session.commit()
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            UPLOADER,
            app.config["SQLALCHEMY_DATABASE_URI"],
            str(folder),
            *args,
        ],
        cwd=app.root_path,
        env={**os.environ, "PYTHONPATH": app.root_path, "BODY_LENGTH": str(body_length)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for(condition, what: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)
    return found


def stored_upload(folder: Path, occurrence, mentor) -> str:
    """A committed attachment, its file last written a month ago: the sweep keeps it."""
    received = receive_upload(io.BytesIO(samples.pdf()), upload_folder=folder, max_bytes=MB)
    attachment = add_attachment(
        occurrence=occurrence,
        uploader=mentor,
        received=received,
        original_name="kept.pdf",
        description="",
        storage=LocalStorage(folder),
    )
    db.session.commit()
    age(folder / attachment.stored_name, timedelta(days=30))
    return attachment.stored_name


@pytest.fixture
def sweep(app):
    runner = app.test_cli_runner()

    def invoke(*args) -> str:
        result = runner.invoke(args=["sweep-uploads", *args])
        assert result.exit_code == 0, result.output
        return result.output

    return invoke


# --- Both crash points, with real kills ---------------------------------------------------------


def test_a_process_killed_mid_upload_leaves_a_staging_file_the_sweep_removes(
    app, session_and_mentor, upload_folder, sweep
):
    occurrence, mentor = session_and_mentor
    kept = stored_upload(upload_folder, occurrence, mentor)
    head = (
        b"--XBOUNDARY\r\n"
        b'Content-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
        b"Content-Type: application/pdf\r\n\r\n"
    ) + samples.pdf()
    uploader = start_uploader(app, upload_folder, occurrence, mentor, "receiving", 50 * MB)
    try:
        try:
            uploader.stdin.write(head + b"\0" * (2 * MB))
            uploader.stdin.flush()
        except BrokenPipeError:
            pytest.fail(f"the uploader stopped: {uploader.communicate()}")

        def staging_file_written_to():
            return any(
                STAGING_NAME.fullmatch(p.name) and p.stat().st_size > MB
                for p in upload_folder.iterdir()
            )

        wait_for(staging_file_written_to, "the upload to reach its staging file")
    finally:
        uploader.kill()
        uploader.communicate()
    assert uploader.returncode == -signal.SIGKILL
    leftovers = [name for name in files_in(upload_folder) if name != kept]
    assert len(leftovers) == 1 and STAGING_NAME.fullmatch(leftovers[0])

    age(upload_folder / leftovers[0], timedelta(0))
    assert sweep() == f"Nothing to remove in {upload_folder}.\n", "an hour must pass first"
    age(upload_folder / leftovers[0], timedelta(minutes=61))
    output = sweep()
    assert re.fullmatch(
        rf"Removed {re.escape(leftovers[0])}: unfinished upload, [\d.]+ MB, last written "
        r"\d{4}-\d\d-\d\d \d\d:\d\d UTC\.\nRemoved 1 file \([\d.]+ MB\)\.\n",
        output,
    ), output
    assert files_in(upload_folder) == [kept]


def test_a_process_killed_before_the_commit_leaves_a_stored_file_the_sweep_removes(
    app, session_and_mentor, upload_folder, sweep
):
    occurrence, mentor = session_and_mentor
    kept = stored_upload(upload_folder, occurrence, mentor)
    uploader = start_uploader(app, upload_folder, occurrence, mentor, "committing")
    # It ends by itself (killed, or "not killed"). No timeout: its polling sleeps fail under
    # CI's shifted clock (libfaketime).
    out, err = uploader.communicate()
    assert uploader.returncode == -signal.SIGKILL, (out, err)
    db.session.rollback()
    assert db.session.scalars(sa.select(Attachment.stored_name)).all() == [kept]
    leftovers = [name for name in files_in(upload_folder) if name != kept]
    assert len(leftovers) == 1 and STORED_NAME.fullmatch(leftovers[0]), "renamed into place"
    orphan = upload_folder / leftovers[0]

    age(orphan, timedelta(0))
    assert "Nothing to remove" in sweep()
    age(orphan, timedelta(hours=2))
    preview = sweep("--dry-run")
    assert f"Would remove {orphan.name}: stored file no attachment refers to, " in preview
    assert preview.endswith("Would remove 1 file (195.3 KB); nothing was removed (--dry-run).\n")
    assert orphan.exists()
    assert sweep().endswith("Removed 1 file (195.3 KB).\n")
    assert files_in(upload_folder) == [kept]


# --- At start-up --------------------------------------------------------------------------------


def test_starting_the_app_sweeps_the_upload_folder_and_logs_what_it_removed(
    app, session_and_mentor, upload_folder, caplog
):
    occurrence, mentor = session_and_mentor
    kept = stored_upload(upload_folder, occurrence, mentor)
    stale_staging = upload_folder / f".upload-{'a' * 32}.part"
    young_staging = upload_folder / f".upload-{'b' * 32}.part"
    orphan = upload_folder / ("c" * 32)
    for path in (stale_staging, young_staging, orphan):
        path.write_bytes(b"x" * 100)
    age(stale_staging, timedelta(hours=5))
    age(young_staging, timedelta(minutes=10))
    age(orphan, timedelta(hours=5))
    db.session.commit()

    with caplog.at_level(logging.WARNING):
        create_app(
            {
                "TESTING": True,
                "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                "UPLOAD_FOLDER": str(upload_folder),
                "SWEEP_UPLOADS_AT_START": True,
            }
        )
    assert files_in(upload_folder) == sorted([kept, young_staging.name])
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"removed {stale_staging.name}: unfinished upload, 100 bytes" in logged
    assert f"removed {orphan.name}: stored file no attachment refers to, 100 bytes" in logged


def test_a_folder_and_database_that_do_not_match_are_left_alone(app, upload_folder, sweep, caplog):
    upload_folder.mkdir()
    unmatched = upload_folder / ("c" * 32)
    unmatched.write_bytes(b"x")
    age(unmatched, timedelta(days=40))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["sweep-uploads"])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: None of the 1 stored files in {upload_folder} has an attachment in this "
        "database, so none was removed: check that DATABASE_URL and UPLOAD_FOLDER belong "
        "together. If they do, --even-if-none-match removes them.\n"
    )
    assert unmatched.exists()
    with caplog.at_level(logging.WARNING):
        create_app(
            {
                "TESTING": True,
                "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                "UPLOAD_FOLDER": str(upload_folder),
                "SWEEP_UPLOADS_AT_START": True,
            }
        )
    assert unmatched.exists()
    assert "belong together" in caplog.text
    assert sweep("--even-if-none-match").startswith(f"Removed {unmatched.name}: stored file")
    assert not unmatched.exists()


def test_a_database_it_cannot_read_does_not_stop_the_app_from_starting(tmp_path, caplog):
    folder = tmp_path / "uploads"
    folder.mkdir()
    stale_staging = folder / f".upload-{'a' * 32}.part"
    unknown = folder / ("c" * 32)
    for path in (stale_staging, unknown):
        path.write_bytes(b"x")
        age(path, timedelta(hours=5))
    with caplog.at_level(logging.WARNING):
        create_app(
            {
                "TESTING": True,
                # Not migrated: no attachment table to ask.
                "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(tmp_path / "empty.db"),
                "UPLOAD_FOLDER": str(folder),
                "SWEEP_UPLOADS_AT_START": True,
            }
        )
    assert files_in(folder) == [unknown.name], "staging swept; stored files left for later"
    assert "could not check stored files against the database" in caplog.text


def test_without_an_upload_folder_starting_asks_the_database_nothing(tmp_path):
    database = tmp_path / "never.db"
    create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
            "SWEEP_UPLOADS_AT_START": True,
        }
    )
    assert not database.exists()


@pytest.mark.parametrize(
    ("command", "sweeps"),
    [(None, True), ("run", True), ("upgrade", False), ("flask", False), ("shell", False)],
)
def test_servers_sweep_at_start_and_maintenance_commands_do_not(command, sweeps):
    if command is None:
        assert _started_by_a_server() is sweeps
        return
    with click.Context(click.Command(command), info_name=command):
        assert _started_by_a_server() is sweeps
