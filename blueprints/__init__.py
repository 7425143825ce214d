"""Blueprints and the app-wide web plumbing (extensions, headers, error pages)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, current_app, flash, redirect, render_template, request
from flask_limiter import RateLimitExceeded
from flask_login import current_user, login_url
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import Forbidden, HTTPException, InternalServerError, NotFound

from blueprints.access import body_limit_text, is_htmx, is_htmx_partial
from blueprints.database_unreachable import (
    anonymous_on_database_error,
    database_error,
    server_error,
)
from blueprints.extensions import MigrationCommands, csrf, init_limiter, login_manager
from blueprints.same_origin import refuse_cross_site_requests
from models import db
from services.common.errors import NotAllowed, NotFoundError
from services.people.accounts import load_user_from_cookie

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def _security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    # Pages and error responses differ for htmx requests (fragment or full page).
    response.vary.add("HX-Request")
    # A page of someone's timetable, requests or files is kept by no cache on the way, nor by
    # the browser once they leave it (Back on a shared computer after logging out).
    if (
        response.mimetype == "text/html"
        and "Cache-Control" not in response.headers
        and current_user.is_authenticated
    ):
        response.headers["Cache-Control"] = "no-store"
    return response


def _error_response(error: HTTPException):
    code = error.code or 500
    description = error.description
    if isinstance(error, CSRFError):
        description = "Your form expired or was sent without its security token. Reload and retry."
    elif code == 413:
        # A body over what this address takes (see UploadFolderRequest in app.py), refused
        # as soon as its length (or what was read of it) said so.
        limit = body_limit_text(request.max_content_length)
        description = (
            f"What was sent is more than this page takes (at most {limit}): nothing was saved."
        )
    elif code == 429 and not (isinstance(error, RateLimitExceeded) and error.limit.error_message):
        # A limit without words of its own describes itself as "10 per 1 minute".
        description = f"Too many attempts ({description}). Please wait a minute and try again."
    elif code == 404 and description == NotFound.description:
        # Mostly a row gone since the page was drawn (removed in another tab, or a repeated
        # click): say so, rather than Werkzeug's "if you entered the URL manually".
        description = (
            "This is no longer here: it may have been removed already (in another tab or by "
            "someone else), or the address is wrong. Reload the page to see where things stand."
        )
    title = error.name
    if code == 403 and description == Forbidden.description:
        # A role that may not open the page or do the action: say so in plain words, not
        # Werkzeug's "read-protected or not readable by the server".
        title = "Not allowed"
        role = current_user.role if current_user.is_authenticated else "visitor"
        description = (
            f"Your account ({role}) cannot open this page or do this. If you need it, ask an "
            "admin of Termtable."
        )
    template = "errors/_error.html" if is_htmx_partial() else "errors/error.html"
    return render_template(template, code=code, title=title, description=description), code


def _refused(error: NotAllowed | NotFoundError):
    """A service's refusal left to propagate: the transaction it left half-done is rolled
    back, and the request is answered as `abort(403)` or `abort(404)` would be (the page, or
    the fragment for htmx; the API's blueprints answer problem details before this)."""
    db.session.rollback()
    status = Forbidden() if isinstance(error, NotAllowed) else NotFound()
    return current_app.handle_http_exception(status)


def _login_needed():
    """Anonymous visitors go to the login page, and come back afterwards (`next`)."""
    if is_htmx():
        # A fragment cannot show the login page in its place (and a 3xx would be followed
        # and swapped in): send the whole tab there, coming back to the page it showed.
        page = urlsplit(request.headers.get("HX-Current-URL", ""))
        next_path = page.path + (f"?{page.query}" if page.query else "") if page.path else None
        target = login_url(login_manager.login_view, next_url=next_path)
        return "", 401, {"HX-Redirect": target}
    flash(login_manager.login_message, login_manager.login_message_category)
    # A page comes back after logging in; a form sent while logged out (a second Log out, a
    # stale tab) is not sent again: its page (the same-site referrer) comes back instead.
    next_url = request.url if request.method == "GET" else _same_site_referrer()
    return redirect(login_url(login_manager.login_view, next_url=next_url))


def _same_site_referrer() -> str | None:
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc != request.host or not referrer.path.startswith("/"):
        return None
    return referrer.path + (f"?{referrer.query}" if referrer.query else "")


def register_blueprints(app: Flask) -> None:
    db.init_app(app)
    app.cli.add_command(MigrationCommands())
    # Before the CSRF check: a page of another site is told so, whatever its token.
    app.before_request(refuse_cross_site_requests)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.user_loader(anonymous_on_database_error(load_user_from_cookie))
    login_manager.unauthorized_handler(_login_needed)
    init_limiter(app)
    app.after_request(_security_headers)
    app.register_error_handler(HTTPException, _error_response)
    # "You may see it but not do this" is a 403, "not yours to see" a 404.
    app.register_error_handler(NotAllowed, _refused)
    app.register_error_handler(NotFoundError, _refused)
    # 503 with Retry-After while the database cannot be reached.
    app.register_error_handler(DBAPIError, database_error)
    app.register_error_handler(InternalServerError, server_error)

    from blueprints.api import init_api
    from blueprints.attachments.commands import bp as attachments_commands
    from blueprints.attachments.routes import bp as attachments_bp
    from blueprints.attendance.commands import bp as attendance_commands
    from blueprints.attendance.routes import bp as attendance_bp
    from blueprints.auth.commands import bp as auth_commands
    from blueprints.auth.routes import bp as auth_bp
    from blueprints.availability.routes import bp as availability_bp
    from blueprints.calendar.routes import bp as calendar_bp
    from blueprints.cover.commands import bp as cover_commands
    from blueprints.cover.routes import bp as cover_bp
    from blueprints.dashboard.routes import bp as dashboard_bp
    from blueprints.jobs.commands import bp as jobs_commands
    from blueprints.live.commands import bp as live_commands
    from blueprints.live.routes import bp as live_bp
    from blueprints.main.routes import bp as main_bp
    from blueprints.manage import bp as manage_bp
    from blueprints.manage.commands import bp as manage_commands
    from blueprints.manage.invitations import bp as invitations_bp
    from blueprints.notes.routes import bp as notes_bp
    from blueprints.notifications.routes import bp as notifications_bp
    from blueprints.profile.routes import bp as profile_bp
    from blueprints.requests.commands import bp as requests_commands
    from blueprints.requests.routes import bp as requests_bp
    from blueprints.schedule.routes import bp as schedule_bp
    from blueprints.sessions.routes import bp as sessions_bp
    from blueprints.template_helpers import register_template_helpers
    from blueprints.timetable import closures as _timetable_closures  # noqa: F401 (routes)
    from blueprints.timetable import day_changes as _day_changes  # noqa: F401 (routes)
    from blueprints.timetable import imports as _timetable_imports  # noqa: F401 (routes)
    from blueprints.timetable import public_holidays as _public_holidays  # noqa: F401 (routes)
    from blueprints.timetable import years as _timetable_years  # noqa: F401 (routes)
    from blueprints.timetable.commands import bp as timetable_commands
    from blueprints.timetable.routes import bp as timetable_bp
    from blueprints.tracking.routes import bp as tracking_bp

    register_template_helpers(app)
    app.register_blueprint(main_bp)
    app.register_blueprint(availability_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(auth_commands)
    app.register_blueprint(timetable_bp)
    app.register_blueprint(timetable_commands)
    app.register_blueprint(schedule_bp)
    app.register_blueprint(sessions_bp)
    app.register_blueprint(cover_bp)
    app.register_blueprint(cover_commands)
    app.register_blueprint(manage_bp)
    app.register_blueprint(manage_commands)
    app.register_blueprint(invitations_bp)
    app.register_blueprint(requests_bp)
    app.register_blueprint(requests_commands)
    app.register_blueprint(jobs_commands)
    app.register_blueprint(notifications_bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(tracking_bp)
    app.register_blueprint(attendance_bp)
    app.register_blueprint(attendance_commands)
    app.register_blueprint(notes_bp)
    app.register_blueprint(attachments_bp)
    app.register_blueprint(attachments_commands)
    app.register_blueprint(calendar_bp)
    app.register_blueprint(live_bp)
    app.register_blueprint(live_commands)
    app.register_blueprint(profile_bp)
    init_api(app)

    @app.teardown_request
    def _rollback_unfinished(exc):
        # A request that failed must not leave a half-done transaction for the next one.
        if exc is not None:
            db.session.rollback()
