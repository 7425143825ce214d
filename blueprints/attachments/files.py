"""Where uploads live and how a stored file goes back to the browser, for the pages and the
API alike (each answers a missing file in its own way)."""

from __future__ import annotations

import logging
import time
import unicodedata
from pathlib import Path
from urllib.parse import quote

from flask import Response, current_app, redirect, request, send_file
from werkzeug.datastructures import Headers
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.wsgi import wrap_file

from models import Attachment
from services.storage import Storage, StoredFileMissing, storage_for
from services.tracking.attachments import CHUNK_SIZE, stored_name

log = logging.getLogger(__name__)


def upload_folder() -> Path:
    """This host's folder for uploads being received (and the stored files, by default)."""
    return Path(current_app.config["UPLOAD_FOLDER"])


def storage() -> Storage:
    """The app's file storage (STORAGE_BACKEND: the upload folder, or an S3 bucket)."""
    return storage_for(current_app)


def max_upload_bytes() -> int:
    return int(current_app.config["MAX_UPLOAD_MB"] * 1024 * 1024)


def _disposition(download_name: str) -> tuple[str, dict[str, str]]:
    """`attachment` with the download name, as Werkzeug's send_file writes it: an ASCII
    fallback and the UTF-8 name (RFC 5987) when it is not ASCII."""
    try:
        download_name.encode("ascii")
    except UnicodeEncodeError:
        simple = unicodedata.normalize("NFKD", download_name)
        simple = simple.encode("ascii", "ignore").decode("ascii")
        quoted = quote(download_name, safe="!#$&+-.^_`|~")
        return "attachment", {"filename": simple, "filename*": f"UTF-8''{quoted}"}
    return "attachment", {"filename": download_name}


def _disposition_header(download_name: str) -> str:
    value, names = _disposition(download_name)
    headers = Headers()
    headers.set("Content-Disposition", value, **names)
    return headers["Content-Disposition"]


def send_attachment(attachment: Attachment) -> Response | None:
    """The file as a download (attachment disposition, its sha256 as ETag, private, nosniff,
    Range requests answered), or None, logged, when the stored file is missing. From a bucket
    it is streamed in chunks as it arrives, or, with S3_PRESIGNED_DOWNLOADS, the browser is
    sent to a short-lived link to the object (after the same checks: the caller made them).
    StorageUnavailable propagates (the app answers 503)."""
    store = storage()
    name = stored_name(attachment)
    url = store.download_url(
        name,
        disposition=_disposition_header(attachment.original_name),
        content_type=attachment.content_type,
    )
    if url is not None:
        response = redirect(url, 303)
        # The link expires: never kept by a cache.
        response.cache_control.no_store = True
        return response
    try:
        stored = store.open(name)
    except StoredFileMissing as err:
        log.error("attachment %s: file %s", attachment.id, err.message)
        return None
    if stored.path is not None:
        response = send_file(
            stored.path,
            mimetype=attachment.content_type,
            as_attachment=True,
            download_name=attachment.original_name,
            conditional=True,
            etag=attachment.sha256,
            max_age=0,
        )
    else:
        response = _streamed(attachment, stored.reader, stored.size_bytes, stored.modified)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.cache_control.private = True
    return response


def _streamed(attachment: Attachment, reader, size: int, modified) -> Response:
    """What send_file answers for a file on disk, from a seekable reader of the object:
    the same headers, conditional requests and ranges; the body read CHUNK_SIZE at a time."""
    response = current_app.response_class(
        wrap_file(request.environ, reader, buffer_size=CHUNK_SIZE),
        mimetype=attachment.content_type,
        headers={"Content-Disposition": _disposition_header(attachment.original_name)},
        direct_passthrough=True,
    )
    response.content_length = size
    if modified is not None:
        response.last_modified = modified
    response.cache_control.no_cache = True
    response.cache_control.max_age = 0
    response.expires = int(time.time())
    response.set_etag(attachment.sha256)
    byte_range = request.range.range_for_length(size) if request.range else None
    if byte_range is not None:
        # Ask the bucket for that range alone (if the answer is not 206 after all, the
        # reader reads from where it is asked to).
        reader.expect_range(*byte_range)
    try:
        return response.make_conditional(request.environ, accept_ranges=True, complete_length=size)
    except RequestedRangeNotSatisfiable:
        reader.close()
        raise
