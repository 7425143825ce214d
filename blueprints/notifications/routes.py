"""Notifications: the bell in the navigation (asked for when a live event says a notification
arrived, polled while the live stream is down), the list, marking read, following a
notification's link; and mailing the outbox once a request that wrote to it has finished."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required, login_url
from sqlalchemy import select

from blueprints.access import is_htmx, load_or_404
from blueprints.auth.routes import safe_next_path
from blueprints.extensions import login_manager
from blueprints.feedback import page_or_fragment
from blueprints.notifications.commands import send_notifications
from models import Notification, db
from services.common.numbers import whole_number
from services.common.pagination import page_number, paginate
from services.notifications.inbox import bell_state, mark_read, unread_count

bp = Blueprint("notifications", __name__, url_prefix="/notifications", cli_group=None)
bp.cli.add_command(send_notifications)

# How each kind reads on its badge; an unknown kind shows its own words.
KIND_LABELS = {
    "request_new": "New request",
    "request_approved": "Request approved",
    "request_rejected": "Request rejected",
    "request_declined": "Request declined",
    "request_dates_taken": "Request dates taken",
    "request_withdrawn": "Request withdrawn",
    "session_cancelled": "Session cancelled",
    "session_moved": "Session moved",
    "session_restored": "Session restored",
    "session_removed": "Session removed",
    "group_enrolled": "Enrolled",
    "group_moved": "Moved to another group",
}


@bp.app_template_filter("notification_kind")
def notification_kind(kind: str) -> str:
    return KIND_LABELS.get(kind) or kind.replace("_", " ").capitalize()


@bp.app_context_processor
def _bell_counts():
    """For the bell in every page's navigation (called only when the bell is drawn)."""
    return {"notification_bell_counts": lambda: bell_state(current_user.id)}


def _non_negative_int(raw: str | None) -> int | None:
    return whole_number(raw, 10**18)


def _bell(unread: int, latest: int, **headers):
    """The bell fragment, carrying the counts it will compare on its next poll."""
    html = render_template("notifications/_bell.html", bell_unread=unread, bell_latest=latest)
    return html, 200, {"Cache-Control": "no-store", **headers}


def _signed_out_bell():
    """After a logout (here or in another tab) the polling bell turns into a "Log in again"
    link that no longer polls, instead of pulling the whole tab to the login page while
    someone reads it; the next thing they click meets the login page as usual."""
    page = urlsplit(request.headers.get("HX-Current-URL", ""))
    back = (
        safe_next_path(page.path + (f"?{page.query}" if page.query else "")) if page.path else None
    )
    html = render_template(
        "notifications/_bell_signed_out.html",
        login_url=login_url(login_manager.login_view, next_url=back),
    )
    return html, 200, {"Cache-Control": "no-store"}


def _nothing_changed() -> Response:
    response = Response(status=204, headers={"Cache-Control": "no-store"})
    del response.headers["Content-Type"]  # no content, so no type either
    return response


@bp.get("/bell")
def bell():
    """Polled every 10 s with the newest id and the unread count the page shows: 204 (htmx
    leaves the bell alone) while both still hold, else the new bell, with a toast naming
    the newest notification when one arrived."""
    if not current_user.is_authenticated:
        return _signed_out_bell() if is_htmx() else login_manager.unauthorized()
    since = _non_negative_int(request.args.get("since"))
    shown_unread = _non_negative_int(request.args.get("unread"))
    unread, latest = bell_state(current_user.id)
    if since is None or shown_unread is None:
        return _bell(unread, latest)  # not a poll of ours: the current bell, no toast
    if latest == since and unread == shown_unread:
        return _nothing_changed()
    headers = {}
    if latest > since:
        newest = db.session.get(Notification, latest)
        toast = {"message": newest.title}
        if newest.link:
            # The toast leads where the notification does; app.js makes it a button that
            # POSTs here, which marks it read.
            toast["link"] = url_for("notifications.open_link", notification_id=latest)
        events = {"toast": toast}
        if _request_news(current_user.id, since):
            # Lists of requests on the page redraw themselves (the pending list, my requests).
            events["requests-changed"] = {}
        headers["HX-Trigger"] = json.dumps(events)
    return _bell(unread, latest, **headers)


def _request_news(user_id: int, since: int) -> bool:
    """Whether a notification about a request reached `user_id` after notification `since`."""
    return bool(
        db.session.scalar(
            select(Notification.id)
            .where(
                Notification.user_id == user_id,
                Notification.id > since,
                Notification.kind.startswith("request_", autoescape=True),
            )
            .limit(1)
        )
    )


@bp.get("/")
@login_required
def index():
    query = (
        select(Notification)
        .where(Notification.user_id == current_user.id)
        .order_by(Notification.id.desc())
    )
    page = paginate(query, page_number(request.args.get("page")))
    return page_or_fragment(
        "notifications/index.html", "notifications/_list.html",
        page=page, unread=unread_count(current_user.id),
    )  # fmt: skip


def _own_or_404(notification_id: int) -> Notification:
    note = load_or_404(Notification, notification_id)
    if note.user_id != current_user.id:
        abort(404)  # another user's notification does not exist for this one
    return note


@bp.post("/<id:notification_id>/read")
@login_required
def read(notification_id: int):
    note = _own_or_404(notification_id)
    mark_read(current_user.id, [note.id])
    db.session.commit()
    if is_htmx():
        db.session.refresh(note)
        unread, latest = bell_state(current_user.id)
        return render_template(
            "notifications/_read_response.html",
            note=note,
            unread=unread,
            bell_unread=unread,
            bell_latest=latest,
        )
    page = page_number(request.args.get("page"))
    return redirect(url_for("notifications.index", page=page if page > 1 else None))


@bp.post("/read-all")
@login_required
def read_all():
    count = mark_read(current_user.id)
    db.session.commit()
    flash(
        f"Marked {count} notification{'s' if count != 1 else ''} read."
        if count
        else "Nothing unread.",
        "success",
    )
    return redirect(url_for("notifications.index"))


@bp.route("/<id:notification_id>/open", methods=["GET", "POST"])
@login_required
def open_link(notification_id: int):
    """Follow a notification: go where it leads (a same-site path only; anything else, or no
    link, comes back to the list). A POST (the list's and the toast's buttons) marks it read
    first; a GET only redirects, since prefetchers and link scanners open links too."""
    note = _own_or_404(notification_id)
    if request.method == "POST":
        mark_read(current_user.id, [note.id])
        db.session.commit()
    target = safe_next_path(note.link)
    return redirect(target or url_for("notifications.index"))
