"""A mentor's availability (issue 17): their weekly working hours, booking rules and the dates
with hours of their own. Mentors set their own at /availability/; staff set any mentor's
(`?mentor=<id>`, chosen from a list). Plain forms (the page works without JavaScript); each
mistake is shown next to its field and nothing is saved."""

from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from blueprints.access import org_tz
from blueprints.availability.forms import AvailabilityForm, OverrideForm
from blueprints.feedback import attach_errors
from models import Role, User, db
from services.availability import (
    RulesInput,
    clear_override,
    format_ranges,
    rules_for,
    save_availability,
    set_override,
    upcoming_overrides,
    weekly_hours,
)
from services.catalogue.groups import active_mentors
from services.common.errors import ValidationError
from services.common.numbers import row_id
from services.common.timeutil import today_in

bp = Blueprint("availability", __name__, url_prefix="/availability")


@cache
def _zones() -> list[str]:
    """The time zones offered (read from the zone database once, when first shown)."""
    return sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))


def _mentor() -> User | None:
    """The mentor whose availability this is: oneself for a mentor; for staff, the mentor
    named by `mentor` (None until one is chosen). Anyone else is refused; an id that is no
    mentor's (or another mentor's, for a mentor) is a 404."""
    asked = request.values.get("mentor", "")
    if current_user.role == Role.MENTOR:
        if asked and asked != str(current_user.id):
            abort(404)
        return current_user
    if not current_user.is_staff:
        abort(403)
    if not asked:
        return None
    mentor_id = row_id(asked)
    mentor = db.session.get(User, mentor_id) if mentor_id is not None else None
    if mentor is None or mentor.role != Role.MENTOR:
        abort(404)
    return mentor


def _page(mentor, *, form=None, override_form=None, status=200):
    if mentor is None:
        return render_template("availability/choose.html", mentors=active_mentors()), status
    tz = org_tz()
    if form is None:
        rules = rules_for(mentor.id, tz)
        hours = weekly_hours(mentor.id)
        form = AvailabilityForm(
            formdata=None,
            timezone=str(rules.timezone),
            buffer_before_minutes=int(rules.buffer_before.total_seconds() // 60),
            buffer_after_minutes=int(rules.buffer_after.total_seconds() // 60),
            minimum_notice_hours=int(rules.minimum_notice.total_seconds() // 3600),
            max_sessions_per_day=rules.max_sessions_per_day,
            booking_horizon_days=rules.booking_horizon.days,
            slot_step_minutes=int(rules.slot_step.total_seconds() // 60),
            **{f"hours_{day}": format_ranges(hours[day]) for day in range(7)},
        )
    context = {
        "mentor": mentor,
        "own": mentor.id == current_user.id,
        "form": form,
        "override_form": override_form or OverrideForm(formdata=None),
        "overrides": upcoming_overrides(mentor.id, today_in(tz)),
        "format_ranges": format_ranges,
        "zones": _zones(),
    }
    return render_template("availability/index.html", **context), status


def _back(mentor):
    query = {} if mentor.id == current_user.id else {"mentor": mentor.id}
    return redirect(url_for("availability.index", **query))


@bp.get("/")
@login_required
def index():
    return _page(_mentor())


@bp.post("/")
@login_required
def save():
    mentor = _mentor()
    if mentor is None:
        abort(404)
    form = AvailabilityForm()
    # Every mistake at once: what the form could not read (a word for a number) and what the
    # service refuses (an end before its start, an unknown zone) are shown together.
    readable = form.validate_on_submit()
    rules = RulesInput(
        timezone=form.timezone.data or "",
        buffer_before_minutes=form.buffer_before_minutes.data,
        buffer_after_minutes=form.buffer_after_minutes.data,
        minimum_notice_hours=form.minimum_notice_hours.data,
        max_sessions_per_day=form.max_sessions_per_day.data,
        booking_horizon_days=form.booking_horizon_days.data,
        slot_step_minutes=form.slot_step_minutes.data,
    )
    hours = {day: form[f"hours_{day}"].data or "" for day in range(7)}
    try:
        save_availability(mentor.id, hours, rules)
    except ValidationError as err:
        readable = False
        for name, message in err.errors.items():
            if name in form and not form[name].errors:  # the form's own reading comes first
                form[name].errors = [message]
    if readable:
        db.session.commit()
        flash("Availability saved: students can be booked into these hours.", "success")
        return _back(mentor)
    db.session.rollback()
    return _page(mentor, form=form, status=422)


@bp.post("/overrides")
@login_required
def add_override():
    mentor = _mentor()
    if mentor is None:
        abort(404)
    form = OverrideForm()
    if form.validate_on_submit():
        try:
            set_override(mentor.id, form.day.data, form.hours.data or "", today=today_in(org_tz()))
        except ValidationError as err:
            db.session.rollback()
            attach_errors(form, err)
        else:
            db.session.commit()
            said = "a day off" if not (form.hours.data or "").strip() else "its own hours"
            flash(f"{form.day.data:%a %d %b %Y} is now {said}.", "success")
            return _back(mentor)
    elif form.day.errors:
        form.day.errors = ["Choose a date."]
    return _page(mentor, override_form=form, status=422)


@bp.post("/overrides/clear")
@login_required
def remove_override():
    mentor = _mentor()
    if mentor is None:
        abort(404)
    form = OverrideForm()
    if form.validate_on_submit() and form.day.data is not None:
        if clear_override(mentor.id, form.day.data):
            db.session.commit()
            flash(f"{form.day.data:%a %d %b %Y} follows the weekly hours again.", "success")
        return _back(mentor)
    abort(400)
