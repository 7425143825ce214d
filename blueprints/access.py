"""Access helpers shared by the routes: role checks and the organisation's time zone."""

from __future__ import annotations

from functools import wraps
from zoneinfo import ZoneInfo

from flask import abort, current_app
from flask_login import current_user, login_required

from services.timeutil import zone


def org_tz() -> ZoneInfo:
    return zone(current_app.config["TIMEZONE"])


def staff_required(view):
    """Logged in as an admin or coordinator; other roles get 403."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_staff:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def is_htmx() -> bool:
    from flask import request

    return request.headers.get("HX-Request") == "true"


def is_htmx_partial() -> bool:
    """htmx 4 marks fragment requests; history restores and plain links get full pages."""
    from flask import request

    return (
        is_htmx()
        and request.headers.get("HX-Request-Type", "partial") == "partial"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )
