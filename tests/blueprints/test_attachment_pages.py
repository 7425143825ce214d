"""Attachment pages: the files section on the session page, upload (htmx and plain), 413 for
oversized bodies (streamed, never held in memory), downloads, deletes, permissions, CSRF."""

from __future__ import annotations

import json
import tempfile
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from werkzeug.test import EnvironBuilder, run_wsgi_app

from models import (
    Attachment,
    db,
)
from services.tracking import attachments as service
from tests import attachment_samples as samples
from tests.conftest import csrf_token_of
from tests.object_storage import files_in, stored_bytes

# Tests that store files take `storage` and run once per backend (the upload folder, a bucket).
pytestmark = pytest.mark.usefixtures("upload_folder")


MB = 1024 * 1024


@pytest.fixture
def two_sessions(make_user, make_group, make_session):
    """A session of Maths (mentor, one student) and one of Art (another mentor and student)."""
    student, stranger = make_user("student"), make_user("student")
    maths = make_group("Maths", students=[student])
    art = make_group("Art", students=[stranger])
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    return {
        "session": make_session(maths, start),
        "other_session": make_session(art, start),
        "mentor": maths.mentor,
        "student": student,
        "stranger": stranger,
        "other_mentor": art.mentor,
    }


def session_url(occurrence) -> str:
    return f"/sessions/{occurrence.id}"


def upload_url(occurrence) -> str:
    return f"/attachments/sessions/{occurrence.id}"


def htmx_upload(web, occurrence, data: bytes, name: str, description="", **kwargs):
    token = csrf_token_of(web.get(session_url(occurrence)))
    return web.post(
        upload_url(occurrence),
        {"description": description},
        upload_files=[("file", name, data)],
        headers={"HX-Request": "true", "HX-Request-Type": "partial", "X-CSRFToken": token},
        **kwargs,
    )


def uploaded(web, login_as, two_sessions, data=None, name="slides.pdf", description="Week 1"):
    """The mentor uploads a file; returns the attachment row."""
    login_as(two_sessions["mentor"])
    htmx_upload(web, two_sessions["session"], data or samples.pdf(), name, description)
    return db.session.scalars(sa.select(Attachment).order_by(Attachment.id.desc())).first()


# --- The section --------------------------------------------------------------------------------


def test_the_session_page_shows_the_section_with_the_form_for_its_mentor(
    web, login_as, two_sessions
):
    login_as(two_sessions["mentor"])
    page = web.get(session_url(two_sessions["session"]))
    section = page.html.select_one(f"#files-{two_sessions['session'].id}")
    assert section is not None
    assert "No files yet." in section.text
    form = section.select_one("form[data-upload-form]")
    assert form["enctype"] == "multipart/form-data"
    assert form["action"] == upload_url(two_sessions["session"])
    assert form.select_one("input[name=csrf_token]")
    assert form.select_one("progress")
    assert "up to 100 MB" in section.text


def test_students_see_files_but_no_upload_form(web, login_as, two_sessions):
    uploaded(web, login_as, two_sessions)
    web.reset()
    login_as(two_sessions["student"])
    section = web.get(session_url(two_sessions["session"])).html.select_one(
        f"#files-{two_sessions['session'].id}"
    )
    assert "slides.pdf" in section.text
    assert "Week 1" in section.text
    assert section.select_one("form[data-upload-form]") is None
    assert not section.select("button"), "a student may delete nothing here"


def test_the_section_has_its_own_url_fragment_or_page(web, htmx, login_as, two_sessions):
    login_as(two_sessions["mentor"])
    fragment = htmx.get(upload_url(two_sessions["session"]))
    assert fragment.html.select_one("section")["id"] == f"files-{two_sessions['session'].id}"
    assert "<html" not in fragment.text
    page = web.get(upload_url(two_sessions["session"]))
    assert "<html" in page.text and page.html.select_one(f"#files-{two_sessions['session'].id}")
    web.reset()
    login_as(two_sessions["stranger"])
    web.get(upload_url(two_sessions["session"]), status=404)


# --- Upload -------------------------------------------------------------------------------------


def test_an_htmx_upload_returns_the_section_with_the_file(web, login_as, two_sessions, storage):
    login_as(two_sessions["mentor"])
    response = htmx_upload(web, two_sessions["session"], samples.pdf(), "slides.pdf", "Week 1")
    assert response.status_int == 200
    section = response.html.select_one("section")
    assert section["id"] == f"files-{two_sessions['session'].id}"
    row = section.select_one("tbody tr")
    assert "slides.pdf" in row.text and "PDF" in row.text and "Week 1" in row.text
    assert two_sessions["mentor"].name in row.text
    assert json.loads(response.headers["HX-Trigger"]) == {"toast": {"message": "Added slides.pdf."}}
    attachment = db.session.scalar(sa.select(Attachment))
    assert files_in(storage) == [attachment.stored_name]


def test_a_large_upload_spools_into_the_upload_folder_not_the_system_temp_dir(
    web, login_as, two_sessions, storage, tmp_path, monkeypatch
):
    # Past 500 KB Werkzeug spools a file to disk: here, with the system's temporary
    # directory gone, the upload still works (it spools beside the attachments) and leaves
    # nothing but the stored file.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-dir"))
    login_as(two_sessions["mentor"])
    big = samples.pdf().ljust(3 * MB, b"\0")
    response = htmx_upload(web, two_sessions["session"], big, "big.pdf")
    assert response.status_int == 200
    attachment = db.session.scalar(sa.select(Attachment))
    assert attachment.size_bytes == 3 * MB
    assert files_in(storage) == [attachment.stored_name]
    assert stored_bytes(storage, attachment.stored_name) == big


def test_a_plain_upload_redirects_back_to_the_session(web, login_as, two_sessions, storage):
    login_as(two_sessions["mentor"])
    form = web.get(session_url(two_sessions["session"])).forms[
        next(
            key
            for key, f in web.get(session_url(two_sessions["session"])).forms.items()
            if f.action == upload_url(two_sessions["session"])
        )
    ]
    form["description"] = "Handout"
    form["file"] = ("handout.docx", samples.docx())
    response = form.submit()
    assert response.status_int == 302
    assert response.location.endswith(
        f"/sessions/{two_sessions['session'].id}#files-{two_sessions['session'].id}"
    )
    page = response.follow()
    assert "Added handout.docx." in page.text
    assert "Word document (DOCX)" in page.text


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (samples.elf(), "notes.pdf", "not a type you can attach"),
        (samples.windows_exe(), "notes.pdf", "not a type you can attach"),
        (b"", "empty.pdf", "The file is empty."),
    ],
    ids=["elf", "exe", "empty"],
)
def test_a_bad_file_is_422_with_the_message_next_to_the_field(
    web, login_as, two_sessions, storage, data, name, message
):
    login_as(two_sessions["mentor"])
    response = htmx_upload(web, two_sessions["session"], data, name, "kept", status=422)
    section = response.html.select_one("section")
    error = section.select_one(f"#files-{two_sessions['session'].id}-file-error")
    assert message in error.text
    if "type" in message:
        assert "PDF, video (MP4, WebM, QuickTime, MPEG)" in error.text
    assert section.select_one("input[name=file]")["aria-invalid"] == "true"
    assert section.select_one("input[name=description]")["value"] == "kept"
    assert files_in(storage) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attachment)) == 0


def test_a_form_sent_without_a_file_is_422(web, login_as, two_sessions):
    login_as(two_sessions["mentor"])
    token = csrf_token_of(web.get(session_url(two_sessions["session"])))
    response = web.post(
        upload_url(two_sessions["session"]),
        {"description": "x", "csrf_token": token},
        status=422,
    )
    assert "Choose a file to upload." in response.text
    assert "<html" in response.text  # a plain post gets a page with the section


def test_only_the_mentor_and_staff_upload(web, login_as, two_sessions, storage):
    login_as(two_sessions["student"])
    htmx_upload(web, two_sessions["session"], samples.pdf(), "a.pdf", status=403)
    web.reset()
    login_as(two_sessions["other_mentor"])
    htmx_upload(web, two_sessions["other_session"], samples.pdf(), "a.pdf")  # their own: fine
    token = csrf_token_of(web.get("/notifications/"))
    web.post(
        upload_url(two_sessions["session"]),
        upload_files=[("file", "a.pdf", samples.pdf())],
        headers={"HX-Request": "true", "X-CSRFToken": token},
        status=404,
    )
    web.reset()
    login_as("coordinator")
    htmx_upload(web, two_sessions["session"], samples.pdf(), "b.pdf")
    assert len(files_in(storage)) == 2


def test_an_upload_without_the_csrf_token_is_refused(web, login_as, two_sessions, storage):
    login_as(two_sessions["mentor"])
    response = web.post(
        upload_url(two_sessions["session"]),
        upload_files=[("file", "a.pdf", samples.pdf())],
        headers={"HX-Request": "true"},
        status=400,
    )
    assert "security token" in response.text
    assert files_in(storage) == []


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("../../etc/passwd", "passwd.pdf"),
        ("..\\x.pdf", "x.pdf"),
        ("a\x00b.pdf", "ab.pdf"),
        # Browsers send a newline in a name as %0A (HTML's multipart encoding): harmless text.
        ("new%0Aline.pdf", "new%0Aline.pdf"),
        ("evil\u202efdp.exe", "evilfdp.exe.pdf"),
    ],
)
def test_path_traversal_names_never_reach_the_path(
    web, login_as, two_sessions, storage, name, shown
):
    attachment = uploaded(web, login_as, two_sessions, name=name)
    assert attachment.original_name == shown
    assert files_in(storage) == [attachment.stored_name]
    on_disk = [p for p in storage.staging_folder.parent.rglob("*") if p.is_file()]
    if storage.setting == "UPLOAD_FOLDER":
        assert on_disk == [storage.staging_folder / attachment.stored_name]
    else:
        assert on_disk == [], "nothing stays on this host's disk"


def test_a_failed_database_write_leaves_no_orphan_file(
    web, login_as, two_sessions, storage, monkeypatch
):
    login_as(two_sessions["mentor"])

    def broken(*args, **kwargs):
        raise OperationalError("INSERT INTO session_event", {}, Exception("disk I/O error"))

    monkeypatch.setattr(service.events, "record_event", broken)
    with pytest.raises(OperationalError):
        htmx_upload(web, two_sessions["session"], samples.pdf(), "a.pdf")
    assert files_in(storage) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attachment)) == 0


# --- Size ---------------------------------------------------------------------------------------


def test_at_the_limit_passes_and_one_byte_more_is_413_in_the_page(
    app, web, login_as, two_sessions, storage, monkeypatch
):
    monkeypatch.setitem(app.config, "MAX_UPLOAD_MB", 1)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", MB + 64 * 1024)
    login_as(two_sessions["mentor"])
    exact = samples.pdf().ljust(MB, b"\0")
    assert htmx_upload(web, two_sessions["session"], exact, "exact.pdf").status_int == 200
    response = htmx_upload(web, two_sessions["session"], exact + b"\0", "over.pdf", status=413)
    assert (
        response.html.select_one("#error-413")
        .text.strip()
        .endswith("The file is larger than 1 MB.")
    )
    plain = web.post(
        upload_url(two_sessions["session"]),
        {"csrf_token": csrf_token_of(web.get("/notifications/"))},
        upload_files=[("file", "over.pdf", exact + b"\0")],
        status=413,
    )
    assert "<html" in plain.text and "The file is larger than 1 MB." in plain.text
    assert f'href="/sessions/{two_sessions["session"].id}#files-' in plain.text
    assert len(files_in(storage)) == 1


def _streamed_post(app, web, path, body, *, content_length, headers):
    cookie = "; ".join(f"{k}={v}" for k, v in web.cookies.items())
    builder = EnvironBuilder(
        path=path,
        method="POST",
        headers={"Cookie": cookie, **headers},
    )
    environ = builder.get_environ()
    # The body is produced as the app reads it (EnvironBuilder would want to seek in it).
    environ["wsgi.input"] = body
    environ["CONTENT_TYPE"] = "multipart/form-data; boundary=XBOUNDARY"
    if content_length is not None:
        environ["CONTENT_LENGTH"] = str(content_length)
    else:
        # A chunked upload: no length announced, the server reads until the end.
        environ.pop("CONTENT_LENGTH", None)
        environ["wsgi.input_terminated"] = True
    app_iter, status, _headers = run_wsgi_app(app.wsgi_app, environ, buffered=True)
    return int(status.split()[0]), b"".join(app_iter).decode()


@pytest.mark.parametrize(
    "announced",
    [
        pytest.param(True, id="content-length"),
        # Werkzeug leaves the temporary file of the part it was reading when it stops at the
        # limit for the garbage collector (a ResourceWarning there, not in this app's code).
        pytest.param(
            False,
            id="chunked",
            marks=[
                pytest.mark.filterwarnings("ignore::ResourceWarning"),
                pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
            ],
        ),
    ],
)
def test_a_101_mb_upload_is_413_without_holding_it_in_memory(
    app, web, login_as, two_sessions, upload_folder, announced
):
    login_as(two_sessions["mentor"])
    token = csrf_token_of(web.get(session_url(two_sessions["session"])))
    payload = samples.PatternStream(101 * MB, samples.pdf())
    body = samples.multipart_stream(
        {"csrf_token": token, "description": "big"}, "file", "big.pdf", payload, "XBOUNDARY"
    )
    size = 101 * MB + 400  # a little more than the payload: the framing
    tracemalloc.start()
    try:
        status, text = _streamed_post(
            app,
            web,
            upload_url(two_sessions["session"]),
            body,
            content_length=size if announced else None,
            headers={"HX-Request": "true", "X-CSRFToken": token},
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 413
    assert "The file is larger than 100 MB." in text
    assert peak < 8 * MB, f"peak {peak / MB:.1f} MB"
    if announced:
        assert payload.position == 0, "refused on the announced length, nothing read"
    else:
        # Read while streaming and stopped at the limit.
        assert 99 * MB < payload.position <= 100 * MB + 128 * 1024
    assert not upload_folder.exists() or list(upload_folder.iterdir()) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attachment)) == 0


# --- Download -----------------------------------------------------------------------------------


def test_a_student_of_the_session_downloads_with_safe_headers(web, login_as, two_sessions, storage):
    data = samples.pdf()
    attachment = uploaded(web, login_as, two_sessions, data=data, name="Résumé été.pdf")
    web.reset()
    login_as(two_sessions["student"])
    response = web.get(f"/attachments/{attachment.id}/download")
    assert response.body == data
    assert response.content_type == "application/pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''R%C3%A9sum%C3%A9%20%C3%A9t%C3%A9.pdf" in disposition
    assert "private" in response.headers["Cache-Control"]


def test_another_students_file_is_404(web, login_as, two_sessions, storage):
    attachment = uploaded(web, login_as, two_sessions)
    web.reset()
    login_as(two_sessions["stranger"])
    web.get(f"/attachments/{attachment.id}/download", status=404)
    web.get("/attachments/999999/download", status=404)
    web.get(f"/attachments/{2**63}/download", status=404)
    web.reset()
    login_as(two_sessions["other_mentor"])
    web.get(f"/attachments/{attachment.id}/download", status=404)


def test_anonymous_visitors_are_sent_to_log_in(web, login_as, two_sessions):
    attachment = uploaded(web, login_as, two_sessions)
    web.reset()
    response = web.get(f"/attachments/{attachment.id}/download", status=302)
    assert "/auth/login" in response.location


def test_a_renamed_upload_downloads_under_its_real_type(web, login_as, two_sessions, storage):
    attachment = uploaded(web, login_as, two_sessions, data=samples.png(), name="report.pdf.exe")
    response = web.get(f"/attachments/{attachment.id}/download")
    assert response.content_type == "image/png"
    assert "filename=report.pdf.exe.png" in response.headers["Content-Disposition"]


# --- Delete -------------------------------------------------------------------------------------


def test_delete_removes_the_row_and_the_file_in_place(web, htmx, login_as, two_sessions, storage):
    attachment = uploaded(web, login_as, two_sessions)
    assert files_in(storage) == [attachment.stored_name]
    response = htmx.post(
        f"/attachments/{attachment.id}/delete", page=session_url(two_sessions["session"])
    )
    assert response.html.select_one("section")["id"] == f"files-{two_sessions['session'].id}"
    assert "No files yet." in response.text
    assert json.loads(response.headers["HX-Trigger"])["toast"]["message"] == "Deleted slides.pdf."
    assert files_in(storage) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attachment)) == 0


def test_a_plain_delete_redirects_to_the_session(web, login_as, two_sessions, storage):
    attachment = uploaded(web, login_as, two_sessions)
    page = web.get(session_url(two_sessions["session"]))
    form = next(
        f for f in page.forms.values() if f.action == f"/attachments/{attachment.id}/delete"
    )
    response = form.submit()
    assert response.location.endswith(f"#files-{two_sessions['session'].id}")
    assert "Deleted slides.pdf." in response.follow().text
    assert files_in(storage) == []


def test_who_may_delete(web, htmx, login_as, two_sessions, storage):
    attachment = uploaded(web, login_as, two_sessions)
    url = f"/attachments/{attachment.id}/delete"
    web.reset()
    login_as(two_sessions["student"])
    htmx.post(url, status=403)
    web.reset()
    login_as(two_sessions["other_mentor"])
    htmx.post(url, status=404)
    web.reset()
    login_as("admin")
    htmx.post(url)
    assert files_in(storage) == []


def test_a_delete_without_the_csrf_token_is_refused(web, login_as, two_sessions, storage):
    attachment = uploaded(web, login_as, two_sessions)
    web.post(f"/attachments/{attachment.id}/delete", headers={"HX-Request": "true"}, status=400)
    assert files_in(storage) == [attachment.stored_name]


def test_a_failed_delete_commit_keeps_row_and_file(web, htmx, login_as, two_sessions, storage):
    attachment = uploaded(web, login_as, two_sessions)
    stored_name = attachment.stored_name
    session = db.session()

    def fail(_session):
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    sa.event.listen(session, "before_commit", fail)
    try:
        with pytest.raises(OperationalError):
            htmx.post(
                f"/attachments/{attachment.id}/delete", page=session_url(two_sessions["session"])
            )
    finally:
        sa.event.remove(session, "before_commit", fail)
    db.session.rollback()
    assert files_in(storage) == [stored_name]
    assert db.session.scalar(sa.select(Attachment.stored_name)) == stored_name


HX = {"HX-Request": "true", "HX-Request-Type": "partial"}


@pytest.mark.usefixtures("pinned_clock")
def test_a_gif_html_polyglot_is_stored_and_served_as_a_gif_never_as_a_page(
    web, login_as, yesterdays_lesson, storage
):
    polyglot = samples.gif() + b"<html><body><script>alert(document.cookie)</script></body></html>"
    login_as(yesterdays_lesson["mentor"])
    token = csrf_token_of(web.get(f"/sessions/{yesterdays_lesson['session'].id}"))
    web.post(
        f"/attachments/sessions/{yesterdays_lesson['session'].id}",
        {"description": ""},
        upload_files=[("file", "page.html", polyglot, "text/html")],
        headers={**HX, "X-CSRFToken": token},
    )
    [attachment] = db.session.scalars(select(Attachment)).all()
    assert (attachment.content_type, attachment.original_name) == ("image/gif", "page.html.gif")
    web.reset()
    login_as(yesterdays_lesson["student"])
    response = web.get(f"/attachments/{attachment.id}/download")
    assert response.body == polyglot
    assert response.content_type == "image/gif"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "page.html.gif" in disposition
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


@pytest.mark.usefixtures("pinned_clock")
def test_a_deleted_or_hidden_file_is_404_in_fragments_and_downloads(
    web, htmx, login_as, yesterdays_lesson, make_user, storage
):
    login_as(yesterdays_lesson["mentor"])
    page = f"/sessions/{yesterdays_lesson['session'].id}"
    token = csrf_token_of(web.get(page))
    web.post(
        f"/attachments/sessions/{yesterdays_lesson['session'].id}",
        {"description": ""},
        upload_files=[("file", "a.pdf", samples.pdf())],
        headers={**HX, "X-CSRFToken": token},
    )
    attachment = db.session.scalar(select(Attachment))
    web.reset()
    login_as(make_user("student"))  # sees nothing of that session
    htmx.get(f"/attachments/sessions/{yesterdays_lesson['session'].id}", status=404)
    htmx.get(f"/attachments/{attachment.id}/download", status=404)
    web.reset()
    login_as(yesterdays_lesson["mentor"])
    htmx.post(f"/attachments/{attachment.id}/delete", page=page)
    web.get(f"/attachments/{attachment.id}/download", status=404)
    htmx.post(f"/attachments/{attachment.id}/delete", page=page, status=404)
