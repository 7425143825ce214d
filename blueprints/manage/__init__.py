"""Management pages for staff: rooms and subjects (catalogue.py), course groups with their
series and students (groups.py), users (users.py); invitations.py is the public page an
invited user opens.

Every route loads (404), checks the role (403, through `staff_required` and `can_manage`),
calls one service and renders. A URL that serves a page and a fragment answers the fragment
only to an htmx partial request, so each one also works as a plain link without JavaScript.
"""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import func, select

from blueprints.access import org_tz, staff_required
from models import Closure, CourseGroup, Room, Subject, Term, User, db
from services.common.timeutil import today_in
from services.people.accounts import MIN_PASSWORD_LENGTH
from services.permissions import can_manage
from services.school_year import term_label

bp = Blueprint("manage", __name__, url_prefix="/manage")


@bp.context_processor
def _helpers() -> dict:
    return {"can_manage": can_manage, "min_password_length": MIN_PASSWORD_LENGTH}


@bp.get("/")
@staff_required
def index():
    today = today_in(org_tz())

    def count(model, *where):
        return db.session.scalar(select(func.count(model.id)).where(*where))

    counts = {
        "rooms": count(Room, Room.active.is_(True)),
        "subjects": count(Subject, Subject.active.is_(True)),
        "groups": count(CourseGroup, CourseGroup.active.is_(True)),
        "users": count(User, User.is_active_account.is_(True)),
        "terms": count(Term),
        "closures": count(Closure, Closure.last_day >= today),
    }
    return render_template("manage/index.html", counts=counts, term=term_label(today))


# The pages add their routes to `bp` as they are imported (after it exists).
from blueprints.manage import catalogue, groups, users  # noqa: E402, F401
