from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required

from blueprints.access import is_htmx_partial, org_tz
from services.timetable.listing import todays_sessions_by_room

bp = Blueprint("main", __name__)


@bp.get("/")
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    if current_user.is_staff:
        return redirect(url_for("schedule.week"))
    return redirect(url_for("schedule.mine"))


@bp.get("/sessions/today/")
@login_required
def today():
    board = todays_sessions_by_room(current_user, tz=org_tz())
    if is_htmx_partial():
        return render_template("sessions/_today_board.html", board=board)
    return render_template("sessions/today.html", board=board)
