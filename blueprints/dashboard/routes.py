"""Dashboards: a mentor's and a student's upcoming sessions, with video rooms and ratings.

`GET /dashboard/` (upcoming) and `GET /dashboard/past` answer the whole page, or only the
card list (`dashboard/_sessions.html`) to an htmx partial request: the list polls itself every
minute, so badges turn "ongoing" and the Join link appears without a reload. Staff have no
dashboard of their own and go to the schedule. `POST /dashboard/sessions/<id>/rating` rates a
completed session: htmx gets the card back (422 or 409 with the message next to the stars),
a plain form a redirect to the dashboard, or the card on a page of its own when refused.
"""

from __future__ import annotations

import json

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from blueprints.access import is_htmx, is_htmx_partial, load_or_404, org_tz
from blueprints.dashboard.forms import RatingForm
from models import Occurrence, db
from services.dashboard import DashboardTab, dashboard_page, session_card
from services.errors import DomainError, InvalidTransition, NotFoundError
from services.pagination import page_number
from services.ratings import MAX_SCORE, rate_session

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")


def _sessions(tab: DashboardTab):
    if current_user.is_staff:
        return redirect(url_for("schedule.week"))
    page = dashboard_page(
        current_user, tz=org_tz(), tab=tab, page=page_number(request.args.get("page"))
    )
    template = "dashboard/_sessions.html" if is_htmx_partial() else "dashboard/index.html"
    return render_template(template, page=page, tab=tab)


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


@bp.post("/sessions/<int:occurrence_id>/rating")
@login_required
def rate(occurrence_id: int):
    occurrence = load_or_404(Occurrence, occurrence_id)
    form = RatingForm()
    try:
        rating = rate_session(current_user, occurrence, form.score.data)
    except NotFoundError:
        db.session.rollback()
        abort(404)
    except DomainError as err:
        db.session.rollback()
        return _card_response(
            occurrence_id,
            status=409 if isinstance(err, InvalidTransition) else 422,
            rating_error=err.message,
            chosen=form.score.data,
            tab=request.form.get("tab"),
        )
    db.session.commit()
    message = f"Thank you: you rated this session {rating.score}/{MAX_SCORE}."
    if not is_htmx():
        flash(message, "success")
        back = (
            "dashboard.past" if request.form.get("tab") == DashboardTab.PAST else "dashboard.index"
        )
        return redirect(url_for(back))
    toast = {"HX-Trigger": json.dumps({"toast": {"message": message}})}
    return _card_response(
        occurrence_id, headers=toast, focus_rating=True, tab=request.form.get("tab")
    )
