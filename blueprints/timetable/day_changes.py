"""Whole-day changes (staff): cancel every session of a day, or run another day's timetable on
it. The form's first post shows what would happen (the same action, rolled back); the
preview's button applies it."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from blueprints.access import is_htmx, is_htmx_partial, org_tz, staff_required
from blueprints.feedback import form_action
from blueprints.timetable.forms import DayChangeForm
from blueprints.timetable.routes import bp
from services.common.wording import plural
from services.day_changes import DayChange, cancel_day, run_day_as


def _page(form: DayChangeForm, change: DayChange | None = None, status: int = 200):
    template = "timetable/_day_change.html" if is_htmx_partial() else "timetable/day_changes.html"
    return render_template(template, form=form, change=change), status


@bp.get("/day-changes")
@staff_required
def day_changes():
    return _page(DayChangeForm())


@bp.post("/day-changes")
@staff_required
def change_day():
    form = DayChangeForm()
    if not form.validate_on_submit():
        return _page(form, status=422)
    preview = form.confirm.data != "yes"
    run_as = form.action.data == "run_as"
    with form_action(form) as outcome:
        if run_as:
            change = run_day_as(
                form.first_day.data, form.runs_as.data, form.name.data or "",
                actor=current_user, tz=org_tz(), preview=preview,
            )  # fmt: skip
        else:
            change = cancel_day(
                form.first_day.data, form.name.data or "Closed", actor=current_user, tz=org_tz(),
                preview=preview,
            )  # fmt: skip
    if outcome.failed:
        return _page(form, status=outcome.status)
    if preview:
        return _page(form, change)
    flash(_said(change), "success")
    target = url_for("schedule.day", date=form.first_day.data.isoformat())
    return ("", 200, {"HX-Redirect": target}) if is_htmx() else redirect(target)


def _said(change: DayChange) -> str:
    """'Snow day: 12 sessions cancelled, 2 made, 1 kept as it is; 3 notifications.'"""
    parts = [f"{plural(len(change.cancelled), 'session')} cancelled"]
    if change.closure.runs_as:
        parts.append(f"{plural(len(change.made), 'session')} of its timetable on")
    if change.clashing:
        parts.append(f"{len(change.clashing)} of them clashing")
    if change.kept:
        parts.append(f"{len(change.kept)} kept as they are")
    return f"{change.closure.name}: {', '.join(parts)}; {plural(change.notified, 'notification')}."
