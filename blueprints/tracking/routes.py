"""Session tracking: completing sessions (and correcting completions), coordinators'
monitoring, verifying codes, and the hours report.

The session page includes `tracking/_completion_section.html` with the section's data
(`services.tracking.session_panel`), so it works without JavaScript. Its actions answer htmx
with the section again (`#completion-<id>`, in place, 422 with the messages next to the
fields, 409 for a state that refuses it) plus the session's summary and status badge as
`<hx-partial>`s; plain forms get a page of their own and a redirect to the session.

Access: a session the user cannot see is 404 everywhere; one they can see but may not act on
(a student of the group) is 403. Monitoring and hours are for staff (403 for others).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from blueprints.access import is_htmx, is_htmx_partial, load_or_404, org_tz, staff_required
from blueprints.feedback import attach_errors, form_action, page_or_fragment, toast
from blueprints.sessions.forms import CancelSessionForm
from blueprints.tracking.forms import CompletionForm
from blueprints.typed_choice import resolve_typed_filters, sent_typed
from models import Occurrence, OccurrenceStatus, db
from services.common.errors import DomainError, ValidationError
from services.common.numbers import row_id
from services.common.pagination import page_number, paginate
from services.common.timeutil import today_in
from services.output.reports import (
    hours_minutes,
    mentor_hours,
    next_month,
    parse_month,
    previous_month,
    report_last_day,
)
from services.output.spreadsheets import csv_cell
from services.permissions import can_track, can_view_session
from services.timetable.schedule.filter_choices import choice_named
from services.timetable.sessions import (
    cancel_session,
    cancellation_reason,
)
from services.tracking import session_panel
from services.tracking.completion import (
    MonitorFilters,
    complete_session,
    completion_refusal,
    correct_completion,
    correction_refusal,
    find_by_code,
    monitored_sessions,
    overdue_sessions,
    people_by_id,
    sessions_without_register,
)

bp = Blueprint("tracking", __name__, url_prefix="/tracking")

OVERDUE_SHOWN = 50


# --- The completion section ---------------------------------------------------------------------


@bp.app_template_global("tracking_cancel_form")
def tracking_cancel_form() -> CancelSessionForm:
    return CancelSessionForm(prefix="tracking")


# --- Helpers ------------------------------------------------------------------------------------


def _load_visible(occurrence_id: int) -> Occurrence:
    occurrence = load_or_404(Occurrence, occurrence_id)
    if not can_view_session(current_user, occurrence):
        abort(404)
    return occurrence


def _load_for_tracker(occurrence_id: int) -> Occurrence:
    """404 for a session the user may not see, 403 for one they see but may not act on."""
    occurrence = _load_visible(occurrence_id)
    if not can_track(current_user, occurrence):
        abort(403)
    return occurrence


def _local_clock(instant: datetime | None):
    return instant.astimezone(org_tz()).time().replace(second=0, microsecond=0) if instant else None


def _section(occurrence: Occurrence, *, status: int = 200, headers=None, partials=False, **ctx):
    return (
        render_template(
            "tracking/_completion_response.html",
            occurrence=occurrence,
            completion=session_panel.completion_section(current_user, occurrence),
            partials=partials,
            cancel_reason=cancellation_reason(occurrence),
            **ctx,
        ),
        status,
        headers or {},
    )


def _done(occurrence: Occurrence, message: str):
    """After a successful action: the section, summary and badge (htmx) or the session page."""
    if is_htmx():
        headers = toast(message)
        return _section(
            occurrence,
            partials=True,
            completion_notice=message,
            headers=headers,
        )
    flash(message, "success")
    return redirect(
        url_for("sessions.detail", occurrence_id=occurrence.id) + f"#completion-{occurrence.id}"
    )


def _form_response(occurrence: Occurrence, mode: str, form, status: int, error: str | None = None):
    """The Complete or Correct form: in the section (htmx) or on a page of its own."""
    context = {"completion_mode": mode, "completion_form": form, "completion_error": error}
    if is_htmx_partial():
        return _section(occurrence, status=status, **context)
    return render_template(
        "tracking/completion.html",
        occurrence=occurrence,
        completion=session_panel.completion_section(current_user, occurrence),
        **context,
    ), status


# --- The section and its actions ----------------------------------------------------------------


@bp.get("/sessions/<id:occurrence_id>/completion")
@login_required
def completion_section(occurrence_id: int):
    occurrence = _load_visible(occurrence_id)
    if not is_htmx_partial():
        return redirect(
            url_for("sessions.detail", occurrence_id=occurrence.id) + f"#completion-{occurrence.id}"
        )
    return _section(occurrence)


@bp.route("/sessions/<id:occurrence_id>/complete", methods=["GET", "POST"])
@login_required
def complete(occurrence_id: int):
    return _completion_form_view(occurrence_id, "complete")


@bp.route("/sessions/<id:occurrence_id>/correct", methods=["GET", "POST"])
@login_required
def correct(occurrence_id: int):
    return _completion_form_view(occurrence_id, "correct")


def _completion_form_view(occurrence_id: int, mode: str):
    """Complete a session, or correct its record: the form (GET, prefilled with the plan or
    the record), then the service; refusals and mistakes in place."""
    occurrence = _load_for_tracker(occurrence_id)
    form = CompletionForm(prefix="completion")
    completing = mode == "complete"
    refusal = (completion_refusal if completing else correction_refusal)(occurrence)
    if request.method == "GET":
        if completing:
            form.actual_start.data = _local_clock(occurrence.start_utc)
            form.actual_end.data = _local_clock(occurrence.end_utc)
        else:
            form.actual_start.data = _local_clock(occurrence.actual_start_utc)
            form.actual_end.data = _local_clock(occurrence.actual_end_utc)
            form.code.data = occurrence.completion_code or ""
            form.notes.data = occurrence.completion_notes or ""
        return _form_response(occurrence, mode, form, 409 if refusal else 200, refusal)
    if not form.validate_on_submit():
        return _form_response(occurrence, mode, form, 422)
    # A refusal (403) or a session deleted meanwhile (404) goes on to the app's handlers.
    with form_action(catch=DomainError) as action:
        outcome = (complete_session if completing else correct_completion)(
            occurrence,
            actual_start=form.actual_start.data,
            actual_end=form.actual_end.data,
            code=form.code.data,
            notes=form.notes.data,
            actor=current_user,
            tz=org_tz(),
        )
    if action.status == 409:
        return _form_response(occurrence, mode, form, 409, action.message)
    if action.failed:
        attach_errors(form, action.error)
        return _form_response(occurrence, mode, form, action.status)
    if completing:
        return _done(occurrence, f"Session completed: code {occurrence.completion_code}.")
    message = "Completion corrected." if outcome.changed else "Nothing to correct: no change."
    return _done(occurrence, message)


@bp.post("/sessions/<id:occurrence_id>/cancel")
@login_required
def cancel(occurrence_id: int):
    """The mentor cancels their session with a reason (staff use the session's Actions)."""
    occurrence = _load_for_tracker(occurrence_id)
    form = CancelSessionForm(prefix="tracking")
    if not form.validate_on_submit():
        return _cancel_failed(occurrence, form, 422)
    with form_action(catch=DomainError) as action:
        cancel_session(occurrence, reason=form.reason.data, actor=current_user, tz=org_tz())
    if action.status == 409:
        return _cancel_failed(occurrence, form, 409, action.message)
    if action.failed:
        attach_errors(form, action.error)
        return _cancel_failed(occurrence, form, action.status)
    db.session.refresh(occurrence)
    return _done(occurrence, "Session cancelled.")


def _cancel_failed(occurrence: Occurrence, form, status: int, error: str | None = None):
    context = {"tracking_cancel": form, "tracking_cancel_open": True, "completion_error": error}
    if is_htmx():
        return _section(occurrence, status=status, **context)
    return render_template(
        "tracking/cancel.html",
        occurrence=occurrence,
        completion=session_panel.completion_section(current_user, occurrence),
        **context,
    ), status


# --- Monitoring ---------------------------------------------------------------------------------

STATUS_CHOICES = [
    ("completed", "Completed"),
    ("scheduled", "Not completed"),
    ("cancelled", "Cancelled"),
    ("any", "Any status"),
]


def _int_arg(name: str) -> int | None:
    return row_id(request.args.get(name))


def _date_arg(name: str, errors: dict) -> date | None:
    text = (request.args.get(name) or "").strip()
    if not text:
        return None
    try:
        value = date.fromisoformat(text)
    except ValueError:
        errors[name] = "Enter a date as YYYY-MM-DD."
        return None
    if not 2000 <= value.year <= 2100:
        errors[name] = "Enter a date between 2000 and 2100."
        return None
    return value


MONITOR_CHOICES = ("mentor", "group")


def _monitor_filters() -> tuple[MonitorFilters, dict, dict, dict]:
    """The filters from the query string, the messages for bad ones, the values to keep in
    links (only those that were understood), and the mentors or groups named by a typed text
    that names several (to offer beside the field).

    The mentor and group are ids (`mentor=7`, what links and bookmarks carry) or, sent from
    the filter form, texts (`mentor_q`) resolved here with the id beside them (set when a
    suggestion was picked); `clear=mentor` removes one. A text that names nothing or several
    keeps the filter as it was."""
    errors: dict[str, str] = {}
    status_text = request.args.get("status") or "completed"
    if status_text not in {value for value, _ in STATUS_CHOICES}:
        status_text = "completed"
    typed = resolve_typed_filters(request.args, {k: _int_arg(k) for k in MONITOR_CHOICES})
    chosen, matches = typed.chosen, typed.matches
    errors.update(typed.errors)
    filters = MonitorFilters(
        mentor_id=chosen["mentor"],
        group_id=chosen["group"],
        start=_date_arg("start", errors),
        end=_date_arg("end", errors),
        status=None if status_text == "any" else OccurrenceStatus(status_text),
    )
    if filters.start and filters.end and filters.end < filters.start:
        errors["end"] = "The last date must not be before the first."
    args = {
        "mentor": filters.mentor_id or "",
        "group": filters.group_id or "",
        "start": filters.start.isoformat() if filters.start else "",
        "end": filters.end.isoformat() if filters.end and "end" not in errors else "",
        "status": status_text,
    }
    if "end" in errors:
        filters = MonitorFilters(filters.mentor_id, filters.group_id, filters.start, None,
                                 filters.status)  # fmt: skip
    return filters, errors, {k: v for k, v in args.items() if v}, matches


@bp.get("/")
@staff_required
def monitor():
    tz = org_tz()
    filters, errors, args, matches = _monitor_filters()
    typed = sent_typed(request.args, MONITOR_CHOICES)
    if typed and not errors:
        # Sent by the filter form: a good answer has its canonical URL (ids, no text).
        canonical = url_for("tracking.monitor", **args)
        if not is_htmx():
            return redirect(canonical, 303)
    page = paginate(monitored_sessions(filters, tz), page_number(request.args.get("page")))
    overdue_query = overdue_sessions(filters, tz)
    overdue = paginate(overdue_query, 1, per_page=OVERDUE_SHOWN)
    unregistered = paginate(sessions_without_register(filters, tz), 1, per_page=OVERDUE_SHOWN)
    completers = people_by_id(o.completed_by_id for o in page.items)
    context = {
        "page": page,
        "overdue": overdue,
        "unregistered": unregistered,
        "completers": completers,
        "filters": filters,
        "filter_errors": errors,
        "filter_matches": matches,
        "args": args,
        "chosen": {
            "mentor": choice_named("mentor", filters.mentor_id),
            "group": choice_named("group", filters.group_id),
        },
        "status_choices": STATUS_CHOICES,
        "now": datetime.now(UTC),
    }
    status = 422 if errors else 200
    if not is_htmx_partial():
        return render_template("tracking/monitor.html", **context), status
    body = render_template("tracking/_monitor_results.html", **context)
    headers = {}
    if typed:
        # Sent from the filter form: it shows what was chosen, or why not, beside each field.
        body += render_template("tracking/_monitor_filters.html", oob=True, **context)
        if not errors:
            headers["HX-Push-Url"] = canonical
    return body, status, headers


@bp.get("/verify")
@staff_required
def verify():
    code = (request.args.get("code") or "").strip()
    found = find_by_code(code) if code else None
    context = {"code": code, "found": found, "searched": bool(code)}
    if found is not None:
        context["completer"] = people_by_id([found.completed_by_id]).get(found.completed_by_id)
    return page_or_fragment("tracking/verify.html", "tracking/_verify_result.html", **context)


# --- Hours report -------------------------------------------------------------------------------

HOURS_CSV_HEADER = [
    "month",
    "mentor",
    "email",
    "scheduled_sessions",
    "scheduled_hours",
    "completed_sessions",
    "actual_hours",
    "difference_hours",
]


def _month_arg() -> tuple[date, str | None]:
    """The month asked for (this month when none), or this month and a message."""
    text = request.args.get("month")
    this_month = today_in(org_tz()).replace(day=1)
    if not (text or "").strip():
        return this_month, None
    try:
        return parse_month(text), None
    except ValidationError as err:
        return this_month, err.errors["month"]


bp.add_app_template_filter(hours_minutes, "hours_minutes")


def _hours_report(month: date):
    """The month's report: up to today by default, the whole month with `?whole=1`."""
    whole = request.args.get("whole") == "1"
    tz = org_tz()
    return mentor_hours(month, tz, last_day=report_last_day(month, today_in(tz), whole_month=whole))


@bp.get("/hours")
@staff_required
def hours():
    month, error = _month_arg()
    report = _hours_report(month)
    return render_template(
        "tracking/hours.html",
        report=report,
        month_error=error,
        month_text=request.args.get("month", "") if error else f"{month:%Y-%m}",
        previous=f"{previous_month(month):%Y-%m}",
        following=f"{next_month(month):%Y-%m}",
        whole_asked=request.args.get("whole") == "1",
        month_running=month <= today_in(org_tz()) < next_month(month),
    ), (422 if error else 200)


@bp.get("/hours.csv")
@staff_required
def hours_csv():
    month, error = _month_arg()
    if error:
        return error, 422, {"Content-Type": "text/plain; charset=utf-8"}
    report = _hours_report(month)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HOURS_CSV_HEADER)
    label = f"{month:%Y-%m}"
    for row in [*report.rows, report.total]:
        # Text cells are neutralised (a name like "=HYPERLINK(...)"); numbers are written
        # as numbers (a negative difference must stay a number, not "'-1.5").
        writer.writerow(
            [
                label,
                csv_cell(row.name),
                csv_cell(row.email),
                row.scheduled_sessions,
                f"{row.scheduled_hours:.2f}",
                row.completed_sessions,
                f"{row.actual_hours:.2f}",
                f"{row.difference_hours:.2f}",
            ]
        )
    # A byte order mark, so spreadsheet programs read names with accents as UTF-8.
    body = "\ufeff" + out.getvalue()
    return (
        body.encode("utf-8"),
        200,
        {
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="termtable-hours-{label}.csv"',
        },
    )
