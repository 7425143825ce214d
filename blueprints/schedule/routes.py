"""The schedule: week grid (by time or by room), day and month views, personal timetables,
and the grid's inline exception editor.

Every grid URL is a full page, and answers only the `#schedule` fragment to an htmx partial
request (navigation and filters swap the grid in place and push the URL). The editor's
URLs carry the grid's own parameters, so a saved change redraws exactly the cells it
touched, with the same filters.
"""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from blueprints.access import (
    htmx_target_id,
    is_htmx,
    is_htmx_partial,
    load_or_404,
    org_tz,
    staff_required,
)
from blueprints.feedback import form_action, page_or_fragment, toast
from blueprints.timetable.forms import (
    DateOverrideChangeForm,
    change_from_form,
    exception_editor_form,
)
from models import Occurrence, Room, User, db
from services.common.errors import ConflictError, DomainError, InvalidTransition, ValidationError
from services.common.timeutil import date_outside, today_in
from services.output.spreadsheets import sessions_csv, week_workbook
from services.timetable.exceptions import delete_override, find_override, save_override
from services.timetable.listing import ListedOccurrence
from services.timetable.schedule.entries import (
    GridEntry,
    entries_affected_by,
    load_entries,
    load_entry,
)
from services.timetable.schedule.filter_choices import filter_choices, find_student
from services.timetable.schedule.layout import Grid, build_grid, build_month, cell_id_of
from services.timetable.schedule.view import (
    ScheduleFilters,
    ScheduleView,
    parse_view,
    personal_filters,
)

bp = Blueprint("schedule", __name__, url_prefix="/schedule")


# --- Pages -------------------------------------------------------------------------------


@bp.get("/")
@staff_required
def week():
    return _schedule_page("week")


@bp.get("/day")
@staff_required
def day():
    return _schedule_page("day")


@bp.get("/month")
@staff_required
def month():
    return _schedule_page("month")


@bp.get("/mine")
@login_required
def mine():
    """A mentor's own sessions or a student's own timetable (staff: the whole schedule)."""
    if current_user.is_staff:
        return redirect(url_for("schedule.week", **request.args))
    view_name = request.args.get("view", "week")
    return _schedule_page(view_name if view_name in ("week", "day", "month") else "week", True)


def _schedule_page(view_name: str, personal: bool = False):
    args = request.args.to_dict()
    args["view"] = view_name
    view, errors = parse_view(args, today=today_in(org_tz()))
    student_text = args.get("student_q")
    if personal:
        view = ScheduleView(view.view, view.layout, view.day, personal_filters(current_user))
    elif student_text is not None:
        view, canonical = _with_student_from_text(view, student_text, errors)
        if canonical is not None:
            if not is_htmx():
                return redirect(canonical, 303)
            response = _render_schedule(view, errors, personal)
            response.headers["HX-Push-Url"] = canonical
            return response
    return _render_schedule(view, errors, personal)


def _with_student_from_text(view: ScheduleView, text: str, errors: dict):
    """Resolve the filter bar's student text; returns the view and its canonical URL (None
    when the text is wrong, reported in `errors`)."""
    filters = view.filters
    selected = db.session.get(User, filters.student_id) if filters.student_id else None
    if not text.strip():
        student_id = None
    elif selected is not None and text.strip() == selected.name:
        student_id = selected.id
    else:
        try:
            student_id = find_student(text).id
        except ValidationError as err:
            errors["student"] = err.message
            return view, None
    filters = ScheduleFilters(filters.room_id, filters.mentor_id, filters.group_id, student_id)
    view = ScheduleView(view.view, view.layout, view.day, filters)
    return view, url_for(request.endpoint, **view.query_args(view=None))


def _render_schedule(view: ScheduleView, errors: dict, personal: bool):
    tz = org_tz()
    entries = load_entries(
        view.first_day, view.last_day, tz=tz, filters=view.filters, viewer=current_user
    )
    context = {
        "schedule_url": schedule_url,
        "links": CardLinks(view),
        "view": view,
        "errors": errors,
        "personal": personal,
        "endpoint": request.endpoint,
        "grid": None,
        "month_weeks": None,
        "today": today_in(tz),
        "editable": current_user.is_staff and not personal,
    }
    if view.view == "month":
        context["month_weeks"] = build_month(view, entries)
    else:
        context["grid"] = build_grid(view, entries, _pinned_rooms(view))
    if is_htmx_partial() and htmx_target_id() in (None, "schedule"):
        return _response(render_template("schedule/_schedule.html", **context))
    if not personal:
        context["choices"] = filter_choices(view.filters)
    return _response(render_template("schedule/page.html", **context))


def schedule_url(current: ScheduleView, personal: bool, **changes) -> str:
    """The URL of `current` with `changes` (view, layout, day...), on the page it belongs to."""
    base = ScheduleView(current.view, current.layout, current.day) if personal else current
    args = base.query_args(**{k: v for k, v in changes.items() if k != "day"})
    if "day" in changes:
        args["date"] = changes["day"].isoformat()
    endpoint = "schedule.mine" if personal else "schedule." + args.pop("view")
    return _endpoint_url(endpoint) + _query(args)


# A grid page has a few dozen links and a card per session; url_for costs tens of
# microseconds a call, so links are built from each endpoint's path, found once per request,
# and a query string encoded as Werkzeug does (none of these arguments is a path variable).
_QUERY_SAFE = "!$'()*,/:;?@"


def _query(args: dict) -> str:
    return "?" + urlencode(args, safe=_QUERY_SAFE) if args else ""


def _endpoint_url(endpoint: str, **values) -> str:
    urls = g.setdefault("_schedule_urls", {})
    key = (endpoint, *values.items())
    url = urls.get(key)
    if url is None:
        url = urls[key] = url_for(endpoint, **values)
    return url


class CardLinks:
    """The URLs on the cards of one grid: a session's editor (with the grid's parameters) and
    its page, each its endpoint's path with the id in place of a placeholder id."""

    _PLACEHOLDER = 987654321

    def __init__(self, view: ScheduleView):
        query = _query(view.query_args())
        editor = _endpoint_url("schedule.editor", occurrence_id=self._PLACEHOLDER)
        self._editor = self._split(editor, query)
        self._detail = self._split(
            _endpoint_url("sessions.detail", occurrence_id=self._PLACEHOLDER), ""
        )

    @classmethod
    def _split(cls, url: str, query: str) -> tuple[str, str]:
        head, _, tail = url.rpartition(str(cls._PLACEHOLDER))
        return head, tail + query

    def editor(self, occurrence_id: int) -> str:
        return f"{self._editor[0]}{occurrence_id}{self._editor[1]}"

    def detail(self, occurrence_id: int) -> str:
        return f"{self._detail[0]}{occurrence_id}{self._detail[1]}"


def _response(body: str, status: int = 200, headers: dict | None = None):
    response = make_response(body, status)
    response.headers.update(headers or {})
    return response


def _pinned_rooms(view: ScheduleView) -> list[Room]:
    """Rooms shown as rows even when empty: the room filtered on."""
    if view.layout != "rooms" or not view.filters.room_id:
        return []
    room = db.session.get(Room, view.filters.room_id)
    return [room] if room is not None else []


# --- Exports ---------------------------------------------------------------------------------

EXPORT_MAX_DAYS = 366


@bp.get("/export.<fmt>")
@login_required
def export(fmt: str):
    """The sessions of the grid's dates (or of `start` to `end`, end excluded, at most a
    year) with the grid's filters, as CSV or as an Excel workbook (a sheet per week)."""
    if fmt not in ("csv", "xlsx"):
        abort(404)
    tz = org_tz()
    view, _errors = parse_view(request.args.to_dict(), today=today_in(tz))
    if not current_user.is_staff:
        view = ScheduleView(view.view, view.layout, view.day, personal_filters(current_user))
    first, last = view.first_day, view.last_day
    try:
        if request.args.get("start"):
            first = date.fromisoformat(request.args["start"])
            last = date.fromisoformat(request.args.get("end") or "")
    except ValueError:
        abort(400, "start and end are dates (YYYY-MM-DD).")
    if not 0 < (last - first).days <= EXPORT_MAX_DAYS:
        abort(400, f"Export from one to {EXPORT_MAX_DAYS} days (the end is excluded).")
    if message := date_outside(first) or date_outside(last - timedelta(days=1)):
        abort(400, message)
    entries = load_entries(first, last, tz=tz, filters=view.filters, viewer=current_user)
    name = f"termtable-{first.isoformat()}-to-{(last - timedelta(days=1)).isoformat()}"
    if fmt == "csv":
        rows = [ListedOccurrence(e.occurrence, bool(e.conflicts)).as_dict(tz) for e in entries]
        response = make_response(sessions_csv(rows))
        response.mimetype, response.charset = "text/csv", "utf-8"
    else:
        body = week_workbook(first, last, entries, by_room=view.layout == "rooms")
        response = make_response(body)
        response.mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


# --- Inline exception editor -----------------------------------------------------------------


def _grid_view() -> ScheduleView:
    """The grid the editor was opened from (its parameters travel with the editor's URLs)."""
    view, _ = parse_view(request.args.to_dict(), today=today_in(org_tz()))
    if view.view == "month":
        view = ScheduleView("week", view.layout, view.day, view.filters)
    return view


def _series_occurrence(occurrence_id: int) -> Occurrence:
    occurrence = load_or_404(Occurrence, occurrence_id)
    if occurrence.series_id is None:
        abort(404)  # one-time sessions are edited on their own page
    return occurrence


def _editor_form(occurrence: Occurrence) -> DateOverrideChangeForm:
    # Several editors can be open on one grid: their fields (and labels) need their own ids.
    prefill = request.method == "GET"
    override = find_override(occurrence.series_id, occurrence.original_date) if prefill else None
    return exception_editor_form(override, f"occ{occurrence.id}", prefill=prefill)


def _render_editor(entry: GridEntry, view: ScheduleView, form, status: int = 200, **headers):
    return page_or_fragment(
        "schedule/editor_page.html",
        "schedule/_editor.html",
        status,
        headers,
        entry=entry,
        view=view,
        form=form,
        override=find_override(entry.occurrence.series_id, entry.occurrence.original_date),
        cell_id=cell_id_of(entry, view.layout),
        page=not is_htmx_partial(),
        schedule_url=schedule_url,
    )


@bp.get("/sessions/<id:occurrence_id>/editor")
@staff_required
def editor(occurrence_id: int):
    occurrence = _series_occurrence(occurrence_id)
    view = _grid_view()
    entry = load_entry(occurrence.id, tz=org_tz())
    return _render_editor(entry, view, _editor_form(occurrence))


@bp.get("/sessions/<id:occurrence_id>/card")
@staff_required
def card(occurrence_id: int):
    # The session and its exception in one statement (the card is what Cancel and Escape
    # swap back, so it is the editor's hot path).
    entry = load_entry(occurrence_id, tz=org_tz())
    if entry is None:
        abort(404)
    view = _grid_view()
    return render_template(
        "schedule/_card.html",
        entry=entry,
        view=view,
        editable=True,
        focus_card=True,
        links=CardLinks(view),
    )


@bp.post("/sessions/<id:occurrence_id>/exception")
@staff_required
def save_exception(occurrence_id: int):
    occurrence = _series_occurrence(occurrence_id)
    view = _grid_view()
    form = _editor_form(occurrence)
    if not form.validate_on_submit():
        return _editor_refused(occurrence, view, form, 422)
    before = _grid_entries(view)
    with form_action(form, catch=(ConflictError, InvalidTransition, ValidationError)) as outcome:
        save_override(
            occurrence.series,
            occurrence.original_date,
            change_from_form(form),
            actor=current_user,
            tz=org_tz(),
        )
    if outcome.failed:
        return _editor_refused(occurrence, view, form, outcome.status)
    return _changed(occurrence_id, view, before, _saved_message(occurrence_id))


@bp.post("/sessions/<id:occurrence_id>/restore")
@staff_required
def restore(occurrence_id: int):
    occurrence = _series_occurrence(occurrence_id)
    view = _grid_view()
    override = find_override(occurrence.series_id, occurrence.original_date)
    if override is None:
        abort(404)
    before = _grid_entries(view)
    with form_action(catch=DomainError) as outcome:
        delete_override(override, tz=org_tz(), actor=current_user)
    if outcome.failed:
        form = _editor_form(occurrence)
        form.form_errors.append(outcome.message)
        return _editor_refused(occurrence, view, form, 409)
    message = f"Restored: {_describe(occurrence_id)} is back to its series' time and room."
    return _changed(occurrence_id, view, before, message)


def _editor_refused(occurrence: Occurrence, view: ScheduleView, form, status: int):
    """The editor again, with its errors and what was typed, in place of itself."""
    entry = load_entry(occurrence.id, tz=org_tz())
    if not is_htmx():
        return _render_editor(entry, view, form, status)
    return _render_editor(
        entry,
        view,
        form,
        status,
        **{"HX-Retarget": f"#session-card-{occurrence.id}", "HX-Reswap": "outerHTML"},
    )


def _grid_entries(view: ScheduleView) -> list[GridEntry]:
    return load_entries(
        view.first_day, view.last_day, tz=org_tz(), filters=view.filters, viewer=current_user
    )


def _changed(occurrence_id: int, view: ScheduleView, before: list[GridEntry], message: str):
    """After a change: redraw the cell the editor was in, and out of band every other cell
    the change touched (where the session went, sessions whose conflicts changed). If the
    grid's rows changed (a new hour or room row), redraw the whole grid instead."""
    if not is_htmx():
        flash(message, "success")
        return redirect(url_for(f"schedule.{view.view}", **view.query_args(view=None)))
    after = _grid_entries(view)
    grid_before = build_grid(view, before, _pinned_rooms(view))
    grid_after = build_grid(view, after, _pinned_rooms(view))
    origin = next((e for e in before if e.id == occurrence_id), None)
    headers = toast(message)
    if origin is None or grid_before.row_keys != grid_after.row_keys:
        return _whole_grid(view, grid_after, headers)
    affected = entries_affected_by(occurrence_id, before, after)
    cell_ids = {cell_id_of(e, view.layout) for e in before + after if e.id in affected}
    main_id = cell_id_of(origin, view.layout)
    cells = [grid_after.cell(main_id)] + [
        grid_after.cell(cell_id) for cell_id in sorted(cell_ids - {main_id})
    ]
    body = render_template(
        "schedule/_changed_cells.html",
        cells=[c for c in cells if c is not None],
        view=view,
        editable=True,
        links=CardLinks(view),
    )
    return _response(body, 200, headers)


def _whole_grid(view: ScheduleView, grid: Grid, headers: dict):
    body = render_template(
        "schedule/_schedule.html",
        schedule_url=schedule_url,
        links=CardLinks(view),
        view=view,
        grid=grid,
        month_weeks=None,
        errors={},
        personal=False,
        endpoint=f"schedule.{view.view}",
        today=today_in(org_tz()),
        editable=True,
    )
    headers = {**headers, "HX-Retarget": "#schedule", "HX-Reswap": "outerHTML"}
    return _response(body, 200, headers)


def _describe(occurrence_id: int) -> str:
    occurrence = db.session.get(Occurrence, occurrence_id)
    start = occurrence.start_utc.astimezone(org_tz())
    return f"{occurrence.group.name} {start:%a %d %b %H:%M}"


def _saved_message(occurrence_id: int) -> str:
    occurrence = db.session.get(Occurrence, occurrence_id)
    if occurrence is not None and occurrence.is_cancelled:
        return f"Cancelled {occurrence.group.name} on {occurrence.original_date:%a %d %b}."
    return f"Moved: {_describe(occurrence_id)}."
