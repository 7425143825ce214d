"""Access helpers shared by the routes: role checks and the organisation's time zone."""

from __future__ import annotations

from functools import wraps
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from flask import abort, current_app
from flask_login import current_user, login_required

from models import db
from services.common.timeutil import zone


def org_tz() -> ZoneInfo:
    return zone(current_app.config["TIMEZONE"])


def load_or_404(model, ident: int):
    """The row with this primary key (from an `<id:>` in the path, see blueprints/ids.py),
    or a 404."""
    row = db.session.get(model, ident)
    if row is None:
        abort(404)
    return row


def staff_required(view):
    """Logged in as an admin or coordinator; other roles get 403."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_staff:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def reads_first(view):
    """Mark a POST view whose first transaction only reads, taking no write lock on SQLite (see
    models/__init__.py): it checks or hashes a password (scrypt, about half a second of CPU),
    which must not hold every writer up meanwhile. It writes nothing in that transaction
    (SQLite may refuse to upgrade a read to a write once another writer has committed): it
    ends it with `end_read_phase()` and writes in the next one, which takes the lock."""
    view.reads_first = True
    return view


def end_read_phase() -> None:
    """End a `reads_first` view's reading transaction; the next statement begins the one
    that writes (objects loaded so far are read again from it)."""
    db.session.rollback()


def takes_uploads(view):
    """Mark a view that receives a file: its body may be as large as MAX_CONTENT_LENGTH (for
    a signed-in user) and its file is streamed to a staging file in the upload folder; every
    other request is held to MAX_REQUEST_KB (see UploadFolderRequest in app.py)."""
    view.takes_uploads = True
    return view


def body_limit_text(max_bytes: int | None) -> str:
    """A request body limit in words: '1 MB', '64 KB' (binary units, as it is counted)."""
    kb = (max_bytes or 0) / 1024
    return f"{kb / 1024:g} MB" if kb >= 1024 else f"{kb:g} KB"


def is_htmx() -> bool:
    from flask import request

    return request.headers.get("HX-Request") == "true"


def htmx_target_id() -> str | None:
    """The id of the element an htmx request swaps into, None without a target.

    htmx 4 names the target `tag#id` (`section#schedule`; just `div` for an element without
    an id, which gives ""), where htmx 2 sent the bare id.
    """
    from flask import request

    target = request.headers.get("HX-Target")
    if target is None:
        return None
    _tag, _, element_id = target.partition("#")
    return unquote(element_id)


def is_htmx_partial() -> bool:
    """htmx 4 marks fragment requests; history restores and plain links get full pages."""
    from flask import request

    return (
        is_htmx()
        and request.headers.get("HX-Request-Type", "partial") == "partial"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )
