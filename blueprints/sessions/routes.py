"""Session pages: a session's detail, one-time sessions (create, edit, delete), and
rescheduling, cancelling or restoring any single session (series ones through an exception).

Each handler loads the session (404, also for a session the user may not see), checks the
role (403), calls one service from `services.timetable.sessions` and commits once. htmx
requests from the detail page get the session panel (`sessions/_session.html`) back; plain
requests get a redirect after success, or the page again with the errors (422 or 409).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict

from blueprints.access import is_htmx, is_htmx_partial, load_or_404, org_tz, staff_required
from blueprints.feedback import attach_errors, form_action, page_or_fragment, toast
from blueprints.sessions.forms import (
    CancelSessionForm,
    OneTimeSessionEditForm,
    OneTimeSessionForm,
    SeriesSessionEditForm,
)
from blueprints.typed_choice import picked_id, resolve_typed, show_chosen
from models import CourseGroup, Occurrence, Room, db
from services.common.errors import ConflictError, DomainError, ValidationError
from services.common.timeutil import today_in
from services.permissions import can_view_session
from services.timetable.conflicts import label_occurrence
from services.timetable.sessions import (
    InvalidTransition,
    SessionOutcome,
    cancel_refusal,
    cancel_session,
    create_one_time_session,
    delete_one_time_session,
    delete_refusal,
    edit_refusal,
    exception_of,
    reschedule_session,
    restore_session,
    update_one_time_session,
)
from services.tracking.session_panel import session_panel

bp = Blueprint("sessions", __name__, url_prefix="/sessions")


# --- Helpers ------------------------------------------------------------------------------------


def _load_visible(occurrence_id: int) -> Occurrence:
    """The session, or 404 when it does not exist or the user may not see it."""
    occurrence = load_or_404(Occurrence, occurrence_id)
    if not can_view_session(current_user, occurrence):
        abort(404)
    return occurrence


def _load_for_staff(occurrence_id: int) -> Occurrence:
    """For the actions: 404 for a session the user may not see, 403 for a role that may not act."""
    occurrence = _load_visible(occurrence_id)
    if not current_user.is_staff:
        abort(403)
    return occurrence


def _flash_adjustments(outcome: SessionOutcome) -> None:
    for sentence in outcome.adjustments:
        flash(sentence, "warning")


def _local_parts(occurrence: Occurrence) -> tuple[date, time, time]:
    tz = org_tz()
    start, end = occurrence.start_utc.astimezone(tz), occurrence.end_utc.astimezone(tz)
    return start.date(), start.time(), end.time()


def _render_session(occurrence: Occurrence, *, status: int = 200, headers=None, **context):
    """The detail page, or only its panel for an htmx partial request."""
    panel = session_panel(current_user, occurrence, tz=org_tz())
    context.setdefault("cancel_form", CancelSessionForm())
    return page_or_fragment(
        "sessions/detail.html",
        "sessions/_session.html",
        status,
        headers,
        occurrence=occurrence,
        # The panel's parts under the names its templates (and their includes) use.
        override=panel.override,
        cancel_reason=panel.cancel_reason,
        conflicts=panel.conflicts,
        edit_refusal=panel.edit_refusal,
        cancel_refusal=panel.cancel_refusal,
        restore_refusal=panel.restore_refusal,
        delete_refusal=panel.delete_refusal,
        completion=panel.completion,
        notes=panel.notes,
        files=panel.files,
        register=panel.register,
        standing=panel.standing,
        **context,
    )


def _after_change(occurrence: Occurrence, message: str, outcome: SessionOutcome | None = None):
    """After a successful action: the refreshed panel (htmx) or the detail page (redirect)."""
    if is_htmx():
        adjustments = outcome.adjustments if outcome else []
        return _render_session(
            occurrence,
            headers=toast(" ".join([message, *adjustments])),
            notice=message,
            adjustments=adjustments,
        )
    flash(message, "success")
    if outcome is not None:
        _flash_adjustments(outcome)
    return redirect(url_for("sessions.detail", occurrence_id=occurrence.id))


# --- Detail -------------------------------------------------------------------------------------


@bp.get("/<id:occurrence_id>")
@login_required
def detail(occurrence_id: int):
    return _render_session(_load_visible(occurrence_id))


# --- Create -------------------------------------------------------------------------------------

# The query parameters the schedule grid links with, e.g. ?date=2026-09-07&start=10:00.
_PREFILL_KEYS = ("date", "start", "end", "room", "group")


def _prefilled_new_form() -> OneTimeSessionForm:
    """The empty form, filled from the query string (bad values are simply not used)."""
    args = MultiDict({k: request.args[k] for k in _PREFILL_KEYS if request.args.get(k)})
    form = OneTimeSessionForm(formdata=args or None)
    # Values that did not parse are left out, rather than shown as errors nobody made.
    for name in _PREFILL_KEYS:
        form[name].process_errors = []
        if form[name].data is None:
            form[name].raw_data = []
    if form.date.data is None:
        form.date.data = today_in(org_tz())
    if form.start.data is not None and form.end.data is None:
        form.end.data = (datetime.combine(date.min, form.start.data) + timedelta(hours=1)).time()
    group_id = picked_id(form.group.data)
    group = db.session.get(CourseGroup, group_id) if group_id else None
    if group is None or not group.active:
        form.group.data = ""
    elif not request.args.get("room") and group.default_room_id:
        form.room.data = str(group.default_room_id)
    room_id = picked_id(form.room.data)
    room = db.session.get(Room, room_id) if room_id else None
    if room is None or not room.active:
        form.room.data = ""
    show_chosen(form, "group", "group")
    show_chosen(form, "room", "room")
    return form


@bp.route("/new", methods=["GET", "POST"])
@staff_required
def new():
    if request.method == "GET":
        form = _prefilled_new_form()
        return _render_new(form, 200)
    form = OneTimeSessionForm()
    valid = form.validate_on_submit()
    group_id, group_ok = resolve_typed(form, "group", "group", required="Choose a course group.")
    room_id, room_ok = resolve_typed(form, "room", "room")
    if not (valid and group_ok and room_ok):
        return _render_new(form, 422)
    tz = org_tz()
    with form_action(form, catch=(ValidationError, ConflictError)) as action:
        outcome = create_one_time_session(
            group_id=group_id,
            day=form.date.data,
            start=form.start.data,
            end=form.end.data,
            room_id=room_id,
            mode=form.mode.data,
            title=form.title.data,
            actor=current_user,
            tz=tz,
        )
    if action.failed:
        return _render_new(form, action.status)
    occurrence = outcome.occurrence
    flash(f"Session created: {label_occurrence(occurrence, tz)}.", "success")
    _flash_adjustments(outcome)
    target = url_for("sessions.detail", occurrence_id=occurrence.id)
    if is_htmx():
        # A fragment cannot become another page: send the whole tab to the new session.
        return "", 200, {"HX-Redirect": target}
    return redirect(target)


def _render_new(form: OneTimeSessionForm, status: int):
    return page_or_fragment(
        "sessions/new.html",
        "sessions/_new_form.html",
        status,
        form=form,
        inline=is_htmx_partial(),
        room_hint="Leave empty for no room (online only).",
    )


# --- Edit ---------------------------------------------------------------------------------------


def _edit_form(occurrence: Occurrence):
    """The form for this session: direct edit (one-time) or an exception (series)."""
    form = OneTimeSessionEditForm() if occurrence.is_one_time else SeriesSessionEditForm()
    if request.method == "GET":
        form.date.data, form.start.data, form.end.data = _local_parts(occurrence)
        form.room.data = str(occurrence.room_id or "")
        if not occurrence.is_one_time and occurrence.room_id == occurrence.series.room_id:
            form.room.data = ""  # follows the series' room
        if occurrence.is_one_time:
            form.mode.data = str(occurrence.mode)
            form.title.data = occurrence.title or ""
        else:
            override = exception_of(occurrence)
            form.notes.data = override.notes if override and not override.cancelled else ""
    show_chosen(form, "room", "room")
    return form


def _room_hint(occurrence: Occurrence) -> str:
    if occurrence.is_one_time:
        return "Leave empty for no room (online only)."
    room = occurrence.series.room
    return f"Leave empty for the series' room ({room.name})." if room else "Leave empty: no room."


def _render_edit(occurrence: Occurrence, form, status: int, refusal: str | None = None):
    return page_or_fragment(
        "sessions/edit.html",
        "sessions/_edit_form.html",
        status,
        occurrence=occurrence,
        form=form,
        refusal=refusal,
        inline=is_htmx_partial(),
        override=exception_of(occurrence),
        room_hint=_room_hint(occurrence),
    )


@bp.route("/<id:occurrence_id>/edit", methods=["GET", "POST"])
@login_required
def edit(occurrence_id: int):
    occurrence = _load_for_staff(occurrence_id)
    form = _edit_form(occurrence)
    refusal = edit_refusal(occurrence)
    if refusal:
        return _render_edit(occurrence, form, 409, refusal)
    if request.method == "GET":
        return _render_edit(occurrence, form, 200)
    valid = form.validate_on_submit()
    room_id, room_ok = resolve_typed(form, "room", "room")
    if not (valid and room_ok):
        return _render_edit(occurrence, form, 422)
    tz = org_tz()
    values = {
        "day": form.date.data,
        "start": form.start.data,
        "end": form.end.data,
        "room_id": room_id,
        "actor": current_user,
        "tz": tz,
    }
    with form_action(catch=DomainError) as action:
        if occurrence.is_one_time:
            outcome = update_one_time_session(
                occurrence, mode=form.mode.data, title=form.title.data, **values
            )
        else:
            outcome = reschedule_session(occurrence, notes=form.notes.data or "", **values)
    if isinstance(action.error, InvalidTransition):
        return _render_edit(occurrence, form, 409, action.message)
    if action.failed:
        attach_errors(form, action.error)
        return _render_edit(occurrence, form, action.status)
    if not outcome.changed:
        message = "Nothing to change: the session already had these values."
    elif occurrence.is_one_time:
        message = "Session updated."
    elif outcome.override is None:
        message = "Exception removed: the session follows its series again."
    else:
        message = f"Exception saved for {occurrence.original_date:%a %d %b %Y}."
    return _after_change(occurrence, message, outcome)


# --- Cancel and restore -------------------------------------------------------------------------


@bp.route("/<id:occurrence_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel(occurrence_id: int):
    occurrence = _load_for_staff(occurrence_id)
    form = CancelSessionForm()
    if request.method == "GET":
        refusal = cancel_refusal(occurrence)
        return _render_cancel(occurrence, form, 409 if refusal else 200, refusal)
    if not form.validate_on_submit():
        return _render_cancel(occurrence, form, 422)
    with form_action(catch=DomainError) as action:
        cancel_session(occurrence, reason=form.reason.data, actor=current_user, tz=org_tz())
    if isinstance(action.error, InvalidTransition):
        return _render_cancel(occurrence, form, 409, action.message)
    if action.failed:
        attach_errors(form, action.error)
        return _render_cancel(occurrence, form, action.status)
    return _after_change(occurrence, "Session cancelled.")


def _render_cancel(occurrence, form, status: int, refusal: str | None = None):
    """Errors of the cancel form: in the panel (htmx, from the detail page) or on its page."""
    if is_htmx():
        return _render_session(
            occurrence, status=status, cancel_form=form, action_error=refusal, cancel_open=True
        )
    return render_template(
        "sessions/cancel.html", occurrence=occurrence, form=form, refusal=refusal
    ), status


@bp.post("/<id:occurrence_id>/restore")
@login_required
def restore(occurrence_id: int):
    occurrence = _load_for_staff(occurrence_id)
    with form_action(catch=DomainError) as action:
        restore_session(occurrence, actor=current_user, tz=org_tz())
    if action.failed:
        # Refused (not cancelled, or its slot is taken now): say why where the button was.
        return _render_session(occurrence, status=action.status, action_error=action.message)
    return _after_change(occurrence, "Session restored.")


# --- Delete -------------------------------------------------------------------------------------


@bp.route("/<id:occurrence_id>/delete", methods=["GET", "POST"])
@login_required
def delete(occurrence_id: int):
    occurrence = _load_for_staff(occurrence_id)
    if request.method == "GET":
        refusal = delete_refusal(occurrence)
        return _render_delete(occurrence, 409 if refusal else 200, refusal)
    label = label_occurrence(occurrence, org_tz())
    day = _local_parts(occurrence)[0]
    with form_action(catch=DomainError) as action:
        delete_one_time_session(occurrence, actor=current_user, tz=org_tz())
    if action.failed:
        return _render_delete(occurrence, action.status, action.message)
    flash(f"Session deleted: {label}.", "success")
    # Back to the week the session was in, where the grid shows the freed slot.
    target = url_for("schedule.week", date=day.isoformat())
    if is_htmx():
        return "", 200, {"HX-Redirect": target}
    return redirect(target)


def _render_delete(occurrence: Occurrence, status: int, refusal: str | None = None):
    return page_or_fragment(
        "sessions/delete.html", "sessions/_delete_confirm.html", status,
        occurrence=occurrence, refusal=refusal, inline=is_htmx_partial(),
    )  # fmt: skip
