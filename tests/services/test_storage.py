"""The storage backends themselves: settings checked, readiness, a large file stored in parts
and read back in chunks without holding it in memory, and the sweep of unreferenced objects
in a bucket (s3rver, see tests/object_storage.py)."""

from __future__ import annotations

import io
import os
import random
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from models import Attachment, Occurrence, db
from services.storage import (
    MissingBucket,
    StorageSettingsError,
    StorageUnavailable,
    StoredFileMissing,
    storage_for,
    storage_reachable,
    storage_settings,
)
from services.tracking.attachments import (
    UnmatchedUploadFolder,
    add_attachment,
    receive_upload,
    sweep_unreferenced_files,
)
from tests import attachment_samples as samples
from tests.object_storage import files_in, stored_bytes, stored_names

MB = 1024 * 1024


def big_pdf(size: int) -> bytes:
    head = samples.pdf()
    return head + random.Random(size).randbytes(size - len(head))


def staged_file(folder, data: bytes):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f".upload-{'a' * 32}.part"
    path.write_bytes(data)
    return path


@pytest.fixture
def session_and_mentor(make_group, make_user):
    group = make_group(students=[make_user("student")])
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    occurrence = Occurrence(group_id=group.id, start_utc=start, end_utc=start + timedelta(hours=1))
    db.session.add(occurrence)
    db.session.commit()
    return occurrence, group.mentor


def attach(storage, occurrence, mentor, data: bytes, name="a.pdf") -> Attachment:
    received = receive_upload(
        io.BytesIO(data), upload_folder=storage.staging_folder, max_bytes=100 * MB
    )
    attachment = add_attachment(
        occurrence=occurrence,
        uploader=mentor,
        received=received,
        original_name=name,
        description="",
        storage=storage,
    )
    db.session.commit()
    return attachment


# --- Settings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"STORAGE_BACKEND": "ftp"}, "STORAGE_BACKEND='ftp' is not a storage"),
        ({"STORAGE_BACKEND": "s3"}, "STORAGE_BACKEND=s3 needs S3_BUCKET"),
        ({"STORAGE_BACKEND": "s3", "S3_BUCKET": "  "}, "needs S3_BUCKET"),
        ({"STORAGE_BACKEND": "s3", "S3_BUCKET": "b", "S3_PART_MB": 4}, "S3_PART_MB=4"),
        ({"STORAGE_BACKEND": "s3", "S3_BUCKET": "b", "S3_PART_MB": "8"}, "S3_PART_MB='8'"),
        ({"STORAGE_BACKEND": "s3", "S3_BUCKET": "b", "S3_UPLOAD_CONCURRENCY": 0}, "CONCURRENCY"),
        ({"STORAGE_BACKEND": "s3", "S3_BUCKET": "b", "S3_PRESIGNED_DOWNLOADS": "yes"}, "true"),
        ({"STORAGE_BACKEND": "s3", "S3_BUCKET": "b", "S3_PRESIGNED_SECONDS": 0}, "SECONDS=0"),
        ({"STORAGE_BACKEND": "s3", "S3_BUCKET": "b", "S3_KEY_PREFIX": "/x/"}, "S3_KEY_PREFIX"),
        ({"STORAGE_BACKEND": "s3", "S3_BUCKET": "b", "S3_ADDRESSING_STYLE": "x"}, "STYLE='x'"),
    ],
)
def test_bad_storage_settings_are_named(settings, message):
    with pytest.raises(StorageSettingsError, match=message.replace("(", r"\(")):
        storage_settings({"UPLOAD_FOLDER": "/srv/uploads", **settings})


def test_the_default_is_the_upload_folder(app, upload_folder):
    storage = storage_for(app)
    assert storage.description == str(upload_folder)
    assert storage.staging_folder == upload_folder
    assert storage_for(app) is storage, "built once for the same settings"


# --- Readiness ----------------------------------------------------------------------------------


def test_a_reachable_storage_is_ready(app, storage):
    check = storage_reachable(app)
    assert check.ok, check.detail
    assert storage.description in check.detail


def test_a_missing_bucket_is_not_ready_and_says_which(app, s3_storage, monkeypatch):
    monkeypatch.setitem(app.config, "S3_BUCKET", "no-such-bucket")
    with pytest.raises(MissingBucket):
        storage_for(app).check()
    check = storage_reachable(app)
    assert not check.ok
    assert check.detail.startswith(
        "The bucket 'no-such-bucket' does not exist at http://127.0.0.1:"
    )


def test_a_storage_out_of_reach_is_not_ready(app, s3_storage, monkeypatch):
    monkeypatch.setitem(app.config, "S3_ENDPOINT_URL", "http://127.0.0.1:9")  # discard: closed
    check = storage_reachable(app)
    assert not check.ok
    assert "cannot be reached" in check.detail


def test_bad_settings_are_not_ready(app, upload_folder, monkeypatch):
    monkeypatch.setitem(app.config, "STORAGE_BACKEND", "s3")
    check = storage_reachable(app)
    assert not check.ok and "needs S3_BUCKET" in check.detail


# --- Streaming both ways ------------------------------------------------------------------------


def test_a_20_mb_file_is_stored_in_parts_read_from_disk_not_memory(app, s3_storage, monkeypatch):
    monkeypatch.setitem(app.config, "S3_PART_MB", 5)
    # One part at a time, so the peak is one part's traffic (each part sent at once adds
    # its own buffers: about 1.5 MB, whatever the file's size).
    monkeypatch.setitem(app.config, "S3_UPLOAD_CONCURRENCY", 1)
    storage = storage_for(app)
    parts = []
    storage.client.meta.events.register(
        "before-parameter-build.s3.UploadPart",
        lambda params, **kwargs: parts.append(params["PartNumber"]),
    )
    data = big_pdf(20 * MB)
    source = staged_file(storage.staging_folder, data)
    tracemalloc.start()
    try:
        storage.store("b" * 32, source, content_type="application/pdf")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sorted(parts) == [1, 2, 3, 4], "four parts of 5 MB"
    # Parts are read from the staging file as they are sent: not even a part is held whole.
    assert peak < 5 * MB, f"peak {peak / MB:.1f} MB"
    assert not source.exists(), "the staging file was taken over"
    assert stored_names(storage) == ["b" * 32]
    assert stored_bytes(storage, "b" * 32) == data


def test_a_stored_object_is_read_in_chunks_and_from_any_position(s3_storage):
    data = big_pdf(3 * MB)
    s3_storage.store("c" * 32, staged_file(s3_storage.staging_folder, data), content_type="x/y")
    ranges = []
    s3_storage.client.meta.events.register(
        "before-parameter-build.s3.GetObject",
        lambda params, **kwargs: ranges.append(params["Range"]),
    )
    stored = s3_storage.open("c" * 32)
    assert stored.size_bytes == len(data) and stored.path is None
    reader = stored.reader
    tracemalloc.start()
    try:
        sizes = []
        while chunk := reader.read(64 * 1024):
            sizes.append(len(chunk))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(sizes) == len(data) and max(sizes) <= 64 * 1024
    assert peak < 1 * MB, f"peak {peak / MB:.1f} MB"
    reader.seek(1000)
    reader.expect_range(1000, 1010)
    assert reader.read(10) == data[1000:1010]
    reader.seek(len(data) - 5)
    assert reader.read() == data[-5:]
    stored.close()
    assert ranges == [
        f"bytes=0-{len(data) - 1}",
        "bytes=1000-1009",
        f"bytes={len(data) - 5}-{len(data) - 1}",
    ]


def test_a_missing_object_is_told_apart_and_removing_it_again_is_no_error(storage):
    with pytest.raises(StoredFileMissing):
        storage.open("d" * 32)
    storage.remove("d" * 32)


def test_a_bucket_out_of_reach_refuses_to_store_and_keeps_the_staging_file(
    app, s3_storage, monkeypatch
):
    monkeypatch.setitem(app.config, "S3_ENDPOINT_URL", "http://127.0.0.1:9")
    storage = storage_for(app)
    source = staged_file(storage.staging_folder, samples.pdf())
    with pytest.raises(StorageUnavailable, match="cannot be reached to store a file"):
        storage.store("e" * 32, source, content_type="application/pdf")
    assert source.exists(), "left to the caller, which removes it"


def test_a_failed_store_leaves_no_row_and_no_staging_file(
    app, s3_storage, session_and_mentor, monkeypatch
):
    occurrence, mentor = session_and_mentor
    monkeypatch.setitem(app.config, "S3_ENDPOINT_URL", "http://127.0.0.1:9")
    with pytest.raises(StorageUnavailable):
        attach(storage_for(app), occurrence, mentor, samples.pdf())
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attachment)) == 0
    assert files_in(s3_storage) == []


# --- The sweep in a bucket ----------------------------------------------------------------------


def test_the_sweep_removes_objects_no_row_refers_to_once_an_hour_old(
    s3_storage, session_and_mentor
):
    occurrence, mentor = session_and_mentor
    kept = attach(s3_storage, occurrence, mentor, samples.pdf())
    orphan = "f" * 32
    s3_storage.store(
        orphan, staged_file(s3_storage.staging_folder, b"x" * 2048), content_type="x/y"
    )
    s3_storage.client.put_object(
        Bucket=s3_storage.bucket, Key=s3_storage.prefix + "notes.txt", Body=b"not ours"
    )
    s3_storage.client.put_object(Bucket=s3_storage.bucket, Key="a" * 32, Body=b"outside the prefix")
    # Times from the bucket's clock (the object's own stamp), whatever the test's clock says.
    written = s3_storage.client.head_object(
        Bucket=s3_storage.bucket, Key=s3_storage.prefix + orphan
    )["LastModified"]
    # Just written: an upload may still be waiting for its commit somewhere.
    assert sweep_unreferenced_files(s3_storage, now=written + timedelta(minutes=59)) == []
    later = written + timedelta(hours=1, minutes=5)
    preview = sweep_unreferenced_files(s3_storage, now=later, dry_run=True)
    assert [(f.name, f.size_bytes) for f in preview] == [(orphan, 2048)]
    assert stored_names(s3_storage) == sorted([kept.stored_name, orphan])
    swept = sweep_unreferenced_files(s3_storage, now=later)
    assert [(f.name, f.reason) for f in swept] == [(orphan, "stored file no attachment refers to")]
    assert stored_names(s3_storage) == [kept.stored_name]
    keys = [
        o["Key"] for o in s3_storage.client.list_objects_v2(Bucket=s3_storage.bucket)["Contents"]
    ]
    assert sorted(keys) == sorted(
        ["a" * 32, s3_storage.prefix + "notes.txt", s3_storage.prefix + kept.stored_name]
    )


def test_a_bucket_none_of_whose_objects_has_a_row_is_left_alone(app, s3_storage):
    for name in ("1" * 32, "2" * 32):
        s3_storage.store(name, staged_file(s3_storage.staging_folder, b"x"), content_type="x/y")
    later = datetime.now(UTC) + timedelta(days=100)  # the bucket's clock may be another
    with pytest.raises(UnmatchedUploadFolder, match=r"in s3://test-\w+/attachments/ has an"):
        sweep_unreferenced_files(s3_storage, now=later)
    assert stored_names(s3_storage) == ["1" * 32, "2" * 32]


# --- The nightly sweep job ----------------------------------------------------------------------


def test_the_nightly_job_sweeps_what_dead_uploads_left_in_either_storage(
    storage, session_and_mentor
):
    import time_machine

    from services.jobs.queue import enqueue, run_queued_jobs
    from services.jobs.tasks import sweep_uploads

    occurrence, mentor = session_and_mentor
    kept = attach(storage, occurrence, mentor, samples.pdf())
    orphan = "f" * 32  # stored, and its process died before its row was committed
    storage.store(orphan, staged_file(storage.staging_folder, b"x" * 64), content_type="x/y")
    staged_file(storage.staging_folder, b"half an upload")  # its process died mid-upload
    assert files_in(storage) == sorted([kept.stored_name, orphan, f".upload-{'a' * 32}.part"])

    # Times from the storage's own clock (a bucket's may differ from this process's, as under
    # CI's shifted clock): the staging file is given the stored objects' time.
    written = max(item.modified for item in storage.stored_objects())
    staging = storage.staging_folder / f".upload-{'a' * 32}.part"
    os.utime(staging, (written.timestamp(), written.timestamp()))

    with time_machine.travel(written + timedelta(minutes=30), tick=True):
        enqueue(sweep_uploads)
        run_queued_jobs()
    assert len(files_in(storage)) == 3  # an hour's grace: their commits may still come

    with time_machine.travel(written + timedelta(hours=2), tick=True):
        enqueue(sweep_uploads)
        run_queued_jobs()
    assert files_in(storage) == [kept.stored_name]
    assert stored_bytes(storage, kept.stored_name) == samples.pdf()
