"""Files attached to sessions: the section on the session page, upload (type checked from
content), download, delete, and the 413 answer for a body over the limit.

Everyone who may see a session sees its files and downloads them (anyone else gets 404); the
session's mentor and staff upload; the uploader, the session's mentor and staff delete (403
for others who can see the session). htmx and the upload script (static/upload.js, which
sends HX-Request) get the section back in place; plain form posts are redirected to the
session page, or shown the section on a page of its own with the errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from blueprints.access import is_htmx, is_htmx_partial, load_or_404, takes_uploads
from blueprints.api.common import is_api_request, problem
from blueprints.attachments.files import max_upload_bytes, send_attachment, storage
from blueprints.attachments.forms import AttachmentForm
from blueprints.extensions import login_manager
from blueprints.feedback import form_action, page_or_fragment, toast
from models import Attachment, Occurrence, db
from services.permissions import can_delete_attachment, can_upload
from services.storage import StorageUnavailable
from services.timetable.sessions import get_visible_session
from services.tracking.attachments import (
    ALLOWED_TEXT,
    FileTooLarge,
    attach_upload,
    delete_attachment,
    format_limit,
)
from services.tracking.session_panel import FileRow, FilesSection, files_section

bp = Blueprint("attachments", __name__, url_prefix="/attachments")

MISSING_FILE = (
    "This file's content is missing from the file storage, so it cannot be downloaded. "
    "Please tell an admin: the server's log names the file."
)

# What the file picker offers (a convenience only: the server decides from the content).
ACCEPT = (
    ".pdf,.mp4,.m4v,.webm,.mov,.mpg,.mpeg,.mp3,.wav,.docx,.xlsx,.doc,.xls,"
    ".png,.jpg,.jpeg,.gif,.webp"
)


# --- The section's data with its form (also a template global, for the session page) ------------


@dataclass
class FilesPanel:
    occurrence: Occurrence
    rows: list[FileRow]
    can_upload: bool
    form: AttachmentForm | None
    max_bytes: int
    max_label: str
    accept: str = ACCEPT
    allowed: str = ALLOWED_TEXT
    notice: str | None = None
    errors: list[str] = field(default_factory=list)


@bp.app_template_global("files_view")
def files_view(
    occurrence: Occurrence,
    files: FilesSection,
    form: AttachmentForm | None = None,
    notice: str | None = None,
) -> FilesPanel:
    """What the files section shows: the section's data (see `files_section`), and the upload
    form for those who may upload."""
    uploader = files.can_upload
    if uploader and form is None:
        # formdata=None: never bound to whatever the page's own request posted.
        form = AttachmentForm(formdata=None)
    return FilesPanel(
        occurrence=occurrence,
        rows=files.rows,
        can_upload=uploader,
        form=form if uploader else None,
        max_bytes=max_upload_bytes(),
        max_label=format_limit(max_upload_bytes()),
        notice=notice,
    )


# --- Helpers ------------------------------------------------------------------------------------


def _load_session(occurrence_id: int) -> Occurrence:
    return get_visible_session(current_user, occurrence_id)


def _load_attachment(attachment_id: int) -> tuple[Attachment, Occurrence]:
    """The attachment and its session; 404 unless the user may see that session."""
    attachment = load_or_404(Attachment, attachment_id)
    return attachment, _load_session(attachment.occurrence_id)


def _render_section(occurrence: Occurrence, *, status: int = 200, headers=None, **panel_args):
    panel = files_view(occurrence, files_section(current_user, occurrence), **panel_args)
    return page_or_fragment(
        "attachments/page.html", "attachments/_files_section.html", status, headers,
        occurrence=occurrence, files_panel=panel,
    )  # fmt: skip


def _session_page(occurrence_id: int) -> str:
    return url_for("sessions.detail", occurrence_id=occurrence_id) + f"#files-{occurrence_id}"


# --- Routes -------------------------------------------------------------------------------------


@bp.get("/sessions/<id:occurrence_id>")
@login_required
def section(occurrence_id: int):
    return _render_section(_load_session(occurrence_id))


@bp.post("/sessions/<id:occurrence_id>")
@takes_uploads
@login_required
def upload(occurrence_id: int):
    occurrence = _load_session(occurrence_id)
    if not can_upload(current_user, occurrence):
        abort(403)
    form = AttachmentForm()
    sent = request.files.get("file")
    with form_action() as outcome:
        attachment = attach_upload(
            occurrence=occurrence,
            uploader=current_user,
            # A form sent without choosing a file has an empty part with no name.
            stream=sent.stream if sent is not None and sent.filename else None,
            original_name=sent.filename if sent is not None else None,
            description=form.description.data,
            storage=storage(),
            max_bytes=max_upload_bytes(),
        )
    if isinstance(outcome.error, FileTooLarge):
        return _too_large_response(outcome.message)
    if outcome.failed:
        # Every refusal of an upload is about its file, unless it is about the description.
        for key, message in outcome.messages.items():
            target = form[key] if key in ("file", "description") else form.file
            target.errors = [*target.errors, message]
        return _render_section(occurrence, status=422, form=form)
    message = f"Added {attachment.original_name}."
    if is_htmx():
        return _render_section(occurrence, headers=toast(message), notice=message)
    flash(message, "success")
    return redirect(_session_page(occurrence.id))


@bp.get("/<id:attachment_id>/download")
@login_required
def download(attachment_id: int):
    attachment, _occurrence = _load_attachment(attachment_id)
    response = send_attachment(attachment)
    if response is None:
        abort(404, MISSING_FILE)
    return response


@bp.post("/<id:attachment_id>/delete")
@login_required
def delete(attachment_id: int):
    attachment, occurrence = _load_attachment(attachment_id)
    if not can_delete_attachment(current_user, attachment, occurrence):
        abort(403)
    name = attachment.original_name
    delete_attachment(attachment=attachment, actor=current_user, storage=storage())
    db.session.commit()
    message = f"Deleted {name}."
    if is_htmx():
        return _render_section(occurrence, headers=toast(message), notice=message)
    flash(message, "success")
    return redirect(_session_page(occurrence.id))


# --- 413 ----------------------------------------------------------------------------------------


def _too_large_response(message: str):
    occurrence_id = (request.view_args or {}).get("occurrence_id")
    back = _session_page(occurrence_id) if isinstance(occurrence_id, int) else None
    template = "attachments/_too_large.html" if is_htmx() else "attachments/too_large.html"
    return render_template(template, message=message, back=back), 413


@bp.errorhandler(413)
def request_too_large(_error):
    """Werkzeug refused a body over MAX_CONTENT_LENGTH while reading it: say so plainly, as a
    fragment for htmx and the upload script, as a page otherwise. (Other pages answer 413
    with the app's error page.)"""
    if not current_user.is_authenticated:
        # Held to the small limit because nobody is signed in (see UploadFolderRequest in
        # app.py): a tab that was logged out gets what a smaller file would, the login page.
        return login_manager.unauthorized()
    return _too_large_response(f"The file is larger than {format_limit(max_upload_bytes())}.")


# --- Storage out of reach -----------------------------------------------------------------------

STORAGE_RETRY_AFTER_SECONDS = 30
STORAGE_UNAVAILABLE = (
    "The file storage cannot be reached just now, so nothing was changed. "
    "Please try again in a minute."
)


@bp.app_errorhandler(StorageUnavailable)
def storage_unavailable(error: StorageUnavailable):
    """The file storage (a bucket) could not be reached or refused: 503 with Retry-After, the
    app's error page (a fragment for htmx, a problem under /api/). An upload it refused was
    not kept (no row, no staging file): nothing changed. What went wrong is logged for the
    operator, not shown."""
    db.session.rollback()
    current_app.logger.warning("file storage unavailable: %s", error.message)
    headers = {"Retry-After": str(STORAGE_RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}
    if is_api_request():
        return problem(503, STORAGE_UNAVAILABLE, title="Service Unavailable", headers=headers)
    template = "errors/_error.html" if is_htmx_partial() else "errors/error.html"
    body = render_template(
        template, code=503, title="File storage unavailable", description=STORAGE_UNAVAILABLE
    )
    return body, 503, headers
