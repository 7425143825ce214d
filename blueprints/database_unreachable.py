"""While the database cannot be reached (PostgreSQL restarting, the network to it down), every
request that needs it is answered 503 with `Retry-After` and a page in plain words (its htmx
fragment, or problem+json under /api/), instead of a 500 with a traceback per request.

"Unreachable" is narrow on purpose: a connection lost under a statement (SQLAlchemy marks the
error `connection_invalidated`), or an OperationalError raised while connecting (refused, timed
out, "the database system is starting up"). SQLite's errors never count: its "database is
locked" is contention on a file that is there, and stays a 500 to be fixed at its cause.

Pooled connections that went stale in a restart are replaced before use (`pool_pre_ping`, in
app.py), so only requests made while the server is really away get this answer.
"""

from __future__ import annotations

import contextlib
import sqlite3

from flask import current_app, render_template
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from blueprints.access import is_htmx_partial
from blueprints.api.common import is_api_request, problem
from blueprints.extensions import login_manager
from models import db

# A PostgreSQL restart takes a few seconds; clients and browsers retry after this.
RETRY_AFTER_SECONDS = 10
TITLE = "Database unreachable"
DESCRIPTION = (
    "Termtable cannot reach its database just now. This usually lasts a few seconds (the "
    "database restarting): wait a moment, then reload the page. A form you sent may not have "
    "been saved: check before sending it again. If it lasts, tell whoever runs Termtable."
)


def is_unreachable(error: BaseException | None) -> bool:
    """Whether a database error means the server is away (not a bad statement, a constraint
    or SQLite's lock)."""
    if not isinstance(error, DBAPIError) or isinstance(error.orig, sqlite3.Error):
        return False
    if error.connection_invalidated:
        return True
    # No statement yet: the error came from opening the connection.
    return isinstance(error, OperationalError) and error.statement is None


def database_error(error: DBAPIError):
    """Error handler for DBAPIError: 503 when the database is unreachable; anything else is
    raised again, to be the 500 it was."""
    if not is_unreachable(error):
        raise error
    return unreachable_response(error)


def server_error(error: InternalServerError):
    """Error handler for 500: a database that went away while an error page was being drawn
    (the user loaded for its header) is a 503 too; any other 500 goes to the app's handler."""
    if is_unreachable(error.original_exception):
        return unreachable_response(error.original_exception)
    generic = current_app.error_handler_spec[None][None].get(HTTPException)
    return generic(error) if generic else error


def unreachable_response(error: DBAPIError):
    current_app.logger.warning("Database unreachable, answering 503: %s", error.orig)
    # The connection may be gone already; the session is reset when the request ends anyway.
    with contextlib.suppress(DBAPIError):
        db.session.rollback()
    # The page's header would load the user (or their unread count) from the same database.
    login_manager._update_request_context_with_user()
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}
    if is_api_request():
        return problem(503, DESCRIPTION, title=TITLE, headers=headers)
    template = "errors/_error.html" if is_htmx_partial() else "errors/error.html"
    body = render_template(template, code=503, title=TITLE, description=DESCRIPTION)
    return body, 503, headers


def anonymous_on_database_error(loader):
    """Wrap Flask-Login's user loader: when the database fails, the visitor counts as anonymous
    for the rest of the request, so the error page (503 or 500) can be drawn without loading
    them again, and the error goes on to its handler."""

    def load(user_id: str):
        try:
            return loader(user_id)
        except DBAPIError:
            login_manager._update_request_context_with_user()
            raise

    return load
