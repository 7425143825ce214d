"""Where uploads live and how a stored file goes back to the browser, for the pages and the
API alike (each answers a missing file in its own way)."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Response, current_app, send_file

from models import Attachment
from services.tracking.attachments import stored_path

log = logging.getLogger(__name__)


def upload_folder() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"])


def max_upload_bytes() -> int:
    return int(current_app.config["MAX_UPLOAD_MB"] * 1024 * 1024)


def send_attachment(attachment: Attachment) -> Response | None:
    """The file as a download (attachment disposition, its sha256 as ETag, private, nosniff),
    or None, logged, when the stored file is missing."""
    path = stored_path(upload_folder(), attachment)
    if not path.is_file():
        log.error("attachment %s: file %s is missing", attachment.id, path)
        return None
    response = send_file(
        path,
        mimetype=attachment.content_type,
        as_attachment=True,
        download_name=attachment.original_name,
        conditional=True,
        etag=attachment.sha256,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.cache_control.private = True
    return response
