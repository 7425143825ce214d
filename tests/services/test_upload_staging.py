"""Uploads staged under names the sweep recognises, stored by renaming the staging file (no
second copy), and the sweep of what killed processes leave: staging files and stored files no
row refers to, once an hour old, never younger ones nor files with a row."""

from __future__ import annotations

import io
import os
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from models import Attachment, db
from services.common.errors import ValidationError
from services.storage.local import LocalStorage
from services.tracking.attachments import (
    FileTooLarge,
    StagingFile,
    UnmatchedUploadFolder,
    add_attachment,
    receive_upload,
    sweep_staging_files,
    sweep_unreferenced_files,
)
from tests import attachment_samples as samples

MB = 1024 * 1024
STAGING_NAME = re.compile(r"\.upload-[0-9a-f]{32}\.part")


@pytest.fixture
def folder(tmp_path):
    return tmp_path / "uploads"


def files_in(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def last_written(path, now: datetime, ago: timedelta) -> None:
    stamp = (now - ago).timestamp()
    os.utime(path, (stamp, stamp), follow_symlinks=False)


def put(folder, name: str, data: bytes, now: datetime, ago: timedelta):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    last_written(path, now, ago)
    return path


def staged(folder, data: bytes) -> StagingFile:
    """A file part streamed as Werkzeug does it: written in chunks, then rewound."""
    staging = StagingFile(folder)
    for start in range(0, len(data), 64 * 1024):
        staging.write(data[start : start + 64 * 1024])
    staging.seek(0)
    return staging


# --- Staging ------------------------------------------------------------------------------------


def test_an_upload_is_staged_under_a_name_the_sweep_recognises(folder):
    received = receive_upload(io.BytesIO(samples.pdf()), upload_folder=folder, max_bytes=MB)
    assert STAGING_NAME.fullmatch(received.temp_path.name)
    assert files_in(folder) == [received.temp_path.name]


def test_a_streamed_upload_is_checked_in_place_and_stored_by_renaming_the_same_file(
    folder, session_and_mentor
):
    occurrence, mentor = session_and_mentor
    data = samples.pdf().ljust(300 * 1024, b"\0")
    staging = staged(folder, data)
    inode = os.fstat(staging.fileno()).st_ino
    received = receive_upload(staging, upload_folder=folder, max_bytes=MB)
    assert received.temp_path == staging.path, "checked where it was streamed, not copied"
    assert received.size_bytes == len(data)
    assert received.kind.content_type == "application/pdf"
    attachment = add_attachment(
        occurrence=occurrence,
        uploader=mentor,
        received=received,
        original_name="a.pdf",
        description="",
        storage=LocalStorage(folder),
    )
    db.session.commit()
    staging.close()  # the request ends: the stored file stays
    stored = folder / attachment.stored_name
    assert os.stat(stored).st_ino == inode, "the staging file itself, renamed"
    assert stored.read_bytes() == data
    assert files_in(folder) == [attachment.stored_name]


@pytest.mark.parametrize(
    ("data", "refusal"),
    [
        (b"just some text", ValidationError),
        (b"", ValidationError),
        (samples.pdf().ljust(MB + 1, b"\0"), FileTooLarge),
    ],
    ids=["not-allowed", "empty", "too-large"],
)
def test_a_refused_streamed_upload_leaves_nothing(folder, data, refusal):
    staging = staged(folder, data)
    with pytest.raises(refusal):
        receive_upload(staging, upload_folder=folder, max_bytes=MB)
    assert files_in(folder) == []
    staging.close()


def test_a_staging_file_the_request_did_not_store_goes_when_it_is_closed(folder):
    staging = staged(folder, samples.pdf())
    assert files_in(folder) == [staging.path.name]
    staging.close()
    assert files_in(folder) == []


# --- The sweep ----------------------------------------------------------------------------------


def test_the_sweep_removes_staging_files_an_hour_old_and_nothing_else(folder, tmp_path):
    now = datetime.now(UTC)
    stale = put(folder, f".upload-{'a' * 32}.part", b"x" * 1000, now, timedelta(hours=3))
    # The name uploads were staged under before: what earlier kills left goes too.
    legacy = put(folder, f".{'b' * 32}.part", b"x" * 10, now, timedelta(days=2))
    young = put(folder, f".upload-{'c' * 32}.part", b"x", now, timedelta(minutes=50))
    put(folder, "notes.txt", b"not ours", now, timedelta(days=9))
    put(folder, ".upload-short.part", b"not ours", now, timedelta(days=9))
    (folder / f".upload-{'d' * 32}.part").mkdir()
    outside = tmp_path / "outside.pdf"
    outside.write_bytes(b"precious")
    link = folder / f".upload-{'e' * 32}.part"
    link.symlink_to(outside)
    last_written(link, now, timedelta(days=9))

    preview = sweep_staging_files(folder, now=now, dry_run=True)
    assert [f.name for f in preview] == [legacy.name, stale.name]
    assert legacy.exists() and stale.exists(), "a dry run removes nothing"

    swept = sweep_staging_files(folder, now=now)
    assert [(f.name, f.reason, f.size_bytes) for f in swept] == [
        (legacy.name, "unfinished upload", 10),
        (stale.name, "unfinished upload", 1000),
    ]
    assert files_in(folder) == sorted(
        [young.name, "notes.txt", ".upload-short.part", f".upload-{'d' * 32}.part", link.name]
    )
    assert outside.read_bytes() == b"precious"


def test_the_sweep_removes_stored_files_no_row_refers_to_once_an_hour_old(
    folder, session_and_mentor
):
    occurrence, mentor = session_and_mentor
    now = datetime.now(UTC)
    received = receive_upload(io.BytesIO(samples.pdf()), upload_folder=folder, max_bytes=MB)
    kept = add_attachment(
        occurrence=occurrence,
        uploader=mentor,
        received=received,
        original_name="a.pdf",
        description="",
        storage=LocalStorage(folder),
    )
    db.session.commit()
    last_written(folder / kept.stored_name, now, timedelta(days=30))
    orphan = put(folder, "f" * 32, b"x" * 2048, now, timedelta(hours=2))
    young_orphan = put(folder, "0" * 32, b"x", now, timedelta(minutes=59))
    put(folder, "F" * 32, b"not ours", now, timedelta(days=9))

    assert [
        f.name for f in sweep_unreferenced_files(LocalStorage(folder), now=now, dry_run=True)
    ] == [orphan.name]
    assert orphan.exists()
    swept = sweep_unreferenced_files(LocalStorage(folder), now=now)
    assert [(f.name, f.reason, f.size_bytes) for f in swept] == [
        (orphan.name, "stored file no attachment refers to", 2048)
    ]
    assert files_in(folder) == sorted([kept.stored_name, young_orphan.name, "F" * 32])
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attachment)) == 1


def test_the_sweep_checks_many_stored_files_in_batches(app, folder):
    now = datetime.now(UTC)
    for number in range(1203):
        put(folder, f"{number:032x}", b"", now, timedelta(hours=2))
    swept = sweep_unreferenced_files(LocalStorage(folder), now=now, even_if_none_match=True)
    assert len(swept) == 1203
    assert files_in(folder) == []


def test_a_folder_none_of_whose_files_has_a_row_is_left_alone(app, folder):
    """A wrong DATABASE_URL (or a new, empty database) must not empty the upload folder."""
    now = datetime.now(UTC)
    for name in ("a" * 32, "b" * 32):
        put(folder, name, b"x", now, timedelta(days=40))
    with pytest.raises(UnmatchedUploadFolder, match=r"None of the 2 stored files in .* has an"):
        sweep_unreferenced_files(LocalStorage(folder), now=now)
    assert files_in(folder) == ["a" * 32, "b" * 32]


def test_the_sweep_of_a_folder_that_does_not_exist_does_nothing(folder):
    now = datetime.now(UTC)
    assert sweep_staging_files(folder, now=now) == []
    assert sweep_unreferenced_files(LocalStorage(folder), now=now) == []
    assert not folder.exists()
