"""Attendance registers: taking a session's register in place, the staff report (and its
CSV), and a student's own attendance.

`GET /attendance/sessions/<id>/register` is the register section
(`attendance/_register_section.html`) to an htmx partial request; the session page and the
mentor's dashboard cards include the same template with its data, so it works without
JavaScript. `GET /attendance/sessions/<id>/register/take` is the register form: in the
section (htmx) or on a page of its own. `POST` to the same URL takes or corrects the
register with every student's mark in one request (`status-<student id>`,
`late-<student id>`, `reason-<student id>`; `all_present=1` marks everyone present):
htmx gets the section back (422 with each message next to its student, 409 for a session
that refuses it), a plain form a redirect to the session (or the form again with the
messages).

Access: a session the user cannot see is 404; one they see but may not take the register of
(a student of the group) 403. A student sees only their own mark (on the session page, in
the section and on `/attendance/mine`). The report and its CSV are for staff (403).
"""

from __future__ import annotations

import re
from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from blueprints.access import is_htmx, is_htmx_partial, load_or_404, org_tz, staff_required
from blueprints.feedback import form_action, page_or_fragment, toast
from blueprints.typed_choice import resolve_typed_filters, sent_typed
from models import Occurrence, Role
from services.common.errors import DomainError, ValidationError
from services.common.numbers import row_id, whole_number
from services.common.pagination import page_number, paginate
from services.permissions import can_track, can_view_session
from services.timetable.schedule.filter_choices import choice_named
from services.tracking.attendance import (
    STATUS_LABELS,
    MarkInput,
    mark_label,
    register_section,
    take_register,
)
from services.tracking.attendance_report import (
    DEFAULT_THRESHOLD,
    ReportFilters,
    attendance_csv,
    attendance_report,
    own_marks,
    own_report,
    rate_text,
)

bp = Blueprint("attendance", __name__, url_prefix="/attendance")

bp.add_app_template_filter(mark_label, "mark_label")
bp.add_app_template_filter(rate_text, "rate_text")


@bp.app_template_global("attendance_statuses")
def attendance_statuses() -> list[tuple[str, str]]:
    return [(str(status), label) for status, label in STATUS_LABELS.items()]


# --- Helpers ------------------------------------------------------------------------------------


def _load_visible(occurrence_id: int) -> Occurrence:
    occurrence = load_or_404(Occurrence, occurrence_id)
    if not can_view_session(current_user, occurrence):
        abort(404)
    return occurrence


def _load_for_taker(occurrence_id: int) -> Occurrence:
    """404 for a session the user may not see, 403 for one they see but may not mark."""
    occurrence = _load_visible(occurrence_id)
    if not can_track(current_user, occurrence):
        abort(403)
    return occurrence


def _session_url(occurrence: Occurrence) -> str:
    return url_for("sessions.detail", occurrence_id=occurrence.id) + f"#register-{occurrence.id}"


_STATUS_FIELD = re.compile(r"status-(\d{1,12})")


def _posted_marks() -> tuple[list[MarkInput], dict[int, dict]]:
    """Every `status-<id>` sent with its minutes and reason, and the values to show again."""
    marks, values = [], {}
    for key in request.form:
        found = _STATUS_FIELD.fullmatch(key)
        if not found:
            continue
        sid = int(found.group(1))
        late, reason = request.form.get(f"late-{sid}"), request.form.get(f"reason-{sid}")
        marks.append(MarkInput(sid, request.form.get(key), late, reason))
        values[sid] = {"status": request.form.get(key), "late": late or "", "reason": reason or ""}
    return marks, values


def _section(occurrence: Occurrence, *, status: int = 200, headers=None, **context):
    """The register section (htmx), or the register's own page with the form."""
    register = register_section(current_user, occurrence, tz=org_tz())
    if register is None:
        abort(404)
    template = "attendance/_register_section.html" if is_htmx_partial() else "attendance/take.html"
    return (
        render_template(template, occurrence=occurrence, register=register, **context),
        status,
        headers or {},
    )


# --- The register -------------------------------------------------------------------------------


@bp.get("/sessions/<id:occurrence_id>/register")
@login_required
def section(occurrence_id: int):
    occurrence = _load_visible(occurrence_id)
    if not is_htmx_partial():
        return redirect(_session_url(occurrence))
    return _section(occurrence)


@bp.route("/sessions/<id:occurrence_id>/register/take", methods=["GET", "POST"])
@login_required
def take(occurrence_id: int):
    """The register form, then one call taking (or correcting) the whole register."""
    occurrence = _load_for_taker(occurrence_id)
    if request.method == "GET":
        register = register_section(current_user, occurrence, tz=org_tz())
        status = 409 if register.refusal else 200
        return _section(occurrence, status=status, register_mode="form",
                        register_error=register.refusal)  # fmt: skip
    marks, values = _posted_marks()
    all_present = request.form.get("all_present") == "1"
    with form_action(catch=DomainError) as action:
        outcome = take_register(
            occurrence, marks, actor=current_user, tz=org_tz(), all_present=all_present
        )
    if action.failed:
        errors = action.error.errors if isinstance(action.error, ValidationError) else {}
        return _section(
            occurrence,
            status=action.status,
            register_mode="form",
            register_errors=errors,
            register_values=values,
            register_error=errors.get("__all__") if errors else action.message,
        )
    message = outcome.message
    if not is_htmx():
        flash(message, "success")
        return redirect(_session_url(occurrence))
    return _section(occurrence, headers=toast(message), register_notice=message)


# --- The staff report ---------------------------------------------------------------------------

REPORT_CHOICES = ("group", "student")


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


def _report_filters() -> tuple[ReportFilters, dict, dict, dict]:
    """The filters from the query string (`group`, `student` ids or `group_q`, `student_q`
    texts from the form; `start`, `end`; `threshold`), the messages for bad ones, the values
    to keep in links, and the rows a typed text names when it names several."""
    errors: dict[str, str] = {}
    typed = resolve_typed_filters(
        request.args, {k: row_id(request.args.get(k)) for k in REPORT_CHOICES}
    )
    errors.update(typed.errors)
    threshold_text = (request.args.get("threshold") or "").strip()
    threshold = DEFAULT_THRESHOLD
    if threshold_text:
        parsed = whole_number(threshold_text, 100)
        if parsed is None:
            errors["threshold"] = "The threshold is a whole percentage, from 0 to 100."
        else:
            threshold = parsed
    start, end = _date_arg("start", errors), _date_arg("end", errors)
    if start and end and end < start:
        errors["end"] = "The last date must not be before the first."
        end = None
    filters = ReportFilters(
        group_id=typed.chosen["group"],
        student_id=typed.chosen["student"],
        start=start,
        end=end,
        threshold=threshold,
    )
    args = {
        "group": filters.group_id or "",
        "student": filters.student_id or "",
        "start": start.isoformat() if start else "",
        "end": end.isoformat() if end else "",
        "threshold": threshold if threshold != DEFAULT_THRESHOLD else "",
    }
    return filters, errors, {k: v for k, v in args.items() if v != ""}, typed.matches


@bp.get("/")
@staff_required
def report():
    filters, errors, args, matches = _report_filters()
    typed = sent_typed(request.args, REPORT_CHOICES)
    canonical = url_for("attendance.report", **args)
    if typed and not errors and not is_htmx():
        return redirect(canonical, 303)
    context = {
        "report": attendance_report(filters, org_tz()),
        "filters": filters,
        "filter_errors": errors,
        "filter_matches": matches,
        "args": args,
        "chosen": {
            kind: choice_named(kind, getattr(filters, f"{kind}_id")) for kind in REPORT_CHOICES
        },
        "csv_url": url_for("attendance.report_csv", **args),
    }
    status = 422 if errors else 200
    if not is_htmx_partial():
        return render_template("attendance/report.html", **context), status
    body = render_template("attendance/_report_results.html", **context)
    headers = {}
    if typed:
        body += render_template("attendance/_report_filters.html", oob=True, **context)
        if not errors:
            headers["HX-Push-Url"] = canonical
    return body, status, headers


@bp.get("/report.csv")
@staff_required
def report_csv():
    filters, errors, _args, _matches = _report_filters()
    if errors:
        text = " ".join(errors.values())
        return text, 422, {"Content-Type": "text/plain; charset=utf-8"}
    body = attendance_csv(attendance_report(filters, org_tz()))
    return (
        body.encode("utf-8"),
        200,
        {
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="termtable-attendance.csv"',
        },
    )


# --- A student's own attendance -----------------------------------------------------------------


@bp.get("/mine")
@login_required
def mine():
    """A student's own marks (latest first) and rates; staff go to the report."""
    if current_user.is_staff:
        return redirect(url_for("attendance.report"))
    if current_user.role != Role.STUDENT:
        abort(403)
    page = paginate(own_marks(current_user), page_number(request.args.get("page")))
    return page_or_fragment(
        "attendance/mine.html",
        "attendance/_mine.html",
        page=page,
        summary=own_report(current_user, org_tz()),
    )
