"""Dashboards: a mentor's and a student's sessions, with video rooms and ratings, and the
mentor's tracking tabs.

`GET /dashboard/` (upcoming) and `GET /dashboard/past` answer the whole page, or only the
card list (`dashboard/_sessions.html`) to an htmx partial request: the upcoming list polls
itself every minute, so badges turn "ongoing" and the Join link appears without a reload.
Mentors have two more tabs: `GET /dashboard/completed` (a table of their completed sessions
with their numbers of notes and files, `dashboard/_completed.html`) and
`GET /dashboard/history` (the timeline of their sessions, `dashboard/_history.html`). Every
tab is a full page or, to htmx, its fragment (one root, `#dashboard-sessions`), with filters
(group, dates, status or kind, text in notes) and pages kept in its URL. Students have no
Completed or History tab (their past sessions are under Past) and are sent to their
dashboard; staff have no dashboard of their own and go to the schedule.

`POST /dashboard/sessions/<id>/rating` rates a completed session: htmx gets the card back
(422 or 409 with the message next to the stars), a plain form a redirect to the dashboard,
or the card on a page of its own when refused.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from blueprints.access import is_htmx, load_or_404, org_tz
from blueprints.dashboard.forms import RatingForm
from blueprints.feedback import form_action, page_or_fragment, toast
from models import Occurrence, Role
from services.common.errors import InvalidTransition, ValidationError
from services.common.pagination import page_number
from services.tracking.dashboard import DashboardTab, dashboard_page, session_card
from services.tracking.history import (
    EVENT_KINDS,
    SESSION_STATUSES,
    completed_page,
    group_choices,
    history_page,
    parse_filters,
)
from services.tracking.ratings import MAX_SCORE, rate_session

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")


COMPLETED, HISTORY = "completed", "history"


def _tabs() -> list[tuple[str, str, str]]:
    """(name, label, endpoint) of the viewer's tabs."""
    tabs = [
        (DashboardTab.UPCOMING.value, "Upcoming", "dashboard.index"),
        (DashboardTab.PAST.value, "Past sessions", "dashboard.past"),
    ]
    if current_user.role == Role.MENTOR:
        tabs += [
            (COMPLETED, "Completed", "dashboard.completed"),
            (HISTORY, "History", "dashboard.history"),
        ]
    return tabs


def _render_tab(tab: str, fragment: str, page, filters, *, status_name="status", statuses=()):
    return page_or_fragment(
        "dashboard/index.html",
        fragment,
        fragment=fragment,
        tab=tab,
        tabs=_tabs(),
        page=page,
        filters=filters,
        filter_args=filters.as_args(status_name),
        groups=group_choices(current_user),
        status_name=status_name,
        statuses=statuses,
    )


def _sessions(tab: DashboardTab):
    if current_user.is_staff:
        return redirect(url_for("schedule.week"))
    filters = parse_filters(request.args, statuses=SESSION_STATUSES)
    page = dashboard_page(
        current_user,
        tz=org_tz(),
        tab=tab,
        page=page_number(request.args.get("page")),
        filters=filters,
    )
    return _render_tab(
        tab.value, "dashboard/_sessions.html", page, filters, statuses=SESSION_STATUSES
    )


def _mentor_only():
    """Staff go to the schedule, students to their own dashboard (None for mentors)."""
    if current_user.is_staff:
        return redirect(url_for("schedule.week"))
    if current_user.role != Role.MENTOR:
        return redirect(url_for("dashboard.index"))
    return None


@bp.get("/completed")
@login_required
def completed():
    if (elsewhere := _mentor_only()) is not None:
        return elsewhere
    filters = parse_filters(request.args)
    page = completed_page(
        current_user, tz=org_tz(), filters=filters, page=page_number(request.args.get("page"))
    )
    return _render_tab(COMPLETED, "dashboard/_completed.html", page, filters)


@bp.get("/history")
@login_required
def history():
    if (elsewhere := _mentor_only()) is not None:
        return elsewhere
    filters = parse_filters(request.args, statuses=EVENT_KINDS, status_name="kind")
    page = history_page(
        current_user, tz=org_tz(), filters=filters, page=page_number(request.args.get("page"))
    )
    return _render_tab(
        HISTORY, "dashboard/_history.html", page, filters, status_name="kind", statuses=EVENT_KINDS
    )


@bp.get("/")
@login_required
def index():
    return _sessions(DashboardTab.UPCOMING)


@bp.get("/past")
@login_required
def past():
    return _sessions(DashboardTab.PAST)


def _card_response(occurrence_id: int, *, status: int = 200, headers=None, **context):
    card = session_card(current_user, occurrence_id, tz=org_tz())
    if card is None:
        abort(404)
    template = "dashboard/_card.html" if is_htmx() else "dashboard/rating.html"
    return render_template(template, card=card, **context), status, headers or {}


@bp.post("/sessions/<id:occurrence_id>/rating")
@login_required
def rate(occurrence_id: int):
    occurrence = load_or_404(Occurrence, occurrence_id)
    form = RatingForm()
    with form_action(catch=(InvalidTransition, ValidationError)) as outcome:
        rating = rate_session(current_user, occurrence, form.score.data)
    if outcome.failed:
        return _card_response(
            occurrence_id,
            status=outcome.status,
            rating_error=outcome.message,
            chosen=form.score.data,
            tab=request.form.get("tab"),
        )
    message = f"Thank you: you rated this session {rating.score}/{MAX_SCORE}."
    if not is_htmx():
        flash(message, "success")
        back = (
            "dashboard.past" if request.form.get("tab") == DashboardTab.PAST else "dashboard.index"
        )
        return redirect(url_for(back))
    return _card_response(
        occurrence_id, headers=toast(message), focus_rating=True, tab=request.form.get("tab")
    )
