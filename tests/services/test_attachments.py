"""Attachments service: type from content, streaming with a size limit, safe names, and files
kept in step with the database whatever fails."""

from __future__ import annotations

import hashlib
import io
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from models import Attachment, Occurrence, SessionEvent, db
from services.common.errors import NotAllowed, ValidationError
from services.permissions import can_delete_attachment, can_upload
from services.tracking import attachments as service
from services.tracking.attachments import (
    FileTooLarge,
    add_attachment,
    clean_original_name,
    delete_attachment,
    receive_upload,
)
from tests import attachment_samples as samples
from tests.object_storage import files_in, stored_bytes

MB = 1024 * 1024


@pytest.fixture
def folder(tmp_path):
    return tmp_path / "uploads"


@pytest.fixture
def session_of(make_group, make_user):
    """A session of a new group; returns (occurrence, mentor, enrolled student)."""

    def factory():
        student = make_user("student")
        group = make_group(students=[student])
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
        occurrence = Occurrence(
            group_id=group.id,
            start_utc=start,
            end_utc=start + timedelta(hours=1),
            room_id=group.default_room_id,
        )
        db.session.add(occurrence)
        db.session.commit()
        return occurrence, group.mentor, student

    return factory


def files_in_folder(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def upload(occurrence, user, data: bytes, name: str, storage, *, description="", max_bytes=MB):
    received = receive_upload(
        io.BytesIO(data), upload_folder=storage.staging_folder, max_bytes=max_bytes
    )
    return add_attachment(
        occurrence=occurrence,
        uploader=user,
        received=received,
        original_name=name,
        description=description,
        storage=storage,
    )


# --- Types --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(samples.ALLOWED_SAMPLES))
def test_every_allowed_kind_is_accepted_from_its_content(session_of, storage, kind):
    occurrence, mentor, _ = session_of()
    make, name, content_type = samples.ALLOWED_SAMPLES[kind]
    data = make()
    attachment = upload(occurrence, mentor, data, name, storage, description="  Week 1  ")
    db.session.commit()

    stored = db.session.get(Attachment, attachment.id)
    assert stored.content_type == content_type
    assert stored.size_bytes == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.original_name == name
    assert stored.description == "Week 1"
    assert stored.uploader_id == mentor.id
    assert stored_bytes(storage, stored.stored_name) == data
    assert files_in(storage) == [stored.stored_name]
    event = db.session.scalar(sa.select(SessionEvent))
    assert (event.kind, event.actor_id) == ("file_added", mentor.id)
    assert name in event.summary


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (samples.elf(), "notes.pdf"),
        (samples.windows_exe(), "notes.pdf"),
        (samples.plain_zip(), "essay.docx"),
        (samples.msi_like(), "marks.xls"),
        (b"<!doctype html><script>alert(1)</script>", "slides.pdf"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "a.png"),
        (b"just some text, really", "notes.txt"),
    ],
    ids=["elf", "exe", "plain-zip", "other-ole2", "html", "svg", "text"],
)
def test_content_that_is_not_an_allowed_type_is_refused_naming_what_is(
    session_of, storage, data, name
):
    occurrence, mentor, _ = session_of()
    with pytest.raises(ValidationError) as refused:
        upload(occurrence, mentor, data, name, storage)
    assert refused.value.field == "file"
    assert "not a type you can attach" in refused.value.message
    assert "PDF, video (MP4, WebM, QuickTime, MPEG)" in refused.value.message
    assert files_in(storage) == []


def test_an_empty_or_missing_file_is_refused(session_of, folder):
    with pytest.raises(ValidationError, match="The file is empty"):
        receive_upload(io.BytesIO(b""), upload_folder=folder, max_bytes=MB)
    with pytest.raises(ValidationError, match="Choose a file"):
        receive_upload(None, upload_folder=folder, max_bytes=MB)
    assert files_in_folder(folder) == []


# --- Size ---------------------------------------------------------------------------------------


def test_a_file_of_exactly_the_limit_passes_and_one_byte_more_is_refused(folder):
    data = samples.pdf()
    limit = 4096
    exact = receive_upload(
        samples.PatternStream(limit, data), upload_folder=folder, max_bytes=limit
    )
    assert exact.size_bytes == limit
    exact.discard()
    with pytest.raises(FileTooLarge, match=r"larger than 0\.00390625 MB"):
        receive_upload(
            samples.PatternStream(limit + 1, data), upload_folder=folder, max_bytes=limit
        )
    assert files_in_folder(folder) == []


def test_a_101_mb_upload_is_refused_without_holding_it_in_memory(folder):
    stream = samples.PatternStream(101 * MB, samples.pdf())
    tracemalloc.start()
    try:
        with pytest.raises(FileTooLarge, match="larger than 100 MB"):
            receive_upload(stream, upload_folder=folder, max_bytes=100 * MB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Chunks of 64 KiB: the peak is a few chunks, not the file.
    assert peak < 2 * MB, f"peak {peak} bytes"
    # It read to one chunk past the limit and stopped, leaving nothing behind.
    assert stream.position <= 100 * MB + service.CHUNK_SIZE
    assert files_in_folder(folder) == []


# --- Names --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("../../etc/passwd", "passwd.pdf"),
        ("..\\x.pdf", "x.pdf"),
        ("/var/www/../../x.pdf", "x.pdf"),
        ("a\x00b.pdf", "ab.pdf"),
        ("line\r\nbreak.pdf", "linebreak.pdf"),
        ("evil\u202efdp.exe", "evilfdp.exe.pdf"),
        ("report.pdf.exe", "report.pdf.exe.pdf"),
        ("..", "file.pdf"),
        ("", "file.pdf"),
        (None, "file.pdf"),
        ("Résumé  été.PDF", "Résumé été.PDF"),
    ],
)
def test_names_are_cleaned_for_display_and_end_with_the_real_type(name, shown):
    assert clean_original_name(name, service.PDF) == shown


def test_a_300_character_name_is_shortened_keeping_its_extension():
    cleaned = clean_original_name("é" * 300 + ".pdf", service.PDF)
    assert len(cleaned) == 255
    assert cleaned.endswith("é.pdf")


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "..\\x.pdf", "a\x00b.pdf", "x\n.pdf", "/srv/evil.pdf"]
)
def test_the_users_name_never_affects_the_stored_path(session_of, storage, name):
    occurrence, mentor, _ = session_of()
    attachment = upload(occurrence, mentor, samples.pdf(), name, storage)
    db.session.commit()
    assert len(attachment.stored_name) == 32
    int(attachment.stored_name, 16)  # hex only
    assert files_in(storage) == [attachment.stored_name]
    assert list(storage.staging_folder.parent.iterdir()) == [storage.staging_folder]


def test_descriptions_are_one_clean_line_and_not_too_long(session_of, storage):
    occurrence, mentor, _ = session_of()
    attachment = upload(occurrence, mentor, samples.pdf(), "a.pdf", storage, description="a\r\nb")
    assert attachment.description == "a b"
    with pytest.raises(ValidationError, match="under 500"):
        upload(occurrence, mentor, samples.pdf(), "a.pdf", storage, description="x" * 501)
    db.session.rollback()
    assert files_in(storage) == []


# --- Who may ------------------------------------------------------------------------------------


def test_mentor_and_staff_upload_students_do_not(session_of, make_user, storage):
    occurrence, mentor, student = session_of()
    other_mentor = make_user("mentor")
    assert can_upload(mentor, occurrence)
    assert can_upload(make_user("coordinator"), occurrence)
    assert can_upload(make_user("admin"), occurrence)
    assert not can_upload(student, occurrence)
    assert not can_upload(other_mentor, occurrence)
    assert not can_upload(None, occurrence)
    with pytest.raises(NotAllowed):
        upload(occurrence, student, samples.pdf(), "a.pdf", storage)
    assert files_in(storage) == []


def test_uploader_mentor_and_staff_delete(session_of, make_user, storage):
    occurrence, mentor, student = session_of()
    coordinator = make_user("coordinator")
    attachment = upload(occurrence, coordinator, samples.pdf(), "a.pdf", storage)
    db.session.commit()
    assert can_delete_attachment(coordinator, attachment, occurrence)
    assert can_delete_attachment(mentor, attachment, occurrence)
    assert can_delete_attachment(make_user("admin"), attachment, occurrence)
    assert not can_delete_attachment(student, attachment, occurrence)
    assert not can_delete_attachment(make_user("mentor"), attachment, occurrence)
    with pytest.raises(NotAllowed):
        delete_attachment(attachment=attachment, actor=student, storage=storage)
    db.session.rollback()
    assert files_in(storage) == [attachment.stored_name]


# --- Files and rows in step ---------------------------------------------------------------------


def test_delete_removes_the_file_once_committed(session_of, storage):
    occurrence, mentor, _ = session_of()
    attachment = upload(occurrence, mentor, samples.pdf(), "a.pdf", storage)
    db.session.commit()
    delete_attachment(attachment=attachment, actor=mentor, storage=storage)
    assert files_in(storage) == [attachment.stored_name], "unlinked before the commit"
    db.session.commit()
    assert files_in(storage) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attachment)) == 0
    kinds = db.session.scalars(sa.select(SessionEvent.kind).order_by(SessionEvent.id)).all()
    assert kinds == ["file_added", "file_deleted"]


def test_a_rolled_back_delete_keeps_row_and_file(session_of, storage):
    occurrence, mentor, _ = session_of()
    attachment = upload(occurrence, mentor, samples.pdf(), "a.pdf", storage)
    db.session.commit()
    stored_name = attachment.stored_name
    delete_attachment(attachment=attachment, actor=mentor, storage=storage)
    db.session.rollback()
    assert files_in(storage) == [stored_name]
    assert db.session.scalar(sa.select(Attachment.stored_name)) == stored_name


def _failing_commit(monkeypatch):
    """Make the next commit fail in the database, as a lost connection or a full disk would."""

    def fail(session):
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    sa.event.listen(db.session(), "before_commit", fail)
    return lambda: sa.event.remove(db.session(), "before_commit", fail)


def test_a_failed_commit_of_an_upload_leaves_no_orphan_file(session_of, storage, monkeypatch):
    occurrence, mentor, _ = session_of()
    upload(occurrence, mentor, samples.pdf(), "a.pdf", storage)
    assert len(files_in(storage)) == 1  # in place, waiting for the commit
    restore = _failing_commit(monkeypatch)
    try:
        with pytest.raises(OperationalError):
            db.session.commit()
        db.session.rollback()
    finally:
        restore()
    assert files_in(storage) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attachment)) == 0


def test_a_failed_database_write_while_adding_leaves_no_file(session_of, storage, monkeypatch):
    occurrence, mentor, _ = session_of()

    def broken_history(*args, **kwargs):
        raise OperationalError("INSERT INTO session_event", {}, Exception("database is locked"))

    monkeypatch.setattr(service.events, "record_event", broken_history)
    with pytest.raises(OperationalError):
        upload(occurrence, mentor, samples.pdf(), "a.pdf", storage)
    db.session.rollback()
    assert files_in(storage) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attachment)) == 0


def test_a_failed_commit_of_a_delete_keeps_the_file(session_of, storage, monkeypatch):
    occurrence, mentor, _ = session_of()
    attachment = upload(occurrence, mentor, samples.pdf(), "a.pdf", storage)
    db.session.commit()
    stored_name = attachment.stored_name
    delete_attachment(attachment=attachment, actor=mentor, storage=storage)
    restore = _failing_commit(monkeypatch)
    try:
        with pytest.raises(OperationalError):
            db.session.commit()
        db.session.rollback()
    finally:
        restore()
    assert files_in(storage) == [stored_name]
    assert db.session.scalar(sa.select(Attachment.stored_name)) == stored_name
