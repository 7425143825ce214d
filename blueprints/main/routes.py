from __future__ import annotations

from flask import Blueprint, redirect, url_for
from flask_login import current_user, login_required

from blueprints.access import org_tz
from blueprints.feedback import page_or_fragment
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
    return page_or_fragment("sessions/today.html", "sessions/_today_board.html", board=board)
